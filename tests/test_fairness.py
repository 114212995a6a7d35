"""Fairness between tenants: one tenant's flood neither starves another's pages and conversions nor gets
it refused; a stopped or deleted viewing session stops rendering at once."""

import asyncio
import dataclasses
import io
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core import keyspace, triggers
from core.settings import Settings
from schemas import jobs
from service import keys as app_keys
from service.app import create_app
from tests.conftest import running_worker
from tests.docgen import text_pdf

ALPHA = {"Acs-Api-Key": "alpha-key-123"}
BETA = {"Acs-Api-Key": "beta-key-456"}
KEYS = "alpha:alpha-key-123,beta:beta-key-456"


@pytest.fixture
def tenants_settings(env: dict[str, str]) -> Settings:
    # One job at a time per queue, so the queues really back up behind a flood.
    return Settings.from_env({**env, "PAGEMILL_API_KEYS": KEYS, "PAGEMILL_WORKER_MAX_JOBS": "1"})


@pytest.fixture
async def api(aiohttp_client: Any, tenants_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(tenants_settings))


async def upload(api: TestClient, headers: dict[str, str], data: bytes) -> str:
    resp = await api.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=io.BytesIO(data), headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["fileId"]


async def convert(api: TestClient, headers: dict[str, str], file_id: str) -> str:
    body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": "png"}}}
    resp = await api.post("/v2/contentConverters", json=body, headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["processId"]


async def states(api: TestClient, headers: dict[str, str], ids: list[str]) -> list[str]:
    found = []
    for process_id in ids:
        resp = await api.get(f"/v2/contentConverters/{process_id}", headers=headers)
        found.append((await resp.json())["state"])
    return found


async def test_a_flooding_tenant_gets_429_and_the_others_do_not(aiohttp_client, env):
    api = await aiohttp_client(
        create_app(Settings.from_env({**env, "PAGEMILL_API_KEYS": KEYS, "PAGEMILL_MAX_QUEUED_JOBS": "3"}))
    )
    alpha, beta = await upload(api, ALPHA, text_pdf(1)), await upload(api, BETA, text_pdf(1))
    for _ in range(3):  # no worker runs: each conversion leaves its first job queued
        await convert(api, ALPHA, alpha)
    refused = await api.post(
        "/v2/contentConverters",
        json={"input": {"sources": [{"fileId": alpha}], "dest": {"format": "png"}}},
        headers=ALPHA,
    )
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    assert (await refused.json())["errorCode"] == "TooManyQueuedJobs"
    # and so is any other process it starts (here a search context)
    context = {"input": {"documentIdentifier": "d", "source": "workFile", "fileId": alpha}}
    refused = await api.post("/v2/searchContexts", json=context, headers=ALPHA)
    assert refused.status == 429 and (await refused.json())["errorCode"] == "TooManyQueuedJobs"
    # beta is not refused for alpha's backlog (up to its own three jobs)
    for _ in range(2):
        await convert(api, BETA, beta)
    context["input"]["fileId"] = beta
    assert (await api.post("/v2/searchContexts", json=context, headers=BETA)).status == 200


async def test_a_small_conversion_is_not_starved_by_another_tenants_flood(api, tenants_settings):
    # Given alpha's flood of conversions queued (24 x 8 pages) before beta's one-page conversion
    alpha, beta = await upload(api, ALPHA, text_pdf(8)), await upload(api, BETA, text_pdf(1))
    flood = [await convert(api, ALPHA, alpha) for _ in range(24)]
    small = await convert(api, BETA, beta)
    async with running_worker(tenants_settings):
        # When the worker runs, beta's conversion completes within a bound...
        started = time.monotonic()
        while (await states(api, BETA, [small])) == ["processing"]:
            assert time.monotonic() - started < 20, "beta's conversion starved"
            await asyncio.sleep(0.05)
        waited_s = time.monotonic() - started
        # ... while most of alpha's flood is still waiting (FIFO would have run all of it first)
        alpha_states = await states(api, ALPHA, flood)
    assert (await states(api, BETA, [small])) == ["complete"]
    assert alpha_states.count("processing") >= len(flood) // 2, (waited_s, alpha_states)
    print(
        f"beta's conversion done after {waited_s:.2f} s; alpha's still processing: {alpha_states.count('processing')}"
    )


async def test_a_conversion_is_not_starved_by_another_tenants_huge_viewing_session(api, tenants_settings):
    # Given alpha's 400-page viewing session converting as a whole (100 page jobs fanned out)
    session_id = await new_session(api, ALPHA, text_pdf(400), countOfInitialPages=0)
    beta = await upload(api, BETA, text_pdf(1))
    async with running_worker(tenants_settings) as group:
        redis = group.ctx["queue"]
        resp = await api.get("/PCCIS/V1/Page/q/0", params={"DocumentID": f"u{session_id}"}, headers=ALPHA)
        assert resp.status == 200
        while await redis.scard(keyspace.session_jobs(session_id)) < 100:
            await asyncio.sleep(0.02)
        # When beta converts a one-page document
        started = time.monotonic()
        small = await convert(api, BETA, beta)
        while (await states(api, BETA, [small])) == ["processing"]:
            assert time.monotonic() - started < 20, "beta's conversion starved"
            await asyncio.sleep(0.05)
        # Then it is done while most of alpha's pages still wait
        rendered = int(await redis.hget(keyspace.METRICS, "pages_rendered") or 0)
    assert rendered < 200, rendered
    print(f"beta's conversion done after {time.monotonic() - started:.2f} s, {rendered} of alpha's 400 pages before")


async def new_session(api: TestClient, headers: dict[str, str], data: bytes, **props: Any) -> str:
    resp = await api.post("/PCCIS/V1/ViewingSession", json={"serverCaching": "none", **props}, headers=headers)
    session_id = (await resp.json())["viewingSessionId"]
    resp = await api.put(
        f"/PCCIS/V1/ViewingSession/u{session_id}/SourceFile?FileExtension=pdf", data=data, headers=headers
    )
    assert resp.status == 200, await resp.text()
    return session_id


async def test_a_first_page_is_not_starved_by_another_tenants_viewers(api, tenants_settings):
    # Given alpha's 30 viewers asking for their first pages at once (30 interactive jobs)
    alpha_sessions = [await new_session(api, ALPHA, text_pdf(1, lines=80)) for _ in range(30)]
    beta_session = await new_session(api, BETA, text_pdf(1))
    served: list[str] = []

    async def first_page(headers: dict[str, str], session_id: str) -> None:
        resp = await api.get("/PCCIS/V1/Page/q/0", params={"DocumentID": f"u{session_id}"}, headers=headers)
        assert resp.status == 200, await resp.text()
        await resp.read()
        served.append(session_id)

    alpha_tasks = [asyncio.create_task(first_page(ALPHA, s)) for s in alpha_sessions]
    async with running_worker(tenants_settings) as group:
        redis = group.ctx["queue"]
        while await redis.zcard(jobs.INTERACTIVE_QUEUE) < 25:  # alpha's page jobs are queued
            await asyncio.sleep(0.01)
        # When beta asks for its first page
        started = time.monotonic()
        await asyncio.wait_for(first_page(BETA, beta_session), timeout=20)
        waited_s = time.monotonic() - started
        alpha_served = len(served) - 1
        await asyncio.gather(*alpha_tasks)
    # Then it came before most of alpha's pages (FIFO would have served all of them first)
    assert alpha_served <= len(alpha_sessions) // 2, (waited_s, alpha_served)
    print(f"beta's first page after {waited_s:.2f} s, {alpha_served} of alpha's 30 pages before it")


@pytest.mark.parametrize("how", ["SessionStopped", "DELETE"])
async def test_a_stopped_or_deleted_session_stops_rendering_at_once(api, tenants_settings, how):
    # Given a viewing session of a 160-page document converting as a whole (20 queued jobs of 8 pages)
    session_id = await new_session(api, ALPHA, text_pdf(160), countOfInitialPages=0)
    params = {"DocumentID": f"u{session_id}"}
    settings = dataclasses.replace(tenants_settings, chunk_pages=8)
    async with running_worker(settings) as group:
        redis = group.ctx["queue"]
        resp = await api.get("/PCCIS/V1/Page/q/0", params=params, headers=ALPHA)
        assert resp.status == 200
        session_jobs = keyspace.session_jobs(session_id)
        while await redis.scard(session_jobs) < 20:  # the remainder was fanned out
            await asyncio.sleep(0.02)

        # When the session is stopped (PrizmDoc's notification) or deleted (serverCaching "none")
        if how == "SessionStopped":
            resp = await api.post(f"/PCCIS/V1/ViewingSession/u{session_id}/Notification/SessionStopped", headers=ALPHA)
            assert resp.status == 200
        else:
            resp = await api.delete(f"/PCCIS/V1/ViewingSession/u{session_id}", headers=ALPHA)
            assert resp.status == 204
        at_stop = int(await redis.hget(keyspace.METRICS, "pages_rendered") or 0)
        # Then none of its jobs is left on the queues, and at most the pages in progress (one per queue's
        # worker) are still rendered, not the rest of the running 8-page job
        for queue in jobs.QUEUES:
            left = [m async for m in redis.zscan_iter(queue) if b"s-" + session_id.encode() in m[0]]
            assert left == [], queue
        await asyncio.sleep(2)
        after = int(await redis.hget(keyspace.METRICS, "pages_rendered") or 0)
        assert after - at_stop <= 2 and after < 80, (at_stop, after)


async def test_stopping_a_session_leaves_another_sessions_job_of_the_same_id(api, tenants_settings):
    # Given two sessions of one cached document: alpha's job for page 3 ran, then beta asked for page 3
    # again under the same job id (a viewer job's id is free again once it is done)
    file_id = await upload(api, ALPHA, text_pdf(5))
    sessions = []
    for _ in range(2):
        resp = await api.post("/PCCIS/V1/ViewingSession", json={}, headers=ALPHA)
        session_id = (await resp.json())["viewingSessionId"]
        resp = await api.put(
            f"/PCCIS/V1/ViewingSession/u{session_id}/SourceRef",
            json={"refType": "workFile", "fileId": file_id},
            headers=ALPHA,
        )
        assert resp.status == 200
        sessions.append(await api.app[app_keys.VIEWS].get(session_id))
    first, second = sessions
    redis = api.app[app_keys.REDIS]
    await triggers.request_page(redis, first, triggers.default_variant(first), 3)
    job_id = jobs.view_job_id(triggers.namespace(first), triggers.default_variant(first).digest(), "p3")
    await redis.zrem(jobs.INTERACTIVE_QUEUE, job_id)  # done, as a worker leaves a viewer job
    await redis.delete("arq:job:" + job_id)
    await triggers.request_page(redis, second, triggers.default_variant(second), 3)
    # When the first session is stopped
    resp = await api.post(f"/PCCIS/V1/ViewingSession/u{first['id']}/Notification/SessionStopped", headers=ALPHA)
    assert resp.status == 200
    # Then the second session's job stays queued
    assert await redis.zscore(jobs.INTERACTIVE_QUEUE, job_id) is not None
