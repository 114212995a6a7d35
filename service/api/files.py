"""Versioned file service: every POST of a named file in a namespace stores a new version.

Downloads by name (latest or ?version=N), version listing, deletion, and `secureFilePath`: an
HMAC-signed, expiring link that needs no credentials and fails with 403 once expired or altered.
"""

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import structlog
from aiohttp import web

from core import keyspace
from core.errors import QuotaExceeded
from core.records import now_ms
from core.sniff import content_type_for, sniff_extension
from core.storage.base import MeteredUpload
from service import keys
from service.api.workfiles import content_disposition
from service.auth import TENANT
from service.body import MalformedMultipart, file_body
from service.errors import ApiError
from service.params import is_number

log = structlog.get_logger("pagemill.files")

SIGNING_KEY = web.AppKey("signing_key", bytes)
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")
SIGNED_URL_TTL_S = 3600


def _fail(status: int, code: str, message: str) -> ApiError:
    return ApiError(code, status=status, message=message, extra={"code": status, "status": "false"})


def _names(request: web.Request) -> tuple[str, str]:
    namespace, filename = request.match_info["namespace"], request.match_info["filename"]
    if not _NAMESPACE.match(namespace):
        raise _fail(400, "InvalidNamespace", "namespaces are 1-64 letters, digits, '.', '_' or '-'")
    if not filename or len(filename) > 255 or _BAD_NAME.search(filename) or filename in (".", ".."):
        raise _fail(400, "InvalidFilename", "a file name without path separators or control characters, up to 255")
    return namespace, filename


def versions_key(tenant: str, namespace: str, filename: str) -> str:
    digest = hashlib.sha256(f"{tenant}\x00{namespace}\x00{filename}".encode()).hexdigest()[:32]
    return keyspace.file_versions(digest)


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def sign(secret: bytes, tenant: str, namespace: str, filename: str, version: int, handle: str, expires: int) -> str:
    """The link's signature; it covers the stored file's identity (its handle), not just its name and version,
    so a link dies with its file even if a new file later takes the same name and version number."""
    message = f"{tenant}\n{namespace}\n{filename}\n{version}\n{handle}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _file_json(namespace: str, filename: str, version: dict[str, Any], latest: int) -> dict[str, Any]:
    return {
        "name": filename,
        "namespace": namespace,
        "version": version["version"],
        "acl": "PRIVATE",
        "fileSize": str(version["size"]),
        "file_handle": version["file_handle"],
        "content_type": version["content_type"],
        "s3_token": version["storage_key"],
        "latest_version": latest,
        "last_modified": _stamp(version["last_modified_ms"]),
        "s3_url": f"storage://{version['storage_key']}",
    }


def _secure_path(request: web.Request, namespace: str, filename: str, version: int, handle: str) -> str:
    tenant = request[TENANT]
    expires = int(time.time()) + SIGNED_URL_TTL_S
    signature = sign(request.app[SIGNING_KEY], tenant, namespace, filename, version, handle, expires)
    query = urlencode({"version": version, "tenant": tenant, "expires": expires, "signature": signature})
    path = f"/files/signed/{quote(namespace, safe='')}/{quote(filename, safe='')}?{query}"
    return str(request.url.with_path("/").with_query(None)).rstrip("/") + path


async def _versions(request: web.Request, key: str) -> tuple[int, dict[int, dict[str, Any]]]:
    raw = await request.app[keys.REDIS].hgetall(key)
    latest = int(raw.pop(b"latest", b"0"))
    versions = {int(k.decode()[2:]): json.loads(v) for k, v in raw.items() if k.startswith(b"v:")}
    return latest, versions


async def upload(request: web.Request) -> web.Response:
    """Store the body (raw, or the first file of a multipart form) as the next version."""
    settings, storage, redis = request.app[keys.SETTINGS], request.app[keys.STORAGE], request.app[keys.REDIS]
    namespace, filename = _names(request)
    handle = str(uuid.uuid4())
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    storage_key = f"fs/{handle[:2]}/{handle}"
    reservation = request.app[keys.QUOTA].reservation(request[TENANT])
    upload_ = MeteredUpload(storage.open_upload())
    try:
        if request.content_length:  # known: room for all of it first (see workfiles.receive_workfile)
            await reservation.grow(request.content_length, whole=True)
        async for chunk in (await file_body(request)).chunks:
            if upload_.size + len(chunk) > settings.max_upload_bytes:
                raise _fail(413, "RequestBodyTooLarge", f"files are limited to {settings.max_upload_bytes} bytes")
            await reservation.grow(upload_.size + len(chunk))
            upload_.write(chunk)
        await upload_.commit(storage_key)
    except BaseException as exc:
        await upload_.abort()
        await reservation.cancel()
        if isinstance(exc, MalformedMultipart):  # no boundary, or a broken part: the client's mistake
            raise _fail(400, "InvalidMultipart", f"the multipart body cannot be read: {exc}") from None
        if isinstance(exc, QuotaExceeded):
            raise _fail(413, exc.code, exc.message or "") from None
        raise
    sniffed = sniff_extension(upload_.head)
    key = versions_key(request[TENANT], namespace, filename)
    version_no = int(await redis.hincrby(key, "latest", 1))
    version = {
        "version": version_no,
        "size": upload_.size,
        "sha256": upload_.sha256,
        "file_handle": handle,
        "storage_key": storage_key,
        "content_type": content_type_for(sniffed or extension),
        "last_modified_ms": now_ms(),
    }
    await redis.hset(key, f"v:{version_no}", json.dumps(version))
    await reservation.settle(storage_key, upload_.size)
    log.info("file_version_stored", namespace=namespace, version=version_no, size=upload_.size)
    return web.json_response(
        {
            "code": 200,
            "status": "true",
            "message": "Successfully uploaded file",
            "file": _file_json(namespace, filename, version, version_no),
            "secureFilePath": _secure_path(request, namespace, filename, version_no, handle),
        }
    )


def _pick(versions: dict[int, dict[str, Any]], latest: int, raw: str | None) -> dict[str, Any]:
    if raw is None:
        if not versions:
            raise _fail(404, "FileDoesNotExist", "no such file")
        return versions[max(versions)]
    if not is_number(raw) or int(raw) not in versions:
        raise _fail(404, "VersionDoesNotExist", "no such version")
    return versions[int(raw)]


async def _serve(request: web.Request, filename: str, version: dict[str, Any]) -> web.StreamResponse:
    path = await request.app[keys.STORAGE].local_path(version["storage_key"])
    headers = {"Content-Type": version["content_type"], "Content-Disposition": content_disposition(filename)}
    return web.FileResponse(path, headers=headers)


async def download(request: web.Request) -> web.StreamResponse:
    namespace, filename = _names(request)
    latest, versions = await _versions(request, versions_key(request[TENANT], namespace, filename))
    return await _serve(request, filename, _pick(versions, latest, request.query.get("version")))


async def list_versions(request: web.Request) -> web.Response:
    namespace, filename = _names(request)
    latest, versions = await _versions(request, versions_key(request[TENANT], namespace, filename))
    if not versions:
        raise _fail(404, "FileDoesNotExist", "no such file")
    listed = [_file_json(namespace, filename, versions[n], latest) for n in sorted(versions)]
    return web.json_response({"code": 200, "status": "true", "versions": listed})


async def delete(request: web.Request) -> web.Response:
    """Delete one version (?version=N) or every version of the file."""
    namespace, filename = _names(request)
    key = versions_key(request[TENANT], namespace, filename)
    latest, versions = await _versions(request, key)
    raw = request.query.get("version")
    doomed = [_pick(versions, latest, raw)] if raw is not None else list(versions.values())
    if not doomed:
        raise _fail(404, "FileDoesNotExist", "no such file")
    for version in doomed:
        await request.app[keys.REDIS].hdel(key, f"v:{version['version']}")
        await request.app[keys.STORAGE].delete(version["storage_key"])
        await request.app[keys.QUOTA].release(version["storage_key"])
    if raw is None or len(versions) == 1:
        await request.app[keys.REDIS].delete(key)
    return web.json_response({"code": 200, "status": "true", "message": f"Deleted {len(doomed)} version(s)"})


async def signed_download(request: web.Request) -> web.StreamResponse:
    """The secureFilePath link: valid without credentials until it expires; 403 if altered."""
    namespace, filename = _names(request)
    q = request.query
    try:
        version, expires = int(q["version"]), int(q["expires"])
        tenant, signature = q["tenant"], q["signature"]
    except (KeyError, ValueError):
        raise _fail(403, "InvalidSignature", "the link is incomplete") from None
    _, versions = await _versions(request, versions_key(tenant, namespace, filename))
    handle = versions[version]["file_handle"] if version in versions else ""
    expected = sign(request.app[SIGNING_KEY], tenant, namespace, filename, version, handle, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogatepass")):
        if version not in versions:  # (or the file was deleted: its link is dead either way)
            raise _fail(403, "LinkExpired", "the file this link pointed to no longer exists")
        raise _fail(403, "InvalidSignature", "the link was altered")
    if expires < time.time():
        raise _fail(403, "LinkExpired", "the link has expired")
    return await _serve(request, filename, versions[version])
