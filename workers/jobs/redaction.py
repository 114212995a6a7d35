"""arq jobs of redaction: redaction creators (regex rules -> markup JSON of RectangleRedactions),
markup burners (markup -> PDF with the marks burned in) and plain-text redactors (markup -> the
document's text with redacted spans replaced). Outputs get deterministic ids; pages are recorded
once, so a job that runs twice, or continues after its time ran out, produces the same file."""

import asyncio
import json
import time
import uuid
from typing import Any

import structlog

from core.errors import DocumentError, RenderCrashed, RenderTimeout, render_failure
from core.ids import derive_id
from core.processes import end_process
from core.records import iso_ms, make_workfile, now_ms
from core.settings import Settings
from core.storage.base import Storage, workfile_key
from schemas import jobs
from workers import pool as pool_fns
from workers.jobs import Ctx
from workers.jobs.lifecycle import continue_later, discard, fail, process_job, running, step_deadline
from workers.jobs.search import PAGES_PER_CALL, page_count, rect_json, tenant_file
from workers.stage import open_source, size_and_digest

log = structlog.get_logger("pagemill.redaction")

REDACTION_DEFAULTS = {"fontColor": "#ffffff", "fillColor": "#000000", "borderColor": "#000000", "borderThickness": 1}


async def store_output(ctx: Ctx, record: dict[str, Any], out_id: str, data: bytes, extension: str) -> None:
    """Write a process's output as the work file `out_id` (temporary file renamed into place)."""
    settings: Settings = ctx["settings"]
    storage: Storage = ctx["storage"]
    tmp = storage.scratch_path("." + extension)
    try:
        await asyncio.to_thread(tmp.write_bytes, data)
        size, sha256 = await asyncio.to_thread(size_and_digest, tmp)
        await storage.commit_file(tmp, workfile_key(out_id))
    finally:
        tmp.unlink(missing_ok=True)
    expires_ms = max(now_ms() + settings.workfile_lifetime_s * 1000, record["expires_ms"])
    wf = make_workfile(out_id, extension, size, sha256, expires_ms, record.get("affinityToken", ""), record["tenant"])
    await ctx["store"].put_workfile(wf)


async def finish(ctx: Ctx, process_id: str, record: dict[str, Any], output: dict[str, Any], out_id: str) -> str:
    """Complete the process with `output`; a process cancelled meanwhile loses its output file."""
    if not await end_process(ctx["store"], ctx["queue"], process_id, "complete", {"output": output}):
        await discard(ctx, [out_id])
        return "cancelled"
    return "complete"


def redaction_mark(
    process_id: str, created: str, page: int, n: int, rect: dict[str, float], size: tuple[float, float], rule: dict
) -> dict[str, Any]:
    """One RectangleRedaction as PrizmDoc's markup JSON writes it (uid derived: the same on a re-run)."""
    options = {k: v for k, v in rule["redactWith"].items() if k != "type"}
    mark: dict[str, Any] = {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pagemill:{process_id}:{page}:{n}")),
        "creationDateTime": created,
        "modificationDateTime": created,
        "rectangle": rect,
        "interactionMode": "Full",
        "pageNumber": page + 1,
        "type": "RectangleRedaction",
        "pageData": {"width": round(size[0], 2), "height": round(size[1], 2)},
    }
    if "reason" in options:
        mark["reason"] = options["reason"]
    for name, default in REDACTION_DEFAULTS.items():
        mark[name] = options.get(name, default)
    mark["data"] = options.get("data") or {}
    mark["conversation"] = {"data": {}}
    return mark


@process_job
async def create_redactions(ctx: Ctx, process_id: str, start: int = 0) -> str:
    """Find every rule's matches, page by page, and write them as one markup JSON work file: one
    RectangleRedaction per match and line, marks of a page in rule order."""
    settings: Settings = ctx["settings"]
    store = ctx["store"]
    record = await running(ctx, process_id)
    if record is None:
        return "skipped"
    rules = record["input"]["rules"]
    out_id = derive_id(process_id, "markup")
    try:
        wf = await tenant_file(ctx, record, record["input"]["source"]["fileId"], "WorkFileDoesNotExist")
        source = await open_source(ctx, wf, None)
        count = await page_count(ctx, source)
    except (DocumentError, RenderTimeout, RenderCrashed) as exc:
        log.info("redaction_source_unusable", error_code=render_failure(exc, "open"))
        await fail(ctx, process_id, "MarkupCreationError")
        return "failed"
    await store.set_total(process_id, count)
    recorded = await store.page_records(process_id, list(range(start, count)))
    todo = [start + i for i, raw in enumerate(recorded) if raw is None]
    terms = [(rule["find"]["pattern"], True) for rule in rules]
    created = iso_ms(record["created_ms"])
    deadline = step_deadline(ctx)
    for i in range(0, len(todo), PAGES_PER_CALL):
        batch = todo[i : i + PAGES_PER_CALL]
        if time.monotonic() > deadline:
            await continue_later(ctx, jobs.CREATE_REDACTIONS, process_id, batch[0])
            return "continued"
        try:
            pages = await ctx["pool"].run(
                pool_fns.search_pages,
                source.path,
                source.extension,
                source.password,
                batch,
                terms,
                timeout_s=settings.page_timeout_s,
            )
        except (DocumentError, RenderTimeout, RenderCrashed) as exc:
            log.info("redaction_page_failed", error_code=render_failure(exc, "page"))
            await fail(ctx, process_id, "MarkupCreationError")
            return "failed"
        for page, (width, height, matches) in zip(batch, pages, strict=True):
            marks = []
            for term, match, _ in sorted(matches, key=lambda item: (item[0], item[1].start)):
                for rect in match.rects:
                    mark = redaction_mark(
                        process_id, created, page, len(marks), rect_json(rect), (width, height), rules[term]
                    )
                    marks.append(mark)
            await store.record_page(process_id, page, json.dumps(marks), record["expires_ms"])
        if await store.process_state(process_id) != "processing":
            return "cancelled"
    if await store.get_workfile(out_id) is None:
        pages_marks = await store.page_records(process_id, list(range(count)))
        marks = [mark for raw in pages_marks for mark in json.loads(raw or "[]")]
        await store_output(ctx, record, out_id, json.dumps({"marks": marks}).encode(), "json")
    log.info("redactions_created", pages=count)
    return await finish(ctx, process_id, record, {"markupFileId": out_id}, out_id)
