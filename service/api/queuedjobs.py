"""Queued jobs: every conversion process is also a job with an integer id, listable and whose
output can be fetched base64-encoded (a zip when the job has several outputs)."""

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from core import keyspace
from core.processes import CONTENT_CONVERSION, cancel_process, output_file_ids, output_files
from core.records import iso_ms
from service import keys
from service.api.workfiles import content_disposition
from service.archive import zip_chunks
from service.auth import TENANT
from service.context import REQUEST_ID, REQUEST_ID_HEADER
from service.errors import ApiError, NotFound
from service.params import is_number

STATUS = {"processing": "InProcess", "complete": "Completed", "error": "Failed"}
B64_CHUNK = 3 * 64 * 1024  # a multiple of 3, so chunks encode without padding in between
MAX_PAGE_SIZE = 200


def _number(raw: str | None) -> int:
    if not is_number(raw) or len(raw) > 18:  # type: ignore[arg-type]
        raise ApiError("InvalidInput", at="id", in_="path", expected={"type": "integer", "minimum": 1})
    return int(raw)


async def _job(request: web.Request, number: int) -> dict[str, Any] | None:
    process_id = await request.app[keys.REDIS].get(keyspace.queued_job(number))
    if process_id is None:
        return None
    record = await request.app[keys.STORE].get_process(process_id.decode())
    if record is None or record.get("tenant", "") != request[TENANT]:
        return None
    return record


def job_json(number: int, record: dict[str, Any]) -> dict[str, Any]:
    body = {
        "id": number,
        "processId": record["processId"],
        "type": record.get("type", CONTENT_CONVERSION.name),
        "status": STATUS[record["state"]],
        "state": record["state"],
        "createdOn": iso_ms(record["created_ms"]),
        "expirationDateTime": iso_ms(record["expires_ms"]),
        "outputFileIds": output_file_ids(record.get("output") or {}),
    }
    if "errorCode" in record:
        body["errorCode"] = record["errorCode"]
    return body


async def get_job(request: web.Request) -> web.Response:
    number = _number(request.match_info["id"])
    record = await _job(request, number)
    if record is None:
        raise NotFound("QueuedJobDoesNotExist")
    return web.json_response(job_json(number, record))


async def list_jobs(request: web.Request) -> web.Response:
    """?page=1&pageSize=25&state=processing|complete|error, newest first."""
    q = request.query
    page = int(q["page"]) if is_number(q.get("page")) and int(q["page"]) > 0 else 1
    size = int(q["pageSize"]) if is_number(q.get("pageSize")) else 25
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError("InvalidInput", at="pageSize", in_="query", expected={"minimum": 1, "maximum": MAX_PAGE_SIZE})
    state = q.get("state")
    if state is not None and state not in STATUS:
        raise ApiError("InvalidInput", at="state", in_="query", expected={"enum": list(STATUS)})
    redis = request.app[keys.REDIS]
    index = keyspace.tenant_jobs(request[TENANT])
    matching: list[dict[str, Any]] = []
    for raw in await redis.zrevrange(index, 0, -1):
        number = int(raw)
        record = await _job(request, number)
        if record is None:
            await redis.zrem(index, raw)  # the process has expired
            continue
        if state is None or record["state"] == state:
            matching.append(job_json(number, record))
    items = matching[(page - 1) * size : page * size]
    return web.json_response({"items": items, "page": page, "pageSize": size, "totalCount": len(matching)})


async def get_output(request: web.Request) -> web.StreamResponse:
    """The job's output, base64-encoded; several outputs come as one zip."""
    number = _number(request.match_info.get("id") or request.query.get("id"))
    record = await _job(request, number)
    if record is None:
        raise NotFound("QueuedJobDoesNotExist")
    if record["state"] == "processing":
        raise ApiError("JobNotComplete", status=409, message="the job is still running; try again later")
    results = output_file_ids(record.get("output") or {})
    if record["state"] == "error" or not results:
        raise ApiError("JobFailed", status=409, message=f"the job ended without output ({record.get('errorCode')})")
    files = await output_files(request.app[keys.STORE], request.app[keys.STORAGE], record)
    if files is None:
        raise ApiError("OutputExpired", status=410, message="the job's output has expired")
    single = len(files) == 1
    name = f"job-{number}.{files[0][0].rsplit('.', 1)[1]}" if single else f"job-{number}.zip"
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/plain; charset=ascii",
            "Content-Disposition": content_disposition(name),
            REQUEST_ID_HEADER: request[REQUEST_ID],
        }
    )
    await response.prepare(request)
    pending = b""  # base64 is written in multiples of 3 bytes, so the pieces join without padding
    async for chunk in _file_chunks(files[0][1]) if single else zip_chunks(files):
        pending += chunk
        cut = len(pending) - len(pending) % 3
        await response.write(base64.b64encode(pending[:cut]))
        pending = pending[cut:]
    await response.write(base64.b64encode(pending))
    await response.write_eof()
    return response


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, B64_CHUNK):
            yield chunk


async def cancel_or_409(request: web.Request, process_id: str) -> None:
    """Cancel the process, or answer 409 when it has already ended."""
    if not await cancel_process(request.app[keys.STORE], request.app[keys.REDIS], process_id):
        raise ApiError("ProcessAlreadyFinished", status=409)
    request.app[keys.POLL_CACHE].drop(process_id)


async def delete_job(request: web.Request) -> web.Response:
    """Cancel the job's process (as DELETE /v2/contentConverters/{processId} does)."""
    number = _number(request.match_info["id"])
    record = await _job(request, number)
    if record is None:
        raise NotFound("QueuedJobDoesNotExist")
    await cancel_or_409(request, record["processId"])
    cancelled = await _job(request, number)
    return web.json_response(job_json(number, cancelled or record))
