"""OCR to searchable PDF (dest.pdfOptions.ocr): scanned PDFs and images keep their look and gain an
invisible text layer with the words on them; PrizmDoc's language and source format errors."""

import asyncio
import io

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from core import capabilities, keyspace
from core.settings import Settings
from service import keys
from service.app import create_app
from tests.docgen import text_pdf
from tests.helpers import convert, download, poll, upload, wire
from workers.jobs import conversions
from workers.render.orientation import page_frame

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
VERSES = [
    ["Whan that Aprille with his shoures soote", "The droghte of March hath perced to the roote"],
    ["And bathed every veyne in swich licour", "Of which vertu engendred is the flour"],
    ["Whan Zephirus eek with his sweete breeth", "Inspired hath in every holt and heeth"],
]


def scan(lines: list[str], size: tuple[int, int] = (1275, 1650), mode: str = "L") -> Image.Image:
    """A page image of text, as a scanner gives it (150 dpi letter by default)."""
    image = Image.new(mode, size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, max(12, size[0] // 36))
    for i, line in enumerate(lines):
        draw.text((size[0] // 12, size[1] // 10 + i * size[0] // 18), line, fill="black", font=font)
    return image


def scanned_pdf(pages: list[list[str]]) -> bytes:
    """A PDF of page images only (no text), like a scanner's."""
    images = [scan(lines) for lines in pages]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=150.0)
    return buf.getvalue()


def words(text: str) -> set[str]:
    return {w.strip(".,").lower() for w in text.split()}


def page_text(pdf: pdfium.PdfDocument, index: int) -> str:
    page = pdf[index]
    return page.get_textpage().get_text_range()


OCR = {"format": "pdf", "pdfOptions": {"ocr": {"language": "english"}}}


async def test_a_scanned_pdf_becomes_searchable_and_looks_the_same(client, worker):
    # Given a 3-page scanned PDF, without any text
    data = scanned_pdf(VERSES)
    source = pdfium.PdfDocument(data)
    assert all(not page_text(source, i).strip() for i in range(3))
    wf = await upload(client, data)
    # When it is OCRed to PDF, as the SDK's OcrToPdfAsync asks
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": OCR}})
    assert started["input"]["dest"] == {
        "format": "pdf",
        "pdfOptions": {"forceOneFilePerPage": False, "ocr": {"language": "english"}},
    }
    final = await poll(client, started["processId"], interval_s=0.1)
    # Then one 3-page PDF results, each page holding the words seen on it
    assert final["state"] == "complete", final
    [result] = final["output"]["results"]
    assert result["pageCount"] == 3 and result["sources"] == [{"fileId": wf["fileId"], "pages": "1-3"}]
    out = pdfium.PdfDocument((await download(client, result["fileId"]))[0])
    for i, lines in enumerate(VERSES):
        found = words(page_text(out, i))
        expected = words(" ".join(lines))
        assert len(expected & found) >= len(expected) - 1, (expected - found, found)
        assert not (words(" ".join(VERSES[(i + 1) % 3])) - expected) & found  # not another page's words
        # where they are seen: the first word of the first line near the top left
        tp = out[i].get_textpage()
        left, _, _, top = tp.get_charbox(tp.search(lines[0].split()[1]).get_next()[0])
        assert 40 < left < 200 and 792 - 160 < top < 792 - 40
        # and the page looks exactly as before (the text is invisible)
        before = source[i].render(scale=1).to_pil().convert("L")
        after = out[i].render(scale=1).to_pil().convert("L")
        assert ImageChops.difference(before, after).getbbox() is None


async def test_scanned_images_use_their_resolution_or_the_default_dpi(client, worker):
    # Given a PNG that says it is 200 dpi, and a JPEG that says nothing
    png = io.BytesIO()
    scan(VERSES[0], (1000, 600)).save(png, "PNG", dpi=(200, 200))
    jpeg = io.BytesIO()
    scan(VERSES[1], (1000, 600), "RGB").save(jpeg, "JPEG", quality=90)
    a = await upload(client, png.getvalue(), "png")
    b = await upload(client, jpeg.getvalue(), "jpg")
    # When both are OCRed into one PDF, with a default dpi of 100 x 50
    dest = {"format": "pdf", "pdfOptions": {"ocr": {"language": "english", "defaultDpi": {"x": 100, "y": 50}}}}
    body = {"input": {"sources": [{"fileId": a["fileId"]}, {"fileId": b["fileId"]}], "dest": dest}}
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1)
    # Then one 2-page PDF results (as the SDK's Multiple_inputs test expects)
    [result] = final["output"]["results"]
    assert result["pageCount"] == 2
    assert result["sources"] == [{"fileId": a["fileId"], "pages": "1"}, {"fileId": b["fileId"], "pages": "1"}]
    out = pdfium.PdfDocument((await download(client, result["fileId"]))[0])
    # each page sized by its resolution, each searchable
    assert out[0].get_size() == pytest.approx((1000 / 200 * 72, 600 / 200 * 72))
    assert out[1].get_size() == pytest.approx((1000 / 100 * 72, 600 / 50 * 72))
    for i in range(2):
        expected = words(" ".join(VERSES[i]))
        assert len(expected & words(page_text(out, i))) >= len(expected) - 1, page_text(out, i)
        # the words lie where they are seen, however the page's pixels are stretched: the first line's
        # first word begins a twelfth of the width in, a tenth of the height down
        width, height = out[i].get_size()
        tp = out[i].get_textpage()
        left, _, _, top = tp.get_charbox(tp.search(VERSES[i][0].split()[0]).get_next()[0])
        assert abs(left / width - 1 / 12) < 0.02 and abs((height - top) / height - 1 / 10) < 0.04


async def test_pages_that_have_text_already_are_kept_as_they_are(client, worker):
    # Given a PDF with a text page and a scanned page
    wf = await upload(client, text_pdf(1))
    scanned = await upload(client, scanned_pdf(VERSES[:1]))
    body = {"input": {"sources": [{"fileId": wf["fileId"]}, {"fileId": scanned["fileId"]}], "dest": OCR}}
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1)
    out = pdfium.PdfDocument((await download(client, final["output"]["results"][0]["fileId"]))[0])
    # Then the text page's text is there once, not doubled by OCR, and the scan is searchable
    assert page_text(out, 0).count("Line 1 of page 1:") == 1
    assert page_text(out, 0) == page_text(pdfium.PdfDocument(text_pdf(1)), 0)
    assert "aprille" in words(page_text(out, 1))


@pytest.mark.parametrize(
    ("ocr", "at", "expected"),
    [
        ({"language": "hylian"}, "input.dest.pdfOptions.ocr.language", {"enum": ["english"]}),
        ({"language": 5}, "input.dest.pdfOptions.ocr.language", None),
        ({"language": "english", "defaultDpi": {"x": 0, "y": 72}}, "input.dest.pdfOptions.ocr.defaultDpi.x", None),
        ({"language": "english", "defaultDpi": {"x": 72}}, "input.dest.pdfOptions.ocr.defaultDpi.y", None),
        ({"language": "english", "defaultDpi": {"x": 72, "y": "72"}}, "input.dest.pdfOptions.ocr.defaultDpi.y", None),
        ({"language": "english", "defaultDpi": {"x": 72, "y": 20000}}, "input.dest.pdfOptions.ocr.defaultDpi.y", None),
        ({"language": "english", "defaultDpi": {"x": 72, "y": 72, "z": 1}}, "input.dest.pdfOptions.ocr.defaultDpi.z",
         None),
        ({"language": "english", "engine": "x"}, "input.dest.pdfOptions.ocr.engine", None),
        ("english", "input.dest.pdfOptions.ocr", {"type": "object"}),
    ],
)  # fmt: skip
async def test_every_field_is_validated_with_its_path(client, ocr, at, expected):
    wf = await upload(client, text_pdf(1))
    dest = {"format": "pdf", "pdfOptions": {"ocr": ocr}}
    resp = await client.post(
        "/v2/contentConverters", json={"input": {"sources": [{"fileId": wf["fileId"]}], "dest": dest}}
    )
    body = await resp.json()
    assert resp.status == 480, body
    assert body["errorCode"] == "InvalidInput" and body["errorDetails"]["at"] == at
    if expected is not None:
        assert body["errorDetails"]["expected"] == expected


async def test_a_language_whose_data_is_not_installed_says_what_to_install(client):
    wf = await upload(client, text_pdf(1))
    dest = {"format": "pdf", "pdfOptions": {"ocr": {"language": "Greek"}}}
    resp = await client.post(
        "/v2/contentConverters", json={"input": {"sources": [{"fileId": wf["fileId"]}], "dest": dest}}
    )
    body = await resp.json()
    assert resp.status == 480
    assert body["errorDetails"] == {
        "in": "body",
        "at": "input.dest.pdfOptions.ocr.language",
        "expected": {"enum": ["english"]},
    }
    assert "tesseract-ocr-ell" in body["message"]


async def test_sources_ocr_cannot_read_are_refused_as_prizmdoc_does(client):
    # Given a source that converts but is not a scan: a Word document
    wf = await upload(client, b"PK\x03\x04 word/document.xml of a word processing document", "docx")
    # When it is to be OCRed
    resp = await client.post(
        "/v2/contentConverters", json={"input": {"sources": [{"fileId": wf["fileId"]}], "dest": OCR}}
    )
    # Then it is UnsupportedSourceFileFormatForOCR, listing what OCR reads
    body = wire(await resp.json())
    assert resp.status == 480
    assert body["errorCode"] == "UnsupportedSourceFileFormatForOCR"
    assert body["errorDetails"]["at"] == "input.sources[0].fileId"
    assert body["errorDetails"]["expected"] == {
        "enum": ["bmp", "gif", "jpe", "jpeg", "jpg", "pdf", "png", "tif", "tiff"]
    }
    # while the same document converts without OCR
    resp = await client.post(
        "/v2/contentConverters", json={"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "pdf"}}}
    )
    assert resp.status == 200


async def test_jobs_run_again_give_the_same_text_and_tenants_are_apart(aiohttp_client, env, worker):
    keyed = {**env, "PAGEMILL_API_KEYS": "acme:acme-key-123,globex:globex-key-456"}
    api = await aiohttp_client(create_app(Settings.from_env(keyed)))
    acme, globex = {"Acs-Api-Key": "acme-key-123"}, {"Acs-Api-Key": "globex-key-456"}
    fid = (await (await api.post("/PCCIS/V1/WorkFile", data=scanned_pdf(VERSES[:1]), headers=acme)).json())["fileId"]

    async def start(file_id: str, headers: dict[str, str]) -> tuple[int, str]:
        resp = await api.post("/v2/contentConverters", json={"input": {"sources": [{"fileId": file_id}], "dest": OCR}},
                              headers=headers)  # fmt: skip
        return resp.status, (await resp.text()).replace(file_id, "ID")

    # another tenant's scan is an unknown id
    assert await start(fid, globex) == await start("AAAAAAAAAAAAAAAAAAAAAA", globex)
    resp = await api.post("/v2/contentConverters", json={"input": {"sources": [{"fileId": fid}], "dest": OCR}},
                          headers=acme)  # fmt: skip
    pid = (await resp.json())["processId"]
    final = await poll(api, pid, headers=acme, interval_s=0.1)
    out = final["output"]["results"][0]["fileId"]
    assert (await api.get(f"/PCCIS/V1/WorkFile/{out}", headers=globex)).status == 404
    first = await (await api.get(f"/PCCIS/V1/WorkFile/{out}", headers=acme)).read()
    # When the chunk and finish jobs run again after the output was lost
    redis = api.app[keys.REDIS]
    await redis.hset(f"pm:proc:{pid}", mapping={"state": "processing"})
    await redis.delete(f"pm:proc:{pid}:units")
    assert (await api.delete(f"/PCCIS/V1/WorkFile/{out}", headers=acme)).status == 204
    ctx = {**worker.ctx, "job_try": 2}
    assert await conversions.render_chunk(ctx, pid, 0, 0) == "rendered"
    assert await conversions.finish_conversion(ctx, pid) == "complete"
    # Then the same searchable document is made again under the same id
    again = await (await api.get(f"/PCCIS/V1/WorkFile/{out}", headers=acme)).read()
    assert page_text(pdfium.PdfDocument(again), 0) == page_text(pdfium.PdfDocument(first), 0)
    assert "aprille" in words(page_text(pdfium.PdfDocument(again), 0))


async def test_the_languages_offered_are_those_the_live_workers_have(client):
    # Given workers (on other hosts, say) that report French beside English
    redis = client.app[keys.REDIS]
    await capabilities.publish(redis, ["eng", "fra"], keyspace.OCR_LANGUAGES)
    wf = await upload(client, scanned_pdf(VERSES[:1]))

    async def post(language: str) -> tuple[int, dict]:
        dest = {"format": "pdf", "pdfOptions": {"ocr": {"language": language}}}
        resp = await client.post(
            "/v2/contentConverters", json={"input": {"sources": [{"fileId": wf["fileId"]}], "dest": dest}}
        )
        return resp.status, await resp.json()

    # Then French is offered although this host has no French data, and the enum says so
    assert (await post("french"))[0] == 200
    status, body = await post("hylian")
    assert status == 480 and body["errorDetails"]["expected"] == {"enum": ["english", "french"]}
    # and when the only live worker has no Tesseract at all, OCR is refused with what to install
    await redis.delete(keyspace.OCR_LANGUAGES)
    await capabilities.publish(redis, [], keyspace.OCR_LANGUAGES)
    status, body = await post("english")
    assert status == 480 and body["errorDetails"]["expected"] == {"enum": []}
    assert "tesseract-ocr" in body["message"]


async def test_a_worker_reports_its_tesseract_languages(client, worker):
    for _ in range(100):  # it says so as it starts, then every few seconds
        if (reported := await capabilities.ocr_languages(client.app[keys.REDIS])) is not None:
            break
        await asyncio.sleep(0.05)
    assert reported == frozenset({"eng"})


@pytest.mark.parametrize("rotation", [90, 270])
async def test_a_scan_displayed_rotated_gets_its_words_where_they_are_seen(client, worker, rotation):
    # Given a scanned page stored sideways and displayed upright through /Rotate
    upright = scan(VERSES[0])
    stored = upright.rotate(rotation, expand=True)  # /Rotate turns it back clockwise for display
    buf = io.BytesIO()
    stored.save(buf, "PDF", resolution=150.0)
    doc = pdfium.PdfDocument(buf.getvalue())
    doc[0].set_rotation(rotation)
    out = io.BytesIO()
    doc.save(out)
    before = doc[0].render(scale=1).to_pil().convert("L")
    wf = await upload(client, out.getvalue())
    # When it is OCRed
    final = await poll(
        client, (await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": OCR}}))["processId"]
    )
    result = pdfium.PdfDocument((await download(client, final["output"]["results"][0]["fileId"]))[0])
    page = result[0]
    # Then the words are found, and the first one lies at the top left of the page as displayed
    assert len(words(" ".join(VERSES[0])) & words(page.get_textpage().get_text_range())) >= 12
    tp = page.get_textpage()
    left, bottom, right, top = tp.get_charbox(tp.search("Aprille").get_next()[0])
    frame = page_frame(page)
    corners = [frame.to_display(x, y) for x, y in ((left, bottom), (right, top))]
    u, v = min(c[0] for c in corners), max(c[1] for c in corners)
    assert 0.2 < u / frame.width < 0.5 and 0.8 < v / frame.height < 0.95, (u, v, frame.width, frame.height)
    assert ImageChops.difference(before, page.render(scale=1).to_pil().convert("L")).getbbox() is None
