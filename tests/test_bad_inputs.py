"""Hostile and broken inputs end in precise errors, never a crash or a hang."""

import pytest

from core.settings import Settings
from service.app import create_app
from tests.conftest import running_worker
from tests.docgen import text_pdf
from tests.helpers import convert, poll, upload


async def convert_png(client, data: bytes, ext: str):
    wf = await upload(client, data, ext)
    started = await convert(client, {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png"}}})
    return await poll(client, started["processId"], interval_s=0.05, timeout_s=60)


async def test_a_hundred_thousand_pages_is_refused_before_rendering(aiohttp_client, env):
    settings = Settings.from_env({**env, "PAGEMILL_MAX_PAGES": "20000"})
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        final = await convert_png(client, text_pdf(100_000, lines=0), "pdf")
    assert final["state"] == "error" and final["errorCode"] == "CouldNotConvert"
    assert final["output"]["results"][0]["errorCode"] == "TooManyPages"


@pytest.mark.parametrize(
    ("data", "ext", "code"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "png", "CorruptFile"),  # truncated PNG
        (text_pdf(3)[:300], "pdf", "CorruptFile"),  # truncated before its first page (later cuts: tests/test_repair.py)
        (b"GIF89a" + b"\xff" * 10, "gif", "CorruptFile"),
        (b"BM" + b"\x00" * 60, "bmp", "CorruptFile"),
        (b"II*\x00" + b"\x00" * 20, "tif", "CorruptFile"),
        (b"plausible but not a PDF at all", "pdf", "CorruptFile"),  # wrong magic, plausible extension
    ],
)
async def test_broken_files_end_in_error_with_a_code(client, worker, data, ext, code):
    final = await convert_png(client, data, ext)
    assert final["state"] == "error", final
    assert final["errorCode"] == "CouldNotConvert"
    assert final["output"]["results"][0]["errorCode"] == code


async def json_routes(client) -> list[tuple[str, str]]:
    """Every route that reads a JSON body, with the ids it needs filled in."""
    sid = (await (await client.post("/PCCIS/V1/ViewingSession", json={})).json())["viewingSessionId"]
    upload = (await (await client.post("/PCCIS/V1/WorkFile/UploadSession", json={})).json())["session"]["id"]
    seed = (await (await client.post("/archives/A/entities/H:1/create_sessions.json", json={})).json())["session"]["id"]
    return [
        ("POST", "/v2/contentConverters"),
        ("POST", "/PCCIS/V1/ViewingSession"),
        ("PUT", f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef"),
        ("POST", f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStarted"),
        ("POST", f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStopped"),
        ("POST", "/PCCIS/V1/WorkFile/UploadSession"),
        ("POST", f"/PCCIS/V1/WorkFile/UploadSession/{upload}/save"),
        ("POST", "/archives/A/entities/H:1/create_sessions.json"),
        ("POST", f"/archives/A/entities/H:1/create_sessions/{seed}/save.json"),
    ]


@pytest.mark.parametrize(
    ("body", "at"),
    [
        (b"{not json", ""),
        (b"[1, 2]", ""),
        (b'"a string"', ""),
        (b"null", ""),
        (b"\xff\xfe not utf-8", ""),
    ],
)
async def test_malformed_json_and_wrong_types_on_every_json_route(client, body, at):
    for method, path in await json_routes(client):
        resp = await client.request(method, path, data=body, headers={"Content-Type": "application/json"})
        assert resp.status == 480, (method, path, resp.status, await resp.text())
        error = await resp.json()
        assert error["errorCode"] == "InvalidInput", (path, error)
        assert error["errorDetails"]["in"] == "body"
        assert error["errorDetails"]["at"] == at, (path, error)


async def test_wrong_types_and_out_of_range_fields_name_the_field(client):
    """Every JSON body field of the upload, seed and viewing-notification routes, with a wrong value."""
    sid = (await (await client.post("/PCCIS/V1/ViewingSession", json={})).json())["viewingSessionId"]
    upload = (await (await client.post("/PCCIS/V1/WorkFile/UploadSession", json={})).json())["session"]["id"]
    seed = (await (await client.post("/archives/A/entities/H:1/create_sessions.json", json={})).json())["session"]["id"]
    create_fields = [
        ("content_type", 7),
        ("content_type", "x" * 256),
        ("extension", 7),
        ("extension", "../pdf"),
        ("filename", ["a.pdf"]),
        ("filename", "x" * 256),
        ("surprise", 1),
    ]
    save_fields = [("description", 1), ("description", "x" * 4097), ("container_id", {"id": 1}), ("surprise", 1)]
    cases = [
        ("POST", "/PCCIS/V1/WorkFile/UploadSession", {}, create_fields),
        ("POST", "/archives/A/entities/H:1/create_sessions.json", {}, create_fields),
        ("POST", f"/PCCIS/V1/WorkFile/UploadSession/{upload}/save", {}, save_fields),
        ("POST", f"/archives/A/entities/H:1/create_sessions/{seed}/save.json", {}, save_fields),
        (
            "PUT",
            f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef",
            {"refType": "workFile", "fileId": "abc"},
            [("refType", "url"), ("refType", 1), ("fileId", 12), ("fileId", ""), ("fileId", "x" * 65), ("surprise", 1)],
        ),
        (
            "POST",
            f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStarted",
            {},
            [("viewer", "Flash"), ("viewer", 5)],
        ),
        (
            "POST",
            f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStopped",
            {},
            [
                ("endUserMessage", 5),
                ("endUserMessage", "x" * 513),
                ("httpStatus", "500"),
                ("httpStatus", 200),
                ("httpStatus", 600),
                ("accusoftErrorNumber", 1.5),
                ("serverLogMessage", None),
            ],
        ),
    ]
    for method, path, valid, fields in cases:
        for field, value in fields:
            resp = await client.request(method, path, json={**valid, field: value})
            assert resp.status == 480, (path, field, value, resp.status, await resp.text())
            error = await resp.json()
            assert error["errorCode"] == "InvalidInput", (path, field, error)
            assert error["errorDetails"]["in"] == "body" and error["errorDetails"]["at"] == field, (path, field, error)


@pytest.mark.parametrize("evil", ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "..", "AAAA%00BBBB", "a" * 200])
async def test_path_traversal_in_every_id(client, evil):
    routes = [
        ("GET", f"/PCCIS/V1/WorkFile/{evil}", {480, 404}),
        ("GET", f"/PCCIS/V1/WorkFile/{evil}/Info", {480, 404}),
        ("DELETE", f"/PCCIS/V1/WorkFile/{evil}", {480, 404}),
        ("GET", f"/v2/contentConverters/{evil}", {480, 404}),
        ("GET", f"/PCCIS/V1/ViewingSession/u{evil}", {404}),
        ("GET", f"/PCCIS/V1/ViewingSession/u{evil}/SourceFile", {404}),
        ("GET", f"/PCCIS/V1/Page/q/0?DocumentID=u{evil}", {480, 403}),
        ("PUT", f"/PCCIS/V1/WorkFile/UploadSession/{evil}", {404}),
        ("DELETE", f"/PCCIS/V1/WorkFile/UploadSession/{evil}", {404}),
        ("HEAD", f"/tus/files/{evil}", {404}),
        ("GET", f"/api/QueuedJobs/{evil}", {480, 404}),
        ("GET", f"/api_gateway/file-service/rewards/{evil}", {400, 404}),
        ("GET", f"/files/signed/rewards/{evil}?version=1&tenant=&expires=1&signature=x", {400, 403, 404}),
    ]
    headers = {"Tus-Resumable": "1.0.0", "Content-Range": "0-0"}
    for method, path, allowed in routes:
        resp = await client.request(method, path, headers=headers, data=b"x" if method == "PUT" else None)
        assert resp.status in allowed, (method, path, resp.status)


async def test_non_ascii_digits_are_not_numbers(client):
    # "¹".isdigit() is True but int("¹") fails: such input once reached int() and answered 580
    assert (await client.get("/api/QueuedJobs/%C2%B9")).status == 480
    assert (await client.get("/api/QueuedJobs?page=%C2%B9&pageSize=%C2%B2")).status == 200
    assert (await client.get("/PCCIS/V1/Page/q/%C2%B9", params={"DocumentID": "u" + "A" * 86})).status == 480
    assert (await client.post("/tus/files", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "²"})).status == 400
    assert (await client.get("/api_gateway/file-service/rewards/a.png?version=%C2%B9")).status == 404


async def test_a_malformed_multipart_upload_is_the_clients_mistake(client):
    # A multipart Content-Type without a boundary once answered 580 InternalError
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=x"):
        resp = await client.post(
            "/api_gateway/file-service/rewards/a.txt", data=b"0", headers={"Content-Type": content_type}
        )
        assert resp.status == 400, (content_type, await resp.text())
        assert (await resp.json())["errorCode"] == "InvalidMultipart"
