"""Workers' counters, kept in one Redis hash so every front door reports the whole fleet's job
durations, pages rendered, failures and storage operations (best effort: metrics never fail a job)."""

import asyncio
import contextlib
from collections import Counter

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import keyspace


async def record_job(redis: Redis, name: str, seconds: float) -> None:
    """Called by workers when a job ends (best effort: metrics never fail a job)."""
    with contextlib.suppress(RedisError, OSError):
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hincrbyfloat(keyspace.METRICS, f"job_seconds_sum|{name}", seconds)
            pipe.hincrby(keyspace.METRICS, f"job_count|{name}", 1)
            await pipe.execute()


async def record_outcome(redis: Redis, *, pages: int = 0, error_code: str | None = None) -> None:
    """Called by workers for each page rendered and each failure (page, document or process)."""
    with contextlib.suppress(RedisError, OSError):
        if pages:
            await redis.hincrby(keyspace.METRICS, "pages_rendered", pages)
        if error_code:
            await redis.hincrby(keyspace.METRICS, f"failures|{error_code}", 1)


async def publish_storage_stats(redis: Redis, stats: Counter[str], published: Counter[str]) -> None:
    """Add what a worker's storage did since the last call to the fleet's totals (best effort)."""
    delta = stats - published
    if not delta:
        return
    with contextlib.suppress(RedisError, OSError):
        async with redis.pipeline(transaction=False) as pipe:
            for operation, n in delta.items():
                pipe.hincrby(keyspace.METRICS, f"storage|{operation}", n)
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
