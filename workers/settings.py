"""The arq worker definition: functions, queue, timeouts, and the resources jobs share via `ctx`.

ctx keys set up in `startup` (and closed in `shutdown`):
    settings  Settings        the validated configuration
    store     Store           typed Redis state (on arq's own connection, ctx["redis"])
    storage   Storage         byte storage
    pool      RenderPool      the rendering process pool
    max_tries int             arq's retry limit, for jobs deciding whether to give up
"""

from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker, func

from schemas import jobs
from service.settings import Settings
from service.storage import LocalStorage
from service.store import Store
from workers import tasks
from workers.pool import RenderPool

MAX_TRIES = 5
HEALTH_CHECK_INTERVAL_S = 5


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["store"] = Store(ctx["redis"])
    ctx["storage"] = LocalStorage(settings.storage_dir)
    ctx["pool"] = RenderPool(settings.render_processes, settings.max_image_pixels)
    ctx["max_tries"] = MAX_TRIES


async def shutdown(ctx: dict[str, Any]) -> None:
    if "pool" in ctx:
        ctx["pool"].close()


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for arq's Worker, all derived from `settings`."""
    assert settings.redis_url, "REDIS_URL is required for a worker"
    timeout = settings.job_timeout_s
    return {
        "functions": [
            func(tasks.plan_conversion, name=jobs.PLAN_CONVERSION, timeout=timeout),
            func(tasks.render_chunk, name=jobs.RENDER_CHUNK, timeout=timeout),
            func(tasks.finish_conversion, name=jobs.FINISH_CONVERSION, timeout=timeout),
        ],
        "cron_jobs": [cron(tasks.sweep_expired, name=jobs.SWEEP_EXPIRED, second={0}, timeout=timeout, unique=True)],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": jobs.QUEUE,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "job_timeout": timeout,
        "max_jobs": settings.worker_max_jobs,
        "max_tries": MAX_TRIES,
        "poll_delay": settings.poll_delay_s,
        "keep_result": 3600,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "job_serializer": jobs.serialize_job,
        "job_deserializer": jobs.deserialize_job,
        "handle_signals": True,
    }


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """A ready arq Worker (tests pass overrides such as burst=True or handle_signals=False)."""
    return Worker(**{**worker_options(settings), **overrides})
