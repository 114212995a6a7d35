"""Entry points: `python -m service web` (front door only) and `python -m service serve` (all-in-one)."""

import argparse
import os
import subprocess
import sys

import structlog
from aiohttp import web

from service.app import create_app
from service.auth import is_loopback
from service.logs import configure_logging
from service.redisproc import RedisServer
from service.settings import Settings, SettingsError

log = structlog.get_logger("pagemill")


def run_web(settings: Settings) -> None:
    if not settings.redis_url:
        sys.exit("REDIS_URL is not set; use `python -m service serve` for the embedded default")
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


def serve(settings: Settings) -> None:
    """Web and one worker; a private redis-server (data under PAGEMILL_DATA_DIR) when REDIS_URL is unset."""
    redis: RedisServer | None = None
    env = dict(os.environ)
    if not settings.redis_url:
        redis = RedisServer(settings.data_dir / "redis")
        redis.start()
        env["REDIS_URL"] = redis.url
        log.info("embedded_redis_started", url=redis.url)
    worker = subprocess.Popen([sys.executable, "-m", "workers"], env=env)
    try:
        run_web(Settings.from_env(env))
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        if redis:
            redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("command", choices=["web", "serve"], help="web: front door only; serve: all-in-one")
    command = parser.parse_args().command
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        sys.exit(str(exc))
    configure_logging(settings.log_format, settings.log_level)
    (run_web if command == "web" else serve)(settings)


if __name__ == "__main__":
    main()
