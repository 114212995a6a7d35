"""The worker process: two arq workers (interactive and batch queues) sharing one `ctx`.

ctx keys set up in `startup` (and closed in `shutdown`), shared by both queues' jobs:
    settings  Settings        the validated configuration
    queue     ArqRedis        this process's own Redis connection: state and enqueueing
    store     Store           typed Redis state (on `queue`)
    quota     Quota           the tenants' stored bytes, held to PAGEMILL_TENANT_MAX_BYTES
    storage   Storage         byte storage
    pool      RenderPool      the rendering process pool (interactive calls go first)
    office    Office          LibreOffice converters (the office source stage and docx output)
    max_tries int             arq's retry limit, for jobs deciding whether to give up
    stats     Task            publishes the storage's operation counts to /metrics every few seconds
    readable  Task            publishes the source formats this worker reads (LibreOffice or not)
arq itself sets ctx["redis"] (each worker its own client, so not used here) and per-job job_id/job_try.
Every Redis client comes from core/queue.py (a plain URL or Sentinel, retrying across a failover).
"""

import asyncio
import contextlib
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog
from arq import cron
from arq.constants import in_progress_key_prefix
from arq.worker import Function, Worker, func
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import capabilities, engines, keyspace
from core.metrics import publish_storage_stats_every
from core.queue import connect_redis, redis_client
from core.quota import Quota
from core.records import Store
from core.settings import Settings
from core.storage import open_storage
from schemas import formats, jobs
from workers.jobs import conversions, pages, redaction, search, sweep, webhooks
from workers.office import Office, find_engine
from workers.pool import RenderPool
from workers.wake import WakingWorker, listen_for_wakes

log = structlog.get_logger("pagemill.worker")

MAX_TRIES = 5
# A running job's claim (arq's in-progress key) lasts LEASE_S and is renewed every LEASE_S / 3 while the
# job runs, so a SIGKILLed worker's jobs are taken up by another within LEASE_S (arq's own claim lasts
# the job timeout + 10 s), while a healthy job that runs long is never run twice at once.
LEASE_S = 15.0
HEALTH_CHECK_INTERVAL_S = 5
STATS_INTERVAL_S = 5.0


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["queue"] = await connect_redis(settings)
    ctx["store"] = Store(ctx["queue"])
    ctx["quota"] = Quota(ctx["queue"], settings.tenant_max_bytes)
    ctx["storage"] = open_storage(settings)
    ctx["pool"] = RenderPool(
        settings.render_processes, settings.max_image_pixels, settings.interactive_render_processes
    )
    await ctx["pool"].warm_up()
    engine = (
        await asyncio.to_thread(find_engine, settings.soffice, settings.uno_python)
        if settings.office_processes
        else None
    )
    if engine is None and settings.office_processes:
        log.warning(
            "office_unavailable",
            hint="apt-get install libreoffice-writer-nogui libreoffice-calc-nogui "
            "libreoffice-impress-nogui python3-uno (./dev does this when root)",
        )
    office_dir = settings.data_dir / "office"
    office_dir.mkdir(parents=True, exist_ok=True)
    ctx["office"] = Office(
        engine,
        settings.office_processes,
        Path(tempfile.mkdtemp(prefix="worker-", dir=office_dir)),
        settings.office_timeout_s,
        settings.office_max_docs,
    )
    if settings.office_prestart:
        ctx["office_warm"] = asyncio.create_task(ctx["office"].warm_up())
    ctx["max_tries"] = MAX_TRIES
    ctx["stats"] = asyncio.create_task(
        publish_storage_stats_every(ctx["queue"], ctx["storage"].stats, STATS_INTERVAL_S)
    )
    readable = formats.source_extensions(office=ctx["office"].available)
    ctx["readable"] = asyncio.create_task(capabilities.publish_every(ctx["queue"], readable))
    writable = formats.output_formats(office=ctx["office"].available, svg=engines.installed("pdftocairo"))
    ctx["writable"] = asyncio.create_task(capabilities.publish_every(ctx["queue"], writable, key=keyspace.WRITABLE))
    ctx["ocr_languages"] = asyncio.create_task(_publish_ocr_languages(ctx["queue"]))


async def _publish_ocr_languages(redis: Any) -> None:
    """Say which Tesseract languages this worker has (found in a thread: start-up does not wait for it)."""
    languages = sorted(await asyncio.to_thread(engines.tesseract_languages))
    await capabilities.publish_every(redis, languages, key=keyspace.OCR_LANGUAGES)


async def shutdown(ctx: dict[str, Any]) -> None:
    for task in ("stats", "readable", "writable", "ocr_languages", "office_warm"):
        if task in ctx:
            ctx[task].cancel()
            await asyncio.gather(ctx[task], return_exceptions=True)
    if "office" in ctx:
        await ctx["office"].close()
    if "pool" in ctx:
        ctx["pool"].close()
    if "storage" in ctx:
        await ctx["storage"].close()
    if "queue" in ctx:
        await ctx["queue"].aclose()


def functions(settings: Settings) -> list[Function]:
    timeout = settings.job_timeout_s
    # Viewer jobs keep no result: their deterministic ids must be enqueueable again as soon as the
    # job is done (a cached page can expire and be wanted again); their records are the results.
    return [
        func(conversions.plan_conversion, name=jobs.PLAN_CONVERSION, timeout=timeout),
        func(conversions.render_chunk, name=jobs.RENDER_CHUNK, timeout=timeout),
        func(conversions.finish_conversion, name=jobs.FINISH_CONVERSION, timeout=timeout),
        func(conversions.discard_outputs, name=jobs.DISCARD_OUTPUTS, timeout=timeout),
        func(search.extract_text, name=jobs.EXTRACT_TEXT, timeout=timeout),
        func(search.search_text, name=jobs.SEARCH_TEXT, timeout=timeout),
        func(redaction.create_redactions, name=jobs.CREATE_REDACTIONS, timeout=timeout),
        func(redaction.burn_markup, name=jobs.BURN_MARKUP, timeout=timeout),
        func(redaction.redact_plain_text, name=jobs.REDACT_PLAIN_TEXT, timeout=timeout),
        func(webhooks.deliver_webhook, name=jobs.DELIVER_WEBHOOK, timeout=timeout, max_tries=webhooks.MAX_TRIES),
        func(pages.view_acquire, name=jobs.VIEW_ACQUIRE, timeout=timeout, keep_result=0),
        func(pages.view_inspect, name=jobs.VIEW_INSPECT, timeout=timeout, keep_result=0),
        func(pages.view_render, name=jobs.VIEW_RENDER, timeout=timeout, keep_result=0),
        func(pages.view_rest, name=jobs.VIEW_REST, timeout=timeout, keep_result=0),
        func(pages.view_text, name=jobs.VIEW_TEXT, timeout=timeout, keep_result=0),
        func(pages.view_classify, name=jobs.VIEW_CLASSIFY, timeout=timeout, keep_result=0),
    ]


def worker_options(settings: Settings, queue: str, ctx: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for one of the two arq Workers, all derived from `settings`."""
    assert settings.has_redis, "REDIS_URL or PAGEMILL_REDIS_SENTINELS is required for a worker"
    batch = queue == jobs.BATCH_QUEUE
    return {
        "functions": functions(settings),
        "cron_jobs": [
            cron(
                sweep.sweep_expired,
                name=jobs.SWEEP_EXPIRED,
                second={0},
                timeout=settings.job_timeout_s,
                unique=True,
            )
        ]
        if batch
        else [],
        "redis_pool": redis_client(settings),  # arq closes it with the worker
        "queue_name": queue,
        "ctx": ctx,
        "job_timeout": settings.job_timeout_s,
        "max_jobs": settings.worker_max_jobs,
        "max_tries": MAX_TRIES,
        "poll_delay": settings.poll_delay_s,
        "keep_result": 3600,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "job_serializer": jobs.serialize_job,
        "job_deserializer": jobs.deserialize_job,
        "handle_signals": False,
    }


class WorkerGroup:
    """Both queues' arq workers in one event loop, over one set of resources (ctx)."""

    def __init__(self, settings: Settings, *, lease_s: float = LEASE_S, **overrides: Any) -> None:
        self.ctx: dict[str, Any] = {"settings": settings}
        self.lease_s = lease_s
        self.workers = [WakingWorker(**{**worker_options(settings, q, self.ctx), **overrides}) for q in jobs.QUEUES]
        for worker in self.workers:
            worker.in_progress_timeout_s = min(lease_s, worker.in_progress_timeout_s)
        self._started = False

    async def start(self) -> None:
        await startup(self.ctx)
        self._started = True

    async def run(self) -> None:
        """Start resources, then run both workers until they stop (burst) or are closed."""
        if not self._started:
            await self.start()
        helpers = [
            asyncio.create_task(self._renew_leases()),
            asyncio.create_task(listen_for_wakes(self.ctx["queue"], self.workers)),
        ]
        try:
            await asyncio.gather(*(self._keep_running(w) for w in self.workers))
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _renew_leases(self) -> None:
        """Extend the claim on every job this process is running, for as long as it runs."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            for worker in self.workers:
                running = [job_id for job_id, task in worker.tasks.items() if not task.done()]
                if not running or worker._pool is None:
                    continue
                with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                    async with worker.pool.pipeline(transaction=False) as pipe:
                        for job_id in running:
                            # pexpire never creates a key: a job finished meanwhile keeps no claim
                            pipe.pexpire(in_progress_key_prefix + job_id, int(worker.in_progress_timeout_s * 1000))
                        await pipe.execute()

    async def _keep_running(self, worker: Worker) -> None:
        """Run one arq worker; when Redis goes away (a restart, a Sentinel failover), wait and take up the
        same loop again once it is back (jobs in flight keep running; the ones that need Redis retry by
        themselves). A connection lost inside one of arq's WATCH transactions is a WatchError."""
        delay_s = 0.5
        while True:
            started = time.monotonic()
            try:
                await worker.async_run()
                return
            except (RedisError, OSError) as exc:
                if time.monotonic() - started > 30:
                    delay_s = 0.5  # it had been running fine: this is a new outage
                log.warning("redis_unreachable", queue=worker.queue_name, error=str(exc), retry_in_s=delay_s)
                await asyncio.sleep(delay_s)  # (done jobs' callbacks give their slots back meanwhile)
                _release_leaked_slots(worker)
                delay_s = min(5.0, delay_s * 2)

    async def close(self, grace_s: float = 10.0) -> None:
        """Stop taking jobs, let in-flight ones finish for up to `grace_s`, cancel the rest
        (arq puts a cancelled job back in its queue), then release resources."""
        for w in self.workers:
            w.allow_pick_jobs = False
        deadline = asyncio.get_running_loop().time() + grace_s
        while any(not t.done() for w in self.workers for t in w.tasks.values()):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        for w in self.workers:
            try:
                await w.close()
            except asyncio.CancelledError:
                # arq re-raises the cancellation of the jobs it just cancelled; ours is not cancelled
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        if self._started:
            await shutdown(self.ctx)
            self._started = False


def _release_leaked_slots(worker: Worker) -> None:
    """arq counts a job slot (and takes a semaphore permit) before claiming a job; a Redis error in the
    claim leaves both taken. Give back every slot no running job holds, so the loop never starves."""
    running = sum(1 for task in worker.tasks.values() if not task.done())
    while worker.job_counter > running:
        worker.job_counter -= 1
        worker.sem.release()


async def serve(settings: Settings) -> None:
    """Run a WorkerGroup until SIGINT/SIGTERM."""
    group = WorkerGroup(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(group.run())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    log.info("worker_stopping")
    await group.close()
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    if runner.done() and not runner.cancelled() and runner.exception():
        raise runner.exception()  # type: ignore[misc]
