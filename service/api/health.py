"""Service health and information routes (PCCIS /Service/Current/*)."""

import hashlib
import platform
import socket
import sys
from importlib.metadata import PackageNotFoundError, version

import structlog
from aiohttp import web

from core import capabilities
from core.records import iso_ms
from schemas import formats, jobs
from service import keys

log = structlog.get_logger("pagemill.health")

WORKER_HEALTH_KEY = jobs.BATCH_QUEUE + ":health-check"  # written by arq workers every few seconds


def _version() -> str:
    try:
        return version("pagemill")
    except PackageNotFoundError:
        return "0+unknown"


async def _checks(app: web.Application) -> dict[str, bool]:
    """What the service needs to do its work: Redis and storage answer, and a worker reported within the last
    HEALTH_CHECK_INTERVAL_S + 1 s (arq's health-check key expires then)."""
    checks = {"redis": False, "storage": False, "worker": False}
    try:
        checks["redis"] = await app[keys.STORE].ping()
        checks["worker"] = bool(await app[keys.REDIS].exists(WORKER_HEALTH_KEY))
    except Exception as exc:
        log.warning("health_redis_failed", error=str(exc))
    try:
        await app[keys.STORAGE].check()
        checks["storage"] = True
    except Exception as exc:
        log.warning("health_storage_failed", error=str(exc))
    if not all(checks.values()):
        log.warning("health_check_failed", failing=[name for name, ok in checks.items() if not ok])
    return checks


async def get_health(request: web.Request) -> web.Response:
    """PrizmDoc's health probe: 200 "OK" when the service can do its work (Redis, storage and a worker);
    500 with no body otherwise (Ready says which part is missing)."""
    if all((await _checks(request.app)).values()):
        return web.Response(text="OK", content_type="text/plain")
    return web.Response(status=500)


async def get_ready(request: web.Request) -> web.Response:
    """Readiness: the same checks as Health, as JSON naming each."""
    checks = await _checks(request.app)
    ready = all(checks.values())
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


def _instance_id(show_host: bool) -> str:
    """The host name, or (by default, since this route needs no key) an opaque id derived from it."""
    host = socket.gethostname()
    return host if show_host else hashlib.sha256(host.encode()).hexdigest()[:16]


async def get_info(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    checks = await _checks(request.app)
    worker = ("running" if checks["worker"] else "not running") if checks["redis"] else "unknown"
    status = "running" if all(checks.values()) else "unhealthy"
    redis = request.app[keys.REDIS]
    readable = await capabilities.readable(redis) if checks["redis"] else formats.source_extensions()
    writable = await capabilities.writable(redis) if checks["redis"] else formats.output_formats()
    return web.json_response(
        {
            "serviceStatus": status,
            # pagemill's addition: the source formats the running workers read (office ones need LibreOffice)
            "inputFormats": readable,
            # and the dest.format values they write (svg needs pdftocairo, docx LibreOffice)
            "outputFormats": writable,
            "licenseStatus": "licensed as 'pagemill (MIT)'",
            "instances": [
                {
                    "serviceStatus": status,
                    "serviceInstallerVersion": _version(),
                    "pccisVersion": _version(),
                    "runtimeVersion": f"Python {sys.version.split()[0]}",
                    "operatingSystem": platform.platform() if settings.info_shows_host else platform.system(),
                    "startTime": iso_ms(request.app[keys.STARTED_MS]),
                    "instanceId": _instance_id(settings.info_shows_host),
                    "childServices": [{"name": "pagemill worker", "serviceStatus": worker}],
                }
            ],
        }
    )
