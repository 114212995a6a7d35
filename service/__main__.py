"""Entry points: `python -m service web` (front door only) and `python -m service serve` (all-in-one)."""

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import structlog
from aiohttp import web

from core.logs import configure_logging
from core.redisproc import RedisNotFound, RedisServer
from core.settings import Settings, SettingsError
from service.app import create_app
from service.auth import is_loopback

log = structlog.get_logger("pagemill")

NO_REDIS = (
    "REDIS_URL is not set: point it at your Redis (e.g. export REDIS_URL=redis://127.0.0.1:6379/0, "
    "or PAGEMILL_REDIS_SENTINELS for Sentinel), or run `python -m service serve` (./dev serve), "
    "which starts a private one"
)


def run_web(settings: Settings) -> None:
    if not settings.has_redis:
        sys.exit(NO_REDIS)
    url = f"http://{settings.host}:{settings.port}"
    if not settings.api_keys.enabled:
        if not is_loopback(settings.host):
            sys.exit("no API keys are configured (PAGEMILL_API_KEYS): refusing to listen beyond loopback")
        log.warning("open_mode", detail="no API keys configured: every caller is trusted; listening on loopback only")
    log.info("web_starting", url=url, settings=repr(settings))
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        reuse_port=True,  # several web processes on one host share the port (the kernel spreads connections)
        print=lambda _: print(f"pagemill listening on {url}", flush=True),
    )


class Children:
    """The worker processes of `serve`, supervised: one that dies on its own is started again; if one
    keeps dying (RESTARTS_ALLOWED times within RESTART_WINDOW_S) the service gives up and says why."""

    RESTARTS_ALLOWED = 3
    RESTART_WINDOW_S = 60.0

    def __init__(
        self, count: int, env: dict[str, str], give_up: Callable[[], None], command: list[str] | None = None
    ) -> None:
        self.env, self.give_up = env, give_up
        self.command = command or [sys.executable, "-m", "workers"]
        self.lock = threading.Lock()
        self.stopping = False
        self.died: str | None = None
        self.deaths: list[float] = []
        self.procs = [self._start() for _ in range(count)]

    def _start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(self.command, env=self.env)
        threading.Thread(target=self._watch, args=(proc,), daemon=True).start()
        return proc

    def _watch(self, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        with self.lock:
            # 0, SIGINT or SIGTERM: stopped on purpose (Ctrl-C reaches the whole process group first).
            if self.stopping or code in (0, -signal.SIGINT, -signal.SIGTERM):
                return
            now = time.monotonic()
            self.deaths = [t for t in self.deaths if now - t < self.RESTART_WINDOW_S] + [now]
            log.error("worker_exited", pid=proc.pid, exit_code=code, restarts=len(self.deaths))
            if len(self.deaths) > self.RESTARTS_ALLOWED:
                # The worker's own error is on stderr above this line; stop the front door too.
                self.died = f"a worker process exited with code {code} {len(self.deaths)} times within a minute"
                self.give_up()
                return
            self.procs[self.procs.index(proc)] = self._start()

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            procs = list(self.procs)
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def serve(settings: Settings, workers: int) -> None:
    """Web and `workers` worker processes; a private redis-server (under PAGEMILL_DATA_DIR) when no Redis
    (REDIS_URL or Sentinel) is configured."""
    redis: RedisServer | None = None
    env = dict(os.environ)
    if not settings.has_redis:
        redis = RedisServer(settings.data_dir / "redis")
        try:
            redis.start()
        except (RedisNotFound, RuntimeError, OSError) as exc:
            sys.exit(f"pagemill: cannot start the embedded Redis: {exc}")
        env["REDIS_URL"] = redis.url
        settings = dataclasses.replace(settings, redis_url=redis.url)
        log.info("embedded_redis_started", url=redis.url, data_dir=str(redis.data_dir))
    children = Children(workers, env, give_up=lambda: os.kill(os.getpid(), signal.SIGTERM))
    try:
        run_web(settings)
    finally:
        children.stop()
        if redis:
            redis.stop()
    if children.died:
        sys.exit(f"pagemill: {children.died}")


def _port(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and 0 <= int(raw) < 65536):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port number (0-65535)")
    return int(raw)


def _count(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 64):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of workers (1-64)")
    return int(raw)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="Run pagemill. Every setting is also read from the environment (see the README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{serve,web}")
    serve_cmd = commands.add_parser("serve", help="all-in-one: front door, workers, and a private Redis if needed")
    web_cmd = commands.add_parser("web", help="front door only (needs REDIS_URL); run workers with python -m workers")
    for command in (serve_cmd, web_cmd):
        command.add_argument("--host", help="address to listen on (default: PAGEMILL_HOST or 127.0.0.1)")
        command.add_argument("--port", type=_port, help="port to listen on (default: PAGEMILL_PORT or 18681)")
    serve_cmd.add_argument("--workers", type=_count, default=1, help="worker processes to start (default: 1)")
    return parser


def main() -> None:
    args = parser().parse_args()
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        sys.exit(str(exc))
    if args.host is not None:
        settings = dataclasses.replace(settings, host=args.host)
    if args.port is not None:
        settings = dataclasses.replace(settings, port=args.port)
    configure_logging(settings.log_format, settings.log_level)
    if args.command == "web":
        run_web(settings)
    else:
        serve(settings, args.workers)


if __name__ == "__main__":
    main()
