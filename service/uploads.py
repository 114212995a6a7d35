"""Resumable uploads shared by the upload-session and tus routes.

An upload grows in place in storage (`uploads/{id}`), one part at a time, under a Redis lock so
that any number of front-door processes can serve the same upload. Its offset lives in Redis; a
part that breaks off keeps what arrived (a part is written at its offset and the file truncated
after it, so a re-sent part simply overwrites). Only a finished upload becomes a work file.
"""

import asyncio
import contextlib
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from schemas.records import WorkFile
from service.ids import new_affinity_token, new_id
from service.sniff import SNIFF_BYTES, choose_extension, sniff_extension
from service.storage import Storage, workfile_key
from service.store import EXPIRY_INDEX, Store, make_workfile, now_ms

CHUNK_BYTES = 256 * 1024
LOCK_MS = 30_000
REFRESH_EVERY_BYTES = 16 * 1024 * 1024

_REFRESH = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class UploadBusy(Exception):
    """Another request is writing to this upload right now."""


def upload_key(upload_id: str) -> str:
    return f"pm:upload:{upload_id}"


def partial_key(upload_id: str) -> str:
    return f"uploads/{upload_id}"


class Uploads:
    """Upload records in Redis and their bytes in storage."""

    def __init__(self, redis: Redis, storage: Storage, store: Store) -> None:
        self.redis = redis
        self.storage = storage
        self.store = store
        self._refresh = redis.register_script(_REFRESH)
        self._release = redis.register_script(_RELEASE)

    async def create(self, fields: dict[str, Any], lifetime_s: int) -> tuple[str, dict[str, Any]]:
        upload_id = new_id()
        now = now_ms()
        record = {**fields, "id": upload_id, "offset": 0, "created_ms": now, "expires_ms": now + lifetime_s * 1000}
        key = upload_key(upload_id)
        self.storage.partial_path(partial_key(upload_id)).write_bytes(b"")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, json.dumps(record), px=lifetime_s * 1000)
            # remember the id a while longer, so an expired upload answers 410, not 404
            pipe.set(key + ":known", fields.get("tenant", ""), px=(lifetime_s + 7 * 86400) * 1000)
            pipe.zadd(EXPIRY_INDEX, {f"obj:{key}|{partial_key(upload_id)}": record["expires_ms"]})
            await pipe.execute()
        return upload_id, record

    async def get(self, upload_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(upload_key(upload_id))
        return None if raw is None else json.loads(raw)

    async def expired(self, upload_id: str, tenant: str) -> bool:
        """True when this tenant's upload existed but its lifetime is over."""
        owner = await self.redis.get(upload_key(upload_id) + ":known")
        return owner is not None and owner.decode() == tenant

    async def save(self, record: dict[str, Any]) -> None:
        ttl_ms = record["expires_ms"] - now_ms()
        if ttl_ms > 0:
            await self.redis.set(upload_key(record["id"]), json.dumps(record), px=ttl_ms)

    async def delete(self, upload_id: str) -> None:
        key = upload_key(upload_id)
        await self.redis.delete(key, key + ":known")
        await self.redis.zrem(EXPIRY_INDEX, f"obj:{key}|{partial_key(upload_id)}")
        await self.storage.delete(partial_key(upload_id))

    @contextlib.asynccontextmanager
    async def locked(self, upload_id: str) -> AsyncIterator["Lock"]:
        """Exclusive right to write this upload; UploadBusy when another request holds it."""
        key = upload_key(upload_id) + ":lock"
        token = secrets.token_hex(8)
        if not await self.redis.set(key, token, nx=True, px=LOCK_MS):
            raise UploadBusy(upload_id)
        lock = Lock(self, key, token)
        try:
            yield lock
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(keys=[key], args=[token]))

    async def write(
        self, record: dict[str, Any], body: web.Request, lock: "Lock", *, limit: int, digest: Any = None
    ) -> tuple[int, bool]:
        """Write the request body at the record's offset; returns (bytes received, complete?).

        The file is truncated to the new end, so a part re-sent after a failure overwrites the
        old bytes. A body that breaks off keeps what arrived (`complete` False).
        """
        offset = record["offset"]
        path = self.storage.partial_path(partial_key(record["id"]))
        received, since_refresh = 0, 0
        complete = True
        with open(path, "r+b") as fh:
            fh.seek(offset)
            try:
                async for chunk in body.content.iter_chunked(CHUNK_BYTES):
                    if offset + received + len(chunk) > limit:
                        raise TooLarge(limit)
                    fh.write(chunk)
                    if digest is not None:
                        digest.update(chunk)
                    received += len(chunk)
                    since_refresh += len(chunk)
                    if since_refresh >= REFRESH_EVERY_BYTES:
                        await lock.refresh()
                        since_refresh = 0
            except (aiohttp.ClientPayloadError, ConnectionError, asyncio.IncompleteReadError):
                complete = False
            if body.content_length is not None and received < body.content_length:
                complete = False
            fh.truncate(offset + received)
        return received, complete

    async def rewind(self, record: dict[str, Any]) -> None:
        """Drop bytes written past the recorded offset (a rejected part)."""
        path = self.storage.partial_path(partial_key(record["id"]))
        with open(path, "r+b") as fh:
            fh.truncate(record["offset"])

    async def finish(self, record: dict[str, Any], affinity: str = "") -> WorkFile:
        """Turn the finished upload into a work file (once; later calls return the same one)."""
        if record.get("fileId"):
            wf = await self.store.get_workfile(record["fileId"])
            if wf is not None:
                return wf
        path = self.storage.partial_path(partial_key(record["id"]))
        size, sha256, head = await asyncio.to_thread(_hash_file, path)
        extension = choose_extension(sniff_extension(head), record.get("extension") or "")
        file_id = new_id()
        await self.storage.commit_file(path, workfile_key(file_id))
        expires = max(record["expires_ms"], now_ms() + record["workfile_lifetime_s"] * 1000)
        affinity = affinity or new_affinity_token()
        wf = make_workfile(file_id, extension, size, sha256, expires, affinity, record.get("tenant", ""))
        wf = wf.model_copy(update={"filename": record.get("filename") or ""})
        await self.store.put_workfile(wf)
        record["fileId"] = file_id
        record["offset"] = size
        await self.save(record)
        await self.redis.zrem(EXPIRY_INDEX, f"obj:{upload_key(record['id'])}|{partial_key(record['id'])}")
        return wf


class TooLarge(Exception):
    """The upload would exceed the configured maximum size."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class Lock:
    """A held upload lock, refreshed while a long part streams in."""

    def __init__(self, uploads: Uploads, key: str, token: str) -> None:
        self._uploads, self._key, self._token = uploads, key, token

    async def refresh(self) -> None:
        await self._uploads._refresh(keys=[self._key], args=[self._token, LOCK_MS])


def _hash_file(path: Any) -> tuple[int, str, bytes]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if not head:
                head = chunk[:SNIFF_BYTES]
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest(), head
