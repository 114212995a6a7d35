"""Rendering one page: pixels from the document, watermarks stamped, encoded to a file (no Redis, no
HTTP, no asyncio: these functions run inside render-pool processes, since PDFium is not thread-safe)."""

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from PIL import Image

from core.errors import DocumentError
from workers.render import headers, ocr, stamp, svg
from workers.render.document import RASTER_DPI, Document, PdfSource
from workers.render.encode import encode, hash_file
from workers.render.spec import POINTS_PER_INCH, Rendered, RenderSpec


def render_page(doc: Document, index: int, spec: RenderSpec, out_path: str) -> Rendered:
    """Render page `index` (0-based) of an open document to `out_path`."""
    if not 0 <= index < doc.page_count:
        raise DocumentError("NoSuchPage", str(index + 1))
    if spec.format == "svg":
        return svg.render_svg(doc, index, spec, out_path)
    if spec.format == "pdf" and spec.ocr_language:
        return ocr.render_ocr(doc, index, spec, out_path)
    image = _tile(doc, index, spec) if spec.tile else doc.render(index, spec)
    if spec.watermarks and not spec.tile:
        image = watermarked(image, spec.watermarks, image.width / doc.width_pt(index))
    if spec.header or spec.footer:
        header, footer = headers.band_of(spec.header), headers.band_of(spec.footer)
        px_per_pt = image.width / doc.width_pt(index)
        image = headers.add_to_image(image, header, footer, px_per_pt, index + 1, spec.page_count)
        image = _within_box(image, spec)
    encode(image, spec, out_path)
    size, sha = hash_file(out_path)
    return Rendered(image.width, image.height, size, sha)


def _tile(doc: Document, index: int, spec: RenderSpec) -> Image.Image:
    """A viewer tile: only its region is drawn; with watermarks, the watermarked page (within the pixel cap) is
    drawn and the region cut from it, so marks sit where they sit on the whole page."""
    assert spec.tile is not None
    if not spec.watermarks:
        return doc.render_region(index, spec)
    page = doc.render(index, spec)
    page = watermarked(page, spec.watermarks, page.width / doc.width_pt(index))
    x, y, w, h = spec.tile
    per_pt = (spec.dpi if isinstance(doc, PdfSource) else RASTER_DPI) / POINTS_PER_INCH
    f = page.width / (doc.width_pt(index) * per_pt * spec.scale)  # < 1 when the pixel cap shrank the page
    box = (x * f, y * f, min((x + w) * f, page.width), min((y + h) * f, page.height))  # cut to the page
    return page.resize((w, h), Image.Resampling.BICUBIC, box=box)


def _within_box(image: Image.Image, spec: RenderSpec) -> Image.Image:
    """The image scaled down to maxWidth x maxHeight when growing it for a header or footer overflowed."""
    factor = min(
        spec.max_width / image.width if spec.max_width else 1.0,
        spec.max_height / image.height if spec.max_height else 1.0,
    )
    if factor >= 1.0:
        return image
    size = (max(1, math.floor(image.width * factor)), max(1, math.floor(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


@lru_cache(maxsize=4)
def _picture(path: str) -> Image.Image:
    return stamp.load_picture(path)


def watermarked(image: Image.Image, raw: Sequence[dict[str, Any]], px_per_pt: float) -> Image.Image:
    marks = stamp.parse_marks([{k: v for k, v in m.items() if k != "_path"} for m in raw])
    try:
        pictures = {i: _picture(m["_path"]) for i, m in enumerate(raw) if m.get("type") == "image"}
    except stamp.WatermarkError as exc:
        raise DocumentError(exc.code) from None
    return stamp.apply_watermarks(image, marks, px_per_pt, pictures)
