"""Work File API: POST/GET/DELETE /PCCIS/V1/WorkFile, streamed to and from storage."""

import asyncio
import re
from urllib.parse import quote

import structlog
from aiohttp import web

from core.ids import new_affinity_token, new_id
from core.queue import make_durable
from core.records import iso_ms, make_workfile, now_ms
from core.sniff import SNIFF_BYTES, choose_extension, refine, sniff_extension
from core.storage.base import MeteredUpload, workfile_key
from schemas.records import WorkFile
from service import keys
from service.auth import TENANT
from service.body import MalformedMultipart, file_body
from service.errors import InvalidInput, NotFound, PayloadTooLarge, ServerError
from service.params import extension_of, extension_param, filename_param, lifetime_param, path_id, tenant_workfile

log = structlog.get_logger("pagemill.workfiles")

_AFFINITY = re.compile(r"^[A-Za-z0-9+/=_-]{8,128}$")


def workfile_json(wf: WorkFile) -> dict[str, str]:
    return {"fileId": wf.file_id, "fileExtension": wf.extension, "affinityToken": wf.affinity_token}


def _affinity(offered: str) -> str:
    """A client co-locating files sends an earlier token: keep it (one cluster here), else mint one."""
    return offered if _AFFINITY.match(offered) else new_affinity_token()


async def get_workfile_or_404(request: web.Request, file_id: str) -> WorkFile:
    wf = await tenant_workfile(request, file_id)
    if wf is None:
        raise NotFound("WorkFileDoesNotExist")
    return wf


async def receive_workfile(
    request: web.Request, given_extension: str, lifetime_s: int, *, require_known_type: bool = False
) -> WorkFile:
    """Stream the body (raw, or a form's file part) into storage while hashing it and sniffing its first bytes.

    With `require_known_type`, a body whose type is neither detected nor given is refused
    (580 UnrecognizedFileFormat) and nothing is kept.
    """
    settings, store, storage = request.app[keys.SETTINGS], request.app[keys.STORE], request.app[keys.STORAGE]
    limit = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(limit)
    file_id = new_id()
    reservation = request.app[keys.QUOTA].reservation(request[TENANT])
    upload = MeteredUpload(storage.open_upload(), SNIFF_BYTES)
    try:
        if request.content_length:  # known: room for all of it first, so racing uploads cannot starve each other
            await reservation.grow(request.content_length, whole=True)
        body = await file_body(request)
        if not body.found:
            raise InvalidInput("body", message="the multipart form has no file part (a part with a file name)")
        given_extension = given_extension or extension_of(body.filename)
        async for chunk in body.chunks:
            if upload.size + len(chunk) > limit:
                raise PayloadTooLarge(limit)
            await reservation.grow(upload.size + len(chunk))  # QuotaExceeded stops the body here
            upload.write(chunk)
        if upload.size == 0:
            raise InvalidInput(
                "body",
                expected="the file's bytes",
                message="the request body is empty: send the file's bytes (raw, or as a multipart/form-data file part)",
            )
        sniffed = sniff_extension(upload.head)
        if require_known_type and not sniffed and not given_extension:
            raise ServerError(
                "UnrecognizedFileFormat", message="the file type could not be detected; pass FileExtension"
            )
        await upload.commit(workfile_key(file_id))
        sniffed = await refine(sniffed, lambda: storage.local_path(workfile_key(file_id)))
    except BaseException as exc:
        # shielded: a handler cancelled again (the client hung up) still drops the bytes and gives the room back
        await asyncio.shield(asyncio.gather(upload.abort(), reservation.cancel()))
        if isinstance(exc, MalformedMultipart):
            raise InvalidInput("body", message=f"the multipart body cannot be read: {exc}") from None
        raise
    extension = choose_extension(sniffed, given_extension)
    affinity = _affinity(request.headers.get("Accusoft-Affinity-Token", ""))
    expires = now_ms() + lifetime_s * 1000
    wf = make_workfile(file_id, extension, upload.size, upload.sha256, expires, affinity, request[TENANT])
    await store.put_workfile(wf)
    await reservation.settle(workfile_key(file_id), upload.size)
    await make_durable(request.app[keys.REDIS])
    return wf


async def post_workfile(request: web.Request) -> web.Response:
    """POST /PCCIS/V1/WorkFile: store the body (raw, or a multipart form's file part) as a new work file."""
    settings = request.app[keys.SETTINGS]
    given = extension_param(request, "FileExtension")
    lifetime_s = lifetime_param(
        request.query.get("MinSecondsAvailable"),
        "MinSecondsAvailable",
        settings.workfile_lifetime_s,
        settings.max_lifetime_s,
    )
    wf = await receive_workfile(request, given, lifetime_s)
    log.info("workfile_created", file_id=wf.file_id, extension=wf.extension, size=wf.size)
    return web.json_response(workfile_json(wf))


async def get_workfile(request: web.Request) -> web.StreamResponse:
    """Serve the bytes (Range, conditional requests and sendfile come with FileResponse)."""
    file_id = path_id(request, "fileId")
    filename = filename_param(request, "ContentDispositionFilename")
    wf = await get_workfile_or_404(request, file_id)
    return await serve_workfile(request, wf, filename or f"file-{file_id}.{wf.extension}")


def content_disposition(name: str) -> str:
    """attachment; filename="..." (ASCII) plus filename* (RFC 5987) when the name is not ASCII."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        disposition += f"; filename*=UTF-8''{quote(name)}"
    return disposition


async def serve_workfile(request: web.Request, wf: WorkFile, name: str) -> web.StreamResponse:
    """Stream a work file as an attachment called `name`."""
    path = await request.app[keys.STORAGE].local_path(workfile_key(wf.file_id))
    if not path.is_file():
        raise NotFound("WorkFileDoesNotExist")
    headers = {"Content-Type": wf.content_type, "Content-Disposition": content_disposition(name)}
    return web.FileResponse(path, headers=headers)


async def get_workfile_info(request: web.Request) -> web.Response:
    wf = await get_workfile_or_404(request, path_id(request, "fileId"))
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
    await get_workfile_or_404(request, file_id)
    if not await request.app[keys.STORE].delete_workfile(file_id):
        raise NotFound("WorkFileDoesNotExist")
    await request.app[keys.STORAGE].delete(workfile_key(file_id))
    await request.app[keys.QUOTA].release(workfile_key(file_id))
    log.info("workfile_deleted", file_id=file_id)
    return web.Response(status=204)
