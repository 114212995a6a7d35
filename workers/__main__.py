"""Entry point: `python -m workers` runs the interactive and batch arq workers and their render pool."""

import asyncio
import os
import sys

import structlog

from core.logs import configure_logging
from core.settings import Settings, SettingsError
from workers.runner import serve


def main() -> None:
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        sys.exit(str(exc))
    if not settings.has_redis:
        sys.exit(
            "REDIS_URL is not set: point it at your Redis (e.g. export REDIS_URL=redis://127.0.0.1:6379/0, "
            "or PAGEMILL_REDIS_SENTINELS for Sentinel), or run `python -m service serve` (./dev serve), "
            "which starts a private one"
        )
    configure_logging(settings.log_format, settings.log_level)
    structlog.get_logger("pagemill").info("worker_starting", settings=repr(settings))
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
