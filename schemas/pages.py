"""Print-dialog page selections ("1,3,5-10", "2-"): parse, resolve against a page count, format."""

import re

_PART = re.compile(r"^(\d{1,9})(?:\s*-\s*(\d{0,9}))?$")  # page numbers up to 999,999,999


class PageSyntaxError(ValueError):
    """The selection is not valid print-dialog syntax."""


Part = tuple[int, int | None]  # 1-based first page, last page (None = to the end)


def parse_pages(text: str) -> list[Part]:
    """Parse a selection into 1-based (first, last) parts; "" selects every page."""
    if not text.strip():
        return [(1, None)]
    parts: list[Part] = []
    for raw in text.split(","):
        m = _PART.match(raw.strip())
        if not m:
            raise PageSyntaxError(raw)
        first = int(m.group(1))
        last: int | None = first
        if "-" in raw:
            last = int(m.group(2)) if m.group(2) else None
        if first < 1 or (last is not None and last < first):
            raise PageSyntaxError(raw)
        parts.append((first, last))
    return parts


def format_pages(numbers: list[int]) -> str:
    """Format 1-based page numbers compactly: [1,2,3,5] -> "1-3,5"."""
    runs: list[str] = []
    start = prev = None
    for n in numbers:
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            runs.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    if start is not None:
        runs.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(runs)
