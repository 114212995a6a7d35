"""LibreOffice as long-lived converters the worker owns: one bridge process (`workers/bridge.py`,
which runs one headless soffice) per slot, each with its own profile directory, started once and
reused; replaced after a crash, a hang (every request is bounded by a timeout) or `max_docs`
documents. Never one soffice start per document."""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from core.errors import DocumentError
from core.ids import new_id
from core.redisproc import own_group

log = structlog.get_logger("pagemill.office")

BRIDGE = Path(__file__).with_name("bridge.py")
START_TIMEOUT_S = 60.0
PYTHONS = ("/usr/bin/python3", "/usr/lib/libreoffice/program/python", "python3")


@dataclass(frozen=True)
class Engine:
    """Where LibreOffice is, and a Python that can drive it (has its `uno` module)."""

    soffice: str
    python: str


def find_engine(soffice: str = "", python: str = "") -> Engine | None:
    """LibreOffice and a Python with `uno`, or None when either is missing (office formats are then unavailable)."""
    found = shutil.which(soffice or "soffice") or shutil.which("libreoffice")
    if not found:
        return None
    for candidate in (python,) if python else PYTHONS:
        path = shutil.which(candidate)
        if not path:
            continue
        probe = subprocess.run([path, "-c", "import uno"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return Engine(found, path)
    return None


class EngineCrashed(Exception):
    """The bridge or its soffice died while converting."""


class Converter:
    """One bridge process and its soffice, used by one request at a time."""

    def __init__(self, engine: Engine, profile: Path, max_docs: int) -> None:
        self.engine = engine
        self.profile = profile
        self.max_docs = max_docs
        self.proc: asyncio.subprocess.Process | None = None
        self.docs = 0

    async def _start(self) -> asyncio.subprocess.Process:
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            self.engine.python,
            str(BRIDGE),
            self.engine.soffice,
            str(self.profile),
            f"pagemill-{new_id()}",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=own_group,  # its own group (killed as one with soffice), and SIGTERM if we die
            limit=1 << 20,
        )
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)  # type: ignore[union-attr]
            answer = json.loads(line or b"{}")
        except (TimeoutError, ValueError):
            answer = {}
        except BaseException:  # cancelled (the worker is closing): not one process may be left behind
            self._kill(proc)
            raise
        if not answer.get("ready"):
            self._kill(proc)
            raise DocumentError("CouldNotOpenDocument", f"LibreOffice did not start: {answer.get('detail', '')}")
        # LibreOffice's first document costs about 0.3 s more than the next ones: spend it on a tiny one now.
        warm_src, warm_out = self.profile / "warm-up.txt", self.profile / "warm-up.pdf"
        warm_src.write_text("pagemill\n")
        request = {"src": str(warm_src), "out": str(warm_out), "export": "pdf", "import": "text", "password": None}
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")  # type: ignore[union-attr]
            await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)  # type: ignore[union-attr]
        except (TimeoutError, OSError):
            pass
        except BaseException:
            self._kill(proc)
            raise
        warm_out.unlink(missing_ok=True)
        log.info("office_started", ms=round((time.monotonic() - started) * 1000), soffice_pid=answer.get("pid"))
        self.docs = 0
        return proc

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is not None:
            proc, self.proc = self.proc, None
            self._kill(proc)
            await proc.wait()

    @property
    def worn_out(self) -> bool:
        return self.docs >= self.max_docs

    async def ready(self) -> None:
        if self.proc is None or self.proc.returncode is not None or self.worn_out:
            await self.stop()
            self.proc = await self._start()

    async def convert(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        await self.ready()
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        self.docs += 1
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), timeout_s)
        except TimeoutError:
            await self.stop()
            raise DocumentError("ConversionTimeout", f"LibreOffice took more than {timeout_s:g}s") from None
        except (BrokenPipeError, ConnectionResetError):
            line = b""
        if not line:
            await self.stop()
            raise EngineCrashed("LibreOffice exited while converting")
        answer: dict[str, Any] = json.loads(line)
        if answer.get("error") == "EngineCrashed":
            await self.stop()
            raise EngineCrashed(str(answer.get("detail", "")))
        return answer


class Office:
    """The worker's LibreOffice converters; `convert` waits for a free one."""

    def __init__(self, engine: Engine | None, processes: int, root: Path, timeout_s: float, max_docs: int) -> None:
        self.engine = engine
        self.timeout_s = timeout_s
        self.root = root
        # Limits staggered, so the converters are not all replaced at once.
        step = max(1, max_docs // (2 * max(1, processes)))
        self._converters = (
            [Converter(engine, root / f"profile-{i}", max_docs + i * step) for i in range(processes)] if engine else []
        )
        self._renewals: set[asyncio.Task[None]] = set()
        self.converted = 0  # documents LibreOffice converted (successfully or not)
        self._idle: asyncio.Queue[Converter] = asyncio.Queue()
        for converter in self._converters:
            self._idle.put_nowait(converter)

    @property
    def available(self) -> bool:
        return bool(self._converters)

    async def convert(
        self, src: Path, out: Path, *, export: str = "pdf", filter_: str = "", password: str | None = None
    ) -> None:
        """Convert `src` to `out`; raises DocumentError with the document's error code."""
        if not self._converters:
            raise DocumentError(
                "UnsupportedSourceFileFormat", "LibreOffice is not installed on this worker (see README: engines)"
            )
        request = {"src": str(src), "out": str(out), "export": export, "import": filter_, "password": password}
        converter = await self._idle.get()
        try:
            for attempt in (1, 2):  # a crash may be the previous document's doing: one fresh try
                try:
                    answer = await converter.convert(request, self.timeout_s)
                    self.converted += 1
                    break
                except EngineCrashed as exc:
                    log.warning("office_crashed", attempt=attempt, detail=str(exc))
                    if attempt == 2:
                        raise DocumentError("CouldNotOpenDocument", "LibreOffice crashed on this document") from None
        finally:
            if converter.worn_out:  # replaced in the background, not on the next document's time
                task = asyncio.create_task(self._renew(converter))
                self._renewals.add(task)
                task.add_done_callback(self._renewals.discard)
            else:
                self._idle.put_nowait(converter)
        if "error" in answer:
            raise DocumentError(str(answer["error"]), str(answer.get("detail", "")))

    async def _renew(self, converter: Converter) -> None:
        try:
            await converter.ready()
        except DocumentError as exc:  # it is started again on its next document
            log.warning("office_restart_failed", error=str(exc))
        finally:
            self._idle.put_nowait(converter)

    async def warm_up(self) -> None:
        """Start every converter now, so the first office document is not slow."""
        results = await asyncio.gather(*(c.ready() for c in self._converters), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.warning("office_warm_up_failed", error=str(result))

    async def close(self) -> None:
        for task in list(self._renewals):
            task.cancel()
        await asyncio.gather(*self._renewals, return_exceptions=True)
        await asyncio.gather(*(c.stop() for c in self._converters))
        shutil.rmtree(self.root, ignore_errors=True)
