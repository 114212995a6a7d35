"""OCR for searchable PDF output (`dest.pdfOptions.ocr`): Tesseract, run as a separate process on a page
image, writes the words it reads as an invisible text-only PDF page (a *layer*); the layer is laid
over the original page, which keeps its look (PDF pages are imported as they are, an image becomes
the page itself). PDF pages that already carry text are searchable already and are left alone.
"""

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from core.errors import DocumentError
from workers.render import tool
from workers.render.document import Document, PdfSource, RasterSource
from workers.render.encode import hash_file
from workers.render.orientation import page_frame
from workers.render.spec import Rendered, RenderSpec

OCR_DPI = 300  # PDF pages are read at this resolution (Tesseract's best)
MIN_IMAGE_DPI = 10  # an image saying less than this has no real resolution
FAILED = "OcrFailed"


def recognise(image: Image.Image, dpi: int, language: str, out_path: str, timeout_s: float) -> None:
    """Write the text Tesseract reads on `image` (at `dpi`) as an invisible one-page PDF to `out_path`."""
    with tempfile.TemporaryDirectory(prefix="pagemill-ocr-") as tmp:
        source = Path(tmp) / "page.pgm"
        image.convert("L").save(source)  # greyscale PNM: what Tesseract reads fastest
        tool.run(
            ["tesseract", str(source), str(Path(tmp) / "layer"), "-l", language, "--dpi", str(dpi),
             "-c", "textonly_pdf=1", "pdf"],
            timeout_s,
            FAILED,
            env={"OMP_THREAD_LIMIT": "1"},  # one thread: the render pool runs pages side by side already
        )  # fmt: skip
        shutil.move(Path(tmp) / "layer.pdf", out_path)


def overlay(pdf: pdfium.PdfDocument, index: int, layer: pdfium.PdfDocument) -> None:
    """Lay the text layer over page `index` of `pdf`, stretched to the page as displayed."""
    page = pdf[index]
    try:
        frame = page_frame(page)
        width, height = layer.get_page_size(0)
        obj = layer.page_as_xobject(0, pdf).as_pageobject()
        a, b, c, d, e, f = frame.matrix
        sx, sy = frame.width / width, frame.height / height
        obj.transform(pdfium.PdfMatrix(a * sx, b * sx, c * sy, d * sy, e, f))
        page.insert_obj(obj)
        page.gen_content()
    finally:
        page.close()


def is_empty(layer: pdfium.PdfDocument) -> bool:
    page = layer[0]
    try:
        return not any(True for _ in page.get_objects(max_depth=1))
    finally:
        page.close()


def _empty_layer(width: float, height: float, out_path: str) -> None:
    pdf = pdfium.PdfDocument.new()
    try:
        pdf.new_page(width, height).close()
        pdf.save(out_path)
    finally:
        pdf.close()


def _image_dpi(frame: Image.Image, spec: RenderSpec) -> tuple[int, int]:
    """The image's own resolution, else the request's defaultDpi, else the render resolution."""
    x, y = (round(float(v)) for v in frame.info.get("dpi", (0, 0)))
    if x >= MIN_IMAGE_DPI and y >= MIN_IMAGE_DPI:
        return x, y
    return spec.ocr_default_dpi or (spec.dpi, spec.dpi)


def render_ocr(doc: Document, index: int, spec: RenderSpec, out_path: str) -> Rendered:
    """The unit of a searchable PDF output for page `index`: a PDF page's text layer, or an image page
    as a one-page PDF with its text layer already laid over it."""
    language = spec.ocr_language or "eng"
    if isinstance(doc, PdfSource):
        width, height = doc.pdf.get_page_size(index)
        if doc.text(index).strip():
            _empty_layer(width, height, out_path)
        else:
            image = doc.render(index, replace(spec, format="png", dpi=OCR_DPI, max_width=None, max_height=None))
            recognise(image, round(image.width * 72 / width), language, out_path, spec.tool_timeout_s)
    elif isinstance(doc, RasterSource):
        frame = doc.frame(index)
        dpi = _image_dpi(frame, spec)
        with tempfile.TemporaryDirectory(prefix="pagemill-ocr-") as tmp:
            page_path, layer_path = str(Path(tmp) / "page.pdf"), str(Path(tmp) / "layer.pdf")
            (frame if frame.mode in ("RGB", "L", "1") else frame.convert("RGB")).save(page_path, "PDF", dpi=dpi)
            recognise(frame, dpi[0], language, layer_path, spec.tool_timeout_s)
            pdf, layer = pdfium.PdfDocument(page_path), pdfium.PdfDocument(layer_path)
            try:
                overlay(pdf, 0, layer)
                pdf.save(out_path)
            finally:
                layer.close()
                pdf.close()
        width, height = frame.width * 72 / dpi[0], frame.height * 72 / dpi[1]
    else:
        raise DocumentError("UnsupportedSourceFileFormatForOCR", type(doc).__name__)
    size, sha = hash_file(out_path)
    return Rendered(round(width), round(height), size, sha)
