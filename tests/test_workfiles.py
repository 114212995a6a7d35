"""Work File API on the wire: upload, sniffing, download with ranges, info, delete, errors."""

import hashlib
import io

import aiohttp

from core.settings import Settings
from service import keys
from service.app import create_app
from tests.docgen import image_bytes, text_pdf
from tests.helpers import upload


async def test_upload_returns_id_extension_and_affinity_token(client):
    resp = await client.post("/PCCIS/V1/WorkFile?FileExtension=csv", data=io.BytesIO(b"a,b\n1,2\n"))
    assert resp.status == 200
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"fileId", "fileExtension", "affinityToken"}
    assert len(body["fileId"]) == 22
    assert body["fileExtension"] == "csv"
    assert resp.headers["X-Request-Id"]


async def test_magic_bytes_override_the_given_extension(client):
    assert (await upload(client, text_pdf(1), "txt"))["fileExtension"] == "pdf"
    assert (await upload(client, image_bytes("PNG"), "jpg"))["fileExtension"] == "png"
    # the client's spelling is kept when it names the detected type
    assert (await upload(client, image_bytes("JPEG"), "jpeg"))["fileExtension"] == "jpeg"
    assert (await upload(client, image_bytes("TIFF"), "TIFF"))["fileExtension"] == "tiff"
    assert (await upload(client, image_bytes("GIF"), ""))["fileExtension"] == "gif"
    assert (await upload(client, b"no magic here", ""))["fileExtension"] == "bin"


async def test_extension_with_leading_dot_is_rejected(client):
    resp = await client.post("/PCCIS/V1/WorkFile?FileExtension=.pdf", data=b"x")
    assert resp.status == 480
    body = await resp.json()
    assert body["errorCode"] == "InvalidInput"
    assert body["errorDetails"]["in"] == "query"
    assert body["errorDetails"]["at"] == "FileExtension"


async def test_download_streams_bytes_with_headers_and_ranges(client):
    data = text_pdf(5)
    wf = await upload(client, data, "pdf")
    resp = await client.get(f"/PCCIS/V1/WorkFile/{wf['fileId']}")
    assert resp.status == 200
    assert await resp.read() == data
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Length"] == str(len(data))
    assert resp.headers["Content-Disposition"] == f'attachment; filename="file-{wf["fileId"]}.pdf"'
    assert resp.headers["Accept-Ranges"] == "bytes"

    resp = await client.get(f"/PCCIS/V1/WorkFile/{wf['fileId']}", headers={"Range": "bytes=10-19"})
    assert resp.status == 206
    assert await resp.read() == data[10:20]
    assert resp.headers["Content-Range"] == f"bytes 10-19/{len(data)}"

    resp = await client.get(f"/PCCIS/V1/WorkFile/{wf['fileId']}", headers={"Range": f"bytes={len(data) + 5}-"})
    assert resp.status == 416


async def test_content_disposition_filename(client):
    wf = await upload(client, b"hello", "txt")
    resp = await client.get(f"/PCCIS/V1/WorkFile/{wf['fileId']}?ContentDispositionFilename=report%20%C3%A9.txt")
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"report _.txt\"; filename*=UTF-8''report%20%C3%A9.txt"
    )
    for bad in ("../etc/passwd", "a/b", "a\\b", "x%0Ay", ".."):
        resp = await client.get(f"/PCCIS/V1/WorkFile/{wf['fileId']}?ContentDispositionFilename={bad}")
        assert resp.status == 480, bad
        assert (await resp.json())["errorDetails"]["at"] == "ContentDispositionFilename"


async def test_info_and_delete(client, settings):
    data = image_bytes("PNG")
    wf = await upload(client, data, "png")
    resp = await client.get(f"/PCCIS/V1/WorkFile/{wf['fileId']}/Info")
    info = await resp.json()
    assert info["fileId"] == wf["fileId"]
    assert info["size"] == len(data)
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["contentType"] == "image/png"
    assert info["expirationDateTime"].endswith("Z")

    resp = await client.delete(f"/PCCIS/V1/WorkFile/{wf['fileId']}")
    assert resp.status == 204
    assert not list((settings.storage_dir / "objects").rglob(wf["fileId"]))
    resp = await client.get(f"/PCCIS/V1/WorkFile/{wf['fileId']}")
    assert resp.status == 404
    assert (await resp.json())["errorCode"] == "WorkFileDoesNotExist"
    assert (await client.delete(f"/PCCIS/V1/WorkFile/{wf['fileId']}")).status == 404


async def test_ids_that_are_not_ids_are_rejected_before_touching_storage(client):
    for bad in ("..%2F..%2Fetc%2Fpasswd", "short", "a" * 65, "abc$defghijklmnopq"):
        resp = await client.get(f"/PCCIS/V1/WorkFile/{bad}")
        assert resp.status == 480, bad
        body = await resp.json()
        assert body["errorDetails"] == {"in": "path", "at": "fileId", "expected": {"pattern": "^[A-Za-z0-9_-]{16,64}$"}}
    resp = await client.get("/PCCIS/V1/WorkFile/AAAAAAAAAAAAAAAAAAAAAA")
    assert resp.status == 404


async def test_oversize_upload_is_refused_and_leaves_nothing(aiohttp_client, env):
    settings = Settings.from_env({**env, "PAGEMILL_MAX_UPLOAD_BYTES": "1000"})
    client = await aiohttp_client(create_app(settings))

    async def chunks():
        for _ in range(10):
            yield b"x" * 500  # no Content-Length: the limit is enforced while streaming

    resp = await client.post("/PCCIS/V1/WorkFile", data=chunks())
    assert resp.status == 413
    assert (await resp.json())["errorCode"] == "RequestBodyTooLarge"
    resp = await client.post("/PCCIS/V1/WorkFile", data=b"x" * 1001)
    assert resp.status == 413
    assert not list((settings.storage_dir / "objects").rglob("*"))
    assert not list((settings.storage_dir / "tmp").glob("*"))


async def test_min_seconds_available_extends_lifetime_but_not_beyond_the_cap(client, settings):
    resp = await client.post("/PCCIS/V1/WorkFile?MinSecondsAvailable=999999999", data=b"x")
    wf = await resp.json()
    store_ttl_ms = await client.app[keys.REDIS].pttl(f"pm:wf:{wf['fileId']}")
    assert settings.max_lifetime_s * 1000 - 5000 < store_ttl_ms <= settings.max_lifetime_s * 1000
    resp = await client.post("/PCCIS/V1/WorkFile?MinSecondsAvailable=soon", data=b"x")
    assert resp.status == 480
    assert (await resp.json())["errorDetails"]["at"] == "MinSecondsAvailable"


async def test_affinity_token_offered_by_the_client_is_kept_when_well_formed(client):
    token = "ejN9/kXEYOuken4Pb9ic9hqJK45XIad9LQNgCgQ+BkM="
    resp = await client.post("/PCCIS/V1/WorkFile", data=b"x", headers={"Accusoft-Affinity-Token": token})
    assert (await resp.json())["affinityToken"] == token
    resp = await client.post("/PCCIS/V1/WorkFile", data=b"x", headers={"Accusoft-Affinity-Token": "<script>"})
    assert (await resp.json())["affinityToken"] != "<script>"


async def test_request_id_is_echoed_on_success_errors_and_downloads(client):
    resp = await client.post("/PCCIS/V1/WorkFile", data=b"x", headers={"X-Request-Id": "client-chosen.42"})
    assert resp.headers["X-Request-Id"] == "client-chosen.42"
    file_id = (await resp.json())["fileId"]
    resp = await client.get(f"/PCCIS/V1/WorkFile/{file_id}", headers={"X-Request-Id": "dl-1"})
    assert resp.headers["X-Request-Id"] == "dl-1"
    resp = await client.get("/PCCIS/V1/WorkFile/AAAAAAAAAAAAAAAAAAAAAA", headers={"X-Request-Id": "bad id with spaces"})
    assert resp.status == 404
    assert len(resp.headers["X-Request-Id"]) == 32  # an unsafe client id is replaced


def form(*fields: tuple[str, bytes, str | None]) -> aiohttp.FormData:
    """A multipart/form-data body as browsers and curl -F send it: (name, value, filename) per part."""
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value, filename in fields:
        if filename is None:
            data.add_field(name, value.decode())
        else:
            data.add_field(name, io.BytesIO(value), filename=filename, content_type="application/octet-stream")
    return data


async def test_multipart_upload_stores_the_file_part_only(client):
    # Given a form with a text field before the file, as an HTML form or `curl -F` sends it
    pdf = text_pdf(2)
    body = form(("description", b"quarterly report", None), ("file", pdf, "report.pdf"))
    # When it is posted as a work file
    resp = await client.post("/PCCIS/V1/WorkFile", data=body)
    assert resp.status == 200, await resp.text()
    file_id = (await resp.json())["fileId"]
    # Then exactly the file's bytes are stored, with their own hash and type
    info = await (await client.get(f"/PCCIS/V1/WorkFile/{file_id}/Info")).json()
    assert (info["size"], info["sha256"], info["fileExtension"]) == (len(pdf), hashlib.sha256(pdf).hexdigest(), "pdf")
    assert await (await client.get(f"/PCCIS/V1/WorkFile/{file_id}")).read() == pdf


async def test_multipart_file_name_gives_the_extension_when_nothing_else_does(client):
    resp = await client.post("/PCCIS/V1/WorkFile", data=form(("upload", b"a,b\n1,2\n", "Sales.CSV")))
    assert (await resp.json())["fileExtension"] == "csv"
    # FileExtension still wins over the part's name, and magic bytes over both
    resp = await client.post("/PCCIS/V1/WorkFile?FileExtension=txt", data=form(("upload", b"a,b\n", "Sales.CSV")))
    assert (await resp.json())["fileExtension"] == "txt"
    resp = await client.post("/PCCIS/V1/WorkFile", data=form(("upload", text_pdf(1), "scan.png")))
    assert (await resp.json())["fileExtension"] == "pdf"


async def test_empty_uploads_are_refused_with_a_reason(client, settings):
    cases = [
        (b"", "the request body is empty"),
        (form(("file", b"", "empty.pdf")), "the request body is empty"),
        (form(("note", b"no file here", None)), "no file part"),
    ]
    for data, reason in cases:
        resp = await client.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=data)
        assert resp.status == 480, await resp.text()
        body = await resp.json()
        assert body["errorCode"] == "InvalidInput"
        assert body["errorDetails"] == {"in": "body", "at": "body", **body["errorDetails"]}
        assert reason in body["message"]
    # and nothing was kept
    assert not list((settings.storage_dir / "objects").rglob("*"))
    assert not list((settings.storage_dir / "tmp").glob("*"))
