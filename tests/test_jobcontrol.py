"""Job control beyond PrizmDoc (pagemill extensions): webhooks, cancel, one-zip download, CORS."""

import asyncio
import base64
import io
import json
import time
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from standardwebhooks import Webhook

from core.settings import Settings
from service import keys
from service.app import create_app
from tests.conftest import make_env, running_worker
from tests.docgen import text_pdf
from tests.helpers import convert, download, poll, upload, wire

SECRET = "whsec_" + base64.b64encode(b"pagemill-test-webhook-secret-32b").decode()


class Receiver:
    """A webhook receiver on loopback that answers with the statuses it is given, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = statuses or []
        self.calls: list[tuple[dict[str, str], bytes, float]] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.headers), await request.read(), time.monotonic()))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.arrived.set()
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield hook, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


def hook_settings(tmp_path: Any, redis_url: str, **extra: str) -> Settings:
    return Settings.from_env(make_env(tmp_path / "data", redis_url, PAGEMILL_WEBHOOK_SECRET=SECRET, **extra))


def conversion(file_id: str, fmt: str = "png", **extra: Any) -> dict[str, Any]:
    return {"input": {"sources": [{"fileId": file_id}], "dest": {"format": fmt}}, **extra}


async def test_a_finished_process_posts_one_signed_webhook(aiohttp_client, tmp_path, redis_url, receiver):
    # Given a server with a webhook secret, and a receiver on loopback (allowed for this test)
    hook, url = receiver
    settings = hook_settings(tmp_path, redis_url, PAGEMILL_ALLOW_PRIVATE_SOURCES="true")
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        # When a conversion with a webhook completes
        wf = await upload(client, text_pdf(2), "pdf")
        started = await convert(client, conversion(wf["fileId"], webhook={"url": url}))
        final = await poll(client, started["processId"], interval_s=0.1)
        await asyncio.wait_for(hook.arrived.wait(), 10)
        await asyncio.sleep(0.5)  # a second delivery, if there were one, would arrive by now
    # Then exactly one POST arrived, verifiable with the Standard Webhooks library
    assert len(hook.calls) == 1
    headers, body, _ = hook.calls[0]
    payload = Webhook(SECRET).verify(body, headers)
    # carrying the JSON a poll returns
    del final["_percent_seen"]
    assert payload == final and payload["state"] == "complete"
    assert headers["webhook-id"] == f"msg_{started['processId']}"
    # And a forged signature does not verify
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(SECRET).verify(body.replace(b"complete", b"error"), headers)


async def test_a_failing_receiver_gets_the_webhook_again_later(aiohttp_client, tmp_path, redis_url, receiver):
    # Given a receiver that fails twice (a 500, then a 503)
    hook, url = receiver
    hook.statuses = [500, 503]
    settings = hook_settings(tmp_path, redis_url, PAGEMILL_ALLOW_PRIVATE_SOURCES="true")
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        wf = await upload(client, b"%PDF-1.4 broken", "pdf")
        started = await convert(client, conversion(wf["fileId"], webhook={"url": url}))
        # When the process ends (in error: webhooks are sent for every end)
        await asyncio.wait_for(hook.arrived.wait(), 30)
    # Then it was retried with growing delays, with the same message id, until a 2xx
    assert len(hook.calls) == 3
    ids = {headers["webhook-id"] for headers, _, _ in hook.calls}
    assert ids == {f"msg_{started['processId']}"}
    (_, _, t0), (_, _, t1), (_, _, t2) = hook.calls
    assert t1 - t0 > 1.5 and t2 - t1 > 8 > t1 - t0
    payload = Webhook(SECRET).verify(hook.calls[-1][1], hook.calls[-1][0])
    assert payload["state"] == "error" and payload["errorCode"] == "CouldNotConvert"


async def test_a_cancelled_process_posts_its_webhook_too(aiohttp_client, tmp_path, redis_url, receiver):
    hook, url = receiver
    settings = hook_settings(tmp_path, redis_url, PAGEMILL_ALLOW_PRIVATE_SOURCES="true")
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        wf = await upload(client, text_pdf(60), "pdf")
        started = await convert(client, conversion(wf["fileId"], "tiff", webhook={"url": url}))
        assert (await client.delete(f"/v2/contentConverters/{started['processId']}")).status == 200
        await asyncio.wait_for(hook.arrived.wait(), 10)
    payload = Webhook(SECRET).verify(hook.calls[0][1], hook.calls[0][0])
    assert (payload["state"], payload["errorCode"]) == ("error", "Cancelled")


async def test_webhooks_to_internal_addresses_are_not_sent(aiohttp_client, tmp_path, redis_url, receiver, capsys):
    # Given the default address rules (no private addresses)
    hook, url = receiver
    settings = hook_settings(tmp_path, redis_url)
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        wf = await upload(client, text_pdf(1), "pdf")
        # When a conversion names a loopback webhook (written as fullwidth digits, which normalise to 127.0.0.1)
        sneaky = url.replace("127.0.0.1", "\uff11\uff12\uff17.\uff10.\uff10.\uff11")
        started = await convert(client, conversion(wf["fileId"], webhook={"url": sneaky}))
        await poll(client, started["processId"], interval_s=0.1)
        for _ in range(50):
            if await client.app[keys.REDIS].exists(f"pm:webhook:{started['processId']}") == 0:
                break
            await asyncio.sleep(0.1)
    # Then nothing reached the receiver, and the worker said why
    assert hook.calls == []
    assert "webhook_refused" in capsys.readouterr().out


async def test_webhook_requests_are_validated(aiohttp_client, tmp_path, redis_url, client):
    wf = await upload(client, text_pdf(1), "pdf")
    # Without a configured secret, webhooks are refused with a reason
    resp = await client.post("/v2/contentConverters", json=conversion(wf["fileId"], webhook={"url": "https://x.test/"}))
    body = await resp.json()
    assert (resp.status, body["errorCode"], body["errorDetails"]["at"]) == (480, "InvalidInput", "webhook")
    assert "PAGEMILL_WEBHOOK_SECRET" in body["message"]
    # With one, the URL must be an absolute http(s) URL
    signed = await aiohttp_client(create_app(hook_settings(tmp_path, redis_url)))
    wf = await upload(signed, text_pdf(1), "pdf")
    for bad in ("ftp://example.com/x", "https://", "https://host:99999/", "not a url", 5):
        resp = await signed.post("/v2/contentConverters", json=conversion(wf["fileId"], webhook={"url": bad}))
        assert resp.status == 480, bad
        assert (await resp.json())["errorDetails"]["at"] == "webhook.url", bad


async def test_cancel_stops_a_long_conversion_and_deletes_its_outputs(client, settings, worker):
    # Given a 117-page tiff conversion that is under way
    wf = await upload(client, text_pdf(117), "pdf")
    started = await convert(client, conversion(wf["fileId"], "tiff"))
    process_id = started["processId"]
    deadline = time.monotonic() + 60
    while (await (await client.get(f"/v2/contentConverters/{process_id}")).json())["percentComplete"] < 5:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    # When it is cancelled
    resp = await client.delete(f"/v2/contentConverters/{process_id}")
    assert resp.status == 200
    body = await resp.json()
    # Then it reads as an error a PrizmDoc client understands, at once and from then on
    assert (body["state"], body["errorCode"]) == ("error", "Cancelled")
    assert "cancelled" in body["message"]
    await asyncio.sleep(1.5)
    later = await (await client.get(f"/v2/contentConverters/{process_id}")).json()
    assert (later["state"], later["errorCode"]) == ("error", "Cancelled")
    assert "output" not in later
    # And no rendered page is left: only the source remains in storage
    for _ in range(50):
        stored = [p for p in (settings.storage_dir / "objects").rglob("*") if p.is_file()]
        if len(stored) == 1:
            break
        await asyncio.sleep(0.1)
    assert len(stored) == 1, stored
    # And the queue holds nothing more of it
    queued = [m async for m, _ in client.app[keys.REDIS].zscan_iter("pagemill:batch", match=f"proc:{process_id}:*")]
    assert [m for m in queued if not m.endswith(b":discard")] == []
    # And cancelling it again, or a finished process, is a conflict
    resp = await client.delete(f"/v2/contentConverters/{process_id}")
    assert resp.status == 409
    assert wire(await resp.json())["errorCode"] == "ProcessAlreadyFinished"


async def test_cancel_through_queued_jobs_and_unknown_ids(client, worker):
    wf = await upload(client, text_pdf(60), "pdf")
    started = await convert(client, conversion(wf["fileId"], "tiff"))
    resp = await client.delete(f"/api/QueuedJobs/{started['queuedJobId']}")
    assert resp.status == 200
    job = await resp.json()
    assert (job["status"], job["errorCode"]) == ("Failed", "Cancelled")
    assert (await client.delete("/api/QueuedJobs/999999")).status == 404
    assert (await client.delete("/v2/contentConverters/AAAAAAAAAAAAAAAAAAAAAA")).status == 404
    done = await convert(client, conversion((await upload(client, text_pdf(1), "pdf"))["fileId"]))
    await poll(client, done["processId"], interval_s=0.1)
    assert (await client.delete(f"/v2/contentConverters/{done['processId']}")).status == 409


async def test_output_zip_streams_every_result_in_order(client, worker):
    # Given a complete 4-page png conversion
    wf = await upload(client, text_pdf(4), "pdf")
    started = await convert(client, conversion(wf["fileId"]))
    assert (await client.get(f"/v2/contentConverters/{started['processId']}/output.zip")).status in (200, 409)
    final = await poll(client, started["processId"], interval_s=0.1)
    # When its output.zip is downloaded
    resp = await client.get(f"/v2/contentConverters/{started['processId']}/output.zip")
    assert resp.status == 200
    assert resp.content_type == "application/zip"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{started["processId"]}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    # Then it holds the 4 PNGs, in order, each identical to its own download
    assert archive.namelist() == ["output-0001.png", "output-0002.png", "output-0003.png", "output-0004.png"]
    for name, result in zip(archive.namelist(), final["output"]["results"], strict=True):
        assert archive.read(name) == (await download(client, result["fileId"]))[0]


async def test_output_zip_of_a_process_that_is_not_complete(client, worker):
    wf = await upload(client, b"%PDF-1.4 broken", "pdf")
    started = await convert(client, conversion(wf["fileId"]))
    await poll(client, started["processId"], interval_s=0.1)
    resp = await client.get(f"/v2/contentConverters/{started['processId']}/output.zip")
    assert resp.status == 409
    assert wire(await resp.json())["errorCode"] == "ProcessNotComplete"
    assert (await client.get("/v2/contentConverters/AAAAAAAAAAAAAAAAAAAAAA/output.zip")).status == 404


async def test_cors_is_off_unless_configured(client):
    resp = await client.get("/PCCIS/V1/Service/Current/Health", headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_cors_answers_preflights_and_marks_responses(aiohttp_client, env):
    settings = Settings.from_env(
        {**env, "PAGEMILL_CORS_ORIGINS": "https://app.example.com", "PAGEMILL_API_KEYS": "acme:key-for-acme-1"}
    )
    client = await aiohttp_client(create_app(settings))
    origin = {"Origin": "https://app.example.com"}
    # A preflight needs no key (browsers send none) and allows what was asked
    resp = await client.options(
        "/v2/contentConverters",
        headers={**origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "acs-api-key"},
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == "acs-api-key"
    # Answers to the allowed origin carry the headers, errors and uploads too, with the ones a client reads exposed
    resp = await client.post(
        "/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1), headers={**origin, "Acs-Api-Key": "key-for-acme-1"}
    )
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "X-Request-Id" in resp.headers["Access-Control-Expose-Headers"]
    resp = await client.get("/v2/contentConverters/AAAAAAAAAAAAAAAAAAAAAA", headers=origin)
    assert resp.status == 401 and resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    # Another origin gets no CORS headers, and no preflight answer of ours
    other = {"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"}
    resp = await client.options("/v2/contentConverters", headers=other)
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = await client.get("/PCCIS/V1/Service/Current/Health", headers=other)
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_config_errors_name_the_allowed_values_and_hide_secrets():
    with pytest.raises(ValueError) as caught:
        Settings.from_env(
            {"PAGEMILL_LOG_FORMAT": "xml", "PAGEMILL_STORAGE": "gcs", "PAGEMILL_WEBHOOK_SECRET": "hunter2-secret"}
        )
    text = str(caught.value)
    assert "expected json or console" in text and "expected local or s3" in text
    assert "PAGEMILL_WEBHOOK_SECRET='***'" in text and "hunter2" not in text


def test_webhook_signature_matches_the_reference_library():
    from workers.jobs.webhooks import signed_headers

    body = json.dumps({"state": "complete"}).encode()
    headers = signed_headers(SECRET, "msg_abc", body)
    assert Webhook(SECRET).verify(body, headers) == {"state": "complete"}


async def test_an_idempotency_key_covers_the_webhook_too(aiohttp_client, tmp_path, redis_url):
    client = await aiohttp_client(create_app(hook_settings(tmp_path, redis_url)))
    wf = await upload(client, text_pdf(1), "pdf")
    key = {"Idempotency-Key": "batch-7"}
    first = conversion(wf["fileId"], webhook={"url": "https://a.example/hook"})
    assert (await client.post("/v2/contentConverters", json=first, headers=key)).status == 200
    again = await client.post("/v2/contentConverters", json=first, headers=key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = conversion(wf["fileId"], webhook={"url": "https://b.example/hook"})
    resp = await client.post("/v2/contentConverters", json=other, headers=key)
    assert resp.status == 480 and (await resp.json())["errorCode"] == "IdempotencyKeyReused"
