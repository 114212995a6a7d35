"""The office source stage: a document LibreOffice reads (office, text, HTML) becomes a PDF work
file once, cached by the tenant, the source's sha256 and its password, so the same document in ten
sessions or conversions is converted once; pages, counts, text, thumbnails, watermarks and
assembly then all work on that PDF. Other sources are opened as they are."""

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from core import keyspace
from core.errors import DocumentError, QuotaExceeded
from core.ids import office_pdf_id
from core.records import Store, make_workfile, now_ms
from core.settings import Settings
from core.storage.base import Storage, workfile_key
from schemas import formats
from schemas.records import WorkFile
from workers.jobs import Ctx
from workers.office import Office
from workers.render import intake

log = structlog.get_logger("pagemill.stage")

ERROR_TTL_S = 300
WAIT_STEP_S = 0.1


@dataclass(frozen=True)
class Source:
    """What the render pool opens: a local file, its extension, its password."""

    path: str
    extension: str
    password: str | None


def pdf_id(wf: WorkFile, password: str | None) -> str:
    """The id of the PDF work file an office source becomes (per tenant: no cross-tenant cache hits)."""
    return office_pdf_id(wf.tenant, wf.sha256, password)


async def open_source(ctx: Ctx, wf: WorkFile, password: str | None) -> Source:
    """The source as the render pool opens it: itself, or (office kinds) its cached PDF, made now if need be."""
    storage: Storage = ctx["storage"]
    fmt = formats.by_extension(wf.extension)
    if fmt is None or fmt.opener != "office":
        return Source(str(await storage.local_path(workfile_key(wf.file_id))), wf.extension, password)
    target = pdf_id(wf, password)
    store: Store = ctx["store"]
    settings: Settings = ctx["settings"]
    deadline = time.monotonic() + 2 * settings.office_timeout_s + 30
    while True:
        if await store.get_workfile(target) is not None:
            return Source(str(await storage.local_path(workfile_key(target))), "pdf", None)
        error = await store.redis.get(keyspace.stage_error(target))
        if error:
            code, _, detail = error.decode().partition(" ")
            raise DocumentError(code, detail)
        token = secrets.token_hex(8)
        lock = keyspace.stage_lock(target)
        if await store.redis.set(lock, token, nx=True, px=int((settings.office_timeout_s + 30) * 1000)):
            try:
                await _convert(ctx, wf, fmt, password, target)
            except DocumentError as exc:
                if exc.code != "QuotaExceeded":  # (that one passes once the tenant frees space: not remembered)
                    await store.redis.set(keyspace.stage_error(target), f"{exc.code} {exc}", ex=ERROR_TTL_S)
                raise
            finally:
                if await store.redis.get(lock) == token.encode():
                    await store.redis.delete(lock)
            continue
        if time.monotonic() > deadline:  # another worker holds the lock and never finishes
            raise DocumentError("ConversionTimeout", "the office document is still being converted elsewhere")
        await asyncio.sleep(WAIT_STEP_S)


async def office_convert(
    ctx: Ctx, wf: WorkFile, fmt: formats.Format, password: str | None, out: Path, export: str = "pdf"
) -> None:
    """LibreOffice reads the work file (text decoded to UTF-8 first, packages checked for bombs) and writes `out`."""
    settings: Settings = ctx["settings"]
    storage: Storage = ctx["storage"]
    local = await storage.local_path(workfile_key(wf.file_id))
    # LibreOffice reads the type from the name as well as the content: give it the canonical one.
    src = storage.scratch_path("." + ("html" if fmt.kind == "email" else fmt.extension))
    try:
        if fmt.kind == "text":
            await ctx["pool"].run(intake.to_utf8, str(local), str(src), timeout_s=settings.office_timeout_s)
        elif fmt.kind == "email":
            await ctx["pool"].run(intake.email_to_html, str(local), str(src), timeout_s=settings.office_timeout_s)
        else:
            src.symlink_to(local)
            limit = settings.office_max_inflated_bytes
            await ctx["pool"].run(intake.check_package, str(local), limit, timeout_s=settings.office_timeout_s)
        office: Office = ctx["office"]
        await office.convert(src, out, export=export, filter_=fmt.office_import, password=password)
        if not out.exists() or out.stat().st_size == 0:
            raise DocumentError("CorruptFile", f"LibreOffice produced no {export}")
    finally:
        src.unlink(missing_ok=True)


async def _convert(ctx: Ctx, wf: WorkFile, fmt: formats.Format, password: str | None, target: str) -> None:
    """LibreOffice turns the source into the PDF work file `target`."""
    settings: Settings = ctx["settings"]
    storage: Storage = ctx["storage"]
    started = time.perf_counter()
    out = storage.scratch_path(".pdf")
    try:
        await office_convert(ctx, wf, fmt, password, out)
        size, sha256 = await asyncio.to_thread(size_and_digest, out)
        await storage.commit_file(out, workfile_key(target))
    finally:
        out.unlink(missing_ok=True)
    expires_ms = max(wf.expires_ms, now_ms() + settings.workfile_lifetime_s * 1000)
    pdf = make_workfile(target, "pdf", size, sha256, expires_ms, wf.affinity_token, wf.tenant)
    await ctx["store"].put_workfile(pdf)
    try:  # the PDF is the tenant's work file: counted once stored, as conversion outputs are
        await ctx["quota"].charge(wf.tenant, workfile_key(target), size)
    except QuotaExceeded as exc:
        await ctx["store"].delete_workfile(target)
        await storage.delete(workfile_key(target))
        raise DocumentError(exc.code, str(exc)) from None
    log.info("office_converted", extension=wf.extension, ms=round((time.perf_counter() - started) * 1000), size=size)


def size_and_digest(path: Path) -> tuple[int, str]:
    """A file's size and sha256, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
