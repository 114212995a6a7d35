"""Resumable uploads shared by the upload-session and tus routes.

Parts are written to storage under `uploads/{id}/` (local disk: in place into one growing file;
S3: one object per part) under a Redis lock, so any number of front doors on any number of hosts
can serve the same upload with nothing shared but Redis and storage. The offset and the parts'
start offsets live in Redis; a part that breaks off keeps what arrived, and a part re-sent at the
same offset replaces the old one. Only a finished upload becomes a work file: its parts are
joined (hashed and sniffed on the way) and then deleted.
"""

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from core import keyspace
from core.ids import new_affinity_token, new_id
from core.quota import Quota, Reservation
from core.records import Store, make_workfile, now_ms
from core.sniff import SNIFF_BYTES, choose_extension, refine, sniff_extension
from core.storage.base import Meter, Part, Storage, workfile_key
from schemas.records import WorkFile

LOCK_MS = 30_000
REFRESH_EVERY_BYTES = 16 * 1024 * 1024

_REFRESH = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class UploadBusy(Exception):
    """Another request is writing to this upload right now."""


def upload_key(upload_id: str) -> str:
    return keyspace.upload(upload_id)


def partial_key(upload_id: str) -> str:
    """The storage prefix under which an upload's parts live."""
    return f"uploads/{upload_id}/"


@dataclass
class Segment:
    """A part received but not yet kept: `Uploads.append` keeps it, `discard` drops it."""

    start: int
    received: int
    complete: bool
    part: Part
    reservation: Reservation

    async def discard(self) -> None:
        await self.part.discard()
        await self.reservation.cancel()


class Uploads:
    """Upload records in Redis and their bytes in storage."""

    def __init__(self, redis: Redis, storage: Storage, store: Store, quota: Quota) -> None:
        self.redis = redis
        self.storage = storage
        self.store = store
        self.quota = quota
        self._refresh = redis.register_script(_REFRESH)
        self._release = redis.register_script(_RELEASE)

    async def create(self, fields: dict[str, Any], lifetime_s: int) -> tuple[str, dict[str, Any]]:
        upload_id = new_id()
        now = now_ms()
        record = {
            **fields,
            "id": upload_id,
            "offset": 0,
            "part_starts": [],
            "created_ms": now,
            "expires_ms": now + lifetime_s * 1000,
        }
        key = upload_key(upload_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, json.dumps(record), px=lifetime_s * 1000)
            # remember the id a while longer, so an expired upload answers 410, not 404
            pipe.set(key + ":known", fields.get("tenant", ""), px=(lifetime_s + 7 * 86400) * 1000)
            pipe.zadd(keyspace.EXPIRY_INDEX, {f"obj:{key}|{partial_key(upload_id)}": record["expires_ms"]})
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
        await self.redis.zrem(keyspace.EXPIRY_INDEX, f"obj:{key}|{partial_key(upload_id)}")
        await self.storage.delete_prefix(partial_key(upload_id))
        await self.quota.release(partial_key(upload_id))

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
        self,
        record: dict[str, Any],
        body: web.Request,
        stream: AsyncIterator[bytes],
        lock: "Lock",
        *,
        limit: int,
        digest: Any = None,
    ) -> Segment:
        """Receive the request body (`stream`: its chunks, read by service/body.py) at the record's offset.

        A body that breaks off yields what arrived (`complete` False); the caller keeps the
        segment with `append` or drops it with `discard`.
        """
        offset = record["offset"]
        # the upload's bytes count against its tenant's quota as they arrive (its entry holds `offset` already)
        reservation = self.quota.reservation(record.get("tenant", ""), partial_key(record["id"]), offset)
        part = self.storage.open_part(partial_key(record["id"]), offset)
        received, since_refresh = 0, 0
        complete = True
        try:
            if body.content_length and offset + body.content_length <= limit:
                await reservation.grow(body.content_length, whole=True)  # room for the whole part first
            try:
                async for chunk in stream:
                    if offset + received + len(chunk) > limit:
                        raise TooLarge(limit)
                    await reservation.grow(received + len(chunk))
                    part.write(chunk)
                    if digest is not None:
                        digest.update(chunk)
                    received += len(chunk)
                    since_refresh += len(chunk)
                    if since_refresh >= REFRESH_EVERY_BYTES:
                        await lock.refresh()
                        since_refresh = 0
            except (aiohttp.ClientPayloadError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                complete = False  # broke off or stalled: the client resumes from the offset
        except BaseException:
            await part.discard()
            await reservation.cancel()
            raise
        if body.content_length is not None and received < body.content_length:
            complete = False
        return Segment(offset, received, complete, part, reservation)

    async def append(self, record: dict[str, Any], segment: Segment) -> None:
        """Keep a received segment: store it and move the record's offset past it (save the record after)."""
        if segment.received == 0:
            await segment.discard()
            return
        await segment.part.keep()
        await segment.reservation.settle(partial_key(record["id"]), segment.start + segment.received)
        starts = [s for s in record.get("part_starts", []) if s < segment.start]
        record["part_starts"] = [*starts, segment.start]
        record["offset"] = segment.start + segment.received

    async def finish(self, record: dict[str, Any], affinity: str = "") -> WorkFile:
        """Turn the finished upload into a work file (once; later calls return the same one)."""
        if record.get("fileId"):
            wf = await self.store.get_workfile(record["fileId"])
            if wf is not None:
                return wf
        meter, file_id = Meter(SNIFF_BYTES), record.get("joining")
        if file_id and await self.storage.exists(workfile_key(file_id)):
            # an earlier call joined the parts and stopped before recording the work file
            await asyncio.to_thread(meter.update_from_file, await self.storage.local_path(workfile_key(file_id)))
            await self.storage.delete_prefix(partial_key(record["id"]))
        else:
            file_id = record["joining"] = file_id or new_id()
            await self.save(record)  # the id is known before the parts are joined into it
            await self.storage.join_parts(
                partial_key(record["id"]), record.get("part_starts", []), record["offset"], workfile_key(file_id), meter
            )
        sniffed = await refine(sniff_extension(meter.head), lambda: self.storage.local_path(workfile_key(file_id)))
        extension = choose_extension(sniffed, record.get("extension") or "")
        expires = max(record["expires_ms"], now_ms() + record["workfile_lifetime_s"] * 1000)
        affinity = affinity or new_affinity_token()
        wf = make_workfile(file_id, extension, meter.size, meter.sha256, expires, affinity, record.get("tenant", ""))
        wf = wf.model_copy(update={"filename": record.get("filename") or ""})
        await self.store.put_workfile(wf)
        # the parts' bytes are the work file's now (setting the same size twice changes nothing: a retried save)
        await self.quota.charge(
            wf.tenant, workfile_key(file_id), meter.size, check=False, fold=partial_key(record["id"])
        )
        record.update(fileId=file_id, offset=meter.size, part_starts=[])
        await self.save(record)
        await self.redis.zrem(keyspace.EXPIRY_INDEX, f"obj:{upload_key(record['id'])}|{partial_key(record['id'])}")
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
