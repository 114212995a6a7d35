"""What the running workers can read and write: each worker publishes its source extensions (with
LibreOffice or without), its output formats and its Tesseract languages every few seconds; the front
door validates requests and lists formats from them."""

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


async def publish(redis: Redis, extensions: list[str], key: str = keyspace.READABLE) -> None:
    """Say this worker reads `extensions` (or, under OCR_LANGUAGES, has those Tesseract languages) for
    the next KEEP_MS; forget what expired."""
    at = now_ms()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {json.dumps(sorted(extensions)): at + KEEP_MS})
        pipe.zremrangebyscore(key, "-inf", at)
        await pipe.execute()


async def publish_every(
    redis: Redis, extensions: list[str], interval_s: float = PUBLISH_INTERVAL_S, key: str = keyspace.READABLE
) -> None:
    while True:
        with contextlib.suppress(RedisError, OSError):  # Redis restarting: say it again next time
            await publish(redis, extensions, key)
        await asyncio.sleep(interval_s)


async def ocr_languages(redis: Redis) -> frozenset[str] | None:
    """Every Tesseract language some live worker has; None when no worker reports."""
    lists = await redis.zrangebyscore(keyspace.OCR_LANGUAGES, now_ms(), "+inf")
    return frozenset(code for raw in lists for code in json.loads(raw)) if lists else None


async def readable(redis: Redis) -> list[str]:
    """Every source extension some live worker reads; with no worker reporting, every one pagemill knows."""
    lists = await redis.zrangebyscore(keyspace.READABLE, now_ms(), "+inf")
    if not lists:
        return formats.source_extensions()
    return sorted({ext for raw in lists for ext in json.loads(raw)})


async def writable(redis: Redis) -> list[str]:
    """Every dest.format some live worker writes; with no worker reporting, every one pagemill knows."""
    lists = await redis.zrangebyscore(keyspace.WRITABLE, now_ms(), "+inf")
    if not lists:
        return formats.output_formats()
    return sorted({fmt for raw in lists for fmt in json.loads(raw)})
