"""A PDF page as it is displayed (cropped and rotated) mapped to its user space, for drawing on it upright."""

from dataclasses import dataclass
from typing import Any

Matrix = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class Frame:
    """The visible box of a page in user space and its /Rotate (degrees clockwise, a multiple of 90).

    Display coordinates (u, v) start at the displayed page's lower-left corner, u to the right and
    v upwards, in points; `matrix` maps them to user space as a PDF matrix does."""

    box: tuple[float, float, float, float]  # left, bottom, right, top
    rotation: int

    @property
    def width(self) -> float:
        x0, y0, x1, y1 = self.box
        return (y1 - y0) if self.rotation in (90, 270) else (x1 - x0)

    @property
    def height(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) if self.rotation in (90, 270) else (y1 - y0)

    @property
    def matrix(self) -> Matrix:
        x0, y0, x1, y1 = self.box
        return {
            0: (1.0, 0.0, 0.0, 1.0, x0, y0),
            90: (0.0, 1.0, -1.0, 0.0, x1, y0),
            180: (-1.0, 0.0, 0.0, -1.0, x1, y1),
            270: (0.0, -1.0, 1.0, 0.0, x0, y1),
        }[self.rotation]

    def to_user(self, u: float, v: float) -> tuple[float, float]:
        a, b, c, d, e, f = self.matrix
        return a * u + c * v + e, b * u + d * v + f

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        a, b, c, d, e, f = self.matrix  # a rotation by a multiple of 90 degrees: the inverse is the transpose
        x, y = x - e, y - f
        return a * x + b * y, c * x + d * y

    def grown(self, top: float, bottom: float) -> "Frame":
        """The frame with `top` points more above the displayed page and `bottom` points more below it."""
        x0, y0, x1, y1 = self.box
        box = {
            0: (x0, y0 - bottom, x1, y1 + top),
            90: (x0 - top, y0, x1 + bottom, y1),
            180: (x0, y0 - top, x1, y1 + bottom),
            270: (x0 - bottom, y0, x1 + top, y1),
        }[self.rotation]
        return Frame(box, self.rotation)


def page_frame(page: Any) -> Frame:
    """The frame of a pypdfium2 page: its crop box (else media box) and rotation."""
    return Frame(tuple(float(v) for v in page.get_cropbox()), page.get_rotation() % 360)  # type: ignore[arg-type]
