"""Viewing sessions: the ViewingSessionProperties body, stop notices, and page cache naming.

Page records are content-addressed: the namespace is the document (source bytes + password) when
serverCaching is "full" and nothing session-specific is drawn, else the session itself, so
identical requests across sessions render once and private sessions share nothing.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.watermarks import Watermark

_STRICT_OPEN = ConfigDict(extra="allow", strict=True)


class Html5Render(BaseModel):
    """render.html5: options for the HTML5 viewing client."""

    model_config = _STRICT_OPEN
    alwaysUseRaster: bool = False
    rasterResolution: int = Field(default=150, ge=1, le=1200)
    svgMaxImageSize: int | float | None = Field(default=None, ge=0)
    vectorTolerance: int | float | None = Field(default=None, ge=0, le=10)


class Render(BaseModel):
    """render: client-side rendering options (flash is accepted and ignored, as in PrizmDoc)."""

    model_config = _STRICT_OPEN
    flash: dict[str, Any] | None = None
    html5: Html5Render | None = None


class ViewingSessionProperties(BaseModel):
    """POST /PCCIS/V1/ViewingSession body; unknown properties are kept and echoed."""

    model_config = ConfigDict(
        **_STRICT_OPEN,
        json_schema_extra={
            "examples": [
                {"render": {"html5": {"alwaysUseRaster": False}}, "countOfInitialPages": 1},
                {"serverCaching": "none", "minSecondsAvailable": 3600},
            ]
        },
    )
    origin: dict[str, Any] | list[Any] | None = None
    render: Render | None = None
    password: str | None = Field(default=None, max_length=1024)
    watermarkText: str | None = None
    externalId: str | None = Field(default=None, max_length=4096)
    tenantId: str | None = Field(default=None, max_length=256)
    attachmentIndex: int = Field(default=0, ge=0)
    attachmentDisplayName: str | None = None
    countOfInitialPages: int = Field(default=0, ge=0, le=1_000_000)
    documentSource: Literal["api", "http", "file", ""] | None = None
    documentExtension: str | None = Field(default=None, max_length=32)
    serverCaching: Literal["full", "none"] = "full"
    startConverting: Literal["initialPages", "none"] | None = None
    contentType: Literal["png", "jpeg", "svg", "svga", "svgb"] | None = None
    serverSideSearch: Literal["disabled", "enabled"] = "disabled"
    minSecondsAvailable: int | None = None
    watermarks: list[Watermark] = Field(default_factory=list, max_length=32)
    pageContentEncryption: Literal["enabled", "disabled", "default"] | None = None


class SessionStopped(BaseModel):
    """POST .../Notification/SessionStopped body."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={"examples": [{"endUserMessage": "Session no longer available", "httpStatus": 504}]},
    )
    endUserMessage: str = Field(default="Session is stopped", max_length=512)
    httpStatus: int = Field(default=580, ge=400, le=599)
    accusoftErrorNumber: int = 580
    serverLogMessage: str = Field(default="The viewing session is stopped on request from the client", max_length=2048)


class SourceRef(BaseModel):
    """PUT .../SourceRef body."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"refType": "workFile", "fileId": "Xe6zv3dH0kVSzLuaNhd32A"}]},
    )
    refType: Literal["workFile"]
    fileId: str = Field(min_length=1, max_length=64)


class SessionStarted(BaseModel):
    """POST .../Notification/SessionStarted body (optional)."""

    model_config = ConfigDict(extra="allow", strict=True)
    viewer: Literal["HTML5"] = "HTML5"


@dataclass(frozen=True)
class Variant:
    """How a viewer page is rendered; part of its cache key."""

    content_type: str = "png"  # png | jpeg
    scale: float = 1.0
    quality: int = 85
    box_width: int = 0  # thumbnails: fit into box_width x box_height
    box_height: int = 0
    watermark: str = ""  # digest of the session's watermarks ("" when none)
    tile_x: int = 0  # tiles: the region (x, y, width, height) of the page image at `scale`
    tile_y: int = 0
    tile_width: int = 0
    tile_height: int = 0

    @property
    def tile(self) -> tuple[int, int, int, int] | None:
        return (self.tile_x, self.tile_y, self.tile_width, self.tile_height) if self.tile_width else None

    def digest(self) -> str:
        raw = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> "Variant":
        return cls(**data)


def watermark_digest(marks: list[dict[str, Any]]) -> str:
    """Part of a page's cache key: "" without watermarks."""
    if not marks:
        return ""
    return hashlib.sha256(json.dumps(marks, sort_keys=True).encode()).hexdigest()[:16]


def document_id(sha256: str, password: str | None) -> str:
    """Identity of a renderable document: its bytes and the password used to open it."""
    if not password:
        return sha256
    return f"{sha256}-{hashlib.sha256(password.encode()).hexdigest()[:16]}"
