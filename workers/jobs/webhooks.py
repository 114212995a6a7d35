"""Webhook delivery: POST a finished process's JSON to its webhook URL, signed per the Standard Webhooks
spec, through the outbound guard, retried with backoff for hours until the receiver answers 2xx."""

import base64
import hashlib
import hmac
import json
import time

import aiohttp
import structlog
from arq import Retry

from core import keyspace
from core.settings import Settings
from workers.jobs import Ctx
from workers.outbound import guarded_session, was_refused

log = structlog.get_logger("pagemill.webhooks")

# Seconds before each retry: 2 s, 10 s, 1 min, 5 min, 30 min, 1 h, 2 h, 4 h, 8 h (about 16 h in all).
RETRY_DELAYS_S = (2, 10, 60, 300, 1800, 3600, 7200, 14400, 28800)
MAX_TRIES = len(RETRY_DELAYS_S) + 1
TIMEOUT_S = 15.0


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value: v1,base64(HMAC-SHA256(key, "id.timestamp.body"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(signed).decode()


def signed_headers(secret: str, message_id: str, body: bytes) -> dict[str, str]:
    timestamp = int(time.time())  # per attempt: receivers reject stale timestamps
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


async def deliver_webhook(ctx: Ctx, process_id: str) -> str:
    """One delivery attempt; raises Retry on failure until the schedule is used up."""
    settings: Settings = ctx["settings"]
    try_number = ctx.get("job_try", 1)
    with structlog.contextvars.bound_contextvars(job_id=ctx.get("job_id"), job_try=try_number, process_id=process_id):
        raw = await ctx["store"].redis.get(keyspace.webhook(process_id))
        if raw is None:
            return "gone"  # delivered already, or expired
        stored = json.loads(raw)
        body = stored["body"].encode()
        if settings.webhook_secret is None:
            log.error("webhook_not_signed", detail="PAGEMILL_WEBHOOK_SECRET is no longer set")
            return "unsigned"
        # One id for every attempt of this message, so receivers can drop duplicates.
        headers = signed_headers(settings.webhook_secret, f"msg_{process_id}", body)
        try:
            async with (
                guarded_session(allow_private=settings.allow_private_sources, timeout_s=TIMEOUT_S) as session,
                session.post(stored["url"], data=body, headers=headers, allow_redirects=False) as resp,
            ):
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            if was_refused(exc):
                log.warning("webhook_refused", url=stored["url"], detail="address not allowed")
                await ctx["store"].redis.delete(keyspace.webhook(process_id))
                return "refused"
            status, detail = 0, str(exc) or type(exc).__name__
        else:
            detail = f"HTTP {status}"
        if 200 <= status < 300:
            await ctx["store"].redis.delete(keyspace.webhook(process_id))
            log.info("webhook_delivered", status=status, attempt=try_number)
            return "delivered"
        if try_number >= MAX_TRIES:
            log.error("webhook_gave_up", detail=detail, attempts=try_number)
            await ctx["store"].redis.delete(keyspace.webhook(process_id))
            return "gave up"
        delay_s = RETRY_DELAYS_S[try_number - 1]
        log.warning("webhook_retry", detail=detail, attempt=try_number, retry_in_s=delay_s)
        raise Retry(defer=delay_s)
