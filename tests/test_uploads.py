"""Large uploads: sessions by parts (pagemill's and the seed's routes) and tus 1.0.0 with tuspy."""

import asyncio
import base64
import hashlib
import io
import os
from urllib.parse import urlsplit

import pytest
from tusclient import client as tus_client
from tusclient.uploader import AsyncUploader, Uploader

from core.settings import Settings
from service import keys
from service.app import create_app
from service.uploads import partial_key
from tests.docgen import text_pdf
from workers.jobs import sweep

NATIVE = "/PCCIS/V1/WorkFile/UploadSession"
SEED = "/archives/ARC1/entities/H:42/create_sessions"


async def put_part(client, base, upload_id, data: bytes, start: int, total: int | None = None, rng: str | None = None):
    end = start + len(data) - 1
    headers = {"Content-Range": rng or (f"bytes {start}-{end}/{total}" if total else f"{start}-{end}")}
    return await client.put(f"{base}/{upload_id}", data=data, headers=headers)


async def work_file_count(client) -> int:
    return len([k async for k in client.app[keys.REDIS].scan_iter("pm:wf:*")])


async def test_parts_upload_save_and_download(client):
    data = text_pdf(30)
    resp = await client.post(NATIVE, json={"content_type": "application/pdf", "filename": "big.pdf"})
    upload_id = (await resp.json())["session"]["id"]
    size = len(data)
    step = size // 3 + 1
    for start in range(0, size, step):
        resp = await put_part(client, NATIVE, upload_id, data[start : start + step], start, size)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["offset"] == min(size, start + step)
    assert await work_file_count(client) == 0  # a half-finished upload is never a work file
    resp = await client.post(f"{NATIVE}/{upload_id}/save", json={"description": "quarterly"})
    obj = (await resp.json())["object"]
    assert obj["size"] == size and obj["extension"] == "pdf" and obj["fileExtension"] == "pdf"
    assert obj["description"] == "quarterly" and obj["content_type"] == "application/pdf"
    assert obj["sha256"] == hashlib.sha256(data).hexdigest()
    for name in (
        "container_id",
        "id",
        "created",
        "accessed",
        "modified",
        "effective_rights",
        "child_count",
        "signed",
        "indexed",
        "parent_id",
        "fileId",
        "affinityToken",
    ):
        assert name in obj
    resp = await client.get(f"/PCCIS/V1/WorkFile/{obj['fileId']}")
    assert await resp.read() == data
    # the session is removed after a successful save
    assert (await put_part(client, NATIVE, upload_id, b"x", size)).status == 404


async def test_parts_are_strictly_sequential(client, settings):
    resp = await client.post(NATIVE, json={"content_type": "application/octet-stream"})
    upload_id = (await resp.json())["session"]["id"]
    a, b, c = os.urandom(100), os.urandom(100), os.urandom(50)
    # out of order: the second part first
    resp = await put_part(client, NATIVE, upload_id, b, 100)
    assert resp.status == 409
    body = await resp.json()
    assert body["errorCode"] == "PartGap" and body["errorDetails"]["expected"] == {"offset": 0}
    assert (await put_part(client, NATIVE, upload_id, a, 0)).status == 200
    # an idempotent re-send of the last part is accepted and changes nothing
    resp = await put_part(client, NATIVE, upload_id, a, 0)
    assert resp.status == 200 and (await resp.json())["offset"] == 100
    # the same range with other bytes is a conflict
    resp = await put_part(client, NATIVE, upload_id, os.urandom(100), 0)
    assert resp.status == 409 and (await resp.json())["errorCode"] == "PartConflict"
    # overlap and gap
    resp = await put_part(client, NATIVE, upload_id, b, 50)
    assert resp.status == 409 and (await resp.json())["errorCode"] == "PartOverlap"
    resp = await put_part(client, NATIVE, upload_id, b, 150)
    assert resp.status == 409 and (await resp.json())["errorCode"] == "PartGap"
    # wrong lengths and malformed ranges
    resp = await client.put(f"{NATIVE}/{upload_id}", data=b, headers={"Content-Range": "100-149"})
    assert resp.status == 400 and (await resp.json())["errorCode"] == "ContentLengthMismatch"
    for bad in ("", "bytes=100-199", "100-", "199-100", "bytes 100-199/150"):
        resp = await client.put(f"{NATIVE}/{upload_id}", data=b, headers={"Content-Range": bad})
        assert resp.status == 400, bad
        assert (await resp.json())["errorCode"] == "InvalidContentRange"
    assert (await put_part(client, NATIVE, upload_id, b, 100, 250)).status == 200
    resp = await client.post(f"{NATIVE}/{upload_id}/save")
    assert resp.status == 409 and (await resp.json())["errorCode"] == "UploadIncomplete"
    assert (await put_part(client, NATIVE, upload_id, c, 200, 250)).status == 200
    resp = await client.post(f"{NATIVE}/{upload_id}/save")
    file_id = (await resp.json())["object"]["fileId"]
    assert await (await client.get(f"/PCCIS/V1/WorkFile/{file_id}")).read() == a + b + c
    # the parts were joined into the work file and are gone
    assert not (settings.storage_dir / "objects" / partial_key(upload_id)).exists()


async def save_survives_a_crash_after_joining(client) -> None:
    """The process dies after the parts became the work file's bytes but before the work file was
    recorded: saving again must give that work file, not lose the upload."""
    data = os.urandom(150_000)
    upload_id = (await (await client.post(NATIVE, json={})).json())["session"]["id"]
    assert (await put_part(client, NATIVE, upload_id, data[:100_000], 0)).status == 200
    assert (await put_part(client, NATIVE, upload_id, data[100_000:], 100_000, len(data))).status == 200
    store = client.app[keys.STORE]
    real_put = store.put_workfile

    async def crash(wf):
        store.put_workfile = real_put
        raise RuntimeError("killed")

    store.put_workfile = crash
    assert (await client.post(f"{NATIVE}/{upload_id}/save")).status == 580
    resp = await client.post(f"{NATIVE}/{upload_id}/save")
    assert resp.status == 200, await resp.text()
    saved = (await resp.json())["object"]
    assert saved["size"] == len(data) and saved["sha256"] == hashlib.sha256(data).hexdigest()
    assert await (await client.get(f"/PCCIS/V1/WorkFile/{saved['fileId']}")).read() == data


async def test_save_survives_a_crash_after_joining(client, settings):
    await save_survives_a_crash_after_joining(client)
    assert not list((settings.storage_dir / "objects" / "uploads").iterdir())


async def test_cancel_frees_the_bytes(client, settings):
    resp = await client.post(NATIVE, json={})
    upload_id = (await resp.json())["session"]["id"]
    assert (await put_part(client, NATIVE, upload_id, os.urandom(1000), 0)).status == 200
    partial = settings.storage_dir / "objects" / partial_key(upload_id)
    assert sum(p.stat().st_size for p in partial.iterdir()) == 1000
    resp = await client.delete(f"{NATIVE}/{upload_id}")
    assert resp.status == 200
    assert not partial.exists()
    assert (await put_part(client, NATIVE, upload_id, b"x", 1000)).status == 404


async def test_upload_size_is_capped(aiohttp_client, env):
    client = await aiohttp_client(create_app(Settings.from_env({**env, "PAGEMILL_MAX_UPLOAD_BYTES": "1000"})))
    upload_id = (await (await client.post(NATIVE, json={})).json())["session"]["id"]
    assert (await put_part(client, NATIVE, upload_id, os.urandom(600), 0)).status == 200
    resp = await put_part(client, NATIVE, upload_id, os.urandom(600), 600)
    assert resp.status == 413


async def test_abandoned_uploads_expire_and_their_bytes_are_swept(aiohttp_client, env):
    settings = Settings.from_env({**env, "PAGEMILL_UPLOAD_LIFETIME_S": "1"})
    client = await aiohttp_client(create_app(settings))
    upload_id = (await (await client.post(NATIVE, json={})).json())["session"]["id"]
    assert (await put_part(client, NATIVE, upload_id, os.urandom(500), 0)).status == 200
    await asyncio.sleep(1.2)
    assert (await put_part(client, NATIVE, upload_id, b"x", 500)).status == 404
    ctx = {
        "store": client.app[keys.STORE],
        "storage": client.app[keys.STORAGE],
        "settings": settings,
        "quota": client.app[keys.QUOTA],
    }
    assert await sweep.sweep_expired(ctx) >= 1
    assert not (settings.storage_dir / "objects" / partial_key(upload_id)).exists()


async def test_seed_route_shape(client):
    headers = {"Authorization": "Bearer session-token"}
    resp = await client.post(f"{SEED}.json", json={"content_type": "audio/wav"}, headers=headers)
    assert resp.status == 200
    session = await resp.json()
    upload_id = session["session"]["id"]
    assert list(session) == ["session"]
    wav = b"RIFF" + os.urandom(400)
    resp = await client.put(f"{SEED}/{upload_id}", data=wav[:200], headers={**headers, "content-range": "0-199"})
    assert (await resp.json())["session"] == {"id": upload_id}
    resp = await client.put(
        f"{SEED}/{upload_id}", data=wav[200:], headers={**headers, "content-range": f"200-{len(wav) - 1}"}
    )
    assert resp.status == 200
    # the session belongs to its archive and entity
    assert (await client.post(f"/archives/ARC1/entities/H:43/create_sessions/{upload_id}/save.json")).status == 404
    resp = await client.post(
        f"{SEED}/{upload_id}/save.json", json={"description": "", "container_id": ""}, headers=headers
    )
    obj = (await resp.json())["object"]
    assert obj["size"] == len(wav) and obj["content_type"] == "audio/wav" and obj["extension"] == "wav"
    assert obj["parent_id"] == "42"
    assert obj["effective_rights"] == {
        "create_access": True,
        "delete_access": True,
        "read_access": True,
        "write_access": True,
    }
    other = (await (await client.post(f"{SEED}.json", json={"content_type": "audio/wav"})).json())["session"]["id"]
    resp = await client.delete(f"{SEED}/{other}.json", headers=headers)
    assert resp.status == 200


# --- tus -----------------------------------------------------------------------------------
TUS = "/tus/files"
V = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
async def server(aiohttp_server, settings):
    return await aiohttp_server(create_app(settings))


def offset_headers(offset: int, **extra: str) -> dict[str, str]:
    """A tus PATCH's headers."""
    return {**V, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **extra}


async def head_of(client, location):
    return await client.head(location, headers=V)


async def test_tuspy_sync_uploader_with_checksums_and_metadata(server, client):
    data = text_pdf(40)
    url = str(server.make_url(TUS))
    uploader = Uploader(
        file_stream=io.BytesIO(data), client=tus_client.TusClient(url), chunk_size=16 * 1024,
        metadata={"filename": "report.pdf", "filetype": "application/pdf"}, upload_checksum=True,
    )  # fmt: skip
    await asyncio.to_thread(uploader.upload)
    resp = await client.head(urlsplit(uploader.url).path, headers=V)
    file_id = resp.headers["Pagemill-File-Id"]
    info = await (await client.get(f"/PCCIS/V1/WorkFile/{file_id}/Info")).json()
    assert info["size"] == len(data) and info["fileExtension"] == "pdf"
    resp = await client.get(f"/PCCIS/V1/WorkFile/{file_id}")
    assert await resp.read() == data


async def test_tuspy_async_uploader(server, client):
    data = os.urandom(300_000)
    url = str(server.make_url(TUS))
    uploader = AsyncUploader(
        file_stream=io.BytesIO(data),
        client=tus_client.TusClient(url),
        chunk_size=64 * 1024,
        metadata={"filename": "blob.bin"},
    )
    await uploader.upload()
    status = await (await client.get(urlsplit(uploader.url).path)).json()
    assert status["offset"] == status["length"] == len(data)
    assert await (await client.get(f"/PCCIS/V1/WorkFile/{status['fileId']}")).read() == data


async def cutting_proxy(target_port: int, cut_after: int):
    """A TCP proxy that aborts the first connection once it has forwarded `cut_after` request bytes."""
    state = {"cut": False}

    async def handle(reader, writer):
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        cut_this = not state["cut"]

        async def client_to_server():
            sent = 0
            while chunk := await reader.read(65536):
                if cut_this and not state["cut"] and sent + len(chunk) > cut_after:
                    upstream_writer.write(chunk[: cut_after - sent])
                    await upstream_writer.drain()
                    state["cut"] = True
                    upstream_writer.transport.abort()
                    writer.transport.abort()
                    return
                sent += len(chunk)
                upstream_writer.write(chunk)
                await upstream_writer.drain()
            upstream_writer.close()

        async def server_to_client():
            while chunk := await upstream_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
            writer.close()

        await asyncio.gather(client_to_server(), server_to_client(), return_exceptions=True)

    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    return proxy, proxy.sockets[0].getsockname()[1], state


async def test_tuspy_resumes_after_a_cut_connection(server, client):
    data = os.urandom(3_000_000)
    proxy, port, state = await cutting_proxy(server.port, cut_after=1_200_000)
    try:
        url = f"http://127.0.0.1:{port}{TUS}"
        uploader = Uploader(
            file_stream=io.BytesIO(data),
            client=tus_client.TusClient(url),
            chunk_size=len(data),
            retries=3,
            retry_delay=0,
        )
        await asyncio.to_thread(uploader.upload)
    finally:
        proxy.close()
        await proxy.wait_closed()
    assert state["cut"], "the proxy never cut the connection"
    status = await (await client.get(urlsplit(uploader.url).path)).json()
    assert status["offset"] == len(data)
    assert await (await client.get(f"/PCCIS/V1/WorkFile/{status['fileId']}")).read() == data


async def test_tus_protocol_details(client, settings):
    resp = await client.options(TUS)
    assert resp.status == 204
    assert resp.headers["Tus-Version"] == "1.0.0"
    assert set(resp.headers["Tus-Extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "expiration",
        "checksum",
        "termination",
    }
    assert resp.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"
    assert int(resp.headers["Tus-Max-Size"]) == settings.max_upload_bytes
    # version check
    resp = await client.post(TUS, headers={"Upload-Length": "10", "Tus-Resumable": "0.2.2"})
    assert resp.status == 412 and resp.headers["Tus-Version"] == "1.0.0"
    # creation with metadata
    meta = "filename " + base64.b64encode("naïve.txt".encode()).decode() + ",flag"
    resp = await client.post(TUS, headers={**V, "Upload-Length": "10", "Upload-Metadata": meta})
    assert resp.status == 201 and resp.headers["Upload-Expires"].endswith("GMT")
    location = resp.headers["Location"]
    head = await head_of(client, location)
    assert head.headers["Upload-Offset"] == "0" and head.headers["Upload-Length"] == "10"
    assert head.headers["Upload-Metadata"] == meta and head.headers["Cache-Control"] == "no-store"
    # wrong content type, wrong offset
    resp = await client.patch(
        location, data=b"01234", headers={**V, "Upload-Offset": "0", "Content-Type": "text/plain"}
    )
    assert resp.status == 415
    resp = await client.patch(location, data=b"01234", headers=offset_headers(3))
    assert resp.status == 409
    # checksum mismatch: 460 and the chunk is discarded
    bad = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    resp = await client.patch(
        location,
        data=b"01234",
        headers=offset_headers(0, **{"Upload-Checksum": f"sha1 {bad}"}),
    )
    assert resp.status == 460
    assert (await head_of(client, location)).headers["Upload-Offset"] == "0"
    resp = await client.patch(
        location,
        data=b"01234",
        headers=offset_headers(0, **{"Upload-Checksum": "md5 AAAA"}),
    )
    assert resp.status == 400
    good = base64.b64encode(hashlib.sha256(b"01234").digest()).decode()
    resp = await client.patch(
        location,
        data=b"01234",
        headers=offset_headers(0, **{"Upload-Checksum": f"sha256 {good}"}),
    )
    assert resp.status == 204 and resp.headers["Upload-Offset"] == "5"
    # past the declared length
    resp = await client.patch(location, data=b"56789X", headers=offset_headers(5))
    assert resp.status == 413
    resp = await client.patch(location, data=b"56789", headers=offset_headers(5))
    assert resp.status == 204 and "Pagemill-File-Id" in resp.headers
    info = await (await client.get(f"/PCCIS/V1/WorkFile/{resp.headers['Pagemill-File-Id']}/Info")).json()
    assert info["size"] == 10
    # too large, missing length
    resp = await client.post(TUS, headers={**V, "Upload-Length": str(settings.max_upload_bytes + 1)})
    assert resp.status == 413
    resp = await client.post(TUS, headers={**V, "Upload-Defer-Length": "1"})
    assert resp.status == 400


async def test_tus_creation_with_upload_and_termination(client, settings):
    body = b"%PDF-1.4 not really"
    resp = await client.post(
        TUS,
        data=body,
        headers={**V, "Upload-Length": str(len(body)), "Content-Type": "application/offset+octet-stream"},
    )
    assert resp.status == 201 and resp.headers["Upload-Offset"] == str(len(body))
    assert "Pagemill-File-Id" in resp.headers
    resp = await client.post(
        TUS, data=b"abc", headers={**V, "Upload-Length": "10", "Content-Type": "application/offset+octet-stream"}
    )
    location = resp.headers["Location"]
    assert resp.headers["Upload-Offset"] == "3"
    resp = await client.delete(location, headers=V)
    assert resp.status == 204
    assert (await head_of(client, location)).status == 404
    upload_id = location.rsplit("/", 1)[1]
    assert not (settings.storage_dir / "objects" / partial_key(upload_id)).exists()


async def test_tus_expired_upload_is_410(aiohttp_client, env):
    client = await aiohttp_client(create_app(Settings.from_env({**env, "PAGEMILL_UPLOAD_LIFETIME_S": "1"})))
    resp = await client.post(TUS, headers={**V, "Upload-Length": "10"})
    location = resp.headers["Location"]
    await asyncio.sleep(1.2)
    assert (await head_of(client, location)).status == 410
    resp = await client.patch(location, data=b"0", headers=offset_headers(0))
    assert resp.status == 410


async def test_tus_lock_is_shared_by_front_doors(aiohttp_client, settings):
    # two front doors on the same Redis and storage: a write in progress on one blocks the other
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings))
    location = (await first.post(TUS, headers={**V, "Upload-Length": "4"})).headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    async with first.app[keys.UPLOADS].locked(upload_id):
        resp = await second.patch(
            location,
            data=b"abcd",
            headers=offset_headers(0),
        )
        assert resp.status == 423
    resp = await second.patch(location, data=b"abcd", headers=offset_headers(0))
    assert resp.status == 204
    assert (await head_of(first, location)).headers["Upload-Offset"] == "4"


async def test_a_session_cannot_be_deleted_under_a_part_being_written(client):
    # Given a part that is being written (its body arrives slowly)
    upload_id = (await (await client.post(NATIVE, json={})).json())["session"]["id"]
    go_on = asyncio.Event()

    async def slow_body():
        yield b"a" * 10
        await go_on.wait()
        yield b"b" * 10

    headers = {"Content-Range": "bytes 0-19/20", "Content-Length": "20"}
    put = asyncio.create_task(client.put(f"{NATIVE}/{upload_id}", data=slow_body(), headers=headers))
    await asyncio.sleep(0.3)
    # When the session is deleted meanwhile, that is a conflict, and the part completes
    resp = await client.delete(f"{NATIVE}/{upload_id}")
    assert resp.status == 409 and (await resp.json())["errorCode"] == "UploadBusy"
    go_on.set()
    assert (await put).status == 200
    # Then a delete afterwards removes it for good
    assert (await client.delete(f"{NATIVE}/{upload_id}")).status == 200
    resp = await client.put(f"{NATIVE}/{upload_id}", data=b"x", headers={"Content-Range": "bytes 20-20/21"})
    assert resp.status == 404
