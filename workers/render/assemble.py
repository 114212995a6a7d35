"""Assembling outputs from pages: multi-page TIFFs concatenated, PDFs built by importing pages."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pypdfium2 as pdfium
from PIL import TiffImagePlugin

from core.errors import DocumentError
from workers.render import headers, ocr, stamp
from workers.render.document import open_pdf
from workers.render.encode import hash_file
from workers.render.page import watermarked
from workers.render.spec import POINTS_PER_INCH, Rendered


def _rasterised(pdf: pdfium.PdfDocument, raw: Sequence[dict[str, Any]], dpi: int) -> pdfium.PdfDocument:
    """A new PDF whose pages are images of `pdf`'s pages with the watermarks drawn in."""
    flat = pdfium.PdfDocument.new()
    for i in range(len(pdf)):
        page = pdf[i]
        width, height = page.get_size()
        image = page.render(scale=dpi / POINTS_PER_INCH).to_pil().convert("RGB")
        page.close()
        image = watermarked(image, raw, image.width / width)
        target = flat.new_page(width, height)
        picture = pdfium.PdfImage.new(flat)
        picture.set_bitmap(pdfium.PdfBitmap.from_pil(image))
        picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
        target.insert_obj(picture)
        target.gen_content()
        target.close()
    return flat


def concat_tiffs(paths: Sequence[str], out_path: str) -> Rendered:
    """Join single-page TIFF files into one multi-page TIFF without re-encoding any page."""
    with open(out_path, "w+b") as fh, TiffImagePlugin.AppendingTiffWriter(fh, new=True) as writer:
        for path in paths:
            with open(path, "rb") as page:
                writer.write(page.read())
            writer.newFrame()
    size, sha = hash_file(out_path)
    return Rendered(0, 0, size, sha)


@dataclass(frozen=True)
class PdfPart:
    """Pages for a PDF output: page indexes of a PDF source, or a one-page PDF made from an image."""

    path: str
    password: str | None = None
    pages: tuple[int, ...] = (0,)
    layers: tuple[str, ...] = ()  # per page: an OCR text layer (a one-page PDF) to lay over it, or ""


def _lay_text(out: pdfium.PdfDocument, parts: Sequence[PdfPart]) -> None:
    """Lay each page's OCR text layer (if it has one with text) over it."""
    index = 0
    for part in parts:
        for n in range(len(part.pages)):
            path = part.layers[n] if n < len(part.layers) else ""
            if path:
                layer = pdfium.PdfDocument(path)
                try:
                    if not ocr.is_empty(layer):
                        ocr.overlay(out, index + n, layer)
                finally:
                    layer.close()
        index += len(part.pages)


def build_pdf(
    parts: Sequence[PdfPart],
    out_path: str,
    watermarks: Sequence[dict[str, Any]] = (),
    dpi: int = 150,
    header: dict[str, Any] | None = None,
    footer: dict[str, Any] | None = None,
) -> Rendered:
    """Assemble a PDF by importing pages (vector content is kept as is), then watermark it:
    text watermarks as vector text; with image watermarks every page is rasterised at `dpi`.
    A header or footer grows every page and is drawn as vector text outside the page's content."""
    out = pdfium.PdfDocument.new()
    try:
        for part in parts:
            src = open_pdf(part.path, part.password)  # (a damaged source is repaired as it was to be counted)
            try:
                out.import_pages(src, pages=list(part.pages))
            except pdfium.PdfiumError as exc:
                raise DocumentError("CorruptFile", str(exc)) from None
            finally:
                src.close()
        if watermarks:
            marks = stamp.parse_marks([{k: v for k, v in m.items() if k != "_path"} for m in watermarks])
            if stamp.needs_raster_pdf(marks):
                flat = _rasterised(out, watermarks, dpi)
                out.close()
                out = flat
            else:
                for i in range(len(out)):
                    page = out[i]
                    stamp.stamp_pdf_page(out, page, marks)
                    page.close()
        _lay_text(out, parts)
        if header or footer:
            headers.add_to_pdf(out, headers.band_of(header), headers.band_of(footer))
        out.save(out_path)
    finally:
        out.close()
    size, sha = hash_file(out_path)
    return Rendered(0, 0, size, sha)
