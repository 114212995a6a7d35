"""Redis connections and the job queue: one client built from the settings (a plain URL or Sentinel)
for the front door and the workers alike, and the one way jobs are enqueued (fair between tenants).

Fairness: arq runs the jobs of a queue in the order of their scores, picking those scored up to now.
Each tenant has a virtual clock per queue; a tenant's job is scored max(V, its clock) and advances its
clock by SPACING_MS, where V is the score of the first job nobody runs yet (never after now, never more
than LAG_MS before it). A tenant that enqueues thousands of jobs spreads them out, one per SPACING_MS;
another tenant's job lands at V, in front of them, so each tenant with work waiting gets its turn in
rotation. How far a tenant's clock runs ahead of V is how many of its jobs wait (`backlog`).
"""

import asyncio
import time
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import keyspace
from core.settings import Settings
from schemas import jobs

log = structlog.get_logger("pagemill.queue")

# A command that meets a broken connection (Redis restarting, a Sentinel failover under way) is sent
# again on a new connection. With Sentinel, connecting is retried for about 3 s (0.1 + 0.2 + 0.4 +
# 0.5 x 5) while the Sentinels still name the dead primary; a plain URL that refuses connections fails
# at once (the request answers 503 rather than hang).
RETRIES = 8
CONNECT_TIMEOUT_S = 1.0
START_ATTEMPTS = 5  # connecting at start-up: Redis may come up a little after us
WAIT_REPLICAS_TIMEOUT_MS = 1000
JOB_EXPIRES_MS = 24 * 3600 * 1000  # arq's default: a job not started within a day is dropped
SPACING_MS = 1  # virtual time one job of a tenant takes
LAG_MS = 3600 * 1000  # V is never more than this before now (job scores stay near real time)
HEAD_SCAN = 64  # running jobs skipped at the head of a queue when finding V


class RedisClient(ArqRedis):
    """An arq Redis client (so it can enqueue) that knows how many replicas must hold accepted work."""

    wait_replicas: int = 0
    sentinel: Sentinel | None = None  # closed with the client (its connections to the Sentinels)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            for client in self.sentinel.sentinels if self.sentinel is not None else ():
                await client.aclose()


def redis_client(settings: Settings) -> RedisClient:
    """The client for `settings` (no I/O yet): REDIS_URL, or the primary that Sentinel names."""
    common: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }
    if settings.redis_sentinels:
        sentinel = Sentinel(
            list(settings.redis_sentinels),
            sentinel_kwargs={
                "socket_connect_timeout": CONNECT_TIMEOUT_S,
                "socket_timeout": CONNECT_TIMEOUT_S,
                "password": settings.redis_sentinel_password,
            },
            password=settings.redis_password,
            **common,
        )
        client: RedisClient = sentinel.master_for(settings.redis_sentinel_master, redis_class=RedisClient)
        client.sentinel = sentinel
    else:
        assert settings.redis_url, "REDIS_URL or PAGEMILL_REDIS_SENTINELS is required"
        client = RedisClient.from_url(settings.redis_url, **common)
    client.job_serializer = jobs.serialize_job
    client.job_deserializer = jobs.deserialize_job
    client.default_queue_name = jobs.BATCH_QUEUE
    client.wait_replicas = settings.redis_wait_replicas
    return client


async def connect_redis(settings: Settings) -> RedisClient:
    """`redis_client(settings)`, once it answers (a few attempts, as Redis may still be starting)."""
    client = redis_client(settings)
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            await client.ping()
            return client
        except (RedisError, OSError) as exc:
            if attempt == START_ATTEMPTS:
                await client.aclose()
                raise
            log.warning("redis_connect_retry", error=str(exc), attempt=attempt)
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def make_durable(redis: ArqRedis) -> None:
    """Wait (up to a second) until `wait_replicas` replicas hold every write made so far, so work the
    client was told was accepted survives a failover. WAIT counts a connection's own writes, so it
    follows a write on the same connection; replication is ordered, so earlier writes are covered."""
    wanted = getattr(redis, "wait_replicas", 0)
    if not wanted:
        return
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(keyspace.REPLICATION_FENCE, int(time.time() * 1000))
        pipe.execute_command("WAIT", wanted, WAIT_REPLICAS_TIMEOUT_MS)
        _, acked = await pipe.execute()
    if int(acked) < wanted:
        log.warning("replicas_behind", wanted=wanted, acknowledged=int(acked))


# V: the score of the first job of the queue (KEYS[1]) that no worker runs, capped to [now - lag, now].
_VIRTUAL_NOW = """
local now = tonumber(ARGV[1])
local v = now
local head = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1, 'WITHSCORES')
for i = 1, #head, 2 do
  v = tonumber(head[i + 1])
  if redis.call('EXISTS', ARGV[2] .. head[i]) == 0 then break end
end
v = math.max(math.min(v, now), now - tonumber(ARGV[4]))
"""

# KEYS: queue, fairness hash, job key, result key. ARGV: now, in-progress prefix, head scan, lag,
# tenant field, spacing, job id, job bytes, expiry, wake channel. Returns the score, or false when the job
# exists. The wake message lets idle workers take the job at once rather than at their next poll.
_ENQUEUE = (
    """
if redis.call('EXISTS', KEYS[3], KEYS[4]) > 0 then return false end
"""
    + _VIRTUAL_NOW
    + """
local score = math.max(v, tonumber(redis.call('HGET', KEYS[2], ARGV[5]) or '0'))
redis.call('HSET', KEYS[2], ARGV[5], score + tonumber(ARGV[6]))
redis.call('PSETEX', KEYS[3], ARGV[9], ARGV[8])
redis.call('ZADD', KEYS[1], score, ARGV[7])
redis.call('PUBLISH', ARGV[10], '1')
return tostring(score)
"""
)

# KEYS: queue, fairness hash. ARGV: now, in-progress prefix, head scan, lag, tenant field, spacing.
_BACKLOG = (
    _VIRTUAL_NOW
    + """
local clock = tonumber(redis.call('HGET', KEYS[2], ARGV[5]) or '0')
return math.max(0, math.floor((clock - v) / tonumber(ARGV[6])))
"""
)


def _tenant_field(tenant: str) -> str:
    return "t:" + tenant


async def enqueue(redis: ArqRedis, name: str, *args: Any, job_id: str, queue: str, tenant: str) -> bool:
    """Enqueue job `name(*args)` under its deterministic `job_id` on `queue`, scored fairly for
    `tenant`; False (and nothing changes) when a job of that id is queued, running or kept as a
    result. One script, so a command retried across a failover cannot enqueue twice or half."""
    now = int(time.time() * 1000)
    payload = serialize_job(name, args, {}, None, now, serializer=jobs.serialize_job)
    score = await redis.eval(
        _ENQUEUE,
        4,
        queue,
        keyspace.fairness(queue),
        job_key_prefix + job_id,
        result_key_prefix + job_id,
        now,
        in_progress_key_prefix,
        HEAD_SCAN,
        LAG_MS,
        _tenant_field(tenant),
        SPACING_MS,
        job_id,
        payload,
        JOB_EXPIRES_MS,
        keyspace.wake_channel(queue),
    )
    return score is not None


async def backlog(redis: ArqRedis, queue: str, tenant: str) -> int:
    """About how many of `tenant`'s jobs wait on `queue` (its clock's lead over V, in jobs)."""
    now = int(time.time() * 1000)
    return int(
        await redis.eval(
            _BACKLOG,
            2,
            queue,
            keyspace.fairness(queue),
            now,
            in_progress_key_prefix,
            HEAD_SCAN,
            LAG_MS,
            _tenant_field(tenant),
            SPACING_MS,
        )
    )
