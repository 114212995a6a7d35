"""Flat memory: a few hundred MB uploaded to the front door (raw, multipart, by parts) do not grow its RSS."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from core.redisproc import free_port
from tests.conftest import ROOT, make_env
from tests.helpers import wait_for_ok

pytestmark = pytest.mark.fault  # a whole front door as a subprocess

MB = 1024 * 1024
TOTAL_MB = 300
GROWTH_LIMIT_MB = 60  # buffers, caches and allocator slack; a buffered body would add ~300


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def body(total_mb: int) -> AsyncIterator[bytes]:
    block = os.urandom(MB)
    for _ in range(total_mb):
        yield block


async def test_uploads_stream_with_flat_memory(tmp_path, redis_url):
    port = free_port()
    env = {
        **os.environ,
        **make_env(tmp_path / "data", redis_url, PAGEMILL_PORT=str(port), PAGEMILL_LOG_LEVEL="WARNING"),
    }
    web = subprocess.Popen([sys.executable, "-m", "service", "web"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await wait_for_ok(http, f"{base}/PCCIS/V1/Service/Current/Info", 30)  # no worker: Health would be 500
            # warm up the allocator and caches with a small upload, then take the baseline
            async with http.post(f"{base}/PCCIS/V1/WorkFile", data=b"x" * MB) as resp:
                assert resp.status == 200
            baseline = rss_mb(web.pid)
            peak = baseline
            stop = asyncio.Event()

            async def watch() -> None:
                nonlocal peak
                while not stop.is_set():
                    peak = max(peak, rss_mb(web.pid))
                    await asyncio.sleep(0.02)

            watcher = asyncio.create_task(watch())
            # raw body
            async with http.post(f"{base}/PCCIS/V1/WorkFile", data=body(TOTAL_MB)) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["fileExtension"] == "bin"
            # multipart form
            form = aiohttp.FormData()
            form.add_field("file", body(TOTAL_MB), filename="big.bin", content_type="application/octet-stream")
            async with http.post(f"{base}/PCCIS/V1/WorkFile", data=form) as resp:
                assert resp.status == 200, await resp.text()
            # one big part of an upload session
            async with http.post(f"{base}/PCCIS/V1/WorkFile/UploadSession", json={}) as resp:
                upload = (await resp.json())["session"]["id"]
            size = TOTAL_MB * MB
            headers = {"Content-Range": f"bytes 0-{size - 1}/{size}", "Content-Length": str(size)}
            async with http.put(
                f"{base}/PCCIS/V1/WorkFile/UploadSession/{upload}", data=body(TOTAL_MB), headers=headers
            ) as resp:
                assert resp.status == 200, await resp.text()
            stop.set()
            await watcher
    finally:
        web.terminate()
        web.wait(30)
    assert peak - baseline < GROWTH_LIMIT_MB, (baseline, peak)
