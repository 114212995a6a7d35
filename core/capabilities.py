"""What the running workers can read: each worker publishes its source extensions (with LibreOffice
or without) every few seconds; the front door validates sources and lists formats from them."""

import asyncio
import contextlib
import json

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import keyspace
from core.records import now_ms
from schemas import formats

PUBLISH_INTERVAL_S = 5.0
KEEP_MS = 30_000


async def publish(redis: Redis, extensions: list[str]) -> None:
    """Say this worker reads `extensions` for the next KEEP_MS; forget what expired."""
    at = now_ms()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keyspace.READABLE, {json.dumps(sorted(extensions)): at + KEEP_MS})
        pipe.zremrangebyscore(keyspace.READABLE, "-inf", at)
        await pipe.execute()


async def publish_every(redis: Redis, extensions: list[str], interval_s: float = PUBLISH_INTERVAL_S) -> None:
    while True:
        with contextlib.suppress(RedisError, OSError):  # Redis restarting: say it again next time
            await publish(redis, extensions)
        await asyncio.sleep(interval_s)


async def readable(redis: Redis) -> list[str]:
    """Every source extension some live worker reads; with no worker reporting, every one pagemill knows."""
    lists = await redis.zrangebyscore(keyspace.READABLE, now_ms(), "+inf")
    if not lists:
        return formats.source_extensions()
    return sorted({ext for raw in lists for ext in json.loads(raw)})
