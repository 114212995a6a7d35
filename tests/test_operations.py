"""Operations: backpressure, readiness, and a front door that survives Redis going away."""

import asyncio

import pytest

from core.redisproc import RedisServer
from core.settings import Settings
from schemas import jobs
from service import keys
from service.app import create_app
from tests.docgen import text_pdf
from tests.helpers import convert, poll, upload


async def test_backpressure_answers_429_with_retry_after(aiohttp_client, env):
    client = await aiohttp_client(create_app(Settings.from_env({**env, "PAGEMILL_MAX_QUEUED_JOBS": "2"})))
    wf = await upload(client, text_pdf(1))
    body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
    for _ in range(2):  # no worker runs: each POST leaves one job queued
        assert (await client.post("/v2/contentConverters", json=body)).status == 200
    resp = await client.post("/v2/contentConverters", json=body)
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["errorCode"] == "TooManyQueuedJobs"
    assert await client.app[keys.REDIS].zcard(jobs.BATCH_QUEUE) == 2  # nothing was stored for the refused one


async def test_readiness_needs_a_worker(client):
    resp = await client.get("/PCCIS/V1/Service/Current/Ready")
    assert resp.status == 503
    assert (await resp.json())["checks"] == {"redis": True, "storage": True, "worker": False}


async def test_readiness_with_a_worker(client, worker):
    for _ in range(50):
        resp = await client.get("/PCCIS/V1/Service/Current/Ready")
        if resp.status == 200:
            break
        await asyncio.sleep(0.1)
    assert resp.status == 200 and (await resp.json())["ready"] is True


@pytest.mark.fault
async def test_front_door_answers_503_while_redis_is_down_and_recovers_without_restart(aiohttp_client, tmp_path):
    # fsync on every write: with the default (every second) Redis may postpone writing its append-only file
    # while a background fsync is busy, and a SIGKILL then loses the work file this test needs back
    server = RedisServer(tmp_path / "redis", persist=True, extra=("--appendfsync", "always"))
    server.start()
    try:
        settings = Settings.from_env({"REDIS_URL": server.url, "PAGEMILL_DATA_DIR": str(tmp_path / "data")})
        client = await aiohttp_client(create_app(settings))
        wf = await upload(client, b"before the outage", "txt")
        server.kill()
        for path in ("/PCCIS/V1/WorkFile/" + wf["fileId"], "/v2/contentConverters/AAAAAAAAAAAAAAAAAAAAAA"):
            resp = await asyncio.wait_for(client.get(path), timeout=10)  # an answer, not a hang
            assert resp.status == 503, path
            assert (await resp.json())["errorCode"] == "ServiceUnavailable"
        assert (await client.get("/PCCIS/V1/Service/Current/Health")).status == 500
        server.start()  # same port, same append-only file
        for _ in range(50):
            resp = await client.get(f"/PCCIS/V1/WorkFile/{wf['fileId']}")
            if resp.status != 503:
                break
            await asyncio.sleep(0.1)
        assert resp.status == 200 and await resp.read() == b"before the outage"
        # (Health also needs a worker, and none runs here: Ready's checks show the front door's side is back)
        checks = (await (await client.get("/PCCIS/V1/Service/Current/Ready")).json())["checks"]
        assert checks["redis"] and checks["storage"]
    finally:
        server.stop()


async def test_metrics_in_prometheus_text_format(client, worker):
    for data in (text_pdf(3), b"%PDF-1.4 broken"):  # one conversion that works, one that fails
        wf = await upload(client, data, "pdf")
        body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
        await poll(client, (await convert(client, body))["processId"], interval_s=0.05)
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    text = await resp.text()
    assert 'pagemill_http_requests_total{route="/PCCIS/V1/WorkFile",method="POST",status="200"} 2' in text
    assert 'pagemill_queue_depth{queue="pagemill:batch"}' in text
    assert "pagemill_pages_rendered_total 3.0" in text
    assert 'pagemill_job_duration_seconds_count{job="plan_conversion"} 2.0' in text  # small: one job each
    assert 'pagemill_failures_total{error_code="CouldNotConvert"} 1.0' in text
    for line in text.splitlines():
        assert line.startswith("#") or line.rsplit(" ", 1)[1].replace(".", "", 1).isdigit(), line


async def test_a_render_function_that_fails_unexpectedly_fails_its_call_like_a_crash():
    from core.errors import DocumentError, RenderCrashed
    from workers.pool import RenderPool, warm

    pool = RenderPool(1, 10**8)
    try:
        with pytest.raises(RenderCrashed):
            await pool.run(int, "not a number", timeout_s=30)  # stands in for a bug in a render function
        with pytest.raises(DocumentError):  # the document's own errors pass through as they are
            await pool.run(_corrupt, timeout_s=30)
        assert await pool.run(warm, timeout_s=30)  # and the pool goes on
    finally:
        pool.close()


def _corrupt() -> None:
    from core.errors import DocumentError

    raise DocumentError("CorruptFile", "made up")


@pytest.mark.fault
async def test_a_hanging_render_is_bounded_and_the_pool_recovers():
    import os
    import time

    from workers.pool import RenderPool, RenderTimeout, warm

    pool = RenderPool(1, 10**8)
    try:
        first_child = await pool.run(warm, timeout_s=30)
        started = time.monotonic()
        with pytest.raises(RenderTimeout):
            await pool.run(time.sleep, 30, timeout_s=0.5)  # stands in for a page that never finishes
        assert time.monotonic() - started < 5
        second_child = await pool.run(warm, timeout_s=30)  # a fresh child took over
        assert second_child != first_child and second_child != os.getpid()
    finally:
        pool.close()
