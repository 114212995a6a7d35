"""Damaged PDFs that PDFium refuses are repaired (xref, page tree, object streams); garbage stays CorruptFile;
repair is bounded in time and memory on hostile input."""

import io
import mmap
import os
import time
import tracemalloc
import zlib

import pypdfium2 as pdfium
import pytest

from core.errors import DocumentError
from tests.docgen import broken_xref_pdf, corrupt_pdf, lost_page_tree_pdf, packed_pdf, text_pdf
from tests.helpers import convert, download, poll, upload
from workers.render import repair
from workers.render.document import open_document
from workers.render.spec import RenderSpec

DAMAGED = {
    "wrong xref offsets, trailer cut off": broken_xref_pdf(3),
    "catalog names a missing page tree": lost_page_tree_pdf(3),
    "object stream, xref stream and trailer cut off": packed_pdf(3, damaged=True),
}


@pytest.mark.parametrize("name", DAMAGED)
def test_damaged_pdfs_that_pdfium_refuses_are_repaired_and_render(tmp_path, name):
    path = tmp_path / "damaged.pdf"
    path.write_bytes(DAMAGED[name])
    # Given a document PDFium alone refuses
    with pytest.raises(pdfium.PdfiumError, match="Data format error"):
        pdfium.PdfDocument(str(path))
    # When it is opened, Then every page is recovered, in order, and renders
    doc = open_document(str(path), "pdf", None, 10**9)
    try:
        assert doc.page_count == 3
        for index in range(3):
            assert doc.text(index).startswith(f"Page {index + 1}")
            low, _ = doc.render(index, RenderSpec(format="png", dpi=50)).convert("L").getextrema()
            assert low < 100  # ink on the page, not a blank one
    finally:
        doc.close()


def test_a_cut_off_pdf_keeps_the_pages_that_arrived(tmp_path):
    # Given a 3-page PDF cut off after its first page, or its second (no xref, no trailer, pages missing)
    good = text_pdf(3)
    for cut, pages in ((900, 1), (1400, 2)):
        path = tmp_path / f"cut-{cut}.pdf"
        path.write_bytes(good[:cut])
        # Then those pages are recovered, and only those (not pages that fail to load)
        doc = open_document(str(path), "pdf", None, 10**9)
        try:
            assert [doc.text(i)[:6] for i in range(doc.page_count)] == [f"Page {n + 1}" for n in range(pages)]
        finally:
            doc.close()


@pytest.mark.parametrize(
    "data",
    [corrupt_pdf(), b"%PDF-1.4\n" + os.urandom(200_000), b"\0" * 100_000, b""],
    ids=["catalog-without-pages", "random", "zeros", "empty"],
)
def test_garbage_stays_corrupt(tmp_path, data):
    # Given bytes with no page object to recover (a catalog naming a missing page tree, noise, nothing)
    path = tmp_path / "garbage.pdf"
    path.write_bytes(data)
    # Then opening them is CorruptFile, not an empty or blank document
    with pytest.raises(DocumentError) as caught:
        open_document(str(path), "pdf", None, 10**9)
    assert caught.value.code == "CorruptFile"


def scan_of(data: bytes, tmp_path) -> repair.Scan:
    path = tmp_path / "hostile.pdf"
    path.write_bytes(data)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return repair.scan(mapped)


def test_repair_gives_up_on_floods_of_objects_quickly(tmp_path):
    for data in (
        b"%PDF-1.4\n" + b"1 0 obj\n" * 1_000_000,  # one object redefined a million times
        b"%PDF-1.4\n" + b"".join(b"%d 0 obj\n" % n for n in range(1, 400_000)),  # too many objects
    ):
        started = time.monotonic()
        with pytest.raises(repair.GaveUp):
            scan_of(data, tmp_path)
        assert time.monotonic() - started < 5


def test_repair_inflates_object_streams_within_a_cap(tmp_path):
    # Given an object stream that inflates to 400 MB (a zlib bomb of 400 kB)
    bomb = zlib.compress(b"0" * (400 << 20), 9)
    data = (
        b"%%PDF-1.5\n1 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream\n"
        b"endobj\n" % (len(bomb), bomb)
    )
    # When the file is scanned, Then at most the cap is inflated (and the stream is left alone)
    tracemalloc.start()
    started = time.monotonic()
    found = scan_of(data, tmp_path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert list(found.objects) == [1]
    assert peak < repair.MAX_INFLATE_BYTES + (16 << 20), peak
    assert time.monotonic() - started < 5


async def test_a_damaged_pdf_converts_through_the_service(client, worker):
    for data, fmt in ((broken_xref_pdf(3), "png"), (lost_page_tree_pdf(3), "pdf")):
        wf = await upload(client, data, "pdf")
        final = await poll(
            client,
            (await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": fmt}}}))[
                "processId"
            ],
            interval_s=0.1,
        )
        assert final["state"] == "complete", final
        results = final["output"]["results"]
        if fmt == "png":
            assert len(results) == 3 and all("fileId" in r for r in results)
        else:
            # the pdf output imports the repaired source's pages (assembly opens sources the same way)
            [result] = results
            body, _ = await download(client, result["fileId"])
            out = pdfium.PdfDocument(io.BytesIO(body).getvalue())
            assert [out[i].get_textpage().get_text_range()[:6] for i in range(len(out))] == [
                "Page 1",
                "Page 2",
                "Page 3",
            ]
