"""PrizmDoc's markup JSON (`{"marks": [...]}`) as the markup burner and plain-text redactor read it:
the mark types pagemill burns and the fields each needs; other fields are kept and ignored."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_OPEN = ConfigDict(extra="allow", strict=True)
# Coordinates and sizes are finite and of a page's order (PrizmDoc's pageData are points or pixels): a NaN
# would compare false with every box and redact nothing, a huge number would overflow a drawing.
LIMIT = 1_000_000
Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=-LIMIT, le=LIMIT)]
Size = Annotated[float, Field(allow_inf_nan=False, ge=0, le=LIMIT)]
PageSize = Annotated[float, Field(allow_inf_nan=False, ge=1, le=LIMIT)]
Index = Annotated[int, Field(ge=0, le=100_000_000)]

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
    x: Coordinate
    y: Coordinate


class Rectangle(BaseModel):
    model_config = _OPEN
    x: Coordinate
    y: Coordinate
    width: Size
    height: Size


class PageData(BaseModel):
    model_config = _OPEN
    width: PageSize
    height: PageSize


class Position(BaseModel):
    model_config = _OPEN
    startIndex: Index
    length: Index


class Mark(BaseModel):
    """One mark: its type, 1-based page and the geometry its type needs."""

    model_config = _OPEN
    type: MarkType
    pageNumber: int = Field(ge=1, le=100_000_000)
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
