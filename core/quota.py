"""Per-tenant storage quota (PAGEMILL_TENANT_MAX_BYTES): the bytes each tenant holds in stored files.

Every stored object a tenant owns is a ledger entry, keyed by its storage key (`wf/..` work files,
`fs/..` file-service versions, `uploads/{id}/` a resumable upload's parts) or, while a body streams
in, by a reservation (`tmp:..`). One Lua script changes an entry and the tenant's total together,
refusing a change that would take the total past the limit, so concurrent uploads can never
overshoot it, and setting an entry to the size it already has changes nothing, so a job that runs
twice counts its output once. Deleting or expiring an object releases its entry. A reservation is
leased: one whose front door died is released by the sweeper once its lease runs out.

With no limit configured nothing is counted (and nothing costs a Redis call).
"""

import time
import uuid

import structlog
from redis.asyncio import Redis

from core import keyspace
from core.errors import QuotaExceeded

# KEYS: sizes hash, owners hash, leases zset, the tenant's total.
# ARGV: object, tenant, wanted, needed (-1: none), limit (-1: none), lease until ms (0: none), object to fold in.
# Sets the object's size to `wanted` (or, if that does not fit, `needed`) and returns it; -1 if neither fits.
_CHARGE = """
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local folded = 0
if ARGV[7] ~= '' then folded = tonumber(redis.call('HGET', KEYS[1], ARGV[7]) or '0') end
local base = tonumber(redis.call('GET', KEYS[4]) or '0') - old - folded
local limit, wanted, needed = tonumber(ARGV[5]), tonumber(ARGV[3]), tonumber(ARGV[4])
local size = wanted
if limit >= 0 and base + wanted > limit and wanted > old + folded then
  if needed >= 0 and (base + needed <= limit or needed <= old + folded) then size = needed else return -1 end
end
if ARGV[7] ~= '' then
  redis.call('HDEL', KEYS[1], ARGV[7]) redis.call('HDEL', KEYS[2], ARGV[7]) redis.call('ZREM', KEYS[3], ARGV[7])
end
redis.call('HSET', KEYS[1], ARGV[1], size)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('INCRBY', KEYS[4], size - old - folded)
if tonumber(ARGV[6]) > 0 then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return size
"""

# KEYS: sizes hash, owners hash, leases zset. ARGV: the prefix of totals, then objects. Returns bytes released.
_RELEASE = """
local released = 0
for i = 2, #ARGV do
  local size = redis.call('HGET', KEYS[1], ARGV[i])
  if size then
    local owner = redis.call('HGET', KEYS[2], ARGV[i]) or ''
    redis.call('DECRBY', ARGV[1] .. owner, size)
    redis.call('HDEL', KEYS[1], ARGV[i]) redis.call('HDEL', KEYS[2], ARGV[i])
    released = released + tonumber(size)
  end
  redis.call('ZREM', KEYS[3], ARGV[i])
end
return released
"""

log = structlog.get_logger("pagemill.quota")

STEP_BYTES = 8 * 1024 * 1024  # a streaming body reserves this much ahead (fewer Redis calls)
LEASE_S = 300.0  # a reservation not renewed for this long belongs to a front door that died


class Quota:
    """The tenants' stored bytes in Redis, held to `limit` (None: unlimited, nothing is counted)."""

    def __init__(self, redis: Redis, limit: int | None) -> None:
        self.redis = redis
        self.limit = limit
        self._charge = redis.register_script(_CHARGE)
        self._release = redis.register_script(_RELEASE)

    @property
    def enabled(self) -> bool:
        return self.limit is not None

    async def held(self, tenant: str) -> int:
        """The bytes the tenant holds (reservations of bodies in flight included)."""
        return int(await self.redis.get(keyspace.quota_total(tenant)) or 0)

    async def charge(
        self,
        tenant: str,
        obj: str,
        size: int,
        *,
        needed: int | None = None,
        check: bool = True,
        lease_s: float = 0,
        fold: str = "",
    ) -> int:
        """Set `obj`'s size to `size` (or at least `needed`) and return it; QuotaExceeded if that would take the
        tenant past the limit (growing only: shrinking always works). `fold` is an entry (a reservation) whose
        bytes become `obj`'s; `lease_s` makes the entry a lease the sweeper releases unless it is renewed."""
        if self.limit is None:
            return size
        lease_until = int((time.time() + lease_s) * 1000) if lease_s else 0
        args = [obj, tenant, size, -1 if needed is None else needed, self.limit if check else -1, lease_until, fold]
        keys = [keyspace.QUOTA_SIZES, keyspace.QUOTA_OWNERS, keyspace.QUOTA_LEASES, keyspace.quota_total(tenant)]
        granted = int(await self._charge(keys=keys, args=args))
        if granted < 0:
            raise QuotaExceeded(self.limit)
        return granted

    async def release(self, *objs: str) -> int:
        """Forget these entries (deleted or expired objects); returns the bytes freed. Unknown entries are skipped."""
        if self.limit is None or not objs:
            return 0
        keys = [keyspace.QUOTA_SIZES, keyspace.QUOTA_OWNERS, keyspace.QUOTA_LEASES]
        return int(await self._release(keys=keys, args=[keyspace.quota_total(""), *objs]))

    async def release_lapsed(self, limit: int = 500) -> int:
        """Release reservations whose lease ran out (their front door died mid-body); returns how many."""
        if self.limit is None:
            return 0
        lapsed = await self.redis.zrangebyscore(keyspace.QUOTA_LEASES, "-inf", int(time.time() * 1000), 0, limit)
        if lapsed:
            await self.release(*(m.decode() for m in lapsed))
        return len(lapsed)

    def reservation(self, tenant: str, obj: str = "", base: int = 0) -> "Reservation":
        """Bytes of a body being received: a new leased entry, or (`obj`) an upload's own entry that already
        counts `base` bytes."""
        return Reservation(self, tenant, obj, base)


class Reservation:
    """Room for a body in flight, grown ahead of the bytes (by STEP_BYTES) so that most chunks need no Redis call."""

    def __init__(self, quota: Quota, tenant: str, obj: str, base: int) -> None:
        self.quota, self.tenant, self.base = quota, tenant, base
        self.leased = not obj
        self.obj = obj or f"tmp:{uuid.uuid4().hex}"
        self.granted = base
        self._renewed = time.monotonic()

    def _step(self) -> int:
        limit = self.quota.limit or 0
        return max(64 * 1024, min(STEP_BYTES, limit // 64))

    async def grow(self, received: int, *, whole: bool = False) -> None:
        """Make room for `received` bytes after the base (`whole`: the body's known length, so exactly that);
        QuotaExceeded when the tenant has none left."""
        if self.quota.limit is None:
            return
        needed = self.base + received
        stale = self.leased and time.monotonic() - self._renewed > LEASE_S / 4
        if needed <= self.granted and not stale:
            return
        wanted = max(needed if whole else needed + self._step(), self.granted)
        self.granted = await self.quota.charge(
            self.tenant, self.obj, wanted, needed=needed, lease_s=LEASE_S if self.leased else 0
        )
        self._renewed = time.monotonic()

    async def settle(self, obj: str, size: int) -> None:
        """The body was stored as `obj` of `size` bytes: the reservation becomes that entry."""
        if self.leased:
            await self.quota.charge(self.tenant, obj, size, check=False, fold=self.obj)
        else:
            await self.quota.charge(self.tenant, self.obj, size, check=False)
        self.granted = size

    async def cancel(self) -> None:
        """Nothing of the body was kept: a new entry goes, an upload's entry returns to its base. Called while
        another error unwinds, so it never raises (a leased entry left behind lapses by itself)."""
        try:
            if self.leased:
                await self.quota.release(self.obj)
            elif self.granted != self.base:
                await self.quota.charge(self.tenant, self.obj, self.base, check=False)
            self.granted = self.base
        except Exception as exc:
            log.warning("quota_reservation_kept", obj=self.obj, error=str(exc) or type(exc).__name__)
