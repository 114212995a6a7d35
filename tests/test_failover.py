"""Redis Sentinel: a real failover (primary SIGKILLed mid-batch, a replica promoted) loses no accepted process."""

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from aiohttp.test_utils import TestClient
from redis.exceptions import WatchError

from core import keyspace
from core.redisproc import RedisServer
from core.settings import Settings, SettingsError
from schemas import jobs
from service import keys as app_keys
from service.app import create_app
from tests.conftest import make_env, running_worker
from tests.docgen import text_pdf
from tests.helpers import convert, poll, upload
from tests.redisha import SentinelCluster

PAGES = 8


class Client:
    """A client that does what the 503 asks: waits Retry-After (capped) and sends the request again."""

    def __init__(self, http: TestClient) -> None:
        self.http = http
        self.statuses: Counter[int] = Counter()

    async def call(self, method: str, path: str, timeout_s: float = 30.0, **kwargs: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            resp = await self.http.request(method, path, **kwargs)
            self.statuses[resp.status] += 1
            if resp.status != 503:
                assert resp.status == 200, (resp.status, await resp.text())
                return await resp.json()
            assert resp.headers["Retry-After"]
            assert time.monotonic() < deadline, f"{method} {path} still 503 after {timeout_s} s"
            await asyncio.sleep(0.2)

    async def final(self, process_id: str, timeout_s: float = 45.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            body = await self.call("GET", f"/v2/contentConverters/{process_id}")
            if body["state"] != "processing":
                return body
            assert time.monotonic() < deadline, f"{process_id} still processing: {body}"
            await asyncio.sleep(0.2)


def test_sentinel_settings_are_validated():
    settings = Settings.from_env(
        {"PAGEMILL_REDIS_SENTINELS": "10.0.0.1:26379, [::1]:26380", "PAGEMILL_REDIS_SENTINEL_PASSWORD": "s3cret"}
    )
    assert settings.redis_sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert settings.redis_sentinel_master == "mymaster" and settings.has_redis
    assert "s3cret" not in repr(settings)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PAGEMILL_REDIS_SENTINELS": "host-without-port", "PAGEMILL_REDIS_WAIT_REPLICAS": "-1"})
    assert "PAGEMILL_REDIS_SENTINELS" in str(caught.value) and "PAGEMILL_REDIS_WAIT_REPLICAS" in str(caught.value)
    with pytest.raises(SettingsError, match="exclude each other"):
        Settings.from_env({"PAGEMILL_REDIS_SENTINELS": "h:1", "REDIS_URL": "redis://h:2/0"})


@pytest.mark.fault
async def test_primary_killed_mid_batch_replica_promoted_every_accepted_process_completes(aiohttp_client, tmp_path):
    # Given a primary, its replica and three Sentinels, and web and worker configured with the Sentinels only
    cluster = SentinelCluster(tmp_path / "redis")
    cluster.start()
    try:
        env = make_env(tmp_path / "data", "", PAGEMILL_REDIS_SENTINELS=cluster.addresses)
        env.update(PAGEMILL_REDIS_WAIT_REPLICAS="1")
        del env["REDIS_URL"]
        settings = Settings.from_env(env)
        client = Client(await aiohttp_client(create_app(settings)))
        files = [
            (await client.call("POST", "/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(PAGES)))["fileId"]
            for _ in range(3)
        ]

        def body(i: int) -> dict[str, Any]:
            # (a retried POST carries its Idempotency-Key, so a 503 that did take effect is not doubled)
            return {
                "json": {"input": {"sources": [{"fileId": files[i % 3]}], "dest": {"format": "png"}}},
                "headers": {"Idempotency-Key": f"batch-{i}"},
            }

        async with running_worker(settings):
            # When a batch is submitted and the primary is SIGKILLed once the first conversion is done
            accepted = [(await client.call("POST", "/v2/contentConverters", **body(i)))["processId"] for i in range(6)]
            await client.final(accepted[0])
            in_flight = [
                pid
                for pid in accepted
                if (await client.call("GET", f"/v2/contentConverters/{pid}"))["state"] == "processing"
            ]
            cluster.primary.kill()
            killed = time.monotonic()
            # ... and the rest of the batch is submitted during the failover
            for i in range(6, 12):
                accepted.append((await client.call("POST", "/v2/contentConverters", **body(i)))["processId"])
            finals = [await client.final(pid) for pid in accepted]
            recovered_s = time.monotonic() - killed
        await client.http.close()  # before the Sentinels go

        # Then the replica was promoted, and every accepted conversion completed with all its pages,
        # including those that were being converted when the primary died
        assert in_flight, "the primary was to die mid-batch"
        assert cluster.master_port() == cluster.replica.port
        assert [f["state"] for f in finals] == ["complete"] * 12, [f.get("errorCode") for f in finals]
        assert all(len(f["output"]["results"]) == PAGES for f in finals)
        # and the clients saw only answers and 503s with Retry-After, never a 5xx error of another kind
        assert set(client.statuses) <= {200, 503}, client.statuses
        print(
            f"failover: {len(in_flight)} conversions in flight at the kill, all 12 done {recovered_s:.1f} s after it;"
            f" answers {dict(client.statuses)}"
        )
    finally:
        cluster.stop()


@contextlib.contextmanager
def primary_and_replica(base: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    """A primary and its replica, once the replica is in sync."""
    primary = RedisServer(base / "primary", persist=False, extra=("--repl-diskless-sync-delay", "0"))
    replica = RedisServer(base / "replica", persist=False, extra=("--replicaof", "127.0.0.1", str(primary.port)))
    primary.start()
    try:
        replica.start()
        deadline = time.monotonic() + 20
        with redis_sync.Redis(port=replica.port) as r:
            while r.info("replication").get("master_link_status") != "up":
                assert time.monotonic() < deadline, "the replica did not sync"
                time.sleep(0.05)
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


@pytest.mark.fault
async def test_a_node_demoted_to_replica_answers_503_with_retry_after_not_580(aiohttp_client, tmp_path):
    with primary_and_replica(tmp_path) as (_, replica):
        # Given a front door whose REDIS_URL reaches a replica (a primary demoted by a failover)
        env = make_env(tmp_path / "data", replica.url, PAGEMILL_SIGNING_KEY="a-configured-signing-key")
        settings = Settings.from_env(env)  # (a generated signing key would be written at start-up)
        client = await aiohttp_client(create_app(settings))
        # When a request writes
        resp = await client.post("/PCCIS/V1/WorkFile?FileExtension=txt", data=b"hello")
        # Then it is told to come back later, as for any Redis outage
        assert resp.status == 503 and resp.headers["Retry-After"]
        assert (await resp.json())["errorCode"] == "ServiceUnavailable"
        await client.close()  # before its Redis goes


@pytest.mark.fault
async def test_accepted_work_is_on_the_replica_before_the_answer(aiohttp_client, tmp_path):
    with primary_and_replica(tmp_path) as (primary, replica):
        # Given a replica and PAGEMILL_REDIS_WAIT_REPLICAS=1
        settings = Settings.from_env(make_env(tmp_path / "data", primary.url, PAGEMILL_REDIS_WAIT_REPLICAS="1"))
        client = await aiohttp_client(create_app(settings))
        wf = await upload(client, text_pdf(1))
        body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
        # When the replica keeps up, the answer comes once the replica has the process and its first job
        started = time.monotonic()
        process_id = (await convert(client, body))["processId"]
        assert time.monotonic() - started < 0.9
        with redis_sync.Redis(port=replica.port) as r:
            assert r.exists(keyspace.process(process_id), "arq:job:" + jobs.plan_job_id(process_id)) == 2
        # and when it stalls, the answer waits for it (up to a second)
        assert replica.proc is not None
        replica.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            await convert(client, body)
            assert time.monotonic() - started >= 0.9
        finally:
            replica.proc.send_signal(signal.SIGCONT)
        await client.close()  # before its Redis goes


async def test_a_connection_lost_inside_arqs_watch_does_not_stop_the_worker(client, settings, monkeypatch):
    # Given a worker taking one job at a time, whose first claim of a job meets a broken connection the
    # way arq's WATCH transaction reports it (a WatchError, after arq took a job slot)
    async with running_worker(settings, max_jobs=1) as group:
        worker = next(w for w in group.workers if w.queue_name == jobs.BATCH_QUEUE)
        original = worker.start_jobs
        failures = []

        async def start_jobs(job_ids: list[bytes]) -> None:
            if job_ids and not failures:
                failures.append(job_ids)
                await worker.sem.acquire()
                worker.job_counter += 1
                raise WatchError("A ConnectionError occurred on while watching one or more keys")
            await original(job_ids)

        monkeypatch.setattr(worker, "start_jobs", start_jobs)
        # When conversions are submitted
        wf = await upload(client, text_pdf(2))
        body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
        ids = [(await convert(client, body))["processId"] for _ in range(3)]
        # Then the worker carries on (its slot given back) and converts them all
        finals = [await poll(client, pid, interval_s=0.1, timeout_s=30) for pid in ids]
    assert failures and [f["state"] for f in finals] == ["complete"] * 3


async def test_a_retried_request_restarts_a_process_whose_first_job_was_lost(client, settings):
    # Given a conversion accepted, whose first job a failover then lost (gone from the queue)
    wf = await upload(client, text_pdf(2))
    body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
    headers = {"Idempotency-Key": "batch-7-doc-3"}
    first = await client.post("/v2/contentConverters", json=body, headers=headers)
    process_id = (await first.json())["processId"]
    redis = client.app[app_keys.REDIS]
    assert await redis.zrem(jobs.BATCH_QUEUE, jobs.plan_job_id(process_id)) == 1
    await redis.delete("arq:job:" + jobs.plan_job_id(process_id))
    # When the client sends the same request again (as after a 503), with the same Idempotency-Key
    again = await client.post("/v2/contentConverters", json=body, headers=headers)
    assert again.status == 200 and (await again.json())["processId"] == process_id
    # Then the same process runs to completion
    async with running_worker(settings):
        final = await poll(client, process_id, interval_s=0.1, timeout_s=30)
    assert final["state"] == "complete" and len(final["output"]["results"]) == 2
