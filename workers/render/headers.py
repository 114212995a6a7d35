"""Headers and footers (`dest.header` / `dest.footer`): lines of left, center and right text with page
tokens, drawn in bands added above and below every page, so they never cover its content (PrizmDoc
grows the page the same way). PDF output gets vector text on the grown page (its content stream is
not touched); raster output (tiff) gets the page image on a taller canvas.

A line whose texts would run into each other is set smaller until they fit the page's width.
"""

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from core.errors import DocumentError
from schemas import tokens
from schemas.converters import HeaderFooter
from workers.render import stamp
from workers.render.orientation import Frame, page_frame

LINE_SPACING = 1.25  # of the font size, baseline to baseline
PADDING = 0.5  # of the font size, above the first and below the last line of a band
ASCENT = 0.8  # of the font size, top of a line to its baseline
MAX_MARGIN_PT = 36.0  # left and right margin: half an inch, at most a tenth of the page width
UNAVAILABLE = "RequestedHeaderOrFooterFontIsNotAvailable"

# PDF standard fonts (never embedded) by the family names that mean them, with the metric-compatible
# TrueType family used for raster output and for text beyond Latin-1.
STANDARD = {
    "helvetica": ("Helvetica", "liberation sans"),
    "arial": ("Helvetica", "liberation sans"),
    "liberation sans": ("Helvetica", "liberation sans"),
    "sans-serif": ("Helvetica", "liberation sans"),
    "times": ("Times-Roman", "liberation serif"),
    "times-roman": ("Times-Roman", "liberation serif"),
    "times new roman": ("Times-Roman", "liberation serif"),
    "liberation serif": ("Times-Roman", "liberation serif"),
    "serif": ("Times-Roman", "liberation serif"),
    "courier": ("Courier", "liberation mono"),
    "courier new": ("Courier", "liberation mono"),
    "liberation mono": ("Courier", "liberation mono"),
    "monospace": ("Courier", "liberation mono"),
}


@dataclass(frozen=True)
class Font:
    """A header font: a PDF standard font (Latin-1 text in PDF output) and a TrueType file (the rest)."""

    standard: str | None
    ttf: str


def font_for(family: str | None) -> Font | None:
    """The font a fontFamily names (Helvetica when absent), or None when it is not installed."""
    name = " ".join((family or "").split()).lower() or "helvetica"
    if name in STANDARD:
        standard, ttf_family = STANDARD[name]
        return Font(
            standard, stamp.system_fonts().get((ttf_family, False, False)) or stamp.font_path(None, False, False)
        )
    path = stamp.system_fonts().get((name, False, False))
    if path is None and name == "dejavu sans":
        path = stamp.font_path(None, False, False)  # bundled
    return Font(None, path) if path else None


def missing_fonts(families: list[str | None]) -> list[str]:
    """The families (of a header and a footer) that are not available here."""
    return [str(f) for f in families if font_for(f) is None]


@dataclass(frozen=True)
class Band:
    """A header or a footer, validated: its lines (left, center, right), size in points, colour, font."""

    lines: tuple[tuple[str, str, str], ...]
    points: float
    rgb: tuple[int, int, int]
    font: Font

    @property
    def height(self) -> float:
        """Points added to the page for it."""
        return self.points * (LINE_SPACING * (len(self.lines) - 1) + 1 + 2 * PADDING)


def band_of(raw: dict[str, Any] | None) -> Band | None:
    """A header or footer as stored in the process input (validated by the front door)."""
    if not raw:
        return None
    spec = HeaderFooter.model_validate(raw)
    font = font_for(spec.fontFamily)
    points, rgb = spec.points(), spec.rgb()
    if font is None:
        raise DocumentError(UNAVAILABLE, spec.fontFamily or "")
    if points is None or rgb is None:
        raise DocumentError("InvalidInput", "fontSize or color")
    lines = tuple((*line, "", "")[:3] for line in spec.lines)
    return Band(lines, points, rgb, font)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Placed:
    """One text of a band: its left end and baseline in display points, and its size."""

    text: str
    u: float
    v: float
    size: float


def layout(band: Band, width: float, top: float, number: int, count: int, measure: Callable[[str, float], float]
           ) -> list[Placed]:  # fmt: skip
    """Where each text of `band` goes on a page `width` points wide whose band starts `top` points up
    (display coordinates); `measure(text, size)` gives a text's width in points."""
    margin = min(MAX_MARGIN_PT, width / 10)
    room = width - 2 * margin
    out: list[Placed] = []
    for i, line in enumerate(band.lines):
        texts = [tokens.expand(t, number, count) for t in line]
        size = band.points
        left, center, right = (measure(t, size) if t else 0.0 for t in texts)
        gap = size if sum(1 for t in texts if t) > 1 else 0.0
        if texts[1]:  # centred; the left and right texts must end a gap before it begins
            factor = (width / 2 - margin - gap) / max(max(left, right) + center / 2, 1e-6)
        else:
            factor = (room - gap) / max(left + right, 1e-6)
        factor = min(1.0, max(factor, 0.01))
        size *= factor
        baseline = top - band.points * (PADDING + ASCENT + LINE_SPACING * i)
        ends = (margin, (width - center * factor) / 2, width - margin - right * factor)
        out += [Placed(text, u, baseline, size) for text, u in zip(texts, ends, strict=True) if text]
    return out


# --- PDF output: vector text on grown pages ---------------------------------------------------


class _PdfFonts:
    """Font handles loaded once per output document (TrueType data kept alive while it is open)."""

    def __init__(self, pdf: Any) -> None:
        self.pdf = pdf
        self.handles: dict[str, Any] = {}
        self.buffers: list[Any] = []

    def handle(self, font: Font, text: str) -> Any:
        import pypdfium2.raw as c

        if font.standard and all(ord(ch) < 256 for ch in text):
            if font.standard not in self.handles:
                self.handles[font.standard] = c.FPDFText_LoadStandardFont(self.pdf.raw, font.standard.encode())
            return self.handles[font.standard]
        if font.ttf not in self.handles:
            data = Path(font.ttf).read_bytes()
            buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
            self.buffers.append(buf)
            self.handles[font.ttf] = c.FPDFText_LoadFont(self.pdf.raw, buf, len(data), c.FPDF_FONT_TRUETYPE, True)
        return self.handles[font.ttf]


def _text_object(pdf: Any, fonts: _PdfFonts, font: Font, text: str, size: float) -> Any:
    import pypdfium2.raw as c

    obj = c.FPDFPageObj_CreateTextObj(pdf.raw, fonts.handle(font, text), size)
    wide = (text + "\x00").encode("utf-16-le")
    c.FPDFText_SetText(obj, ctypes.cast(ctypes.c_char_p(wide), ctypes.POINTER(c.FPDF_WCHAR)))
    return obj


def _width(obj: Any) -> float:
    import pypdfium2.raw as c

    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    c.FPDFPageObj_GetBounds(obj, left, bottom, right, top)
    return right.value - left.value


def _pdf_band(pdf: Any, fonts: _PdfFonts, frame: Frame, band: Band, top: float, number: int, count: int) -> list[Any]:
    """A white rectangle over the band (it may reveal what the old crop box hid) and its texts."""
    import pypdfium2.raw as c

    def measure(text: str, size: float) -> float:
        obj = _text_object(pdf, fonts, band.font, text, size)
        try:
            return _width(obj)
        finally:
            c.FPDFPageObj_Destroy(obj)

    (x0, y0), (x1, y1) = frame.to_user(0, top - band.height), frame.to_user(frame.width, top)
    rect = c.FPDFPageObj_CreateNewRect(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
    c.FPDFPageObj_SetFillColor(rect, 255, 255, 255, 255)
    c.FPDFPath_SetDrawMode(rect, c.FPDF_FILLMODE_WINDING, False)
    objs = [rect]
    a, b, cc, d, _, _ = frame.matrix
    for placed in layout(band, frame.width, top, number, count, measure):
        obj = _text_object(pdf, fonts, band.font, placed.text, placed.size)
        c.FPDFPageObj_SetFillColor(obj, *band.rgb, 255)
        x, y = frame.to_user(placed.u, placed.v)
        matrix = c.FS_MATRIX(a, b, cc, d, x, y)
        c.FPDFPageObj_TransformF(obj, ctypes.byref(matrix))
        objs.append(obj)
    return objs


def add_to_pdf(pdf: Any, header: Band | None, footer: Band | None) -> None:
    """Grow every page of an open PDF by the bands and draw them (page n of len(pdf))."""
    import pypdfium2.raw as c

    fonts = _PdfFonts(pdf)
    count = len(pdf)
    above, below = (header.height if header else 0.0), (footer.height if footer else 0.0)
    for i in range(count):
        page = pdf[i]
        try:
            frame = page_frame(page).grown(above, below)
            page.set_mediabox(*frame.box)
            page.set_cropbox(*frame.box)
            objs: list[Any] = []
            if header:
                objs += _pdf_band(pdf, fonts, frame, header, frame.height, i + 1, count)
            if footer:
                objs += _pdf_band(pdf, fonts, frame, footer, below, i + 1, count)
            for obj in objs:
                c.FPDFPage_InsertObject(page.raw, obj)
            c.FPDFPage_GenerateContent(page.raw)
        finally:
            page.close()


# --- raster output: the page image on a taller canvas -----------------------------------------


@cache
def _truetype(path: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px)


def height_px(header: Band | None, footer: Band | None, px_per_pt: float) -> tuple[int, int]:
    """Pixels added above and below a page image rendered at `px_per_pt`."""
    return tuple(round(b.height * px_per_pt) if b else 0 for b in (header, footer))  # type: ignore[return-value]


def add_to_image(image: Image.Image, header: Band | None, footer: Band | None, px_per_pt: float, number: int,
                 count: int) -> Image.Image:  # fmt: skip
    """The page image with the bands above and below it, for page `number` of `count`."""
    above, below = height_px(header, footer, px_per_pt)
    canvas = Image.new("RGB", (image.width, image.height + above + below), "white")
    canvas.paste(image.convert("RGB"), (0, above))
    draw = ImageDraw.Draw(canvas)
    width_pt, height_pt = image.width / px_per_pt, canvas.height / px_per_pt
    for band, top in ((header, height_pt), (footer, below / px_per_pt)):
        if band is None:
            continue

        def measure(text: str, size: float, band: Band = band) -> float:
            return _truetype(band.font.ttf, max(1, round(size * px_per_pt))).getlength(text) / px_per_pt

        for placed in layout(band, width_pt, top, number, count, measure):
            font = _truetype(band.font.ttf, max(1, round(placed.size * px_per_pt)))
            xy = (placed.u * px_per_pt, (height_pt - placed.v) * px_per_pt)
            draw.text(xy, placed.text, font=font, fill=band.rgb, anchor="ls")
    return canvas
