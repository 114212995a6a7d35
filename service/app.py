"""The application factory: everything injected, every resource opened and closed in one place."""

import asyncio
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from arq.connections import ArqRedis

from core import keyspace
from core.apikeys import ApiKeys
from core.queue import connect_redis
from core.quota import Quota
from core.records import Store, now_ms
from core.sessions import SessionStore
from core.settings import DEFAULT_MAX_CONCURRENT_UPLOADS, DEFAULT_PUBLIC_ROUTES, Settings
from core.storage import open_storage
from core.storage.base import Storage
from service import keys
from service.api.files import SIGNING_KEY
from service.api.metrics import REQUESTS, count_request
from service.auth import TENANT, authenticate, claimed_tenant
from service.context import REQUEST_ID, REQUEST_ID_HEADER
from service.cors import preflight, response_signal
from service.errors import error_response
from service.gate import BodyGate
from service.keys import VIEWS
from service.openapi import openapi_document
from service.params import check_encoding
from service.pollcache import PollCache
from service.routes import OPERATIONS, ROUTES
from service.uploads import Uploads
from service.waiter import Waiter

log = structlog.get_logger("pagemill.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def front_door(
    keys: ApiKeys,
    log_requests: bool,
    cors_origins: tuple[str, ...] = (),
    public: frozenset[str] = DEFAULT_PUBLIC_ROUTES,
    gate: BodyGate | None = None,
    viewer_requires_key: bool = False,
) -> Any:
    """The one middleware: request id bound to every log line, CORS preflights, authentication, errors
    as JSON, and one log line per request when INFO is enabled. (A single layer: the poll route is hot.)"""

    gate = gate or BodyGate(DEFAULT_MAX_CONCURRENT_UPLOADS, None)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)
        request[REQUEST_ID] = request_id
        # Rebinding replaces the previous request's id when keep-alive requests share a task.
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter() if log_requests else 0.0
        try:
            response = preflight(cors_origins, request) if cors_origins else None
            if response is None:
                check_encoding(request)
                if (claim := authenticate(request, keys, public, viewer_requires_key)) is not None:
                    request[TENANT] = await claimed_tenant(request.app[VIEWS], claim)
                if request.body_exists:
                    with gate.admit(request[TENANT]):
                        response = await handler(request)
                else:
                    response = await handler(request)
        except asyncio.CancelledError:
            # aiohttp cancels a handler whose client hung up (or the server is shutting down): say so, quietly.
            log.info("client_disconnected", method=request.method, path=request.path)
            raise
        except Exception as exc:
            response = error_response(exc)
        if not response.prepared:  # handlers that stream set it themselves
            response.headers[REQUEST_ID_HEADER] = request_id
        count_request(request, response.status)
        if log_requests:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            log.info(
                "request_done",
                method=request.method,
                path=request.path,
                status=response.status,
                duration_ms=duration_ms,
            )
        return response

    return middleware


def body_gate(settings: Settings) -> BodyGate:
    """The bound on bodies in flight; the per-tenant one applies when there are tenants (API keys)."""
    per_tenant = settings.max_concurrent_uploads_per_tenant or max(1, settings.max_concurrent_uploads // 2)
    return BodyGate(settings.max_concurrent_uploads, per_tenant if settings.api_keys.enabled else None)


def create_app(settings: Settings, *, redis: ArqRedis | None = None, storage: Storage | None = None) -> web.Application:
    """Build the front door. Pass `redis`/`storage` to share existing ones (they are then not closed)."""
    log_requests = logging.getLevelName(settings.log_level) <= logging.INFO
    door = front_door(
        settings.api_keys,
        log_requests,
        settings.cors_origins,
        settings.public_routes,
        body_gate(settings),
        settings.viewer_requires_key,
    )
    app = web.Application(middlewares=[door])
    if settings.cors_origins:
        app.on_response_prepare.append(response_signal(settings.cors_origins))
    app[keys.SETTINGS] = settings
    app[REQUESTS] = Counter()
    app[keys.STARTED_MS] = now_ms()
    app[keys.OPENAPI] = openapi_document(OPERATIONS, settings.public_routes)

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        if redis is not None:
            app[keys.REDIS] = redis
        else:
            if not settings.has_redis:
                raise RuntimeError("REDIS_URL (or PAGEMILL_REDIS_SENTINELS) is not set")
            app[keys.REDIS] = await connect_redis(settings)
        app[keys.STORE] = Store(app[keys.REDIS])
        app[keys.QUOTA] = Quota(app[keys.REDIS], settings.tenant_max_bytes)
        app[keys.VIEWS] = SessionStore(app[keys.REDIS])
        yield
        if redis is None:
            await app[keys.REDIS].aclose()

    async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
        app[keys.STORAGE] = storage if storage is not None else open_storage(settings)
        app[keys.UPLOADS] = Uploads(app[keys.REDIS], app[keys.STORAGE], app[keys.STORE], app[keys.QUOTA])
        yield
        if storage is None:
            await app[keys.STORAGE].close()

    async def waiter_ctx(app: web.Application) -> AsyncIterator[None]:
        app[keys.WAITER] = Waiter(app[keys.REDIS])
        app[keys.POLL_CACHE] = PollCache()
        app[keys.WAITER].on_announce(app[keys.POLL_CACHE].announced)
        await app[keys.WAITER].start()
        yield
        await app[keys.WAITER].close()

    async def signing_ctx(app: web.Application) -> AsyncIterator[None]:
        # Configured, or generated once and shared through Redis so every front door agrees.
        if settings.signing_key:
            app[SIGNING_KEY] = settings.signing_key.encode()
        else:
            await app[keys.REDIS].set(keyspace.SIGNING_KEY, secrets.token_hex(32), nx=True)
            app[SIGNING_KEY] = await app[keys.REDIS].get(keyspace.SIGNING_KEY)
        yield

    app.cleanup_ctx.extend([redis_ctx, storage_ctx, waiter_ctx, signing_ctx])
    app.router.add_routes(ROUTES)
    return app
