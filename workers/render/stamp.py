"""Drawing watermarks on page images (pure Pillow), and as vector text on PDF pages (PDFium).

Font sizes are in points and scale with the page's rendering resolution (`px_per_pt`); left,
right, top and bottom placements keep a margin of 5% of the page's shorter side; text that
would not fit inside the margins is shrunk until it does, so any text gives a bounded result.
Text with `autoSize` (or a diagonalText without fontSize) is sized to the page on its ink.
"""

import math
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageColor, ImageDraw, ImageFont

from schemas.watermarks import Watermark

FONT_DIR = Path(__file__).resolve().parent / "fonts"
BUNDLED = {
    (False, False): "DejaVuSans.ttf",
    (True, False): "DejaVuSans-Bold.ttf",
    (False, True): "DejaVuSans-Oblique.ttf",
    (True, True): "DejaVuSans-BoldOblique.ttf",
}
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
MARGIN = 0.05
LINE_SPACING = 1.15
MAX_WATERMARK_PIXELS = 50_000_000
Point = tuple[float, float]


class WatermarkError(Exception):
    """A watermark cannot be drawn; `code` is reported to the client."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@cache
def system_fonts() -> dict[tuple[str, bool, bool], str]:
    """Installed TrueType fonts by (family, bold, italic), read once per process."""
    found: dict[tuple[str, bool, bool], str] = {}
    for base in SYSTEM_FONT_DIRS:
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.[tT][tT][fF]")):
            try:
                family, style = ImageFont.truetype(str(path), 10).getname()
            except OSError:
                continue
            style = (style or "").lower()
            key = ((family or "").lower(), "bold" in style, "italic" in style or "oblique" in style)
            found.setdefault(key, str(path))
    return found


def font_path(family: str | None, bold: bool, italic: bool) -> str:
    """The installed font of that family and style, else the bundled DejaVu Sans of that style."""
    if family:
        path = system_fonts().get((family.strip().lower(), bold, italic))
        if path:
            return path
    return str(FONT_DIR / BUNDLED[(bold, italic)])


@cache
def _font(path: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px)


def _rgba(color: str, opacity: float) -> tuple[int, int, int, int]:
    r, g, b = ImageColor.getrgb(color)[:3]
    return r, g, b, round(255 * opacity)


def _lines_and_font(mark: Watermark, size_px: int) -> tuple[list[str], ImageFont.FreeTypeFont]:
    font = _font(font_path(mark.fontFamily, mark.fontWeight == "bold", mark.fontStyle == "italic"), size_px)
    return (mark.text or "").replace("\r\n", "\n").split("\n"), font


def _block_size(lines: list[str], font: ImageFont.FreeTypeFont, size_px: int) -> tuple[int, int, int, list[int]]:
    """(width, height, line height, line widths) of a text block, measured without drawing it."""
    ascent, descent = font.getmetrics()
    line_height = max(1, round((ascent + descent) * LINE_SPACING))
    widths = [max(1, round(font.getlength(line))) for line in lines]
    height = line_height * (len(lines) - 1) + ascent + descent + max(1, size_px // 10)
    return max(widths), height, line_height, widths


def text_block(mark: Watermark, size_px: int) -> Image.Image:
    """The watermark's lines drawn on a transparent image just big enough for them."""
    lines, font = _lines_and_font(mark, size_px)
    width, height, line_height, widths = _block_size(lines, font, size_px)
    ascent = font.getmetrics()[0]
    block = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(block)
    fill = _rgba(mark.color, 1.0)
    for i, (line, w) in enumerate(zip(lines, widths, strict=True)):
        x = {"left": 0, "center": (width - w) / 2, "right": width - w}[mark.horizontalAlign]
        y = i * line_height
        draw.text((x, y), line, font=font, fill=fill)
        if mark.textDecoration == "underlined":
            thickness = max(1, size_px // 14)
            underline_y = y + ascent + max(1, size_px // 12)
            draw.rectangle([x, underline_y, x + w, underline_y + thickness - 1], fill=fill)
    return block


def _place(size: tuple[int, int], item: tuple[int, int], mark: Watermark) -> tuple[int, int]:
    (page_w, page_h), (w, h) = size, item
    margin = round(MARGIN * min(page_w, page_h))
    x = {"left": margin, "center": (page_w - w) // 2, "right": page_w - margin - w}[mark.horizontalAlign]
    y = {"top": margin, "middle": (page_h - h) // 2, "bottom": page_h - margin - h}[mark.verticalAlign]
    return x, y


def _fitted_text(mark: Watermark, size_px: int, max_w: float, max_h: float, angle: float = 0.0) -> Image.Image:
    """The text block, its font shrunk until the block (rotated by `angle` degrees) fits into
    max_w x max_h. Sizes are measured before anything is drawn, so memory stays bounded by the page."""
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    for _ in range(20):
        lines, font = _lines_and_font(mark, size_px)
        width, height, _, _ = _block_size(lines, font, size_px)
        span_w, span_h = width * cos + height * sin, width * sin + height * cos
        factor = min(1.0, max_w / span_w, max_h / span_h)
        if factor >= 1.0 or size_px <= 1:
            break
        size_px = max(1, math.floor(size_px * factor * 0.98))
    block = text_block(mark, size_px)
    if angle:
        block = block.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
        ink = block.getbbox()  # centre the letters themselves, not their line boxes
        if ink:
            block = block.crop(ink)
    return block


def _centred(size: tuple[int, int], item: tuple[int, int]) -> tuple[int, int]:
    return (size[0] - item[0]) // 2, (size[1] - item[1]) // 2


def size_factors(mode: str | None, span: tuple[float, float], page: tuple[float, float]) -> tuple[float, float]:
    """(x, y) factors that size text whose ink spans `span` on `page`, as images are sized: `fit`
    inside the margins, `fill` the page (what overflows is cut off), `stretch` to the page box in x
    and y independently."""
    span_w, span_h = max(span[0], 1e-6), max(span[1], 1e-6)
    (page_w, page_h), margin = page, MARGIN * min(page)
    if mode == "stretch":
        return page_w / span_w, page_h / span_h
    if mode == "fill":
        factor = max(page_w / span_w, page_h / span_h)
    else:
        factor = min((page_w - 2 * margin) / span_w, (page_h - 2 * margin) / span_h)
    return factor, factor


def stretch_angle(angle: float) -> float:
    """The turn (degrees) that puts stretched text on the page diagonal: a rectangle turned by 45
    degrees, then scaled to the page box in x and y, keeps its long side on the diagonal."""
    return math.copysign(45.0, angle) if angle else 0.0


def _ink(mark: Watermark, size_px: int, angle: float) -> Image.Image:
    """The text block turned by `angle` degrees and cropped to its letters."""
    block = text_block(mark, size_px)
    if angle:
        block = block.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    box = block.getbbox()
    return block.crop(box) if box else block


def _drawable(mark: Watermark, size_px: float) -> int:
    """`size_px`, made smaller if its text block would be over MAX_WATERMARK_PIXELS."""
    size_px = max(1, math.floor(size_px))
    width, height, _, _ = _block_size(*_lines_and_font(mark, size_px), size_px)
    if width * height > MAX_WATERMARK_PIXELS:
        size_px = max(1, math.floor(size_px * math.sqrt(MAX_WATERMARK_PIXELS / (width * height))))
    return size_px


def _auto_sized_text(mark: Watermark, size_px: int, page: tuple[int, int], angle: float = 0.0) -> Image.Image:
    """The text's ink sized to the page by `mark.auto_size` (see `size_factors`): a first size from
    the line boxes (no drawing), then corrected on the drawn letters, which scale almost linearly."""
    mode = mark.auto_size
    angle = stretch_angle(angle) if mode == "stretch" else angle
    width, height, _, _ = _block_size(*_lines_and_font(mark, size_px), size_px)
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    factors = size_factors(mode, (width * cos + height * sin, width * sin + height * cos), page)
    size_px = _drawable(mark, size_px * max(factors))
    layer = _ink(mark, size_px, angle)
    if mode == "stretch":  # drawn at the larger factor, so the other axis is only ever shrunk
        return layer.resize(page, Image.Resampling.LANCZOS)
    for _ in range(8):
        factor = size_factors(mode, layer.size, page)[0]
        if (factor <= 1.0 if mode == "fill" else 1.0 <= factor <= 1.03) or size_px <= 1:
            break  # fill covers the page; fit is inside the margins and within 3% of their size
        resized = _drawable(mark, size_px * factor * (1.01 if mode == "fill" else 0.99))
        if resized == size_px:  # the drawing limit, or a step too small to change the pixel size
            break
        size_px, layer = resized, _ink(mark, resized, angle)
    return layer


def _image_layer(mark: Watermark, picture: Image.Image, page: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    page_w, page_h = page
    pw, ph = picture.size
    if mark.autoSize == "stretch":
        return picture.resize((page_w, page_h), Image.Resampling.LANCZOS), (0, 0)
    if mark.autoSize in ("fit", "fill"):
        pick = min if mark.autoSize == "fit" else max
        factor = pick(page_w / pw, page_h / ph)
        size = (max(1, round(pw * factor)), max(1, round(ph * factor)))
        resized = picture.resize(size, Image.Resampling.LANCZOS)
        return resized, _centred(page, size)
    factor = min(page_w / pw, page_h / ph) * mark.scale
    size = (round(pw * factor), round(ph * factor))
    if size[0] < 1 or size[1] < 1:
        return Image.new("RGBA", (1, 1), (0, 0, 0, 0)), (0, 0)
    resized = picture.resize(size, Image.Resampling.LANCZOS)
    return resized, _place(page, size, mark)


def load_picture(path: str) -> Image.Image:
    """An image watermark's PNG, refused when it is not a PNG or is too large to draw safely."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            with Image.open(path) as im:
                if im.format != "PNG":
                    raise WatermarkError("WatermarkImageNotPng")
                if im.width * im.height > MAX_WATERMARK_PIXELS:
                    raise WatermarkError("WatermarkImageTooLarge")
                return im.convert("RGBA")
    except Image.DecompressionBombError:
        raise WatermarkError("WatermarkImageTooLarge") from None
    except (OSError, SyntaxError, ValueError):
        raise WatermarkError("WatermarkImageUnreadable") from None


def _diagonal_angle(mark: Watermark, page: tuple[float, float]) -> float:
    """The page diagonal's angle in degrees, counter-clockwise: lower-left to upper-right for "up"."""
    return math.degrees(math.atan2(page[1], page[0])) * (1 if mark.slope == "up" else -1)


def apply_watermarks(
    page: Image.Image, marks: list[Watermark], px_per_pt: float, pictures: dict[int, Image.Image]
) -> Image.Image:
    """Draw every watermark over `page` (in order) and return the result in the page's mode."""
    if not marks:
        return page
    size = page.size
    canvas = page.convert("RGBA")
    margin = MARGIN * min(size)
    for i, mark in enumerate(marks):
        if mark.opacity <= 0:
            continue
        if mark.type == "image":
            layer, at = _image_layer(mark, pictures[i], size)
        elif mark.auto_size is not None:
            angle = 0.0 if mark.type == "text" else _diagonal_angle(mark, size)
            centred = mark if mark.type == "text" else mark.model_copy(update={"horizontalAlign": "center"})
            layer = _auto_sized_text(centred, max(1, round(mark.points * px_per_pt)), size, angle)
            aligned = mark.type == "text" and mark.auto_size == "fit"  # fill and stretch: edge to edge
            at = _place(size, layer.size, mark) if aligned else _centred(size, layer.size)
        elif mark.type == "text":
            size_px = max(1, round(mark.points * px_per_pt))
            layer = _fitted_text(mark, size_px, size[0] - 2 * margin, size[1] - 2 * margin)
            at = _place(size, layer.size, mark)
        else:
            angle = _diagonal_angle(mark, size)
            size_px = max(1, round(mark.points * px_per_pt))
            centred = mark.model_copy(update={"horizontalAlign": "center"})
            layer = _fitted_text(centred, size_px, size[0] - 2 * margin, size[1] - 2 * margin, angle)
            at = _centred(size, layer.size)
        if mark.opacity < 1:
            alpha = layer.getchannel("A").point(lambda a, o=mark.opacity: round(a * o))
            layer = layer.copy()
            layer.putalpha(alpha)
        overlay = Image.new("RGBA", size, (0, 0, 0, 0))
        overlay.paste(layer, at)  # onto a clear overlay: copy the layer as is, alpha included
        canvas = Image.alpha_composite(canvas, overlay)
    return canvas.convert(page.mode if page.mode in ("RGB", "L") else "RGB")


def parse_marks(raw: list[dict[str, Any]]) -> list[Watermark]:
    return [Watermark.model_validate(m) for m in raw]


# --- PDF output: text watermarks as vector text -----------------------------------------------
PDF_STANDARD_FONTS = {
    "helvetica": ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique"),
    "times": ("Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic"),
    "courier": ("Courier", "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique"),
}


def pdf_standard_font(family: str | None, bold: bool, italic: bool) -> str:
    """The closest of the PDF standard fonts (no embedding needed) to a CSS-like family name."""
    name = (family or "").lower()
    if any(k in name for k in ("times", "serif", "georgia", "garamond", "cambria")) and "sans" not in name:
        group = "times"
    elif any(k in name for k in ("courier", "mono", "consolas", "menlo", "code")):
        group = "courier"
    else:
        group = "helvetica"
    return PDF_STANDARD_FONTS[group][int(bold) + 2 * int(italic)]


def needs_raster_pdf(marks: list[Watermark]) -> bool:
    """Image watermarks (partial transparency) cannot be laid over PDF pages faithfully: rasterise."""
    return any(m.type == "image" for m in marks)


def stamp_pdf_page(pdf: Any, page: Any, marks: list[Watermark]) -> None:
    """Add text and diagonalText watermarks to a PDF page as vector text objects."""
    import ctypes

    import pypdfium2.raw as c

    width, height = page.get_size()
    margin = MARGIN * min(width, height)
    fonts: dict[str, Any] = {}

    def font_handle(mark: Watermark) -> Any:
        text = mark.text or ""
        if all(ord(ch) < 256 for ch in text):
            name = pdf_standard_font(mark.fontFamily, mark.fontWeight == "bold", mark.fontStyle == "italic")
            if name not in fonts:
                fonts[name] = c.FPDFText_LoadStandardFont(pdf.raw, name.encode())
            return fonts[name]
        path = font_path(mark.fontFamily, mark.fontWeight == "bold", mark.fontStyle == "italic")
        if path not in fonts:  # text beyond Latin-1: embed the TrueType font
            data = Path(path).read_bytes()
            buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
            fonts[path] = c.FPDFText_LoadFont(pdf.raw, buf, len(data), c.FPDF_FONT_TRUETYPE, True)
            fonts[path + "#buffer"] = buf
        return fonts[path]

    def page_bounds(obj: Any) -> tuple[float, float, float, float]:
        left, bottom, right, top = (ctypes.c_float() for _ in range(4))
        c.FPDFPageObj_GetBounds(obj, left, bottom, right, top)
        return left.value, bottom.value, right.value, top.value

    def bounds(obj: Any) -> tuple[float, float]:
        left, bottom, right, top = page_bounds(obj)
        return right - left, top - bottom

    def make_line(mark: Watermark, text: str, size: float) -> Any:
        obj = c.FPDFPageObj_CreateTextObj(pdf.raw, font_handle(mark), size)
        wide = (text + "\x00").encode("utf-16-le")
        c.FPDFText_SetText(obj, ctypes.cast(ctypes.c_char_p(wide), ctypes.POINTER(c.FPDF_WCHAR)))
        return obj

    def line_objects(mark: Watermark, lines: list[str], size: float) -> tuple[list[Any], list[float]]:
        objs = [make_line(mark, line, size) for line in lines]
        return objs, [bounds(o)[0] if line else 0.0 for o, line in zip(objs, lines, strict=True)]

    def placed(mark: Watermark, lines: tuple[list[Any], list[float]], size: float, align: str, corner: Point,
               linear: tuple[float, float, float, float], origin: Point) -> list[Any]:  # fmt: skip
        """The lines (and their underlines) coloured and transformed: the block's top-left corner at
        `corner` in its own frame, mapped by `linear` (a, b, c, d as in a PDF matrix), moved by `origin`."""
        r, g, b, alpha = _rgba(mark.color, mark.opacity)
        m_a, m_b, m_c, m_d = linear
        objs, widths = lines
        block_w, out = max(widths), []
        for i, (obj, line_w) in enumerate(zip(objs, widths, strict=True)):
            x = corner[0] + {"left": 0.0, "center": (block_w - line_w) / 2, "right": block_w - line_w}[align]
            y = corner[1] - size * (0.8 + LINE_SPACING * i)  # baseline of line i
            pieces = [(obj, x, y)]
            if mark.textDecoration == "underlined" and line_w:
                thickness = max(0.5, size / 14)
                rect = c.FPDFPageObj_CreateNewRect(0, 0, line_w, thickness)
                c.FPDFPath_SetDrawMode(rect, c.FPDF_FILLMODE_WINDING, False)
                pieces.append((rect, x, y - size * 0.12 - thickness))
            for piece, px, py in pieces:
                c.FPDFPageObj_SetFillColor(piece, r, g, b, alpha)
                tx = origin[0] + m_a * px + m_c * py
                ty = origin[1] + m_b * px + m_d * py
                matrix = c.FS_MATRIX(m_a, m_b, m_c, m_d, tx, ty)
                c.FPDFPageObj_TransformF(piece, ctypes.byref(matrix))
                out.append(piece)
        return out

    def auto_sized(mark: Watermark, lines: list[str], size: float, align: str, angle: float) -> list[Any]:
        """The text sized by `mark.auto_size` on its ink (as `apply_watermarks` does): laid out once
        around (0, 0) to measure it, then again at its size and place. Vector text scales exactly."""
        mode = mark.auto_size
        angle = math.radians(stretch_angle(math.degrees(angle))) if mode == "stretch" else angle
        cos, sin = math.cos(angle), math.sin(angle)
        objs, widths = line_objects(mark, lines, size)
        corner = (-max(widths) / 2, size * LINE_SPACING * len(lines) / 2)
        trial = placed(mark, (objs, widths), size, align, corner, (cos, sin, -sin, cos), (0.0, 0.0))
        boxes = [page_bounds(o) for o in trial]
        for o in trial:
            c.FPDFPageObj_Destroy(o)
        left, bottom = min(bx[0] for bx in boxes), min(bx[1] for bx in boxes)
        right, top = max(bx[2] for bx in boxes), max(bx[3] for bx in boxes)
        fx, fy = size_factors(mode, (right - left, top - bottom), (width, height))
        if mode == "stretch":  # a text object's matrix may scale x and y independently
            linear = (fx * cos, fy * sin, -fx * sin, fy * cos)
        else:
            size, corner, linear = size * fx, (corner[0] * fx, corner[1] * fx), (cos, sin, -sin, cos)
        left, right, bottom, top = left * fx, right * fx, bottom * fy, top * fy  # everything scaled about (0, 0)
        ink_w, ink_h = right - left, top - bottom
        if mark.type == "text" and mode == "fit":
            x = {"left": margin, "center": (width - ink_w) / 2, "right": width - margin - ink_w}[mark.horizontalAlign]
            y = {"top": height - margin - ink_h, "middle": (height - ink_h) / 2, "bottom": margin}[mark.verticalAlign]
        else:  # fill and stretch are edge to edge, diagonals centred
            x, y = (width - ink_w) / 2, (height - ink_h) / 2
        objs, widths = line_objects(mark, lines, size)
        return placed(mark, (objs, widths), size, align, corner, linear, (x - left, y - bottom))

    for mark in marks:
        if mark.type == "image" or mark.opacity <= 0:
            continue
        lines = (mark.text or "").replace("\r\n", "\n").split("\n")
        size = mark.points
        diagonal = mark.type == "diagonalText"
        angle = math.radians(_diagonal_angle(mark, (width, height))) if diagonal else 0.0
        align = "center" if diagonal else mark.horizontalAlign
        if mark.auto_size is not None:
            for piece in auto_sized(mark, lines, size, align, angle):
                c.FPDFPage_InsertObject(page.raw, piece)
            continue
        for _ in range(12):
            objs, widths = line_objects(mark, lines, size)
            block_w, block_h = max(widths), size * LINE_SPACING * len(lines)
            span_w = abs(block_w * math.cos(angle)) + abs(block_h * math.sin(angle))
            span_h = abs(block_w * math.sin(angle)) + abs(block_h * math.cos(angle))
            factor = min(1.0, (width - 2 * margin) / max(span_w, 1e-6), (height - 2 * margin) / max(span_h, 1e-6))
            if factor >= 1.0 or size <= 1:
                break
            for o in objs:
                c.FPDFPageObj_Destroy(o)
            size = max(1.0, size * factor * 0.98)
        if diagonal:
            corner, origin = (-block_w / 2, block_h / 2), (width / 2, height / 2)
        else:
            left = {"left": margin, "center": (width - block_w) / 2, "right": width - margin - block_w}[align]
            top = {"top": height - margin, "middle": (height + block_h) / 2, "bottom": margin + block_h}[
                mark.verticalAlign
            ]
            corner, origin = (left, top), (0.0, 0.0)
        cos, sin = math.cos(angle), math.sin(angle)
        for piece in placed(mark, (objs, widths), size, align, corner, (cos, sin, -sin, cos), origin):
            c.FPDFPage_InsertObject(page.raw, piece)
    c.FPDFPage_GenerateContent(page.raw)
