"""What every benchmark needs: a running pagemill (started here unless a URL is given)."""

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.redisproc import free_port  # noqa: E402


async def wait_healthy(url: str, timeout_s: float = 60) -> None:
    """Wait until the service answers and reports a running worker."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/PCCIS/V1/Service/Current/Info") as resp:
                    if resp.status == 200:
                        info = await resp.json()
                        if info["instances"][0]["childServices"][0]["serviceStatus"] == "running":
                            return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"service at {url} did not become healthy")


@contextlib.contextmanager
def running_service(url: str | None = None, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes] | None]]:
    """Yield (url, process): `url` as given, else a fresh `python -m service serve` on a free port."""
    server = None
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        inherited = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # embedded Redis unless given
        full_env = {
            **inherited,
            "PAGEMILL_PORT": str(port),
            "PAGEMILL_DATA_DIR": tempfile.mkdtemp(prefix="pagemill-bench-"),
            "PAGEMILL_LOG_LEVEL": "WARNING",
            **env,
        }
        server = subprocess.Popen([sys.executable, "-m", "service", "serve"], cwd=ROOT, env=full_env)
    try:
        asyncio.run(wait_healthy(url))
        yield url, server
    finally:
        if server:
            server.terminate()
            server.wait(30)
