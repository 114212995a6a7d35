"""Fault tests: a worker killed with SIGKILL mid-process does not lose the process."""

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import time

import pytest
from PIL import Image

from core.settings import Settings
from service import keys
from service.app import create_app
from tests.conftest import make_env, running_worker, worker_subprocess
from tests.docgen import text_pdf
from tests.helpers import cmdline, convert, descendants, download, poll, running, upload

pytestmark = pytest.mark.fault


async def test_sigkilled_worker_process_completes_after_restart(aiohttp_client, tmp_path, redis_url):
    # Given slow-ish work: 48 pages at 300 dpi on one render process, short job timeouts
    env = make_env(
        tmp_path / "data",
        redis_url,
        PAGEMILL_JOB_TIMEOUT_S="6",
        PAGEMILL_PAGE_TIMEOUT_S="3",
        PAGEMILL_RENDER_DPI="300",
        PAGEMILL_RENDER_PROCESSES="1",
        PAGEMILL_LOG_LEVEL="WARNING",
    )
    client = await aiohttp_client(create_app(Settings.from_env(env)))
    wf = await upload(client, text_pdf(48), "pdf")
    first = worker_subprocess(env, new_session=True)
    try:
        started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
        pid = started["processId"]
        # When the worker (and its render pool) is SIGKILLed after some pages are done
        deadline = time.monotonic() + 60
        while True:
            body = await (await client.get(f"/v2/contentConverters/{pid}")).json()
            if body["percentComplete"] >= 10:
                break
            assert body["state"] == "processing" and time.monotonic() < deadline, body
            await asyncio.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = body["percentComplete"]
        assert killed_at < 100
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    # Then a new worker picks the unfinished jobs up again and the process completes
    second = worker_subprocess(env, new_session=True)
    try:
        restarted = time.monotonic()
        final = await poll(client, pid, interval_s=0.5, timeout_s=90)
        recovered_s = time.monotonic() - restarted
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    assert final["state"] == "complete", final
    results = final["output"]["results"]
    assert [r["sources"][0]["pages"] for r in results] == [str(n) for n in range(1, 49)]
    assert [r.get("errorCode") for r in results if "errorCode" in r] == []
    assert len({r["fileId"] for r in results}) == 48
    for result in results[::7]:
        data, _ = await download(client, result["fileId"])
        assert Image.open(io.BytesIO(data)).size == (2550, 3300)
    # redelivery waits for arq's in-progress key: job timeout + 10 s
    assert recovered_s < 60, recovered_s


async def test_sigterm_to_the_whole_process_group_lets_renders_in_flight_finish(aiohttp_client, tmp_path, redis_url):
    # Given a worker started the way honcho or systemd start it (its own process group) that is busy
    env = make_env(tmp_path / "data", redis_url, PAGEMILL_RENDER_DPI="200", PAGEMILL_RENDER_PROCESSES="1")
    client = await aiohttp_client(create_app(Settings.from_env(env)))
    wf = await upload(client, text_pdf(24), "pdf")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log_file:
        worker = worker_subprocess(env, new_session=True, output=log_file)
        try:
            started = await convert(
                client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
            )
            deadline = time.monotonic() + 60
            while (await (await client.get(f"/v2/contentConverters/{started['processId']}")).json())[
                "percentComplete"
            ] == 0:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            # When SIGTERM goes to the whole group (the worker and its render processes), as Ctrl-C or honcho do
            os.killpg(worker.pid, signal.SIGTERM)
            rc = await asyncio.to_thread(worker.wait, 30)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
    # Then the worker stops cleanly: the renders in flight finished, none crashed with their pool
    log_text = log_path.read_text()
    assert rc == 0, log_text
    assert "worker_stopping" in log_text
    for symptom in ("BrokenProcessPool", "render_pool_recycled", "page_crashed"):
        assert symptom not in log_text, log_text
    # and another worker completes the rest
    async with running_worker(Settings.from_env(env)):
        final = await poll(client, started["processId"], interval_s=0.2, timeout_s=90)
    assert final["state"] == "complete" and len(final["output"]["results"]) == 24, final
    assert not [r for r in final["output"]["results"] if "errorCode" in r]


async def test_render_processes_do_not_outlive_a_sigkilled_worker(tmp_path, redis_url):
    # Given a worker with its render processes up
    worker = worker_subprocess(make_env(tmp_path / "data", redis_url, PAGEMILL_LOG_LEVEL="WARNING"), new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(children := [p for p in descendants(worker.pid) if "spawn_main" in " ".join(cmdline(p))]) < 2:
            assert time.monotonic() < deadline and worker.poll() is None
            await asyncio.sleep(0.1)
        # When the worker alone is killed outright (as the OOM killer does), not its process group
        worker.kill()
        worker.wait()
        # Then its render processes notice and exit within seconds
        deadline = time.monotonic() + 10
        while alive := [p for p in children if running(p)]:
            assert time.monotonic() < deadline, [cmdline(p) for p in alive]
            await asyncio.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")
async def test_disk_full_during_output_ends_the_process_in_error(aiohttp_client, tmp_path, redis_url):
    # Given storage on a 3 MB filesystem, too small for 60 rendered pages
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        settings = Settings.from_env(make_env(mount, redis_url))
        client = await aiohttp_client(create_app(settings))
        async with running_worker(settings):
            wf = await upload(client, text_pdf(60), "pdf")
            started = await convert(
                client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
            )
            # When the disk fills up while pages are written, then the process ends in error, promptly
            final = await poll(client, started["processId"], interval_s=0.1, timeout_s=60)
        assert final["state"] == "error"
        assert final["errorCode"] == "StorageError"
        assert "output" not in final  # no partial output is published
        # and no half-written temporary file is left behind
        assert list((settings.storage_dir / "tmp").iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_the_same_worker_process_takes_new_work_after_redis_restarts(aiohttp_client, tmp_path):
    from core.redisproc import RedisServer

    # Given a worker process on its own Redis (with its append-only file, as in production)
    server = RedisServer(tmp_path / "redis", persist=True)
    server.start()
    env = make_env(tmp_path / "data", server.url, PAGEMILL_LOG_LEVEL="WARNING")
    client = await aiohttp_client(create_app(Settings.from_env(env)))
    worker = worker_subprocess(env, new_session=True)
    try:
        body = {
            "input": {
                "sources": [{"fileId": (await upload(client, text_pdf(1), "pdf"))["fileId"]}],
                "dest": {"format": "png"},
            }
        }
        assert (await poll(client, (await convert(client, body))["processId"], interval_s=0.1))["state"] == "complete"
        # When Redis is killed for a few seconds and comes back on the same port
        server.kill()
        await asyncio.sleep(3)
        assert worker.poll() is None, "the worker exited while Redis was away"
        server.start()
        # Then that same worker process converts the next document
        await asyncio.sleep(0.5)
        wf = await upload(client, text_pdf(2), "pdf")
        body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
        final = await poll(client, (await convert(client, body))["processId"], interval_s=0.2, timeout_s=30)
        assert final["state"] == "complete" and len(final["output"]["results"]) == 2
        assert worker.poll() is None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        server.stop()


async def test_a_sigkilled_workers_conversion_finishes_within_30_s_with_default_settings(
    aiohttp_client, tmp_path, redis_url
):
    # Given default settings (60 s job timeout) and a 117-page conversion under way
    env = make_env(tmp_path / "data", redis_url, PAGEMILL_LOG_LEVEL="WARNING", PAGEMILL_CHUNK_PAGES="8")
    client = await aiohttp_client(create_app(Settings.from_env(env)))
    wf = await upload(client, text_pdf(117), "pdf")
    first = worker_subprocess(env, new_session=True)
    try:
        started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
        pid = started["processId"]
        deadline = time.monotonic() + 60
        while (body := await (await client.get(f"/v2/contentConverters/{pid}")).json())["percentComplete"] < 10:
            assert body["state"] == "processing" and time.monotonic() < deadline, body
            await asyncio.sleep(0.05)
        # When its worker is SIGKILLed (with its render pool) and another one is started
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        killed = time.monotonic()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    second = worker_subprocess(env, new_session=True)
    try:
        final = await poll(client, pid, interval_s=0.25, timeout_s=60)
        recovered_s = time.monotonic() - killed
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    # Then the conversion completes, whole, within 30 s of the kill (arq alone would wait 70 s)
    assert final["state"] == "complete" and len(final["output"]["results"]) == 117, final
    assert recovered_s < 30, recovered_s


async def test_a_running_job_keeps_its_claim_past_the_lease(aiohttp_client, tmp_path, redis_url):
    # Given a worker whose claims last 1.5 s, and a chunk job that takes far longer (64 pages at 300 dpi)
    env = make_env(tmp_path / "data", redis_url, PAGEMILL_RENDER_DPI="300", PAGEMILL_RENDER_PROCESSES="1",
                   PAGEMILL_CHUNK_PAGES="64")  # fmt: skip
    settings = Settings.from_env(env)
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings, lease_s=1.5):
        wf = await upload(client, text_pdf(64), "pdf")
        started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
        job_id = f"proc:{started['processId']}:chunk:0"
        redis = client.app[keys.REDIS]
        deadline = time.monotonic() + 20
        while not await redis.exists("arq:in-progress:" + job_id):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        # When the job runs well past the lease
        first_seen, tries = time.monotonic(), set()
        while (await (await client.get(f"/v2/contentConverters/{started['processId']}")).json())[
            "state"
        ] == "processing":
            tries.add(await redis.get("arq:retry:" + job_id))
            await asyncio.sleep(0.05)
        ran_s = time.monotonic() - first_seen
    # Then its claim was renewed all along: it was picked up once, not again by a worker seeing it expired
    assert ran_s > 3.0, ran_s
    assert tries - {None} == {b"1"}, tries
