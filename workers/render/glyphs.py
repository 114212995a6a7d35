"""A page's characters with their boxes (PDFium), and finding patterns in them: what search, redaction
creation, plain-text redaction and the viewer's text positions are made of.

Coordinates are the page as displayed: points from its top-left corner, x to the right and y down,
after the page's /Rotate and crop box (as a viewer and PrizmDoc's markup JSON see it). Pure and
synchronous: these functions run in render-pool processes.
"""

import ctypes
from collections.abc import Collection
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as c
import regex

Rect = tuple[float, float, float, float]  # x, y, width, height
NO_BOX: Rect = (0.0, 0.0, 0.0, 0.0)
LINE_BREAKS = "\r\n"


@dataclass(frozen=True)
class PageGlyphs:
    """The text of one page and, for every character of it, its box (NO_BOX for characters PDFium
    generated, such as the line breaks between lines, and for characters without geometry).

    `loose` boxes are the font's (advance width x ascent to descent: one height per line), `ink`
    boxes hug the glyph's outline; both are index-aligned with `text`."""

    text: str
    loose: list[Rect]
    ink: list[Rect]
    width: float  # the displayed page size in points
    height: float


@dataclass(frozen=True)
class Match:
    """One occurrence of a pattern on a page: its characters and one rectangle per line it covers."""

    start: int  # index of its first character in the page text
    end: int  # index after its last character
    text: str
    rects: list[Rect] = field(default_factory=list)


def display_transform(page: pdfium.PdfPage) -> tuple[float, float, float, float, float, float, float, float]:
    """(a, b, c, d, e, f, width, height): X = a*x + c*y + e, Y = b*x + d*y + f maps PDF user space to
    the displayed page (top-left origin, y down), for each /Rotate."""
    left, bottom, right, top = page.get_cropbox()
    rotation = page.get_rotation() % 360
    w, h = right - left, top - bottom
    if rotation == 90:
        return 0.0, 1.0, 1.0, 0.0, -bottom, -left, h, w
    if rotation == 180:
        return -1.0, 0.0, 0.0, 1.0, right, -bottom, w, h
    if rotation == 270:
        return 0.0, -1.0, -1.0, 0.0, top, right, h, w
    return 1.0, 0.0, 0.0, -1.0, -left, top, w, h


def read_glyphs(page: pdfium.PdfPage, wanted: Collection[int] | None = None) -> PageGlyphs:
    """Every character of `page` with its loose and ink boxes in display coordinates (only the boxes of
    the `wanted` character indices when given, the others NO_BOX: a search boxes its matches only)."""
    a, b, cc, d, e, f, width, height = display_transform(page)
    textpage = page.get_textpage()
    try:
        raw = textpage.raw
        count = c.FPDFText_CountChars(raw)
        text = textpage.get_text_range() if count else ""
        if len(text) != count:  # characters beyond the BMP come as two UTF-16 units: one per index instead
            codes = [c.FPDFText_GetUnicode(raw, i) for i in range(count)]
            text = "".join(chr(code) if 0 < code < 0x110000 else "\ufffd" for code in codes)
        loose_box, ink_box = c.FPDFText_GetLooseCharBox, c.FPDFText_GetCharBox
        generated = c.FPDFText_IsGenerated
        rect = c.FS_RECTF()
        left, right, bottom, top = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
        edges: list[tuple[float, float, float, float, float, float, float, float] | None] = [None] * count
        for i in range(count) if wanted is None else sorted(i for i in wanted if 0 <= i < count):
            # Only whitespace is ever generated (spaces and the line breaks between lines).
            if (text[i] in " \r\n" and generated(raw, i) == 1) or not loose_box(raw, i, rect):
                continue
            if ink_box(raw, i, left, right, bottom, top):
                ink = (left.value, bottom.value, right.value, top.value)
                edges[i] = (rect.left, rect.bottom, rect.right, rect.top, *ink)
            else:
                edges[i] = (rect.left, rect.bottom, rect.right, rect.top) * 2
    finally:
        textpage.close()

    def to_display(x0: float, y0: float, x1: float, y1: float) -> Rect:
        xa, xb = a * x0 + cc * y0 + e, a * x1 + cc * y1 + e
        ya, yb = b * x0 + d * y0 + f, b * x1 + d * y1 + f
        return (min(xa, xb), min(ya, yb), abs(xb - xa), abs(yb - ya))

    loose = [NO_BOX if q is None else to_display(q[0], q[1], q[2], q[3]) for q in edges]
    ink = [NO_BOX if q is None else to_display(q[4], q[5], q[6], q[7]) for q in edges]
    return PageGlyphs(text, loose, ink, width, height)


def _union(rects: list[Rect]) -> Rect:
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return (round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2))


def line_rects(glyphs: PageGlyphs, start: int, end: int) -> list[Rect]:
    """One rectangle per line for characters start..end: the union of their loose and ink boxes
    (whitespace and generated characters count only between others on the same line)."""
    lines: list[list[Rect]] = []
    current: list[Rect] = []
    for i in range(max(0, start), min(end, len(glyphs.text))):
        ch = glyphs.text[i]
        if ch in LINE_BREAKS:
            if current:
                lines.append(current)
                current = []
            continue
        box = glyphs.loose[i]
        if box == NO_BOX or ch.isspace():
            continue
        if current:
            # A character whose middle is off the current line's band starts a new line (a match
            # that wraps without PDFium having generated a line break).
            band_top, band_bottom = current[0][1], current[0][1] + current[0][3]
            middle = box[1] + box[3] / 2
            if not band_top <= middle <= band_bottom:
                lines.append(current)
                current = []
        current.append(box)
        if glyphs.ink[i] != NO_BOX and glyphs.ink[i][2] > 0 and glyphs.ink[i][3] > 0:
            current.append(glyphs.ink[i])
    if current:
        lines.append(current)
    return [_union(line) for line in lines]


def find_matches(
    glyphs: PageGlyphs, pattern: regex.Pattern[str], limit: int | None = None, timeout_s: float | None = None
) -> list[Match]:
    """Every non-empty, non-overlapping match of `pattern` in the page text, with its line rectangles (the
    first `limit` of them; TimeoutError past `timeout_s`). Matches made only of whitespace or characters
    without geometry are left out (nothing to show)."""
    found: list[Match] = []
    for m in pattern.finditer(glyphs.text, timeout=timeout_s):
        if limit is not None and len(found) >= limit:
            break
        if m.end() == m.start():
            continue
        rects = line_rects(glyphs, m.start(), m.end())
        if rects:
            found.append(Match(m.start(), m.end(), m.group(0), rects))
    return found


def covered(glyphs: PageGlyphs, boxes: list[Rect]) -> list[bool]:
    """For each character: whether the middle of its ink box (loose box when it has no ink) lies in
    one of `boxes` (display coordinates). Such characters are the ones a redaction removes."""
    out = []
    for i in range(len(glyphs.text)):
        box = glyphs.ink[i] if glyphs.ink[i][2] > 0 and glyphs.ink[i][3] > 0 else glyphs.loose[i]
        if box == NO_BOX:
            out.append(False)
            continue
        mx, my = box[0] + box[2] / 2, box[1] + box[3] / 2
        out.append(any(r[0] <= mx <= r[0] + r[2] and r[1] <= my <= r[1] + r[3] for r in boxes))
    return out


REDACTED = "<Text Redacted>"


def redacted_lines(glyphs: PageGlyphs, boxes: list[Rect], ranges: list[tuple[int, int]]) -> list[str]:
    """The page's lines with every run of redacted characters (inside `boxes`, or in one of the
    [start, end) index `ranges`) replaced by "<Text Redacted>"; whitespace between two redacted
    characters belongs to the run."""
    gone = covered(glyphs, boxes) if boxes else [False] * len(glyphs.text)
    for start, end in ranges:
        for i in range(max(0, start), min(end, len(gone))):
            gone[i] = glyphs.text[i] not in LINE_BREAKS
    out: list[str] = []
    i, text = 0, glyphs.text
    while i < len(text):
        if not gone[i]:
            out.append(text[i])
            i += 1
            continue
        j = i + 1
        while j < len(text):
            if gone[j]:
                j += 1
                continue
            k = j
            while k < len(text) and text[k] in " \t" and not gone[k]:
                k += 1
            if k < len(text) and k > j and gone[k]:
                j = k
                continue
            break
        out.append(REDACTED)
        i = j
    return "".join(out).replace("\r\n", "\n").replace("\r", "\n").split("\n")
