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


async def _reported(redis: Redis, key: str) -> set[str] | None:
    """The union of what the live workers said under `key`; None when none says anything."""
    lists = await redis.zrangebyscore(key, now_ms(), "+inf")
    return {item for raw in lists for item in json.loads(raw)} if lists else None


async def ocr_languages(redis: Redis) -> frozenset[str] | None:
    """Every Tesseract language some live worker has; None when no worker reports."""
    codes = await _reported(redis, keyspace.OCR_LANGUAGES)
    return None if codes is None else frozenset(codes)


async def readable(redis: Redis) -> list[str]:
    """Every source extension some live worker reads; with no worker reporting, every one pagemill knows."""
    extensions = await _reported(redis, keyspace.READABLE)
    return formats.source_extensions() if extensions is None else sorted(extensions)


async def writable(redis: Redis) -> list[str]:
    """Every dest.format some live worker writes; with no worker reporting, every one pagemill knows."""
    outputs = await _reported(redis, keyspace.WRITABLE)
    return formats.output_formats() if outputs is None else sorted(outputs)
