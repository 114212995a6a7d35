"""Search: search contexts (every page's text of a work file) and search tasks (matches with their
rectangles over a viewing session's document, paged with a continueToken)."""

import json
import re
from typing import Any

import regex
from aiohttp import web

from core import keyspace
from core.processes import SEARCH_CONTEXT, SEARCH_TASK, cancel_process, percent_complete
from schemas.search import SearchContextRequest, SearchTaskRequest, compile_pattern
from service import keys
from service.api.processes import own_process, start
from service.api.sessions import load_session
from service.errors import ApiError, InvalidInput
from service.params import is_number, tenant_workfile
from service.validation import read_model

MAX_RECORD_PAGES = 1000
MAX_RESULTS_LIMIT = 1000
_RANGE = re.compile(r"^(\d{1,9})(?:(-)(\d{1,9})?)?$")


def check_pattern(pattern: str, at: str, *, case_sensitive: bool = True) -> None:
    """480 InvalidInput when a pattern is not a regular expression."""
    try:
        compile_pattern(pattern, case_sensitive=case_sensitive)
    except regex.error as exc:
        raise InvalidInput(at, message=f"not a valid regular expression: {exc}") from None


def page_list(raw: str | None, count: int) -> list[int]:
    """PrizmDoc's 0-based `pages` syntax ("0-", "2", "0-4", "1,3,5-7") against a page count."""
    if raw is None or not raw.strip():
        raise InvalidInput("pages", in_="query", message='required: 0-based pages such as "0-" or "2-5"')
    pages: list[int] = []
    for part in raw.replace(" ", "").split(","):
        m = _RANGE.match(part)
        if m is None:
            raise InvalidInput("pages", in_="query", message='0-based pages such as "0-", "2-5" or "1,3"')
        first = int(m.group(1))
        last = int(m.group(3)) if m.group(3) else (count - 1 if m.group(2) else first)
        if last < first:
            raise InvalidInput("pages", in_="query", message="a range must not end before it starts")
        pages += range(first, min(last, count - 1) + 1)
        if len(pages) > MAX_RECORD_PAGES:
            raise InvalidInput("pages", in_="query", message=f"at most {MAX_RECORD_PAGES} pages per request")
    return sorted(set(pages))


# --- search contexts -----------------------------------------------------------------------------
async def post_search_context(request: web.Request) -> web.Response:
    """Start extracting the text of every page of a work file."""
    settings = request.app[keys.SETTINGS]
    req = await read_model(request, SearchContextRequest, settings.max_json_bytes)
    wf = await tenant_workfile(request, req.input.fileId)
    if wf is None:
        raise ApiError("ResourceNotFound", at="input.fileId")
    normalised = req.input.model_dump()
    return await start(request, SEARCH_CONTEXT, normalised, req.minSecondsAvailable, affinity=wf.affinity_token)


async def get_search_context_records(request: web.Request) -> web.Response:
    """The text records of the requested pages that are extracted so far, in page order."""
    record = await own_process(request, SEARCH_CONTEXT, "contextId")
    total = record.get("total")
    if total is None:  # the page count is not known yet: nothing is extracted
        return web.json_response({"pages": []})
    pages = page_list(request.query.get("pages"), int(total))
    raw = await request.app[keys.STORE].page_records(record["processId"], pages)
    out: list[dict[str, Any]] = [
        {"pageIndex": page, "text": json.loads(item)["text"]}
        for page, item in zip(pages, raw, strict=True)
        if item is not None
    ]
    return web.json_response({"pages": out})


async def delete_search_context(request: web.Request) -> web.Response:
    """Forget a search context and its records (stopping its extraction first if it still runs)."""
    record = await own_process(request, SEARCH_CONTEXT, "contextId")
    process_id = record["processId"]
    store = request.app[keys.STORE]
    await cancel_process(store, request.app[keys.REDIS], process_id)
    await store.redis.delete(keyspace.process(process_id), keyspace.process_units(process_id))
    request.app[keys.POLL_CACHE].drop(process_id)
    return web.Response(status=204)


# --- search tasks ----------------------------------------------------------------------------------
async def post_search_task(request: web.Request) -> web.Response:
    """Start searching a viewing session's document for every term."""
    settings = request.app[keys.SETTINGS]
    session = await load_session(request, request.match_info["sessionId"])
    req = await read_model(request, SearchTaskRequest, settings.max_json_bytes)
    for i, term in enumerate(req.input.searchTerms):
        check_pattern(term.pattern, f"input.searchTerms[{i}].pattern", case_sensitive=term.caseSensitive)
    if "fileId" not in session:
        raise ApiError("DocumentNotProvidedYet")
    normalised = req.input.model_dump()
    return await start(request, SEARCH_TASK, normalised, req.minSecondsAvailable, params={"sessionId": session["id"]})


async def get_search_task_results(request: web.Request) -> web.Response:
    """Results found so far from `continueToken` on (at most `limit`), and the token to ask for the
    next ones: it is absent once the task is final and every result has been handed out."""
    record = await own_process(request, SEARCH_TASK)
    limit_raw = request.query.get("limit")
    if limit_raw is not None and not (is_number(limit_raw) and 1 <= int(limit_raw) <= MAX_RESULTS_LIMIT):
        raise InvalidInput(
            "limit", in_="query", expected={"type": "integer", "minimum": 1, "maximum": MAX_RESULTS_LIMIT}
        )
    limit = int(limit_raw) if limit_raw is not None else MAX_RESULTS_LIMIT
    token = request.query.get("continueToken")
    if token is not None and not is_number(token):
        raise InvalidInput("continueToken", in_="query", message="a continueToken from an earlier answer")
    offset = int(token or 0)
    # The state first: a result list read after it is at least as complete as that state says.
    state = record["state"]
    items, total = await request.app[keys.STORE].results(record["processId"], offset, limit)
    body: dict[str, Any] = {
        "processId": record["processId"],
        "state": state,
        "percentComplete": percent_complete(record),
    }
    if "errorCode" in record:
        body["errorCode"] = record["errorCode"]
    output = record.get("output") or "{}"
    if (json.loads(output) if isinstance(output, str) else output).get("limitReached"):
        body["limitReached"] = True
    parts = [json.dumps(body)[:-1], ',"results":[', ",".join(items), "]"]
    following = offset + len(items)
    if state == "processing" or following < total:
        parts.append(f',"continueToken":{json.dumps(str(following))}')
    parts.append("}")
    return web.Response(text="".join(parts), content_type="application/json")
