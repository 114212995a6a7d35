"""Auth and tenants: credentials, 401s, and isolation of every resource route by route."""

import asyncio
import base64
import io
import os
import subprocess
import sys
import time
import zipfile

import pytest
from aiohttp import FormData

from core.settings import Settings
from service import keys
from service.api.files import SIGNING_KEY, sign
from service.api.files import versions_key as files_key
from service.app import create_app
from tests.conftest import ROOT
from tests.docgen import contacts_pdf, image_bytes, text_pdf
from tests.helpers import poll

ACME = {"Acs-Api-Key": "acme-key-123"}
GLOBEX = {"Authorization": "Bearer globex-key-456"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def api(aiohttp_client, env):
    settings = Settings.from_env({**env, "PAGEMILL_API_KEYS": "acme:acme-key-123,globex:globex-key-456"})
    return await aiohttp_client(create_app(settings))


async def test_credentials_in_every_accepted_form(api):
    for headers in (
        ACME,
        {"Authorization": "Bearer acme-key-123"},
        basic("acme", "acme-key-123"),
        basic("", "acme-key-123"),
    ):
        resp = await api.post("/PCCIS/V1/WorkFile", data=b"x", headers=headers)
        assert resp.status == 200, headers
    for headers in (
        {},
        {"Acs-Api-Key": "nope"},
        {"Authorization": "Bearer "},
        basic("globex", "acme-key-123"),
        {"Authorization": "Basic !!!"},
    ):
        resp = await api.post("/PCCIS/V1/WorkFile", data=b"x", headers=headers)
        assert resp.status == 401, headers
        assert (await resp.json())["errorCode"] == "Unauthorized"
        assert "Bearer" in resp.headers["WWW-Authenticate"]
    # health, info and tus discovery need no key (Health is 500 here only because no worker runs)
    assert (await api.get("/PCCIS/V1/Service/Current/Health")).status == 500
    assert (await api.get("/PCCIS/V1/Service/Current/Info")).status == 200
    assert (await api.options("/tus/files")).status == 204
    # every other route does
    for method, path in [("GET", "/v2/contentConverters/AAAAAAAAAAAAAAAAAAAAAA"), ("POST", "/PCCIS/V1/ViewingSession"),
                         ("GET", "/api/QueuedJobs/1"), ("POST", "/api_gateway/file-service/rewards/a.png"),
                         ("POST", "/tus/files"), ("POST", "/PCCIS/V1/WorkFile/UploadSession")]:  # fmt: skip
        assert (await api.request(method, path)).status == 401, path


async def test_every_resource_is_invisible_to_other_tenants(api, worker):
    # Given one resource of every kind owned by acme
    wf = await (await api.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(2), headers=ACME)).json()
    fid = wf["fileId"]
    body = {"input": {"sources": [{"fileId": fid}], "dest": {"format": "png"}}}
    process = await (await api.post("/v2/contentConverters", json=body, headers=ACME)).json()
    pid, job = process["processId"], process["queuedJobId"]
    sid = (await (await api.post("/PCCIS/V1/ViewingSession", json={}, headers=ACME)).json())["viewingSessionId"]
    assert (
        await api.put(
            f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef", json={"refType": "workFile", "fileId": fid}, headers=ACME
        )
    ).status == 200
    upload = (await (await api.post("/PCCIS/V1/WorkFile/UploadSession", json={}, headers=ACME)).json())["session"]["id"]
    seed_upload = (
        await (await api.post("/archives/A/entities/H:1/create_sessions.json", json={}, headers=ACME)).json()
    )["session"]["id"]
    tus = (await api.post("/tus/files", headers={**ACME, "Tus-Resumable": "1.0.0", "Upload-Length": "3"})).headers[
        "Location"
    ]
    assert (await api.post("/api_gateway/file-service/rewards/logo.png", data=b"png", headers=ACME)).status == 200
    await poll(api, pid, interval_s=0.05, headers=ACME)
    # When globex tries every route on them, then each answers as if they did not exist
    checks = [
        ("GET", f"/PCCIS/V1/WorkFile/{fid}", None, 404),
        ("GET", f"/PCCIS/V1/WorkFile/{fid}/Info", None, 404),
        ("DELETE", f"/PCCIS/V1/WorkFile/{fid}", None, 404),
        ("GET", f"/v2/contentConverters/{pid}", None, 404),
        ("POST", "/v2/contentConverters", body, 480),  # WorkFileDoesNotExist
        ("GET", f"/api/QueuedJobs/{job}", None, 404),
        ("GET", f"/api/QueuedJobs/OutputFile/{job}", None, 404),
        ("GET", f"/api/QueuedJobs/OutputFile?id={job}", None, 404),
        ("GET", f"/PCCIS/V1/ViewingSession/u{sid}", None, 404),
        ("DELETE", f"/PCCIS/V1/ViewingSession/u{sid}", None, 404),
        ("GET", f"/PCCIS/V1/ViewingSession/u{sid}/FileId", None, 404),
        ("GET", f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile", None, 404),
        ("PUT", f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef", {"refType": "workFile", "fileId": fid}, 404),
        ("POST", f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStarted", None, 404),
        ("POST", f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStopped", None, 404),
        ("GET", f"/PCCIS/V1/Page/q/0?DocumentID=u{sid}", None, 403),  # viewer routes: like an unknown session
        ("GET", f"/PCCIS/V1/Page/q/0/Attributes?DocumentID=u{sid}", None, 403),
        ("GET", f"/PCCIS/V1/Page/q/0/100x100?DocumentID=u{sid}", None, 403),
        ("GET", f"/PCCIS/V1/Document/q/Attributes?DocumentID=u{sid}", None, 403),
        ("GET", f"/PCCIS/V1/Document/q/0-0/Text?DocumentID=u{sid}", None, 403),
        ("PUT", f"/PCCIS/V1/WorkFile/UploadSession/{upload}", None, 404),
        ("POST", f"/PCCIS/V1/WorkFile/UploadSession/{upload}/save", None, 404),
        ("DELETE", f"/PCCIS/V1/WorkFile/UploadSession/{upload}", None, 404),
        ("POST", f"/archives/A/entities/H:1/create_sessions/{seed_upload}/save.json", None, 404),
        ("DELETE", f"/archives/A/entities/H:1/create_sessions/{seed_upload}.json", None, 404),
        ("HEAD", tus, None, 404),
        ("PATCH", tus, None, 404),
        ("DELETE", tus, None, 404),
        ("GET", tus, None, 404),
        ("GET", "/api_gateway/file-service/rewards/logo.png", None, 404),
        ("GET", "/api_gateway/file-service/rewards/logo.png/versions", None, 404),
        ("DELETE", "/api_gateway/file-service/rewards/logo.png", None, 404),
        ("GET", "/PCCIS/V1/Files/rewards/logo.png", None, 404),
    ]
    tus_headers = {"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    for method, path, json_body, status in checks:
        headers = {**GLOBEX, **(tus_headers if path.startswith("/tus/") else {})}
        if "UploadSession/" in path and method == "PUT":
            headers["Content-Range"] = "0-0"
        resp = await api.request(
            method,
            path,
            json=json_body,
            headers=headers,
            data=None if json_body else (b"x" if method in ("PUT", "PATCH") else None),
        )
        assert resp.status == status, (method, path, resp.status, await resp.text())
    # and globex's own listings are empty
    listing = await (await api.get("/api/QueuedJobs", headers=GLOBEX)).json()
    assert listing["totalCount"] == 0
    # while acme still sees everything
    assert (await api.get(f"/PCCIS/V1/WorkFile/{fid}", headers=ACME)).status == 200
    assert (await api.get(f"/api/QueuedJobs/{job}", headers=ACME)).status == 200
    assert (await api.get(f"/PCCIS/V1/Page/q/0?DocumentID=u{sid}", headers=ACME)).status == 200


async def test_file_service_versions_and_signed_links(client):
    base = "/api_gateway/file-service/rewards/test.png"
    first = await (await client.post(base, data=b"\x89PNG\r\n\x1a\nversion-one")).json()
    assert first["code"] == 200 and first["status"] == "true" and first["message"] == "Successfully uploaded file"
    f = first["file"]
    assert f["name"] == "test.png" and f["namespace"] == "rewards" and f["version"] == 1 and f["latest_version"] == 1
    assert f["acl"] == "PRIVATE" and f["fileSize"] == "19" and f["content_type"] == "image/png"
    for name in ("file_handle", "s3_token", "last_modified", "s3_url"):
        assert f[name]
    # a multipart form upload makes version 2
    form = FormData()
    form.add_field("file", io.BytesIO(b"\x89PNG\r\n\x1a\nversion-two"), filename="test.png", content_type="image/png")
    second = await (await client.post(base, data=form)).json()
    assert second["file"]["version"] == 2 and second["file"]["latest_version"] == 2
    assert await (await client.get(base)).read() == b"\x89PNG\r\n\x1a\nversion-two"
    assert await (await client.get(base + "?version=1")).read() == b"\x89PNG\r\n\x1a\nversion-one"
    versions = await (await client.get(base + "/versions")).json()
    assert [v["version"] for v in versions["versions"]] == [1, 2]
    # the signed link works without credentials, and not once altered or expired
    link = first["secureFilePath"]
    path = link[link.index("/files/signed/") :]
    resp = await client.get(path)
    assert resp.status == 200 and await resp.read() == b"\x89PNG\r\n\x1a\nversion-one"
    assert (await client.get(path.replace("version=1", "version=2"))).status == 403
    assert (await client.get(path[:-1] + ("0" if path[-1] != "0" else "1"))).status == 403
    expired = int(time.time()) - 1
    signature = sign(client.app[SIGNING_KEY], "", "rewards", "test.png", 1, f["file_handle"], expired)
    resp = await client.get(f"/files/signed/rewards/test.png?version=1&tenant=&expires={expired}&signature={signature}")
    assert resp.status == 403 and (await resp.json())["errorCode"] == "LinkExpired"
    # a signature that is not even ASCII is refused, not a server error
    assert (await client.get(path.rsplit("signature=", 1)[0] + "signature=%C3%A9t%C3%A9")).status == 403
    # delete one version, then all
    assert (await client.delete(base + "?version=1")).status == 200
    assert (await client.get(base + "?version=1")).status == 404
    assert (await client.delete(base)).status == 200
    assert (await client.get(base)).status == 404
    # and a link to a deleted file stays dead when a new file takes the same name and version number
    assert (await client.post(base, data=b"\x89PNG\r\n\x1a\nsomeone-else")).status == 200
    resp = await client.get(path)
    assert resp.status == 403 and (await resp.json())["errorCode"] in ("LinkExpired", "InvalidSignature")


async def test_file_service_rejects_bad_names(client):
    for name in ("..%2F..%2Fetc%2Fpasswd", "a%5Cb", "a%00b", "x" * 256):
        resp = await client.post(f"/api_gateway/file-service/rewards/{name}", data=b"x")
        assert resp.status == 400, name
        assert (await resp.json())["errorCode"] == "InvalidFilename"
    resp = await client.post("/PCCIS/V1/Files/bad%20space/a.txt", data=b"x")
    assert resp.status == 400 and (await resp.json())["errorCode"] == "InvalidNamespace"


async def test_queued_jobs(client, worker):
    wf = (await (await client.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(3))).json())["fileId"]
    multi = await (
        await client.post(
            "/v2/contentConverters", json={"input": {"sources": [{"fileId": wf}], "dest": {"format": "png"}}}
        )
    ).json()
    single = await (
        await client.post(
            "/v2/contentConverters", json={"input": {"sources": [{"fileId": wf}], "dest": {"format": "pdf"}}}
        )
    ).json()
    await poll(client, multi["processId"], interval_s=0.05)
    await poll(client, single["processId"], interval_s=0.05)
    job = await (await client.get(f"/api/QueuedJobs/{multi['queuedJobId']}")).json()
    assert job["status"] == "Completed" and len(job["outputFileIds"]) == 3
    resp = await client.get(f"/api/QueuedJobs/OutputFile/{multi['queuedJobId']}")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="job-{multi["queuedJobId"]}.zip"'
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(await resp.read()))) as archive:
        assert archive.namelist() == ["output-0001.png", "output-0002.png", "output-0003.png"]
    resp = await client.get(f"/api/QueuedJobs/OutputFile?id={single['queuedJobId']}")
    assert base64.b64decode(await resp.read()).startswith(b"%PDF")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="job-{single["queuedJobId"]}.pdf"'
    listing = await (await client.get("/api/QueuedJobs?pageSize=1&state=complete")).json()
    assert (
        listing["totalCount"] == 2 and len(listing["items"]) == 1 and listing["items"][0]["id"] == single["queuedJobId"]
    )
    page2 = await (await client.get("/api/QueuedJobs?pageSize=1&page=2&state=complete")).json()
    assert page2["items"][0]["id"] == multi["queuedJobId"]
    assert (await (await client.get("/api/QueuedJobs?state=error")).json())["totalCount"] == 0
    assert (await client.get("/api/QueuedJobs/99999")).status == 404
    assert (await client.get("/api/QueuedJobs/abc")).status == 480


async def test_output_of_a_running_job_is_409(client):
    wf = (await (await client.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1))).json())["fileId"]
    job = (
        await (
            await client.post(
                "/v2/contentConverters", json={"input": {"sources": [{"fileId": wf}], "dest": {"format": "png"}}}
            )
        ).json()
    )["queuedJobId"]
    resp = await client.get(f"/api/QueuedJobs/OutputFile/{job}")  # no worker runs in this test
    assert resp.status == 409 and (await resp.json())["errorCode"] == "JobNotComplete"


async def test_idempotency_key_returns_the_original_process(client):
    wf = (await (await client.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1))).json())["fileId"]
    body = {"input": {"sources": [{"fileId": wf}], "dest": {"format": "png"}}}
    first = await client.post("/v2/contentConverters", json=body, headers={"Idempotency-Key": "batch-7-doc-1"})
    again = await client.post("/v2/contentConverters", json=body, headers={"Idempotency-Key": "batch-7-doc-1"})
    assert (await again.json())["processId"] == (await first.json())["processId"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post(
        "/v2/contentConverters", json={**body, "minSecondsAvailable": 60}, headers={"Idempotency-Key": "batch-7-doc-1"}
    )
    assert other.status == 480 and (await other.json())["errorCode"] == "IdempotencyKeyReused"
    fresh = await client.post("/v2/contentConverters", json=body, headers={"Idempotency-Key": "batch-7-doc-2"})
    assert (await fresh.json())["processId"] != (await first.json())["processId"]


async def test_open_mode_refuses_to_listen_beyond_loopback(env):
    result = subprocess.run(
        [sys.executable, "-m", "service", "web"], cwd=ROOT, capture_output=True, text=True, timeout=30,
        env={**os.environ, **env, "PAGEMILL_HOST": "0.0.0.0"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "refusing to listen beyond loopback" in result.stderr


async def test_batch_cli_converts_a_folder_with_deterministic_names(aiohttp_server, env, worker, tmp_path):
    from service.cli import main

    settings = Settings.from_env({**env, "PAGEMILL_API_KEYS": "acme:acme-key-123"})
    server = await aiohttp_server(create_app(settings))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "alpha.pdf").write_bytes(text_pdf(3))
    (folder / "beta.pdf").write_bytes(text_pdf(1))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    out = tmp_path / "out"
    argv = [
        "convert",
        str(folder),
        "--out",
        str(out),
        "--format",
        "png",
        "--url",
        str(server.make_url("")),
        "--api-key",
        "acme-key-123",
    ]
    names = ["alpha-0001.png", "alpha-0002.png", "alpha-0003.png", "beta.png"]
    code = await asyncio.to_thread(main, argv)
    assert code == 1  # broken.pdf failed
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == names
    # running it again is safe and gives the same names (OUT/.pagemill-batch/ holds the done markers)
    assert await asyncio.to_thread(main, argv) == 1
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == names


async def test_ids_named_inside_a_tenants_own_requests_resolve_only_to_its_own_resources(api, worker):
    # Given acme's work file (a PDF), a PNG for watermarks, a viewing session and an upload session
    fid = (await (await api.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1), headers=ACME)).json())[
        "fileId"
    ]
    png = (await (await api.post("/PCCIS/V1/WorkFile", data=image_bytes("PNG"), headers=ACME)).json())["fileId"]
    acme_sid = (await (await api.post("/PCCIS/V1/ViewingSession", json={}, headers=ACME)).json())["viewingSessionId"]
    acme_upload = (await (await api.post("/PCCIS/V1/WorkFile/UploadSession", json={}, headers=ACME)).json())["session"][
        "id"
    ]
    unknown = "AAAAAAAAAAAAAAAAAAAAAA"

    async def answer(method: str, path: str, **kwargs) -> tuple[int, str]:
        resp = await api.request(method, path, headers={**GLOBEX, **kwargs.pop("headers", {})}, **kwargs)
        # the ids differ between the two requests; everything else must be the same
        text = (await resp.text()).replace(fid, "ID").replace(png, "ID").replace(unknown, "ID")
        return resp.status, text.replace(acme_sid, "SID").replace(acme_upload, "UP")

    async def new_globex_session() -> str:
        return (await (await api.post("/PCCIS/V1/ViewingSession", json={}, headers=GLOBEX)).json())["viewingSessionId"]

    # When globex names acme's ids inside its own requests, each answers exactly as for an unknown id
    pairs = []
    for kind in ("SourceRef", "conversion source", "watermark in a session", "watermark in a conversion"):
        got = []
        for file_id in (fid if "watermark" not in kind else png, unknown):
            if kind == "SourceRef":
                sid = await new_globex_session()
                got.append(
                    await answer(
                        "PUT",
                        f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef",
                        json={"refType": "workFile", "fileId": file_id},
                    )
                )
            elif kind == "conversion source":
                body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": "png"}}}
                got.append(await answer("POST", "/v2/contentConverters", json=body))
            elif kind == "watermark in a session":
                marks = [{"type": "image", "src": file_id}]
                got.append(await answer("POST", "/PCCIS/V1/ViewingSession", json={"watermarks": marks}))
            else:
                dest = {"format": "png", "watermarks": [{"type": "image", "src": file_id}]}
                own = (
                    await (
                        await api.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1), headers=GLOBEX)
                    ).json()
                )["fileId"]
                body = {"input": {"sources": [{"fileId": own}], "dest": dest}}
                got.append(await answer("POST", "/v2/contentConverters", json=body))
        pairs.append((kind, *got))
    # and so do acme's session and upload session in globex's SourceFile and part PUTs
    for kind, path_of in (
        ("SourceFile", lambda sid: f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension=pdf"),
        ("part", lambda up: f"/PCCIS/V1/WorkFile/UploadSession/{up}"),
    ):
        owned = acme_sid if kind == "SourceFile" else acme_upload
        headers = {"Content-Range": "bytes 0-0/1"} if kind == "part" else {}
        got = [await answer("PUT", path_of(i), data=b"%", headers=headers) for i in (owned, unknown)]
        pairs.append((kind, *got))
    for kind, acmes, unknowns in pairs:
        assert acmes == unknowns, kind
        assert acmes[0] >= 400, (kind, acmes)
    # while acme's own requests still resolve them
    sid = (await (await api.post("/PCCIS/V1/ViewingSession", json={}, headers=ACME)).json())["viewingSessionId"]
    resp = await api.put(
        f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef", json={"refType": "workFile", "fileId": fid}, headers=ACME
    )
    assert resp.status == 200


async def test_signed_links_work_without_a_key_and_cover_tenant_and_expiry(api):
    # Given a file stored by acme on a server that needs keys
    stored = await (await api.post("/api_gateway/file-service/docs/a.pdf", data=b"%PDF-1.4 a", headers=ACME)).json()
    link = stored["secureFilePath"]
    path = link[link.index("/files/signed/") :]
    # Then its link works with no credentials at all
    resp = await api.get(path)
    assert resp.status == 200 and await resp.read() == b"%PDF-1.4 a"
    # and not once its tenant or expiry is changed (both are signed)
    query = dict(part.split("=", 1) for part in path.split("?", 1)[1].split("&"))
    for name, value in (("tenant", "globex"), ("expires", str(int(query["expires"]) + 3600))):
        altered = path.replace(f"{name}={query[name]}", f"{name}={value}")
        assert altered != path
        assert (await api.get(altered)).status == 403, name


async def test_a_signed_link_is_bound_to_its_tenant_even_where_another_tenant_holds_the_same_file(api):
    # Given acme's link, and a globex record of the same name naming the very same stored file (same handle,
    # as a deduplicating store would make it): only the tenant in the signed message tells the two apart
    stored = await (await api.post("/api_gateway/file-service/docs/a.pdf", data=b"%PDF-1.4 a", headers=ACME)).json()
    redis = api.app[keys.REDIS]
    acme_key, globex_key = files_key("acme", "docs", "a.pdf"), files_key("globex", "docs", "a.pdf")
    await redis.hset(globex_key, mapping={"latest": 1, "v:1": await redis.hget(acme_key, "v:1")})
    link = stored["secureFilePath"]
    path = link[link.index("/files/signed/") :]
    assert (await api.get(path)).status == 200
    # When the link's tenant is changed to globex, Then it is refused
    resp = await api.get(path.replace("tenant=acme", "tenant=globex"))
    assert resp.status == 403 and (await resp.json())["errorCode"] == "InvalidSignature"


def test_the_front_door_resolves_work_file_ids_in_one_place():
    """Only service/params.py:tenant_workfile looks work files up (uploads.py reads its own record's)."""
    import ast

    callers = set()
    for path in (ROOT / "service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            if call and node.func.attr == "get_workfile":
                callers.add(path.relative_to(ROOT).as_posix())
    assert callers <= {"service/params.py", "service/uploads.py"}, callers


@pytest.mark.parametrize(
    ("setting", "open_groups"),
    [(None, {"metrics", "docs"}), ("none", set()), ("metrics", {"metrics"}), ("docs", {"docs"})],
)
async def test_metrics_and_docs_are_public_only_as_configured(aiohttp_client, env, setting, open_groups):
    # Given a keyed server with PAGEMILL_PUBLIC_ROUTES unset (today's default: both open), none, or one group
    extra = {"PAGEMILL_PUBLIC_ROUTES": setting} if setting else {}
    settings = Settings.from_env({**env, "PAGEMILL_API_KEYS": "acme:acme-key-123", **extra})
    api = await aiohttp_client(create_app(settings))
    groups = {"metrics": ["/metrics"], "docs": ["/openapi.json", "/docs", "/docs/static/swagger-ui.css"]}
    document = await (await api.get("/openapi.json", headers=ACME)).json()
    for group, paths in groups.items():
        for path in paths:
            # Then without a key they answer only when their group is public, and always with one
            resp = await api.get(path)
            assert resp.status == (200 if group in open_groups else 401), (setting, path)
            assert (await api.get(path, headers=ACME)).status == 200, (setting, path)
        # and the OpenAPI document says so
        operation = document["paths"][paths[0]]["get"]
        assert (operation.get("security") == []) == (group in open_groups), (setting, group)
    # while probes and signed links never need a key
    assert (await api.get("/PCCIS/V1/Service/Current/Info")).status == 200
    assert (await api.get("/files/signed/docs/a.pdf?version=1&tenant=&expires=1&signature=x")).status == 403


def test_public_routes_setting_is_validated():
    with pytest.raises(ValueError, match="PAGEMILL_PUBLIC_ROUTES"):
        Settings.from_env({"PAGEMILL_PUBLIC_ROUTES": "metrics,admin"})


async def _ended(api, path: str, headers: dict) -> dict:
    """Poll a process route until it leaves "processing"."""
    for _ in range(300):
        body = await (await api.get(path, headers=headers)).json()
        if body.get("state") != "processing":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(body)


async def test_redaction_and_search_resources_and_ids_are_tenant_scoped(api, worker):
    # Given acme's document, the markup of a redaction creator, a search context and a search task
    fid = (await (await api.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=contacts_pdf(), headers=ACME)).json())[
        "fileId"
    ]
    rules = [{"find": {"type": "regex", "pattern": r"\d{3}-\d{2}-\d{4}"}, "redactWith": {"type": "RectangleRedaction"}}]
    created = await (
        await api.post(
            "/v2/redactionCreators", json={"input": {"source": {"fileId": fid}, "rules": rules}}, headers=ACME
        )
    ).json()
    done = await _ended(api, f"/v2/redactionCreators/{created['processId']}", ACME)
    markup = done["output"]["markupFileId"]
    context = await (
        await api.post(
            "/v2/searchContexts",
            json={"input": {"documentIdentifier": "d", "source": "workFile", "fileId": fid}},
            headers=ACME,
        )
    ).json()
    sid = (await (await api.post("/PCCIS/V1/ViewingSession", json={}, headers=ACME)).json())["viewingSessionId"]
    ref = {"refType": "workFile", "fileId": fid}
    assert (await api.put(f"/PCCIS/V1/ViewingSession/u{sid}/SourceRef", json=ref, headers=ACME)).status == 200
    terms = {"input": {"searchTerms": [{"type": "simple", "pattern": "Wayne"}]}}
    task = await (await api.post(f"/v2/viewingSessions/{sid}/searchTasks", json=terms, headers=ACME)).json()
    await _ended(api, f"/v2/searchTasks/{task['processId']}", ACME)
    own = (await (await api.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=contacts_pdf(), headers=GLOBEX)).json())[
        "fileId"
    ]
    unknown = "AAAAAAAAAAAAAAAAAAAAAA"
    owned = {
        fid: "ID",
        markup: "ID",
        context["contextId"]: "ID",
        task["processId"]: "ID",
        sid: "ID",
        created["processId"]: "ID",
    }

    async def answer(method: str, path: str, json: dict | None = None) -> tuple[int, str]:
        """globex's answer, with every id masked; a process started is followed to its end."""
        resp = await api.request(method, path, json=json, headers=GLOBEX)
        text = await resp.text()
        if method == "POST" and resp.status == 200:
            text = str(
                {
                    k: v
                    for k, v in (await _ended(api, f"{path}/{(await resp.json())['processId']}", GLOBEX)).items()
                    if k in ("state", "errorCode", "errorDetails")
                }
            )
        for raw in (*owned, unknown):
            text = text.replace(raw, "ID")
        return resp.status, text

    # When globex names acme's ids, in routes and inside its own requests, each answers as for an unknown id
    cases = [
        ("GET", "/v2/redactionCreators/{}", lambda i: None, created["processId"]),
        ("GET", "/v2/searchContexts/{}", lambda i: None, context["contextId"]),
        ("GET", "/v2/searchContexts/{}/records?pages=0-", lambda i: None, context["contextId"]),
        ("DELETE", "/v2/searchContexts/{}", lambda i: None, context["contextId"]),
        ("GET", "/v2/searchTasks/{}", lambda i: None, task["processId"]),
        ("GET", "/v2/searchTasks/{}/results", lambda i: None, task["processId"]),
        ("DELETE", "/v2/searchTasks/{}", lambda i: None, task["processId"]),
        ("POST", "/v2/viewingSessions/{}/searchTasks", lambda i: terms, sid),
        ("POST", "/v2/redactionCreators", lambda i: {"input": {"source": {"fileId": i}, "rules": rules}}, fid),
        ("POST", "/PCCIS/V1/MarkupBurner", lambda i: {"input": {"documentFileId": i, "markupFileId": markup}}, fid),
        ("POST", "/PCCIS/V1/MarkupBurner", lambda i: {"input": {"documentFileId": own, "markupFileId": i}}, markup),
        ("POST", "/v2/plainTextRedactors",
         lambda i: {"input": {"source": {"fileId": i}, "markup": {"fileId": markup}, "dest": {"lineEndings": "\n"}}}, fid),
        ("POST", "/v2/plainTextRedactors",
         lambda i: {"input": {"source": {"fileId": own}, "markup": {"fileId": i}, "dest": {"lineEndings": "\n"}}}, markup),
        ("POST", "/v2/searchContexts",
         lambda i: {"input": {"documentIdentifier": "d", "source": "workFile", "fileId": i}}, fid),
    ]  # fmt: skip
    for method, template, body_of, acme_id in cases:
        theirs = await answer(method, template.format(acme_id), body_of(acme_id))
        nobodys = await answer(method, template.format(unknown), body_of(unknown))
        assert theirs == nobodys, (method, template, theirs, nobodys)
        assert theirs[0] >= 400 or "error" in theirs[1], (method, template, theirs)
    # while acme still reads its own
    assert (await api.get(f"/v2/searchTasks/{task['processId']}/results", headers=ACME)).status == 200
    assert (await api.get(f"/v2/searchContexts/{context['contextId']}", headers=ACME)).status == 200
