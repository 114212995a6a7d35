"""SVG output, one file per page: PDF pages through poppler's `pdftocairo -svg` (run as a separate
process; glyphs become outlines), with the page's text added as an invisible text layer so the SVG
can be searched and its text selected; raster pages as an SVG holding the image."""

import base64
import io
import re
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pypdfium2 as pdfium

from core.errors import DocumentError
from workers.render import tool
from workers.render.document import RASTER_DPI, Document, PdfSource, RasterSource
from workers.render.encode import hash_file
from workers.render.orientation import page_frame
from workers.render.spec import Rendered, RenderSpec

FAILED = "SvgRenderFailed"
_NOT_XML = re.compile(r"[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text_layer(page: pdfium.PdfPage) -> str:
    """The page's text runs as invisible SVG text, placed and stretched over their glyphs (points)."""
    frame = page_frame(page)
    textpage = page.get_textpage()
    out = ['<g id="pagemill-text" fill-opacity="0" stroke="none" font-family="sans-serif">']
    try:
        for i in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(i)
            text = _NOT_XML.sub("", textpage.get_text_bounded(left, bottom, right, top)).strip()
            if not text:
                continue
            (u0, v0), (u1, v1) = frame.to_display(left, bottom), frame.to_display(right, top)
            x, width = min(u0, u1), abs(u1 - u0)
            height = abs(v1 - v0)
            y = frame.height - min(v0, v1)  # SVG's y runs down; the run's lower edge as its baseline
            out.append(
                f'<text x="{x:.2f}" y="{y:.2f}" font-size="{max(height, 1):.2f}" textLength="{max(width, 1):.2f}" '
                f'lengthAdjust="spacingAndGlyphs">{escape(text)}</text>'
            )
    finally:
        textpage.close()
    out.append("</g>")
    return "\n".join(out)


def _pdf_page(doc: PdfSource, index: int, out_path: str, timeout_s: float) -> None:
    with tempfile.TemporaryDirectory(prefix="pagemill-svg-") as tmp:
        # One page on its own, decrypted: pdftocairo reads no more than it draws and needs no password.
        single = pdfium.PdfDocument.new()
        try:
            single.import_pages(doc.pdf, pages=[index])
            single.save(str(Path(tmp) / "page.pdf"))
        except pdfium.PdfiumError as exc:
            raise DocumentError("CorruptFile", str(exc)) from None
        finally:
            single.close()
        tool.run(["pdftocairo", "-svg", str(Path(tmp) / "page.pdf"), str(Path(tmp) / "page.svg")], timeout_s, FAILED)
        svg = (Path(tmp) / "page.svg").read_text(encoding="utf-8")
    page = doc.pdf[index]
    try:
        layer = _text_layer(page)
    finally:
        page.close()
    end = svg.rfind("</svg>")
    if end < 0:
        raise DocumentError(FAILED, "pdftocairo wrote no SVG")
    Path(out_path).write_text(svg[:end] + layer + "\n" + svg[end:], encoding="utf-8")


def _raster_page(doc: RasterSource, index: int, out_path: str) -> tuple[float, float]:
    frame = doc.frame(index)
    png = io.BytesIO()
    frame.save(png, "PNG", compress_level=3)
    width, height = frame.size
    href = quoteattr("data:image/png;base64," + base64.b64encode(png.getvalue()).decode())
    scale = 72 / RASTER_DPI  # an image pixel is taken as 1/96 inch, as for viewer pages
    Path(out_path).write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" '
        f'width="{width * scale:.2f}pt" height="{height * scale:.2f}pt" viewBox="0 0 {width} {height}">\n'
        f'<image width="{width}" height="{height}" href={href} xlink:href={href}/>\n</svg>\n',
        encoding="utf-8",
    )
    return width * scale, height * scale


def render_svg(doc: Document, index: int, spec: RenderSpec, out_path: str) -> Rendered:
    """Write page `index` (0-based) of an open document as SVG to `out_path`."""
    if isinstance(doc, PdfSource):
        _pdf_page(doc, index, out_path, spec.tool_timeout_s)
        width, height = doc.pdf.get_page_size(index)
    elif isinstance(doc, RasterSource):
        width, height = _raster_page(doc, index, out_path)
    else:
        raise DocumentError("UnsupportedSourceFileFormat", type(doc).__name__)
    size, sha = hash_file(out_path)
    return Rendered(round(width), round(height), size, sha)
