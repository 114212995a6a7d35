"""POST /v2/contentConverters request body, as PrizmDoc clients serialise it."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.watermarks import Watermark

DestFormat = Literal["pdf", "tiff", "png", "jpeg", "docx"]
MULTI_SOURCE_FORMATS = ("pdf", "tiff")  # only these combine several sources into one output
PAGED_FORMATS = ("pdf", "tiff")  # only these honour sources[].pages

_STRICT = ConfigDict(extra="forbid", strict=True)


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


class PdfOptions(BaseModel):
    """pdf output options."""

    model_config = _STRICT
    forceOneFilePerPage: bool = False


class Dest(BaseModel):
    """What to produce."""

    model_config = _STRICT
    format: DestFormat
    pdfOptions: PdfOptions | None = None
    tiffOptions: TiffOptions | None = None
    pngOptions: RasterOptions | None = None
    jpegOptions: RasterOptions | None = None
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

    model_config = _STRICT
    input: ConvertInput
    webhook: Webhook | None = Field(
        default=None, description="pagemill extension: notify this URL when the process ends"
    )
    minSecondsAvailable: int | None = Field(default=None, ge=0, le=10**9)
