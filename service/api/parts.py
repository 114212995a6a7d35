"""Upload sessions by parts: create, PUT sequential parts with Content-Range, save, cancel.

Two route shapes share these handlers: the seed's
`/archives/{archiveId}/entities/H:{entityHandle}/create_sessions...` and pagemill's
`/PCCIS/V1/WorkFile/UploadSession...`. A part must start exactly where the previous one ended;
re-sending the last part (same range, same bytes) is accepted and changes nothing.
"""

import hashlib
import re
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from core.ids import is_valid_id
from core.records import iso_ms
from core.sniff import extension_for
from service import keys
from service.api.workfiles import workfile_json
from service.auth import TENANT
from service.body import chunks
from service.errors import ApiError, NotFound
from service.params import lifetime_param
from service.uploads import TooLarge, UploadBusy
from service.validation import read_model

log = structlog.get_logger("pagemill.parts")

_RANGE = re.compile(r"^\s*(?:bytes\s+)?([0-9]{1,15})-([0-9]{1,15})(?:/([0-9]{1,15}|\*))?\s*$")
_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,16}$")


class CreateSession(BaseModel):
    """Body of the create call (the seed sends content_type only)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    content_type: str = Field(default="application/octet-stream", max_length=255)
    extension: str | None = Field(default=None, max_length=16, pattern=r"^[A-Za-z0-9]+$")
    filename: str | None = Field(default=None, max_length=255)


class SaveSession(BaseModel):
    """Body of the save call."""

    model_config = ConfigDict(extra="forbid", strict=True)
    description: str = Field(default="", max_length=4096)
    container_id: str = Field(default="", max_length=255)


def _scope(request: web.Request) -> str:
    """Uploads made through the seed's routes belong to their archive and entity."""
    info = request.match_info
    return f"{info['archiveId']}/{info['entityHandle']}" if "archiveId" in info else ""


RIGHTS = ("create_access", "delete_access", "read_access", "write_access")


def too_large(limit: int) -> ApiError:
    return ApiError("RequestBodyTooLarge", status=413, message=f"uploads are limited to {limit} bytes")


def _error(status: int, code: str, message: str, **details: Any) -> ApiError:
    return ApiError(code, status=status, message=message, at="Content-Range", in_="header", expected=details or None)


async def _session(request: web.Request) -> dict[str, Any]:
    upload_id = request.match_info["uploadId"]
    record = await request.app[keys.UPLOADS].get(upload_id) if is_valid_id(upload_id) else None
    if (
        record is None
        or record.get("kind") != "parts"
        or record.get("scope") != _scope(request)
        or record.get("tenant", "") != request[TENANT]
    ):
        raise NotFound("UploadSessionDoesNotExist")
    return record


async def create_session(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    body = await read_model(request, CreateSession, settings.max_json_bytes, optional=True)
    extension = (body.extension or extension_for(body.content_type)).lower()
    lifetime = lifetime_param(
        request.query.get("MinSecondsAvailable"),
        "MinSecondsAvailable",
        settings.upload_lifetime_s,
        settings.max_lifetime_s,
    )
    upload_id, _ = await request.app[keys.UPLOADS].create(
        {
            "kind": "parts",
            "tenant": request[TENANT],
            "scope": _scope(request),
            "content_type": body.content_type,
            "extension": extension if _EXTENSION.match(extension or "") else "",
            "filename": body.filename or "",
            "workfile_lifetime_s": settings.workfile_lifetime_s,
        },
        lifetime,
    )
    log.info("upload_session_created", upload_id=upload_id)
    return web.json_response({"session": {"id": upload_id}})


async def put_part(request: web.Request) -> web.Response:
    settings, uploads = request.app[keys.SETTINGS], request.app[keys.UPLOADS]
    record = await _session(request)
    m = _RANGE.match(request.headers.get("Content-Range", ""))
    if not m:
        raise _error(400, "InvalidContentRange", 'Content-Range must be "start-end" (or "bytes start-end/total")')
    start, end = int(m.group(1)), int(m.group(2))
    total = None if m.group(3) in (None, "*") else int(m.group(3))
    if end < start or (total is not None and end >= total):
        raise _error(400, "InvalidContentRange", "the range is empty or ends past the total")
    if request.content_length is None:
        raise ApiError("LengthRequired", status=411, at="Content-Length", in_="header", message="send Content-Length")
    if request.content_length != end - start + 1:
        raise ApiError(
            "ContentLengthMismatch",
            status=400,
            at="Content-Length",
            in_="header",
            expected={"value": end - start + 1},
            message="Content-Length must equal the range's size",
        )
    if end + 1 > settings.max_upload_bytes:
        raise ApiError(
            "RequestBodyTooLarge", status=413, message=f"uploads are limited to {settings.max_upload_bytes} bytes"
        )
    if total is not None and record.get("total") not in (None, total):
        raise _error(400, "TotalChanged", "the total size differs from earlier parts", total=record["total"])
    try:
        async with uploads.locked(record["id"]) as lock:
            record = await _session(request)  # re-read under the lock
            if record.get("fileId"):
                raise ApiError("UploadSessionSaved", status=409, message="the session was saved already")
            offset = record["offset"]
            resend = (start, end) == (record.get("last_start"), record.get("last_end"))
            if resend:
                digest = hashlib.sha256()
                async for chunk in chunks(request):
                    digest.update(chunk)
                if digest.hexdigest() != record.get("last_sha256"):
                    raise _error(409, "PartConflict", "a different part was already stored for this range")
                return web.json_response({"session": {"id": record["id"]}, "offset": offset})
            if start != offset:
                code = "PartGap" if start > offset else "PartOverlap"
                raise _error(409, code, f"the next part must start at byte {offset}", offset=offset)
            digest = hashlib.sha256()
            try:
                segment = await uploads.write(
                    record, request, chunks(request), lock, limit=settings.max_upload_bytes, digest=digest
                )
            except TooLarge as exc:
                raise ApiError(
                    "RequestBodyTooLarge", status=413, message=f"uploads are limited to {exc.limit} bytes"
                ) from None
            if not segment.complete or segment.received != end - start + 1:
                await segment.discard()
                raise _error(400, "IncompletePart", "the part broke off; send it again", offset=offset)
            await uploads.append(record, segment)
            record.update(last_start=start, last_end=end, last_sha256=digest.hexdigest())
            if total is not None:
                record["total"] = total
            await uploads.save(record)
    except UploadBusy:
        raise ApiError("UploadBusy", status=409, message="another part of this upload is being written") from None
    return web.json_response({"session": {"id": record["id"]}, "offset": record["offset"]})


async def save_session(request: web.Request) -> web.Response:
    settings, uploads = request.app[keys.SETTINGS], request.app[keys.UPLOADS]
    record = await _session(request)
    body = await read_model(request, SaveSession, settings.max_json_bytes, optional=True)
    if record.get("total") is not None and record["offset"] != record["total"]:
        raise ApiError(
            "UploadIncomplete",
            status=409,
            message=f"{record['offset']} of {record['total']} bytes received",
            expected={"offset": record["total"]},
            at="body",
        )
    try:
        async with uploads.locked(record["id"]):
            wf = await uploads.finish(record, request.headers.get("Accusoft-Affinity-Token", ""))
    except UploadBusy:
        raise ApiError("UploadBusy", status=409, message="a part of this upload is being written") from None
    await uploads.delete(record["id"])  # "after a successful save, the session is removed"
    created = iso_ms(wf.created_ms)
    log.info("upload_session_saved", upload_id=record["id"], file_id=wf.file_id, size=wf.size)
    return web.json_response(
        {
            "object": {
                "container_id": body.container_id,
                "id": wf.file_id,
                "description": body.description,
                "size": wf.size,
                "created": created,
                "accessed": created,
                "modified": created,
                "content_type": record["content_type"],
                "extension": wf.extension,
                "effective_rights": {
                    "create_access": True,
                    "delete_access": True,
                    "read_access": True,
                    "write_access": True,
                },
                "child_count": 0,
                "signed": False,
                "indexed": False,
                "parent_id": request.match_info.get("entityHandle", ""),
                **workfile_json(wf),
                "sha256": wf.sha256,
            }
        }
    )


async def delete_session(request: web.Request) -> web.Response:
    record = await _session(request)
    uploads = request.app[keys.UPLOADS]
    try:
        # under the upload's lock: a part being written must not bring the session back after the delete
        async with uploads.locked(record["id"]):
            await uploads.delete(record["id"])
    except UploadBusy:
        raise ApiError("UploadBusy", status=409, message="a part of this upload is being written") from None
    log.info("upload_session_cancelled", upload_id=record["id"])
    return web.json_response({})
