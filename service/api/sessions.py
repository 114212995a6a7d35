"""Viewing Session API: create, read, delete sessions; provide their documents; notifications."""

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from core import triggers
from core.ids import new_affinity_token
from core.records import iso_ms, now_ms
from core.sessions import source_lifetime_s
from core.storage.base import workfile_key
from schemas.viewing import SessionStarted, SessionStopped, SourceRef, ViewingSessionProperties, document_id
from service import keys
from service.api.workfiles import receive_workfile, serve_workfile
from service.auth import SESSION_ID, TENANT
from service.errors import ApiError, InvalidInput, NotFound
from service.params import extension_param, filename_param, tenant_workfile
from service.validation import check_watermarks, read_model

log = structlog.get_logger("pagemill.viewing")

_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,16}$")
RENDER_DEFAULTS = {"flash": {"optimizationLevel": 1}, "html5": {"alwaysUseRaster": False, "rasterResolution": 150}}


def stopped_error(stopped: dict[str, Any]) -> ApiError:
    """What every request of a stopped session gets: the status and message it was stopped with."""
    message = stopped["endUserMessage"]
    return ApiError(
        "SessionStopped",
        message=message,
        status=stopped["httpStatus"],
        reason=message,
        headers={"Accusoft-Status-Number": str(stopped["accusoftErrorNumber"]), "Accusoft-Status-Message": message},
    )


async def load_session(request: web.Request, session_id: str, *, stopped_ok: bool = False) -> dict[str, Any]:
    session = await request.app[keys.VIEWS].get(session_id) if SESSION_ID.match(session_id) else None
    if session is None or session.get("tenant", "") != request[TENANT]:
        raise NotFound("ViewingSessionDoesNotExist")
    if "stopped" in session and not stopped_ok:
        raise stopped_error(session["stopped"])
    return session


def _path_session_id(request: web.Request) -> str:
    return request.match_info["sessionId"]


def _check_properties(props: ViewingSessionProperties, max_s: int, file_root_set: bool) -> None:
    """The rules of ViewingSessionProperties that a schema cannot say."""
    ext = props.documentExtension
    if ext is not None and ext != "" and not _EXTENSION.match(ext):
        raise InvalidInput(
            "documentExtension", expected={"pattern": "^[A-Za-z0-9]{1,16}$"}, message="no leading period"
        )
    if props.minSecondsAvailable is not None:
        # Only an explicit "full" conflicts: the seed's own example sets minSecondsAvailable alone.
        explicit_full = "serverCaching" in props.model_fields_set and props.serverCaching == "full"
        if explicit_full and props.minSecondsAvailable != 0:
            raise ApiError("InputNotSupportedWithServerCachingEnabled", at="minSecondsAvailable")
        if not 0 <= props.minSecondsAvailable <= max_s:
            raise InvalidInput(
                "minSecondsAvailable",
                expected={"type": "integer", "greaterThanOrEqualTo": 0, "lessThanOrEqualTo": max_s},
            )
    source = props.documentSource or "api"
    if source == "http":
        url = urlsplit(props.externalId or "")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidInput("externalId", message='documentSource "http" needs an http(s) URL in externalId')
    if source == "file":
        if not file_root_set:
            raise InvalidInput("documentSource", message='documentSource "file" is not enabled on this server')
        if not props.externalId:
            raise InvalidInput("externalId", message='documentSource "file" needs a file path in externalId')
    if props.startConverting == "initialPages" and (source == "api" or not props.contentType):
        raise InvalidInput(
            "startConverting",
            message='"initialPages" needs documentSource "http" or "file" and a contentType',
        )


async def post_session(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    props = await read_model(request, ViewingSessionProperties, settings.max_json_bytes)
    _check_properties(props, settings.session_max_s, settings.file_source_root is not None)
    await check_watermarks(request, props.watermarks, "watermarks")
    stored = props.model_dump(mode="json")
    stored["watermarks"] = [mark.model_dump(mode="json", exclude_unset=True) for mark in props.watermarks]
    render = props.render.model_dump(mode="json", exclude_none=True) if props.render else {}
    stored["render"] = {**render, **{k: {**v, **render.get(k, {})} for k, v in RENDER_DEFAULTS.items()}}
    stored["origin"] = stored.get("origin") or {}
    lifetime_s = max(settings.session_lifetime_s, props.minSecondsAvailable or 0)
    session_id = secrets.token_urlsafe(64)
    created = now_ms()
    expires_ms = created + lifetime_s * 1000
    await request.app[keys.VIEWS].create(session_id, stored, created, expires_ms, request[TENANT])
    if props.documentSource in ("http", "file"):
        session = {"id": session_id, "tenant": request[TENANT], "expires_ms": expires_ms}
        await triggers.request_source(request.app[keys.REDIS], session)
    log.info("session_created", session_id=session_id[:12], source=props.documentSource or "api")
    return web.json_response({"viewingSessionId": session_id, "affinityToken": new_affinity_token()})


async def get_session(request: web.Request) -> web.Response:
    session = await load_session(request, _path_session_id(request))
    return web.json_response({**session["props"], "creationTime": iso_ms(session["created_ms"])})


async def delete_session(request: web.Request) -> web.Response:
    session = await load_session(request, _path_session_id(request), stopped_ok=True)
    if session["props"].get("serverCaching", "full") == "full":
        raise ApiError("CannotDeleteCachedViewingSession", status=580)
    storage = request.app[keys.STORAGE]
    records = await request.app[keys.VIEWS].delete(session["id"])
    dropped = await triggers.drop_session_jobs(request.app[keys.REDIS], session["id"])
    for record in records:
        if "storageKey" in record:
            await storage.delete(record["storageKey"])
    if session.get("ownsSource") == "1":  # nothing of a private session outlives it
        await request.app[keys.STORE].delete_workfile(session["fileId"])
        await storage.delete(workfile_key(session["fileId"]))
        await request.app[keys.QUOTA].release(workfile_key(session["fileId"]))
    log.info("session_deleted", session_id=session["id"][:12], jobs_dropped=dropped)
    return web.Response(status=204)


async def _after_source(request: web.Request, session_id: str) -> None:
    """Start conversion now if the viewer already asked for it."""
    session = await request.app[keys.VIEWS].get(session_id)
    if session and session.get("started"):
        await triggers.request_page(request.app[keys.REDIS], session, triggers.default_variant(session), None)


async def put_source_file(request: web.Request) -> web.Response:
    """Stream the document into a work file and make it the session's source."""
    settings, views = request.app[keys.SETTINGS], request.app[keys.VIEWS]
    session = await load_session(request, _path_session_id(request))
    if "fileId" in session:
        raise ApiError("CannotChangeDocument", at="body", in_="body")
    given = extension_param(request, "FileExtension")
    wf = await receive_workfile(request, given, source_lifetime_s(settings, session), require_known_type=True)
    doc_id = document_id(wf.sha256, session["props"].get("password"))
    if await views.set_source(session["id"], wf.file_id, doc_id, wf.extension, owned=True) != 1:
        await request.app[keys.STORE].delete_workfile(wf.file_id)
        await request.app[keys.STORAGE].delete(workfile_key(wf.file_id))
        await request.app[keys.QUOTA].release(workfile_key(wf.file_id))
        raise ApiError("CannotChangeDocument", at="body", in_="body")
    log.info("session_source_uploaded", session_id=session["id"][:12], file_id=wf.file_id, size=wf.size)
    await _after_source(request, session["id"])
    return web.Response(status=200)


async def get_source_file(request: web.Request) -> web.StreamResponse:
    session = await load_session(request, _path_session_id(request))
    filename = filename_param(request, "ContentDispositionFilename")
    wf = await tenant_workfile(request, session.get("fileId"))
    if wf is None:
        raise ApiError("DocumentNotProvidedYet", at="fileId")
    return await serve_workfile(request, wf, f"{filename or f'file-{wf.file_id}'}.{wf.extension}")


async def put_source_ref(request: web.Request) -> web.Response:
    settings, views = request.app[keys.SETTINGS], request.app[keys.VIEWS]
    session = await load_session(request, _path_session_id(request))
    ref = await read_model(request, SourceRef, settings.max_json_bytes)
    wf = await tenant_workfile(request, ref.fileId)
    if wf is None:
        raise ApiError("NotFound", at="fileId")
    if "fileId" in session:
        raise ApiError("CannotChangeDocument", at="fileId")
    doc_id = document_id(wf.sha256, session["props"].get("password"))
    if await views.set_source(session["id"], wf.file_id, doc_id, wf.extension, owned=False) != 1:
        raise ApiError("CannotChangeDocument", at="fileId")
    await _after_source(request, session["id"])
    return web.Response(status=200)


async def get_file_id(request: web.Request) -> web.Response:
    session = await load_session(request, _path_session_id(request))
    if "fileId" not in session:
        raise ApiError("DocumentNotProvidedYet", at="fileId")
    return web.json_response({"fileId": session["fileId"]})


async def post_session_started(request: web.Request) -> web.Response:
    """Start converting (now, or as soon as the document arrives)."""
    settings, views = request.app[keys.SETTINGS], request.app[keys.VIEWS]
    session = await load_session(request, _path_session_id(request))
    await read_model(request, SessionStarted, settings.max_json_bytes, optional=True)
    await views.mark_started(session["id"])
    if "fileId" in session:
        await triggers.request_page(request.app[keys.REDIS], session, triggers.default_variant(session), None)
    return web.Response(status=200)


async def post_session_stopped(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    session = await load_session(request, _path_session_id(request), stopped_ok=True)
    stopped = await read_model(request, SessionStopped, settings.max_json_bytes, optional=True)
    await request.app[keys.VIEWS].stop(session["id"], stopped.model_dump())
    # Nothing more is rendered for a stopped session: its queued jobs go now, running ones stop at their
    # next page (another session of the same document asks for what it still needs again).
    dropped = await triggers.drop_session_jobs(request.app[keys.REDIS], session["id"])
    log.info("session_stopped", session_id=session["id"][:12], message=stopped.serverLogMessage, jobs_dropped=dropped)
    return web.Response(status=200)
