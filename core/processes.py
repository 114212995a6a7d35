"""The process framework: a process's whole life, shared by the front door and the workers.

A process type is declared once (`ProcessType`: its name, its validated input model and the job that
starts it); `start_process` gives every type the same record, queued-job number, idempotency,
expiry and first enqueue; `process_json_text` the same poll JSON and progress; `end_process` and
`cancel_process` the same compare-and-set end, webhook hand-off and clean-up. The worker side of
a process job (retries, failing it) is workers/jobs/lifecycle.py.
"""

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis
from pydantic import BaseModel
from redis.asyncio import Redis

from core import keyspace
from core.errors import CodedError
from core.ids import new_id
from core.queue import enqueue, make_durable
from core.records import Store, iso_ms, now_ms
from core.storage.base import Storage, workfile_key
from schemas import jobs
from schemas.converters import ConvertRequest
from schemas.errors import message_for
from schemas.redaction import MarkupBurnerRequest, PlainTextRedactorRequest, RedactionCreatorRequest
from schemas.search import SearchContextRequest, SearchTaskRequest

WEBHOOK_KEEP_S = 48 * 3600  # a webhook's frozen payload outlives every retry of its delivery
IDEMPOTENCY_TTL_S = 24 * 3600
IDEMPOTENCY_WAIT_S = 2.0  # how long a retried request waits for the first one to create its process


@dataclass(frozen=True)
class ProcessType:
    """A kind of process: its name (a queued job's `type`), its request model and its first job."""

    name: str
    request_model: type[BaseModel]
    first_job: str  # enqueued by name...
    first_job_id: Callable[[str], str]  # ...with this deterministic id, so a retried start enqueues once
    id_field: str = "processId"  # what the poll JSON calls the id (search contexts: "contextId")


CONTENT_CONVERSION = ProcessType("ContentConversion", ConvertRequest, jobs.PLAN_CONVERSION, jobs.plan_job_id)
SEARCH_CONTEXT = ProcessType(
    "SearchContext", SearchContextRequest, jobs.EXTRACT_TEXT, jobs.step_job_id, id_field="contextId"
)
SEARCH_TASK = ProcessType("SearchTask", SearchTaskRequest, jobs.SEARCH_TEXT, jobs.step_job_id)
REDACTION_CREATION = ProcessType("RedactionCreation", RedactionCreatorRequest, jobs.CREATE_REDACTIONS, jobs.step_job_id)
MARKUP_BURNING = ProcessType("MarkupBurning", MarkupBurnerRequest, jobs.BURN_MARKUP, jobs.step_job_id)
PLAIN_TEXT_REDACTION = ProcessType(
    "PlainTextRedaction", PlainTextRedactorRequest, jobs.REDACT_PLAIN_TEXT, jobs.step_job_id
)
PROCESS_TYPES = {
    kind.name: kind
    for kind in (
        CONTENT_CONVERSION,
        SEARCH_CONTEXT,
        SEARCH_TASK,
        REDACTION_CREATION,
        MARKUP_BURNING,
        PLAIN_TEXT_REDACTION,
    )
}


def kind_of(record: dict[str, Any]) -> ProcessType:
    """The type of a recorded process (records older than the type field are conversions)."""
    return PROCESS_TYPES.get(record.get("type") or CONTENT_CONVERSION.name, CONTENT_CONVERSION)


@dataclass(frozen=True)
class NewProcess:
    """What a validated request asks for: everything `start_process` records."""

    kind: ProcessType
    tenant: str
    input: dict[str, Any]  # the normalised input, echoed by every poll
    lifetime_s: int
    affinity_token: str = ""
    webhook: str | None = None
    idempotency_key: str | None = None
    fingerprint: str = ""  # of the request, so a reused Idempotency-Key with another body is refused
    params: dict[str, Any] | None = None  # what the jobs need beyond the echoed input (never shown)


async def start_process(store: Store, queue: ArqRedis, new: NewProcess) -> tuple[dict[str, Any], bool]:
    """Record a new process (`processing`), number it as a queued job and enqueue its first job.

    Returns the record (JSON fields unparsed) and whether it is an earlier process replayed for the
    same Idempotency-Key (whose first job is enqueued again if it is still processing: a retry after a
    503 restarts a process whose job a failover lost). Raises CodedError IdempotencyKeyReused /
    IdempotentRequestInProgress."""
    process_id = new_id()
    if new.idempotency_key is not None:
        prior = await _claim(store, new, process_id)
        if prior is not None:
            if prior["state"] == "processing":
                # The first request may have failed after recording the process (Redis went away, a
                # failover lost the job): enqueue its first job again (a no-op when it is there or done).
                await _enqueue_first(queue, new.kind, prior["processId"], new.tenant)
            return prior, True
    created = now_ms()
    expires = created + new.lifetime_s * 1000
    number = await register_queued_job(store.redis, process_id, new.tenant, expires)
    fields: dict[str, Any] = {
        "type": new.kind.name,
        "input": new.input,
        "state": "processing",
        "created_ms": created,
        "affinityToken": new.affinity_token,
        "tenant": new.tenant,
        "queuedJobId": number,
    }
    if new.webhook:
        fields["webhook"] = new.webhook
    if new.params:
        fields["params"] = new.params
    await store.create_process(process_id, fields, expires)
    await _enqueue_first(queue, new.kind, process_id, new.tenant)
    await make_durable(queue)  # the client is told it was accepted: have it on the replicas first
    record = await store.get_process(process_id, parse_json=False)
    assert record is not None
    return record, False


async def _enqueue_first(queue: ArqRedis, kind: ProcessType, process_id: str, tenant: str) -> None:
    job_id = kind.first_job_id(process_id)
    await enqueue(queue, kind.first_job, process_id, job_id=job_id, queue=jobs.BATCH_QUEUE, tenant=tenant)


async def _claim(store: Store, new: NewProcess, process_id: str) -> dict[str, Any] | None:
    """Bind the Idempotency-Key to this request; a retry of the same request gets the first process back."""
    digest = hashlib.sha256(f"{new.tenant}\x00{new.idempotency_key}".encode()).hexdigest()
    key = keyspace.idempotency(digest)
    claim = json.dumps({"processId": process_id, "fingerprint": new.fingerprint})
    if await store.redis.set(key, claim, nx=True, ex=IDEMPOTENCY_TTL_S):
        return None
    prior = json.loads(await store.redis.get(key) or "{}")
    if prior.get("fingerprint") != new.fingerprint:
        raise CodedError("IdempotencyKeyReused", "this Idempotency-Key was used for a different request")
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_S
    while time.monotonic() < deadline:  # the first request may still be creating its process
        record = await store.get_process(prior["processId"], parse_json=False)
        if record is not None:
            return record
        await asyncio.sleep(0.05)
    raise CodedError("IdempotentRequestInProgress", "the first request with this key is in progress")


async def register_queued_job(redis: Redis, process_id: str, tenant: str, expires_ms: int) -> int:
    """Give a new process its queued-job number."""
    number = int(await redis.incr(keyspace.QUEUED_JOB_SEQUENCE))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(keyspace.queued_job(number), process_id, pxat=expires_ms)
        pipe.zadd(keyspace.tenant_jobs(tenant), {str(number): number})
        await pipe.execute()
    return number


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
        f',"{kind_of(record).id_field}":',
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
        await enqueue(
            queue,
            jobs.DELIVER_WEBHOOK,
            process_id,
            job_id=jobs.webhook_job_id(process_id),
            queue=jobs.BATCH_QUEUE,
            tenant=record.get("tenant", ""),
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
    record = await store.get_process(process_id, parse_json=False)
    await enqueue(
        queue,
        jobs.DISCARD_OUTPUTS,
        process_id,
        job_id=jobs.discard_job_id(process_id),
        queue=jobs.BATCH_QUEUE,
        tenant=(record or {}).get("tenant", ""),
    )
    return True


async def output_files(store: Store, storage: Storage, record: dict[str, Any]) -> list[tuple[str, Path]] | None:
    """A complete process's result files, in order, as (archive name, local path); None if one expired."""
    files = []
    for i, file_id in enumerate(output_file_ids(record.get("output") or {}), start=1):
        wf = await store.get_workfile(file_id)
        if wf is None:
            return None
        files.append((f"output-{i:04d}.{wf.extension}", await storage.local_path(workfile_key(wf.file_id))))
    return files


OUTPUT_FILE_FIELDS = ("markupFileId", "documentFileId", "fileId")  # redaction creators, burners, redactors


def output_file_ids(output: dict[str, Any]) -> list[str]:
    """The work files a process produced: its `results` (conversions) or its one output file."""
    ids = [str(r["fileId"]) for r in output.get("results", []) if "fileId" in r]
    return ids + [str(output[name]) for name in OUTPUT_FILE_FIELDS if name in output]
