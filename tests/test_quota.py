"""Per-tenant storage quota: uploads of every kind stopped mid-stream, worker outputs, concurrency, redelivery, expiry."""

import asyncio
import os
from dataclasses import replace

import pytest
from aiohttp import ClientSession

from core.quota import Quota
from core.settings import Settings
from service import keys
from service.app import create_app
from service.uploads import partial_key
from tests.conftest import running_worker
from tests.docgen import contacts_pdf, text_pdf
from workers.jobs import conversions, sweep
from workers.office import find_engine
from workers.runner import WorkerGroup

ACME = {"Acs-Api-Key": "acme-key-123"}
GLOBEX = {"Acs-Api-Key": "globex-key-456"}
KB = 1000
LIMIT = 1000 * KB


def quota_env(env: dict[str, str], limit: int = LIMIT, **extra: str) -> dict[str, str]:
    return {
        **env,
        "PAGEMILL_API_KEYS": "acme:acme-key-123,globex:globex-key-456",
        "PAGEMILL_TENANT_MAX_BYTES": str(limit),
        **extra,
    }


@pytest.fixture
async def api(aiohttp_client, env):
    return await aiohttp_client(create_app(Settings.from_env(quota_env(env))))


def stored_files(settings_or_client) -> list:
    settings = settings_or_client.app[keys.SETTINGS] if hasattr(settings_or_client, "app") else settings_or_client
    return [p for p in (settings.storage_dir / "objects").rglob("*") if p.is_file()]


def scratch_files(client) -> list:
    return list((client.app[keys.SETTINGS].storage_dir / "tmp").glob("*"))


async def held(client, tenant: str) -> int:
    return await client.app[keys.QUOTA].held(tenant)


def sweep_ctx(client) -> dict:
    app = client.app
    return {
        "store": app[keys.STORE],
        "storage": app[keys.STORAGE],
        "settings": app[keys.SETTINGS],
        "quota": app[keys.QUOTA],
    }


async def test_work_files_are_held_to_the_quota_and_given_back_on_delete(api):
    # Given acme holding a 600 kB work file
    resp = await api.post("/PCCIS/V1/WorkFile?FileExtension=bin", data=os.urandom(600 * KB), headers=ACME)
    assert resp.status == 200
    first = (await resp.json())["fileId"]
    assert await held(api, "acme") == 600 * KB
    # When acme uploads 500 kB more, Then it is refused with 413 QuotaExceeded and a sentence saying why
    resp = await api.post("/PCCIS/V1/WorkFile?FileExtension=bin", data=os.urandom(500 * KB), headers=ACME)
    assert resp.status == 413
    body = await resp.json()
    assert body["errorCode"] == "QuotaExceeded" and str(LIMIT) in body["message"] and "quota" in body["message"]
    # and nothing of it is kept or counted
    assert len(stored_files(api)) == 1 and scratch_files(api) == []
    assert await held(api, "acme") == 600 * KB
    # while globex has its own quota
    resp = await api.post("/PCCIS/V1/WorkFile?FileExtension=bin", data=os.urandom(900 * KB), headers=GLOBEX)
    assert resp.status == 200
    # When acme deletes its file, Then its bytes are given back and the upload fits
    assert (await api.delete(f"/PCCIS/V1/WorkFile/{first}", headers=ACME)).status == 204
    assert await held(api, "acme") == 0
    resp = await api.post("/PCCIS/V1/WorkFile?FileExtension=bin", data=os.urandom(500 * KB), headers=ACME)
    assert resp.status == 200
    assert await held(api, "acme") == 500 * KB and await held(api, "globex") == 900 * KB


async def test_an_upload_that_crosses_the_quota_is_stopped_mid_stream(aiohttp_server, env):
    settings = Settings.from_env(quota_env(env))
    server = await aiohttp_server(create_app(settings))
    key = b"Acs-Api-Key: acme-key-123\r\n"
    # When a client sends a body of unknown length (chunked), 2 MB of it and no end
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /PCCIS/V1/WorkFile?FileExtension=bin HTTP/1.1\r\nHost: x\r\n" + key)
    writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
    for _ in range(32):
        writer.write(b"%x\r\n%s\r\n" % (64 * KB, os.urandom(64 * KB)))
    await writer.drain()
    # Then it is stopped once it crosses the quota, before the body ends: 413 QuotaExceeded
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"QuotaExceeded" in await asyncio.wait_for(reader.read(2000), 10)
    writer.close()
    # and its partial bytes are removed, nothing is counted
    await asyncio.sleep(0.2)
    assert stored_files(settings) == [] and list((settings.storage_dir / "tmp").glob("*")) == []
    assert await server.app[keys.QUOTA].held("acme") == 0
    # When a client announces 50 MB with Content-Length, Then it is refused before any byte is read
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /PCCIS/V1/WorkFile?FileExtension=bin HTTP/1.1\r\nHost: x\r\n" + key)
    writer.write(b"Content-Length: 50000000\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 413"), head
    writer.close()
    assert await server.app[keys.QUOTA].held("acme") == 0
    # And a client that announces 300 kB (room is made for them), sends 100 kB and hangs up gives the room back
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /PCCIS/V1/WorkFile?FileExtension=bin HTTP/1.1\r\nHost: x\r\n" + key)
    writer.write(b"Content-Length: %d\r\n\r\n%s" % (300 * KB, os.urandom(100 * KB)))
    await writer.drain()
    for _ in range(50):
        if await server.app[keys.QUOTA].held("acme") == 300 * KB:
            break
        await asyncio.sleep(0.02)
    assert await server.app[keys.QUOTA].held("acme") == 300 * KB
    writer.close()
    for _ in range(100):
        if await server.app[keys.QUOTA].held("acme") == 0:
            break
        await asyncio.sleep(0.05)
    assert await server.app[keys.QUOTA].held("acme") == 0


async def test_slow_racing_tus_chunks_are_admitted_whole_or_not_at_all(aiohttp_server, env):
    # Given ten tus uploads of 300 kB by one tenant with a 1 MB quota
    server = await aiohttp_server(create_app(Settings.from_env(quota_env(env))))
    quota = server.app[keys.QUOTA]
    base = f"http://127.0.0.1:{server.port}"
    async with ClientSession() as http:
        locations = []
        for _ in range(10):
            async with http.post(
                base + "/tus/files", headers={**ACME, "Tus-Resumable": "1.0.0", "Upload-Length": str(300 * KB)}
            ) as resp:
                locations.append(resp.headers["Location"])
    # When each sends its first 100 kB, and only then the rest (so no chunk finishes before the others start)
    streams = []
    for location in locations:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"PATCH %s HTTP/1.1\r\nHost: x\r\nAcs-Api-Key: acme-key-123\r\nTus-Resumable: 1.0.0\r\n"
            b"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n%s"
            % (location.encode(), 300 * KB, os.urandom(100 * KB))
        )
        await writer.drain()
        streams.append((reader, writer))
    await asyncio.sleep(0.5)
    for _, writer in streams:
        writer.write(os.urandom(200 * KB))
    statuses = []
    for reader, writer in streams:
        statuses.append(int((await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).split()[1]))
        writer.close()
    # Then three uploads were given room for all their bytes up front and complete; the others are refused whole
    # (racing partial reservations would have starved each other)
    assert statuses.count(204) == 3 and statuses.count(413) == 7, statuses
    assert await quota.held("acme") == 900 * KB


async def test_tus_chunks_race_and_stream_within_the_quota(api):
    # Given ten tus uploads of 300 kB by one tenant with a 1 MB quota
    tus_headers = {**ACME, "Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"}
    locations = []
    for _ in range(10):
        resp = await api.post("/tus/files", headers={**ACME, "Tus-Resumable": "1.0.0", "Upload-Length": str(300 * KB)})
        locations.append(resp.headers["Location"])

    async def send(location: str) -> int:
        resp = await api.patch(location, data=os.urandom(300 * KB), headers={**tus_headers, "Upload-Offset": "0"})
        return resp.status

    # When they all send their bytes at once, Then three fit and the others are refused whole
    statuses = await asyncio.gather(*(send(location) for location in locations))
    assert statuses.count(204) == 3 and statuses.count(413) == 7, statuses
    assert await held(api, "acme") == 900 * KB
    # and a chunk of unknown length (chunked transfer) is stopped when it crosses the quota
    resp = await api.post("/tus/files", headers={**ACME, "Tus-Resumable": "1.0.0", "Upload-Length": str(300 * KB)})

    async def chunks():
        for _ in range(6):
            yield os.urandom(50 * KB)

    resp = await api.patch(resp.headers["Location"], data=chunks(), headers={**tus_headers, "Upload-Offset": "0"})
    assert resp.status == 413 and (await resp.json())["errorCode"] == "QuotaExceeded"
    assert await held(api, "acme") == 900 * KB


async def test_file_service_parts_and_tus_count_too(api):
    # Given acme storing a 400 kB version in the file service
    base = "/api_gateway/file-service/docs/a.bin"
    resp = await api.post(base, data=os.urandom(400 * KB), headers=ACME)
    assert resp.status == 200
    assert await held(api, "acme") == 400 * KB
    # and a tus upload of 400 kB, in two chunks (its bytes count as they arrive, then as its work file)
    resp = await api.post("/tus/files", headers={**ACME, "Tus-Resumable": "1.0.0", "Upload-Length": str(400 * KB)})
    tus = resp.headers["Location"]
    data = os.urandom(400 * KB)
    tus_headers = {**ACME, "Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"}
    resp = await api.patch(tus, data=data[: 150 * KB], headers={**tus_headers, "Upload-Offset": "0"})
    assert resp.status == 204
    assert await held(api, "acme") == 550 * KB
    resp = await api.patch(tus, data=data[150 * KB :], headers={**tus_headers, "Upload-Offset": str(150 * KB)})
    assert resp.status == 204 and resp.headers["Pagemill-File-Id"]
    assert await held(api, "acme") == 800 * KB
    # When a part of an upload session would cross the quota, Then it is 413 QuotaExceeded and not kept
    session = (await (await api.post("/PCCIS/V1/WorkFile/UploadSession", json={}, headers=ACME)).json())["session"]
    part = f"/PCCIS/V1/WorkFile/UploadSession/{session['id']}"
    resp = await api.put(
        part, data=os.urandom(150 * KB), headers={**ACME, "Content-Range": f"bytes 0-{150 * KB - 1}/*"}
    )
    assert resp.status == 200
    assert await held(api, "acme") == 950 * KB
    resp = await api.put(
        part, data=os.urandom(100 * KB), headers={**ACME, "Content-Range": f"bytes {150 * KB}-{250 * KB - 1}/*"}
    )
    assert resp.status == 413 and (await resp.json())["errorCode"] == "QuotaExceeded"
    assert await held(api, "acme") == 950 * KB  # the part that broke through was dropped, the first part stays
    # and so is a tus chunk, with tus's headers
    resp = await api.post("/tus/files", headers={**ACME, "Tus-Resumable": "1.0.0", "Upload-Length": str(200 * KB)})
    other = resp.headers["Location"]
    resp = await api.patch(other, data=os.urandom(200 * KB), headers={**tus_headers, "Upload-Offset": "0"})
    assert resp.status == 413 and resp.headers["Tus-Resumable"] == "1.0.0"
    assert (await resp.json())["errorCode"] == "QuotaExceeded"
    assert (await api.head(other, headers={**ACME, "Tus-Resumable": "1.0.0"})).headers["Upload-Offset"] == "0"
    assert await held(api, "acme") == 950 * KB
    # When the file-service version and the upload session are deleted, Then their bytes are given back
    assert (await api.delete(base, headers=ACME)).status == 200
    assert (await api.delete(part, headers=ACME)).status == 200
    assert await held(api, "acme") == 400 * KB  # the finished tus upload's work file
    # and the other tus upload's chunk fits now
    resp = await api.patch(other, data=os.urandom(200 * KB), headers={**tus_headers, "Upload-Offset": "0"})
    assert resp.status == 204
    assert await held(api, "acme") == 600 * KB


async def test_concurrent_charges_never_overshoot(redis_url):
    # Given a quota of 1 MB and 200 objects of 10 kB charged at once by many clients
    from core.queue import connect_redis

    redis = await connect_redis(Settings(redis_url=redis_url))
    try:
        quota = Quota(redis, LIMIT)
        outcomes = await asyncio.gather(
            *(quota.charge("acme", f"wf/obj{i}", 10 * KB) for i in range(200)), return_exceptions=True
        )
        # Then exactly 100 fit and the total is exact
        assert sum(1 for o in outcomes if o == 10 * KB) == 100
        assert all(type(o).__name__ == "QuotaExceeded" for o in outcomes if o != 10 * KB)
        assert await quota.held("acme") == LIMIT
        # and charging an object again with its size (a job that runs twice) counts it once
        granted = [i for i, o in enumerate(outcomes) if o == 10 * KB]
        await asyncio.gather(*(quota.charge("acme", f"wf/obj{i}", 10 * KB) for i in granted))
        assert await quota.held("acme") == LIMIT
        # and releasing them all, twice over, brings it to zero, not below
        await asyncio.gather(*(quota.release(f"wf/obj{i}") for i in range(200)), quota.release("wf/obj0"))
        assert await quota.held("acme") == 0
    finally:
        await redis.aclose()


async def test_concurrent_uploads_never_overshoot(api):
    # When ten 300 kB uploads of one tenant race for a 1 MB quota
    async def one() -> int:
        resp = await api.post("/PCCIS/V1/WorkFile?FileExtension=bin", data=os.urandom(300 * KB), headers=ACME)
        return resp.status

    statuses = await asyncio.gather(*(one() for _ in range(10)))
    # Then (each reserving its Content-Length first) three succeed, the others are QuotaExceeded, and the count
    # is exactly what is stored
    ok = statuses.count(200)
    assert ok == 3 and statuses.count(413) == 7, statuses
    assert await held(api, "acme") == ok * 300 * KB
    assert len(stored_files(api)) == ok and scratch_files(api) == []


async def test_expired_files_and_uploads_give_their_bytes_back(aiohttp_client, env):
    settings = Settings.from_env(quota_env(env, PAGEMILL_WORKFILE_LIFETIME_S="1", PAGEMILL_UPLOAD_LIFETIME_S="1"))
    api = await aiohttp_client(create_app(settings))
    # Given a work file and an unfinished upload session of acme, and a reservation whose front door died
    assert (
        await api.post("/PCCIS/V1/WorkFile?FileExtension=bin", data=os.urandom(300 * KB), headers=ACME)
    ).status == 200
    session = (await (await api.post("/PCCIS/V1/WorkFile/UploadSession", json={}, headers=ACME)).json())["session"]
    resp = await api.put(
        f"/PCCIS/V1/WorkFile/UploadSession/{session['id']}",
        data=os.urandom(200 * KB),
        headers={**ACME, "Content-Range": f"bytes 0-{200 * KB - 1}/*"},
    )
    assert resp.status == 200
    await api.app[keys.QUOTA].charge("acme", "tmp:dead-front-door", 100 * KB, lease_s=0.5)
    assert await held(api, "acme") == 600 * KB
    # When they expire and the sweeper runs
    await asyncio.sleep(1.2)
    await sweep.sweep_expired(sweep_ctx(api))
    # Then every byte is given back
    assert await held(api, "acme") == 0
    assert not (settings.storage_dir / "objects" / partial_key(session["id"])).exists()


async def test_worker_outputs_count_once_and_end_the_process_when_they_cross(aiohttp_client, env):
    pdf = text_pdf(6)
    # Given room for the source and two rendered pages (of about 200 kB each) but not six
    settings = Settings.from_env(quota_env(env, limit=len(pdf) + 500 * KB))
    api = await aiohttp_client(create_app(settings))
    source = (await (await api.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=pdf, headers=ACME)).json())["fileId"]
    body = {"input": {"sources": [{"fileId": source}], "dest": {"format": "png"}}}
    resp = await api.post("/v2/contentConverters", json=body, headers=ACME)
    pid = (await resp.json())["processId"]
    # When a worker renders it
    w = WorkerGroup(settings, burst=True)
    await w.start()
    try:
        await w.run()
        # Then the process ends in error with QuotaExceeded and a message
        final = await (await api.get(f"/v2/contentConverters/{pid}", headers=ACME)).json()
        assert final["state"] == "error" and final["errorCode"] == "QuotaExceeded", final
        assert "quota" in final["message"]
        # and the pages that fitted are deleted by its clean-up job (run in the same burst) and given back:
        # only the source stays, counted once
        assert await held(api, "acme") == len(pdf)
        assert len(stored_files(settings)) == 1
    finally:
        await w.close()


async def test_a_redelivered_job_does_not_count_its_output_twice(aiohttp_client, env):
    settings = Settings.from_env(quota_env(env, limit=100_000 * KB))
    api = await aiohttp_client(create_app(settings))
    w = WorkerGroup(settings, burst=True)
    # Given a completed png conversion of 6 pages
    source = await (await api.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(6), headers=ACME)).json()
    started = await (
        await api.post(
            "/v2/contentConverters",
            json={"input": {"sources": [{"fileId": source["fileId"]}], "dest": {"format": "png"}}},
            headers=ACME,
        )
    ).json()
    pid = started["processId"]
    await w.start()
    try:
        await w.run()
        final = await (await api.get(f"/v2/contentConverters/{pid}", headers=ACME)).json()
        assert final["state"] == "complete"
        sizes = [
            (await (await api.get(f"/PCCIS/V1/WorkFile/{r['fileId']}/Info", headers=ACME)).json())["size"]
            for r in final["output"]["results"]
        ]
        counted = await held(api, "acme")
        assert counted == len(text_pdf(6)) + sum(sizes)
        # When the last chunk's job is delivered again after its worker stored a page but died before recording it
        redis = api.app[keys.REDIS]
        await redis.hset(f"pm:proc:{pid}", mapping={"state": "processing"})
        await redis.hdel(f"pm:proc:{pid}:units", "5")
        assert await conversions.render_chunk({**w.ctx, "job_try": 2}, pid, 1, 0) == "rendered"
        # Then the page is stored again under the same id and counted once
        assert await held(api, "acme") == counted
    finally:
        await w.close()


async def test_a_fetched_viewing_source_counts_and_is_refused_past_the_quota(aiohttp_client, env, tmp_path):
    # Given a file source root holding a small and a large document, and a quota between the two
    root = tmp_path / "docs"
    root.mkdir()
    (root / "small.pdf").write_bytes(text_pdf(1))
    (root / "large.pdf").write_bytes(text_pdf(1) + b"%" + os.urandom(300 * KB))
    settings = Settings.from_env(quota_env(env, limit=200 * KB, PAGEMILL_FILE_SOURCE_ROOT=str(root)))
    api = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        for name, expected in (("small.pdf", 200), ("large.pdf", 580)):
            resp = await api.post(
                "/PCCIS/V1/ViewingSession", json={"documentSource": "file", "externalId": name}, headers=ACME
            )
            sid = (await resp.json())["viewingSessionId"]
            # When a page is asked for, Then the small one is fetched and counted, the large one refused
            resp = await api.get(f"/PCCIS/V1/Page/q/0?DocumentID=u{sid}", headers=ACME)
            assert resp.status == expected, name
            if expected != 200:
                assert (await resp.json())["errorCode"] == "QuotaExceeded"
    assert await held(api, "acme") == len(text_pdf(1))
    assert len([p for p in stored_files(settings) if p.parts[-3] == "wf"]) == 1


@pytest.mark.skipif(find_engine() is None, reason="LibreOffice is not installed")
async def test_an_office_sources_pdf_counts_and_is_refused_past_the_quota(aiohttp_client, env):
    text = b"A few words of plain text, turned into a PDF by LibreOffice.\n"
    # Given room for the text file but not for the PDF LibreOffice makes of it (a few kB)
    settings = Settings.from_env(quota_env(env, limit=len(text) + 500))
    api = await aiohttp_client(create_app(settings))
    source = await (await api.post("/PCCIS/V1/WorkFile?FileExtension=txt", data=text, headers=ACME)).json()
    body = {"input": {"sources": [{"fileId": source["fileId"]}], "dest": {"format": "pdf"}}}
    pid = (await (await api.post("/v2/contentConverters", json=body, headers=ACME)).json())["processId"]
    async with running_worker(settings):
        for _ in range(900):
            final = await (await api.get(f"/v2/contentConverters/{pid}", headers=ACME)).json()
            if final["state"] != "processing":
                break
            await asyncio.sleep(0.1)
    # Then the conversion fails naming the quota, and only the text file is held
    assert final["state"] == "error", final
    assert final["output"]["results"][0]["errorCode"] == "QuotaExceeded", final
    assert await held(api, "acme") == len(text)
    assert len(stored_files(settings)) == 1


async def test_redaction_outputs_count_and_one_that_does_not_fit_ends_the_process(aiohttp_client, env):
    pdf = contacts_pdf()
    settings = Settings.from_env(quota_env(env, limit=100_000 * KB))
    api = await aiohttp_client(create_app(settings))
    source = (await (await api.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=pdf, headers=ACME)).json())["fileId"]
    rules = [{"find": {"type": "regex", "pattern": r"\d{3}-\d{2}-\d{4}"}, "redactWith": {"type": "RectangleRedaction"}}]

    async def run(path: str, body: dict, worker_settings: Settings = settings) -> dict:
        resp = await api.post(path, json={"input": body}, headers=ACME)
        assert resp.status == 200, await resp.text()
        pid = (await resp.json())["processId"]
        w = WorkerGroup(worker_settings, burst=True)
        await w.start()
        try:
            await w.run()
        finally:
            await w.close()
        return await (await api.get(f"{path}/{pid}", headers=ACME)).json()

    async def size(file_id: str) -> int:
        return (await (await api.get(f"/PCCIS/V1/WorkFile/{file_id}/Info", headers=ACME)).json())["size"]

    # Given a markup made by a redaction creator, a burned PDF and a plain-text redaction: each counts
    created = await run("/v2/redactionCreators", {"source": {"fileId": source}, "rules": rules})
    markup = created["output"]["markupFileId"]
    assert await held(api, "acme") == len(pdf) + await size(markup)
    burned = await run("/PCCIS/V1/MarkupBurner", {"documentFileId": source, "markupFileId": markup})
    text = await run(
        "/v2/plainTextRedactors",
        {"source": {"fileId": source}, "markup": {"fileId": markup}, "dest": {"lineEndings": "\n"}},
    )
    outputs = [markup, burned["output"]["documentFileId"], text["output"]["fileId"]]
    counted = len(pdf) + sum([await size(f) for f in outputs])
    assert await held(api, "acme") == counted
    # When the tenant's quota leaves less room than a burned PDF takes
    tight = replace(settings, tenant_max_bytes=counted + 1000)
    again = await run("/PCCIS/V1/MarkupBurner", {"documentFileId": source, "markupFileId": markup}, tight)
    # Then the burn ends in QuotaExceeded, its page files are gone and nothing more is counted
    assert again["state"] == "error" and again["errorCode"] == "QuotaExceeded", again
    assert await held(api, "acme") == counted
    assert len(stored_files(settings)) == 1 + len(outputs)
