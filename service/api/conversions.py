"""Content conversion processes: POST/GET /v2/contentConverters."""

import asyncio
import hashlib
import json
import re
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from core import capabilities, engines, keyspace
from core.processes import CONTENT_CONVERSION, NewProcess, kind_of, output_files, process_json_text, start_process
from schemas import formats
from schemas.converters import MULTI_SOURCE_FORMATS, PAGED_FORMATS, ConvertRequest, Dest
from schemas.pages import PageSyntaxError, parse_pages
from service import keys
from service.api.processes import refuse_if_backlogged
from service.api.queuedjobs import cancel_or_409
from service.api.workfiles import content_disposition
from service.archive import zip_chunks
from service.auth import TENANT
from service.context import REQUEST_ID, REQUEST_ID_HEADER
from service.errors import ApiError, InvalidInput, NotFound
from service.params import lifetime_param, path_id, tenant_workfile, wait_param
from service.validation import check_header_footer, check_ocr_language, check_watermarks, read_model

log = structlog.get_logger("pagemill.converters")

OCR_KINDS = ("pdf", "raster")  # what OCR reads: scans as PDFs and images (as PrizmDoc)
_DIMENSION = re.compile(r"^\s*([0-9]{1,9})\s*px\s*$")


def normalise_dest(dest: Dest) -> dict[str, Any]:
    """The dest object as PrizmDoc echoes it: given options plus this format's defaults."""
    out: dict[str, Any] = dest.model_dump(exclude_none=True)
    if dest.watermarks is not None:
        out["watermarks"] = [mark.model_dump(mode="json", exclude_unset=True) for mark in dest.watermarks]
    if dest.format == "pdf":
        out["pdfOptions"] = {"forceOneFilePerPage": False, **out.get("pdfOptions", {})}
    if dest.format == "tiff":
        out["tiffOptions"] = {"forceOneFilePerPage": False, **out.get("tiffOptions", {})}
    return out


def normalise_input(req: ConvertRequest) -> dict[str, Any]:
    """The echoed input: `pages` only where the format honours it (as PrizmDoc does)."""
    paged = req.input.dest.format in PAGED_FORMATS
    sources = []
    for src in req.input.sources:
        item: dict[str, Any] = {"fileId": src.fileId}
        if paged:
            item["pages"] = src.pages
        if src.password is not None:
            item["password"] = src.password
        sources.append(item)
    echoed: dict[str, Any] = {"sources": sources, "dest": normalise_dest(req.input.dest)}
    if req.input.features is not None:
        echoed["_features"] = req.input.features.model_dump(exclude_none=True)
    return echoed


def check_dimensions(dest: Dest, max_px: int, echo: dict[str, Any]) -> None:
    options = getattr(dest, f"{dest.format}Options", None)
    for name in ("maxWidth", "maxHeight"):
        value = getattr(options, name, None) if options is not None else None
        if value is None:
            continue
        m = _DIMENSION.match(value)
        if not m or not 1 <= int(m.group(1)) <= max_px:
            raise ApiError(
                "InvalidDimensionValue",
                at=f"input.dest.{dest.format}Options.{name}",
                expected={"pattern": "^[0-9]+px$", "maximum": max_px},
                extra=echo,
            )


async def post_converter(request: web.Request) -> web.Response:
    """Validate, record the process as `processing`, enqueue its plan job by name."""
    settings, store = request.app[keys.SETTINGS], request.app[keys.STORE]
    req = await read_model(request, ConvertRequest, settings.max_json_bytes)
    await refuse_if_backlogged(request)  # cheaply, before anything is stored
    normalised = normalise_input(req)
    echo = {"input": normalised, "minSecondsAvailable": req.minSecondsAvailable}
    if req.minSecondsAvailable is None:
        del echo["minSecondsAvailable"]
    dest = req.input.dest
    check_header_footer(req.input, echo)
    if len(req.input.sources) > 1 and dest.format not in MULTI_SOURCE_FORMATS:
        raise ApiError("MultipleSourcesAreNotSupportedForThisDestinationFormat", at="input.sources", extra=echo)
    check_dimensions(dest, settings.max_dimension_px, echo)
    if dest.format == "svg" and dest.watermarks:
        message = "watermarks are drawn on pdf, tiff, png and jpeg output, not on svg"
        raise ApiError("InvalidInput", at="input.dest.watermarks", extra=echo, message=message)
    if req.webhook is not None:
        check_webhook(req.webhook.url, settings.webhook_secret, echo)
    await check_watermarks(request, dest.watermarks or [], "input.dest.watermarks", echo)
    ocr = dest.pdfOptions.ocr if dest.format == "pdf" and dest.pdfOptions else None
    if ocr is not None:
        # The languages the live workers have (this host's own when none reports).
        installed = await capabilities.ocr_languages(request.app[keys.REDIS])
        if installed is None:
            installed = await asyncio.to_thread(engines.tesseract_languages)
        check_ocr_language(ocr, installed, echo)

    writable = await capabilities.writable(request.app[keys.REDIS])
    if dest.format not in writable:  # what the live workers write (pdftocairo, LibreOffice or not)
        engine = {"svg": "poppler's pdftocairo (Debian: poppler-utils)", "docx": "LibreOffice"}.get(dest.format, "")
        raise ApiError(
            "InvalidInput",
            at="input.dest.format",
            expected={"enum": writable},
            message=f"no worker of this server writes {dest.format}; it needs {engine}",
            extra=echo,
        )
    affinity = None
    readable = await capabilities.readable(request.app[keys.REDIS])
    if dest.format == "docx":
        if dest.watermarks:
            raise ApiError(
                "InvalidInput", at="input.dest.watermarks", message="docx output has no watermarks", extra=echo
            )
        # LibreOffice writes docx from documents and PDFs; an image has no text to give it.
        readable = [e for e in readable if (known := formats.by_extension(e)) is not None and known.kind != "raster"]
    for i, src in enumerate(req.input.sources):
        at = f"input.sources[{i}]"
        if dest.format in PAGED_FORMATS:
            try:
                parse_pages(src.pages)
            except PageSyntaxError:
                raise ApiError("InvalidPageSyntax", at=f"{at}.pages", extra=echo) from None
        wf = await tenant_workfile(request, src.fileId)
        if wf is None:
            raise ApiError("WorkFileDoesNotExist", at=f"{at}.fileId", extra=echo)
        if wf.extension.lower() not in readable:  # what the live workers read (LibreOffice or not)
            raise ApiError("UnsupportedSourceFileFormat", at=f"{at}.fileId", expected={"enum": readable}, extra=echo)
        known = formats.by_extension(wf.extension)
        if ocr is not None and (known is None or known.kind not in OCR_KINDS):
            raise ApiError(
                "UnsupportedSourceFileFormatForOCR",
                at=f"{at}.fileId",
                expected={"enum": sorted(s for f in formats.FORMATS if f.kind in OCR_KINDS for s in f.spellings)},
                extra=echo,
            )
        if wf.size == 0:
            raise ApiError("SourceFileIsEmpty", at=f"{at}.fileId", extra=echo)
        affinity = affinity or wf.affinity_token

    lifetime_s = lifetime_param(
        req.minSecondsAvailable,
        "minSecondsAvailable",
        settings.process_lifetime_s,
        settings.max_lifetime_s,
        in_="body",
    )
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise InvalidInput("Idempotency-Key", in_="header", expected={"minLength": 1, "maxLength": 255})
    new = NewProcess(
        CONTENT_CONVERSION,
        request[TENANT],
        normalised,
        lifetime_s,
        affinity or "",
        req.webhook.url if req.webhook else None,
        idempotency_key,
        # the whole request, so the same key with another body (webhook included) is refused
        hashlib.sha256(json.dumps([echo, req.webhook and req.webhook.url], sort_keys=True).encode()).hexdigest(),
    )
    record, replayed = await start_process(store, request.app[keys.REDIS], new)
    if replayed:
        return process_response(record, headers={"Idempotent-Replayed": "true"})
    log.info("process_created", process_id=record["processId"], format=dest.format, sources=len(req.input.sources))
    return process_response(record)


def check_webhook(url: str, secret: str | None, echo: dict[str, Any]) -> None:
    """A webhook needs a configured signing secret and an absolute http(s) URL with a host."""
    if secret is None:
        raise ApiError(
            "InvalidInput",
            at="webhook",
            extra=echo,
            message="webhooks are not enabled on this server (it has no PAGEMILL_WEBHOOK_SECRET to sign them with)",
        )
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(
            "InvalidInput", at="webhook.url", extra=echo, message="the webhook url must be an absolute http(s) URL"
        )


async def get_converter(request: web.Request) -> web.Response:
    """The process; with `?wait=N` (pagemill extension) a processing one is answered as soon as it ends,
    or after N seconds as it then is."""
    process_id = path_id(request, "processId")
    wait_s = wait_param(request)
    record = await _polled(request, process_id)
    if record is None or record.get("tenant", "") != request[TENANT] or kind_of(record) is not CONTENT_CONVERSION:
        raise NotFound("ProcessDoesNotExist")
    if wait_s and record["state"] == "processing":

        async def final() -> dict[str, Any] | None:
            latest = await _polled(request, process_id)
            return latest if latest is None or latest["state"] != "processing" else None

        # Woken by the worker's announcement of the final state (core/records.py:finish_process).
        ended = await request.app[keys.WAITER].wait_for(keyspace.process(process_id), final, wait_s)
        record = ended or await _polled(request, process_id) or record
    return process_response(record)


async def _polled(request: web.Request, process_id: str) -> dict[str, Any] | None:
    """The process record, from this front door's poll cache when it is fresh there."""
    cache = request.app[keys.POLL_CACHE]
    record = cache.get(process_id)
    if record is None:
        record = await request.app[keys.STORE].get_process(process_id, parse_json=False)
        if record is not None:
            cache.put(process_id, record)
    return record


def process_response(record: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    body = record.get("_body")  # rendered once per cached record
    if body is None:
        body = record["_body"] = process_json_text(record).encode()
    return web.Response(body=body, content_type="application/json", headers=headers)


async def _own_process(request: web.Request) -> tuple[str, dict[str, Any]]:
    process_id = path_id(request, "processId")
    record = await request.app[keys.STORE].get_process(process_id, parse_json=False)
    if record is None or record.get("tenant", "") != request[TENANT] or kind_of(record) is not CONTENT_CONVERSION:
        raise NotFound("ProcessDoesNotExist")
    return process_id, record


async def delete_converter(request: web.Request) -> web.Response:
    """Cancel a running process: it ends as `state: "error"`, `errorCode: "Cancelled"` (pagemill extension)."""
    process_id, _ = await _own_process(request)
    await cancel_or_409(request, process_id)
    record = await request.app[keys.STORE].get_process(process_id, parse_json=False)
    log.info("process_cancelled", process_id=process_id)
    return process_response(record or {})


async def get_output_zip(request: web.Request) -> web.StreamResponse:
    """Every result of a complete process in one zip, streamed in order (pagemill extension)."""
    process_id, record = await _own_process(request)
    if record["state"] != "complete":
        raise ApiError("ProcessNotComplete", status=409, message=f"the process is {record['state']}, not complete")
    record["output"] = json.loads(record.get("output") or "{}")
    files = await output_files(request.app[keys.STORE], request.app[keys.STORAGE], record)
    if files is None:
        raise ApiError("OutputExpired", status=410)
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": content_disposition(f"{process_id}.zip"),
            REQUEST_ID_HEADER: request[REQUEST_ID],
        }
    )
    await response.prepare(request)
    async for chunk in zip_chunks(files):
        await response.write(chunk)
    await response.write_eof()
    return response
