"""Burning markup into one page (pure, in the render pool): redactions remove what lies under them,
other marks are drawn as vector objects.

A page with a redaction is rebuilt: it is rendered at `dpi` with the redaction boxes filled (so
images, vector art and glyphs under a box are gone from the pixels), that picture becomes the
page, and the characters outside every box come back as invisible text at their places, so the
rest of the page stays extractable, searchable and selectable while the redacted characters exist
nowhere in the file. The reason is drawn in the box as real text. A page without redactions keeps
its own content; marks are drawn over it.
"""

import ctypes
import math
from collections.abc import Sequence
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as c
from PIL import Image, ImageChops, ImageDraw

from core.errors import DocumentError
from workers.render.document import Document, PdfSource
from workers.render.encode import hash_file
from workers.render.glyphs import Rect, covered, display_transform, line_rects
from workers.render.spec import POINTS_PER_INCH, Rendered, RenderSpec

REDACTIONS = ("RectangleRedaction", "TransparentRectangleRedaction", "TextSelectionRedaction")
KAPPA = 0.5523  # Bezier control distance for a quarter ellipse
Affine = tuple[float, float, float, float, float, float]  # a, b, c, d, e, f as in a PDF matrix
RGBA = tuple[int, int, int, int]


def color(value: Any, default: str) -> tuple[int, int, int]:
    """#RRGGBB or #RGB (anything else: the default)."""
    text = value if isinstance(value, str) else default
    digits = text.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    try:
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    except (ValueError, IndexError):
        return color(default, "#000000") if text != default else (0, 0, 0)


def alpha(mark: dict[str, Any], default: float = 1.0) -> int:
    """A mark's opacity as 0-255 (PrizmDoc writes 0-255; 0-1 is read as a fraction)."""
    value = mark.get("opacity")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return round(default * 255)
    return max(0, min(255, round(value * 255 if value <= 1 else value)))


def _scale(mark: dict[str, Any], size: tuple[float, float]) -> tuple[float, float]:
    data = mark.get("pageData") or {}
    return size[0] / data.get("width", size[0]), size[1] / data.get("height", size[1])


def mark_rect(mark: dict[str, Any], size: tuple[float, float]) -> Rect:
    """The mark's rectangle on the displayed page in points (scaled from its pageData)."""
    sx, sy = _scale(mark, size)
    r = mark["rectangle"]
    x, y, w, h = r["x"] * sx, r["y"] * sy, r["width"] * sx, r["height"] * sy
    # Cut to the page (and a page's width around it): what lies beyond is never drawn, and no drawing
    # call sees a coordinate it cannot hold.
    left, top = _within(min(x, x + w), size[0]), _within(min(y, y + h), size[1])
    right, bottom = _within(max(x, x + w), size[0]), _within(max(y, y + h), size[1])
    return (left, top, right - left, bottom - top)


def _within(v: float, extent: float) -> float:
    return min(max(v, -extent), 2 * extent)


def mark_points(mark: dict[str, Any], size: tuple[float, float]) -> list[tuple[float, float]]:
    sx, sy = _scale(mark, size)
    raw = [mark["startPoint"], mark["endPoint"]] if "startPoint" in mark else mark.get("points") or []
    return [(_within(p["x"] * sx, size[0]), _within(p["y"] * sy, size[1])) for p in raw]


def redaction_boxes(doc: Document, index: int, marks: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], Rect]]:
    """Each redaction mark with its boxes on the displayed page (text selections: one per line)."""
    size = doc.size_pt(index)
    out: list[tuple[dict[str, Any], Rect]] = []
    glyphs = None
    for mark in marks:
        if mark["type"] == "TextSelectionRedaction":
            glyphs = glyphs or doc.glyphs(index)
            start = mark["position"]["startIndex"]
            out += [(mark, r) for r in line_rects(glyphs, start, start + mark["position"]["length"])]
        elif mark["type"] in REDACTIONS:
            out.append((mark, mark_rect(mark, size)))
    return out


def _invert(m: Affine) -> Affine:
    a, b, cc, d, e, f = m
    det = a * d - b * cc
    ia, ib, ic, id_ = d / det, -b / det, -cc / det, a / det
    return ia, ib, ic, id_, -(ia * e + ic * f), -(ib * e + id_ * f)


def _apply(m: Affine, x: float, y: float) -> tuple[float, float]:
    return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]


def _compose(outer: Affine, inner: Affine) -> Affine:
    """outer after inner."""
    a, b, cc, d, e, f = inner
    x0, y0 = _apply(outer, e, f)
    return (
        outer[0] * a + outer[2] * b,
        outer[1] * a + outer[3] * b,
        outer[0] * cc + outer[2] * d,
        outer[1] * cc + outer[3] * d,
        x0,
        y0,
    )


class Canvas:
    """Draws on a PDF page in display coordinates (top-left origin, y down, points)."""

    def __init__(self, pdf: pdfium.PdfDocument, page: pdfium.PdfPage) -> None:
        self.pdf, self.page = pdf, page
        self.to_user = _invert(display_transform(page)[:6])  # type: ignore[arg-type]
        self.fonts: dict[str, Any] = {}

    def _font(self, name: str = "Helvetica") -> Any:
        if name not in self.fonts:
            self.fonts[name] = c.FPDFText_LoadStandardFont(self.pdf.raw, name.encode())
        return self.fonts[name]

    def _add(self, obj: Any) -> None:
        c.FPDFPage_InsertObject(self.page.raw, obj)

    def path(self, points: list[tuple[float, float]], *, closed: bool, curves: bool = False) -> Any:
        x, y = _apply(self.to_user, *points[0])
        obj = c.FPDFPageObj_CreateNewPath(x, y)
        if curves:  # points after the first come in threes: two control points and an end point
            for i in range(1, len(points), 3):
                p1, p2, p3 = (_apply(self.to_user, *p) for p in points[i : i + 3])
                c.FPDFPath_BezierTo(obj, *p1, *p2, *p3)
        else:
            for point in points[1:]:
                c.FPDFPath_LineTo(obj, *_apply(self.to_user, *point))
        if closed:
            c.FPDFPath_Close(obj)
        return obj

    def style(
        self,
        obj: Any,
        *,
        fill: tuple[int, int, int, int] | None,
        stroke: tuple[int, int, int, int] | None,
        width: float,
    ) -> None:
        if fill is not None:
            c.FPDFPageObj_SetFillColor(obj, *fill)
        if stroke is not None:
            c.FPDFPageObj_SetStrokeColor(obj, *stroke)
            c.FPDFPageObj_SetStrokeWidth(obj, ctypes.c_float(width))
        c.FPDFPath_SetDrawMode(obj, c.FPDF_FILLMODE_WINDING if fill is not None else 0, stroke is not None)
        self._add(obj)

    def rect(self, r: Rect, **style: Any) -> None:
        x, y, w, h = r
        self.style(self.path([(x, y), (x + w, y), (x + w, y + h), (x, y + h)], closed=True), **style)

    def ellipse(self, r: Rect, **style: Any) -> None:
        x, y, w, h = r
        cx, cy, rx, ry = x + w / 2, y + h / 2, w / 2, h / 2
        kx, ky = rx * KAPPA, ry * KAPPA
        points = [
            (cx + rx, cy),
            (cx + rx, cy + ky), (cx + kx, cy + ry), (cx, cy + ry),
            (cx - kx, cy + ry), (cx - rx, cy + ky), (cx - rx, cy),
            (cx - rx, cy - ky), (cx - kx, cy - ry), (cx, cy - ry),
            (cx + kx, cy - ry), (cx + rx, cy - ky), (cx + rx, cy),
        ]  # fmt: skip
        self.style(self.path(points, closed=True, curves=True), **style)

    def text(
        self, text: str, box: Rect, *, size: float, rgba: tuple[int, int, int, int], invisible: bool = False,
        fit: bool = False, center: bool = False,
    ) -> None:  # fmt: skip
        """`text` in Helvetica (characters beyond Latin-1 become "?"). `fit`: stretched to fill `box`
        exactly (invisible text over a run of characters); otherwise at `size`, top-left or centred."""
        safe = "".join(ch if ord(ch) < 256 else "?" for ch in text)
        obj = c.FPDFPageObj_CreateTextObj(self.pdf.raw, self._font(), ctypes.c_float(1.0))
        wide = (safe + "\x00").encode("utf-16-le")
        c.FPDFText_SetText(obj, ctypes.cast(ctypes.c_char_p(wide), ctypes.POINTER(c.FPDF_WCHAR)))
        left, bottom, right, top = (ctypes.c_float() for _ in range(4))
        c.FPDFPageObj_GetBounds(obj, left, bottom, right, top)
        text_w = max(right.value - left.value, 1e-3)
        x, y, w, h = box
        if fit:
            sx, sy = w / text_w, h / max(top.value - bottom.value, 1e-3)
            origin = (x - left.value * sx, y + h + bottom.value * sy)  # display y of the text's baseline
        else:
            sx = sy = size
            tx = x + (w - text_w * size) / 2 if center else x
            baseline = y + (h + size * 0.7) / 2 if center else y + size * 0.9
            origin = (tx, baseline)
        display: Affine = (sx, 0.0, 0.0, -sy, origin[0], origin[1])  # text space (y up) -> display (y down)
        m = _compose(self.to_user, display)
        c.FPDFPageObj_TransformF(obj, ctypes.byref(c.FS_MATRIX(*m)))
        c.FPDFPageObj_SetFillColor(obj, *rgba)
        if invisible:
            c.FPDFTextObj_SetTextRenderMode(obj, c.FPDF_TEXTRENDERMODE_INVISIBLE)
        self._add(obj)


def _draw_mark(canvas: Canvas, mark: dict[str, Any], size: tuple[float, float]) -> None:
    kind = mark["type"]
    opacity = alpha(mark)
    if kind in ("RectangleAnnotation", "EllipseAnnotation"):
        fill = (*color(mark["fillColor"], "#000000"), opacity) if mark.get("fillColor") else None
        thickness = float(mark.get("borderThickness", 1) or 0)
        stroke = (*color(mark.get("borderColor"), "#000000"), opacity) if thickness > 0 else None
        if fill is None and stroke is None:
            return
        draw = canvas.rect if kind == "RectangleAnnotation" else canvas.ellipse
        draw(mark_rect(mark, size), fill=fill, stroke=stroke, width=thickness)
    elif kind == "HighlightAnnotation":
        canvas.rect(mark_rect(mark, size), fill=(*color(mark.get("fillColor"), "#ffff00"), alpha(mark, 0.4)),
                    stroke=None, width=0)  # fmt: skip
    elif kind in ("LineAnnotation", "ArrowAnnotation", "FreehandAnnotation", "PolylineAnnotation"):
        points = mark_points(mark, size)
        if len(points) < 2:
            return
        thickness = float(mark.get("thickness", mark.get("borderThickness", 1)) or 1)
        rgba = (*color(mark.get("color", mark.get("borderColor")), "#000000"), opacity)
        canvas.style(canvas.path(points, closed=False), fill=None, stroke=rgba, width=thickness)
        if kind == "ArrowAnnotation":
            (x0, y0), (x1, y1) = points[-2], points[-1]
            angle, head = math.atan2(y1 - y0, x1 - x0), max(6.0, thickness * 4)
            wing = [
                (x1 - head * math.cos(angle - s), y1 - head * math.sin(angle - s)) for s in (math.pi / 7, -math.pi / 7)
            ]
            canvas.style(canvas.path([(x1, y1), *wing], closed=True), fill=rgba, stroke=None, width=0)
    elif kind == "TextAnnotation":
        box = mark_rect(mark, size)
        if mark.get("fillColor"):
            canvas.rect(box, fill=(*color(mark["fillColor"], "#ffffff"), opacity), stroke=None, width=0)
        if float(mark.get("borderThickness", 0) or 0) > 0:
            stroke = (*color(mark.get("borderColor"), "#000000"), opacity)
            canvas.rect(box, fill=None, stroke=stroke, width=float(mark["borderThickness"]))
        font_size = float(mark.get("fontSize", 12) or 12) * _scale(mark, size)[1]
        rgba = (*color(mark.get("fontColor"), "#000000"), opacity)
        lines = str(mark.get("text", "")).replace("\r\n", "\n").split("\n")
        for i, line in enumerate(lines):
            if line:
                x, y, w, h = box
                canvas.text(line, (x + 2, y + 2 + i * font_size * 1.2, w, h), size=font_size, rgba=rgba)


def _is_grey(image: Image.Image) -> bool:
    r, g, b = image.split()
    return ImageChops.difference(r, g).getbbox() is None and ImageChops.difference(g, b).getbbox() is None


def _raster_page(doc: Document, index: int, boxes: list[tuple[dict[str, Any], Rect]], dpi: int,
                 out: pdfium.PdfDocument) -> pdfium.PdfPage:  # fmt: skip
    """The page as a picture with the redaction boxes filled, plus invisible text for what survives."""
    width, height = doc.size_pt(index)
    image = doc.render(index, RenderSpec(format="png", dpi=dpi)).convert("RGB")
    px = image.width / width
    draw = ImageDraw.Draw(image)
    for mark, (x, y, w, h) in boxes:
        fill = "#ffffff" if mark["type"] == "TransparentRectangleRedaction" else mark.get("fillColor") or "#000000"
        # whole pixels, rounded outwards: no anti-aliased remnant of a glyph survives at the edges
        draw.rectangle(
            [math.floor(x * px), math.floor(y * px), math.ceil((x + w) * px) - 1, math.ceil((y + h) * px) - 1],
            fill=color(fill, "#000000"),
        )
    page = out.new_page(width, height)
    picture = pdfium.PdfImage.new(out)
    picture.set_bitmap(pdfium.PdfBitmap.from_pil(image.convert("L") if _is_grey(image) else image))
    picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page.insert_obj(picture)
    canvas = Canvas(out, page)
    glyphs = doc.glyphs(index)
    gone = covered(glyphs, [r for _, r in boxes])
    run: list[int] = []

    def flush() -> None:
        if run:
            xs = [glyphs.loose[i] for i in run]
            x0, y0 = min(b[0] for b in xs), min(b[1] for b in xs)
            x1, y1 = max(b[0] + b[2] for b in xs), max(b[1] + b[3] for b in xs)
            text = "".join(glyphs.text[i] for i in run)
            canvas.text(text, (x0, y0, x1 - x0, y1 - y0), size=1, rgba=(0, 0, 0, 255), invisible=True, fit=True)
            run.clear()

    for i, ch in enumerate(glyphs.text):
        box = glyphs.loose[i]
        if gone[i] or box[2] <= 0 or ch in "\r\n":
            flush()
            continue
        if run:
            last = glyphs.loose[run[-1]]
            # the next character of the same line, left to right: the run goes on
            if not (abs(box[1] - last[1]) < last[3] / 2 and last[0] <= box[0] <= last[0] + last[2] * 3 + 1):
                flush()
        run.append(i)
    flush()
    return page


def burn_page(doc: Document, index: int, marks: Sequence[dict[str, Any]], dpi: int, out_path: str) -> Rendered:
    """One page with its marks burned in, written as a one-page PDF to `out_path`."""
    if not 0 <= index < doc.page_count:
        raise DocumentError("NoSuchPage", str(index + 1))
    boxes = redaction_boxes(doc, index, marks)
    out = pdfium.PdfDocument.new()
    try:
        if boxes or not isinstance(doc, PdfSource):
            page = _raster_page(doc, index, boxes, dpi if boxes else round(POINTS_PER_INCH * 2), out)
        else:
            out.import_pages(doc.pdf, pages=[index])
            page = out[0]
        canvas = Canvas(out, page)
        size = doc.size_pt(index)
        for mark, box in boxes:
            thickness = float(mark.get("borderThickness", 0) or 0)
            if mark["type"] != "TransparentRectangleRedaction" and thickness > 0:
                stroke = (*color(mark.get("borderColor"), "#000000"), 255)
                canvas.rect(box, fill=None, stroke=stroke, width=thickness)
            reason = mark.get("reason")
            if reason and mark["type"] != "TransparentRectangleRedaction":
                font_size = max(2.0, min(box[3] * 0.7, 12.0))
                rgba = (*color(mark.get("fontColor"), "#ffffff"), 255)
                canvas.text(str(reason), box, size=font_size, rgba=rgba, center=True)
        for mark in marks:
            if mark["type"] == "TextHighlightAnnotation":
                start, length = mark["position"]["startIndex"], mark["position"]["length"]
                rgba = (*color(mark.get("fillColor"), "#ffff00"), alpha(mark, 0.4))
                for r in line_rects(doc.glyphs(index), start, start + length):
                    canvas.rect(r, fill=rgba, stroke=None, width=0)
            elif mark["type"] not in REDACTIONS:
                _draw_mark(canvas, mark, size)
        c.FPDFPage_GenerateContent(page.raw)
        page.close()
        out.save(out_path)
    except pdfium.PdfiumError as exc:
        raise DocumentError("CorruptFile", str(exc)) from None
    finally:
        out.close()
    size_bytes, sha = hash_file(out_path)
    return Rendered(0, 0, size_bytes, sha)
