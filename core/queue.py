"""Redis connections that can also enqueue jobs (arq pools speaking JSON payloads)."""

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from schemas import jobs


async def connect_redis(url: str) -> ArqRedis:
    """An ArqRedis (a redis-py asyncio client with enqueue_job) for `url`."""
    return await create_pool(
        RedisSettings.from_dsn(url),
        job_serializer=jobs.serialize_job,
        job_deserializer=jobs.deserialize_job,
        default_queue_name=jobs.BATCH_QUEUE,
    )
