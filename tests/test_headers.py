"""Headers and footers with Bates numbers (dest.header / dest.footer): PrizmDoc's rules and errorCodes,
vector text on grown pdf pages, taller tiff frames, the page content never covered."""

import ctypes
import io
import itertools
import re
import shutil
import subprocess

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops

from core.settings import Settings
from schemas import jobs, tokens
from service import keys
from service.app import create_app
from tests import officegen
from tests.docgen import image_bytes, text_pdf
from tests.helpers import convert, download, poll, upload, wire
from workers.jobs import conversions
from workers.render.assemble import PdfPart, build_pdf
from workers.render.headers import LINE_SPACING, PADDING

# The SDK's how-to example (headers-and-footers-pdf.md): blue header, red footer with a Bates number.
HEADER = {
    "color": "#0000FF",
    "lines": [["North West", "North", "North East"], ["Page {{pageNumber}} of {{pageCount}}", "", ""]],
}
FOOTER = {
    "color": "#FF0000",
    "lines": [["", "BATES{{pageNumber+4000,10}}", ""], ["South West", "South", "South East"]],
}
BAND_PT = 12 * (LINE_SPACING + 1 + 2 * PADDING)  # two lines at the default 12pt


async def post(client, inp):
    resp = await client.post("/v2/contentConverters", json={"input": inp})
    return resp.status, await resp.json()


def test_tokens_expand_page_numbers_counts_and_bates_numbers():
    assert tokens.expand("Page {{pageNumber}} of {{pageCount}}", 3, 12) == "Page 3 of 12"
    assert tokens.expand("BATES{{pageNumber+4000,10}}", 1, 9) == "BATES0000004001"
    assert tokens.expand("{{pageNumber+50}}", 1, 9) == "51"
    assert tokens.expand("{{pageNumber,4}}-{{ pageNumber + 7 , 3 }}", 2, 9) == "0002-009"
    assert tokens.expand("{{pageNumber+5,2}}", 100, 100) == "105"  # a width is a minimum
    assert tokens.expand("{single} }} {{", 1, 1) == "{single} }} {{"  # unmatched braces are text
    for bad in ("{{wat}}", "Page {{pagenumber}}", "{{pageNumber-1}}", "{{pageNumber+x}}", "{{pageCount,3}}",
                "{{}}", "{{pageNumber+1,2,3}}"):  # fmt: skip
        with pytest.raises(tokens.UnrecognizedExpression):
            tokens.parse(bad)


@pytest.mark.parametrize(
    ("dest", "sources", "code", "at", "expected"),
    [
        ({"format": "jpeg", "footer": {"lines": [["Test", "", ""]]}}, 1, "UnsupportedDestinationFormatWhenUsingHeaderOrFooter",
         "input.dest.format", {"enum": ["pdf", "tiff"]}),
        ({"format": "png", "header": {"lines": [["Test"]]}}, 1, "UnsupportedDestinationFormatWhenUsingHeaderOrFooter",
         "input.dest.format", {"enum": ["pdf", "tiff"]}),
        ({"format": "tiff", "tiffOptions": {"forceOneFilePerPage": True}, "footer": {"lines": [["Test", "", ""]]}}, 1,
         "ForceOneFilePerPageNotSupportedWhenUsingHeaderOrFooter", "input.dest.tiffOptions.forceOneFilePerPage",
         {"value": False}),
        ({"format": "pdf", "pdfOptions": {"forceOneFilePerPage": True}, "header": {"lines": [["Test", "", ""]]}}, 1,
         "ForceOneFilePerPageNotSupportedWhenUsingHeaderOrFooter", "input.dest.pdfOptions.forceOneFilePerPage",
         {"value": False}),
        ({"format": "pdf", "header": {"lines": [["Acme", "", ""]]}}, 3,
         "MultipleSourceDocumentsNotSupportedWhenUsingHeaderOrFooter", "input.sources", None),
        ({"format": "pdf", "header": {"lines": [["Acme", "", ""]]}}, "2-",
         "PagesPropertyNotSupportedWhenUsingHeaderOrFooter", "input.sources[0].pages", None),
        ({"format": "pdf", "header": {"lines": [["", "", "Page {{wat}}"]]}}, 1, "UnrecognizedExpression",
         "input.dest.header.lines[0][2]", None),
        ({"format": "tiff", "footer": {"lines": [["Acme", "", ""], ["{{pageCount}} {{pages}}", "", ""]]}}, 1,
         "UnrecognizedExpression", "input.dest.footer.lines[1][0]", None),
        ({"format": "pdf", "footer": {"lines": [["Acme", "{{pageNumber+4000,10}}{{x}}"]]}}, 1,
         "UnrecognizedExpression", "input.dest.footer.lines[0][1]", None),
        ({"format": "pdf", "header": {"lines": [["Test", "", ""]], "fontSize": "wat"}}, 1, "InvalidInput",
         "input.dest.header.fontSize", None),
        ({"format": "pdf", "footer": {"lines": [["Test", "", ""]], "fontSize": "waaat"}}, 1, "InvalidInput",
         "input.dest.footer.fontSize", None),
        ({"format": "pdf", "footer": {"lines": [["Test"]], "fontSize": "12px"}}, 1, "InvalidInput",
         "input.dest.footer.fontSize", None),
        ({"format": "pdf", "footer": {"lines": [["Test"]], "fontSize": "0pt"}}, 1, "InvalidInput",
         "input.dest.footer.fontSize", None),
        ({"format": "pdf", "footer": {"lines": [["Test"]], "fontSize": "145pt"}}, 1, "InvalidInput",
         "input.dest.footer.fontSize", None),
        ({"format": "pdf", "header": {"lines": [["Test", "", ""]], "color": "rrrrED!"}}, 1, "InvalidInput",
         "input.dest.header.color", None),
        ({"format": "pdf", "footer": {"lines": [["Test", "", ""]], "color": "Bluuuuue"}}, 1, "InvalidInput",
         "input.dest.footer.color", None),
    ],
)  # fmt: skip
async def test_every_rule_answers_prizmdocs_code_and_path_with_the_echo(client, dest, sources, code, at, expected):
    # Given a PDF work file
    pdf_id = (await upload(client, text_pdf(2)))["fileId"]
    srcs = [{"fileId": pdf_id, "pages": "2-"}] if sources == "2-" else [{"fileId": pdf_id}] * sources
    # When a conversion breaks one header/footer rule
    status, body = await post(client, {"sources": srcs, "dest": dest})
    # Then it is 480 with PrizmDoc's code, path and normalised echo, and nothing is queued
    assert status == 480, body
    details = {"in": "body", "at": at} | ({"expected": expected} if expected else {})
    assert wire(body) == {"input": body["input"], "errorCode": code, "errorDetails": details}
    assert body["input"]["dest"]["format"] == dest["format"]
    assert body["input"]["dest"].get("header") == dest.get("header")
    assert body["input"]["dest"].get("footer") == dest.get("footer")
    assert await client.app[keys.REDIS].zcard(jobs.BATCH_QUEUE) == 0


@pytest.mark.parametrize(
    ("spec", "at"),
    [
        ({}, "input.dest.header.lines"),
        ({"lines": []}, "input.dest.header.lines"),
        ({"lines": [[]]}, "input.dest.header.lines[0]"),
        ({"lines": [["a", "b", "c", "d"]]}, "input.dest.header.lines[0]"),
        ({"lines": [["a", 5, "c"]]}, "input.dest.header.lines[0][1]"),
        ({"lines": [["x" * 1001]]}, "input.dest.header.lines[0][0]"),
        ({"lines": [["a"]] * 21}, "input.dest.header.lines"),
        ({"lines": "a"}, "input.dest.header.lines"),
        ({"lines": [["a"]], "fontSize": 12}, "input.dest.header.fontSize"),
        ({"lines": [["a"]], "fontFamily": 3}, "input.dest.header.fontFamily"),
        ({"lines": [["a"]], "color": None, "glow": 1}, "input.dest.header.glow"),
    ],
)
async def test_every_field_is_validated_with_its_path(client, spec, at):
    status, body = await post(client, {"sources": [{"fileId": "x"}], "dest": {"format": "pdf", "header": spec}})
    assert status == 480, body
    assert body["errorCode"] == "InvalidInput"
    assert body["errorDetails"]["at"] == at


def runs(page) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(text, box) of every text run of a PDF page, as PDFium extracts them."""
    tp = page.get_textpage()
    return [(tp.get_text_bounded(*tp.get_rect(i)).strip(), tp.get_rect(i)) for i in range(tp.count_rects())]


async def test_pdf_output_has_the_texts_on_every_page_as_vector_text_beside_untouched_content(client, worker):
    # Given a 3-page text PDF
    data = text_pdf(3)
    src = pdfium.PdfDocument(data)
    wf = await upload(client, data)
    # When it is converted to pdf with the SDK example's header and footer
    dest = {"format": "pdf", "header": HEADER, "footer": FOOTER}
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": dest}})
    assert started["input"]["dest"] == {**dest, "pdfOptions": {"forceOneFilePerPage": False}}
    final = await poll(client, started["processId"], interval_s=0.05)
    # Then there is one 3-page result
    assert final["state"] == "complete", final
    [result] = final["output"]["results"]
    assert result["pageCount"] == 3 and result["sources"] == [{"fileId": wf["fileId"], "pages": "1-3"}]
    out = pdfium.PdfDocument((await download(client, result["fileId"]))[0])
    assert len(out) == 3
    for n in range(1, 4):
        page, original = out[n - 1], src[n - 1]
        # grown by both bands, the original content at the same place in the middle
        assert page.get_size() == pytest.approx((612, 792 + 2 * BAND_PT))
        assert page.get_mediabox() == pytest.approx((0, -BAND_PT, 612, 792 + BAND_PT))
        found = dict(runs(page))
        for text, box in runs(original):
            assert found[text] == pytest.approx(box, abs=0.01), text  # not moved, not scaled
        # the header's texts above the original page, the footer's below it, each where it belongs
        top = {t: b for t, b in found.items() if b[1] >= 792}
        bottom = {t: b for t, b in found.items() if b[3] <= 0}
        assert set(top) == {"North West", "North", "North East", f"Page {n} of 3"}
        assert set(bottom) == {f"BATES{4000 + n:010d}", "South West", "South", "South East"}
        assert set(found) - set(top) - set(bottom) == {t for t, _ in runs(original)}  # nothing else moved in
        assert top["North West"][0] < 60 and top["North East"][2] > 552  # left and right margins
        assert abs((top["North"][0] + top["North"][2]) / 2 - 306) < 2  # centred
        assert top["North"][1] > top[f"Page {n} of 3"][3]  # line 1 above line 2
        bates = bottom[f"BATES{4000 + n:010d}"]
        assert abs((bates[0] + bates[2]) / 2 - 306) < 2 and bates[1] > bottom["South"][3]
        # vector text: no page was rasterised
        assert all(obj.type != pdfium.raw.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects())
    # the colours: blue header, red footer
    image = out[0].render(scale=1).to_pil().convert("RGB")
    header_band = image.crop((0, 0, 612, round(BAND_PT)))
    footer_band = image.crop((0, image.height - round(BAND_PT), 612, image.height))
    assert (0, 0, 255) in {c for _, c in header_band.getcolors(1 << 16)}
    assert (255, 0, 0) in {c for _, c in footer_band.getcolors(1 << 16)}


def stamped_apart(pdf: bytes) -> bytes:
    """The bytes of a PDF without the creation date and /ID PDFium writes into every save."""
    return re.sub(rb"/CreationDate\([^)]*\)|/ID\[<[0-9A-F]+><[0-9A-F]+>\]", b"", pdf)


def rendered(pdf_bytes: bytes | pdfium.PdfDocument, index: int = 0) -> Image.Image:
    pdf = pdf_bytes if isinstance(pdf_bytes, pdfium.PdfDocument) else pdfium.PdfDocument(pdf_bytes)
    return pdf[index].render(scale=1).to_pil().convert("RGB")


def differs(a: Image.Image, b: Image.Image) -> int:
    """How many pixels differ clearly between two images of one size."""
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 60 else 0)
    return diff.histogram()[255]


@pytest.mark.parametrize(("rotation", "cropped"), [(0, False), (90, False), (180, False), (270, False), (0, True)])
def test_rotated_and_cropped_pages_get_upright_bands_outside_their_content(tmp_path, rotation, cropped):
    # Given a page rotated for display, or with a crop box that hides some content at its top
    doc = pdfium.PdfDocument(text_pdf(1))
    page = doc[0]
    page.set_rotation(rotation)
    if cropped:
        page.set_cropbox(0, 0, 612, 700)  # hides "Page 1" (at y=702)
    page.close()
    source = tmp_path / "rotated.pdf"
    doc.save(str(source))
    before = rendered(doc)
    # When a header and a footer are added
    out = tmp_path / "out.pdf"
    footer = {**FOOTER, "lines": FOOTER["lines"][:1]}  # one line: a thinner band than the header's
    build_pdf([PdfPart(str(source))], str(out), header=HEADER, footer=footer)
    after = rendered(out.read_bytes())
    band, thin = round(BAND_PT), round(12 * (1 + 2 * PADDING))
    # Then the displayed page grew by the bands, top and bottom as displayed
    assert after.size == (before.width, before.height + band + thin)
    middle = after.crop((0, band, after.width, band + before.height))
    assert differs(middle, before) == 0  # the content, exactly as before
    top, bottom = after.crop((0, 0, after.width, band)), after.crop((0, after.height - thin, after.width, after.height))
    blue = {c for _, c in top.getcolors(1 << 16)}
    assert (0, 0, 255) in blue and (255, 0, 0) not in blue
    assert (255, 0, 0) in {c for _, c in bottom.getcolors(1 << 16)}
    # and the hidden content stays hidden (the bands are painted white under the text)
    text = pdfium.PdfDocument(out.read_bytes())[0].get_textpage().get_text_range()
    assert "North West" in text and "BATES0000004001" in text
    black = [c for _, c in top.getcolors(1 << 16) if max(c) < 100]
    assert black == [], "hidden content shows in the header band"
    if not cropped:  # (text extraction finds hidden text as well, as it did before)
        found = dict(runs(pdfium.PdfDocument(out.read_bytes())[0]))
        assert {"North West", "North", "North East", "Page 1 of 1", "BATES0000004001"} <= set(found)


def test_texts_too_long_for_the_line_are_set_smaller_and_never_overlap(tmp_path):
    source = tmp_path / "a.pdf"
    source.write_bytes(text_pdf(1, width_pt=300))
    words = "the quick brown fox jumps over the lazy dog"
    header = {"lines": [[f"L {words}", f"C {words}", f"R {words}"], [f"left {words} {words}", "", "right"]]}
    build_pdf([PdfPart(str(source))], str(tmp_path / "out.pdf"), header=header)
    found = dict(runs(pdfium.PdfDocument(str(tmp_path / "out.pdf"))[0]))
    for line in ((f"L {words}", f"C {words}", f"R {words}"), (f"left {words} {words}", "right")):
        boxes = [found[t] for t in line]
        assert boxes[0][0] >= 0 and boxes[-1][2] <= 300
        for a, b in itertools.pairwise(boxes):
            assert a[2] < b[0], line  # each ends before the next begins


async def test_tiff_frames_carry_the_bands_and_the_same_page_pixels(client, worker, tmp_path):
    # Given a 2-page PDF converted to tiff with and without header and footer
    wf = await upload(client, text_pdf(2))
    results = []
    for dest in ({"format": "tiff"}, {"format": "tiff", "header": HEADER, "footer": FOOTER}):
        final = await poll(
            client,
            (await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": dest}}))["processId"],
        )
        assert final["state"] == "complete", final
        [result] = final["output"]["results"]
        assert result["pageCount"] == 2
        results.append(Image.open(io.BytesIO((await download(client, result["fileId"]))[0])))
    plain, banded = results
    band = round(BAND_PT * 150 / 72)
    for n in range(2):
        plain.seek(n)
        banded.seek(n)
        page, frame = plain.convert("RGB"), banded.convert("RGB")
        # Then every frame is the page with a band above and below it, the page's pixels untouched
        assert frame.size == (page.width, page.height + 2 * band)
        assert differs(frame.crop((0, band, page.width, band + page.height)), page) == 0
        top, bottom = (
            frame.crop((0, 0, frame.width, band)),
            frame.crop((0, frame.height - band, frame.width, frame.height)),
        )
        assert max(c[2] - c[0] for _, c in top.getcolors(1 << 20)) > 200  # blue text
        assert max(c[0] - c[2] for _, c in bottom.getcolors(1 << 20)) > 200  # red text
        # and the Bates number can be read off the frame
        if shutil.which("tesseract"):
            scan = tmp_path / f"band-{n}.png"
            ink = bottom.convert("RGB").point(lambda v: v)  # the red text, black on white, three times larger
            red, green, _ = ink.split()
            mask = Image.eval(ImageChops.subtract(red, green), lambda v: 0 if v > 80 else 255)
            mask.resize((mask.width * 3, mask.height * 3), Image.Resampling.LANCZOS).save(scan)
            command = [
                "tesseract",
                str(scan),
                "-",
                "--psm",
                "6",
                "-c",
                "tessedit_char_whitelist=BATES0123456789SouthWe",
            ]
            read = subprocess.run(command, capture_output=True, text=True).stdout
            assert f"BATES{4001 + n:010d}" in read.replace(" ", ""), read


async def test_tiff_with_a_box_fits_the_grown_page_into_it(client, worker):
    wf = await upload(client, text_pdf(1))
    dest = {"format": "tiff", "tiffOptions": {"maxHeight": "600px"}, "footer": FOOTER}
    final = await poll(
        client, (await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": dest}}))["processId"]
    )
    image = Image.open(io.BytesIO((await download(client, final["output"]["results"][0]["fileId"]))[0]))
    assert image.height <= 600 and image.height >= 598
    assert image.width == pytest.approx(600 * 612 / (792 + BAND_PT), abs=2)


async def test_image_sources_and_other_fonts_and_scripts(client, worker):
    # Given a PNG source, a serif header beyond Latin-1 and an installed TrueType family in the footer
    wf = await upload(client, image_bytes("PNG", (600, 400)), "png")
    header = {"lines": [["Страница {{pageNumber}}", "", "Times {{pageCount}}"]], "fontFamily": "Times New Roman"}
    footer = {"lines": [["", "{{pageNumber+9,3}}", ""]], "fontFamily": "DejaVu Serif", "fontSize": "20pt"}
    dest = {"format": "pdf", "header": header, "footer": footer}
    final = await poll(
        client, (await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": dest}}))["processId"]
    )
    assert final["state"] == "complete", final
    page = pdfium.PdfDocument((await download(client, final["output"]["results"][0]["fileId"]))[0])[0]
    found = dict(runs(page))
    assert "Страница 1" in found and "Times 1" in found and "010" in found
    fonts = set()
    for obj in page.get_objects():
        if obj.type == pdfium.raw.FPDF_PAGEOBJ_TEXT:
            buf = ctypes.create_string_buffer(128)
            length = pdfium.raw.FPDFFont_GetBaseFontName(pdfium.raw.FPDFTextObj_GetFont(obj.raw), buf, 128)
            fonts.add(buf.raw[: max(0, length - 1)].decode())
    assert any("Times" in f for f in fonts) and any("DejaVuSerif" in f.replace(" ", "") for f in fonts), fonts


async def test_an_unavailable_font_ends_the_process_as_prizmdoc_does(client, worker):
    wf = await upload(client, text_pdf(1))
    dest = {"format": "pdf", "footer": {"lines": [["Test", "", ""]], "fontFamily": "Lexicon"}}
    final = await poll(
        client, (await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": dest}}))["processId"]
    )
    assert final["state"] == "error"
    assert final["errorCode"] == "CouldNotConvert" and final["percentComplete"] == 100
    [result] = final["output"]["results"]
    assert wire(result) == {
        "errorCode": "RequestedHeaderOrFooterFontIsNotAvailable",
        "sources": [{"fileId": wf["fileId"]}],
    }


async def test_jobs_run_again_give_the_same_output(client, worker):
    # Given a completed pdf conversion with a header
    wf = await upload(client, text_pdf(2))
    started = await convert(
        client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "pdf", "header": HEADER}}}
    )
    pid = started["processId"]
    final = await poll(client, pid, interval_s=0.05)
    [result] = final["output"]["results"]
    first, _ = await download(client, result["fileId"])
    # When its output is lost and the finish job runs again
    redis = client.app[keys.REDIS]
    await redis.hset(f"pm:proc:{pid}", mapping={"state": "processing"})
    await client.delete(f"/PCCIS/V1/WorkFile/{result['fileId']}")
    assert await conversions.finish_conversion({**worker.ctx, "job_try": 2}, pid) == "complete"
    # Then the same document is made again, under the same id (PDFium gives every save its own date and /ID)
    again, _ = await download(client, result["fileId"])
    assert [(dict(runs(p)), p.get_size()) for p in pdfium.PdfDocument(again)] == [
        (dict(runs(p)), p.get_size()) for p in pdfium.PdfDocument(first)
    ]
    assert stamped_apart(again) == stamped_apart(first)


async def test_openapi_documents_header_and_footer(client):
    doc = await (await client.get("/openapi.json")).json()
    text = str(doc)
    for name in ("HeaderFooter", "fontFamily", "fontSize", "{{pageNumber+c,n}}"):
        assert name in text, name
    dest = next(v for k, v in doc["components"]["schemas"].items() if k == "Dest")
    assert set(dest["properties"]) >= {"header", "footer"}


async def test_tenants_see_only_their_own_sources_and_outputs(aiohttp_client, env, worker):
    # Given two tenants, and acme's PDF
    keyed = {**env, "PAGEMILL_API_KEYS": "acme:acme-key-123,globex:globex-key-456"}
    api = await aiohttp_client(create_app(Settings.from_env(keyed)))
    acme, globex = {"Acs-Api-Key": "acme-key-123"}, {"Acs-Api-Key": "globex-key-456"}
    fid = (await (await api.post("/PCCIS/V1/WorkFile", data=text_pdf(1), headers=acme)).json())["fileId"]
    dest = {"format": "pdf", "footer": FOOTER}

    async def start(file_id: str, headers: dict[str, str]) -> tuple[int, str]:
        resp = await api.post("/v2/contentConverters", json={"input": {"sources": [{"fileId": file_id}], "dest": dest}},
                              headers=headers)  # fmt: skip
        return resp.status, (await resp.text()).replace(file_id, "ID")

    # When globex names acme's file as its source, it gets what an unknown id gets
    assert await start(fid, globex) == await start("AAAAAAAAAAAAAAAAAAAAAA", globex)
    assert (await start(fid, globex))[0] == 480
    # while acme's own conversion runs, and its output is acme's alone
    resp = await api.post("/v2/contentConverters", json={"input": {"sources": [{"fileId": fid}], "dest": dest}},
                          headers=acme)  # fmt: skip
    final = await poll(api, (await resp.json())["processId"], headers=acme)
    out = final["output"]["results"][0]["fileId"]
    assert (await api.get(f"/PCCIS/V1/WorkFile/{out}", headers=acme)).status == 200
    assert (await api.get(f"/PCCIS/V1/WorkFile/{out}", headers=globex)).status == 404
    assert (await api.get(f"/v2/contentConverters/{final['processId']}", headers=globex)).status == 404


async def test_a_word_document_gets_headers_and_footers_as_the_sdk_example_shows(client, worker):
    # Given a 2-page Word document (the SDK's how-to converts project-proposal.docx)
    wf = await upload(client, officegen.docx(["Alpha page", "Beta page"]), "docx")
    # When it is converted to pdf with the how-to's header and footer
    dest = {"format": "pdf", "header": HEADER, "footer": FOOTER}
    body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": dest}}
    final = await poll(client, (await convert(client, body))["processId"], timeout_s=90)
    # Then every page has its texts above and below the document's own
    assert final["state"] == "complete", final
    out = pdfium.PdfDocument((await download(client, final["output"]["results"][0]["fileId"]))[0])
    assert len(out) == 2
    for n, word in ((1, "Alpha page"), (2, "Beta page")):
        found = dict(runs(out[n - 1]))
        _, bottom, _, top = out[n - 1].get_mediabox()
        assert found[f"Page {n} of 2"][1] > top - BAND_PT and found[f"BATES{4000 + n:010d}"][3] < bottom + BAND_PT
        assert bottom + BAND_PT < found[word][1] < top - BAND_PT
