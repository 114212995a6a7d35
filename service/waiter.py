"""Waiting for a key to be written, woken by one shared pub/sub subscription per web process.

Requests for pages that are still rendering wait here instead of polling Redis; a periodic
re-check covers notifications lost while the subscription reconnects.
"""

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis.asyncio import Redis

from core import keyspace

log = structlog.get_logger("pagemill.waiter")
T = TypeVar("T")
RECHECK_S = 1.0


class Waiter:
    """Futures keyed by record key, resolved by `pm:ready:{key}` messages."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._waiting: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[str], None]] = []

    def on_announce(self, listener: Callable[[str], None]) -> None:
        """Call `listener(key)` for every announcement (cache invalidation)."""
        self._listeners.append(listener)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        prefix = keyspace.READY_CHANNEL_PREFIX.encode()
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(keyspace.READY_CHANNEL_PREFIX + "*")
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    key = message["channel"][len(prefix) :].decode()
                    for listener in self._listeners:
                        listener(key)
                    for future in self._waiting.pop(key, ()):
                        if not future.done():
                            future.set_result(None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: waiters fall back to re-checking
                log.warning("waiter_subscription_lost", error=str(exc))
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def wait_for(self, key: str, check: Callable[[], Awaitable[T | None]], timeout_s: float) -> T | None:
        """Return `check()`'s first non-None result, re-checking whenever `key` is announced."""
        deadline = time.monotonic() + timeout_s
        loop = asyncio.get_running_loop()
        while True:
            future: asyncio.Future[None] = loop.create_future()
            self._waiting[key].add(future)
            try:
                result = await check()  # after subscribing, so an announcement cannot slip between
                if result is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(future, min(remaining, RECHECK_S))
            finally:
                waiting = self._waiting.get(key)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._waiting[key]
