"""A small conversion in one job (plan, render and finish in the plan job) gives what the three-job path
gives, runs twice harmlessly, and a run cut short mid-way is finished by the next delivery."""

import asyncio
import json
from dataclasses import replace

import pytest

from core.ids import derive_id
from core.records import Store
from core.storage.base import workfile_key
from schemas import jobs
from service import keys
from tests.conftest import running_worker
from tests.docgen import text_pdf
from tests.helpers import convert, download, poll, upload
from workers.jobs import conversions
from workers.runner import WorkerGroup


async def _conversion(client, settings, body, one_job_pages):
    """Convert `body` with a worker whose PAGEMILL_ONE_JOB_PAGES is `one_job_pages`."""
    async with running_worker(replace(settings, one_job_pages=one_job_pages)):
        started = await convert(client, body)
        final = await poll(client, started["processId"], interval_s=0.02)
    assert final["state"] == "complete", final
    return started["processId"], final


async def _units(redis, pid):
    raw = await redis.hgetall(f"pm:proc:{pid}:units")
    return {int(k): json.loads(v) for k, v in raw.items()}


@pytest.mark.parametrize("fmt", ["png", "tiff"])
async def test_one_job_gives_the_outputs_and_records_of_three_jobs(client, settings, fmt):
    # Given a 3-page document (one chunk: the tests' PAGEMILL_CHUNK_PAGES is 4)
    wf = await upload(client, text_pdf(3))
    body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": fmt}}}
    redis, store = client.app[keys.REDIS], Store(client.app[keys.REDIS])
    # When it is converted by the one-job path, then by the three-job path
    one, one_final = await _conversion(client, settings, body, one_job_pages=8)
    three, three_final = await _conversion(client, settings, body, one_job_pages=0)
    # Then only the plan job ran for the first, plan, chunk and finish for the second
    for job_id in (jobs.chunk_job_id(one, 0, 0), jobs.finish_job_id(one)):
        assert not await redis.exists("arq:result:" + job_id), job_id
    for job_id in (jobs.plan_job_id(three), jobs.chunk_job_id(three, 0, 0), jobs.finish_job_id(three)):
        assert await redis.exists("arq:result:" + job_id), job_id
    # and both have the same plan, results (ids derived the same way from their process) and bytes
    assert await store.get_plan(one) == await store.get_plan(three)
    results = {pid: final["output"]["results"] for pid, final in ((one, one_final), (three, three_final))}
    for pid, found in results.items():
        names = [f"unit:{u}" for u in range(3)] if fmt == "png" else ["out:0"]
        assert [r["fileId"] for r in found] == [derive_id(pid, name) for name in names]
    strip = [{k: v for k, v in r.items() if k != "fileId"} for r in results[one]]
    assert strip == [{k: v for k, v in r.items() if k != "fileId"} for r in results[three]]
    for a, b in zip(results[one], results[three], strict=True):
        assert (await download(client, a["fileId"]))[0] == (await download(client, b["fileId"]))[0]
    # and the same unit records
    units = {pid: await _units(redis, pid) for pid in (one, three)}
    assert units[one].keys() == units[three].keys() == {0, 1, 2}
    for u in range(3):
        assert units[one][u]["file_id"] == derive_id(one, f"unit:{u}")
        assert units[three][u]["file_id"] == derive_id(three, f"unit:{u}")
        assert {**units[one][u], "file_id": ""} == {**units[three][u], "file_id": ""}
    assert one_final["percentComplete"] == three_final["percentComplete"] == 100


async def test_a_larger_document_still_takes_three_jobs(client, worker):
    # Given a document of two chunks (PAGEMILL_CHUNK_PAGES is 4 in the tests)
    wf = await upload(client, text_pdf(6))
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
    final = await poll(client, started["processId"], interval_s=0.02)
    # Then its chunks ran as jobs of their own, spread over the render processes
    assert final["state"] == "complete"
    redis, pid = client.app[keys.REDIS], started["processId"]
    for job_id in (jobs.chunk_job_id(pid, 0, 0), jobs.chunk_job_id(pid, 1, 0), jobs.finish_job_id(pid)):
        assert await redis.exists("arq:result:" + job_id), job_id


async def test_the_one_job_runs_twice_harmlessly(client, worker):
    # Given a small conversion done in one job
    wf = await upload(client, text_pdf(2))
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
    pid = started["processId"]
    final = await poll(client, pid, interval_s=0.02)
    first = [(await download(client, r["fileId"]))[0] for r in final["output"]["results"]]
    # When its job is delivered again
    assert await conversions.plan_conversion({**worker.ctx, "job_try": 2}, pid) == "skipped"
    # Then nothing changes
    again = await (await client.get(f"/v2/contentConverters/{pid}")).json()
    assert again["output"] == final["output"]
    assert [(await download(client, r["fileId"]))[0] for r in again["output"]["results"]] == first


async def test_a_one_job_cut_short_is_finished_by_its_next_delivery(client, settings, monkeypatch):
    # Given a 3-page conversion whose one job is killed once it has rendered a page (a worker dying mid-job)
    wf = await upload(client, text_pdf(3))
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
    pid = started["processId"]
    redis = client.app[keys.REDIS]
    group = WorkerGroup(settings)
    await group.start()
    try:
        recorded = asyncio.Event()
        real_record = Store.record_unit

        async def record_then_signal(self, *args, **kwargs):
            count = await real_record(self, *args, **kwargs)
            recorded.set()
            await asyncio.sleep(30)  # the job is "killed" here
            return count

        monkeypatch.setattr(Store, "record_unit", record_then_signal)
        job = asyncio.create_task(conversions.plan_conversion({**group.ctx, "job_try": 1}, pid))
        await asyncio.wait_for(recorded.wait(), 30)
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
        monkeypatch.setattr(Store, "record_unit", real_record)
        assert (await (await client.get(f"/v2/contentConverters/{pid}")).json())["state"] == "processing"
        assert await redis.hlen(f"pm:proc:{pid}:units") == 1
        kept = json.loads(await redis.hget(f"pm:proc:{pid}:units", "0"))
        first_page = await group.ctx["storage"].local_path(workfile_key(kept["file_id"]))
        inode = first_page.stat().st_ino
        # When the job is delivered again
        assert await conversions.plan_conversion({**group.ctx, "job_try": 2}, pid) == "complete"
        assert first_page.stat().st_ino == inode  # not rendered again
    finally:
        await group.close()
    # Then the process is complete with every page, the first one as rendered before the kill
    final = await poll(client, pid, interval_s=0.02)
    assert final["state"] == "complete"
    assert [r["fileId"] for r in final["output"]["results"]] == [derive_id(pid, f"unit:{u}") for u in range(3)]
    assert json.loads(await redis.hget(f"pm:proc:{pid}:units", "0")) == kept
    for result in final["output"]["results"]:
        data, _ = await download(client, result["fileId"])
        assert data.startswith(b"\x89PNG")
