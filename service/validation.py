"""Reading request bodies within limits, turning pydantic errors into 480 InvalidInput, and the request-time
checks a schema alone cannot make (watermark image sources, PrizmDoc's header and footer rules)."""

from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ValidationError

from schemas import languages, tokens
from schemas.converters import HEADER_FOOTER_FORMATS, ConvertInput, OcrOptions
from schemas.watermarks import Watermark, missing_property
from service.body import chunks
from service.errors import ApiError, InvalidInput, PayloadTooLarge
from service.params import tenant_workfile

M = TypeVar("M", bound=BaseModel)

_EXPECTED_KEYS = ("enum", "const", "type", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems")


async def read_body(request: web.Request, limit: int) -> bytes:
    """Read a small body fully, refusing (413) anything over `limit` bytes without reading it all."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(limit)
    received: list[bytes] = []
    size = 0
    async for chunk in chunks(request, 64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        received.append(chunk)
    return b"".join(received)


def json_path(loc: tuple[int | str, ...]) -> str:
    """('input', 'sources', 0, 'fileId') -> 'input.sources[0].fileId'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in node:
            node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            node = branches[0] if len(branches) == 1 else node
            if "anyOf" in node:
                return node
        else:
            return node


def expected_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> dict[str, Any] | None:
    """What the model's JSON schema expects at `loc` (enum, type, bounds), if it says."""
    root = _schema(model)
    node = _resolve(root, root)
    for part in loc:
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part)
            if node is None:
                return None
        node = _resolve(node, root)
    found = {k: node[k] for k in _EXPECTED_KEYS if k in node}
    return found or None


def invalid_input(exc: ValidationError, model: type[BaseModel]) -> InvalidInput:
    """The 480 InvalidInput for the first problem pydantic found."""
    err = exc.errors(include_url=False)[0]
    if err["type"] == "json_invalid":
        return InvalidInput("", expected={"type": "object"}, message=f"body is not valid JSON: {err['msg']}")
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        return InvalidInput(json_path(loc), message=f"unknown property {json_path(loc)!r}")
    expected = expected_at(model, loc)
    if err["type"] == "model_type":
        expected = {"type": "object"}
    return InvalidInput(json_path(loc), expected=expected, message=err["msg"])


def parse_model(body: bytes, model: type[M]) -> M:
    """Validate JSON bytes as `model`, or raise InvalidInput."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_input(exc, model) from None


async def read_model(request: web.Request, model: type[M], limit: int, *, optional: bool = False) -> M:
    """Parse and validate a JSON body as `model`; with `optional`, an empty body means defaults."""
    body = await read_body(request, limit)
    if optional and not body.strip():
        return model()
    return parse_model(body, model)


async def check_watermarks(request: web.Request, marks: list[Watermark], at: str, extra: dict | None = None) -> None:
    """Required properties per type; image `src` must be a PNG work file or an http(s) URL."""
    for i, mark in enumerate(marks):
        prefix = f"{at}[{i}]"
        missing = missing_property(mark)
        if missing:
            raise ApiError("InvalidInput", at=f"{prefix}.{missing}", message=f"{missing} is required", extra=extra)
        if mark.type != "image" or not mark.src:
            continue
        url = urlsplit(mark.src)
        if url.scheme in ("http", "https") and url.hostname:
            continue
        wf = await tenant_workfile(request, mark.src)
        if wf is None or wf.extension != "png":
            raise InvalidInput(f"{prefix}.src", message="a PNG work file id or an http(s) URL of a PNG")


def check_ocr_language(ocr: OcrOptions, installed: frozenset[str], echo: dict[str, Any]) -> None:
    """The OCR language must be one PrizmDoc names and whose Tesseract data this server has."""
    code = languages.tesseract_code(ocr.language)
    offered = sorted(name for name, c in languages.LANGUAGES.items() if c in installed)
    if code is not None and code in installed:
        return
    if code is None:
        message = f"{ocr.language!r} is not an OCR language; this server offers {', '.join(offered) or 'none'}"
    elif not installed:
        message = "OCR needs Tesseract (Debian package tesseract-ocr), which is not installed on this server"
    else:
        message = f"OCR in {ocr.language} needs Tesseract's {code!r} data (Debian package {languages.package(code)}), "
        message += "which is not installed on this server"
    raise ApiError(
        "InvalidInput", at="input.dest.pdfOptions.ocr.language", expected={"enum": offered}, extra=echo, message=message
    )


def check_header_footer(inp: ConvertInput, echo: dict[str, Any]) -> None:
    """PrizmDoc's rules for dest.header and dest.footer, with its errorCodes and paths."""
    dest = inp.dest
    given = [(name, spec) for name in ("header", "footer") if (spec := getattr(dest, name)) is not None]
    if not given:
        return
    if dest.format not in HEADER_FOOTER_FORMATS:
        raise ApiError(
            "UnsupportedDestinationFormatWhenUsingHeaderOrFooter",
            at="input.dest.format",
            expected={"enum": list(HEADER_FOOTER_FORMATS)},
            extra=echo,
        )
    options = getattr(dest, f"{dest.format}Options")
    if options is not None and options.forceOneFilePerPage:
        raise ApiError(
            "ForceOneFilePerPageNotSupportedWhenUsingHeaderOrFooter",
            at=f"input.dest.{dest.format}Options.forceOneFilePerPage",
            expected={"value": False},
            extra=echo,
        )
    if len(inp.sources) > 1:
        raise ApiError("MultipleSourceDocumentsNotSupportedWhenUsingHeaderOrFooter", at="input.sources", extra=echo)
    if inp.sources[0].pages.strip():
        raise ApiError("PagesPropertyNotSupportedWhenUsingHeaderOrFooter", at="input.sources[0].pages", extra=echo)
    for name, spec in given:
        at = f"input.dest.{name}"
        if spec.points() is None:
            message = 'fontSize must be a size in points such as "12pt" (more than 0, at most 144)'
            raise ApiError("InvalidInput", at=f"{at}.fontSize", extra=echo, message=message)
        if spec.rgb() is None:
            message = 'color must be a CSS colour such as "#0000FF" or "blue"'
            raise ApiError("InvalidInput", at=f"{at}.color", extra=echo, message=message)
        for i, line in enumerate(spec.lines):
            for j, text in enumerate(line):
                try:
                    tokens.parse(text)
                except tokens.UnrecognizedExpression as exc:
                    message = (
                        f"{exc} is not one of {{{{pageNumber}}}}, {{{{pageCount}}}}, {{{{pageNumber+c}}}}, "
                        f"{{{{pageNumber+c,n}}}}"
                    )
                    raise ApiError(
                        "UnrecognizedExpression", at=f"{at}.lines[{i}][{j}]", extra=echo, message=message
                    ) from None
