"""A conversion process's life after its creation, shared by the front door and the workers: the
JSON a poll returns, its progress, its end (finish, fail or cancel), its webhook and its outputs."""

import json
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis

from core import keyspace
from core.records import Store, iso_ms
from core.storage.base import Storage, workfile_key
from schemas import jobs
from schemas.errors import message_for

WEBHOOK_KEEP_S = 48 * 3600  # a webhook's frozen payload outlives every retry of its delivery


def percent_complete(record: dict[str, Any]) -> int:
    """Units rendered over units planned; 100 only once the process is final."""
    if record["state"] != "processing":
        return 100
    total = record.get("total")
    if not total:
        return 0
    return min(99, record["done"] * 100 // total)


def process_json_text(record: dict[str, Any]) -> str:
    """A process as GET /v2/contentConverters/{id} shows it (`record` read with parse_json=False).

    This is the route clients poll: the stored `input` and `output` JSON is spliced in as it is
    rather than parsed and serialised again on every poll.
    """
    parts = [
        '{"input":',
        record["input"],
        ',"processId":',
        json.dumps(record["processId"]),
        ',"expirationDateTime":"',
        iso_ms(record["expires_ms"]),
        '","state":',
        json.dumps(record["state"]),
        ',"percentComplete":',
        str(percent_complete(record)),
    ]
    if record.get("affinityToken"):
        parts += [',"affinityToken":', json.dumps(record["affinityToken"])]
    if "errorCode" in record:
        parts += [',"errorCode":', json.dumps(record["errorCode"])]
    if "message" in record:
        parts += [',"message":', json.dumps(record["message"])]
    if "output" in record:
        parts += [',"output":', record["output"]]
    if "queuedJobId" in record:
        parts += [',"queuedJobId":', str(record["queuedJobId"])]
    parts.append("}")
    return "".join(parts)


async def end_process(store: Store, queue: ArqRedis, process_id: str, state: str, fields: dict[str, Any]) -> bool:
    """Make a processing process final (compare-and-set); False when it already was.

    The process's webhook, if it has one, is then handed to a worker with the JSON a poll now returns."""
    if not await store.finish_process(process_id, state, fields):
        return False
    await hand_over_webhook(store, queue, process_id)
    return True


async def hand_over_webhook(store: Store, queue: ArqRedis, process_id: str) -> None:
    """Freeze the final JSON and enqueue its delivery (idempotent: a job that runs twice enqueues once)."""
    record = await store.get_process(process_id, parse_json=False)
    if record is None or not record.get("webhook") or record["state"] == "processing":
        return
    payload = json.dumps({"url": record["webhook"], "body": process_json_text(record)})
    if await store.redis.set(keyspace.webhook(process_id), payload, nx=True, ex=WEBHOOK_KEEP_S):
        await queue.enqueue_job(
            jobs.DELIVER_WEBHOOK,
            process_id,
            _job_id=jobs.webhook_job_id(process_id),
            _queue_name=jobs.BATCH_QUEUE,
        )


async def cancel_process(store: Store, queue: ArqRedis, process_id: str) -> bool:
    """End a running process as `Cancelled`, drop its queued jobs and have a worker delete its outputs.

    Jobs already running stop at their next page (they check the state); False if it had already ended."""
    fields = {"errorCode": "Cancelled", "message": message_for("Cancelled")}
    if not await end_process(store, queue, process_id, "error", fields):
        return False
    prefix = f"proc:{process_id}:"
    keep = {prefix.encode(), jobs.webhook_job_id(process_id).encode()}  # the webhook announces the cancel
    doomed = [m async for m, _ in queue.zscan_iter(jobs.BATCH_QUEUE, match=prefix + "*") if m not in keep]
    if doomed:
        async with queue.pipeline(transaction=False) as pipe:
            pipe.zrem(jobs.BATCH_QUEUE, *doomed)
            pipe.delete(*[b"arq:job:" + m for m in doomed])
            await pipe.execute()
    await queue.enqueue_job(
        jobs.DISCARD_OUTPUTS, process_id, _job_id=jobs.discard_job_id(process_id), _queue_name=jobs.BATCH_QUEUE
    )
    return True


async def output_files(store: Store, storage: Storage, record: dict[str, Any]) -> list[tuple[str, Path]] | None:
    """A complete process's result files, in order, as (archive name, local path); None if one expired."""
    results = [r for r in (record.get("output") or {}).get("results", []) if "fileId" in r]
    files = []
    for i, result in enumerate(results, start=1):
        wf = await store.get_workfile(result["fileId"])
        if wf is None:
            return None
        files.append((f"output-{i:04d}.{wf.extension}", await storage.local_path(workfile_key(wf.file_id))))
    return files
