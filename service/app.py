"""The application factory: everything injected, every resource opened and closed in one place."""

import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from arq.connections import ArqRedis

from service import keys
from service.auth import auth_middleware
from service.errors import error_middleware
from service.fileservice import SIGNING_KEY
from service.queue import connect_redis
from service.routes import ROUTES
from service.sessions import SessionStore
from service.settings import Settings
from service.storage import LocalStorage, Storage
from service.store import Store, now_ms
from service.uploads import Uploads
from service.waiter import Waiter

log = structlog.get_logger("pagemill.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = web.RequestKey("request_id", str)


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id (the client's, when sane) to every log line; log one line per request."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        log.info(
            "request_done",
            method=request.method,
            path=request.path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        structlog.contextvars.unbind_contextvars("request_id")


async def _echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    if REQUEST_ID in request:
        response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]


def create_app(settings: Settings, *, redis: ArqRedis | None = None, storage: Storage | None = None) -> web.Application:
    """Build the front door. Pass `redis`/`storage` to share existing ones (they are then not closed)."""
    app = web.Application(middlewares=[request_context, error_middleware, auth_middleware(settings.api_keys)])
    app[keys.SETTINGS] = settings
    app[keys.STARTED_MS] = now_ms()

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        if redis is not None:
            app[keys.REDIS] = redis
        else:
            if not settings.redis_url:
                raise RuntimeError("REDIS_URL is not set")
            app[keys.REDIS] = await connect_redis(settings.redis_url)
        app[keys.STORE] = Store(app[keys.REDIS])
        app[keys.VIEWS] = SessionStore(app[keys.REDIS])
        yield
        if redis is None:
            await app[keys.REDIS].aclose()

    async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
        app[keys.STORAGE] = storage if storage is not None else LocalStorage(settings.storage_dir)
        app[keys.UPLOADS] = Uploads(app[keys.REDIS], app[keys.STORAGE], app[keys.STORE])
        yield

    async def waiter_ctx(app: web.Application) -> AsyncIterator[None]:
        app[keys.WAITER] = Waiter(app[keys.REDIS])
        await app[keys.WAITER].start()
        yield
        await app[keys.WAITER].close()

    async def signing_ctx(app: web.Application) -> AsyncIterator[None]:
        # Configured, or generated once and shared through Redis so every front door agrees.
        if settings.signing_key:
            app[SIGNING_KEY] = settings.signing_key.encode()
        else:
            await app[keys.REDIS].set("pm:signing-key", secrets.token_hex(32), nx=True)
            app[SIGNING_KEY] = await app[keys.REDIS].get("pm:signing-key")
        yield

    app.cleanup_ctx.extend([redis_ctx, storage_ctx, waiter_ctx, signing_ctx])
    app.on_response_prepare.append(_echo_request_id)
    app.router.add_routes(ROUTES)
    return app
