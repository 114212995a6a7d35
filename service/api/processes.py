"""What every process route shares beyond conversions: starting a process of a type, and polling
or cancelling one of that type (another type's id, or another tenant's, is 404 as if unknown)."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from core.processes import NewProcess, ProcessType, kind_of, process_json_text, start_process
from core.queue import backlog
from schemas import jobs
from service import keys
from service.api.queuedjobs import cancel_or_409
from service.auth import TENANT
from service.errors import ApiError, InvalidInput, NotFound
from service.params import lifetime_param, path_id

log = structlog.get_logger("pagemill.processes")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def process_response(record: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    body = record.get("_body")  # rendered once per cached record
    if body is None:
        body = record["_body"] = process_json_text(record).encode()
    return web.Response(body=body, content_type="application/json", headers=headers)


async def refuse_if_backlogged(request: web.Request) -> None:
    """Backpressure for the calling tenant only: 429 with Retry-After once PAGEMILL_MAX_QUEUED_JOBS of its
    own jobs wait on the batch queue (other tenants' work is scored ahead of them anyway, core/queue.py)."""
    settings = request.app[keys.SETTINGS]
    queued = await backlog(request.app[keys.REDIS], jobs.BATCH_QUEUE, request[TENANT])
    if queued >= settings.max_queued_jobs:
        retry_s = max(1, min(60, queued // max(1, settings.render_processes * 10)))
        raise ApiError(
            "TooManyQueuedJobs",
            status=429,
            message=f"{queued} of your jobs are waiting; retry later",
            headers={"Retry-After": str(retry_s)},
        )


async def start(
    request: web.Request,
    kind: ProcessType,
    normalised: dict[str, Any],
    min_seconds: int | None,
    *,
    affinity: str = "",
    params: dict[str, Any] | None = None,
) -> web.Response:
    """Record and enqueue a process of `kind` for the caller's tenant; its POST answer (or, for a
    repeated Idempotency-Key with the same body, the first process's)."""
    await refuse_if_backlogged(request)
    settings = request.app[keys.SETTINGS]
    lifetime_s = lifetime_param(
        min_seconds, "minSecondsAvailable", settings.process_lifetime_s, settings.max_lifetime_s, in_="body"
    )
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise InvalidInput("Idempotency-Key", in_="header", expected={"minLength": 1, "maxLength": 255})
    echo = {"input": normalised, "minSecondsAvailable": min_seconds, "params": params, "type": kind.name}
    new = NewProcess(
        kind,
        request[TENANT],
        normalised,
        lifetime_s,
        affinity,
        None,
        idempotency_key,
        hashlib.sha256(json.dumps(echo, sort_keys=True).encode()).hexdigest(),
        params,
    )
    record, replayed = await start_process(request.app[keys.STORE], request.app[keys.REDIS], new)
    if replayed:
        return process_response(record, headers={"Idempotent-Replayed": "true"})
    log.info("process_created", process_id=record["processId"], type=kind.name)
    return process_response(record)


async def own_process(request: web.Request, kind: ProcessType, name: str = "processId") -> dict[str, Any]:
    """The caller's process of `kind` named in the path (JSON fields unparsed), or 404."""
    process_id = path_id(request, name)
    cache = request.app[keys.POLL_CACHE]
    record = cache.get(process_id)
    if record is None:
        record = await request.app[keys.STORE].get_process(process_id, parse_json=False)
        if record is not None:
            cache.put(process_id, record)
    if record is None or record.get("tenant", "") != request[TENANT] or kind_of(record) is not kind:
        raise NotFound("ProcessDoesNotExist")
    return record


def poll(kind: ProcessType, name: str = "processId") -> Handler:
    """GET {collection}/{id}: the process as its POST answered it, now with its state."""

    async def handler(request: web.Request) -> web.Response:
        return process_response(await own_process(request, kind, name))

    return handler


def cancel(kind: ProcessType, name: str = "processId") -> Handler:
    """DELETE {collection}/{id}: cancel (state "error", errorCode "Cancelled"); 409 once it has ended."""

    async def handler(request: web.Request) -> web.Response:
        record = await own_process(request, kind, name)
        await cancel_or_409(request, record["processId"])
        fresh = await request.app[keys.STORE].get_process(record["processId"], parse_json=False)
        return process_response(fresh or record)

    return handler
