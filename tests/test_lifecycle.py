"""Health, expiry of work files (metadata and bytes), and jobs that run twice."""

import asyncio
import io
import json

from PIL import Image

from core.records import Store
from core.settings import Settings
from core.storage.local import LocalStorage
from schemas import jobs
from service import keys
from service.app import create_app
from tests.conftest import running_worker
from tests.docgen import image_bytes, text_pdf
from tests.helpers import convert, download, poll, upload
from workers.jobs import conversions, sweep
from workers.runner import WorkerGroup


async def test_health_ok_and_info(client, worker):
    resp = await wait_for_status(client, "/PCCIS/V1/Service/Current/Health", 200)  # the worker reports on start-up
    assert await resp.text() == "OK"
    info = await (await client.get("/PCCIS/V1/Service/Current/Info")).json()
    assert info["serviceStatus"] == "running"
    [instance] = info["instances"]
    assert instance["childServices"] == [{"name": "pagemill worker", "serviceStatus": "running"}]


async def test_health_is_500_without_body_when_redis_is_gone(aiohttp_client, tmp_path):
    from core.redisproc import RedisServer

    server = RedisServer(tmp_path / "r", persist=False)
    server.start()
    settings = Settings.from_env(
        {"REDIS_URL": server.url, "PAGEMILL_DATA_DIR": str(tmp_path / "d"), "PAGEMILL_RENDER_PROCESSES": "1"}
    )
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):  # (its report outlives it by a few seconds)
        await wait_for_status(client, "/PCCIS/V1/Service/Current/Health", 200)
    server.kill()
    resp = await client.get("/PCCIS/V1/Service/Current/Health")
    assert resp.status == 500
    assert await resp.read() == b""
    resp = await client.get("/v2/contentConverters/AAAAAAAAAAAAAAAAAAAAAA")
    assert resp.status == 503
    assert resp.headers["Retry-After"]
    assert (await resp.json())["errorCode"] == "ServiceUnavailable"


async def wait_for_status(client, path: str, status: int, timeout_s: float = 20.0):
    """Poll `path` until it answers `status` (the worker's health report comes every 5 s, lasts 6 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (resp := await client.get(path)).status != status:
        assert loop.time() < deadline, f"{path} still answers {resp.status}"
        await asyncio.sleep(0.1)
    return resp


async def test_health_reflects_a_missing_worker(client, settings):
    # Given Redis and storage that answer but no worker: Health is 500 with no body (PrizmDoc's "unhealthy"),
    # Ready names the missing part and Info says the worker is not running
    resp = await client.get("/PCCIS/V1/Service/Current/Health")
    assert resp.status == 500 and await resp.read() == b""
    ready = await (await client.get("/PCCIS/V1/Service/Current/Ready")).json()
    assert ready["checks"] == {"redis": True, "storage": True, "worker": False}
    info = await (await client.get("/PCCIS/V1/Service/Current/Info")).json()
    assert info["serviceStatus"] == "unhealthy"
    assert info["instances"][0]["childServices"] == [{"name": "pagemill worker", "serviceStatus": "not running"}]
    # When a worker runs, Then Health is 200 OK
    async with running_worker(settings):
        resp = await wait_for_status(client, "/PCCIS/V1/Service/Current/Health", 200)
        assert await resp.text() == "OK"
    # and once it is gone (no report for 6 s), Health says so again
    resp = await wait_for_status(client, "/PCCIS/V1/Service/Current/Health", 500)
    assert await resp.read() == b""


async def test_expired_work_files_are_gone_metadata_and_bytes(aiohttp_client, env):
    settings = Settings.from_env({**env, "PAGEMILL_WORKFILE_LIFETIME_S": "1"})
    client = await aiohttp_client(create_app(settings))
    wf = await upload(client, b"short-lived", "txt")
    objects = settings.storage_dir / "objects"
    assert len([p for p in objects.rglob("*") if p.is_file()]) == 1
    await asyncio.sleep(1.1)
    # metadata is gone as soon as the lifetime ends...
    assert (await client.get(f"/PCCIS/V1/WorkFile/{wf['fileId']}")).status == 404
    # ...and the sweeper deletes the bytes
    ctx = {
        "store": Store(client.app[keys.REDIS]),
        "storage": LocalStorage(settings.storage_dir),
        "settings": settings,
        "quota": client.app[keys.QUOTA],
    }
    assert await sweep.sweep_expired(ctx) == 1
    assert [p for p in objects.rglob("*") if p.is_file()] == []
    assert await client.app[keys.REDIS].zcard("pm:expiry") == 0


async def test_every_job_can_run_twice_with_the_same_result(client, worker, settings):
    # Given a completed tiff conversion of two sources (a 3-page pdf and a 2-frame tiff)
    a = await upload(client, text_pdf(3))
    b = await upload(client, image_bytes("TIFF", frames=2), "tif")
    body = {"input": {"sources": [{"fileId": a["fileId"]}, {"fileId": b["fileId"]}], "dest": {"format": "tiff"}}}
    started = await convert(client, body)
    final = await poll(client, started["processId"], interval_s=0.1)
    assert final["state"] == "complete", final
    [result] = final["output"]["results"]
    assert result["pageCount"] == 5
    assert result["sources"] == [{"fileId": a["fileId"], "pages": "1-3"}, {"fileId": b["fileId"], "pages": "1-2"}]
    first_bytes, _ = await download(client, result["fileId"])
    # When every job of the process is delivered again
    pid = started["processId"]
    ctx = {**worker.ctx, "job_try": 2}
    assert await conversions.plan_conversion(ctx, pid) == "skipped"
    assert await conversions.render_chunk(ctx, pid, 0, 0) == "skipped"
    assert await conversions.finish_conversion(ctx, pid) == "skipped"
    # Then nothing changes
    again = await (await client.get(f"/v2/contentConverters/{pid}")).json()
    assert again["output"] == final["output"]
    assert (await download(client, result["fileId"]))[0] == first_bytes
    with Image.open(io.BytesIO(first_bytes)) as tiff:
        assert tiff.n_frames == 5


async def test_jobs_rerun_mid_process_redo_only_what_is_missing(client, settings, redis_url):
    # Given a completed process
    w = WorkerGroup(settings, burst=True)
    wf = await upload(client, text_pdf(6))
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
    pid = started["processId"]
    await w.run()  # burst: plan, chunks and finish all run
    final = await poll(client, pid, interval_s=0.05)
    assert final["state"] == "complete"
    redis = client.app[keys.REDIS]
    # When the process is put back to processing and a chunk job runs again
    await redis.hset(f"pm:proc:{pid}", mapping={"state": "processing"})
    await redis.hdel(f"pm:proc:{pid}", "output")
    await redis.hdel(f"pm:proc:{pid}:units", "5")
    assert await conversions.render_chunk({**w.ctx, "job_try": 2}, pid, 1, 0) == "rendered"
    # Then only the missing unit was rendered, with the same deterministic output id
    unit = json.loads(await redis.hget(f"pm:proc:{pid}:units", "5"))
    assert unit["file_id"] == final["output"]["results"][5]["fileId"]
    assert await redis.hlen(f"pm:proc:{pid}:units") == 6
    # and the finish job is not enqueued twice while its earlier result is kept
    assert jobs.finish_job_id(pid).encode() not in await redis.zrange(jobs.BATCH_QUEUE, 0, -1)
    await w.close()
