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

from core.redisproc import free_port  # noqa: E402


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


@contextlib.contextmanager
def moto_s3(bucket: str = "pagemill-bench") -> Iterator[dict[str, str]]:
    """An S3-compatible server (moto's, in memory; needs `.[test]`) with one bucket; yields pagemill's env for it."""
    import boto3

    try:
        import moto.server  # noqa: F401  # only to say what is missing before starting it
    except ImportError as exc:
        sys.exit(
            f"--s3 needs moto's S3-compatible server ({exc.name} is not installed): "
            "run `./dev test` once, or `.venv/bin/pip install -e '.[test]'`"
        )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "PAGEMILL_STORAGE": "s3",
        "PAGEMILL_S3_BUCKET": bucket,
        "PAGEMILL_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "PAGEMILL_S3_REGION": "us-east-1",
        "PAGEMILL_S3_ACCESS_KEY_ID": "bench",
        "PAGEMILL_S3_SECRET_ACCESS_KEY": "bench-secret",
    }
    try:
        client = boto3.client(
            "s3",
            endpoint_url=env["PAGEMILL_S3_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench-secret",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield env
    finally:
        server.terminate()
        server.wait(30)


async def download_results(http: aiohttp.ClientSession, url: str, process: dict) -> int:
    """Every output work file of a final conversion process, downloaded; the bytes read
    (SystemExit when the process did not complete)."""
    if process["state"] != "complete":
        raise SystemExit(f"conversion failed: {process}")
    size = 0
    for result in process["output"]["results"]:
        async with http.get(f"{url}/PCCIS/V1/WorkFile/{result['fileId']}") as resp:
            assert resp.status == 200
            size += len(await resp.read())
    return size
