"""GET /v2/contentConverters/{id}?wait=N (pagemill extension) answers the moment the process ends, and
workers take a job the moment it is enqueued rather than at their next poll."""

import asyncio
import time
from dataclasses import replace

import pytest

from core.records import Store
from service import keys
from tests.conftest import running_worker
from tests.docgen import text_pdf
from tests.helpers import convert, upload


async def _processing(client):
    """A conversion no worker has taken yet."""
    wf = await upload(client, text_pdf(1))
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
    return started["processId"]


@pytest.mark.parametrize("raw", ["-1", "30.5", "31", "abc", "", "nan", "inf", "1_0", "1e3"])
async def test_a_bad_wait_is_480_at_its_name(client, raw):
    pid = await _processing(client)
    resp = await client.get(f"/v2/contentConverters/{pid}", params={"wait": raw})
    assert resp.status == 480
    body = await resp.json()
    assert body["errorCode"] == "InvalidInput"
    assert body["errorDetails"]["in"] == "query" and body["errorDetails"]["at"] == "wait"
    assert body["errorDetails"]["expected"] == {"type": "number", "minimum": 0, "maximum": 30.0}


async def test_wait_answers_as_it_is_after_the_time_when_nothing_ends(client):
    pid = await _processing(client)
    t0 = time.monotonic()
    resp = await client.get(f"/v2/contentConverters/{pid}", params={"wait": "0.4"})
    assert resp.status == 200
    assert (await resp.json())["state"] == "processing"
    assert 0.4 <= time.monotonic() - t0 < 2.0


async def test_wait_answers_the_moment_the_process_ends(client):
    # Given a long poll on a processing conversion
    pid = await _processing(client)
    t0 = time.monotonic()
    answer = asyncio.create_task(client.get(f"/v2/contentConverters/{pid}", params={"wait": "20"}))
    await asyncio.sleep(0.1)
    assert not answer.done()
    # When the process ends (as a worker ends it: a compare-and-set that announces it)
    assert await Store(client.app[keys.REDIS]).finish_process(pid, "complete", {"output": {"results": []}})
    # Then the poll answers with the final state at once (well before its 1 s re-check)
    resp = await asyncio.wait_for(answer, 5)
    assert (await resp.json())["state"] == "complete"
    assert time.monotonic() - t0 < 0.6


async def test_wait_is_not_spent_on_a_process_that_is_not_there(client):
    t0 = time.monotonic()
    resp = await client.get("/v2/contentConverters/AAAAAAAAAAAAAAAAAAAAAA", params={"wait": "20"})
    assert resp.status == 404
    assert time.monotonic() - t0 < 1.0


async def test_a_final_process_answers_at_once_with_wait(client, worker):
    pid = await _processing(client)
    resp = await client.get(f"/v2/contentConverters/{pid}", params={"wait": "20"})
    assert (await resp.json())["state"] == "complete"
    t0 = time.monotonic()
    resp = await client.get(f"/v2/contentConverters/{pid}", params={"wait": "20"})
    assert (await resp.json())["state"] == "complete"
    assert time.monotonic() - t0 < 0.5


async def test_a_worker_takes_a_job_when_it_is_enqueued_not_at_its_next_poll(client, settings):
    # Given a worker that polls its queues only every 5 seconds, idle after its first poll
    async with running_worker(replace(settings, poll_delay_s=5.0)):
        await asyncio.sleep(0.5)
        # When a conversion is started
        t0 = time.monotonic()
        pid = await _processing(client)
        resp = await client.get(f"/v2/contentConverters/{pid}", params={"wait": "20"})
        # Then it is done long before the next poll
        assert (await resp.json())["state"] == "complete"
        assert time.monotonic() - t0 < 2.5
