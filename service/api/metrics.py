"""GET /metrics (Prometheus text): this front door's requests, plus queue depths and the workers'
counters that core/metrics.py keeps in Redis. Request counts are per front door, as Prometheus
expects when it scrapes each instance."""

from collections import Counter
from typing import Any

from aiohttp import web

from core import keyspace
from schemas import jobs
from service import keys

REQUESTS = web.AppKey("request_counts", Counter)


def count_request(request: web.Request, status: int) -> None:
    """Called once per request by the front door's middleware."""
    info = request.match_info
    route = info.route.resource.canonical if info.route.resource is not None else "unmatched"
    request.app[REQUESTS][(route, request.method, status)] += 1


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
    stored = {k.decode(): float(v) for k, v in (await redis.hgetall(keyspace.METRICS)).items()}
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
