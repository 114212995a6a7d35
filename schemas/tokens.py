"""Header and footer tokens: `{{pageNumber}}`, `{{pageCount}}` and Bates numbering
(`{{pageNumber+c}}`, `{{pageNumber+c,n}}`), parsed once at the edge and expanded per page."""

import re

# {{pageNumber}}, {{pageNumber+c}}, {{pageNumber+c,n}}, {{pageNumber,n}}, {{pageCount}} (spaces allowed inside)
_TOKEN = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PAGE_NUMBER = re.compile(r"^\s*pageNumber\s*(?:\+\s*(\d{1,12})\s*)?(?:,\s*(\d{1,2})\s*)?$")
_PAGE_COUNT = re.compile(r"^\s*pageCount\s*$")

# A template is a tuple of parts: literal text, or ("n", offset, width) / ("c",) for a page number / count.
Part = str | tuple[str, int, int]


class UnrecognizedExpression(ValueError):
    """Text in double curly braces that is not one of the tokens."""


def parse(text: str) -> tuple[Part, ...]:
    """Split header/footer text into literal text and tokens; raise UnrecognizedExpression."""
    parts: list[Part] = []
    at = 0
    for match in _TOKEN.finditer(text):
        if match.start() > at:
            parts.append(text[at : match.start()])
        inner = match.group(1)
        number = _PAGE_NUMBER.match(inner)
        if number:
            parts.append(("n", int(number.group(1) or 0), int(number.group(2) or 0)))
        elif _PAGE_COUNT.match(inner):
            parts.append(("c", 0, 0))
        else:
            raise UnrecognizedExpression(match.group(0))
        at = match.end()
    if at < len(text):
        parts.append(text[at:])
    return tuple(parts)


def expand(text: str, page_number: int, page_count: int) -> str:
    """The text with its tokens replaced for page `page_number` (1-based) of `page_count`."""
    out = []
    for part in parse(text):
        if isinstance(part, str):
            out.append(part)
        elif part[0] == "n":
            out.append(str(page_number + part[1]).zfill(part[2]))
        else:
            out.append(str(page_count))
    return "".join(out)
