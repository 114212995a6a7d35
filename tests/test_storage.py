"""The storage contract, checked the same way on local disk and on a real S3-compatible server."""

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.errors import StorageError
from core.settings import Settings
from core.storage.base import Meter, Storage
from core.storage.local import LocalStorage
from core.storage.s3 import S3Storage
from tests.conftest import s3_env

UNSAFE_KEYS = ["../etc/passwd", "wf/../../x", "/abs", "a//b", "", "wf/a b", "wf/\x00", "wf\\..\\x"]


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "local":
        backend: Storage = LocalStorage(tmp_path / "local")
    else:
        env = s3_env(
            tmp_path / "s3host",
            "redis://127.0.0.1:1/0",
            request.getfixturevalue("s3_server"),
            request.getfixturevalue("s3_bucket"),
        )
        backend = S3Storage.from_settings(Settings.from_env(env))
    yield backend
    await backend.close()


async def read(storage: Storage, key: str) -> bytes:
    return (await storage.local_path(key)).read_bytes()


async def test_an_upload_is_invisible_until_committed(storage):
    upload = storage.open_upload()
    for _ in range(4):
        upload.write(os.urandom(1000))
    upload.write(b"end")
    assert not await storage.exists("wf/ab/abc")
    await upload.commit("wf/ab/abc")
    assert await storage.exists("wf/ab/abc")
    data = await read(storage, "wf/ab/abc")
    assert len(data) == 4003 and data.endswith(b"end")


async def test_an_aborted_upload_leaves_nothing(storage):
    upload = storage.open_upload()
    upload.write(b"x" * 5000)
    await upload.abort()
    assert not await storage.exists("wf/ab/abc")
    assert not (await storage.local_path("wf/ab/abc")).exists()
    assert list(storage.tmp.iterdir()) == []


async def test_commit_file_moves_a_scratch_file_into_place(storage):
    scratch = storage.scratch_path(".png")
    scratch.write_bytes(b"\x89PNG rendered")
    await storage.commit_file(scratch, "pages/s-1/0.png")
    assert not scratch.exists()
    assert await read(storage, "pages/s-1/0.png") == b"\x89PNG rendered"


async def test_a_missing_object_reads_as_a_missing_file(storage):
    assert not await storage.exists("wf/no/nothing")
    assert not (await storage.local_path("wf/no/nothing")).exists()
    await storage.delete("wf/no/nothing")  # deleting what is not there is fine


async def test_delete_and_delete_prefix(storage):
    for key in ("uploads/u1/0", "uploads/u1/100", "uploads/u1/200", "uploads/u10/0", "wf/ab/keep"):
        scratch = storage.scratch_path()
        scratch.write_bytes(key.encode())
        await storage.commit_file(scratch, key)
    await storage.local_path("uploads/u1/100")  # cached (S3) or not, it must go
    assert await storage.delete_prefix("uploads/u1/") == 3
    assert [await storage.exists(f"uploads/u1/{n}") for n in (0, 100, 200)] == [False] * 3
    assert not (await storage.local_path("uploads/u1/100")).exists()
    assert await read(storage, "uploads/u10/0") == b"uploads/u10/0"  # a prefix ends at its "/"
    await storage.delete("wf/ab/keep")
    assert not await storage.exists("wf/ab/keep")
    assert not (await storage.local_path("wf/ab/keep")).exists()
    assert await storage.delete_prefix("uploads/none/") == 0


async def test_unsafe_keys_and_prefixes_are_refused(storage):
    scratch = storage.scratch_path()
    scratch.write_bytes(b"x")
    for key in UNSAFE_KEYS:
        with pytest.raises(ValueError):
            await storage.commit_file(scratch, key)
        with pytest.raises(ValueError):
            await storage.local_path(key)
        with pytest.raises(ValueError):
            await storage.delete(key)
    for prefix in ("uploads/u1", "../", "uploads/../", "/"):
        with pytest.raises(ValueError):
            await storage.delete_prefix(prefix)


async def test_stale_temporaries_are_swept(storage):
    old, new = storage.scratch_path(".upload"), storage.scratch_path(".upload")
    old.write_bytes(b"left by a killed process")
    new.write_bytes(b"being written")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert await storage.sweep_scratch(older_than_s=3600) == 1
    assert not old.exists() and new.exists()


async def test_check_passes_and_concurrent_readers_agree(storage):
    await storage.check()
    scratch = storage.scratch_path()
    scratch.write_bytes(os.urandom(300_000))
    expected = scratch.read_bytes()
    await storage.commit_file(scratch, "wf/cc/shared")
    paths = await asyncio.gather(*(storage.local_path("wf/cc/shared") for _ in range(8)))
    assert all(p.read_bytes() == expected for p in paths)


async def test_parts_are_kept_replaced_discarded_and_joined(storage):
    a, b, c = os.urandom(100_000), os.urandom(70_000), os.urandom(30_000)
    part = storage.open_part("uploads/u1/", 0)
    part.write(a[:60_000])
    part.write(a[60_000:])
    await part.keep()
    rejected = storage.open_part("uploads/u1/", 100_000)
    rejected.write(os.urandom(50_000))
    await rejected.discard()  # e.g. a checksum mismatch
    first = storage.open_part("uploads/u1/", 100_000)
    first.write(b)
    await first.keep()
    resent = storage.open_part("uploads/u1/", 100_000)  # the client sends the part again, shorter
    resent.write(c)
    await resent.keep()
    meter = Meter(head_bytes=10)
    await storage.join_parts("uploads/u1/", [0, 100_000], 130_000, "wf/jo/joined", meter)
    assert (meter.size, meter.head, meter.sha256) == (130_000, a[:10], hashlib.sha256(a + c).hexdigest())
    assert await read(storage, "wf/jo/joined") == a + c
    assert await storage.delete_prefix("uploads/u1/") == 0  # the parts went with the join


async def test_joining_fewer_bytes_than_recorded_is_a_storage_error(storage):
    part = storage.open_part("uploads/u2/", 0)
    part.write(b"x" * 10)
    await part.keep()
    with pytest.raises(StorageError):
        await storage.join_parts("uploads/u2/", [0], 11, "wf/jo/short", Meter())
    with pytest.raises(StorageError):  # parts that are not there at all
        await storage.join_parts("uploads/nothing/", [0, 10], 20, "wf/jo/short", Meter())
    assert not await storage.exists("wf/jo/short")
    assert list(storage.tmp.iterdir()) == []


async def test_an_empty_upload_joins_into_an_empty_object(storage):
    await storage.join_parts("uploads/u3/", [], 0, "wf/jo/empty", Meter())
    assert await read(storage, "wf/jo/empty") == b""
