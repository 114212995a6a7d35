"""Prometheus metrics: this front door's requests, plus queue depths and worker counters from Redis.

Workers add to one Redis hash (`pm:metrics`), so every front door reports the whole fleet's job
durations, pages rendered and failures; request counts are per front door, as Prometheus expects
when it scrapes each instance.
"""

import asyncio
import contextlib
from collections import Counter
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas import jobs
from service import keys

METRICS_KEY = "pm:metrics"
REQUESTS = web.AppKey("request_counts", Counter)


def count_request(request: web.Request, status: int) -> None:
    """Called once per request by the front door's middleware."""
    info = request.match_info
    route = info.route.resource.canonical if info.route.resource is not None else "unmatched"
    request.app[REQUESTS][(route, request.method, status)] += 1


async def record_job(redis: Redis, name: str, seconds: float) -> None:
    """Called by workers when a job ends (best effort: metrics never fail a job)."""
    with contextlib.suppress(RedisError, OSError):
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hincrbyfloat(METRICS_KEY, f"job_seconds_sum|{name}", seconds)
            pipe.hincrby(METRICS_KEY, f"job_count|{name}", 1)
            await pipe.execute()


async def record_outcome(redis: Redis, *, pages: int = 0, error_code: str | None = None) -> None:
    """Called by workers for each page rendered and each failure (page, document or process)."""
    with contextlib.suppress(RedisError, OSError):
        if pages:
            await redis.hincrby(METRICS_KEY, "pages_rendered", pages)
        if error_code:
            await redis.hincrby(METRICS_KEY, f"failures|{error_code}", 1)


async def publish_storage_stats(redis: Redis, stats: Counter[str], published: Counter[str]) -> None:
    """Add what a worker's storage did since the last call to the fleet's totals (best effort)."""
    delta = stats - published
    if not delta:
        return
    with contextlib.suppress(RedisError, OSError):
        async with redis.pipeline(transaction=False) as pipe:
            for operation, n in delta.items():
                pipe.hincrby(METRICS_KEY, f"storage|{operation}", n)
            await pipe.execute()
        published.update(delta)


async def publish_storage_stats_every(redis: Redis, stats: Counter[str], interval_s: float) -> None:
    """Run for the worker's lifetime (cancelled at shutdown, which publishes once more)."""
    published: Counter[str] = Counter()
    try:
        while True:
            await asyncio.sleep(interval_s)
            await publish_storage_stats(redis, stats, published)
    finally:
        await asyncio.shield(publish_storage_stats(redis, stats, published))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def get_metrics(request: web.Request) -> web.Response:
    redis = request.app[keys.REDIS]
    lines: list[str] = []

    def family(name: str, kind: str, help_: str, samples: list[tuple[dict[str, Any], float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(str(v))}"' for k, v in labels.items())
            lines.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")

    requests = sorted(request.app[REQUESTS].items())
    family(
        "pagemill_http_requests_total",
        "counter",
        "Requests answered by this front door.",
        [({"route": r, "method": m, "status": s}, n) for (r, m, s), n in requests],
    )
    depths = [({"queue": q}, float(await redis.zcard(q))) for q in jobs.QUEUES]
    family("pagemill_queue_depth", "gauge", "Jobs waiting or running per queue.", depths)
    stored = {k.decode(): float(v) for k, v in (await redis.hgetall(METRICS_KEY)).items()}
    family(
        "pagemill_pages_rendered_total",
        "counter",
        "Pages rendered by all workers.",
        [({}, stored.get("pages_rendered", 0.0))],
    )
    sums = [({"job": k.split("|", 1)[1]}, v) for k, v in sorted(stored.items()) if k.startswith("job_seconds_sum|")]
    counts = [({"job": k.split("|", 1)[1]}, v) for k, v in sorted(stored.items()) if k.startswith("job_count|")]
    family("pagemill_job_duration_seconds_sum", "counter", "Total run time of jobs by type.", sums)
    family("pagemill_job_duration_seconds_count", "counter", "Jobs run by type.", counts)
    failures = [({"error_code": k.split("|", 1)[1]}, v) for k, v in sorted(stored.items()) if k.startswith("failures|")]
    family("pagemill_failures_total", "counter", "Pages, documents and processes that failed, by errorCode.", failures)
    family(
        "pagemill_storage_operations_total",
        "counter",
        "Storage operations of this front door (S3: API calls by method, failed calls, read-cache hits).",
        [({"operation": op}, float(n)) for op, n in sorted(request.app[keys.STORAGE].stats.items())],
    )
    family(
        "pagemill_worker_storage_operations_total",
        "counter",
        "Storage operations of all workers (S3: API calls by method, failed calls, read-cache hits).",
        [({"operation": k.split("|", 1)[1]}, v) for k, v in sorted(stored.items()) if k.startswith("storage|")],
    )
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8")
