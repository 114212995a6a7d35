"""Redis state of viewing sessions and of what viewers are served: documents, pages, text.

Written by the web (sessions) and by workers (documents, pages, text); each write of a page,
document or text record is announced on `pm:ready:{key}` so waiting requests wake up at once.
"""

import json
from typing import Any

from redis.asyncio import Redis

from core import keyspace
from core.records import now_ms
from core.settings import Settings

# Set the source only once: a session's document cannot change after it is provided.
_SET_SOURCE = """
if redis.call('HEXISTS', KEYS[1], 'fileId') == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'fileId', ARGV[1], 'docId', ARGV[2], 'sourceExtension', ARGV[3], 'ownsSource', ARGV[4])
redis.call('HDEL', KEYS[1], 'sourceError')
return 1
"""


def source_lifetime_s(settings: Settings, session: dict[str, Any]) -> int:
    """A document provided to a session lives as long as the session; with caching on, at least
    as long as any work file (so other sessions may reuse it by reference)."""
    remaining = max(1, (session["expires_ms"] - now_ms()) // 1000)
    if session["props"].get("serverCaching") == "none":
        return remaining
    return max(settings.workfile_lifetime_s, remaining)


def _decode(raw: dict[bytes, bytes]) -> dict[str, Any]:
    record: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for name in ("props", "stopped"):
        if name in record:
            record[name] = json.loads(record[name])
    for name in ("created_ms", "expires_ms"):
        if name in record:
            record[name] = int(record[name])
    return record


class SessionStore:
    """Typed access to viewing-session keys."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._set_source = redis.register_script(_SET_SOURCE)

    async def publish(self, key: str) -> None:
        await self.redis.publish(keyspace.ready_channel(key), b"1")

    # --- sessions ---------------------------------------------------------------------------
    async def create(
        self, session_id: str, props: dict[str, Any], created_ms: int, expires_ms: int, tenant: str
    ) -> None:
        key = keyspace.session(session_id)
        fields = {"props": json.dumps(props), "created_ms": created_ms, "expires_ms": expires_ms, "tenant": tenant}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.pexpireat(key, expires_ms)
            await pipe.execute()

    async def get(self, session_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hgetall(keyspace.session(session_id))
        return {**_decode(raw), "id": session_id} if raw else None

    async def tenant(self, session_id: str) -> str | None:
        """The tenant a session belongs to (None: no such session)."""
        raw = await self.redis.hget(keyspace.session(session_id), "tenant")
        return None if raw is None else raw.decode()

    async def set_source(self, session_id: str, file_id: str, doc_id: str, extension: str, *, owned: bool) -> int:
        """1: set; 0: the session already has a document; -1: no such session.

        `owned`: the work file was made for this session (upload or fetch), not referenced.
        """
        args = [file_id, doc_id, extension, "1" if owned else "0"]
        result = await self._set_source(keys=[keyspace.session(session_id)], args=args)
        if result == 1:
            await self.publish(keyspace.session(session_id))
        return int(result)

    async def set_source_error(self, session_id: str, error_code: str) -> None:
        key = keyspace.session(session_id)
        if await self.redis.exists(key):
            await self.redis.hset(key, "sourceError", error_code)
            await self.publish(key)

    async def mark_started(self, session_id: str) -> None:
        await self.redis.hset(keyspace.session(session_id), "started", "1")

    async def stop(self, session_id: str, stopped: dict[str, Any]) -> None:
        await self.redis.hset(keyspace.session(session_id), "stopped", json.dumps(stopped))

    async def is_live(self, session_id: str) -> bool:
        """Whether the session still exists and was not stopped (rendering for it goes on)."""
        key = keyspace.session(session_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.hexists(key, "stopped")
            exists, stopped = await pipe.execute()
        return bool(exists) and not stopped

    async def track_private_page(self, session_id: str, page_key: str, expires_ms: int) -> None:
        """Remember a page rendered only for this session, to delete it with the session."""
        key = keyspace.session(session_id) + ":pages"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, page_key)
            pipe.pexpireat(key, expires_ms)
            await pipe.execute()

    async def delete(self, session_id: str) -> list[dict[str, Any]]:
        """Delete the session and its private pages; returns those pages' records (for their bytes)."""
        key = keyspace.session(session_id)
        page_keys = [k.decode() for k in await self.redis.smembers(key + ":pages")]
        records = [r for r in await self.get_many(page_keys) if r is not None] if page_keys else []
        await self.redis.delete(key, key + ":pages", *page_keys)
        return records

    # --- documents, pages, text -------------------------------------------------------------
    async def get_doc(self, doc_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(keyspace.document(doc_id))
        return None if raw is None else json.loads(raw)

    async def put_doc(self, doc_id: str, info: dict[str, Any], ttl_s: int) -> None:
        await self.redis.set(keyspace.document(doc_id), json.dumps(info), ex=ttl_s)
        await self.publish(keyspace.document(doc_id))

    async def get_record(self, key: str, *, touch_s: int = 0) -> dict[str, Any] | None:
        """A page or text record; `touch_s` extends a shared cache entry's life on use."""
        if touch_s:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.expire(key, touch_s)
                raw, _ = await pipe.execute()
        else:
            raw = await self.redis.get(key)
        return None if raw is None else json.loads(raw)

    async def get_many(self, keys: list[str]) -> list[dict[str, Any] | None]:
        if not keys:
            return []
        return [None if raw is None else json.loads(raw) for raw in await self.redis.mget(keys)]

    async def put_record(self, key: str, record: dict[str, Any], ttl_s: int, storage_key: str | None = None) -> None:
        """Write a record; its stored bytes (if any) are deleted by the sweeper once it is gone."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, json.dumps(record), ex=max(1, ttl_s))
            if storage_key:
                pipe.zadd(keyspace.EXPIRY_INDEX, {f"obj:{key}|{storage_key}": now_ms() + ttl_s * 1000})
            await pipe.execute()
        await self.publish(key)
