"""The expiry sweeper (a cron job): deletes the bytes of expired work files and stale temporaries, and
gives their bytes back to their tenant's quota."""

import structlog

from core import keyspace
from core.quota import Quota
from core.records import Store, now_ms
from core.storage.base import Storage, workfile_key
from workers.jobs import Ctx

log = structlog.get_logger("pagemill.jobs")


async def sweep_expired(ctx: Ctx) -> int:
    """Delete the bytes of expired work files and stale temporaries (metadata expires in Redis)."""
    store: Store = ctx["store"]
    storage: Storage = ctx["storage"]
    quota: Quota = ctx["quota"]
    removed = 0
    for member in await store.due_for_expiry(now_ms()):
        kind, _, ident = member.partition(":")
        if kind == "wf" and await store.get_workfile(ident) is None:
            await storage.delete(workfile_key(ident))
            await quota.release(workfile_key(ident))
            removed += 1
        elif kind == "obj":
            # "obj:{owner key}|{storage key}": bytes live as long as the record that points at them
            owner, _, storage_key = ident.partition("|")
            ttl_ms = await store.redis.pttl(owner)
            if ttl_ms > 0:
                await store.redis.zadd(keyspace.EXPIRY_INDEX, {member: now_ms() + ttl_ms})
                continue
            if storage_key.endswith("/"):
                await storage.delete_prefix(storage_key)
            else:
                await storage.delete(storage_key)
            await quota.release(storage_key)  # (a resumable upload's parts; rendered pages count for no one)
            removed += 1
        await store.forget_expired(member)
    await quota.release_lapsed()  # reservations of bodies whose front door died mid-body
    removed += await storage.sweep_scratch(older_than_s=max(3600, 4 * ctx["settings"].job_timeout_s))
    if removed:
        log.info("expired_swept", removed=removed)
    return removed
