"""Redis-backed state: work file metadata, processes, their per-page results and the expiry index.

Redis is the single source of truth shared by every web and worker process; every key expires
with the resource it describes, and `pm:expiry` remembers which stored bytes to delete when.
"""

import json
import time
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from core import keyspace
from core.sniff import content_type_for
from schemas.records import Plan, UnitResult, WorkFile

# Set fields only while the process is still processing: state transitions are compare-and-set,
# so a job that runs twice can never move a finished process back or finish it twice.
_CAS_PROCESSING = """
if redis.call('HGET', KEYS[1], 'state') ~= 'processing' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# A page's search results and its done-marker together, once: a job that runs twice adds nothing twice.
_APPEND_RESULTS = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local first = redis.call('LLEN', KEYS[2])
for i = 3, #ARGV do
  redis.call('RPUSH', KEYS[2], (string.gsub(ARGV[i], '"id":%-1', '"id":' .. (first + i - 3), 1)))
end
redis.call('HSET', KEYS[1], ARGV[1], #ARGV - 2)
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
if #ARGV > 2 then redis.call('PEXPIREAT', KEYS[2], ARGV[2]) end
return 1
"""

_PROCESS_FIELDS = (
    "processId",
    "input",
    "state",
    "created_ms",
    "expires_ms",
    "affinityToken",
    "errorCode",
    "output",
    "total",
    "minSecondsAvailable",
    "tenant",
    "queuedJobId",
    "message",
    "webhook",
    "type",
    "params",
)


def now_ms() -> int:
    """Wall-clock milliseconds, the unit of every timestamp we store."""
    return int(time.time() * 1000)


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch as PrizmDoc's ISO 8601 form: 2015-11-04T19:20:09.280Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def make_workfile(
    file_id: str, extension: str, size: int, sha256: str, expires_ms: int, affinity: str, tenant: str = ""
) -> WorkFile:
    """A work file record for bytes already committed to storage."""
    return WorkFile(
        file_id=file_id,
        extension=extension,
        content_type=content_type_for(extension),
        size=size,
        sha256=sha256,
        created_ms=now_ms(),
        expires_ms=expires_ms,
        affinity_token=affinity,
        tenant=tenant,
    )


class Store:
    """Typed access to pagemill's Redis keys."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._cas = redis.register_script(_CAS_PROCESSING)
        self._append_results = redis.register_script(_APPEND_RESULTS)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # --- work files -------------------------------------------------------------------------
    async def put_workfile(self, wf: WorkFile) -> None:
        """Record a work file whose bytes are already committed to storage."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keyspace.workfile(wf.file_id), wf.model_dump_json(), pxat=wf.expires_ms)
            pipe.zadd(keyspace.EXPIRY_INDEX, {f"wf:{wf.file_id}": wf.expires_ms})
            await pipe.execute()

    async def get_workfile(self, file_id: str, tenant: str | None = None) -> WorkFile | None:
        """The work file, if it exists, has not expired and (when `tenant` is given) is that tenant's."""
        raw = await self.redis.get(keyspace.workfile(file_id))
        if raw is None:
            return None
        wf = WorkFile.model_validate_json(raw)
        if wf.expires_ms <= now_ms() or (tenant is not None and wf.tenant != tenant):
            return None
        return wf

    async def delete_workfile(self, file_id: str) -> bool:
        """Forget a work file; the caller deletes its bytes. True when it existed."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keyspace.workfile(file_id))
            pipe.zrem(keyspace.EXPIRY_INDEX, f"wf:{file_id}")
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def due_for_expiry(self, at_ms: int, limit: int = 500) -> list[str]:
        """Expiry-index members ("wf:{id}") whose time has come."""
        members = await self.redis.zrangebyscore(keyspace.EXPIRY_INDEX, "-inf", at_ms, start=0, num=limit)
        return [m.decode() for m in members]

    async def forget_expired(self, member: str) -> None:
        await self.redis.zrem(keyspace.EXPIRY_INDEX, member)

    # --- processes --------------------------------------------------------------------------
    async def create_process(self, process_id: str, fields: dict[str, Any], expires_ms: int) -> None:
        key = keyspace.process(process_id)
        mapping = {k: v if isinstance(v, str | int) else json.dumps(v) for k, v in fields.items()}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={**mapping, "processId": process_id, "expires_ms": expires_ms})
            pipe.pexpireat(key, expires_ms)
            await pipe.execute()

    async def get_process(self, process_id: str, *, parse_json: bool = True) -> dict[str, Any] | None:
        """The process fields (without its plan), plus `done`: how many units are rendered.

        `input` and `output` are parsed unless `parse_json` is False (then they stay JSON text)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keyspace.process(process_id), _PROCESS_FIELDS)
            pipe.hlen(keyspace.process_units(process_id))
            values, done = await pipe.execute()
        if values[0] is None:
            return None
        record = {k: v.decode() for k, v in zip(_PROCESS_FIELDS, values, strict=True) if v is not None}
        for name in ("input", "output", "params"):
            if name in record and parse_json:
                record[name] = json.loads(record[name])
        for name in ("created_ms", "expires_ms", "total", "minSecondsAvailable", "queuedJobId"):
            if name in record:
                record[name] = int(record[name])
        record["done"] = done
        return record

    async def process_state(self, process_id: str) -> str | None:
        """Just the state (a running job checks it between pages to notice a cancel)."""
        state = await self.redis.hget(keyspace.process(process_id), "state")
        return state.decode() if state is not None else None

    async def get_plan(self, process_id: str) -> Plan | None:
        raw = await self.redis.hget(keyspace.process(process_id), "plan")
        return None if raw is None else Plan.model_validate_json(raw)

    async def set_plan(self, process_id: str, plan: Plan) -> bool:
        """Store the plan once; a second plan job of the same process keeps the first one."""
        key = keyspace.process(process_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "plan", plan.model_dump_json())
            pipe.hsetnx(key, "total", len(plan.render))
            created, _ = await pipe.execute()
        return bool(created)

    async def record_unit(self, process_id: str, unit: int, result: UnitResult, expires_ms: int) -> int:
        """Record one unit's result (idempotent); returns how many units are recorded."""
        key = keyspace.process_units(process_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, str(unit), result.model_dump_json(exclude_defaults=True))
            pipe.pexpireat(key, expires_ms)
            pipe.hlen(key)
            _, _, count = await pipe.execute()
        return int(count)

    async def unit_results(self, process_id: str, units: list[int]) -> list[UnitResult | None]:
        if not units:
            return []
        raw = await self.redis.hmget(keyspace.process_units(process_id), [str(u) for u in units])
        return [None if r is None else UnitResult.model_validate_json(r) for r in raw]

    async def finish_process(self, process_id: str, state: str, fields: dict[str, Any]) -> bool:
        """Move a processing process to `state` with `fields`; False when it was already final."""
        argv: list[str | int] = ["state", state]
        for k, v in fields.items():
            argv += [k, v if isinstance(v, str | int) else json.dumps(v)]
        changed = bool(await self._cas(keys=[keyspace.process(process_id)], args=argv))
        if changed:  # front doors drop their cached copy of the process at once
            await self.redis.publish(keyspace.ready_channel(keyspace.process(process_id)), b"1")
        return changed

    # --- page-by-page processes (search contexts and tasks, redactions) ---------------------
    async def set_total(self, process_id: str, total: int) -> None:
        """How many pages the process goes through (percentComplete counts recorded pages against it)."""
        await self.redis.hsetnx(keyspace.process(process_id), "total", total)

    async def record_page(self, process_id: str, page: int, raw: str, expires_ms: int) -> None:
        """What one page produced (JSON text); recording it again replaces it with the same."""
        key = keyspace.process_units(process_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, str(page), raw)
            pipe.pexpireat(key, expires_ms)
            await pipe.execute()

    async def page_records(self, process_id: str, pages: list[int]) -> list[str | None]:
        if not pages:
            return []
        raw = await self.redis.hmget(keyspace.process_units(process_id), [str(p) for p in pages])
        return [None if r is None else r.decode() for r in raw]

    async def append_results(self, process_id: str, page: int, results: list[str], expires_ms: int) -> bool:
        """Append one page's results (JSON objects whose `"id":-1` becomes their position in the list)
        and mark the page done, atomically; False when the page was recorded already."""
        keys = [keyspace.process_units(process_id), keyspace.process_results(process_id)]
        return bool(await self._append_results(keys=keys, args=[str(page), expires_ms, *results]))

    async def result_count(self, process_id: str) -> int:
        return int(await self.redis.llen(keyspace.process_results(process_id)))

    async def results(self, process_id: str, start: int, count: int) -> tuple[list[str], int]:
        """`count` results from `start`, and how many there are so far."""
        key = keyspace.process_results(process_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(key, start, start + count - 1)
            pipe.llen(key)
            items, total = await pipe.execute()
        return [item.decode() for item in items], int(total)
