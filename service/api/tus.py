"""tus 1.0.0 resumable uploads at /tus/files: core, creation, creation-with-upload, expiration,
checksum (sha1, sha256) and termination. A finished upload becomes a work file; its id is
returned in the `Pagemill-File-Id` header (and by GET on the upload)."""

import base64
import hashlib
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import structlog
from aiohttp import web

from core.errors import QuotaExceeded
from core.ids import is_valid_id
from core.sniff import extension_for
from service import keys
from service.api.workfiles import workfile_json
from service.auth import TENANT
from service.body import chunks
from service.errors import ApiError
from service.params import is_number, tenant_workfile
from service.uploads import TooLarge, UploadBusy

log = structlog.get_logger("pagemill.tus")

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,expiration,checksum,termination"
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
OFFSET_TYPE = "application/offset+octet-stream"
FILE_ID_HEADER = "Pagemill-File-Id"
_KEY = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, "Cache-Control": "no-store", **extra}


def _fail(status: int, code: str, message: str) -> ApiError:
    return ApiError(
        code, status=status, message=message, headers=_headers(**({"Tus-Version": VERSION} if status == 412 else {}))
    )


def _check_version(request: web.Request) -> None:
    if request.headers.get("Tus-Resumable") != VERSION:
        raise _fail(412, "UnsupportedTusVersion", f"this server speaks tus {VERSION}")


def parse_metadata(raw: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs (the value may be absent)."""
    found: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, value = pair.partition(" ")
        if not _KEY.match(key) or key in found:
            raise _fail(400, "InvalidUploadMetadata", f"bad metadata key {key!r}")
        try:
            found[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value.strip() else ""
        except ValueError:  # not base64 (non-ASCII included), or not UTF-8
            raise _fail(400, "InvalidUploadMetadata", f"metadata {key!r} is not base64 of UTF-8") from None
    return found


def _expires(record: dict[str, Any]) -> str:
    return format_datetime(datetime.fromtimestamp(record["expires_ms"] / 1000, UTC), usegmt=True)


async def _upload(request: web.Request) -> dict[str, Any]:
    upload_id = request.match_info["uploadId"]
    uploads = request.app[keys.UPLOADS]
    record = await uploads.get(upload_id) if is_valid_id(upload_id) else None
    if record is None or record.get("kind") != "tus" or record.get("tenant", "") != request[TENANT]:
        if is_valid_id(upload_id) and await uploads.expired(upload_id, request[TENANT]):
            raise _fail(410, "UploadExpired", "this upload has expired")
        raise _fail(404, "UploadDoesNotExist", "no such upload")
    return record


def _state_headers(record: dict[str, Any]) -> dict[str, str]:
    headers = _headers(**{"Upload-Offset": str(record["offset"]), "Upload-Expires": _expires(record)})
    if record.get("fileId"):
        headers[FILE_ID_HEADER] = record["fileId"]
    return headers


async def options(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    return web.Response(
        status=204,
        headers={
            "Tus-Resumable": VERSION,
            "Tus-Version": VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(settings.max_upload_bytes),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        },
    )


async def _write(request: web.Request, record: dict[str, Any], claimed_offset: str) -> dict[str, Any]:
    """PATCH semantics: append the body at the offset, verify its checksum, finish when complete."""
    uploads = request.app[keys.UPLOADS]
    checksum = request.headers.get("Upload-Checksum")
    digest = expected = None
    if checksum:
        algorithm, _, value = checksum.strip().partition(" ")
        if algorithm not in CHECKSUMS:
            raise _fail(400, "UnsupportedChecksumAlgorithm", f"use one of {', '.join(CHECKSUMS)}")
        try:
            expected = base64.b64decode(value, validate=True)
        except ValueError:
            raise _fail(400, "InvalidChecksum", "the checksum is not base64") from None
        digest = CHECKSUMS[algorithm]()
    try:
        async with uploads.locked(record["id"]) as lock:
            record = await uploads.get(record["id"]) or record  # re-read under the lock
            if str(record["offset"]) != claimed_offset:
                raise _fail(409, "OffsetMismatch", f"the upload is at offset {record['offset']}")
            try:
                segment = await uploads.write(
                    record, request, chunks(request), lock, limit=record["length"], digest=digest
                )
            except TooLarge:
                raise _fail(413, "UploadLengthExceeded", "the body goes past Upload-Length") from None
            except QuotaExceeded as exc:
                raise _fail(413, exc.code, exc.message or "") from None
            if digest is not None and (not segment.complete or digest.digest() != expected):
                await segment.discard()
                if segment.complete:
                    raise _fail(460, "ChecksumMismatch", "Checksum Mismatch")
                raise _fail(400, "IncompleteChunk", "the chunk broke off before its checksum could be checked")
            await uploads.append(record, segment)
            await uploads.save(record)
            if record["offset"] == record["length"]:
                wf = await uploads.finish(record, request.headers.get("Accusoft-Affinity-Token", ""))
                log.info("tus_upload_finished", upload_id=record["id"], file_id=wf.file_id, size=wf.size)
    except UploadBusy:
        raise _fail(423, "UploadLocked", "another request is writing this upload") from None
    return record


async def create(request: web.Request) -> web.Response:
    _check_version(request)
    settings, uploads = request.app[keys.SETTINGS], request.app[keys.UPLOADS]
    raw_length = request.headers.get("Upload-Length")
    if not is_number(raw_length):
        raise _fail(400, "InvalidUploadLength", "Upload-Length is required (deferred lengths are not supported)")
    length = int(raw_length)
    if length > settings.max_upload_bytes:
        raise _fail(413, "RequestBodyTooLarge", f"uploads are limited to {settings.max_upload_bytes} bytes")
    raw_metadata = request.headers.get("Upload-Metadata", "")
    metadata = parse_metadata(raw_metadata)
    filetype = metadata.get("filetype", "").split(";")[0].strip()
    filename = metadata.get("filename", "")
    extension = filename.rpartition(".")[2] if "." in filename else ""
    if not extension and filetype:
        extension = extension_for(filetype)
    upload_id, record = await uploads.create(
        {
            "kind": "tus",
            "tenant": request[TENANT],
            "length": length,
            "metadata": raw_metadata,
            "filename": filename[:255],
            "extension": extension.lower() if extension.isalnum() and len(extension) <= 16 else "",
            "workfile_lifetime_s": settings.workfile_lifetime_s,
        },
        settings.upload_lifetime_s,
    )
    headers = _headers(Location=f"/tus/files/{upload_id}", **{"Upload-Expires": _expires(record)})
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding", "").lower() == "chunked"
    if has_body and request.content_type != OFFSET_TYPE:
        await uploads.delete(upload_id)
        raise _fail(415, "UnsupportedMediaType", f"a body must be {OFFSET_TYPE}")
    if has_body or length == 0:  # creation-with-upload (the body starts at byte 0); empty uploads finish now
        headers.update(_state_headers(await _write(request, record, "0")))
    log.info("tus_upload_created", upload_id=upload_id, length=length)
    return web.Response(status=201, headers=headers)


async def head(request: web.Request) -> web.Response:
    _check_version(request)
    record = await _upload(request)
    headers = _state_headers(record)
    headers["Upload-Length"] = str(record["length"])
    if record.get("metadata"):
        headers["Upload-Metadata"] = record["metadata"]
    return web.Response(status=200, headers=headers)


async def patch(request: web.Request) -> web.Response:
    _check_version(request)
    if request.content_type != OFFSET_TYPE:
        raise _fail(415, "UnsupportedMediaType", f"Content-Type must be {OFFSET_TYPE}")
    if not is_number(request.headers.get("Upload-Offset")):
        raise _fail(400, "InvalidUploadOffset", "Upload-Offset is required")
    record = await _write(request, await _upload(request), request.headers["Upload-Offset"])
    return web.Response(status=204, headers=_state_headers(record))


async def delete(request: web.Request) -> web.Response:
    _check_version(request)
    record = await _upload(request)
    try:
        async with request.app[keys.UPLOADS].locked(record["id"]):
            await request.app[keys.UPLOADS].delete(record["id"])
    except UploadBusy:
        raise _fail(423, "UploadLocked", "another request is writing this upload") from None
    return web.Response(status=204, headers=_headers())


async def status(request: web.Request) -> web.Response:
    """A pagemill extension: the upload's state as JSON, with the work file once it is complete."""
    record = await _upload(request)
    body: dict[str, Any] = {"uploadId": record["id"], "offset": record["offset"], "length": record["length"]}
    if record.get("fileId"):
        wf = await tenant_workfile(request, record["fileId"])
        if wf is not None:
            body.update(workfile_json(wf))
    return web.json_response(body, headers=_headers())
