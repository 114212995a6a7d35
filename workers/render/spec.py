"""What a render is asked for and what it produced: the types every render module shares."""

from dataclasses import dataclass
from typing import Any

POINTS_PER_INCH = 72


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
    # dest.header / dest.footer (raster outputs draw them on the page image) and the output's page count.
    header: dict[str, Any] | None = None
    footer: dict[str, Any] | None = None
    page_count: int = 0
    tool_timeout_s: float = 25.0  # an external engine (pdftocairo, tesseract) is killed after this
    # pdf output with dest.pdfOptions.ocr: the Tesseract language, and the resolution of images without one.
    ocr_language: str | None = None
    ocr_default_dpi: tuple[int, int] | None = None
    # A viewer tile: (x, y, width, height) in pixels of the page image at `scale`; only that region is drawn.
    tile: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class Rendered:
    """What was written for one page."""

    width: int
    height: int
    size: int
    sha256: str


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
