"""End to end: upload, convert, poll, download — through the real app and the real worker."""

import io

import pypdfium2 as pdfium
import pytest
from PIL import Image

from tests.docgen import corrupt_pdf, encrypted_pdf, image_bytes, text_pdf
from tests.helpers import convert, download, poll, upload, wire


async def test_pdf_uploaded_as_txt_converts_to_one_png_per_page(client, worker):
    # Given a 10-page PDF uploaded the way DocumentProcessingHelper does it (FileExtension=txt)
    wf = await upload(client, text_pdf(10), "txt")
    assert wf["fileExtension"] == "pdf"
    # When it is converted to png and polled every 500 ms
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
    assert started["state"] == "processing" and started["percentComplete"] == 0
    assert "pages" not in started["input"]["sources"][0]
    final = await poll(client, started["processId"])
    # Then there is one valid PNG per page, in order
    assert final["state"] == "complete", final
    assert final["percentComplete"] == 100
    assert final["_percent_seen"] == sorted(final["_percent_seen"])
    results = final["output"]["results"]
    assert len(results) == 10
    for n, result in enumerate(results, start=1):
        assert result["pageCount"] == 1
        assert result["sources"] == [{"fileId": wf["fileId"], "pages": str(n)}]
        data, headers = await download(client, result["fileId"])
        assert headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(data))
        image.verify()
        assert image.format == "PNG"
        assert image.size == (1275, 1650)  # US letter at 150 dpi


async def test_pdf_to_one_multipage_tiff(client, worker):
    wf = await upload(client, text_pdf(9), "pdf")
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "tiff"}}})
    assert started["input"]["dest"]["tiffOptions"] == {"forceOneFilePerPage": False}
    final = await poll(client, started["processId"], interval_s=0.1)
    assert final["state"] == "complete", final
    [result] = final["output"]["results"]
    assert result["pageCount"] == 9
    assert result["sources"] == [{"fileId": wf["fileId"], "pages": "1-9"}]
    data, headers = await download(client, result["fileId"])
    assert headers["Content-Type"] == "image/tiff"
    with Image.open(io.BytesIO(data)) as tiff:
        assert tiff.n_frames == 9
        for i in range(9):
            tiff.seek(i)
            tiff.load()
            assert tiff.size == (1275, 1650)


async def test_pdf_pages_selection_to_pdf_keeps_text(client, worker):
    wf = await upload(client, text_pdf(6))
    body = {"input": {"sources": [{"fileId": wf["fileId"], "pages": "2, 4-5"}], "dest": {"format": "pdf"}}}
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1)
    assert final["state"] == "complete", final
    [result] = final["output"]["results"]
    assert result["pageCount"] == 3
    assert result["sources"] == [{"fileId": wf["fileId"], "pages": "2,4-5"}]
    data, headers = await download(client, result["fileId"])
    assert headers["Content-Type"] == "application/pdf"
    pdf = pdfium.PdfDocument(data)
    texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    assert [t.splitlines()[0].strip() for t in texts] == ["Page 2", "Page 4", "Page 5"]


async def test_two_sources_and_an_image_combine_into_one_pdf(client, worker):
    a = await upload(client, text_pdf(2))
    b = await upload(client, image_bytes("PNG", (600, 400)), "png")
    body = {"input": {"sources": [{"fileId": a["fileId"]}, {"fileId": b["fileId"]}], "dest": {"format": "pdf"}}}
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1)
    assert final["state"] == "complete", final
    [result] = final["output"]["results"]
    assert result["pageCount"] == 3
    assert result["sources"] == [{"fileId": a["fileId"], "pages": "1-2"}, {"fileId": b["fileId"], "pages": "1"}]
    data, _ = await download(client, result["fileId"])
    assert len(pdfium.PdfDocument(data)) == 3


async def test_force_one_file_per_page_with_missing_pages(client, worker):
    wf = await upload(client, text_pdf(2))
    body = {
        "input": {
            "sources": [{"fileId": wf["fileId"], "pages": "2-4"}],
            "dest": {"format": "pdf", "pdfOptions": {"forceOneFilePerPage": True}},
        }
    }
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1)
    assert final["state"] == "complete", final
    ok, missing3, missing4 = final["output"]["results"]
    assert ok["pageCount"] == 1 and ok["sources"] == [{"fileId": wf["fileId"], "pages": "2"}]
    assert wire(missing3) == {"errorCode": "NoSuchPage", "sources": [{"fileId": wf["fileId"], "pages": "3"}]}
    assert missing4["errorCode"] == "NoSuchPage"


async def test_multipage_tiff_source_to_jpeg_with_max_width(client, worker):
    wf = await upload(client, image_bytes("TIFF", (800, 600), frames=3), "tif")
    body = {
        "input": {
            "sources": [{"fileId": wf["fileId"]}],
            "dest": {"format": "jpeg", "jpegOptions": {"maxWidth": "200px"}},
        }
    }
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1)
    assert final["state"] == "complete", final
    assert len(final["output"]["results"]) == 3
    data, headers = await download(client, final["output"]["results"][2]["fileId"])
    assert headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(data)).size == (200, 150)


async def test_corrupt_pdf_ends_in_error_not_500(client, worker):
    wf = await upload(client, corrupt_pdf(), "pdf")
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
    final = await poll(client, started["processId"], interval_s=0.1, timeout_s=30)
    assert final["state"] == "error"
    assert final["errorCode"] == "CouldNotConvert"
    assert final["output"]["results"][0]["errorCode"] == "CorruptFile"


async def test_encrypted_pdf_needs_the_right_password(client, worker):
    wf = await upload(client, encrypted_pdf(3, "s3cret"))
    for password, state in ((None, "error"), ("wrong", "error"), ("s3cret", "complete")):
        source = {"fileId": wf["fileId"]} | ({"password": password} if password else {})
        body = {"input": {"sources": [source], "dest": {"format": "png"}}}
        final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1)
        assert final["state"] == state, (password, final)
        if state == "error":
            assert final["errorCode"] == "CouldNotConvert"
            assert final["output"]["results"][0]["errorCode"] == "InvalidPassword"
        else:
            assert len(final["output"]["results"]) == 3


@pytest.mark.parametrize(("fmt", "ext"), [("BMP", "bmp"), ("GIF", "gif"), ("JPEG", "jpg"), ("PNG", "png")])
async def test_single_image_sources_convert_to_png_and_pdf(client, worker, fmt, ext):
    wf = await upload(client, image_bytes(fmt, (320, 200)), ext)
    assert wf["fileExtension"] == ext
    for dest, content_type in (("png", "image/png"), ("pdf", "application/pdf")):
        body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": dest}}}
        final = await poll(client, (await convert(client, body))["processId"], interval_s=0.05)
        assert final["state"] == "complete", final
        [result] = final["output"]["results"]
        data, headers = await download(client, result["fileId"])
        assert headers["Content-Type"] == content_type
        if dest == "png":
            assert Image.open(io.BytesIO(data)).size == (320, 200)
        else:
            assert len(pdfium.PdfDocument(data)) == 1
