"""POST /v2/contentConverters request body, as PrizmDoc clients serialise it."""

import re
from typing import Annotated, Literal

from PIL import ImageColor
from pydantic import BaseModel, ConfigDict, Field

from schemas.watermarks import Watermark

DestFormat = Literal["pdf", "tiff", "png", "jpeg", "svg", "docx"]
MULTI_SOURCE_FORMATS = ("pdf", "tiff")  # only these combine several sources into one output
PAGED_FORMATS = ("pdf", "tiff")  # only these honour sources[].pages
HEADER_FOOTER_FORMATS = ("pdf", "tiff")  # only these take dest.header / dest.footer

_STRICT = ConfigDict(extra="forbid", strict=True)
_FONT_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*pt\s*$")
DEFAULT_HEADER_POINTS = 12.0
MAX_HEADER_POINTS = 144.0


class Source(BaseModel):
    """One input document (a work file) and the pages wanted from it."""

    model_config = _STRICT
    fileId: str = Field(min_length=1, max_length=64)
    pages: str = Field(default="", max_length=1000)
    password: str | None = Field(default=None, max_length=1024)


class RasterOptions(BaseModel):
    """png/jpeg output options; dimensions are CSS-style strings such as "800px"."""

    model_config = _STRICT
    maxWidth: str | None = Field(default=None, max_length=32)
    maxHeight: str | None = Field(default=None, max_length=32)


class TiffOptions(RasterOptions):
    """tiff output options."""

    forceOneFilePerPage: bool = False


class Dpi(BaseModel):
    """A resolution in dots per inch, horizontally and vertically."""

    model_config = _STRICT
    x: int = Field(ge=1, le=10_000)
    y: int = Field(ge=1, le=10_000)


class OcrOptions(BaseModel):
    """Make the pdf output searchable: an invisible text layer recognised by Tesseract."""

    model_config = _STRICT
    language: str = Field(default="english", max_length=64, description='PrizmDoc\'s language name, e.g. "english"')
    defaultDpi: Dpi | None = Field(default=None, description="resolution of images that do not say their own")


class PdfOptions(BaseModel):
    """pdf output options."""

    model_config = _STRICT
    forceOneFilePerPage: bool = False
    ocr: OcrOptions | None = None


class HeaderFooter(BaseModel):
    """Text added above (header) or below (footer) every page; the page grows to make room for it."""

    model_config = _STRICT
    lines: list[Annotated[list[Annotated[str, Field(max_length=1000)]], Field(min_length=1, max_length=3)]] = Field(
        min_length=1,
        max_length=20,
        description="lines of [left, center, right] text; tokens {{pageNumber}}, {{pageCount}}, "
        "{{pageNumber+c}} and {{pageNumber+c,n}} (Bates numbering: offset c, zero-padded to n digits)",
    )
    fontFamily: str | None = Field(default=None, max_length=128, description="an installed font family")
    fontSize: str | None = Field(default=None, max_length=32, description='points, such as "12pt" (default 12pt)')
    color: str | None = Field(default=None, max_length=64, description='a CSS colour such as "#0000FF" (default black)')

    def points(self) -> float | None:
        """The font size in points (12 when not given), or None when fontSize is not a size."""
        if self.fontSize is None:
            return DEFAULT_HEADER_POINTS
        m = _FONT_SIZE.match(self.fontSize)
        if not m or not 0 < float(m.group(1)) <= MAX_HEADER_POINTS:
            return None
        return float(m.group(1))

    def rgb(self) -> tuple[int, int, int] | None:
        """The colour (black when not given), or None when color is not a CSS colour."""
        try:
            return ImageColor.getrgb(self.color or "#000000")[:3]  # type: ignore[return-value]
        except ValueError:
            return None


class Dest(BaseModel):
    """What to produce."""

    model_config = _STRICT
    format: DestFormat
    pdfOptions: PdfOptions | None = None
    tiffOptions: TiffOptions | None = None
    pngOptions: RasterOptions | None = None
    jpegOptions: RasterOptions | None = None
    header: HeaderFooter | None = None
    footer: HeaderFooter | None = None
    watermarks: list[Watermark] | None = Field(default=None, max_length=32)  # a pagemill extension


class Feature(BaseModel):
    """A PrizmDoc feature switch."""

    model_config = _STRICT
    enabled: bool


class Features(BaseModel):
    """`input._features`: what PrizmDoc clients send with a docx output (pagemill converts either way)."""

    model_config = _STRICT
    pdfToDocx: Feature | None = None


class ConvertInput(BaseModel):
    """The `input` object of a content conversion."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)
    sources: list[Source] = Field(min_length=1, max_length=100)
    features: Features | None = Field(default=None, alias="_features")
    dest: Dest


class Webhook(BaseModel):
    """pagemill extension: where to POST the process's JSON once it ends (signed per Standard Webhooks)."""

    model_config = _STRICT
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://[^\s]+$", description="http(s) URL to notify")


class ConvertRequest(BaseModel):
    """Body of POST /v2/contentConverters."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"input": {"sources": [{"fileId": "Xe6zv3dH0kVSzLuaNhd32A"}], "dest": {"format": "png"}}},
                {
                    "input": {
                        "sources": [{"fileId": "Xe6zv3dH0kVSzLuaNhd32A", "pages": "1-3,5"}],
                        "dest": {"format": "tiff", "tiffOptions": {"forceOneFilePerPage": False, "maxWidth": "800px"}},
                    },
                    "minSecondsAvailable": 3600,
                },
            ]
        },
    )
    input: ConvertInput
    webhook: Webhook | None = Field(
        default=None, description="pagemill extension: notify this URL when the process ends"
    )
    minSecondsAvailable: int | None = Field(default=None, ge=0, le=10**9)
