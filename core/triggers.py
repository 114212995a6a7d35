"""Enqueueing viewer work by job name: initial pages, the remainder, single pages, inspection, text;
and dropping a stopped session's queued work.

countOfInitialPages = N > 0: one interactive job renders pages 0..N-1 first; the remainder is
enqueued on the batch queue only when a page >= N (or the whole count) is wanted. N = 0: the
whole document is enqueued as soon as any page is wanted. A page nobody has rendered yet is
always also enqueued on its own on the interactive queue, so it never waits behind batch work.
Jobs are scored fairly per tenant (core/queue.py) and remembered per session, so stopping or deleting
the session takes its queued work off the queues at once.
"""

from typing import Any

from arq.connections import ArqRedis
from arq.constants import job_key_prefix

from core import keyspace
from core.queue import enqueue
from schemas import jobs
from schemas.viewing import Variant, watermark_digest

INTERACTIVE, BATCH = 0, 1  # render-pool priorities carried in the payload


def namespace(session: dict[str, Any]) -> str:
    """Where a session's pages are cached: shared per document, or private to the session."""
    props = session["props"]
    if props.get("serverCaching") == "none" or props.get("watermarks"):
        return f"s-{session['id']}"
    return session["docId"]


def default_variant(session: dict[str, Any]) -> Variant:
    """What pre-conversion renders: the session's contentType hint (raster), scale 1."""
    hint = session["props"].get("contentType")
    marks = watermark_digest(session["props"].get("watermarks") or [])
    return Variant(content_type="jpeg" if hint == "jpeg" else "png", watermark=marks)


async def session_job(redis: ArqRedis, session: dict[str, Any], name: str, job_id: str, queue: str, *args: Any) -> None:
    """Enqueue a job for `session` (its first argument is the session id), for the session's tenant,
    and remember it with the session."""
    if await enqueue(redis, name, session["id"], *args, job_id=job_id, queue=queue, tenant=session.get("tenant", "")):
        key = keyspace.session_jobs(session["id"])
        async with redis.pipeline(transaction=False) as pipe:
            pipe.sadd(key, job_id)
            pipe.pexpireat(key, session["expires_ms"])
            await pipe.execute()


# KEYS: the queues. ARGV: the job key prefix, the session id, job ids. A job is dropped only while its
# payload still names this session: a viewer job's id is reused once it is done (a shared page can be
# requested again by another session of the same document), and that one is not ours to drop.
_DROP = """
local dropped = 0
for i = 3, #ARGV do
  local data = redis.call('GET', ARGV[1] .. ARGV[i])
  if data and string.find(data, ARGV[2], 1, true) then
    for _, queue in ipairs(KEYS) do dropped = dropped + redis.call('ZREM', queue, ARGV[i]) end
    redis.call('DEL', ARGV[1] .. ARGV[i])
  end
end
return dropped
"""


async def drop_session_jobs(redis: ArqRedis, session_id: str) -> int:
    """Take every job the session enqueued off both queues (a running one stops at its next page, as it
    finds the session stopped or gone). Returns how many were still queued."""
    key = keyspace.session_jobs(session_id)
    job_ids = [m async for m in redis.sscan_iter(key, count=1000)]
    dropped = 0
    for start in range(0, len(job_ids), 500):
        batch = job_ids[start : start + 500]
        dropped += int(await redis.eval(_DROP, len(jobs.QUEUES), *jobs.QUEUES, job_key_prefix, session_id, *batch))
    await redis.delete(key)
    return dropped


async def request_page(redis: ArqRedis, session: dict[str, Any], variant: Variant, page: int | None) -> None:
    """Make sure `page` (None: just start the document) will be rendered in `variant`."""
    ns, digest = namespace(session), variant.digest()
    payload = variant.to_payload()
    initial = session["props"].get("countOfInitialPages", 0)
    if variant == default_variant(session):
        if initial > 0:
            first = list(range(initial))
            await session_job(
                redis,
                session,
                jobs.VIEW_RENDER,
                jobs.view_job_id(ns, digest, "initial"),
                jobs.INTERACTIVE_QUEUE,
                payload,
                first,
                INTERACTIVE,
            )
        if initial == 0 or (page is not None and page >= initial):
            await request_rest(redis, session, variant)
    if page is not None and not (variant == default_variant(session) and page < initial):
        await session_job(
            redis,
            session,
            jobs.VIEW_RENDER,
            jobs.view_job_id(ns, digest, f"p{page}"),
            jobs.INTERACTIVE_QUEUE,
            payload,
            [page],
            INTERACTIVE,
        )


async def request_rest(redis: ArqRedis, session: dict[str, Any], variant: Variant) -> None:
    """Render every page after the initial ones, on the batch queue."""
    start = session["props"].get("countOfInitialPages", 0)
    await session_job(
        redis,
        session,
        jobs.VIEW_REST,
        jobs.view_job_id(namespace(session), variant.digest(), "rest"),
        jobs.BATCH_QUEUE,
        variant.to_payload(),
        start,
    )


async def request_inspection(redis: ArqRedis, session: dict[str, Any]) -> None:
    await session_job(redis, session, jobs.VIEW_INSPECT, f"view:inspect:{session['docId']}", jobs.INTERACTIVE_QUEUE)


async def request_text(redis: ArqRedis, session: dict[str, Any], pages: list[int]) -> None:
    what = f"text:{pages[0]}-{pages[-1]}"
    await session_job(redis, session, jobs.VIEW_TEXT, f"view:{session['docId']}:{what}", jobs.INTERACTIVE_QUEUE, pages)


async def request_source(redis: ArqRedis, session: dict[str, Any]) -> None:
    await session_job(redis, session, jobs.VIEW_ACQUIRE, f"view:acquire:{session['id']}", jobs.INTERACTIVE_QUEUE)
