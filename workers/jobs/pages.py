"""arq jobs serving viewers: acquire a session's source, inspect it, render pages, extract text.

Every record written here is announced on `pm:ready:{key}`, which wakes the web requests
waiting for it. Jobs are idempotent: each page is skipped when its record already exists.
"""

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from arq import Retry

from core import keyspace
from core.errors import (
    DocumentError,
    QuotaExceeded,
    RenderCrashed,
    RenderTimeout,
    SourceError,
    StorageError,
    StorageUnavailable,
    render_failure,
)
from core.ids import new_id
from core.metrics import record_job, record_outcome
from core.records import make_workfile, now_ms
from core.sessions import SessionStore, source_lifetime_s
from core.settings import Settings
from core.sniff import choose_extension, refine, sniff_extension
from core.storage.base import MeteredUpload, workfile_key
from core.triggers import BATCH, INTERACTIVE, default_variant, namespace, request_page, session_job
from schemas import formats, jobs
from schemas.records import WorkFile
from schemas.viewing import Variant, document_id
from workers import pool as pool_fns
from workers.fetch import copy_file, extension_hint, fetch_url, resolve_file
from workers.images import resolve_marks
from workers.jobs import Ctx
from workers.render.glyphs import PageGlyphs
from workers.render.spec import RenderSpec
from workers.stage import open_source

log = structlog.get_logger("pagemill.viewing")

ERROR_TTL_S = 300
CLASSIFY_BUDGET_S = 5.0
TILE_TTL_S = 300


def view_job(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Bind the job and session ids to every log line of the job."""

    @functools.wraps(fn)
    async def wrapper(ctx: Ctx, session_id: str, *args: Any) -> Any:
        with structlog.contextvars.bound_contextvars(
            job_id=ctx.get("job_id"), job_try=ctx.get("job_try"), session_id=session_id[:12]
        ):
            started = time.perf_counter()
            try:
                return await fn(ctx, session_id, *args)
            except StorageUnavailable as exc:
                # the viewer waiting for this page keeps waiting; try again soon
                if ctx.get("job_try", 1) >= ctx["max_tries"]:
                    raise
                log.warning("job_retry", error=str(exc))
                raise Retry(defer=ctx.get("job_try", 1)) from exc
            finally:
                await record_job(ctx["queue"], fn.__name__, time.perf_counter() - started)

    return wrapper


def _views(ctx: Ctx) -> SessionStore:
    views = ctx.get("views")
    if views is None:
        views = ctx["views"] = SessionStore(ctx["queue"])
    return views


async def _load(ctx: Ctx, session_id: str) -> tuple[dict[str, Any], WorkFile] | None:
    """The session and its source work file; None when either is gone (or the session was stopped:
    nothing more is rendered for it)."""
    session = await _views(ctx).get(session_id)
    if session is None or "fileId" not in session or "stopped" in session:
        return None
    wf = await ctx["store"].get_workfile(session["fileId"])
    if wf is None:
        return None
    return session, wf


async def _on_source(ctx: Ctx, session: dict[str, Any], wf: WorkFile, priority: int, fn: Any, *args: Any) -> Any:
    """Run `fn(path, extension, password, *args)` in the render pool on the source (an office source's
    PDF, converted by the first job that needs it), bounded by the page timeout."""
    settings: Settings = ctx["settings"]
    source = await open_source(ctx, wf, session["props"].get("password"))
    return await ctx["pool"].run(
        fn,
        source.path,
        source.extension,
        source.password,
        *args,
        timeout_s=settings.page_timeout_s,
        priority=priority,
    )


async def _ensure_doc(ctx: Ctx, session: dict[str, Any], wf: WorkFile, priority: int) -> dict[str, Any]:
    """The document's page count and sizes (or its error), computed once per document."""
    settings: Settings = ctx["settings"]
    views = _views(ctx)
    info = await views.get_doc(session["docId"])
    if info is not None:
        return info
    try:
        info = await _on_source(ctx, session, wf, priority, pool_fns.inspect_document, settings.render_dpi)
    except (DocumentError, RenderTimeout, RenderCrashed) as exc:
        info = {"error": render_failure(exc, "open")}
    if info.get("pageCount", 0) > settings.max_pages:
        # The same page limit as conversions: nothing of a document over it is ever queued.
        info = {"error": "TooManyPages"}
    ttl = ERROR_TTL_S if "error" in info else settings.page_cache_lifetime_s
    await views.put_doc(session["docId"], info, ttl)
    log.info("document_inspected", pages=info.get("pageCount"), error=info.get("error"))
    if "error" not in info and not info["raster"]:
        # Then, in a job of its own on the batch queue (nobody's page waits for it), which PDF pages are scans.
        job_id = f"view:classify:{session['docId']}"
        await session_job(ctx["queue"], session, jobs.VIEW_CLASSIFY, job_id, jobs.BATCH_QUEUE)
    return info


def _page_ttl(settings: Settings, session: dict[str, Any], ns: str) -> int:
    if ns == session["docId"]:
        return settings.page_cache_lifetime_s
    return max(1, (session["expires_ms"] - now_ms()) // 1000)


async def _render_page(
    ctx: Ctx, session: dict[str, Any], wf: WorkFile, variant: Variant, ns: str, page: int, priority: int
) -> tuple[dict[str, Any], str | None]:
    """Render one page to storage; returns its record and storage key (None on error)."""
    settings: Settings = ctx["settings"]
    try:
        marks = await resolve_marks(ctx, session["props"].get("watermarks") or [])
    except DocumentError as exc:
        return {"error": exc.code}, None
    spec = RenderSpec(
        format=variant.content_type,
        dpi=settings.render_dpi,
        scale=variant.scale,
        max_width=variant.box_width or None,
        max_height=variant.box_height or None,
        max_pixels=settings.max_render_pixels,
        jpeg_quality=variant.quality,
        png_compress_level=settings.png_compress_level,
        watermarks=marks,
        tile=variant.tile,
    )
    ext = formats.by_output(variant.content_type).extension
    tmp = ctx["storage"].scratch_path("." + ext)
    try:
        rendered = await _on_source(ctx, session, wf, priority, pool_fns.render_unit, page, spec, str(tmp))
    except (DocumentError, RenderTimeout, RenderCrashed) as exc:
        tmp.unlink(missing_ok=True)
        return {"error": render_failure(exc, "page")}, None
    # Named by content: a page rendered twice at once (initial job and a page request) is not
    # replaced, so its file, and the ETag derived from it, stay put for clients.
    storage_key = f"pages/{ns}/{variant.digest()}/{page}-{rendered.sha256[:16]}.{ext}"
    if await ctx["storage"].exists(storage_key):
        tmp.unlink(missing_ok=True)
    else:
        await ctx["storage"].commit_file(tmp, storage_key)
    record = {
        "storageKey": storage_key,
        "width": rendered.width,
        "height": rendered.height,
        "contentType": formats.by_output(variant.content_type).mime,
        "size": rendered.size,
    }
    return record, storage_key


@view_job
async def view_render(
    ctx: Ctx, session_id: str, variant_payload: dict[str, Any], pages: list[int], priority: int
) -> str:
    """Render `pages` of the session's document in a variant, skipping pages already cached."""
    settings: Settings = ctx["settings"]
    loaded = await _load(ctx, session_id)
    if loaded is None:
        return "gone"
    session, wf = loaded
    views = _views(ctx)
    variant = Variant.from_payload(variant_payload)
    ns = namespace(session)
    info = await _ensure_doc(ctx, session, wf, priority)
    ttl = _page_ttl(settings, session, ns)
    if variant.tile:  # every position and size is a file of its own: kept briefly, so they cannot pile up
        ttl = min(ttl, TILE_TTL_S)
    deadline = time.monotonic() + settings.job_timeout_s - settings.page_timeout_s - 2
    for i, page in enumerate(pages):
        key = keyspace.page(ns, variant.digest(), page)
        if await views.get_record(key) is not None:
            continue
        if i > 0 and not await views.is_live(session_id):
            log.info("session_stopped_rendering", rendered=i, left=len(pages) - i)
            return "stopped"
        if time.monotonic() > deadline:
            rest = pages[i:]
            queue = jobs.INTERACTIVE_QUEUE if priority == INTERACTIVE else jobs.BATCH_QUEUE
            what = f"cont:{rest[0]}-{rest[-1]}"
            await session_job(
                ctx["queue"],
                session,
                jobs.VIEW_RENDER,
                jobs.view_job_id(ns, variant.digest(), what),
                queue,
                variant_payload,
                rest,
                priority,
            )
            return "continued"
        storage_key = None
        if "error" in info:
            record = {"error": info["error"]}
        elif page >= info["pageCount"]:
            record = {"error": "NoSuchPage"}
        else:
            started = time.perf_counter()
            record, storage_key = await _render_page(ctx, session, wf, variant, ns, page, priority)
            log.info("page_rendered", page=page, ms=round((time.perf_counter() - started) * 1000, 1), **record)
        await views.put_record(key, record, ttl if storage_key else min(ttl, ERROR_TTL_S), storage_key)
        await record_outcome(ctx["queue"], pages=1 if storage_key else 0, error_code=record.get("error"))
        if ns != session["docId"]:
            await views.track_private_page(session_id, key, session["expires_ms"])
    return "rendered"


@view_job
async def view_rest(ctx: Ctx, session_id: str, variant_payload: dict[str, Any], start: int) -> str:
    """Split pages start..end into batch render jobs."""
    settings: Settings = ctx["settings"]
    loaded = await _load(ctx, session_id)
    if loaded is None:
        return "gone"
    session, wf = loaded
    info = await _ensure_doc(ctx, session, wf, BATCH)
    if "error" in info:
        return "error"
    ns, digest = namespace(session), Variant.from_payload(variant_payload).digest()
    step = settings.chunk_pages
    for first in range(start, info["pageCount"], step):
        pages = list(range(first, min(first + step, info["pageCount"])))
        await session_job(
            ctx["queue"],
            session,
            jobs.VIEW_RENDER,
            jobs.view_job_id(ns, digest, f"chunk:{first}"),
            jobs.BATCH_QUEUE,
            variant_payload,
            pages,
            BATCH,
        )
    return "enqueued"


@view_job
async def view_classify(ctx: Ctx, session_id: str) -> str:
    """Which PDF pages of the session's document are scans (isRaster), in page order within a time budget;
    a page left unclassified (budget spent, or the job lost) reports "false"."""
    if (loaded := await _load(ctx, session_id)) is None:
        return "gone"
    session, wf = loaded
    info = await _views(ctx).get_doc(session["docId"])
    if info is None or "error" in info or "rasterPages" in info:
        return "skipped"
    settings: Settings = ctx["settings"]
    budget = min(CLASSIFY_BUDGET_S, settings.page_timeout_s / 2)
    try:
        info |= await _on_source(ctx, session, wf, BATCH, pool_fns.classify_pages, budget)
    except (DocumentError, RenderTimeout, RenderCrashed) as exc:
        log.info("pages_unclassified", error_code=render_failure(exc, "open"))
        return "failed"
    await _views(ctx).put_doc(session["docId"], info, settings.page_cache_lifetime_s)
    return "classified"


@view_job
async def view_inspect(ctx: Ctx, session_id: str) -> str:
    """Find the page count and page sizes of the session's document."""
    loaded = await _load(ctx, session_id)
    if loaded is None:
        return "gone"
    info = await _ensure_doc(ctx, *loaded, INTERACTIVE)
    return "error" if "error" in info else "inspected"


@view_job
async def view_text(ctx: Ctx, session_id: str, pages: list[int]) -> str:
    """Extract the text of `pages` (0-based) that is not cached yet."""
    settings: Settings = ctx["settings"]
    loaded = await _load(ctx, session_id)
    if loaded is None:
        return "gone"
    session, wf = loaded
    views = _views(ctx)
    doc_id = session["docId"]
    info = await _ensure_doc(ctx, session, wf, INTERACTIVE)
    existing = await views.get_many([keyspace.text(doc_id, p) for p in pages])
    missing = [p for p, r in zip(pages, existing, strict=True) if r is None]
    if not missing:
        return "cached"
    if "error" in info:
        for page in missing:
            await views.put_record(keyspace.text(doc_id, page), {"error": info["error"]}, ERROR_TTL_S)
        return "error"
    wanted = [p for p in missing if p < info["pageCount"]]
    found = await _on_source(ctx, session, wf, INTERACTIVE, pool_fns.glyphs_of_pages, wanted)
    for page, glyphs in zip(wanted, found, strict=True):
        width, height = info["sizes"][page]
        record = {"number": page, "text": glyphs.text, "width": width, "height": height}
        record["chars"] = char_positions(glyphs, width / glyphs.width if glyphs.width else 1.0)
        await views.put_record(keyspace.text(doc_id, page), record, settings.page_cache_lifetime_s)
    return "extracted"


def char_positions(glyphs: PageGlyphs, px_per_pt: float) -> list[float]:
    """Every character's loose box as x, y, width, height (4 numbers per character of the text, in the
    page image's pixels at scale 1, 0.1 px precision; zeros for characters without geometry)."""
    out: list[float] = []
    for box in glyphs.loose:
        out += (round(v * px_per_pt, 1) for v in box)
    return out


@view_job
async def view_acquire(ctx: Ctx, session_id: str) -> str:
    """Fetch an "http" or "file" document source into a work file and attach it to the session."""
    settings: Settings = ctx["settings"]
    views = _views(ctx)
    session = await views.get(session_id)
    if session is None or "fileId" in session:
        return "skipped"
    props = session["props"]
    source = props.get("externalId") or ""
    upload = MeteredUpload(ctx["storage"].open_upload())
    file_id = new_id()
    try:
        if props.get("documentSource") == "http":
            await fetch_url(
                source,
                upload,
                max_bytes=settings.max_upload_bytes,
                timeout_s=settings.fetch_timeout_s,
                allow_private=settings.allow_private_sources,
            )
        else:
            path = resolve_file(source, settings.file_source_root)
            await copy_file(path, upload, max_bytes=settings.max_upload_bytes)
        given = (props.get("documentExtension") or extension_hint(source)).lower()
        sniffed = sniff_extension(upload.head)
        if not sniffed and not given:
            raise SourceError("UnrecognizedFileFormat")
        await upload.commit(workfile_key(file_id))
        sniffed = await refine(sniffed, lambda: ctx["storage"].local_path(workfile_key(file_id)))
    except (SourceError, StorageError, OSError) as exc:
        await upload.abort()
        if isinstance(exc, StorageUnavailable):
            raise  # not the source's fault: the job is tried again
        code = exc.code if isinstance(exc, SourceError) else "SourceUnavailable"
        log.warning("source_failed", error_code=code, detail=str(exc))
        await views.set_source_error(session_id, code)
        return "failed"
    extension = choose_extension(sniffed, given)
    expires_ms = now_ms() + source_lifetime_s(settings, session) * 1000
    wf = make_workfile(file_id, extension, upload.size, upload.sha256, expires_ms, "", session.get("tenant", ""))
    await ctx["store"].put_workfile(wf)
    try:  # (counted once stored, as a worker's outputs are: see conversions._store_output)
        await ctx["quota"].charge(wf.tenant, workfile_key(file_id), wf.size)
    except QuotaExceeded as exc:
        await ctx["store"].delete_workfile(file_id)
        await ctx["storage"].delete(workfile_key(file_id))
        log.info("source_failed", error_code=exc.code)
        await views.set_source_error(session_id, exc.code)
        return "failed"
    doc_id = document_id(wf.sha256, props.get("password"))
    if await views.set_source(session_id, file_id, doc_id, extension, owned=True) != 1:
        return "raced"
    log.info("source_acquired", file_id=file_id, size=wf.size, extension=extension)
    session = await views.get(session_id)
    if session and (props.get("startConverting") == "initialPages" or session.get("started")):
        await request_page(ctx["queue"], session, default_variant(session), None)
    return "acquired"
