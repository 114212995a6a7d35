"""The Procfile as operators run it: `honcho start -c worker=3` scales workers that share the work."""

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

from service.redisproc import free_port
from tests.conftest import ROOT, make_env
from tests.docgen import text_pdf

pytestmark = pytest.mark.fault


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


async def test_honcho_scales_workers_and_stops_them_all(tmp_path, redis_url):
    # Given the Procfile started by honcho with three workers (the venv's python first on PATH)
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
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-c", "worker=3"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        async with http.get(f"{base}/PCCIS/V1/Service/Current/Ready") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                    await asyncio.sleep(0.2)
                workers = [p for p in descendants(honcho.pid) if cmdline(p)[1:3] == ["-m", "workers"]]
                assert len(workers) == 3, [cmdline(p) for p in descendants(honcho.pid)]
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
            while [p for p in everything if Path(f"/proc/{p}").exists()] and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            if honcho.poll() is None:
                os.killpg(honcho.pid, signal.SIGKILL)
    output = log_path.read_text()
    assert not [p for p in everything if Path(f"/proc/{p}").exists()], output[-3000:]
    assert output.count('"event": "worker_stopping"') == 3 and "Traceback" not in output, output[-3000:]
    for name in ("web.1", "worker.1", "worker.2", "worker.3"):
        assert f"{name} stopped (rc=0)" in output, output[-3000:]
    # and the render jobs were shared between the workers
    rendered_by = set()
    for line in output.splitlines():
        match = re.match(r"^\S+ (worker\.\d+)\s*\| (\{.*\})$", line)
        if match and json.loads(match.group(2)).get("event") == "page_rendered":
            rendered_by.add(match.group(1))
    assert len(rendered_by) >= 2, rendered_by
