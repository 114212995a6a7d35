"""The Procfile as operators run it: `honcho start -c web=2,worker=3` scales both process types."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from core.redisproc import free_port
from tests.conftest import ROOT, make_env
from tests.docgen import text_pdf
from tests.helpers import cmdline, descendants, running, wait_for_ok

pytestmark = pytest.mark.fault


async def test_honcho_scales_workers_and_stops_them_all(tmp_path, redis_url):
    # Given the Procfile started by honcho with two front doors on one port and three workers
    port = free_port()
    env = {
        **os.environ,
        **make_env(tmp_path / "data", redis_url),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PAGEMILL_PORT": str(port),
        "PAGEMILL_LOG_FORMAT": "json",
        "PAGEMILL_LOG_LEVEL": "DEBUG",
        "PAGEMILL_RENDER_PROCESSES": "1",
        "PAGEMILL_WORKER_MAX_JOBS": "1",
        "PAGEMILL_CHUNK_PAGES": "2",
    }
    log_path = tmp_path / "honcho.log"
    with open(log_path, "wb") as log_file:
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-c", "web=2,worker=3"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            # a new connection per request, so the kernel can hand requests to either front door
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
                deadline = time.monotonic() + 60
                ready = f"{base}/PCCIS/V1/Service/Current/Ready"
                await wait_for_ok(http, ready, 60, lambda: log_path.read_text()[-3000:])
                workers = [p for p in descendants(honcho.pid) if cmdline(p)[1:3] == ["-m", "workers"]]
                webs = [p for p in descendants(honcho.pid) if cmdline(p)[1:4] == ["-m", "service", "web"]]
                assert (len(webs), len(workers)) == (2, 3), [cmdline(p) for p in descendants(honcho.pid)]
                # When a 24-page conversion (12 jobs) runs
                async with http.post(f"{base}/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(24)) as resp:
                    file_id = (await resp.json())["fileId"]
                body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": "png"}}}
                async with http.post(f"{base}/v2/contentConverters", json=body) as resp:
                    process_id = (await resp.json())["processId"]
                while True:
                    async with http.get(f"{base}/v2/contentConverters/{process_id}") as resp:
                        state = await resp.json()
                    if state["state"] != "processing":
                        break
                    assert time.monotonic() < deadline + 60, state
                    await asyncio.sleep(0.2)
                assert state["state"] == "complete" and len(state["output"]["results"]) == 24, state
            # Then a SIGTERM to honcho (as systemd or a container runtime sends it) stops every
            # worker gracefully, with its render processes, and the front door
            everything = descendants(honcho.pid)
            honcho.send_signal(signal.SIGTERM)
            honcho.wait(40)
            deadline = time.monotonic() + 30
            while [p for p in everything if running(p)] and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            if honcho.poll() is None:
                os.killpg(honcho.pid, signal.SIGKILL)
    output = log_path.read_text()
    assert not [p for p in everything if running(p)], output[-3000:]
    assert output.count('"event": "worker_stopping"') == 3 and "Traceback" not in output, output[-3000:]
    for name in ("web.1", "web.2", "worker.1", "worker.2", "worker.3"):
        assert f"{name} stopped (rc=0)" in output, output[-3000:]
    # and requests were shared between the front doors, render jobs between the workers
    served_by, rendered_by = set(), set()
    for line in output.splitlines():
        match = re.match(r"^\S+ ((?:web|worker)\.\d+)\s*\| (\{.*\})$", line)
        event = json.loads(match.group(2)).get("event") if match else None
        if event == "request_done":
            served_by.add(match.group(1))
        elif event == "page_rendered":
            rendered_by.add(match.group(1))
    assert served_by == {"web.1", "web.2"}, served_by
    assert len(rendered_by) >= 2, rendered_by
