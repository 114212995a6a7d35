"""Office, text and HTML sources through the LibreOffice source stage, against the real app, the
real worker and a real LibreOffice: conversions, viewing sessions, and hostile documents."""

import asyncio
import io
import zipfile
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

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
        ("tsv", "Name\tCity\nAnna\tOslo\n".encode(), "tsv", 1, ["Anna", "Oslo"]),
        ("html", officegen.html("<h1>Heading</h1><p>Para café</p>"), "txt", 1, ["Heading", "Para café"]),
        ("md", b"# Title\n\nSome *markdown* text\n", "md", 1, ["# Title", "Some *markdown* text"]),
    ],
)
async def test_office_text_and_html_sources_convert_with_their_content(client, worker, name, data, extension, pages, words):
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
        ("Grüße, café, naïve — €5\n".encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + "Grüße, café, naïve — €5\n".encode("utf-8"), "utf-8 with BOM"),
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
