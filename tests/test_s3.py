"""S3-compatible storage: its cache, its settings, and several hosts sharing nothing but Redis and a bucket."""

import asyncio
import io
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from PIL import Image

from core.errors import StorageError
from core.settings import Settings, SettingsError
from core.storage.base import workfile_key
from core.storage.s3 import S3Storage
from service import keys
from service.app import create_app
from tests.conftest import S3Server, running_worker, s3_env, worker_subprocess
from tests.docgen import text_pdf
from tests.helpers import convert, download, poll, upload
from tests.test_uploads import NATIVE, put_part, save_survives_a_crash_after_joining
from tests.test_viewing import new_session, page, put_source
from workers.jobs import sweep


def host(tmp_path: Path, name: str, server: S3Server, bucket: str, **extra: str) -> S3Storage:
    """The S3 storage one host would open (its own data dir: scratch and cache)."""
    return S3Storage.from_settings(
        Settings.from_env(s3_env(tmp_path / name, "redis://127.0.0.1:1/0", server, bucket, **extra))
    )


def bucket_keys(server: S3Server, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in server.client().list_objects_v2(Bucket=bucket).get("Contents", []))


class CountingClient:
    """Passes every call to a real boto3 client, counting downloads."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.downloads = 0

    def download_file(self, **kwargs: Any) -> None:
        self.downloads += 1
        self.inner.download_file(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def put(storage: S3Storage, key: str, data: bytes) -> None:
    scratch = storage.scratch_path()
    scratch.write_bytes(data)
    await storage.commit_file(scratch, key)


async def test_another_host_reads_through_its_own_cache(tmp_path, s3_server, s3_bucket):
    a, b = host(tmp_path, "a", s3_server, s3_bucket), host(tmp_path, "b", s3_server, s3_bucket)
    counting = b._client = CountingClient(b._client)
    await put(a, "wf/ab/doc", b"%PDF- shared bytes")
    assert bucket_keys(s3_server, s3_bucket) == ["wf/ab/doc"]
    # Host b has never seen it: the first read downloads it once, even with eight readers at a time
    paths = await asyncio.gather(*(b.local_path("wf/ab/doc") for _ in range(8)))
    assert {p.read_bytes() for p in paths} == {b"%PDF- shared bytes"}
    assert counting.downloads == 1
    assert paths[0].is_relative_to(tmp_path / "b")
    await b.local_path("wf/ab/doc")
    assert counting.downloads == 1
    # Deleting through host a removes the object and a's copy
    await a.delete("wf/ab/doc")
    assert bucket_keys(s3_server, s3_bucket) == []
    assert not (await a.local_path("wf/ab/doc")).exists()


async def test_key_prefix_places_objects_under_it(tmp_path, s3_server, s3_bucket):
    storage = host(tmp_path, "a", s3_server, s3_bucket, PAGEMILL_S3_KEY_PREFIX="/tenant-a/pagemill")
    await put(storage, "wf/ab/doc", b"x")
    assert bucket_keys(s3_server, s3_bucket) == ["tenant-a/pagemill/wf/ab/doc"]
    assert await storage.exists("wf/ab/doc")
    assert await storage.delete_prefix("wf/") == 1
    assert bucket_keys(s3_server, s3_bucket) == []


async def test_large_objects_go_up_and_down_in_parts(tmp_path, s3_server, s3_bucket):
    a, b = host(tmp_path, "a", s3_server, s3_bucket), host(tmp_path, "b", s3_server, s3_bucket)
    a._transfer = b._transfer = TransferConfig(multipart_threshold=5 * 1024**2, multipart_chunksize=5 * 1024**2)
    data = os.urandom(13 * 1024**2)
    await put(a, "wf/bi/big", data)
    head = s3_server.client().head_object(Bucket=s3_bucket, Key="wf/bi/big")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')  # a 3-part multipart object
    assert (await b.local_path("wf/bi/big")).read_bytes() == data


async def test_cache_evicts_idle_and_least_recently_used_copies_but_never_fresh_ones(tmp_path, s3_server, s3_bucket):
    writer = host(tmp_path, "w", s3_server, s3_bucket)
    reader = host(tmp_path, "r", s3_server, s3_bucket, PAGEMILL_S3_CACHE_MAX_BYTES="5000")
    for n in range(6):
        await put(writer, f"pages/p/{n}", bytes([n]) * 1000)
    paths = [await reader.local_path(f"pages/p/{n}") for n in range(6)]
    # 6000 bytes cached against a cap of 5000, but all were used just now: nothing may go yet
    assert all(p.exists() for p in paths)
    # An hour later pages 0-3 are idle (0 the least recently used), 4 and 5 were just used
    for n, p in enumerate(paths[:4]):
        os.utime(p, (time.time() - 7200 + n, time.time() - 7200 + n))
    reader.cache_idle_s = 86400  # only the size cap applies
    assert await reader.trim_cache() == 2  # 6000 -> 4000 (under 80 % of 5000)
    assert [p.exists() for p in paths] == [False, False, True, True, True, True]
    reader.cache_idle_s = 3600  # now idle copies go whatever the size
    assert await reader.trim_cache() == 2
    assert [p.exists() for p in paths] == [False, False, False, False, True, True]
    # An evicted copy is simply downloaded again
    assert (await reader.local_path("pages/p/0")).read_bytes() == bytes([0]) * 1000


async def test_check_and_errors_are_storage_errors(tmp_path, s3_server, s3_bucket):
    storage = host(tmp_path, "a", s3_server, "no-such-bucket-here")
    with pytest.raises(StorageError, match="does not exist"):
        await storage.check()
    with pytest.raises(StorageError):
        await put(storage, "wf/ab/doc", b"x")
    assert list(storage.tmp.iterdir()) == []  # the temporary is not left behind


def test_settings_for_s3_are_validated_and_the_secret_is_not_shown():
    with pytest.raises(SettingsError) as info:
        Settings.from_env(
            {
                "PAGEMILL_STORAGE": "s3",
                "PAGEMILL_S3_ACCESS_KEY_ID": "id-only",
                "PAGEMILL_S3_ENDPOINT_URL": "ftp://x",
                "PAGEMILL_S3_KEY_PREFIX": "../up",
                "PAGEMILL_S3_ADDRESSING_STYLE": "sideways",
            }
        )
    message = str(info.value)
    for name in (
        "PAGEMILL_S3_BUCKET is required",
        "go together",
        "PAGEMILL_S3_ENDPOINT_URL",
        "PAGEMILL_S3_KEY_PREFIX",
        "PAGEMILL_S3_ADDRESSING_STYLE",
    ):
        assert name in message
    with pytest.raises(SettingsError, match="PAGEMILL_STORAGE"):
        Settings.from_env({"PAGEMILL_STORAGE": "nfs"})
    settings = Settings.from_env(
        {
            "PAGEMILL_STORAGE": "S3",
            "PAGEMILL_S3_BUCKET": "docs",
            "PAGEMILL_S3_ACCESS_KEY_ID": "AKIA",
            "PAGEMILL_S3_SECRET_ACCESS_KEY": "very-secret-value",
        }
    )
    assert settings.storage_backend == "s3" and "very-secret-value" not in repr(settings)


async def test_front_doors_and_a_worker_on_three_hosts_share_only_redis_and_the_bucket(
    aiohttp_client, tmp_path, redis_url, s3_server, s3_bucket
):
    # Given two front doors and a worker, each with its own disk, one Redis and one bucket
    env_a, env_b, env_w = (s3_env(tmp_path / n, redis_url, s3_server, s3_bucket) for n in ("web-a", "web-b", "worker"))
    a = await aiohttp_client(create_app(Settings.from_env(env_a)))
    b = await aiohttp_client(create_app(Settings.from_env(env_b)))
    worker = worker_subprocess({**env_w, "PAGEMILL_LOG_LEVEL": "WARNING"}, new_session=True)
    try:
        # A PDF uploaded at a is converted by the worker; b polls and serves the results
        wf = await upload(a, text_pdf(5), "pdf")
        started = await convert(b, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
        final = await poll(b, started["processId"], interval_s=0.2, timeout_s=60)
        assert final["state"] == "complete", final
        for result in final["output"]["results"]:
            data, _ = await download(a if len(result["sources"][0]["pages"]) % 2 else b, result["fileId"])
            assert Image.open(io.BytesIO(data)).format == "PNG"
        # A resumable upload whose parts arrive at different front doors
        first, second = os.urandom(300_000), os.urandom(123_456)
        upload_id = (await (await a.post(NATIVE, json={})).json())["session"]["id"]
        assert (await put_part(a, NATIVE, upload_id, first, 0)).status == 200
        assert (await put_part(b, NATIVE, upload_id, second, len(first), len(first) + len(second))).status == 200
        saved = await (await b.post(f"{NATIVE}/{upload_id}/save")).json()
        joined, _ = await download(a, saved["object"]["fileId"])
        assert joined == first + second
        # (a fetched that work file from the bucket once; a second read is a cache hit, as /metrics shows)
        assert (await download(a, saved["object"]["fileId"]))[0] == joined
        metrics = await (await a.get("/metrics")).text()
        for operation in ("upload_file", "download_file", "cache_hit"):
            assert f'pagemill_storage_operations_total{{operation="{operation}"}}' in metrics, metrics
        assert 'operation="failed"' not in metrics
        # every front door sends the same ETag for it, so a client's cache works across them
        url = f"/PCCIS/V1/WorkFile/{saved['object']['fileId']}"
        etag = (await a.get(url)).headers["ETag"]
        assert (await b.get(url)).headers["ETag"] == etag
        assert (await b.get(url, headers={"If-None-Match": etag})).status == 304
        # A viewing session started at b renders pages that a serves
        sid = await new_session(b)
        await put_source(b, sid, text_pdf(3), "pdf")
        resp = await page(a, sid, 2)
        assert resp.status == 200, await resp.text()
        assert Image.open(io.BytesIO(await resp.read())).format == "PNG"
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
    # The worker fetched the sources and stored the pages through the bucket, as /metrics reports
    metrics = await (await a.get("/metrics")).text()
    for operation in ("download_file", "upload_file"):
        assert re.search(rf'pagemill_worker_storage_operations_total{{operation="{operation}"}} [1-9]', metrics), (
            metrics
        )
    # Then every byte lives in the bucket: no host keeps objects of its own, and upload parts are gone
    for name in ("web-a", "web-b", "worker"):
        assert not (tmp_path / name / "storage").exists()
    keys = bucket_keys(s3_server, s3_bucket)
    assert workfile_key(wf["fileId"]) in keys and workfile_key(saved["object"]["fileId"]) in keys
    assert not [k for k in keys if k.startswith("uploads/")]
    # And deleting a work file at one front door deletes its object
    assert (await b.delete(f"/PCCIS/V1/WorkFile/{wf['fileId']}")).status == 204
    assert workfile_key(wf["fileId"]) not in bucket_keys(s3_server, s3_bucket)


async def test_the_sweeper_deletes_expired_bytes_from_the_bucket(
    aiohttp_client, tmp_path, redis_url, s3_server, s3_bucket
):
    # Given a work file and an abandoned two-part upload that live one second
    env = s3_env(
        tmp_path / "host",
        redis_url,
        s3_server,
        s3_bucket,
        PAGEMILL_WORKFILE_LIFETIME_S="1",
        PAGEMILL_UPLOAD_LIFETIME_S="1",
    )
    client = await aiohttp_client(create_app(Settings.from_env(env)))
    wf = await upload(client, b"short-lived", "txt")
    upload_id = (await (await client.post(NATIVE, json={})).json())["session"]["id"]
    assert (await put_part(client, NATIVE, upload_id, b"a" * 100, 0)).status == 200
    assert (await put_part(client, NATIVE, upload_id, b"b" * 100, 100)).status == 200
    assert len(bucket_keys(s3_server, s3_bucket)) == 3
    # When their lifetime is over and the sweeper runs
    await asyncio.sleep(1.2)
    ctx = {
        "store": client.app[keys.STORE],
        "storage": client.app[keys.STORAGE],
        "settings": client.app[keys.SETTINGS],
        "quota": client.app[keys.QUOTA],
    }
    assert await sweep.sweep_expired(ctx) == 2
    # Then the bucket is empty, and so is this host's cache
    assert bucket_keys(s3_server, s3_bucket) == []
    assert not (await client.app[keys.STORAGE].local_path(workfile_key(wf["fileId"]))).exists()


async def test_save_survives_a_crash_after_joining_on_s3(aiohttp_client, tmp_path, redis_url, s3_server, s3_bucket):
    client = await aiohttp_client(
        create_app(Settings.from_env(s3_env(tmp_path / "host", redis_url, s3_server, s3_bucket)))
    )
    await save_survives_a_crash_after_joining(client)
    assert not [k for k in bucket_keys(s3_server, s3_bucket) if k.startswith("uploads/")]


@pytest.mark.fault
async def test_while_s3_is_down_requests_get_503_jobs_wait_and_all_recovers(aiohttp_client, tmp_path, redis_url):
    # Given a host on its own S3 server, with one work file stored (and so in this host's cache)
    server = S3Server()
    try:
        server.wait_ready()
        server.client().create_bucket(Bucket="outage")
        settings = Settings.from_env(s3_env(tmp_path / "host", redis_url, server, "outage"))
        client = await aiohttp_client(create_app(settings))
        wf = await upload(client, text_pdf(4), "pdf")
        sid = await new_session(client)
        await put_source(client, sid, text_pdf(2), "pdf")
        # When the S3 server goes away
        server.stop()
        started_at = time.monotonic()
        resp = await client.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1))
        # Then new uploads answer 503 with Retry-After, promptly, and readiness says why
        assert resp.status == 503 and resp.headers["Retry-After"] == "5"
        assert (await resp.json())["errorCode"] == "ServiceUnavailable"
        assert time.monotonic() - started_at < 15
        ready = await client.get("/PCCIS/V1/Service/Current/Ready")
        assert ready.status == 503 and (await ready.json())["checks"]["storage"] is False
        # while a file this host has read or written is still served from its cache
        data, _ = await download(client, wf["fileId"])
        assert data.startswith(b"%PDF")
        async with running_worker(settings):
            # and a conversion waits: its jobs cannot store their pages and are tried again later
            started = await convert(
                client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
            )
            # as does a viewer waiting for a page
            viewer = asyncio.create_task(page(client, sid, 1))
            await asyncio.sleep(3)
            body = await (await client.get(f"/v2/contentConverters/{started['processId']}")).json()
            assert body["state"] == "processing", body
            assert not viewer.done()
            # When S3 is back (empty: moto keeps nothing), the conversion completes by itself
            server.start()
            server.wait_ready()
            server.client().create_bucket(Bucket="outage")
            final = await poll(client, started["processId"], interval_s=0.2, timeout_s=60)
            # and the viewer gets its page
            resp = await asyncio.wait_for(viewer, 60)
            assert resp.status == 200 and Image.open(io.BytesIO(await resp.read())).format == "PNG"
        assert final["state"] == "complete", final
        assert len(final["output"]["results"]) == 4
        assert (await client.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1))).status == 200
        assert (await (await client.get("/PCCIS/V1/Service/Current/Ready")).json())["checks"]["storage"] is True
    finally:
        server.stop()
