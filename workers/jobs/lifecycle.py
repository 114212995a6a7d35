"""The job side of a process's life, the same for every process type: the decorator every process job
wears (log context, metrics, infrastructure failures retried or ending the process), failing a
process, and the check a re-delivered job makes before doing anything (core/processes.py is the rest)."""

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from arq import Retry

from core.errors import CodedError, QuotaExceeded, infrastructure
from core.metrics import record_job, record_outcome
from core.processes import end_process, hand_over_webhook
from core.queue import enqueue
from core.storage.base import workfile_key
from schemas import jobs
from schemas.errors import process_message, result_messages
from schemas.records import WorkFile
from workers.jobs import Ctx

log = structlog.get_logger("pagemill.jobs")


def process_job(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Bind job ids to logs; end the process in error on a permanent failure or the last try."""

    @functools.wraps(fn)
    async def wrapper(ctx: Ctx, process_id: str, *args: Any) -> Any:
        with structlog.contextvars.bound_contextvars(
            job_id=ctx.get("job_id"), job_try=ctx.get("job_try"), process_id=process_id
        ):
            started = time.perf_counter()
            try:
                return await fn(ctx, process_id, *args)
            except CodedError as exc:
                # a client-caused failure that concerns the whole process (its outputs would take the tenant
                # past the storage quota): it ends with that errorCode, and what it stored so far goes
                log.info("process_stopped", error_code=exc.code, detail=str(exc))
                await fail(ctx, process_id, exc.code)
                await enqueue(
                    ctx["queue"],
                    jobs.DISCARD_OUTPUTS,
                    process_id,
                    job_id=jobs.discard_job_id(process_id),
                    queue=jobs.BATCH_QUEUE,
                    tenant=await _tenant(ctx, process_id),
                )
                return None
            except Exception as exc:
                found = infrastructure(exc)
                if found is None:
                    # arq does not run a job again after a plain exception: end the process now, or it
                    # would stay "processing" until it expires.
                    log.exception("job_failed")
                    await fail(ctx, process_id, "InternalError")
                    return None
                if found.retry:
                    await retry_or_fail(ctx, process_id, exc, found.process_code)
                else:
                    log.error("job_failed_permanently", error=str(exc), error_code=found.process_code)
                    await fail(ctx, process_id, found.process_code)
            finally:
                await record_job(ctx["queue"], fn.__name__, time.perf_counter() - started)

    return wrapper


async def retry_or_fail(ctx: Ctx, process_id: str, exc: Exception, error_code: str) -> None:
    """A failure that may pass: run the job again later (raises Retry), or end the process on the last try."""
    if ctx.get("job_try", 1) >= ctx["max_tries"]:
        log.error("job_gave_up", error=str(exc))
        await fail(ctx, process_id, error_code)
        return
    log.warning("job_retry", error=str(exc))
    raise Retry(defer=min(30, 2 ** ctx.get("job_try", 1))) from exc


async def fail(ctx: Ctx, process_id: str, error_code: str, results: list[dict[str, Any]] | None = None) -> None:
    await record_outcome(ctx["queue"], error_code=error_code)
    fields: dict[str, Any] = {"errorCode": error_code, "message": process_message(error_code, results)}
    if results is not None:
        fields["output"] = {"results": result_messages(results)}
    if await end_process(ctx["store"], ctx["queue"], process_id, "error", fields):
        log.info("process_failed", error_code=error_code)


async def running(ctx: Ctx, process_id: str) -> dict[str, Any] | None:
    """The process, unless it is gone or already final (a re-delivered job then does nothing but make
    sure the final state's webhook was handed over: the run that ended it may have died just after)."""
    record = await ctx["store"].get_process(process_id)
    if record is not None and record["state"] != "processing" and record.get("webhook"):
        await hand_over_webhook(ctx["store"], ctx["queue"], process_id)
    return record if record is not None and record["state"] == "processing" else None


async def discard(ctx: Ctx, file_ids: list[str]) -> None:
    """Delete work files nobody will see (intermediates, outputs of a cancelled process)."""
    for file_id in file_ids:
        await ctx["store"].delete_workfile(file_id)
        await ctx["storage"].delete(workfile_key(file_id))
        await ctx["quota"].release(workfile_key(file_id))


async def record_output(ctx: Ctx, wf: WorkFile) -> None:
    """Record a file written into place as a work file and charge it to its tenant's quota (QuotaExceeded,
    with the file deleted again, when it does not fit). In that order, so a worker that dies in between
    leaves a file counted for no one rather than a count for no file; a second run of the job sets the
    same size again, so nothing is counted twice."""
    await ctx["store"].put_workfile(wf)
    try:
        await ctx["quota"].charge(wf.tenant, workfile_key(wf.file_id), wf.size)
    except QuotaExceeded:
        await discard(ctx, [wf.file_id])
        raise


def step_deadline(ctx: Ctx) -> float:
    """When a page-by-page job hands the rest of its pages to a continuation: early enough that the
    page in progress still ends inside the job timeout."""
    settings = ctx["settings"]
    return time.monotonic() + settings.job_timeout_s - settings.page_timeout_s - 2


async def continue_later(ctx: Ctx, job: str, process_id: str, start: int) -> None:
    """Enqueue the continuation of a page-by-page job from page `start` (deterministic id: once), scored
    for the process's tenant."""
    await enqueue(
        ctx["queue"],
        job,
        process_id,
        start,
        job_id=jobs.step_job_id(process_id, start),
        queue=jobs.BATCH_QUEUE,
        tenant=await _tenant(ctx, process_id),
    )


async def _tenant(ctx: Ctx, process_id: str) -> str:
    """The tenant a process belongs to (jobs are scored for it, core/queue.py)."""
    record = await ctx["store"].get_process(process_id, parse_json=False)
    return (record or {}).get("tenant", "")
