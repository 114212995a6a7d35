"""Fixtures: a real redis-server on a free port, the real app, the real arq worker."""

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.redisproc import RedisServer
from service.settings import Settings
from workers.settings import WorkerGroup

ROOT = Path(__file__).resolve().parent.parent


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
        "PAGEMILL_CHUNK_PAGES": "4",
        "PAGEMILL_POLL_DELAY_S": "0.02",
        "PAGEMILL_LOG_FORMAT": "console",
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
async def running_worker(settings: Settings) -> AsyncIterator[WorkerGroup]:
    """The real arq workers of both queues (with their process pool) running in this event loop."""
    group = WorkerGroup(settings)
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


def worker_subprocess(env: dict[str, str], *, new_session: bool = False) -> subprocess.Popen[bytes]:
    """`python -m workers` as a separate process (for tests that kill it, with its pool when new_session)."""
    return subprocess.Popen(
        [sys.executable, "-m", "workers"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        start_new_session=new_session,
    )
