"""Viewing sessions end to end: the session API, documents, viewer page routes, caching."""

import asyncio
import base64
import io

import pytest
from aiohttp import web
from PIL import Image

from core import keyspace
from core.settings import Settings
from schemas.viewing import Variant
from service import keys
from service.app import create_app
from tests.conftest import running_worker
from tests.docgen import encrypted_pdf, text_pdf
from tests.helpers import upload, wire


async def new_session(client, **props) -> str:
    resp = await client.post("/PCCIS/V1/ViewingSession", json=props)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["affinityToken"]
    return body["viewingSessionId"]


async def put_source(client, sid: str, data: bytes, ext: str = "") -> None:
    query = f"?FileExtension={ext}" if ext else ""
    resp = await client.put(f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile{query}", data=io.BytesIO(data))
    assert resp.status == 200, await resp.text()


async def page(client, sid: str, n: int, **query) -> web.Response:
    params = {"DocumentID": f"u{sid}", **query}
    return await client.get(f"/PCCIS/V1/Page/q/{n}", params=params)


async def png_of(resp) -> Image.Image:
    assert resp.status == 200, (resp.status, await resp.text())
    return Image.open(io.BytesIO(await resp.read()))


async def rendered_pages(client, sid: str, count: int) -> list[int]:
    """Which pages of the session's default variant have a page record."""
    session = await client.app[keys.VIEWS].get(sid)
    redis = client.app[keys.REDIS]
    return [n for n in range(count) if await redis.exists(keyspace.page(session["docId"], Variant().digest(), n))]


async def test_create_get_and_defaults(client):
    sid = await new_session(client, tenantId="acme", externalId="report.pdf", origin={"ip": "10.0.0.1"}, custom=1)
    assert len(sid) >= 64
    resp = await client.get(f"/PCCIS/V1/ViewingSession/u{sid}")
    body = await resp.json()
    assert body["tenantId"] == "acme" and body["externalId"] == "report.pdf" and body["custom"] == 1
    assert body["origin"] == {"ip": "10.0.0.1"}
    assert body["render"] == {
        "flash": {"optimizationLevel": 1},
        "html5": {"alwaysUseRaster": False, "rasterResolution": 150},
    }
    assert body["serverCaching"] == "full" and body["countOfInitialPages"] == 0 and body["watermarks"] == []
    assert body["creationTime"].endswith("Z")
    assert (await client.get("/PCCIS/V1/ViewingSession/uAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).status == 404


@pytest.mark.parametrize(
    ("props", "status", "code", "at"),
    [
        ({"documentExtension": ".pdf"}, 480, "InvalidInput", "documentExtension"),
        (
            {"minSecondsAvailable": 500, "serverCaching": "full"},
            480,
            "InputNotSupportedWithServerCachingEnabled",
            "minSecondsAvailable",
        ),
        ({"countOfInitialPages": -1}, 480, "InvalidInput", "countOfInitialPages"),
        ({"countOfInitialPages": "2"}, 480, "InvalidInput", "countOfInitialPages"),
        ({"serverCaching": "sometimes"}, 480, "InvalidInput", "serverCaching"),
        ({"documentSource": "http", "externalId": "ftp://x/y.pdf"}, 480, "InvalidInput", "externalId"),
        ({"documentSource": "file", "externalId": "/etc/passwd"}, 480, "InvalidInput", "documentSource"),
        ({"startConverting": "initialPages"}, 480, "InvalidInput", "startConverting"),
    ],
)
async def test_invalid_properties(client, props, status, code, at):
    resp = await client.post("/PCCIS/V1/ViewingSession", json=props)
    body = await resp.json()
    assert resp.status == status, body
    assert body["errorCode"] == code
    assert body["errorDetails"]["at"] == at


async def test_min_seconds_available_bounds_with_caching_off(client, settings):
    resp = await client.post("/PCCIS/V1/ViewingSession", json={"serverCaching": "none", "minSecondsAvailable": 10**7})
    body = await resp.json()
    assert resp.status == 480
    assert body["errorDetails"] == {
        "in": "body",
        "at": "minSecondsAvailable",
        "expected": {"type": "integer", "greaterThanOrEqualTo": 0, "lessThanOrEqualTo": settings.session_max_s},
    }
    sid = await new_session(client, serverCaching="none", minSecondsAvailable=3000)
    ttl = await client.app[keys.REDIS].ttl(f"pm:vs:{sid}")
    assert 2990 < ttl <= 3000


async def test_source_file_upload_fileid_download_and_no_second_document(client):
    sid = await new_session(client)
    resp = await client.get(f"/PCCIS/V1/ViewingSession/u{sid}/FileId")
    assert resp.status == 480
    assert wire(await resp.json()) == {
        "errorCode": "DocumentNotProvidedYet",
        "errorDetails": {"in": "body", "at": "fileId"},
    }
    data = text_pdf(2)
    await put_source(client, sid, data, "doc")  # detection wins over the given extension
    file_id = (await (await client.get(f"/PCCIS/V1/ViewingSession/u{sid}/FileId")).json())["fileId"]
    info = await (await client.get(f"/PCCIS/V1/WorkFile/{file_id}/Info")).json()
    assert info["fileExtension"] == "pdf"
    resp = await client.get(f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile?ContentDispositionFilename=MonthlySalesReport")
    assert await resp.read() == data
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="MonthlySalesReport.pdf"'
    resp = await client.put(f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile", data=text_pdf(1))
    assert resp.status == 480
    assert (await resp.json())["errorCode"] == "CannotChangeDocument"


async def test_undetectable_source_without_extension_is_580(client, settings):
    sid = await new_session(client)
    resp = await client.put(f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile", data=b"just some words")
    assert resp.status == 580
    assert (await resp.json())["errorCode"] == "UnrecognizedFileFormat"
    assert not [p for p in (settings.storage_dir / "objects").rglob("*") if p.is_file()]
    assert not list((settings.storage_dir / "tmp").glob("*"))


async def test_source_ref(client):
    sid = await new_session(client)
    resp = await client.put(
        f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef", json={"refType": "workFile", "fileId": "AAAAAAAAAAAAAAAAAAAAAA"}
    )
    assert resp.status == 480
    assert wire(await resp.json()) == {"errorCode": "NotFound", "errorDetails": {"in": "body", "at": "fileId"}}
    wf = await upload(client, text_pdf(1))
    resp = await client.put(
        f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef", json={"refType": "workFile", "fileId": wf["fileId"]}
    )
    assert resp.status == 200
    assert (await (await client.get(f"/PCCIS/V1/ViewingSession/u{sid}/FileId")).json()) == {"fileId": wf["fileId"]}
    resp = await client.put(
        f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef", json={"refType": "workFile", "fileId": wf["fileId"]}
    )
    assert (await resp.json())["errorCode"] == "CannotChangeDocument"


async def test_delete_semantics(client):
    cached = await new_session(client)
    resp = await client.delete(f"/PCCIS/V1/ViewingSession/u{cached}")
    assert resp.status == 580
    assert wire(await resp.json()) == {"errorCode": "CannotDeleteCachedViewingSession"}
    private = await new_session(client, serverCaching="none")
    assert (await client.delete(f"/PCCIS/V1/ViewingSession/u{private}")).status == 204
    assert (await client.delete(f"/PCCIS/V1/ViewingSession/u{private}")).status == 404


async def test_stopped_session_answers_with_the_given_status(client):
    sid = await new_session(client)
    resp = await client.post(
        f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStopped",
        json={"endUserMessage": "Session no longer available", "httpStatus": 504},
    )
    assert resp.status == 200
    for resp in (await page(client, sid, 0), await client.get(f"/PCCIS/V1/ViewingSession/u{sid}")):
        assert resp.status == 504
        assert resp.reason == "Session no longer available"
        assert resp.headers["Accusoft-Status-Message"] == "Session no longer available"
    other = await new_session(client)
    await client.post(f"/PCCIS/V1/ViewingSession/u{other}/Notification/SessionStopped")
    resp = await page(client, other, 0)
    assert resp.status == 580 and resp.reason == "Session is stopped"


async def test_count_of_initial_pages_renders_the_rest_only_when_needed(client, worker):
    sid = await new_session(client, countOfInitialPages=2)
    await put_source(client, sid, text_pdf(20))
    image = await png_of(await page(client, sid, 0))
    assert image.size == (1275, 1650)
    await asyncio.sleep(0.5)
    assert await rendered_pages(client, sid, 20) == [0, 1]  # the remainder is not converted yet
    image = await png_of(await page(client, sid, 11))  # a page past the initial ones
    assert image.size == (1275, 1650)
    for _ in range(100):  # ...which starts the remainder on the batch queue
        if len(await rendered_pages(client, sid, 20)) == 20:
            break
        await asyncio.sleep(0.1)
    assert await rendered_pages(client, sid, 20) == list(range(20))


async def test_count_of_initial_pages_zero_converts_everything_on_first_request(client, worker):
    sid = await new_session(client)
    await put_source(client, sid, text_pdf(10))
    await png_of(await page(client, sid, 3))
    for _ in range(100):
        if len(await rendered_pages(client, sid, 10)) == 10:
            break
        await asyncio.sleep(0.1)
    assert await rendered_pages(client, sid, 10) == list(range(10))


async def test_session_started_converts_before_any_page_request(client, worker):
    sid = await new_session(client, countOfInitialPages=1)
    await client.post(f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStarted", json={"viewer": "HTML5"})
    await put_source(client, sid, text_pdf(3))  # the document arrives after SessionStarted
    for _ in range(100):
        if await rendered_pages(client, sid, 3) == [0]:
            break
        await asyncio.sleep(0.05)
    assert await rendered_pages(client, sid, 3) == [0]


async def test_page_waits_for_the_document_to_arrive(client, worker):
    sid = await new_session(client)
    pending = asyncio.create_task(page(client, sid, 1))
    await asyncio.sleep(0.3)
    assert not pending.done()
    await put_source(client, sid, text_pdf(2))
    assert (await png_of(await pending)).size == (1275, 1650)


async def test_etag_scale_quality_thumbnail_and_e_prefixed_ids(client, worker):
    sid = await new_session(client)
    await put_source(client, sid, text_pdf(2))
    resp = await page(client, sid, 0)
    await png_of(resp)
    etag = resp.headers["ETag"]
    again = await client.get("/PCCIS/V1/Page/q/0", params={"DocumentID": f"u{sid}"}, headers={"If-None-Match": etag})
    assert again.status == 304
    encoded = "e" + base64.b64encode(sid.encode()).decode()
    half = await png_of(await client.get("/PCCIS/V1/Page/q/0", params={"DocumentID": encoded, "Scale": "0.5"}))
    assert half.size == (638, 825)
    resp = await page(client, sid, 1, ContentType="jpeg", Quality="40")
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert (await png_of(resp)).format == "JPEG"
    thumb = await png_of(await client.get("/PCCIS/V1/Page/q/1/150x150", params={"DocumentID": f"u{sid}"}))
    assert thumb.height == 150 and thumb.width <= 150


async def test_attributes_page_count_and_text(client, worker):
    sid = await new_session(client)
    await put_source(client, sid, text_pdf(7))
    estimate = await (
        await client.get(
            "/PCCIS/V1/Document/q/Attributes", params={"DocumentID": f"u{sid}", "DesiredPageCountConfidence": "50"}
        )
    ).json()
    assert estimate["pageCount"] == 7  # read from the /Pages dictionary, before PDFium opened the file
    exact = await (await client.get("/PCCIS/V1/Document/q/Attributes", params={"DocumentID": f"u{sid}"})).json()
    assert exact == {"pageCount": 7, "pageCountConfidence": 100}
    attrs = await (await client.get("/PCCIS/V1/Page/q/2/Attributes", params={"DocumentID": f"u{sid}"})).json()
    assert attrs == {
        "imageWidth": 1275, "imageHeight": 1650, "imageXResolution": 150, "imageYResolution": 150,
        "pageCount": 7, "isRaster": "false", "contentType": "png",
    }  # fmt: skip
    text = await (await client.get("/PCCIS/V1/Document/q/1-2/Text", params={"DocumentID": f"u{sid}"})).json()
    assert [p["number"] for p in text["pages"]] == [1, 2]
    assert text["pages"][0]["text"].startswith("Page 2")
    svg = await (await page(client, sid, 0, ContentType="svgb")).json()
    assert svg["errorCode"] == "SvgNotAvailable"
    assert svg["pageAttributes"]["isRaster"] == "false" and svg["pageAttributes"]["pageCount"] == 7
    resp = await page(client, sid, 7)
    assert resp.status == 404 and resp.headers["Accusoft-Status-Number"] == "4004"


async def test_password_protected_document(client, worker):
    sid = await new_session(client)
    await put_source(client, sid, encrypted_pdf(2, "pw"))
    resp = await page(client, sid, 0)
    assert resp.status == 480
    assert resp.headers["Accusoft-Status-Number"] == "4001"
    assert resp.headers["Accusoft-Status-Message"] == "Document requires a password"
    ok = await new_session(client, password="pw")
    await put_source(client, ok, encrypted_pdf(2, "pw"))
    await png_of(await page(client, ok, 1))


async def test_unknown_or_expired_session_is_403(client):
    resp = await client.get("/PCCIS/V1/Page/q/0", params={"DocumentID": "u" + "A" * 86})
    assert resp.status == 403
    assert resp.headers["Accusoft-Status-Number"] == "403"
    resp = await client.get("/PCCIS/V1/Page/q/0", params={"DocumentID": "x../../etc"})
    assert resp.status == 480


async def test_full_caching_reuses_pages_across_sessions_and_none_keeps_them_private(client, worker):
    data = text_pdf(3)
    first = await new_session(client, countOfInitialPages=1)
    await put_source(client, first, data)
    one = await page(client, first, 0)
    await png_of(one)
    second = await new_session(client, countOfInitialPages=1)
    await put_source(client, second, data)
    two = await page(client, second, 0)
    await png_of(two)
    assert one.headers["ETag"] == two.headers["ETag"]
    session = await client.app[keys.VIEWS].get(second)
    record = await client.app[keys.VIEWS].get_record(keyspace.page(session["docId"], Variant().digest(), 0))
    assert record["storageKey"].startswith(f"pages/{session['docId']}/")
    private = await new_session(client, serverCaching="none", countOfInitialPages=1)
    await put_source(client, private, data)
    await png_of(await page(client, private, 0))
    storage = client.app[keys.STORAGE]
    private_files = list((storage.objects / "pages" / f"s-{private}").rglob("*.png"))
    assert len(private_files) == 1
    source_id = (await client.app[keys.VIEWS].get(private))["fileId"]
    assert (await client.delete(f"/PCCIS/V1/ViewingSession/u{private}")).status == 204
    assert not any(p.exists() for p in private_files)
    # nothing of a private session outlives it: its uploaded document is gone too
    assert (await client.get(f"/PCCIS/V1/WorkFile/{source_id}")).status == 404


async def test_http_document_source(aiohttp_client, aiohttp_server, env):
    pdf = text_pdf(2)

    async def serve_pdf(request):
        return web.Response(body=pdf, content_type="application/pdf")

    origin = web.Application()
    origin.router.add_get("/files/report.pdf", serve_pdf)

    async def redirect(request):
        raise web.HTTPFound("/files/report.pdf")

    origin.router.add_get("/redirect", redirect)
    server = await aiohttp_server(origin)
    lenient = Settings.from_env({**env, "PAGEMILL_ALLOW_PRIVATE_SOURCES": "true"})
    client = await aiohttp_client(create_app(lenient))
    async with running_worker(lenient):
        sid = await new_session(client, documentSource="http", externalId=str(server.make_url("/redirect")))
        assert (await png_of(await page(client, sid, 1))).size == (1275, 1650)
    # by default, addresses on loopback (and other private ranges) are refused
    async with running_worker(Settings.from_env(env)):
        sid = await new_session(client, documentSource="http", externalId=str(server.make_url("/files/report.pdf")))
        resp = await page(client, sid, 0)
        assert resp.status == 580
        assert (await resp.json())["errorCode"] == "SourceAddressNotAllowed"


async def test_file_document_source_is_confined_to_its_root(aiohttp_client, env, tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.pdf").write_bytes(text_pdf(1))
    (tmp_path / "secret.pdf").write_bytes(text_pdf(1))
    settings = Settings.from_env({**env, "PAGEMILL_FILE_SOURCE_ROOT": str(root)})
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        sid = await new_session(client, documentSource="file", externalId="a.pdf")
        await png_of(await page(client, sid, 0))
        sid = await new_session(client, documentSource="file", externalId="../secret.pdf")
        resp = await page(client, sid, 0)
        assert resp.status == 580
        assert (await resp.json())["errorCode"] == "SourcePathNotAllowed"


async def test_session_expires_after_its_lifetime(aiohttp_client, env):
    client = await aiohttp_client(create_app(Settings.from_env({**env, "PAGEMILL_SESSION_LIFETIME_S": "1"})))
    sid = await new_session(client)
    assert (await client.get(f"/PCCIS/V1/ViewingSession/u{sid}")).status == 200
    await asyncio.sleep(1.2)
    assert (await client.get(f"/PCCIS/V1/ViewingSession/u{sid}")).status == 404
    assert (await page(client, sid, 0)).status == 403
