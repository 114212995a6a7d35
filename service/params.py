"""Checks for path and query parameters shared by several routes."""

import math
import re

from aiohttp import web

from core.ids import is_valid_id
from schemas.records import WorkFile
from service import keys
from service.auth import TENANT
from service.errors import InvalidInput

_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,16}$")
_BAD_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\\"]")


def is_number(raw: str | None) -> bool:
    """1 to 18 ASCII digits: str.isdigit() also accepts "¹" or "٣", which int() then refuses or reads, and
    int() refuses more than 4,300 digits; 18 digits still fit every integer pagemill stores."""
    return bool(raw) and len(raw) <= 18 and raw.isascii() and raw.isdigit()  # type: ignore[arg-type]


def check_encoding(request: web.Request) -> None:
    """Header and query values must be text: bytes that are not UTF-8 reach handlers as lone surrogates,
    which fail wherever the text is encoded again (hashing a key, say). One check for every route."""
    for where, values in (("header", request.headers), ("query", request.query)):
        for name, value in values.items():
            if not value.isascii():
                try:
                    value.encode()
                except UnicodeEncodeError:
                    raise InvalidInput(name, in_=where, message=f"the {where} value is not valid UTF-8") from None


def path_id(request: web.Request, name: str) -> str:
    """A resource id from the path; anything that is not id-shaped (a traversal, say) is 480."""
    value = request.match_info[name]
    if not is_valid_id(value):
        raise InvalidInput(name, in_="path", expected={"pattern": "^[A-Za-z0-9_-]{16,64}$"})
    return value


async def tenant_workfile(request: web.Request, file_id: str | None) -> WorkFile | None:
    """The one way the front door resolves a work file id a request names (in its path or its body):
    the caller's tenant's work file, or None, exactly as for an id that does not exist."""
    if not file_id or not is_valid_id(file_id):
        return None
    return await request.app[keys.STORE].get_workfile(file_id, request[TENANT])


def extension_of(filename: str | None) -> str:
    """The lower-cased extension of an uploaded file's name when it is a plausible one, else ""."""
    _stem, dot, extension = (filename or "").rpartition(".")
    return extension.lower() if dot and _EXTENSION.match(extension) else ""


def extension_param(request: web.Request, name: str) -> str:
    """An optional file extension: alphanumeric only, no leading dot, lower-cased."""
    value = request.query.get(name, "")
    if value and not _EXTENSION.match(value):
        raise InvalidInput(
            name,
            in_="query",
            expected={"pattern": "^[A-Za-z0-9]{1,16}$"},
            message="extensions are alphanumeric, without a leading period",
        )
    return value.lower()


def lifetime_param(raw: str | int | None, name: str, default_s: int, max_s: int, *, in_: str = "query") -> int:
    """Seconds a resource must stay available: at least the default, at most the configured cap."""
    if raw is None or raw == "":
        return default_s
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidInput(name, in_=in_, expected={"type": "integer", "minimum": 0})
    return min(max(value, default_s), max_s)


def filename_param(request: web.Request, name: str) -> str | None:
    """A download file name: no path separators, quotes or control characters."""
    value = request.query.get(name)
    if value is None:
        return None
    if not value or len(value) > 255 or _BAD_FILENAME.search(value) or value in (".", ".."):
        raise InvalidInput(name, in_="query", message="a plain file name without separators or control characters")
    return value


MAX_WAIT_S = 30.0


def wait_param(request: web.Request, name: str = "wait") -> float:
    """Seconds a poll may wait for its process to end (pagemill extension): a number from 0 to 30, 0 when absent."""
    raw = request.query.get(name)
    if raw is None:
        return 0.0
    try:
        value = float(raw) if "_" not in raw else math.nan  # float() reads "1_0" as 10
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_WAIT_S:  # also NaN
        raise InvalidInput(name, in_="query", expected={"type": "number", "minimum": 0, "maximum": MAX_WAIT_S})
    return value
