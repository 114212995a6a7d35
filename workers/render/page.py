"""Pure, synchronous document rendering with pypdfium2 and Pillow (no Redis, no HTTP, no asyncio).

These functions run inside pool processes: PDFium is not thread-safe.
"""

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageChops, TiffImagePlugin, UnidentifiedImageError

from core.errors import DocumentError
from schemas import formats
from workers.render import stamp

try:
    import fpng  # type: ignore[import-untyped]
except ImportError:  # optional accelerator; Pillow's encoder is the fallback
    fpng = None

POINTS_PER_INCH = 72
RASTER_DPI = 96


@dataclass(frozen=True)
class RenderSpec:
    """How to rasterise a page and encode it."""

    format: str  # png | jpeg | tiff | pdf
    dpi: int = 150
    max_width: int | None = None
    max_height: int | None = None
    max_pixels: int = 60_000_000
    jpeg_quality: int = 85
    png_compress_level: int = 3
    scale: float = 1.0  # multiplies the natural size (dpi for PDF pages, pixels for images)
    # Watermark objects (schemas.watermarks.Watermark dumps); image ones carry a local "_path".
    watermarks: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Rendered:
    """What was written for one page."""

    width: int
    height: int
    size: int
    sha256: str


class Document(Protocol):
    """An open source document."""

    page_count: int

    def render(self, index: int, spec: RenderSpec) -> Image.Image: ...
    def page_sizes(self) -> list[tuple[float, float]]: ...
    def width_pt(self, index: int) -> float: ...
    def text(self, index: int) -> str: ...
    def close(self) -> None: ...


def fit_scale(width: float, height: float, spec: RenderSpec, natural_scale: float) -> float:
    """Scale for a page of `width`x`height` units: the bounding box if given, then the pixel cap."""
    if spec.max_width or spec.max_height:
        scales = []
        if spec.max_width:
            scales.append(spec.max_width / width)
        if spec.max_height:
            scales.append(spec.max_height / height)
        scale = min(scales)
    else:
        scale = natural_scale
    pixels = width * height * scale * scale
    if pixels > spec.max_pixels:
        scale *= (spec.max_pixels / pixels) ** 0.5
    return scale


class PdfSource:
    """A PDF opened with PDFium."""

    def __init__(self, path: str, password: str | None) -> None:
        try:
            self.pdf = pdfium.PdfDocument(path, password=password)
        except pdfium.PdfiumError as exc:
            if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
                raise DocumentError("InvalidPassword", "password missing or wrong") from None
            if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
                raise DocumentError("UnsupportedSecurityHandler") from None
            raise DocumentError("CorruptFile", str(exc)) from None
        self.page_count = len(self.pdf)
        if self.page_count == 0:
            raise DocumentError("CorruptFile", "the document has no pages")

    def render(self, index: int, spec: RenderSpec) -> Image.Image:
        page = self.pdf[index]
        try:
            width, height = page.get_size()
            if width <= 0 or height <= 0:
                raise DocumentError("CorruptFile", f"page {index + 1} has no area")
            scale = fit_scale(width, height, spec, spec.scale * spec.dpi / POINTS_PER_INCH)
            # PDFium sizes the bitmap with ceil(size * scale): shave float noise so 792pt at 150dpi is 1650px.
            bitmap = page.render(scale=scale * (1 - 1e-7), may_draw_forms=True)
            return bitmap.to_pil()
        except pdfium.PdfiumError as exc:
            raise DocumentError("CorruptFile", str(exc)) from None
        finally:
            page.close()

    def width_pt(self, index: int) -> float:
        return float(self.pdf.get_page_size(index)[0])

    def page_sizes(self) -> list[tuple[float, float]]:
        """Page sizes in points, without loading the pages."""
        return [tuple(self.pdf.get_page_size(i)) for i in range(self.page_count)]  # type: ignore[misc]

    def text(self, index: int) -> str:
        page = self.pdf[index]
        try:
            textpage = page.get_textpage()
            try:
                return textpage.get_text_range()
            finally:
                textpage.close()
        except pdfium.PdfiumError as exc:
            raise DocumentError("CorruptFile", str(exc)) from None
        finally:
            page.close()

    def close(self) -> None:
        self.pdf.close()


class RasterSource:
    """A raster image; multi-frame TIFFs are multi-page documents."""

    def __init__(self, path: str, max_pixels: int) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self.image = Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DocumentError("ImageTooLarge") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DocumentError("CorruptFile", str(exc)) from None
        width, height = self.image.size
        if width * height > max_pixels or width <= 0 or height <= 0:
            self.image.close()
            raise DocumentError("ImageTooLarge", f"{width}x{height}")
        self.page_count = getattr(self.image, "n_frames", 1) if self.image.format == "TIFF" else 1

    def frame(self, index: int) -> Image.Image:
        try:
            self.image.seek(index)
            frame = self.image.copy()
            frame.load()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise DocumentError("CorruptFile", str(exc)) from None
        if frame.mode not in ("RGB", "L", "1"):
            frame = frame.convert("RGBA").convert("RGB") if "A" in frame.getbands() else frame.convert("RGB")
        return frame

    def render(self, index: int, spec: RenderSpec) -> Image.Image:
        frame = self.frame(index)
        scale = fit_scale(frame.width, frame.height, spec, spec.scale)
        if abs(scale - 1.0) > 1e-9:
            size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
            frame = frame.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
        return frame

    def width_pt(self, index: int) -> float:
        self.image.seek(index)
        return self.image.width * 72 / RASTER_DPI  # an image pixel is taken as 1/96 inch

    def page_sizes(self) -> list[tuple[float, float]]:
        """Frame sizes in pixels."""
        sizes = []
        for i in range(self.page_count):
            self.image.seek(i)
            sizes.append((float(self.image.width), float(self.image.height)))
        return sizes

    def text(self, index: int) -> str:
        return ""  # no OCR: raster pages have no text

    def close(self) -> None:
        self.image.close()


def open_document(path: str, extension: str, password: str | None, max_image_pixels: int) -> Document:
    """Open a source by its work file extension."""
    known = formats.by_extension(extension)
    if known is not None and known.opener == "pdfium":
        return PdfSource(path, password)
    if known is not None and known.opener == "pillow":
        return RasterSource(path, max_image_pixels)
    raise DocumentError("UnsupportedSourceFileFormat", extension.lower())


def inspect(doc: Document, dpi: int) -> dict[str, object]:
    """Page count and each page's natural pixel size at `dpi` (PDF) or as stored (images)."""
    raster = isinstance(doc, RasterSource)
    factor = 1.0 if raster else dpi / POINTS_PER_INCH
    sizes = [[max(1, round(w * factor)), max(1, round(h * factor))] for w, h in doc.page_sizes()]
    return {"pageCount": doc.page_count, "sizes": sizes, "raster": raster, "resolution": RASTER_DPI if raster else dpi}


def page_text(doc: Document, index: int) -> str:
    """The text of page `index` (0-based)."""
    if not 0 <= index < doc.page_count:
        raise DocumentError("NoSuchPage", str(index + 1))
    return doc.text(index)


def _rasterised(pdf: pdfium.PdfDocument, raw: Sequence[dict[str, Any]], dpi: int) -> pdfium.PdfDocument:
    """A new PDF whose pages are images of `pdf`'s pages with the watermarks drawn in."""
    flat = pdfium.PdfDocument.new()
    for i in range(len(pdf)):
        page = pdf[i]
        width, height = page.get_size()
        image = page.render(scale=dpi / POINTS_PER_INCH).to_pil().convert("RGB")
        page.close()
        image = _watermarked(image, raw, image.width / width)
        target = flat.new_page(width, height)
        picture = pdfium.PdfImage.new(flat)
        picture.set_bitmap(pdfium.PdfBitmap.from_pil(image))
        picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
        target.insert_obj(picture)
        target.gen_content()
        target.close()
    return flat


def _hash_file(path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def is_grey(image: Image.Image) -> bool:
    """True when an RGB image has no colour at all (R == G == B everywhere)."""
    red, green, blue = image.split()
    return ImageChops.difference(red, green).getbbox() is None and ImageChops.difference(green, blue).getbbox() is None


def compact(image: Image.Image) -> Image.Image:
    """A colourless page as one grey channel: identical pixels, a third of the bytes to encode.

    Text pages are usually colourless; PNG encoding then costs about a quarter of the time and
    the files shrink by more than half.
    """
    if image.mode == "RGB" and is_grey(image):
        return image.convert("L")
    return image


def encode(image: Image.Image, spec: RenderSpec, out_path: str) -> None:
    """Write one page image in the spec's format."""
    dpi = (spec.dpi, spec.dpi)
    if spec.format in ("png", "jpeg", "tiff"):
        image = compact(image)
    if spec.format == "png":
        if fpng is not None and image.mode in ("RGB", "RGBA"):
            # Colour pages: fpng writes standard, lossless PNG about ten times faster than zlib.
            with open(out_path, "wb") as fh:
                fh.write(fpng.from_pil(image))
        else:
            image.save(out_path, "PNG", compress_level=spec.png_compress_level, dpi=dpi)
    elif spec.format == "jpeg":
        rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
        rgb.save(out_path, "JPEG", quality=spec.jpeg_quality, dpi=dpi)
    elif spec.format == "tiff":
        image.save(out_path, "TIFF", compression="tiff_lzw", dpi=dpi)
    elif spec.format == "pdf":
        rgb = image if image.mode in ("RGB", "L", "1") else image.convert("RGB")
        rgb.save(out_path, "PDF", resolution=float(spec.dpi))
    else:
        raise ValueError(f"unknown format {spec.format}")


def render_page(doc: Document, index: int, spec: RenderSpec, out_path: str) -> Rendered:
    """Render page `index` (0-based) of an open document to `out_path`."""
    if not 0 <= index < doc.page_count:
        raise DocumentError("NoSuchPage", str(index + 1))
    image = doc.render(index, spec)
    if spec.watermarks:
        image = _watermarked(image, spec.watermarks, image.width / doc.width_pt(index))
    encode(image, spec, out_path)
    size, sha = _hash_file(out_path)
    return Rendered(image.width, image.height, size, sha)


@lru_cache(maxsize=4)
def _picture(path: str) -> Image.Image:
    return stamp.load_picture(path)


def _watermarked(image: Image.Image, raw: Sequence[dict[str, Any]], px_per_pt: float) -> Image.Image:
    marks = stamp.parse_marks([{k: v for k, v in m.items() if k != "_path"} for m in raw])
    try:
        pictures = {i: _picture(m["_path"]) for i, m in enumerate(raw) if m.get("type") == "image"}
    except stamp.WatermarkError as exc:
        raise DocumentError(exc.code) from None
    return stamp.apply_watermarks(image, marks, px_per_pt, pictures)


def concat_tiffs(paths: Sequence[str], out_path: str) -> Rendered:
    """Join single-page TIFF files into one multi-page TIFF without re-encoding any page."""
    with open(out_path, "w+b") as fh, TiffImagePlugin.AppendingTiffWriter(fh, new=True) as writer:
        for path in paths:
            with open(path, "rb") as page:
                writer.write(page.read())
            writer.newFrame()
    size, sha = _hash_file(out_path)
    return Rendered(0, 0, size, sha)


@dataclass(frozen=True)
class PdfPart:
    """Pages for a PDF output: page indexes of a PDF source, or a one-page PDF made from an image."""

    path: str
    password: str | None = None
    pages: tuple[int, ...] = (0,)


def build_pdf(
    parts: Sequence[PdfPart], out_path: str, watermarks: Sequence[dict[str, Any]] = (), dpi: int = 150
) -> Rendered:
    """Assemble a PDF by importing pages (vector content is kept as is), then watermark it:
    text watermarks as vector text; with image watermarks every page is rasterised at `dpi`."""
    out = pdfium.PdfDocument.new()
    try:
        for part in parts:
            try:
                src = pdfium.PdfDocument(part.path, password=part.password)
            except pdfium.PdfiumError as exc:
                raise DocumentError("CorruptFile", str(exc)) from None
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
        out.save(out_path)
    finally:
        out.close()
    size, sha = _hash_file(out_path)
    return Rendered(0, 0, size, sha)
