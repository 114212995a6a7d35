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
from pydantic import ValidationError

from core.errors import DocumentError, QuotaExceeded, RenderCrashed, RenderTimeout, render_failure
from core.ids import derive_id
from core.processes import end_process
from core.records import iso_ms, make_workfile, now_ms
from core.settings import Settings
from core.storage.base import Storage, workfile_key
from schemas import jobs
from schemas.markup import Markup
from schemas.records import WorkFile
from workers import pool as pool_fns
from workers.jobs import Ctx
from workers.jobs.lifecycle import continue_later, discard, fail, process_job, record_output, running, step_deadline
from workers.jobs.search import (
    batch_groups,
    over_pool,
    page_count,
    pages_to_do,
    rect_json,
    regex_budget,
    tenant_file,
)
from workers.render.assemble import PdfPart, build_pdf
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
    await record_output(ctx, wf)


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
    recorded = await store.page_records(process_id, list(range(count)))
    todo = [page for page, raw in enumerate(recorded) if raw is None and page >= start]
    made = sum(len(json.loads(raw)) for raw in recorded if raw)
    cap = ctx["settings"].max_matches
    terms = [(rule["find"]["pattern"], True) for rule in rules]
    created = iso_ms(record["created_ms"])
    deadline = step_deadline(ctx)
    for group in batch_groups(ctx, todo):
        if time.monotonic() > deadline:
            await continue_later(ctx, jobs.CREATE_REDACTIONS, process_id, group[0][0])
            return "continued"
        try:
            done = await over_pool(ctx, pool_fns.search_pages, source, group, terms, cap - made, regex_budget(ctx))
        except (DocumentError, RenderTimeout, RenderCrashed) as exc:
            log.info("redaction_page_failed", error_code=render_failure(exc, "page"))
            await fail(ctx, process_id, "MarkupCreationError")
            return "failed"
        for page, (width, height, matches) in done:
            marks = []
            for term, match, _ in sorted(matches, key=lambda item: (item[0], item[1].start)):
                for rect in match.rects:
                    mark = redaction_mark(
                        process_id, created, page, len(marks), rect_json(rect), (width, height), rules[term]
                    )
                    marks.append(mark)
            made += len(marks)
            if made > cap:  # a markup that leaves matches out would look complete: none at all instead
                log.info("redaction_limit_reached", marks=made, limit=cap)
                await fail(ctx, process_id, "MarkupCreationError")
                return "failed"
            await store.record_page(process_id, page, json.dumps(marks), record["expires_ms"])
        if await store.process_state(process_id) != "processing":
            return "cancelled"
    if await store.get_workfile(out_id) is None:
        pages_marks = await store.page_records(process_id, list(range(count)))
        marks = [mark for raw in pages_marks for mark in json.loads(raw or "[]")]
        await store_output(ctx, record, out_id, json.dumps({"marks": marks}).encode(), "json")
    log.info("redactions_created", pages=count)
    return await finish(ctx, process_id, record, {"markupFileId": out_id}, out_id)


MAX_MARKUP_BYTES = 64 * 1024 * 1024


def parse_markup(data: bytes) -> list[dict[str, Any]]:
    """The marks of a markup JSON file; ValueError (not JSON) or ValidationError (not PrizmDoc's schema)."""
    if len(data) > MAX_MARKUP_BYTES:
        raise ValueError("the markup file is too large")
    markup = Markup.model_validate(json.loads(data))
    return [mark.model_dump(exclude_none=True) for mark in markup.marks]


async def load_marks(ctx: Ctx, wf: WorkFile, not_json: str) -> list[dict[str, Any]]:
    """The marks of a markup work file, or DocumentError `not_json` / InvalidMarkup."""
    path = await ctx["storage"].local_path(workfile_key(wf.file_id))
    if wf.size > MAX_MARKUP_BYTES:
        raise DocumentError("InvalidMarkup", "the markup file is too large")
    data = await asyncio.to_thread(path.read_bytes)
    try:
        return await asyncio.to_thread(parse_markup, data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise DocumentError("InvalidMarkup", f"{json_path(first['loc'])}: {first['msg']}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise DocumentError(not_json, str(exc)[:200] or "nested too deeply") from None


def json_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@process_job
async def burn_markup(ctx: Ctx, process_id: str, start: int = 0) -> str:
    """Burn every page that has marks into a one-page PDF (recorded once per page), then assemble the
    output from those pages and the source's other pages, imported untouched."""
    settings: Settings = ctx["settings"]
    store = ctx["store"]
    storage: Storage = ctx["storage"]
    record = await running(ctx, process_id)
    if record is None:
        return "skipped"
    inp = record["input"]
    out_id = derive_id(process_id, "burned")
    try:
        doc_wf = await tenant_file(ctx, record, inp["documentFileId"], "DocumentFileIdDoesNotExist")
        markup_wf = await tenant_file(ctx, record, inp["markupFileId"], "MarkupFileIdDoesNotExist")
        marks = await load_marks(ctx, markup_wf, "RedactionError")
        try:
            source = await open_source(ctx, doc_wf, None)
            count = await page_count(ctx, source)
        except (DocumentError, RenderTimeout, RenderCrashed) as exc:
            log.info("burn_source_unusable", error_code=render_failure(exc, "open"))
            raise DocumentError("RedactionError") from None
        beyond = [i for i, m in enumerate(marks) if m["pageNumber"] > count]
        if beyond:
            raise DocumentError("InvalidMarkup", f"marks[{beyond[0]}].pageNumber: the document has {count} pages")
    except DocumentError as exc:
        log.info("burn_refused", error_code=exc.code, detail=str(exc))
        await fail(ctx, process_id, exc.code)
        return "failed"
    by_page: dict[int, list[dict[str, Any]]] = {}
    for mark in marks:
        by_page.setdefault(mark["pageNumber"] - 1, []).append(mark)
    # A PDF keeps its unmarked pages as they are; an image's pages all become PDF pages here.
    burned = sorted(by_page) if source.extension == "pdf" else list(range(count))
    await store.set_total(process_id, len(burned))
    recorded = dict(zip(burned, await store.page_records(process_id, burned), strict=True))

    async def burn_one(page: int) -> str | None:
        """Burn one page into its one-page PDF work file; None when it could not be burned."""
        unit_id = derive_id(process_id, f"burn:{page}")
        if await store.get_workfile(unit_id) is None:
            tmp = storage.scratch_path(".pdf")
            try:
                await ctx["pool"].run(
                    pool_fns.burn_unit,
                    source.path,
                    source.extension,
                    source.password,
                    page,
                    by_page.get(page, []),
                    settings.burn_dpi,
                    str(tmp),
                    timeout_s=settings.page_timeout_s,
                )
                size, sha256 = await asyncio.to_thread(size_and_digest, tmp)
                await storage.commit_file(tmp, workfile_key(unit_id))
            except (DocumentError, RenderTimeout, RenderCrashed) as exc:
                log.info("burn_page_failed", page=page, error_code=render_failure(exc, "page"))
                return None
            finally:
                tmp.unlink(missing_ok=True)
            wf = make_workfile(unit_id, "pdf", size, sha256, record["expires_ms"], "", record["tenant"])
            await store.put_workfile(wf)
        await store.record_page(process_id, page, json.dumps({"fileId": unit_id}), record["expires_ms"])
        return unit_id

    # As many pages at once as the render pool has processes (each page is independent).
    todo = [page for page in burned if recorded[page] is None]
    deadline = step_deadline(ctx)
    for group in batch_groups(ctx, todo, per_call=1):
        batch = [page for (page,) in group]
        if time.monotonic() > deadline:
            await continue_later(ctx, jobs.BURN_MARKUP, process_id, batch[0])
            return "continued"
        done = await asyncio.gather(*(burn_one(page) for page in batch))
        recorded.update((page, unit_id) for page, unit_id in zip(batch, done, strict=True) if unit_id)
        if None in done:
            await fail(ctx, process_id, "RedactionError")
            return "failed"
        if await store.process_state(process_id) != "processing":
            await discard(ctx, [u for u in done if u])
            return "cancelled"
    units = {page: json.loads(raw)["fileId"] if raw.startswith("{") else raw for page, raw in recorded.items() if raw}
    if await store.get_workfile(out_id) is None:
        parts: list[PdfPart] = []
        for page in range(count):
            if page in units:
                parts.append(PdfPart(str(await storage.local_path(workfile_key(units[page])))))
            elif parts and parts[-1].path == source.path:
                parts[-1] = PdfPart(source.path, source.password, (*parts[-1].pages, page))
            else:
                parts.append(PdfPart(source.path, source.password, (page,)))
        tmp = storage.scratch_path(".pdf")
        try:
            rendered = await ctx["pool"].run(build_pdf, parts, str(tmp), timeout_s=max(5, settings.job_timeout_s - 5))
            await storage.commit_file(tmp, workfile_key(out_id))
        except (DocumentError, RenderTimeout, RenderCrashed) as exc:
            log.info("burn_assembly_failed", error_code=render_failure(exc, "assemble"))
            await fail(ctx, process_id, "RedactionError")
            return "failed"
        finally:
            tmp.unlink(missing_ok=True)
        expires_ms = max(now_ms() + settings.workfile_lifetime_s * 1000, record["expires_ms"])
        wf = make_workfile(
            out_id, "pdf", rendered.size, rendered.sha256, expires_ms, record.get("affinityToken", ""), record["tenant"]
        )
        try:
            await record_output(ctx, wf)
        except QuotaExceeded:
            await discard(ctx, list(units.values()))
            raise
    result = await finish(ctx, process_id, record, {"documentFileId": out_id}, out_id)
    await discard(ctx, list(units.values()))
    log.info("markup_burned", pages=count, burned=len(units))
    return result


@process_job
async def redact_plain_text(ctx: Ctx, process_id: str, start: int = 0) -> str:
    """The document's text, page after page, with what the markup's redactions cover replaced by
    "<Text Redacted>", written with the requested line endings as a txt work file."""
    store = ctx["store"]
    record = await running(ctx, process_id)
    if record is None:
        return "skipped"
    inp = record["input"]
    out_id = derive_id(process_id, "text")
    try:
        doc_wf = await tenant_file(ctx, record, inp["source"]["fileId"], "WorkFileDoesNotExist")
        markup_wf = await tenant_file(ctx, record, inp["markup"]["fileId"], "WorkFileDoesNotExist")
        marks = await load_marks(ctx, markup_wf, "InvalidJson")
        try:
            source = await open_source(ctx, doc_wf, None)
            count = await page_count(ctx, source)
        except (DocumentError, RenderTimeout, RenderCrashed) as exc:
            log.info("plain_text_source_unusable", error_code=render_failure(exc, "open"))
            raise DocumentError("InternalError") from None
    except DocumentError as exc:
        await fail(ctx, process_id, exc.code)
        return "failed"
    by_page: dict[int, list[dict[str, Any]]] = {}
    for mark in marks:
        if mark["type"] in ("RectangleRedaction", "TransparentRectangleRedaction", "TextSelectionRedaction"):
            by_page.setdefault(mark["pageNumber"] - 1, []).append(mark)
    await store.set_total(process_id, count)
    todo = await pages_to_do(ctx, process_id, start, count)
    deadline = step_deadline(ctx)
    for group in batch_groups(ctx, todo):
        if time.monotonic() > deadline:
            await continue_later(ctx, jobs.REDACT_PLAIN_TEXT, process_id, group[0][0])
            return "continued"
        pages = [page for batch in group for page in batch]
        try:
            done = await over_pool(
                ctx, pool_fns.redact_pages, source, group, {p: by_page[p] for p in pages if p in by_page}
            )
        except (DocumentError, RenderTimeout, RenderCrashed) as exc:
            log.info("plain_text_page_failed", error_code=render_failure(exc, "page"))
            await fail(ctx, process_id, "InternalError")
            return "failed"
        for page, lines in done:
            await store.record_page(process_id, page, json.dumps(lines), record["expires_ms"])
        if await store.process_state(process_id) != "processing":
            return "cancelled"
    if await store.get_workfile(out_id) is None:
        ending = inp["dest"]["lineEndings"]
        lines = [
            line for raw in await store.page_records(process_id, list(range(count))) for line in json.loads(raw or "[]")
        ]
        await store_output(ctx, record, out_id, (ending.join(lines) + ending).encode(), "txt")
    log.info("plain_text_redacted", pages=count, marks=len(marks))
    return await finish(ctx, process_id, record, {"fileId": out_id}, out_id)
