"""Hostile inputs end in precise errors with bounded work: huge page ranges, oversized numbers, bombs."""

import asyncio
import io
import time

import pytest
from aiohttp import ClientSession
from PIL import Image

from core import keyspace
from core.errors import DocumentError
from core.settings import Settings
from service import keys
from service.app import create_app
from tests.conftest import running_worker
from tests.docgen import text_pdf
from tests.helpers import convert, poll, upload
from workers.render.document import open_document
from workers.render.page import render_page
from workers.render.spec import RenderSpec


async def test_a_huge_page_range_is_resolved_against_the_real_page_count(client, worker):
    # Given a 4-page PDF and a range of almost a billion pages, as one result and as one file per page
    wf = await upload(client, text_pdf(4), "pdf")
    for dest in ({"format": "tiff"}, {"format": "pdf", "pdfOptions": {"forceOneFilePerPage": True}}):
        started = time.monotonic()
        body = {"input": {"sources": [{"fileId": wf["fileId"], "pages": "2-999999999"}], "dest": dest}}
        final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1, timeout_s=30)
        # Then it ends at once, naming the missing span once instead of materialising it
        assert time.monotonic() - started < 15
        results = final["output"]["results"]
        missing = [r for r in results if r.get("errorCode") == "NoSuchPage"]
        assert [s["pages"] for r in missing for s in r["sources"]] == ["5-999999999"], results
        if dest["format"] == "pdf":
            assert [r["pageCount"] for r in results if "fileId" in r] == [1, 1, 1]


async def test_page_numbers_longer_than_nine_digits_are_a_syntax_error(client):
    wf = await upload(client, text_pdf(1), "pdf")
    for pages in ("1-" + "9" * 10, "9" * 5000, "1-" + "9" * 5000):
        body = {"input": {"sources": [{"fileId": wf["fileId"], "pages": pages}], "dest": {"format": "tiff"}}}
        resp = await client.post("/v2/contentConverters", json=body)
        assert resp.status == 480, pages[:20]
        error = await resp.json()
        # a number too long for a page is bad syntax; a value too long for the field is invalid input there
        assert error["errorCode"] == ("InvalidPageSyntax" if len(pages) < 1000 else "InvalidInput")
        assert error["errorDetails"]["at"] == "input.sources[0].pages"


def two_frame_tiff(second: tuple[int, int]) -> bytes:
    """A TIFF whose first frame is tiny and whose second is `second` pixels (the limit is per frame)."""
    first = Image.new("RGB", (1, 1), "white")
    buf = io.BytesIO()
    first.save(buf, "TIFF", save_all=True, append_images=[Image.new("L", second, 255)], compression="tiff_deflate")
    return buf.getvalue()


def test_every_tiff_frame_is_held_to_the_pixel_limit(tmp_path):
    path = tmp_path / "bomb.tif"
    path.write_bytes(two_frame_tiff((1000, 1000)))
    doc = open_document(str(path), "tif", None, max_image_pixels=100_000)  # the first frame is fine
    render_page(doc, 0, RenderSpec("png"), str(tmp_path / "0.png"))
    with pytest.raises(DocumentError) as caught:
        render_page(doc, 1, RenderSpec("png"), str(tmp_path / "1.png"))
    doc.close()
    assert caught.value.code == "ImageTooLarge"
    assert not (tmp_path / "1.png").exists()


async def test_a_tiff_with_an_oversized_frame_ends_promptly(aiohttp_client, env):
    settings = Settings.from_env({**env, "PAGEMILL_MAX_IMAGE_PIXELS": "100000"})
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        wf = await upload(client, two_frame_tiff((1000, 1000)), "tif")
        body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}}
        final = await poll(client, (await convert(client, body))["processId"], interval_s=0.1, timeout_s=30)
    assert final["state"] == "complete"
    assert [r.get("errorCode") for r in final["output"]["results"]] == [None, "ImageTooLarge"]


async def test_numbers_of_any_length_in_queries_and_headers_are_client_errors(client):
    digits = "9" * 5000
    for method, path, headers in (
        ("GET", f"/api/QueuedJobs?page={digits}", {}),
        ("GET", f"/api/QueuedJobs?pageSize={digits}", {}),
        ("GET", f"/api/QueuedJobs/{digits}", {}),
        ("POST", "/tus/files", {"Tus-Resumable": "1.0.0", "Upload-Length": digits}),
    ):
        resp = await client.request(method, path, headers=headers)
        assert resp.status < 500, (path, headers, resp.status)


async def test_a_stop_message_with_line_breaks_cannot_break_later_responses(client):
    sid = (await (await client.post("/PCCIS/V1/ViewingSession", json={})).json())["viewingSessionId"]
    stop = {"endUserMessage": "gone\r\nSet-Cookie: evil=1\x00\u00e9", "httpStatus": 504}
    resp = await client.post(f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStopped", json=stop)
    assert resp.status in (200, 204)
    for _ in range(2):
        resp = await client.get(f"/PCCIS/V1/ViewingSession/u{sid}")
        assert resp.status == 504
        assert "Set-Cookie" not in resp.headers
        assert (
            "\r" not in resp.headers["Accusoft-Status-Message"] and "\n" not in resp.headers["Accusoft-Status-Message"]
        )
        assert (await resp.json())["message"] == stop["endUserMessage"]  # the body keeps the text as sent


async def test_viewing_sessions_hold_documents_to_the_page_limit(aiohttp_client, env):
    settings = Settings.from_env({**env, "PAGEMILL_MAX_PAGES": "3"})
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        sid = (await (await client.post("/PCCIS/V1/ViewingSession", json={})).json())["viewingSessionId"]
        resp = await client.put(f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension=pdf", data=text_pdf(5))
        assert resp.status == 200
        resp = await client.get("/PCCIS/V1/Page/q/0", params={"DocumentID": f"u{sid}"})
        assert resp.status == 580
        assert (await resp.json())["errorCode"] == "TooManyPages"
        assert resp.headers["Accusoft-Status-Number"] == "5016"
        # and nothing of it was queued for rendering: once the job that splits the document into page
        # jobs has run (it may still be running as the answer comes), the session enqueued no page job
        redis = client.app[keys.REDIS]
        for _ in range(100):
            if not [m async for m, _ in redis.zscan_iter("pagemill:batch", match="view:*")]:
                break
            await asyncio.sleep(0.05)
        assert [m async for m, _ in redis.zscan_iter("pagemill:batch", match="view:*")] == []
        enqueued = {m.decode() async for m in redis.sscan_iter(keyspace.session_jobs(sid))}
        assert not [j for j in enqueued if ":chunk:" in j], enqueued


async def test_a_body_that_stops_arriving_is_cut_off_and_leaves_nothing(aiohttp_server, env, capsys):
    # Given a front door that waits at most 1 s for the next bytes of a body
    settings = Settings.from_env({**env, "PAGEMILL_BODY_IDLE_TIMEOUT_S": "1"})
    server = await aiohttp_server(create_app(settings))
    for path in ("/PCCIS/V1/WorkFile?FileExtension=pdf", "/v2/contentConverters"):
        # When a client sends a few bytes of a longer body, then nothing
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n%PDF-1.4 ".encode())
        await writer.drain()
        started = time.monotonic()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        waited_s = time.monotonic() - started
        writer.close()
        # Then it gets 408 after about the idle time
        assert head.startswith(b"HTTP/1.1 408"), head
        assert 0.9 < waited_s < 5, waited_s
    # and nothing of the upload was kept
    assert not list((settings.storage_dir / "objects").rglob("*"))
    assert not list((settings.storage_dir / "tmp").glob("*"))
    # And a client that hangs up mid-body is an info line, not an error with a traceback
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /PCCIS/V1/WorkFile HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
    await writer.drain()
    writer.close()
    await asyncio.sleep(2)
    out = capsys.readouterr().out
    assert "client_disconnected" in out
    assert "unhandled_exception" not in out and "Traceback" not in out


async def test_the_keyless_info_route_does_not_name_the_host_unless_asked(aiohttp_client, env):
    import platform
    import socket

    for flag, shown in (("false", False), ("true", True)):
        client = await aiohttp_client(create_app(Settings.from_env({**env, "PAGEMILL_INFO_SHOWS_HOST": flag})))
        text = await (await client.get("/PCCIS/V1/Service/Current/Info")).text()
        assert (socket.gethostname() in text) is shown
        assert (platform.release() in text) is shown


async def test_text_that_is_not_utf8_is_a_client_error_everywhere(aiohttp_server, env):
    # Raw bytes on the wire (aiohttp's test client would encode them), on a server that needs keys
    settings = Settings.from_env({**env, "PAGEMILL_API_KEYS": "acme:acme-key-123"})
    server = await aiohttp_server(create_app(settings))

    async def raw(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()
        return head

    key = b"Acs-Api-Key: acme-key-123\r\n"
    for request in (
        b"GET /v2/contentConverters/x HTTP/1.1\r\nHost: x\r\nAcs-Api-Key: acme-key-\xe9\r\n\r\n",
        b"GET /v2/contentConverters/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xe9\xff\r\n\r\n",
        b"POST /v2/contentConverters HTTP/1.1\r\nHost: x\r\n"
        + key
        + b"Idempotency-Key: caf\xe9\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /tus/files HTTP/1.1\r\nHost: x\r\n"
        + key
        + b"Tus-Resumable: 1.0.0\r\nUpload-Length: 3\r\nUpload-Metadata: filename \xc3\xa9\r\n\r\n",
        b"GET /PCCIS/V1/Page/q/0?DocumentID=e%C3%A9 HTTP/1.1\r\nHost: x\r\n" + key + b"\r\n",
        b"GET /PCCIS/V1/Page/q/0?DocumentID=e%FF HTTP/1.1\r\nHost: x\r\n" + key + b"\r\n",
    ):
        status = int((await raw(request)).split(b" ", 2)[1])
        assert 400 <= status < 500, (request[:80], status)


async def test_broken_and_stalled_multipart_forms(aiohttp_server, env):
    settings = Settings.from_env({**env, "PAGEMILL_BODY_IDLE_TIMEOUT_S": "1"})
    server = await aiohttp_server(create_app(settings))
    head = b"POST /PCCIS/V1/WorkFile HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
    for body, complete in (
        (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a\rb.pdf"\r\n\r\n%PDF\r\n--XyZ--\r\n', True),
        (b"--XyZ\r\n", False),  # stops in the preamble
        (b'--XyZ\r\nContent-Disposition: form-data; name="junk"\r\n\r\nAAAA', False),  # stops in a skipped field
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        length = len(body) if complete else 1000
        writer.write(head + f"Content-Length: {length}\r\n\r\n".encode() + body)
        await writer.drain()
        status = int((await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).split(b" ", 2)[1])
        writer.close()
        assert status == (480 if complete else 408), body


async def test_many_slow_bodies_get_a_bounded_number_of_places(aiohttp_server, env):
    # Given a keyed front door that receives at most 6 bodies at once, 4 of them per tenant
    settings = Settings.from_env(
        {
            **env,
            "PAGEMILL_API_KEYS": "acme:acme-key-123,globex:globex-key-456",
            "PAGEMILL_MAX_CONCURRENT_UPLOADS": "6",
            "PAGEMILL_MAX_CONCURRENT_UPLOADS_PER_TENANT": "4",
            "PAGEMILL_BODY_IDLE_TIMEOUT_S": "60",
        }
    )
    server = await aiohttp_server(create_app(settings))
    scratch = settings.storage_dir / "tmp"
    keys_of = {"acme": "acme-key-123", "globex": "globex-key-456"}

    async def slow_upload(tenant: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A client that announces 100 kB and sends 9 bytes of them."""
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"POST /PCCIS/V1/WorkFile?FileExtension=pdf HTTP/1.1\r\nHost: x\r\nAcs-Api-Key: %s\r\n"
            b"Content-Length: 100000\r\n\r\n%%PDF-1.4" % keys_of[tenant].encode()
        )
        await writer.drain()
        return reader, writer

    async def wait_for_scratch_files(count: int) -> None:
        for _ in range(100):
            if len(list(scratch.glob("*.upload"))) == count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(list(scratch.glob('*.upload')))} uploads in flight, not {count}")

    # When acme opens 4 slow uploads, they are all being received
    held = [await slow_upload("acme") for _ in range(4)]
    await wait_for_scratch_files(4)
    # Then acme's fifth is refused at once with 429 and Retry-After, while globex still gets places
    reader, writer = await slow_upload("acme")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 429") and b"Retry-After: 2" in head, head
    assert b"TooManyConcurrentUploads" in await asyncio.wait_for(reader.read(1000), 5)
    writer.close()
    held += [await slow_upload("globex") for _ in range(2)]
    await wait_for_scratch_files(6)
    # And with the front door full, many more slow clients of both tenants are each answered at once (429 for
    # acme, whose share is full; 503 for globex), and their connections are closed by the server
    rejected = [await slow_upload(tenant) for tenant in ("acme", "globex") * 30]
    started = time.monotonic()
    heads = await asyncio.gather(*(asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10) for r, _ in rejected))
    assert time.monotonic() - started < 10
    assert [h[:12] for h in heads] == [b"HTTP/1.1 429", b"HTTP/1.1 503"] * 30, heads[:2]
    assert all(b"Retry-After: 2" in h for h in heads)
    closed = await asyncio.gather(*(asyncio.wait_for(r.read(), 20) for r, _ in rejected))  # EOF: the server hung up
    assert all(b"errorCode" in body for body in closed)
    for _, w in rejected:
        w.close()
    # while requests without a body are served as usual, and no more than 6 uploads were ever opened
    async with ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{server.port}/PCCIS/V1/Service/Current/Info") as resp:
            assert resp.status == 200
        assert len(list(scratch.glob("*.upload"))) == 6
        # When the slow clients go away, their places are free again (and their partial bytes are gone)
        for _, w in held:
            w.close()
        await wait_for_scratch_files(0)
        for tenant in ("acme",) * 4 + ("globex",) * 2:
            async with http.post(
                f"http://127.0.0.1:{server.port}/PCCIS/V1/WorkFile?FileExtension=pdf",
                data=text_pdf(1),
                headers={"Acs-Api-Key": keys_of[tenant]},
            ) as resp:
                assert resp.status == 200, tenant
