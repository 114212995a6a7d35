"""Watermark objects (viewing sessions' `watermarks`, and pagemill's `input.dest.watermarks`)."""

import re
from typing import Literal

from PIL import ImageColor
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TEXT_CHARS = 1000
DEFAULT_POINTS = 12.0
_FONT_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*pt\s*$")


class Watermark(BaseModel):
    """One watermark; properties that do not apply to its type are validated but ignored."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["text", "diagonalText", "image"]
    opacity: float = Field(default=1.0, ge=0.0, le=1.0)
    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    color: str = Field(default="black", max_length=64)
    fontFamily: str | None = Field(default=None, max_length=128)
    fontSize: str | None = Field(default=None, max_length=16)  # None: not given (see `points`)
    fontStyle: Literal["normal", "italic"] = "normal"
    fontWeight: Literal["normal", "bold"] = "normal"
    textDecoration: Literal["none", "underlined"] = "none"
    horizontalAlign: Literal["left", "center", "right"] = "center"
    verticalAlign: Literal["top", "middle", "bottom"] = "middle"
    slope: Literal["up", "down"] = "up"
    autoSize: Literal["fit", "fill", "stretch"] | None = None
    scale: float = Field(default=0.25, ge=0.0, le=1.0)
    src: str | None = Field(default=None, max_length=4096)

    @field_validator("color")
    @classmethod
    def _css_color(cls, value: str) -> str:
        try:
            ImageColor.getrgb(value)
        except ValueError:
            raise ValueError("a CSS colour name or a hex value such as #FF0000") from None
        return value

    @field_validator("fontSize")
    @classmethod
    def _points(cls, value: str | None) -> str:
        m = _FONT_SIZE.match(value or "")  # an explicit null is refused: absent is the only "not given"
        if not m or not 0 < float(m.group(1)) <= 1000:
            raise ValueError('a positive number of points up to 1000, such as "27.5pt"')
        return value

    @property
    def points(self) -> float:
        """The font size in points: the given one, else 12."""
        if self.fontSize is None:
            return DEFAULT_POINTS
        return float(_FONT_SIZE.match(self.fontSize).group(1))  # type: ignore[union-attr]

    @property
    def auto_size(self) -> Literal["fit", "fill", "stretch"] | None:
        """How text is sized to the page: `autoSize`, else `fit` for a diagonalText without a
        fontSize (it spans the page diagonal, as in PrizmDoc's viewer), else None (its own size)."""
        if self.autoSize is None and self.type == "diagonalText" and self.fontSize is None:
            return "fit"
        return self.autoSize


def missing_property(mark: Watermark) -> str | None:
    """The property this watermark's type requires but it lacks, if any."""
    if mark.type in ("text", "diagonalText") and not mark.text:
        return "text"
    if mark.type == "image" and not mark.src:
        return "src"
    return None
