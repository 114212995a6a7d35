"""Viewer routes (HTML5 viewing): pages, thumbnails, attributes, page count and text.

A page that is not rendered yet is requested (see `core.triggers`) and the request waits,
bounded by PAGEMILL_PAGE_WAIT_S, until a worker announces it. Errors carry
Accusoft-Status-Number/-Message headers; an unknown or expired session is 403.
"""

import asyncio
import re
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from aiohttp import web

from core import keyspace, triggers
from core.ids import office_pdf_id
from core.storage.base import workfile_key
from schemas import formats
from schemas.viewing import Variant
from service import keys
from service.api.sessions import load_session, stopped_error
from service.api.workfiles import serve_workfile
from service.auth import TENANT, document_session
from service.errors import ApiError, InvalidInput, NotFound, ViewerError
from service.params import filename_param, is_number, tenant_workfile

T = TypeVar("T")

# errorCode -> (HTTP status, Accusoft-Status-Number, Accusoft-Status-Message)
VIEWER_ERRORS: dict[str, tuple[int, int, str]] = {
    "InvalidPassword": (480, 4001, "Document requires a password"),
    "NoSuchPage": (404, 4004, "The page does not exist"),
    "UnsupportedSourceFileFormat": (580, 5004, "The document format is not supported"),
    "UnrecognizedFileFormat": (580, 5004, "The document format is not supported"),
    "CorruptFile": (580, 5005, "The document is damaged and cannot be read"),
    "ImageTooLarge": (580, 5006, "The document's images are too large"),
    "UnsupportedSecurityHandler": (580, 5007, "The document's encryption is not supported"),
    "PageRenderTimeout": (580, 5008, "The page took too long to render"),
    "PageRenderFailed": (580, 5009, "The page could not be rendered"),
    "CouldNotOpenDocument": (580, 5010, "The document could not be opened"),
    "TooManyPages": (580, 5016, "The document has more pages than this server views"),
    "ConversionTimeout": (580, 5017, "The document took too long to convert"),
    "DocumentTooLarge": (580, 5018, "The document expands to more than this server reads"),
    "WatermarkImageNotFound": (580, 5011, "The watermark image does not exist"),
    "WatermarkImageNotPng": (580, 5012, "The watermark image is not a PNG"),
    "WatermarkImageTooLarge": (580, 5013, "The watermark image is too large"),
    "WatermarkImageUnreadable": (580, 5014, "The watermark image cannot be read"),
    "WatermarkImageUnavailable": (580, 5015, "The watermark image could not be downloaded"),
}
SOURCE_ERROR = (580, 5020, "The document could not be acquired")
SVG_TYPES = ("svg", "svga", "svgb")
MAX_TEXT_PAGES = 500
MAX_THUMBNAIL_PX = 2000
MAX_TILE_PX = 2048


def viewer_error(code: str) -> ViewerError:
    status, number, message = VIEWER_ERRORS.get(code, SOURCE_ERROR)
    return ViewerError(status, code, number, message)


def expired() -> ViewerError:
    return ViewerError(403, "ViewingSessionExpired", 403, "The viewing session has expired or does not exist")


def session_id_of(request: web.Request) -> str:
    """DocumentID=u{id} (plain) or e{base64 of id}."""
    value = document_session(request.query.get("DocumentID", ""))
    if value is None:
        raise InvalidInput(
            "DocumentID", in_="query", message='a viewing session id prefixed with "u" (or "e" + base64)'
        )
    return value


def _page_number(request: web.Request) -> int:
    raw = request.match_info["page"]
    if not is_number(raw) or len(raw) > 9:
        raise InvalidInput("PageNumber", in_="path", expected={"type": "integer", "minimum": 0})
    return int(raw)


def _number(request: web.Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise InvalidInput(name, in_="query", expected={"type": "number", "minimum": low, "maximum": high})
    return value


async def _wait(request: web.Request, key: str, check: Callable[[], Awaitable[T | None]]) -> T:
    result = await request.app[keys.WAITER].wait_for(key, check, request.app[keys.SETTINGS].page_wait_s)
    if result is None:
        raise ViewerError(504, "NotReadyYet", 504, "The content is not ready yet; please retry")
    return result


async def viewer_session(request: web.Request) -> dict[str, Any]:
    """The session behind DocumentID, waiting (bounded) until its document has been provided."""
    return await viewer_session_of(request, session_id_of(request))


async def viewer_session_of(request: web.Request, session_id: str) -> dict[str, Any]:
    """The session `session_id`, waiting (bounded) until its document has been provided."""
    views = request.app[keys.VIEWS]
    session = await views.get(session_id)
    if session is None or session.get("tenant", "") != request[TENANT]:
        raise expired()  # another tenant's session is indistinguishable from an unknown one
    if "stopped" in session:
        raise stopped_error(session["stopped"])

    async def with_source() -> dict[str, Any] | None:
        current = await views.get(session_id)
        if current is None:
            raise expired()
        return current if ("fileId" in current or "sourceError" in current) else None

    if "fileId" not in session and "sourceError" not in session:
        session = await _wait(request, keyspace.session(session_id), with_source)
    if "sourceError" in session:
        raise viewer_error(session["sourceError"])
    return session


async def document_info(request: web.Request, session: dict[str, Any]) -> dict[str, Any]:
    """Page count and page sizes, inspecting the document first if nobody has yet."""
    views = request.app[keys.VIEWS]
    info = await views.get_doc(session["docId"])
    if info is None:
        await triggers.request_inspection(request.app[keys.REDIS], session)
        info = await _wait(request, keyspace.document(session["docId"]), lambda: views.get_doc(session["docId"]))
    if "error" in info:
        raise viewer_error(info["error"])
    return info


async def _serve_page(request: web.Request, session: dict[str, Any], variant: Variant, page: int) -> web.StreamResponse:
    settings, views = request.app[keys.SETTINGS], request.app[keys.VIEWS]
    info = await views.get_doc(session["docId"])
    if info is not None and "error" not in info and page >= info["pageCount"]:
        raise viewer_error("NoSuchPage")
    ns = triggers.namespace(session)
    key = keyspace.page(ns, variant.digest(), page)
    touch = settings.page_cache_lifetime_s if ns == session["docId"] else 0
    record = await views.get_record(key, touch_s=touch)
    if record is None:
        await triggers.request_page(request.app[keys.REDIS], session, variant, page)
        record = await _wait(request, key, lambda: views.get_record(key))
    if "error" in record:
        raise viewer_error(record["error"])
    # FileResponse adds the ETag (the file is never replaced) and answers If-None-Match / Range.
    headers = {"Cache-Control": "private, max-age=3600", "Content-Type": record["contentType"]}
    path = await request.app[keys.STORAGE].local_path(record["storageKey"])
    return web.FileResponse(path, headers=headers)


def _variant(request: web.Request, session: dict[str, Any], *, box: tuple[int, int] = (0, 0)) -> Variant | None:
    """The requested rendering; None for SVG content types (we render raster only)."""
    content_type = request.query.get("ContentType", "png").lower()
    if content_type in SVG_TYPES:
        return None
    if content_type not in ("png", "jpeg", "jpg"):
        raise InvalidInput("ContentType", in_="query", expected={"enum": ["png", "jpeg", "svg", "svga", "svgb"]})
    jpeg = content_type != "png"
    scale = _number(request, "Scale", 1.0, 0.05, 8.0) if box == (0, 0) else 1.0
    quality = int(_number(request, "Quality", 85, 1, 100)) if jpeg else 85
    base = triggers.default_variant(session)
    return Variant(
        content_type="jpeg" if jpeg else "png",
        scale=round(scale, 3),
        quality=quality,
        box_width=box[0],
        box_height=box[1],
        watermark=base.watermark,
    )


def page_attributes(info: dict[str, Any], page: int, content_type: str) -> dict[str, Any]:
    width, height = info["sizes"][page]
    return {
        "imageWidth": width,
        "imageHeight": height,
        "imageXResolution": info["resolution"],
        "imageYResolution": info["resolution"],
        "pageCount": info["pageCount"],
        "isRaster": "true" if info["raster"] or page in info.get("rasterPages", ()) else "false",
        "contentType": content_type,
    }


async def get_page(request: web.Request) -> web.StreamResponse:
    page = _page_number(request)
    session = await viewer_session(request)
    variant = _variant(request, session)
    if variant is None:
        info = await document_info(request, session)
        if page >= info["pageCount"]:
            raise viewer_error("NoSuchPage")
        content_type = request.query.get("ContentType", "svgb")
        return web.json_response(
            {"errorCode": "SvgNotAvailable", "pageAttributes": page_attributes(info, page, content_type)}
        )
    return await _serve_page(request, session, variant, page)


async def get_thumbnail(request: web.Request) -> web.StreamResponse:
    page = _page_number(request)
    width, height = int(request.match_info["width"]), int(request.match_info["height"])
    if not (1 <= width <= MAX_THUMBNAIL_PX and 1 <= height <= MAX_THUMBNAIL_PX):
        raise InvalidInput("Size", in_="path", expected={"minimum": 1, "maximum": MAX_THUMBNAIL_PX})
    session = await viewer_session(request)
    variant = _variant(request, session, box=(width, height)) or _variant_png(session, (width, height))
    return await _serve_page(request, session, variant, page)


async def get_tile(request: web.Request) -> web.StreamResponse:
    """A region of the page image at Scale, drawn on its own (deep zoom costs the tile's pixels only)."""
    page = _page_number(request)
    x, y, width, height = (int(request.match_info[n]) for n in ("x", "y", "width", "height"))
    for name, value in (("width", width), ("height", height)):
        if not 1 <= value <= MAX_TILE_PX:
            raise InvalidInput(name, in_="path", expected={"type": "integer", "minimum": 1, "maximum": MAX_TILE_PX})
    session = await viewer_session(request)
    variant = _variant(request, session)
    if variant is None:
        raise InvalidInput("ContentType", in_="query", expected={"enum": ["png", "jpeg"]})
    info = await document_info(request, session)
    if page >= info["pageCount"]:
        raise viewer_error("NoSuchPage")
    page_w, page_h = (max(1, round(v * variant.scale)) for v in info["sizes"][page])
    for name, value, limit in (("x", x, page_w), ("y", y, page_h)):
        if value >= limit:
            raise InvalidInput(name, in_="path", expected={"type": "integer", "minimum": 0, "maximum": limit - 1})
    tile = replace(variant, tile_x=x, tile_y=y, tile_width=min(width, page_w - x), tile_height=min(height, page_h - y))
    return await _serve_page(request, session, tile, page)


def _variant_png(session: dict[str, Any], box: tuple[int, int]) -> Variant:
    base = triggers.default_variant(session)
    return Variant(content_type="png", box_width=box[0], box_height=box[1], watermark=base.watermark)


async def get_page_attributes(request: web.Request) -> web.Response:
    page = _page_number(request)
    session = await viewer_session(request)
    info = await document_info(request, session)
    if page >= info["pageCount"]:
        raise viewer_error("NoSuchPage")
    return web.json_response(page_attributes(info, page, request.query.get("ContentType", "png")))


_PAGES_COUNT = re.compile(rb"/Count\s+(\d+)")
_PAGES_TYPE = re.compile(rb"/Type\s*/Pages\b")
_OBJECT_SPAN = 64 * 1024


def estimate_page_count(head: bytes, tail: bytes) -> int | None:
    """The root /Pages /Count visible in the file's first or last bytes, if any (compressed: None).
    A /Pages dictionary's keys may sit on either side of a long /Kids array: the search spans the
    object the /Type is in (up to `endobj`, at most 64 KiB each way), else 300 bytes each way."""
    best = None
    for chunk in (head, tail):
        for m in _PAGES_TYPE.finditer(chunk):
            start = chunk.rfind(b" obj", max(0, m.start() - _OBJECT_SPAN), m.start())
            end = chunk.find(b"endobj", m.end(), m.end() + _OBJECT_SPAN)
            window = chunk[start if start >= 0 else max(0, m.start() - 300) : end if end >= 0 else m.end() + 300]
            for count in _PAGES_COUNT.findall(window):
                best = max(best or 0, int(count))
    return best


_OFFICE_COUNTS = (
    ("docProps/app.xml", re.compile(rb"<(?:\w+:)?(?:Pages|Slides)>(\d+)<")),  # OOXML: Word, PowerPoint
    ("meta.xml", re.compile(rb'meta:page-count="(\d+)"')),  # ODF
)
_MAX_PROPERTIES_BYTES = 1 << 20


def office_page_estimate(path: str) -> int | None:
    """The page or slide count an office package records about itself (as its author's app saw it)."""
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            for name, pattern in _OFFICE_COUNTS:
                if name in names and package.getinfo(name).file_size <= _MAX_PROPERTIES_BYTES:
                    found = pattern.search(package.read(name))
                    if found and int(found.group(1)) > 0:
                        return int(found.group(1))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, ValueError):
        return None
    return None


async def _estimate(request: web.Request, session: dict[str, Any]) -> int | None:
    known = formats.by_extension(session.get("sourceExtension") or "")
    if known is not None and known.opener == "office":
        if "zip" not in known.containers:
            return None  # no cheap count: the real one comes with the PDF LibreOffice makes
        path = await request.app[keys.STORAGE].local_path(workfile_key(session["fileId"]))
        return await asyncio.to_thread(office_page_estimate, str(path))
    if known is None or known.kind != "pdf":
        return 1 if session.get("sourceExtension") not in ("tif", "tiff") else None
    path = await request.app[keys.STORAGE].local_path(workfile_key(session["fileId"]))
    window = 256 * 1024
    with open(path, "rb") as fh:
        head = fh.read(window)
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - window))
        tail = fh.read(window)
    return estimate_page_count(head, tail)


async def get_document_attributes(request: web.Request) -> web.Response:
    """Page count; DesiredPageCountConfidence <= 50 may get a fast estimate, 100 waits for the real one.
    IncludePageSizes=true (pagemill) adds every page's size with the real count, so a viewer lays out
    the whole document from one request."""
    confidence = int(_number(request, "DesiredPageCountConfidence", 100, 0, 100))
    sizes = request.query.get("IncludePageSizes", "false").lower()
    if sizes not in ("true", "false"):
        raise InvalidInput("IncludePageSizes", in_="query", expected={"type": "boolean"})
    session = await viewer_session(request)
    views = request.app[keys.VIEWS]
    info = await views.get_doc(session["docId"])
    if info is None and confidence <= 50:
        estimate = await _estimate(request, session)
        if estimate is not None:
            await triggers.request_inspection(request.app[keys.REDIS], session)
            return web.json_response({"pageCount": estimate, "pageCountConfidence": 50})
    info = await document_info(request, session)
    answer = {"pageCount": info["pageCount"], "pageCountConfidence": 100}
    if sizes == "true":
        answer |= {"pageSizes": info["sizes"], "imageResolution": info["resolution"]}
    return web.json_response(answer)


async def get_pdf(request: web.Request) -> web.StreamResponse:
    """The session's document as a PDF: the original when it is one, else the PDF the office source
    stage made of it (rendering the first pages makes it; this waits, bounded, as a page does). Images
    have no PDF here: a content conversion makes one."""
    session = await load_session(request, request.match_info["sessionId"])
    filename = filename_param(request, "ContentDispositionFilename")
    wf = await tenant_workfile(request, session.get("fileId"))
    if wf is None:
        raise ApiError("DocumentNotProvidedYet", at="fileId")
    name = f"{filename or f'file-{wf.file_id}'}.pdf"
    known = formats.by_extension(wf.extension)
    if known is not None and known.kind == "pdf":
        return await serve_workfile(request, wf, name)
    if known is None or known.opener != "office":
        raise NotFound("PdfNotAvailable")
    await document_info(request, await viewer_session_of(request, session["id"]))
    pdf = await tenant_workfile(request, office_pdf_id(wf.tenant, wf.sha256, session["props"].get("password")))
    if pdf is None:  # expired before the session did: its pages still show, from their cache
        raise NotFound("PdfNotAvailable")
    return await serve_workfile(request, pdf, name)


async def get_text(request: web.Request) -> web.Response:
    first, last = int(request.match_info["first"]), int(request.match_info["last"])
    if last < first or last - first >= MAX_TEXT_PAGES:
        raise InvalidInput("PageNumberEnd", in_="path", message=f"a range of 1 to {MAX_TEXT_PAGES} pages")
    session = await viewer_session(request)
    info = await document_info(request, session)
    if first >= info["pageCount"]:
        raise viewer_error("NoSuchPage")
    pages = list(range(first, min(last, info["pageCount"] - 1) + 1))
    views = request.app[keys.VIEWS]
    text_keys = [keyspace.text(session["docId"], p) for p in pages]

    async def all_text() -> list[dict[str, Any]] | None:
        records = await views.get_many(text_keys)
        return None if any(r is None for r in records) else records  # type: ignore[return-value]

    records = await all_text()
    if records is None:
        await triggers.request_text(request.app[keys.REDIS], session, pages)
        existing = await views.get_many(text_keys)
        last_missing = [k for k, r in zip(text_keys, existing, strict=True) if r is None][-1:] or text_keys[-1:]
        records = await _wait(request, last_missing[0], all_text)
    positions = request.query.get("Positions", "")
    if positions not in ("", "characters"):
        raise InvalidInput("Positions", in_="query", expected={"enum": ["characters"]})
    for record in records:
        if "error" in record:
            raise viewer_error(record["error"])
        if not positions:
            record.pop("chars", None)
    return web.json_response({"pages": records})
