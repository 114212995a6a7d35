"""Opening a source document by its format's opener (PDFium or Pillow): page count, sizes, pixels, text.

A new kind of source that PDFium and Pillow cannot open (office documents, scans to OCR) does not
get an opener here: a *source stage* job turns it into a PDF work file first (cached by content
hash), and everything downstream opens that PDF.
"""

import time
import warnings
from collections.abc import Collection
from typing import Protocol

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, UnidentifiedImageError

from core.errors import DocumentError
from schemas import formats
from workers.render import repair
from workers.render.glyphs import PageGlyphs, read_glyphs
from workers.render.spec import POINTS_PER_INCH, RenderSpec, fit_scale

RASTER_DPI = 96


class Document(Protocol):
    """An open source document."""

    page_count: int

    def render(self, index: int, spec: RenderSpec) -> Image.Image: ...
    def render_region(self, index: int, spec: RenderSpec) -> Image.Image: ...
    def page_sizes(self) -> list[tuple[float, float]]: ...
    def width_pt(self, index: int) -> float: ...
    def text(self, index: int) -> str: ...
    def glyphs(self, index: int, wanted: Collection[int] | None = None) -> PageGlyphs: ...
    def size_pt(self, index: int) -> tuple[float, float]: ...
    def close(self) -> None: ...


def _opened(source: "str | repair.Patched", password: str | None) -> pdfium.PdfDocument | None:
    """PDFium's document, or None when PDFium finds it damaged; DocumentError for a password or security
    handler problem (no repair helps with those)."""
    try:
        return pdfium.PdfDocument(source, password=password, autoclose=not isinstance(source, str))
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise DocumentError("InvalidPassword", "password missing or wrong") from None
        if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise DocumentError("UnsupportedSecurityHandler") from None
        if exc.err_code not in (pdfium_c.FPDF_ERR_FORMAT, pdfium_c.FPDF_ERR_UNKNOWN):
            raise DocumentError("CorruptFile", str(exc)) from None
        return None


def _loadable(pdf: pdfium.PdfDocument) -> int:
    """How many of a repaired document's pages PDFium can load (a page tree may name pages that are gone)."""
    count = 0
    for index in range(len(pdf)):
        try:
            pdf[index].close()
            count += 1
        except pdfium.PdfiumError:
            continue
    return count


def open_pdf(path: str, password: str | None) -> pdfium.PdfDocument:
    """Open a PDF with PDFium. One it refuses as damaged ("Data format error") or finds no page in is
    repaired first (workers/render/repair.py: a rebuilt cross-reference, then a rebuilt page tree of the
    page objects that are there) and the version with the most pages that load is opened; CorruptFile
    when no page can be recovered."""
    pdf = _opened(path, password)
    if pdf is not None and len(pdf) > 0:
        return pdf
    if pdf is not None:
        pdf.close()
    best: tuple[tuple[int, bool], pdfium.PdfDocument | None] = ((0, False), None)  # (pages that load, all do)
    try:
        for patched in repair.attempts(path):
            pdf = _opened(patched, password)
            if pdf is None:
                patched.close()
                continue
            loadable = _loadable(pdf)
            complete = loadable > 0 and loadable == len(pdf)
            if loadable and (loadable, complete) > best[0]:
                if best[1] is not None:
                    best[1].close()
                best = ((loadable, complete), pdf)
            else:
                pdf.close()
            if complete:
                break  # every page of this version loads
    except (repair.GaveUp, OSError, ValueError, MemoryError) as exc:
        if best[1] is not None:
            best[1].close()
        raise DocumentError("CorruptFile", f"damaged, and not repairable: {exc}") from None
    if best[1] is None:
        raise DocumentError("CorruptFile", "damaged, and no page could be recovered")
    return best[1]


class PdfSource:
    """A PDF opened with PDFium (repaired first when it is damaged)."""

    def __init__(self, path: str, password: str | None) -> None:
        self.pdf = open_pdf(path, password)
        self.page_count = len(self.pdf)

    def _page(self, index: int) -> pdfium.PdfPage:
        try:
            return self.pdf[index]
        except pdfium.PdfiumError as exc:  # a page the page tree names but PDFium cannot load
            raise DocumentError("CorruptFile", f"page {index + 1}: {exc}") from None

    def render(self, index: int, spec: RenderSpec) -> Image.Image:
        page = self._page(index)
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

    def render_region(self, index: int, spec: RenderSpec) -> Image.Image:
        """The tile `spec.tile` of the page drawn at `spec.scale`, drawing only that region (no pixel cap
        on the whole page: a deep zoom costs the tile's pixels, not the page's)."""
        assert spec.tile is not None
        x, y, w, h = spec.tile
        page = self._page(index)
        try:
            width, height = page.get_size()
            px = spec.scale * spec.dpi / POINTS_PER_INCH
            # crop is the margin cut off each side (left, bottom, right, top), in points.
            crop = (x / px, height - (y + h) / px, width - (x + w) / px, y / px)
            # PDFium sizes the bitmap with ceil(size * scale): shave float noise so the tile is w x h pixels
            # on the same pixel grid as the whole page drawn at this scale.
            bitmap = page.render(scale=px * (1 - 1e-9), crop=tuple(max(0.0, c) for c in crop), may_draw_forms=True)
            image = bitmap.to_pil()
        except pdfium.PdfiumError as exc:
            raise DocumentError("CorruptFile", str(exc)) from None
        finally:
            page.close()
        return _sized(image, (w, h))

    def width_pt(self, index: int) -> float:
        return float(self.pdf.get_page_size(index)[0])

    def page_sizes(self) -> list[tuple[float, float]]:
        """Page sizes in points, without loading the pages."""
        return [tuple(self.pdf.get_page_size(i)) for i in range(self.page_count)]  # type: ignore[misc]

    def text(self, index: int) -> str:
        page = self._page(index)
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

    def size_pt(self, index: int) -> tuple[float, float]:
        """The page as displayed (crop box, /Rotate applied), in points."""
        width, height = self.pdf.get_page_size(index)
        return float(width), float(height)

    def glyphs(self, index: int, wanted: Collection[int] | None = None) -> PageGlyphs:
        page = self.pdf[index]
        try:
            return read_glyphs(page, wanted)
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
        self.max_pixels = max_pixels
        self.page_count = getattr(self.image, "n_frames", 1) if self.image.format == "TIFF" else 1

    def frame(self, index: int) -> Image.Image:
        """One frame, decoded; every frame's size is checked before it is decoded, not just the first's."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self.image.seek(index)
                width, height = self.image.size
                if width * height > self.max_pixels or width <= 0 or height <= 0:
                    raise DocumentError("ImageTooLarge", f"frame {index}: {width}x{height}")
                frame = self.image.copy()
                frame.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DocumentError("ImageTooLarge", f"frame {index}") from None
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

    def render_region(self, index: int, spec: RenderSpec) -> Image.Image:
        """The tile `spec.tile` of the frame scaled by `spec.scale`."""
        assert spec.tile is not None
        x, y, w, h = spec.tile
        frame, s = self.frame(index), spec.scale
        resample = Image.Resampling.LANCZOS if s < 1 else Image.Resampling.BICUBIC
        # The far edge is cut to the frame: the route's page size is round(frame size x scale), a bit past it.
        box = (x / s, y / s, min((x + w) / s, frame.width), min((y + h) / s, frame.height))
        return frame.resize((w, h), resample, box=box)

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

    def size_pt(self, index: int) -> tuple[float, float]:
        self.image.seek(index)
        return self.image.width * 72 / RASTER_DPI, self.image.height * 72 / RASTER_DPI

    def glyphs(self, index: int, wanted: Collection[int] | None = None) -> PageGlyphs:
        return PageGlyphs("", [], [], *self.size_pt(index))

    def close(self) -> None:
        self.image.close()


def _sized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` made exactly `size`: cut, or padded white, never resampled (a pixel off at a page's edge)."""
    if image.size == size:
        return image
    out = Image.new(image.mode, size, "white")
    out.paste(image.crop((0, 0, min(size[0], image.width), min(size[1], image.height))))
    return out


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


def raster_pages(doc: Document, budget_s: float) -> dict[str, object]:
    """Which pages are pictures (a scan: images, and at most invisible OCR text), in page order until the time
    budget runs out: `rasterPages` (0-based) among the first `classifiedPages`."""
    if not isinstance(doc, PdfSource):
        return {"rasterPages": list(range(doc.page_count)), "classifiedPages": doc.page_count}
    deadline = time.monotonic() + budget_s
    found, index = [], 0
    while index < doc.page_count and time.monotonic() < deadline:
        page = doc._page(index)
        try:
            if _is_picture(page):
                found.append(index)
        except pdfium.PdfiumError:
            pass  # a page PDFium cannot read is not called a picture
        finally:
            page.close()
        index += 1
    return {"rasterPages": found, "classifiedPages": index}


def _is_picture(page: pdfium.PdfPage) -> bool:
    """Images and nothing visible besides them (text drawn invisible, as OCR layers are, is allowed), forms
    looked into however deep they nest (past MAX_FORM_DEPTH a page is not called a picture)."""
    raw = page.raw
    count, get = pdfium_c.FPDFPage_CountObjects(raw), pdfium_c.FPDFPage_GetObject
    found = _kinds([get(raw, i) for i in range(count)], 0)
    return found is not None and found > 0


_INVISIBLE_TEXT = (pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE, pdfium_c.FPDF_TEXTRENDERMODE_CLIP)
MAX_FORM_DEPTH = 16


def _kinds(objects: list[object], depth: int) -> int | None:
    """How many images `objects` hold, or None when they hold anything visible that is not one."""
    images = 0
    for obj in objects:
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            images += 1
        elif kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            if pdfium_c.FPDFTextObj_GetTextRenderMode(obj) not in _INVISIBLE_TEXT:
                return None
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < MAX_FORM_DEPTH:
            inner = [pdfium_c.FPDFFormObj_GetObject(obj, i) for i in range(pdfium_c.FPDFFormObj_CountObjects(obj))]
            found = _kinds(inner, depth + 1)
            if found is None:
                return None
            images += found
        else:
            return None
    return images


def save_decrypted(doc: Document, out_path: str) -> bool:
    """Write an encrypted PDF without its encryption (for an engine that cannot open it, LibreOffice);
    False, writing nothing, for a PDF that is not encrypted or any other document."""
    if not isinstance(doc, PdfSource) or pdfium_c.FPDF_GetSecurityHandlerRevision(doc.pdf.raw) == -1:
        return False
    doc.pdf.save(out_path, flags=pdfium_c.FPDF_REMOVE_SECURITY)
    return True


def page_text(doc: Document, index: int) -> str:
    """The text of page `index` (0-based)."""
    if not 0 <= index < doc.page_count:
        raise DocumentError("NoSuchPage", str(index + 1))
    return doc.text(index)


def page_glyphs(doc: Document, index: int, wanted: Collection[int] | None = None) -> PageGlyphs:
    """The characters of page `index` (0-based) with their boxes (of the `wanted` characters only, if given)."""
    if not 0 <= index < doc.page_count:
        raise DocumentError("NoSuchPage", str(index + 1))
    return doc.glyphs(index, wanted)
