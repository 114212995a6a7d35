"""Fixtures: a real redis-server (and S3-compatible server) on free ports, the real app, the real arq worker."""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from aiohttp.test_utils import TestClient

from core.redisproc import RedisServer, free_port
from core.settings import Settings
from service.app import create_app
from workers.runner import WorkerGroup

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS: list[str] = []  # lines saying where tests saved what a person should look at (screenshots)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in ARTIFACTS:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), persist=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database for every test."""
    with redis_sync.Redis.from_url(redis_server.url) as r:
        r.flushall()
    return redis_server.url


def make_env(data_dir: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for settings and for worker subprocesses started by tests."""
    return {
        "REDIS_URL": redis_url,
        "PAGEMILL_DATA_DIR": str(data_dir),
        "PAGEMILL_RENDER_PROCESSES": "2",
        "PAGEMILL_INTERACTIVE_RENDER_PROCESSES": "0",  # one child fewer per test worker (tests/test_units.py has the lane)
        "PAGEMILL_CHUNK_PAGES": "4",
        "PAGEMILL_POLL_DELAY_S": "0.02",
        "PAGEMILL_LOG_FORMAT": "console",
        # LibreOffice starts on the first office document, one per worker, not with every test's worker.
        "PAGEMILL_OFFICE_PROCESSES": "1",
        "PAGEMILL_OFFICE_PRESTART": "false",
        **extra,
    }


@pytest.fixture
def env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return make_env(tmp_path / "data", redis_url)


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, **options: Any) -> AsyncIterator[WorkerGroup]:
    """The real arq workers of both queues (with their process pool) running in this event loop."""
    group = WorkerGroup(settings, **options)
    await group.start()
    task = asyncio.create_task(group.run())
    try:
        yield group
    finally:
        await group.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[WorkerGroup]:
    async with running_worker(settings) as group:
        yield group


def worker_subprocess(env: dict[str, str], *, new_session: bool = False, output: Any = None) -> subprocess.Popen[bytes]:
    """`python -m workers` as a separate process (for tests that kill it, with its pool when new_session)."""
    return subprocess.Popen(
        [sys.executable, "-m", "workers"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        start_new_session=new_session,
    )


class S3Server:
    """moto's S3-compatible server as a child process on 127.0.0.1 (a real HTTP peer for boto3)."""

    access_key = "pagemill-test"
    secret_key = "pagemill-test-secret"

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        """Start (or start again, on the same port: an in-memory server comes back empty)."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.client().list_buckets()
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket for every test."""
    name = f"pagemill-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


def s3_env(data_dir: Path, redis_url: str, server: S3Server, bucket: str, **extra: str) -> dict[str, str]:
    """Environment for one "host" that keeps its bytes in S3 (its data dir holds only scratch and cache)."""
    return make_env(
        data_dir,
        redis_url,
        PAGEMILL_STORAGE="s3",
        PAGEMILL_S3_BUCKET=bucket,
        PAGEMILL_S3_ENDPOINT_URL=server.url,
        PAGEMILL_S3_REGION="us-east-1",
        PAGEMILL_S3_ACCESS_KEY_ID=server.access_key,
        PAGEMILL_S3_SECRET_ACCESS_KEY=server.secret_key,
        **extra,
    )
