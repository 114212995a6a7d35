"""A process pool for rendering that survives hanging and crashing documents.

PDFium is not thread-safe, so pages render in processes. Each call is bounded by a timeout;
on timeout or a crashed child the whole pool is replaced (a stuck child cannot be cancelled).
"""

import asyncio
import heapq
import itertools
import multiprocessing
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import regex
import structlog

from core.errors import DocumentError, RenderCrashed, RenderTimeout
from schemas.search import compile_pattern
from workers.render import glyphs as glyph_fns
from workers.render import headers
from workers.render.burn import burn_page, redaction_boxes
from workers.render.document import (
    Document,
    inspect,
    open_document,
    page_glyphs,
    page_text,
    raster_pages,
    save_decrypted,
)
from workers.render.page import render_page
from workers.render.spec import Rendered, RenderSpec

log = structlog.get_logger("pagemill.pool")
T = TypeVar("T")


# --- in the child processes ----------------------------------------------------------------
_max_image_pixels = 200_000_000
_open_docs: "OrderedDict[tuple[str, str, str | None], Document]" = OrderedDict()
_OPEN_DOCS_MAX = 4


def _child_init(max_image_pixels: int, nice: int = 0) -> None:
    global _max_image_pixels
    # Ctrl-C, honcho and systemd signal the whole process group: the worker then stops taking
    # jobs and lets calls in flight finish; its children must not die under them. The worker
    # kills them itself when it closes the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # ... and must not outlive a worker that was killed outright (SIGKILL, OOM killer).
    # The parent's pid as multiprocessing recorded it: getppid() here could already be init's.
    parent = multiprocessing.parent_process()
    threading.Thread(target=_exit_with_parent, args=(parent.pid if parent else os.getppid(),), daemon=True).start()
    _max_image_pixels = max_image_pixels
    if nice:
        os.nice(nice)  # batch pages yield the cores to the front door, the worker and viewer pages
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_image_pixels


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(1)


def _document(path: str, extension: str, password: str | None) -> Document:
    """Documents stay open between calls in this child, so a chunk opens its source once."""
    key = (path, extension, password)
    doc = _open_docs.get(key)
    if doc is None:
        doc = open_document(path, extension, password, _max_image_pixels)
        _open_docs[key] = doc
        while len(_open_docs) > _OPEN_DOCS_MAX:
            _open_docs.popitem(last=False)[1].close()
    else:
        _open_docs.move_to_end(key)
    return doc


def warm() -> int:
    """Import the renderers in a child before the first real call needs them."""
    import pypdfium2  # noqa: F401  # imported by `render` already; kept explicit
    from PIL import PngImagePlugin  # noqa: F401

    return os.getpid()


def count_pages(path: str, extension: str, password: str | None) -> int:
    return _document(path, extension, password).page_count


def render_unit(
    path: str, extension: str, password: str | None, index: int, spec: RenderSpec, out_path: str
) -> Rendered:
    return render_page(_document(path, extension, password), index, spec, out_path)


def missing_fonts(families: list[str | None]) -> list[str]:
    return headers.missing_fonts(families)


def inspect_document(path: str, extension: str, password: str | None, dpi: int) -> dict[str, object]:
    return inspect(_document(path, extension, password), dpi)


def decrypted_copy(path: str, extension: str, password: str | None, out_path: str) -> bool:
    return save_decrypted(_document(path, extension, password), out_path)


def classify_pages(path: str, extension: str, password: str | None, budget_s: float) -> dict[str, object]:
    return raster_pages(_document(path, extension, password), budget_s)


def text_of_pages(path: str, extension: str, password: str | None, pages: list[int]) -> list[str]:
    doc = _document(path, extension, password)
    return [page_text(doc, index) for index in pages]


def burn_unit(
    path: str, extension: str, password: str | None, index: int, marks: list[dict[str, Any]], dpi: int, out_path: str
) -> Rendered:
    return burn_page(_document(path, extension, password), index, marks, dpi, out_path)


def redact_pages(
    path: str, extension: str, password: str | None, pages: list[int], marks: dict[int, list[dict[str, Any]]]
) -> list[list[str]]:
    """Each page's lines with the text under its redaction marks replaced by "<Text Redacted>"."""
    doc = _document(path, extension, password)
    out = []
    for index in pages:
        glyphs = page_glyphs(doc, index)
        page_marks = marks.get(index, [])
        boxes = [r for mark, r in redaction_boxes(doc, index, page_marks) if mark["type"] != "TextSelectionRedaction"]
        ranges = [
            (m["position"]["startIndex"], m["position"]["startIndex"] + m["position"]["length"])
            for m in page_marks
            if m["type"] == "TextSelectionRedaction"
        ]
        out.append(glyph_fns.redacted_lines(glyphs, boxes, ranges))
    return out


def glyphs_of_pages(path: str, extension: str, password: str | None, pages: list[int]) -> list[glyph_fns.PageGlyphs]:
    doc = _document(path, extension, password)
    return [page_glyphs(doc, index) for index in pages]


def search_pages(
    path: str,
    extension: str,
    password: str | None,
    pages: list[int],
    terms: list[tuple[str, bool]],
    limit: int,
    budget_s: float,
) -> list[tuple[float, float, list[tuple[int, glyph_fns.Match, str]]]]:
    """For each page: its displayed size and the (term index, match, context) of every (pattern,
    case-sensitive) term, in text order (context: the match and up to 40 characters either side); once
    more than `limit` are found, the other pages are not searched (they come back with none).
    Patterns are compiled and run here, never in the worker's event loop, and matching stops after
    `budget_s` in all (DocumentError PageRenderTimeout: a pattern that backtracks without end costs a
    few seconds of one render process, not the page timeout and the process)."""
    doc = _document(path, extension, password)
    compiled = [compile_pattern(pattern, case_sensitive=sensitive) for pattern, sensitive in terms]
    deadline = time.monotonic() + budget_s
    try:
        return _search(doc, pages, compiled, limit, deadline)
    except TimeoutError:
        raise DocumentError("PageRenderTimeout", f"the patterns took more than {budget_s:.1f}s") from None


def _search(
    doc: Document, pages: list[int], compiled: list[regex.Pattern[str]], limit: int, deadline: float
) -> list[tuple[float, float, list[tuple[int, glyph_fns.Match, str]]]]:
    out: list[tuple[float, float, list[tuple[int, glyph_fns.Match, str]]]] = []
    total = 0
    for index in pages:
        if total > limit:
            out.append((*doc.size_pt(index), []))
            continue
        text = page_text(doc, index)
        # Boxes are read for the matched characters only (most of a page's characters match nothing).
        wanted = {
            i
            for pattern in compiled
            for m in pattern.finditer(text, timeout=_left(deadline))
            for i in range(m.start(), m.end())
        }
        glyphs = page_glyphs(doc, index, wanted) if wanted else None
        if glyphs is not None and glyphs.text != text:  # characters beyond the BMP: indices differ, box them all
            glyphs = page_glyphs(doc, index)
        found: list[tuple[int, glyph_fns.Match, str]] = []
        for t, pattern in enumerate(compiled):
            if glyphs is not None and total + len(found) <= limit:
                matches = glyph_fns.find_matches(glyphs, pattern, limit + 1 - total - len(found), _left(deadline))
                found += [(t, m, _context(glyphs.text, m)) for m in matches]
        total += len(found)
        found.sort(key=lambda item: (item[1].start, item[0]))
        width, height = (glyphs.width, glyphs.height) if glyphs else doc.size_pt(index)
        out.append((width, height, found))
    return out


def _left(deadline: float) -> float:
    return max(0.001, deadline - time.monotonic())


def _context(text: str, match: glyph_fns.Match, chars: int = 40) -> str:
    around = text[max(0, match.start - chars) : match.end + chars]
    return " ".join(around.split())


# --- in the worker ---------------------------------------------------------------------------
INTERACTIVE = 0
BATCH = 1


class PrioritySlots:
    """A semaphore whose waiters are served lowest priority value first, FIFO within a priority."""

    def __init__(self, count: int) -> None:
        self._free = count
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._seq), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed to us just as we were cancelled
            else:
                self._waiting = [w for w in self._waiting if w[2] is not future]
                heapq.heapify(self._waiting)
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1


BATCH_NICE = 10  # the shared children's niceness: under a flood, a viewer's page still gets a core


class RenderPool:
    """Owns the render children (spawned) and replaces them when a call goes wrong.

    Two lanes: `processes` shared children, niced, which run batch calls and interactive ones by
    priority; and, with `interactive_processes`, children of normal priority that run only interactive
    calls (a viewer's page), so one never waits for a batch page to end nor shares a core with it
    as an equal. An interactive call takes a free interactive child, else the next shared one.
    """

    def __init__(
        self, processes: int, max_image_pixels: int, interactive_processes: int = 0, batch_nice: int = BATCH_NICE
    ) -> None:
        self.processes = processes
        self.max_image_pixels = max_image_pixels
        self._nice = {BATCH: batch_nice if interactive_processes else 0, INTERACTIVE: 0}
        self._size = {BATCH: processes, INTERACTIVE: interactive_processes}
        self._pools = {lane: self._new_pool(lane) for lane, size in self._size.items() if size}
        # At most one call per child is submitted at a time, so a timeout measures the call's own
        # run time, not time spent queued behind other jobs' pages; waiting calls go by priority.
        self._slots = PrioritySlots(processes)
        self._interactive_free = interactive_processes

    def _new_pool(self, lane: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._size[lane],
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_init,
            initargs=(self.max_image_pixels, self._nice[lane]),
        )

    def _recycle(self, lane: int, pool: ProcessPoolExecutor) -> None:
        if pool is not self._pools[lane]:
            return  # someone already replaced it
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        self._pools[lane] = self._new_pool(lane)
        log.warning("render_pool_recycled", interactive=lane == INTERACTIVE)

    async def run(self, fn: Callable[..., T], *args: Any, timeout_s: float, priority: int = BATCH) -> T:
        """Run `fn(*args)` in a child; INTERACTIVE calls get a free interactive child, else the next free
        shared child before BATCH ones."""
        if priority == INTERACTIVE and self._interactive_free > 0:
            self._interactive_free -= 1
            try:
                return await self._run(INTERACTIVE, fn, *args, timeout_s=timeout_s)
            finally:
                self._interactive_free += 1
        await self._slots.acquire(priority)
        try:
            return await self._run(BATCH, fn, *args, timeout_s=timeout_s)
        finally:
            self._slots.release()

    async def _run(self, lane: int, fn: Callable[..., T], *args: Any, timeout_s: float) -> T:
        pool = self._pools[lane]
        future = asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            self._recycle(lane, pool)
            raise RenderTimeout(f"{fn.__name__} exceeded {timeout_s}s") from None
        except BrokenProcessPool:
            self._recycle(lane, pool)
            raise RenderCrashed(fn.__name__) from None
        except (DocumentError, OSError):
            raise  # the document's fault, or the disk's: callers say which
        except Exception as exc:
            # A render function's own failure (a bug, an input it did not foresee): the call failed like a
            # crash, so every caller ends that page or process with its error code, none waits on it.
            log.error("render_call_failed", fn=fn.__name__, error=repr(exc)[:300])
            raise RenderCrashed(f"{fn.__name__}: {exc!r}"[:300]) from exc

    async def warm_up(self) -> None:
        """Start every child now (ProcessPoolExecutor spawns lazily), so the first page is not slow."""
        calls = [self._run(lane, warm, timeout_s=60) for lane, size in self._size.items() for _ in range(size)]
        await asyncio.gather(*calls)

    def close(self) -> None:
        for pool in self._pools.values():
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()
            pool.shutdown(wait=True, cancel_futures=True)
