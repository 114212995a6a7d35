"""Workers woken by enqueues: an arq Worker whose poll loop also runs as soon as a job is enqueued on its
queue (a message on `keyspace.wake_channel`) or one of its own jobs ends, not only every poll delay.

The poll stays: a lost message (Redis restarting), a job scored in the future (a tenant's fair share,
a `Retry(defer=...)`) or a redelivered job is found by the next poll as before. Claiming a job is
unchanged (arq's WATCH on its in-progress key), so several woken workers still run it once, and
at-least-once delivery is arq's own.
"""

import asyncio
import contextlib
from collections.abc import Sequence

import structlog
from arq.connections import create_pool
from arq.worker import Worker
from redis.asyncio import Redis

from core import keyspace

log = structlog.get_logger("pagemill.worker")

RESUBSCRIBE_S = 1.0


class WakingWorker(Worker):
    """arq's Worker with a poll loop that waits for `wake` (or the poll delay, whichever comes first)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.wake = asyncio.Event()

    async def main(self) -> None:
        """arq's `Worker.main`, with `wake` cutting the sleep between polls short."""
        if self._pool is None:
            self._pool = await create_pool(
                self.redis_settings,
                job_deserializer=self.job_deserializer,
                job_serializer=self.job_serializer,
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
            )
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        while True:
            self.wake.clear()  # before polling: a wake during the poll makes the next one follow at once
            await self._poll_iteration()
            if self.burst:
                if 0 <= self.max_burst_jobs <= self._jobs_started():
                    await asyncio.gather(*self.tasks.values())
                    return
                if await self.pool.zcard(self.queue_name) == 0:
                    await asyncio.gather(*self.tasks.values())
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_delay_s)

    def _release_sem_dec_counter_on_complete(self) -> None:
        """A job ended: its slot is free, so look for the next job now."""
        super()._release_sem_dec_counter_on_complete()
        self.wake.set()


async def listen_for_wakes(redis: Redis, workers: Sequence[WakingWorker]) -> None:
    """Wake each worker when a job is enqueued on its queue (one subscription for all of them), for ever;
    while Redis is away the workers poll as usual."""
    by_channel = {keyspace.wake_channel(w.queue_name).encode(): w for w in workers}
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*by_channel)
            async for message in pubsub.listen():
                worker = by_channel.get(message.get("channel", b""))
                if worker is not None:
                    worker.wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis went away: the poll carries on meanwhile
            log.warning("wake_subscription_lost", error=str(exc))
            await asyncio.sleep(RESUBSCRIBE_S)
        finally:
            connection = pubsub.connection  # closed here even when aclose fails on a connection Redis dropped
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.disconnect(nowait=True)
