"""arq jobs of a conversion: plan -> render chunks -> finish (all in the plan job for a small document);
and the clean-up of a cancelled one.

Every job may run more than once (a killed worker's job is redelivered): outputs have
deterministic ids, files are written to a temporary name and renamed, and state changes are
compare-and-set, so a second run either finds the work done or redoes it identically.
"""

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from core.errors import DocumentError, RenderCrashed, RenderTimeout, StorageError, render_failure
from core.ids import derive_id
from core.metrics import record_outcome
from core.processes import end_process
from core.queue import enqueue
from core.records import Store, make_workfile, now_ms
from core.settings import Settings
from core.storage.base import Storage, workfile_key
from schemas import formats, jobs, languages
from schemas.errors import result_messages
from schemas.records import Plan, UnitResult, WorkFile
from workers import pool as pool_fns
from workers.images import resolve_marks
from workers.jobs import Ctx
from workers.jobs.lifecycle import discard, fail, process_job, record_output, running
from workers.plan import make_plan, one_file_per_page, result_sources
from workers.render import headers
from workers.render.assemble import PdfPart, build_pdf, concat_tiffs
from workers.render.spec import Rendered, RenderSpec
from workers.stage import Source, office_convert, open_source, size_and_digest

log = structlog.get_logger("pagemill.jobs")

CRASH_ATTEMPTS = 3


async def _enqueue_chunk(ctx: Ctx, record: dict[str, Any], chunk: int, start: int) -> None:
    """Enqueue a chunk job (fairly, for the process's tenant); its deterministic id makes a duplicate
    enqueue a no-op."""
    process_id = record["processId"]
    await enqueue(
        ctx["queue"],
        jobs.RENDER_CHUNK,
        process_id,
        chunk,
        start,
        job_id=jobs.chunk_job_id(process_id, chunk, start),
        queue=jobs.BATCH_QUEUE,
        tenant=record.get("tenant", ""),
    )


async def _enqueue_finish(ctx: Ctx, record: dict[str, Any]) -> None:
    process_id = record["processId"]
    await enqueue(
        ctx["queue"],
        jobs.FINISH_CONVERSION,
        process_id,
        job_id=jobs.finish_job_id(process_id),
        queue=jobs.BATCH_QUEUE,
        tenant=record.get("tenant", ""),
    )


def render_spec(
    dest: dict[str, Any], settings: Settings, fmt: str | None = None, watermarks: tuple[dict[str, Any], ...] = ()
) -> RenderSpec:
    fmt = fmt or dest["format"]
    options = dest.get(f"{dest['format']}Options", {})

    def px(name: str) -> int | None:
        value = options.get(name)
        return int(value.strip().removesuffix("px").strip()) if value else None

    return RenderSpec(
        format=fmt,
        dpi=settings.render_dpi,
        max_width=px("maxWidth"),
        max_height=px("maxHeight"),
        max_pixels=settings.max_render_pixels,
        jpeg_quality=settings.jpeg_quality,
        png_compress_level=settings.png_compress_level,
        watermarks=watermarks,
        tool_timeout_s=max(1.0, settings.page_timeout_s - 2),
    )


async def _source_file(ctx: Ctx, file_id: str) -> WorkFile:
    wf = await ctx["store"].get_workfile(file_id)
    if wf is None:
        raise DocumentError("WorkFileDoesNotExist", file_id)
    return wf


async def _store_output(
    ctx: Ctx, out_id: str, tmp_path: Any, rendered: Rendered, extension: str, record: dict[str, Any], expires_ms: int
) -> None:
    """Rename a finished file into place and record it, charged to the tenant (see `record_output`)."""
    await ctx["storage"].commit_file(tmp_path, workfile_key(out_id))
    tenant = record.get("tenant", "")
    affinity = record.get("affinityToken", "")
    wf = make_workfile(out_id, extension, rendered.size, rendered.sha256, expires_ms, affinity, tenant)
    await record_output(ctx, wf)


def _output_expiry(ctx: Ctx, record: dict[str, Any]) -> int:
    settings: Settings = ctx["settings"]
    return max(now_ms() + settings.workfile_lifetime_s * 1000, record["expires_ms"])


@process_job
async def plan_conversion(ctx: Ctx, process_id: str) -> str:
    """Count the sources' pages, decide units and results, enqueue the chunk jobs."""
    store: Store = ctx["store"]
    record = await running(ctx, process_id)
    if record is None:
        return "skipped"
    plan = await store.get_plan(process_id)
    if plan is None:
        settings: Settings = ctx["settings"]
        inp = record["input"]
        if not await _fonts_available(ctx, process_id, inp):
            return "failed"
        counts: list[int] = []
        extensions: list[str] = []
        for src in inp["sources"]:
            try:
                source = await open_source(ctx, await _source_file(ctx, src["fileId"]), src.get("password"))
                counts.append(
                    await ctx["pool"].run(
                        pool_fns.count_pages,
                        source.path,
                        source.extension,
                        source.password,
                        timeout_s=settings.page_timeout_s,
                    )
                )
                extensions.append(source.extension)
            except (DocumentError, RenderTimeout, RenderCrashed) as exc:
                code = render_failure(exc, "open")
                log.info("source_rejected", file_id=src["fileId"], error_code=code)
                await fail(ctx, process_id, "CouldNotConvert", [{"errorCode": code, "sources": [src]}])
                return "failed"
        if inp["dest"]["format"] == "docx":
            await _enqueue_finish(ctx, record)  # LibreOffice writes it there, in a job of its own
            return "planned"
        if sum(counts) > settings.max_pages:
            log.info("process_too_large", pages=sum(counts), limit=settings.max_pages)
            sources = [{"fileId": s["fileId"]} for s in inp["sources"]]
            await fail(ctx, process_id, "CouldNotConvert", [{"errorCode": "TooManyPages", "sources": sources}])
            return "failed"
        # OCR pages take a second or more each: smaller chunks spread them over every render process.
        ocr = inp["dest"].get("pdfOptions", {}).get("ocr")
        chunk = max(1, settings.chunk_pages // 4) if ocr else settings.chunk_pages
        await store.set_plan(process_id, make_plan(inp, counts, extensions, chunk))
        plan = await store.get_plan(process_id)
        assert plan is not None
        log.info("process_planned", pages=len(plan.units), render=len(plan.render), chunks=len(plan.chunks()))
    if one_job(ctx["settings"], record["input"], plan):
        # A small document: its one chunk and its finish run here, in this job, as the jobs they
        # replace would (same plan, unit records, output ids and results), without two more queue trips.
        rendered = await _render_chunk(ctx, process_id, record, plan, 0, 0, finish=False)
        if rendered != "rendered":
            return rendered
        return await _finish(ctx, process_id, record, plan)
    chunks = plan.chunks()
    for k in range(len(chunks)):
        await _enqueue_chunk(ctx, record, k, 0)
    if not chunks:
        await _enqueue_finish(ctx, record)
    return "planned"


def one_job(settings: Settings, inp: dict[str, Any], plan: Plan) -> bool:
    """Whether the plan job renders and finishes the process itself: at most one chunk of at most
    PAGEMILL_ONE_JOB_PAGES pages, and nothing slow (no OCR; docx never gets here)."""
    if inp["dest"].get("pdfOptions", {}).get("ocr"):
        return False
    return len(plan.units) <= settings.one_job_pages and len(plan.chunks()) <= 1


async def _fonts_available(ctx: Ctx, process_id: str, inp: dict[str, Any]) -> bool:
    """A header or footer font this host does not have ends the process as PrizmDoc does."""
    families = [hf.get("fontFamily") for name in ("header", "footer") if (hf := inp["dest"].get(name))]
    if not families:
        return True
    settings: Settings = ctx["settings"]
    missing = await ctx["pool"].run(pool_fns.missing_fonts, families, timeout_s=settings.page_timeout_s)
    if not missing:
        return True
    log.info("font_unavailable", families=missing)
    sources = [{"fileId": s["fileId"]} for s in inp["sources"]]
    await fail(ctx, process_id, "CouldNotConvert", [{"errorCode": headers.UNAVAILABLE, "sources": sources}])
    return False


async def _render_unit(ctx: Ctx, process_id: str, record: dict[str, Any], plan: Plan, u: int) -> UnitResult:
    """Render one unit to an artifact work file with a deterministic id."""
    settings: Settings = ctx["settings"]
    inp = record["input"]
    unit = plan.units[u]
    src = inp["sources"][unit.s]
    dest = inp["dest"]
    try:
        source = await open_source(ctx, await _source_file(ctx, src["fileId"]), src.get("password"))
        if dest["format"] == "pdf":
            # Raster pages of a pdf output become one-page PDFs that the finish job imports and watermarks.
            spec = render_spec(dest, settings, "pdf")
            if ocr := dest.get("pdfOptions", {}).get("ocr"):
                dpi = ocr.get("defaultDpi")
                language = languages.tesseract_code(ocr.get("language", "english")) or "eng"
                spec = replace(spec, ocr_language=language, ocr_default_dpi=(dpi["x"], dpi["y"]) if dpi else None)
        else:
            spec = render_spec(dest, settings, None, await resolve_marks(ctx, dest.get("watermarks") or []))
            if dest.get("header") or dest.get("footer"):
                spec = replace(spec, header=dest.get("header"), footer=dest.get("footer"), page_count=len(plan.units))
    except DocumentError as exc:
        return UnitResult(error_code=exc.code)
    extension = formats.by_output(spec.format).extension
    tmp = ctx["storage"].scratch_path("." + extension)
    for attempt in range(1, CRASH_ATTEMPTS + 1):
        try:
            rendered: Rendered = await ctx["pool"].run(
                pool_fns.render_unit,
                source.path,
                source.extension,
                source.password,
                unit.p,
                spec,
                str(tmp),
                timeout_s=settings.page_timeout_s,
            )
            break
        except OSError as exc:  # the page could not be written (disk full): the process ends in error
            tmp.unlink(missing_ok=True)
            raise StorageError(str(exc)) from exc
        except (DocumentError, RenderTimeout, RenderCrashed) as exc:
            tmp.unlink(missing_ok=True)
            # A crash may be another page's fault (the pool is shared): try again before giving up.
            if isinstance(exc, RenderCrashed) and attempt < CRASH_ATTEMPTS:
                log.warning("page_crashed", page=unit.p + 1, attempt=attempt)
                continue
            log.info("page_failed", page=unit.p + 1, error_code=render_failure(exc, "page"))
            return UnitResult(error_code=render_failure(exc, "page"))
    out_id = derive_id(process_id, f"unit:{u}")
    await _store_output(ctx, out_id, tmp, rendered, extension, record, _output_expiry(ctx, record))
    log.debug("page_rendered", page=unit.p + 1, width=rendered.width, height=rendered.height)
    return UnitResult(file_id=out_id, width=rendered.width, height=rendered.height)


@process_job
async def render_chunk(ctx: Ctx, process_id: str, chunk: int, start: int) -> str:
    """Render the chunk's units not rendered yet; hand over to a continuation before the job timeout."""
    store: Store = ctx["store"]
    record = await running(ctx, process_id)
    if record is None:
        return "skipped"
    plan = await store.get_plan(process_id)
    assert plan is not None, "a chunk job never runs before its plan is stored"
    return await _render_chunk(ctx, process_id, record, plan, chunk, start)


async def _render_chunk(
    ctx: Ctx, process_id: str, record: dict[str, Any], plan: Plan, chunk: int, start: int, *, finish: bool = True
) -> str:
    """Render a chunk's units from `start` on; the chunk that records the last unit enqueues the finish
    job (unless `finish` is False: the caller finishes)."""
    settings: Settings = ctx["settings"]
    store: Store = ctx["store"]
    units = plan.chunks()[chunk][start:] if plan.chunks() else []
    done = await store.unit_results(process_id, units)
    deadline = time.monotonic() + settings.job_timeout_s - settings.page_timeout_s - 2
    count = record["done"]
    for offset, (u, existing) in enumerate(zip(units, done, strict=True)):
        if existing is not None:
            continue
        if time.monotonic() > deadline:
            await _enqueue_chunk(ctx, record, chunk, start + offset)
            return "continued"
        result = await _render_unit(ctx, process_id, record, plan, u)
        count = await store.record_unit(process_id, u, result, record["expires_ms"])
        await record_outcome(ctx["queue"], pages=0 if result.error_code else 1, error_code=result.error_code)
        # The one state check per page (`running` checked before the first): a process cancelled (or
        # failed elsewhere) stops here, and this page goes too, since the clean-up job may have run already.
        if await store.process_state(process_id) != "processing":
            await discard(ctx, [result.file_id] if result.file_id else [])
            return "cancelled"
    if count >= len(plan.render) and finish:
        await _enqueue_finish(ctx, record)
    return "rendered"


async def _text_layers(
    ctx: Ctx, inp: dict[str, Any], plan: Plan, units: list[int], results: dict[int, UnitResult]
) -> dict[int, UnitResult]:
    """The OCR text layers among the results: those of PDF pages (an image page's is part of it)."""
    if not inp["dest"].get("pdfOptions", {}).get("ocr"):
        return {}
    opener = {}
    for s, src in enumerate(inp["sources"]):
        known = formats.by_extension((await _source_file(ctx, src["fileId"])).extension)
        opener[s] = known.opener if known else None
    return {u: results[u] for u in units if u in results and opener[plan.units[u].s] == "pdfium"}


async def _assemble(
    ctx: Ctx, process_id: str, record: dict[str, Any], plan: Plan, g: int, results: dict[int, UnitResult]
) -> tuple[str | None, str | None]:
    """Build one multi-page (or one-page pdf) output; returns (fileId, errorCode)."""
    settings: Settings = ctx["settings"]
    store: Store = ctx["store"]
    storage: Storage = ctx["storage"]
    inp = record["input"]
    fmt = inp["dest"]["format"]
    units = plan.groups[g].units
    out_id = derive_id(process_id, f"out:{g}")
    if await store.get_workfile(out_id) is not None:
        return out_id, None  # assembled by an earlier run of this job
    for u in units:
        if u in results and results[u].error_code:
            return None, results[u].error_code
    ext = formats.by_output(fmt).extension
    tmp = storage.scratch_path("." + ext)
    if fmt == "tiff":
        paths = [str(await storage.local_path(workfile_key(results[u].file_id or ""))) for u in units]
        fn, arg = concat_tiffs, paths
    else:
        parts: list[PdfPart] = []
        layers = await _text_layers(ctx, inp, plan, units, results)
        for u in units:
            unit = plan.units[u]
            if u in results and u not in layers:  # a raster page, already a one-page PDF
                parts.append(PdfPart(str(await storage.local_path(workfile_key(results[u].file_id or "")))))
                continue
            src = inp["sources"][unit.s]
            try:
                source = await open_source(ctx, await _source_file(ctx, src["fileId"]), src.get("password"))
            except DocumentError as exc:
                return None, exc.code
            layer = str(await storage.local_path(workfile_key(r.file_id))) if (r := layers.get(u)) and r.file_id else ""
            last = parts[-1] if parts else None
            if last and last.path == source.path and last.password == source.password:
                parts[-1] = PdfPart(source.path, last.password, (*last.pages, unit.p), (*last.layers, layer))
            else:
                parts.append(PdfPart(source.path, source.password, (unit.p,), (layer,)))
        fn, arg = build_pdf, parts
    try:
        extra: tuple[Any, ...] = ()
        if fmt == "pdf":
            dest = inp["dest"]
            marks = await resolve_marks(ctx, dest["watermarks"]) if dest.get("watermarks") else ()
            extra = (marks, settings.render_dpi, dest.get("header"), dest.get("footer"))
        rendered = await ctx["pool"].run(fn, arg, str(tmp), *extra, timeout_s=max(5, settings.job_timeout_s - 5))
    except (DocumentError, RenderTimeout, RenderCrashed) as exc:
        tmp.unlink(missing_ok=True)
        return None, render_failure(exc, "assemble")
    await _store_output(ctx, out_id, tmp, rendered, ext, record, _output_expiry(ctx, record))
    return out_id, None


async def _finish_docx(ctx: Ctx, process_id: str, record: dict[str, Any]) -> str:
    """One docx from one source: LibreOffice exports a text document directly; anything else (a PDF,
    a spreadsheet, a presentation) goes through its PDF, which LibreOffice reads as a text document."""
    settings: Settings = ctx["settings"]
    store: Store = ctx["store"]
    src = record["input"]["sources"][0]
    out_id = derive_id(process_id, "out:0")
    try:
        wf = await _source_file(ctx, src["fileId"])
        source = await open_source(ctx, wf, src.get("password"))
        pages = await ctx["pool"].run(
            pool_fns.count_pages, source.path, source.extension, source.password, timeout_s=settings.page_timeout_s
        )
        if await store.get_workfile(out_id) is None:
            tmp = ctx["storage"].scratch_path(".docx")
            try:
                fmt = formats.by_extension(wf.extension)
                try:
                    if fmt is None or fmt.opener != "office":
                        raise DocumentError("UnsupportedDestinationFormat")
                    await office_convert(ctx, wf, fmt, src.get("password"), tmp, "docx")
                except DocumentError as exc:
                    if exc.code != "UnsupportedDestinationFormat":
                        raise
                    await _pdf_to_docx(ctx, source, tmp)
                size, sha256 = await asyncio.to_thread(size_and_digest, tmp)
                await _store_output(
                    ctx, out_id, tmp, Rendered(0, 0, size, sha256), "docx", record, _output_expiry(ctx, record)
                )
            finally:
                tmp.unlink(missing_ok=True)
    except (DocumentError, RenderTimeout, RenderCrashed) as exc:
        code = render_failure(exc, "open")
        await fail(ctx, process_id, "CouldNotConvert", [{"errorCode": code, "sources": [{"fileId": src["fileId"]}]}])
        return "failed"
    result = {"fileId": out_id, "pageCount": pages, "sources": [{"fileId": src["fileId"], "pages": ""}]}
    if not await end_process(store, ctx["queue"], process_id, "complete", {"output": {"results": [result]}}):
        await discard(ctx, [out_id])
        return "cancelled"
    log.info("process_complete", results=1)
    return "complete"


async def _pdf_to_docx(ctx: Ctx, source: Source, out: Path) -> None:
    """LibreOffice reads the PDF as a text document; an encrypted one is given to it decrypted (PDFium opened
    it with the password; LibreOffice's PDF import takes none, and fails on owner-password-only files too)."""
    settings: Settings = ctx["settings"]
    plain = ctx["storage"].scratch_path(".pdf")
    try:
        copied = await ctx["pool"].run(
            pool_fns.decrypted_copy,
            source.path,
            source.extension,
            source.password,
            str(plain),
            timeout_s=settings.page_timeout_s,
        )
        await ctx["office"].convert(plain if copied else Path(source.path), out, export="docx", filter_="pdf")
    finally:
        plain.unlink(missing_ok=True)


@process_job
async def finish_conversion(ctx: Ctx, process_id: str) -> str:
    """Assemble multi-page outputs, publish output.results, mark the process complete."""
    store: Store = ctx["store"]
    record = await running(ctx, process_id)
    if record is None:
        return "skipped"
    if record["input"]["dest"]["format"] == "docx":
        return await _finish_docx(ctx, process_id, record)
    plan = await store.get_plan(process_id)
    assert plan is not None
    return await _finish(ctx, process_id, record, plan)


async def _finish(ctx: Ctx, process_id: str, record: dict[str, Any], plan: Plan) -> str:
    store: Store = ctx["store"]
    inp = record["input"]
    dest = inp["dest"]
    unit_results = dict(zip(plan.render, await store.unit_results(process_id, plan.render), strict=True))
    if any(r is None for r in unit_results.values()):
        return "waiting"  # a chunk is still running; its last unit enqueues this job again
    results_by_unit: dict[int, UnitResult] = {u: r for u, r in unit_results.items() if r is not None}
    intermediates: list[str] = []
    results: list[dict[str, Any]] = []
    # One result per page is the rendered page itself, except for pdf: its pages are assembled (imported).
    assembled = dest["format"] == "pdf" or not one_file_per_page(dest)
    for g, group in enumerate(plan.groups):
        if group.error_code:
            results.append({"errorCode": group.error_code, "sources": group.error_sources})
            continue
        sources = result_sources(inp, plan, group.units)
        if assembled:
            file_id, error = await _assemble(ctx, process_id, record, plan, g, results_by_unit)
            intermediates += [r.file_id for u in group.units if (r := results_by_unit.get(u)) and r.file_id]
        else:
            r = results_by_unit[group.units[0]]
            file_id, error = r.file_id, r.error_code
        if error:
            results.append({"errorCode": error, "sources": sources})
        else:
            results.append({"fileId": file_id, "pageCount": len(group.units), "sources": sources})
    fields = {"output": {"results": result_messages(results)}}
    if not await end_process(store, ctx["queue"], process_id, "complete", fields):
        # Cancelled while assembling: nothing of it may stay.
        await discard(ctx, intermediates + [str(r["fileId"]) for r in results if "fileId" in r])
        return "cancelled"
    log.info("process_complete", results=len(results))
    await discard(ctx, intermediates)
    return "complete"


async def discard_outputs(ctx: Ctx, process_id: str) -> int:
    """Delete what a cancelled process rendered or assembled so far (its jobs stop by themselves)."""
    store: Store = ctx["store"]
    plan = await store.get_plan(process_id)
    if plan is None:
        return 0
    units = [r.file_id for r in await store.unit_results(process_id, plan.render) if r is not None and r.file_id]
    outputs = [derive_id(process_id, f"out:{g}") for g in range(len(plan.groups))]
    outputs = [file_id for file_id in outputs if await store.get_workfile(file_id) is not None]
    await discard(ctx, units + outputs)
    log.info("outputs_discarded", process_id=process_id, files=len(units) + len(outputs))
    return len(units) + len(outputs)
