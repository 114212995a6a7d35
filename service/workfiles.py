"""Work File API: POST/GET/DELETE /PCCIS/V1/WorkFile, streamed to and from storage."""

import hashlib
import re
from datetime import UTC, datetime
from urllib.parse import quote

import structlog
from aiohttp import web

from schemas.records import WorkFile
from service import keys
from service.errors import NotFound, PayloadTooLarge
from service.ids import new_affinity_token, new_id
from service.params import extension_param, filename_param, lifetime_param, path_id
from service.sniff import SNIFF_BYTES, content_type_for, sniff_extension
from service.storage import workfile_key
from service.store import Store, now_ms

log = structlog.get_logger("pagemill.workfiles")

_AFFINITY = re.compile(r"^[A-Za-z0-9+/=_-]{8,128}$")
_ALIASES = {"jpg": {"jpg", "jpeg", "jpe"}, "tif": {"tif", "tiff"}}
CHUNK_BYTES = 256 * 1024


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch as PrizmDoc's ISO 8601 form: 2015-11-04T19:20:09.280Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def workfile_json(wf: WorkFile) -> dict[str, str]:
    return {"fileId": wf.file_id, "fileExtension": wf.extension, "affinityToken": wf.affinity_token}


def _choose_extension(sniffed: str | None, given: str) -> str:
    """The detected type wins; the client's spelling is kept when it names the same type."""
    if sniffed is None:
        return given or "bin"
    return given if given in _ALIASES.get(sniffed, {sniffed}) else sniffed


def _affinity(offered: str) -> str:
    """A client co-locating files sends an earlier token: keep it (one cluster here), else mint one."""
    return offered if _AFFINITY.match(offered) else new_affinity_token()


async def get_workfile_or_404(store: Store, file_id: str) -> WorkFile:
    wf = await store.get_workfile(file_id)
    if wf is None:
        raise NotFound("WorkFileDoesNotExist")
    return wf


async def post_workfile(request: web.Request) -> web.Response:
    """Stream the raw body into storage while hashing it and sniffing its first bytes."""
    settings, store, storage = request.app[keys.SETTINGS], request.app[keys.STORE], request.app[keys.STORAGE]
    given = extension_param(request, "FileExtension")
    lifetime_s = lifetime_param(
        request.query.get("MinSecondsAvailable"),
        "MinSecondsAvailable",
        settings.workfile_lifetime_s,
        settings.max_lifetime_s,
    )
    limit = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(limit)

    file_id = new_id()
    digest = hashlib.sha256()
    head = b""
    size = 0
    upload = storage.open_upload()
    try:
        async for chunk in request.content.iter_chunked(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(limit)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            digest.update(chunk)
            upload.write(chunk)
        await upload.commit(workfile_key(file_id))
    except BaseException:
        await upload.abort()
        raise

    extension = _choose_extension(sniff_extension(head), given)
    created = now_ms()
    wf = WorkFile(
        file_id=file_id,
        extension=extension,
        content_type=content_type_for(extension),
        size=size,
        sha256=digest.hexdigest(),
        created_ms=created,
        expires_ms=created + lifetime_s * 1000,
        affinity_token=_affinity(request.headers.get("Accusoft-Affinity-Token", "")),
    )
    await store.put_workfile(wf)
    log.info("workfile_created", file_id=file_id, extension=extension, size=size)
    return web.json_response(workfile_json(wf))


async def get_workfile(request: web.Request) -> web.StreamResponse:
    """Serve the bytes (Range, conditional requests and sendfile come with FileResponse)."""
    file_id = path_id(request, "fileId")
    filename = filename_param(request, "ContentDispositionFilename")
    wf = await get_workfile_or_404(request.app[keys.STORE], file_id)
    path = await request.app[keys.STORAGE].local_path(workfile_key(file_id))
    if not path.is_file():
        raise NotFound("WorkFileDoesNotExist")
    name = filename or f"file-{file_id}.{wf.extension}"
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        disposition += f"; filename*=UTF-8''{quote(name)}"
    headers = {"Content-Type": wf.content_type, "Content-Disposition": disposition}
    return web.FileResponse(path, headers=headers)


async def get_workfile_info(request: web.Request) -> web.Response:
    wf = await get_workfile_or_404(request.app[keys.STORE], path_id(request, "fileId"))
    return web.json_response(
        {
            **workfile_json(wf),
            "contentType": wf.content_type,
            "size": wf.size,
            "sha256": wf.sha256,
            "creationDateTime": iso_ms(wf.created_ms),
            "expirationDateTime": iso_ms(wf.expires_ms),
        }
    )


async def delete_workfile(request: web.Request) -> web.Response:
    """Forget the work file, then delete its bytes."""
    file_id = path_id(request, "fileId")
    if not await request.app[keys.STORE].delete_workfile(file_id):
        raise NotFound("WorkFileDoesNotExist")
    await request.app[keys.STORAGE].delete(workfile_key(file_id))
    log.info("workfile_deleted", file_id=file_id)
    return web.Response(status=204)
