"""arq jobs of search contexts (every page's text) and search tasks (matches over a viewing session's
document, with rectangles), page by page with continuations; results are recorded per page once."""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import structlog

from core.errors import DocumentError, RenderCrashed, RenderTimeout, render_failure
from core.processes import end_process
from core.sessions import SessionStore
from core.settings import Settings
from schemas import jobs
from schemas.records import WorkFile
from workers import pool as pool_fns
from workers.jobs import Ctx
from workers.jobs.lifecycle import continue_later, fail, process_job, running, step_deadline
from workers.render.glyphs import Match, Rect
from workers.stage import Source, open_source

log = structlog.get_logger("pagemill.search")

PAGES_PER_CALL = 8
REGEX_BUDGET_S = 5.0  # matching time of one render-pool call, at most (a quarter of the page timeout)
CONTEXT_CHARS = 40


def rect_json(rect: Rect) -> dict[str, float]:
    return {"x": round(rect[0], 2), "y": round(rect[1], 2), "width": round(rect[2], 2), "height": round(rect[3], 2)}


def bounding(rects: list[Rect]) -> Rect:
    x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
    return (x0, y0, max(r[0] + r[2] for r in rects) - x0, max(r[1] + r[3] for r in rects) - y0)


async def tenant_file(ctx: Ctx, record: dict[str, Any], file_id: str, code: str) -> WorkFile:
    """A work file of the process's tenant (the front door checked it; it may have expired since)."""
    wf = await ctx["store"].get_workfile(file_id, record.get("tenant", ""))
    if wf is None:
        raise DocumentError(code, file_id)
    return wf


async def page_count(ctx: Ctx, source: Source) -> int:
    settings: Settings = ctx["settings"]
    return await ctx["pool"].run(
        pool_fns.count_pages, source.path, source.extension, source.password, timeout_s=settings.page_timeout_s
    )


def batch_groups(ctx: Ctx, todo: list[int], per_call: int = PAGES_PER_CALL) -> list[list[list[int]]]:
    """`todo` in batches of `per_call` pages, grouped by as many as the render pool has processes."""
    batches = [todo[i : i + per_call] for i in range(0, len(todo), per_call)]
    width = max(1, ctx["pool"].processes)
    return [batches[i : i + width] for i in range(0, len(batches), width)]


async def over_pool(
    ctx: Ctx, fn: Callable[..., list[Any]], source: Source, group: list[list[int]], *args: Any
) -> list[tuple[int, Any]]:
    """`fn(source, batch, *args)` (one result per page) in the render pool for every batch of `group` at
    once: (page, result) pairs in page order."""
    settings: Settings = ctx["settings"]
    calls = [
        ctx["pool"].run(
            fn, source.path, source.extension, source.password, batch, *args, timeout_s=settings.page_timeout_s
        )
        for batch in group
    ]
    outs = await asyncio.gather(*calls)
    return [pair for batch, out in zip(group, outs, strict=True) for pair in zip(batch, out, strict=True)]


def regex_budget(ctx: Ctx) -> float:
    settings: Settings = ctx["settings"]
    return min(REGEX_BUDGET_S, settings.page_timeout_s / 4)


async def pages_to_do(ctx: Ctx, process_id: str, start: int, count: int) -> list[int]:
    recorded = await ctx["store"].page_records(process_id, list(range(start, count)))
    return [start + i for i, raw in enumerate(recorded) if raw is None]


@process_job
async def extract_text(ctx: Ctx, process_id: str, start: int = 0) -> str:
    """A search context: record the text of every page of its work file, then complete."""
    store = ctx["store"]
    record = await running(ctx, process_id)
    if record is None:
        return "skipped"
    try:
        wf = await tenant_file(ctx, record, record["input"]["fileId"], "WorkFileDoesNotExist")
        source = await open_source(ctx, wf, None)
        count = await page_count(ctx, source)
    except (DocumentError, RenderTimeout, RenderCrashed) as exc:
        await fail(ctx, process_id, render_failure(exc, "open"))
        return "failed"
    await store.set_total(process_id, count)
    todo = await pages_to_do(ctx, process_id, start, count)
    deadline = step_deadline(ctx)
    for group in batch_groups(ctx, todo):
        if time.monotonic() > deadline:
            await continue_later(ctx, jobs.EXTRACT_TEXT, process_id, group[0][0])
            return "continued"
        try:
            done = await over_pool(ctx, pool_fns.text_of_pages, source, group)
        except (DocumentError, RenderTimeout, RenderCrashed) as exc:
            await fail(ctx, process_id, render_failure(exc, "page"))
            return "failed"
        for page, text in done:
            await store.record_page(process_id, page, json.dumps({"text": text}), record["expires_ms"])
        if await store.process_state(process_id) != "processing":
            return "cancelled"
    await end_process(store, ctx["queue"], process_id, "complete", {})
    log.info("text_extracted", pages=count)
    return "complete"


def result_json(page: int, width: float, height: float, term: int, match: Match, context: str) -> str:
    """One search result; `"id":-1` is replaced by its position when it is appended."""
    return json.dumps(
        {
            "id": -1,
            "pageIndex": page,
            "searchTermIndex": term,
            "startIndexInPage": match.start,
            "text": match.text,
            "context": context,
            "boundingRectangle": rect_json(bounding(match.rects)),
            "lineRectangles": [rect_json(r) for r in match.rects],
            "pageData": {"width": round(width, 2), "height": round(height, 2)},
        },
        separators=(",", ":"),
    )


@process_job
async def search_text(ctx: Ctx, process_id: str, start: int = 0) -> str:
    """A search task: every match of its terms in the viewing session's document, page by page."""
    store = ctx["store"]
    record = await running(ctx, process_id)
    if record is None:
        return "skipped"
    session = await SessionStore(ctx["queue"]).get(record["params"]["sessionId"])
    if session is None or "fileId" not in session:
        await fail(ctx, process_id, "ViewingSessionDoesNotExist")
        return "failed"
    terms = [(t["pattern"], t["caseSensitive"]) for t in record["input"]["searchTerms"]]
    try:
        wf = await tenant_file(ctx, record, session["fileId"], "DocumentNotProvidedYet")
        source = await open_source(ctx, wf, session["props"].get("password"))
        count = await page_count(ctx, source)
    except (DocumentError, RenderTimeout, RenderCrashed) as exc:
        await fail(ctx, process_id, render_failure(exc, "open"))
        return "failed"
    await store.set_total(process_id, count)
    todo = await pages_to_do(ctx, process_id, start, count)
    deadline = step_deadline(ctx)
    found, cap = await store.result_count(process_id), ctx["settings"].max_matches
    for group in batch_groups(ctx, todo):
        if time.monotonic() > deadline:
            await continue_later(ctx, jobs.SEARCH_TEXT, process_id, group[0][0])
            return "continued"
        try:
            done = await over_pool(ctx, pool_fns.search_pages, source, group, terms, cap - found, regex_budget(ctx))
        except (DocumentError, RenderTimeout, RenderCrashed) as exc:
            # A pattern that backtracks without end times out like a page that never renders.
            await fail(ctx, process_id, render_failure(exc, "page"))
            return "failed"
        for page, (width, height, matches) in done:
            kept = matches[: max(0, cap - found)]
            results = [result_json(page, width, height, t, m, ctx_text) for t, m, ctx_text in kept]
            await store.append_results(process_id, page, results, record["expires_ms"])
            found += len(results)
            if len(kept) < len(matches):  # PAGEMILL_MAX_MATCHES: the task ends with what it has, and says so
                await end_process(store, ctx["queue"], process_id, "complete", {"output": {"limitReached": True}})
                log.info("search_limit_reached", pages=count, results=found)
                return "complete"
        if await store.process_state(process_id) != "processing":
            return "cancelled"
    await end_process(store, ctx["queue"], process_id, "complete", {})
    log.info("search_complete", pages=count, results=found)
    return "complete"
