"""Enqueueing viewer work by job name: initial pages, the remainder, single pages, inspection, text.

countOfInitialPages = N > 0: one interactive job renders pages 0..N-1 first; the remainder is
enqueued on the batch queue only when a page >= N (or the whole count) is wanted. N = 0: the
whole document is enqueued as soon as any page is wanted. A page nobody has rendered yet is
always also enqueued on its own on the interactive queue, so it never waits behind batch work.
"""

from typing import Any

from arq.connections import ArqRedis

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


async def _enqueue(redis: ArqRedis, name: str, job_id: str, queue: str, *args: Any) -> None:
    await redis.enqueue_job(name, *args, _job_id=job_id, _queue_name=queue)


async def request_page(redis: ArqRedis, session: dict[str, Any], variant: Variant, page: int | None) -> None:
    """Make sure `page` (None: just start the document) will be rendered in `variant`."""
    ns, digest = namespace(session), variant.digest()
    sid, payload = session["id"], variant.to_payload()
    initial = session["props"].get("countOfInitialPages", 0)
    if variant == default_variant(session):
        if initial > 0:
            first = list(range(initial))
            await _enqueue(
                redis,
                jobs.VIEW_RENDER,
                jobs.view_job_id(ns, digest, "initial"),
                jobs.INTERACTIVE_QUEUE,
                sid,
                payload,
                first,
                INTERACTIVE,
            )
        if initial == 0 or (page is not None and page >= initial):
            await request_rest(redis, session, variant)
    if page is not None and not (variant == default_variant(session) and page < initial):
        await _enqueue(
            redis,
            jobs.VIEW_RENDER,
            jobs.view_job_id(ns, digest, f"p{page}"),
            jobs.INTERACTIVE_QUEUE,
            sid,
            payload,
            [page],
            INTERACTIVE,
        )


async def request_rest(redis: ArqRedis, session: dict[str, Any], variant: Variant) -> None:
    """Render every page after the initial ones, on the batch queue."""
    start = session["props"].get("countOfInitialPages", 0)
    await _enqueue(
        redis,
        jobs.VIEW_REST,
        jobs.view_job_id(namespace(session), variant.digest(), "rest"),
        jobs.BATCH_QUEUE,
        session["id"],
        variant.to_payload(),
        start,
    )


async def request_inspection(redis: ArqRedis, session: dict[str, Any]) -> None:
    await _enqueue(redis, jobs.VIEW_INSPECT, f"view:inspect:{session['docId']}", jobs.INTERACTIVE_QUEUE, session["id"])


async def request_text(redis: ArqRedis, session: dict[str, Any], pages: list[int]) -> None:
    what = f"text:{pages[0]}-{pages[-1]}"
    await _enqueue(
        redis, jobs.VIEW_TEXT, f"view:{session['docId']}:{what}", jobs.INTERACTIVE_QUEUE, session["id"], pages
    )


async def request_source(redis: ArqRedis, session_id: str) -> None:
    await _enqueue(redis, jobs.VIEW_ACQUIRE, f"view:acquire:{session_id}", jobs.INTERACTIVE_QUEUE, session_id)
