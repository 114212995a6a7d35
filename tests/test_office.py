"""Office, text and HTML sources through the LibreOffice source stage, against the real app, the
real worker and a real LibreOffice: conversions, viewing sessions, and hostile documents."""

import asyncio
import io
import zipfile
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from aiohttp import web
from PIL import Image, ImageChops

from tests import officegen
from tests.helpers import convert, download, poll, upload, wire
from workers.office import find_engine

pytestmark = pytest.mark.skipif(
    find_engine() is None,
    reason="LibreOffice is not installed: ./dev test installs it when root "
    "(apt-get install libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui python3-uno)",
)


def pdf_texts(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


def red_pixels(image: Image.Image) -> int:
    r, g, b = image.convert("RGB").split()
    mask = ImageChops.multiply(
        ImageChops.multiply(r.point(lambda v: 255 if v > 200 else 0), g.point(lambda v: 255 if v < 60 else 0)),
        b.point(lambda v: 255 if v < 60 else 0),
    )
    return mask.histogram()[255]


async def convert_one(client, data: bytes, extension: str, fmt: str = "pdf", **source) -> dict:
    wf = await upload(client, data, extension)
    body = {"input": {"sources": [{"fileId": wf["fileId"], **source}], "dest": {"format": fmt}}}
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1, timeout_s=90)
    final["_workfile"] = wf
    return final


async def test_docx_uploaded_as_txt_is_sniffed_and_converts_to_pdf_png_and_tiff(client, worker):
    # Given a 3-page Word document uploaded the way DocumentProcessingHelper does it (FileExtension=txt)
    data = officegen.docx(["Alpha page", "Beta page", "Gamma page"])
    wf = await upload(client, data, "txt")
    assert wf["fileExtension"] == "docx"
    source = [{"fileId": wf["fileId"]}]
    # When it is converted to pdf, png and tiff
    finals = {}
    for fmt in ("pdf", "png", "tiff"):
        body = {"input": {"sources": source, "dest": {"format": fmt}}}
        finals[fmt] = await poll(client, (await convert(client, body))["processId"], interval_s=0.1, timeout_s=90)
    # Then each has the document's three pages
    for fmt, final in finals.items():
        assert final["state"] == "complete", (fmt, final)
    [pdf_result] = finals["pdf"]["output"]["results"]
    assert pdf_result["pageCount"] == 3
    pdf, _ = await download(client, pdf_result["fileId"])
    assert [t.strip() for t in pdf_texts(pdf)] == ["Alpha page", "Beta page", "Gamma page"]
    pngs = finals["png"]["output"]["results"]
    assert [r["sources"][0]["pages"] for r in pngs] == ["1", "2", "3"]
    png, headers = await download(client, pngs[1]["fileId"])
    assert headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png)).size == (1275, 1650)  # US letter at 150 dpi
    [tiff_result] = finals["tiff"]["output"]["results"]
    tiff, _ = await download(client, tiff_result["fileId"])
    assert Image.open(io.BytesIO(tiff)).n_frames == 3


@pytest.mark.parametrize(
    ("name", "data", "extension", "pages", "words"),
    [
        ("xlsx", officegen.xlsx([["Region", "Total"], ["North", 1234]]), "xlsx", 1, ["Region", "North", "1234"]),
        ("odp", officegen.odp(["First slide", "Second slide", "Third slide"]), "", 3, ["Second slide"]),
        ("odt", officegen.odt(["An ODF text"]), "zip", 1, ["An ODF text"]),
        ("fodt", officegen.fodt(["A flat ODF text"]), "", 1, ["A flat ODF text"]),
        ("csv", "Name,City\nZoë,Zürich\n".encode(), "csv", 1, ["Zoë", "Zürich"]),
        ("tsv", b"Name\tCity\nAnna\tOslo\n", "tsv", 1, ["Anna", "Oslo"]),
        ("html", officegen.html("<h1>Heading</h1><p>Para café</p>"), "txt", 1, ["Heading", "Para café"]),
        ("md", b"# Title\n\nSome *markdown* text\n", "md", 1, ["# Title", "Some *markdown* text"]),
    ],
)
async def test_office_text_and_html_sources_convert_with_their_content(
    client, worker, name, data, extension, pages, words
):
    final = await convert_one(client, data, extension)
    # The content names the format, whatever the client said (nothing, "zip" or "txt")
    assert final["_workfile"]["fileExtension"] == name
    assert final["state"] == "complete", final
    [result] = final["output"]["results"]
    assert result["pageCount"] == pages
    pdf, _ = await download(client, result["fileId"])
    text = "\n".join(pdf_texts(pdf))
    for word in words:
        assert word in text, (word, text)


@pytest.mark.parametrize(
    ("encoded", "label"),
    [
        ("Grüße, café, naïve — €5\n".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "Grüße, café, naïve — €5\n".encode(), "utf-8 with BOM"),
        ("Grüße, café, naïve — €5\n".encode("utf-16"), "utf-16 with BOM"),
        ("Grüße, café, naïve — €5\n".encode("utf-16-le"), "utf-16-le without BOM"),
        ("Grüße, café, naïve — €5\n".encode("cp1252"), "windows-1252"),
    ],
)
async def test_text_of_any_encoding_comes_out_right(client, worker, encoded, label):
    final = await convert_one(client, encoded, "txt")
    assert final["state"] == "complete", (label, final)
    pdf, _ = await download(client, final["output"]["results"][0]["fileId"])
    assert pdf_texts(pdf)[0].strip() == "Grüße, café, naïve — €5", label


async def test_password_protected_docx_is_a_clean_error_and_its_password_opens_it(client, worker, tmp_path):
    locked = officegen.encrypted(officegen.docx(["Top secret page"]), "s3cret", tmp_path)
    wf = await upload(client, locked, "docx")
    assert wf["fileExtension"] == "docx"  # an OLE2 container the client called docx
    outcomes = {}
    for label, password in (("none", None), ("wrong", "guess"), ("right", "s3cret")):
        source = {"fileId": wf["fileId"], **({"password": password} if password else {})}
        body = {"input": {"sources": [source], "dest": {"format": "pdf"}}}
        outcomes[label] = await poll(client, (await convert(client, body))["processId"], interval_s=0.1, timeout_s=90)
    for label in ("none", "wrong"):
        final = outcomes[label]
        assert final["state"] == "error" and final["errorCode"] == "CouldNotConvert", final
        assert final["output"]["results"][0]["errorCode"] == "InvalidPassword"
    assert outcomes["right"]["state"] == "complete", outcomes["right"]
    pdf, _ = await download(client, outcomes["right"]["output"]["results"][0]["fileId"])
    assert pdf_texts(pdf)[0].strip() == "Top secret page"


async def test_corrupt_office_files_end_in_corrupt_file(client, worker):
    whole = officegen.docx(3)
    for broken, extension in ((whole[: len(whole) // 2], "docx"), (b"{\\rtf1 " + bytes(range(256)) * 4, "rtf")):
        final = await convert_one(client, broken, extension)
        assert final["state"] == "error", final
        assert final["output"]["results"][0]["errorCode"] == "CorruptFile", final


async def test_linked_images_are_never_fetched_or_embedded(aiohttp_server, client, worker, tmp_path):
    # Given a red image on the server's disk and a local web server counting requests
    secret = tmp_path / "secret.png"
    Image.new("RGB", (200, 200), "red").save(secret)
    hits: list[str] = []

    async def serve(request):
        hits.append(request.path)
        return web.Response(body=secret.read_bytes(), content_type="image/png")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", serve)
    server = await aiohttp_server(app)
    http = f"http://127.0.0.1:{server.port}/logo.png"
    documents = [
        (officegen.docx(["Linked pictures"], linked_images=(secret.as_uri(), http)), "docx"),
        (officegen.html(f'<p>Linked pictures</p><img src="{http}"><img src="{secret.as_uri()}" width=200>'), "html"),
    ]
    for data, extension in documents:
        # When documents linking to both are converted
        final = await convert_one(client, data, extension, "png")
        assert final["state"] == "complete", final
        png, _ = await download(client, final["output"]["results"][0]["fileId"])
        # Then no request was made and no red pixel was drawn
        assert red_pixels(Image.open(io.BytesIO(png))) == 0, extension
    assert hits == []


@pytest.fixture
def bounded_env(env):
    return {**env, "PAGEMILL_OFFICE_MAX_INFLATED_BYTES": str(20 * 1024**2)}


async def test_a_zip_bomb_is_refused_before_libreoffice_reads_it(aiohttp_client, bounded_env):
    from core.settings import Settings
    from service.app import create_app
    from tests.conftest import running_worker

    settings = Settings.from_env(bounded_env)
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings) as group:
        bomb = officegen.zip_bomb(64 * 1024**2)
        assert len(bomb) < 1024**2
        final = await convert_one(client, bomb, "docx")
        assert final["state"] == "error", final
        assert final["output"]["results"][0]["errorCode"] == "DocumentTooLarge"
        assert group.ctx["office"].converted == 0  # LibreOffice never saw it


async def test_a_hanging_conversion_is_killed_and_reported_and_the_next_one_works(aiohttp_client, env):
    import os

    from core.settings import Settings
    from service.app import create_app
    from tests.conftest import running_worker
    from tests.helpers import descendants

    settings = Settings.from_env({**env, "PAGEMILL_OFFICE_TIMEOUT_S": "1"})
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings) as group:
        # Given a document that takes LibreOffice far longer than the timeout
        slow = await convert_one(client, officegen.docx(1500, lines_per_page=20), "docx")
        # Then it ends in ConversionTimeout, and the LibreOffice that was busy with it is gone
        assert slow["state"] == "error", slow
        assert slow["output"]["results"][0]["errorCode"] == "ConversionTimeout"
        ours = str(settings.data_dir)  # this worker's LibreOffice profiles live there
        offices = [p for p in descendants(os.getpid()) if "soffice" in (cmd := " ".join(_cmd(p))) and ours in cmd]
        assert offices == []
        # And the next document converts on a fresh LibreOffice
        quick = await convert_one(client, officegen.docx(["Quick one"]), "docx")
        assert quick["state"] == "complete", quick
        assert group.ctx["office"].converted == 1


def _cmd(pid: int) -> list[str]:
    from tests.helpers import cmdline

    return cmdline(pid)


async def test_one_document_is_converted_once_for_many_conversions_and_sessions(client, worker):
    data = officegen.docx(["Shared page one", "Shared page two"])
    a = await upload(client, data, "docx")
    b = await upload(client, data, "docx")  # the same bytes again: another work file
    for wf in (a, b, a):
        for fmt in ("pdf", "png"):
            body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": fmt}}}
            final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1, timeout_s=90)
            assert final["state"] == "complete", final
    assert worker.ctx["office"].converted == 1


async def test_a_docx_viewing_session_serves_page_one_and_the_real_count(client, worker):
    from tests.test_viewing import new_session, page, png_of, put_source

    sid = await new_session(client)
    await put_source(client, sid, officegen.docx(12, app_pages=12), "txt")
    # The count Word recorded answers at once with confidence 50 ...
    attrs = await client.get(
        "/PCCIS/V1/Document/q/Attributes", params={"DocumentID": f"u{sid}", "DesiredPageCountConfidence": "50"}
    )
    assert await attrs.json() == {"pageCount": 12, "pageCountConfidence": 50}
    # ... the first page is served ...
    first = await png_of(await page(client, sid, 0))
    assert first.size == (1275, 1650)
    # ... and the real count, page 12, its text and a thumbnail follow
    exact = await (await client.get("/PCCIS/V1/Document/q/Attributes", params={"DocumentID": f"u{sid}"})).json()
    assert exact == {"pageCount": 12, "pageCountConfidence": 100}
    assert (await png_of(await page(client, sid, 11))).size == (1275, 1650)
    text = await (await client.get("/PCCIS/V1/Document/q/11-11/Text", params={"DocumentID": f"u{sid}"})).json()
    assert text["pages"][0]["text"].strip() == "Page 12 of the office test document"
    thumb = await png_of(await client.get("/PCCIS/V1/Page/q/3/150x150", params={"DocumentID": f"u{sid}"}))
    assert thumb.height == 150


async def test_without_libreoffice_office_formats_are_reported_unavailable(aiohttp_client, env):
    from core.settings import Settings
    from service.app import create_app
    from tests.conftest import running_worker

    # Given a worker that has no LibreOffice (PAGEMILL_OFFICE_PROCESSES=0 stands for "not installed")
    settings = Settings.from_env({**env, "PAGEMILL_OFFICE_PROCESSES": "0"})
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        await asyncio.sleep(0.2)  # its first report of what it reads
        info = await (await client.get("/PCCIS/V1/Service/Current/Info")).json()
        assert "pdf" in info["inputFormats"] and "docx" not in info["inputFormats"]
        # Then a docx is refused up front, with the formats it could read instead
        wf = await upload(client, officegen.docx(1), "docx")
        resp = await client.post(
            "/v2/contentConverters", json={"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "pdf"}}}
        )
        assert resp.status == 480
        body = wire(await resp.json())
        assert body["errorCode"] == "UnsupportedSourceFileFormat"
        assert body["errorDetails"]["at"] == "input.sources[0].fileId"
        assert (
            "docx" not in body["errorDetails"]["expected"]["enum"] and "png" in body["errorDetails"]["expected"]["enum"]
        )
    # With LibreOffice, the same instance lists office formats
    async with running_worker(Settings.from_env(env)):
        await asyncio.sleep(0.2)
        # (the first worker's report lasts a little longer; both are live: the union)
        info = await (await client.get("/PCCIS/V1/Service/Current/Info")).json()
        assert {"docx", "xlsx", "pptx", "odt", "txt", "html"} <= set(info["inputFormats"])


@pytest.mark.parametrize("kind", ["pdf", "encrypted pdf", "docx", "xlsx"])
async def test_docx_output_is_a_valid_word_document_with_the_text(client, worker, kind):
    from tests.docgen import encrypted_pdf, text_pdf

    data, extension, words = {
        "pdf": (text_pdf(2), "pdf", ["Page 1", "Page 2"]),
        "encrypted pdf": (encrypted_pdf(2, "pw"), "pdf", ["Page 1", "Page 2"]),  # LibreOffice gets it decrypted
        "docx": (officegen.docx(["Original words", "More words"]), "docx", ["Original words", "More words"]),
        "xlsx": (officegen.xlsx([["Cell words"]]), "xlsx", ["Cell words"]),
    }[kind]
    wf = await upload(client, data, extension)
    source = {"fileId": wf["fileId"], **({"password": "pw"} if kind == "encrypted pdf" else {})}
    body = {"input": {"sources": [source], "_features": {"pdfToDocx": {"enabled": True}}, "dest": {"format": "docx"}}}
    started = await convert(client, body)
    assert started["input"]["_features"] == {"pdfToDocx": {"enabled": True}}
    final = await poll(client, started["processId"], interval_s=0.1, timeout_s=90)
    assert final["state"] == "complete", final
    [result] = final["output"]["results"]
    docx, headers = await download(client, result["fileId"])
    assert headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        document = package.read("word/document.xml").decode()
    for word in words:
        assert word in document.replace("<", " <"), word  # words may be split into runs, not letters


async def test_docx_output_rules(client, worker):
    from tests.docgen import image_bytes, text_pdf

    pdf = await upload(client, text_pdf(1), "pdf")
    png = await upload(client, image_bytes("PNG"), "png")
    cases = [
        ([pdf, pdf], {}, "MultipleSourcesAreNotSupportedForThisDestinationFormat", "input.sources"),
        ([png], {}, "UnsupportedSourceFileFormat", "input.sources[0].fileId"),
        ([pdf], {"watermarks": [{"type": "text", "text": "x"}]}, "InvalidInput", "input.dest.watermarks"),
    ]
    for sources, extra, code, at in cases:
        body = {"input": {"sources": [{"fileId": s["fileId"]} for s in sources], "dest": {"format": "docx", **extra}}}
        resp = await client.post("/v2/contentConverters", json=body)
        assert resp.status == 480, await resp.text()
        error = wire(await resp.json())
        assert (error["errorCode"], error["errorDetails"]["at"]) == (code, at)
    resp = await client.post(
        "/v2/contentConverters",
        json={"input": {"sources": [{"fileId": pdf["fileId"]}], "_features": {"x": 1}, "dest": {"format": "docx"}}},
    )
    assert resp.status == 480 and wire(await resp.json())["errorDetails"]["at"].startswith("input._features")


@pytest.fixture(scope="module")
def made_by_libreoffice(tmp_path_factory) -> dict[str, bytes]:
    """Binary and OOXML files as an office suite writes them (LibreOffice's own export, run once)."""
    import subprocess

    from workers.office import find_engine

    engine = find_engine()
    assert engine is not None
    folder = tmp_path_factory.mktemp("lo-made")
    (folder / "text.odt").write_bytes(officegen.odt(["Written by an office suite"]))
    (folder / "slides.odp").write_bytes(officegen.odp(["Slide A", "Slide B", "Slide C", "Slide D"]))
    (folder / "sheet.xlsx").write_bytes(officegen.xlsx([["Quarter", "Sales"], ["Q1", 10], ["Q2", 20]]))
    wanted = {"doc": "text.odt", "rtf": "text.odt", "pptx": "slides.odp", "ppsx": "slides.odp", "ppt": "slides.odp",
              "xls": "sheet.xlsx", "ods": "sheet.xlsx"}  # fmt: skip
    profile = (folder / "profile").as_uri()
    for ext, name in wanted.items():
        subprocess.run(
            [engine.soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", ext,
             "--outdir", str(folder / ext), str(folder / name)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return {ext: (folder / ext / f"{Path(name).stem}.{ext}").read_bytes() for ext, name in wanted.items()}


@pytest.mark.parametrize(
    ("ext", "pages", "words"),
    [("doc", 1, "Written by"), ("rtf", 1, "Written by"), ("pptx", 4, "Slide C"), ("ppsx", 4, "Slide C"),
     ("ppt", 4, "Slide C"), ("xls", 1, "Quarter"), ("ods", 1, "Quarter")],
)  # fmt: skip
async def test_files_an_office_suite_wrote_are_sniffed_and_convert(
    client, worker, made_by_libreoffice, ext, pages, words
):
    data = made_by_libreoffice[ext]
    # Uploaded the way DocumentProcessingHelper does it (FileExtension=txt), except the show format,
    # which is a presentation by its content: only its name says "show"
    wf = await upload(client, data, "ppsx" if ext == "ppsx" else "txt")
    assert wf["fileExtension"] == ext
    final = await convert_one(client, data, ext)
    assert final["state"] == "complete", final
    [result] = final["output"]["results"]
    assert result["pageCount"] == pages
    pdf, _ = await download(client, result["fileId"])
    assert words in "\n".join(pdf_texts(pdf))


async def test_libreoffice_is_replaced_after_max_docs_in_the_background(aiohttp_client, env):
    from core.settings import Settings
    from service.app import create_app
    from tests.conftest import running_worker

    settings = Settings.from_env({**env, "PAGEMILL_OFFICE_MAX_DOCS": "2"})
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings) as group:
        office = group.ctx["office"]
        pids = []
        for n in range(5):
            final = await convert_one(client, officegen.docx([f"Document number {n}"]), "docx")
            assert final["state"] == "complete", final
            [converter] = office._converters
            pids.append(converter.proc.pid if converter.proc else None)
        # Every document converted; LibreOffice was replaced after the 2nd and the 4th
        assert office.converted == 5
        assert len({pid for pid in pids if pid}) >= 2, pids


async def test_an_email_converts_with_its_headers_body_and_attachment_names(client, worker):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Zoë Sender <zoe@example.com>"
    message["To"] = "team@example.com"
    message["Subject"] = "Quarterly numbers"
    message.set_content("Hello team,\nthe numbers are attached.\n")
    message.add_alternative("<p>Hello <b>team</b>, the numbers are attached.</p>", subtype="html")
    message.add_attachment(b"1,2,3\n", maintype="text", subtype="csv", filename="numbers.csv")
    final = await convert_one(client, message.as_bytes(), "eml")
    assert final["state"] == "complete", final
    pdf, _ = await download(client, final["output"]["results"][0]["fileId"])
    text = " ".join(pdf_texts(pdf)[0].split())
    for words in ("Zoë Sender", "Quarterly numbers", "Hello team, the numbers are attached.", "numbers.csv"):
        assert words in text, (words, text)
    garbage = await convert_one(client, b"\x00\x01 not a message", "eml")
    assert garbage["output"]["results"][0]["errorCode"] == "CorruptFile"


async def test_a_docx_sessions_pdf_is_the_pdf_libreoffice_made(client, worker):
    from tests.test_viewing import new_session, page, png_of, put_source

    sid = await new_session(client)
    await put_source(client, sid, officegen.docx(["First of two", "Second of two"]), "docx")
    await png_of(await page(client, sid, 0))  # the document is converted for its first page
    resp = await client.get(f"/PCCIS/V1/ViewingSession/u{sid}/Pdf")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "application/pdf"
    assert [t.strip() for t in pdf_texts(await resp.read())] == ["First of two", "Second of two"]
