"""PrizmDoc's markup JSON (`{"marks": [...]}`) as the markup burner and plain-text redactor read it:
the mark types pagemill burns and the fields each needs; other fields are kept and ignored."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_OPEN = ConfigDict(extra="allow", strict=True)

RECTANGLE_TYPES = (
    "RectangleRedaction",
    "TransparentRectangleRedaction",
    "RectangleAnnotation",
    "EllipseAnnotation",
    "HighlightAnnotation",
    "TextAnnotation",
)
POSITION_TYPES = ("TextSelectionRedaction", "TextHighlightAnnotation")
POINT_TYPES = ("LineAnnotation", "ArrowAnnotation", "FreehandAnnotation", "PolylineAnnotation")
MarkType = Literal[
    "RectangleRedaction",
    "TransparentRectangleRedaction",
    "TextSelectionRedaction",
    "RectangleAnnotation",
    "EllipseAnnotation",
    "HighlightAnnotation",
    "TextAnnotation",
    "TextHighlightAnnotation",
    "LineAnnotation",
    "ArrowAnnotation",
    "FreehandAnnotation",
    "PolylineAnnotation",
]


class Point(BaseModel):
    model_config = _OPEN
    x: float
    y: float


class Rectangle(BaseModel):
    model_config = _OPEN
    x: float
    y: float
    width: float = Field(ge=0)
    height: float = Field(ge=0)


class PageData(BaseModel):
    model_config = _OPEN
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class Position(BaseModel):
    model_config = _OPEN
    startIndex: int = Field(ge=0)
    length: int = Field(ge=0)


class Mark(BaseModel):
    """One mark: its type, 1-based page and the geometry its type needs."""

    model_config = _OPEN
    type: MarkType
    pageNumber: int = Field(ge=1)
    pageData: PageData | None = None
    rectangle: Rectangle | None = None
    position: Position | None = None
    startPoint: Point | None = None
    endPoint: Point | None = None
    points: list[Point] | None = None
    reason: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _geometry(self) -> "Mark":
        if self.type in RECTANGLE_TYPES and self.rectangle is None:
            raise ValueError(f"a {self.type} needs a rectangle")
        if self.type in POSITION_TYPES and self.position is None:
            raise ValueError(f"a {self.type} needs a position")
        if self.type in POINT_TYPES and self.points is None and (self.startPoint is None or self.endPoint is None):
            raise ValueError(f"a {self.type} needs startPoint and endPoint, or points")
        if self.type not in POSITION_TYPES and self.pageData is None:
            raise ValueError(f"a {self.type} needs pageData")
        return self


class Markup(BaseModel):
    """A markup JSON file."""

    model_config = _OPEN
    marks: list[Mark]
