"""Walk every example request of the PrizmDoc viewing-session seed document over real HTTP."""

import io

import aiohttp
import pytest

from core.settings import Settings
from service.app import create_app
from tests.docgen import text_pdf
from tests.helpers import wire

SEED_POST = {
    "tenantId": "my application name",
    "externalId": "my-unique-document-name.docx",
    "render": {"html5": {"alwaysUseRaster": False}},
    "minSecondsAvailable": 1500,
    "watermarks": [
        {
            "type": "text",
            "opacity": 0.6,
            "text": "jdoe\n67.79.169.114\n11/13/2014 2:24 PM\nNOT FOR DISTRIBUTION",
            "color": "red",
            "fontFamily": "Consolas",
            "fontSize": "16pt",
            "fontWeight": "bold",
            "verticalAlign": "bottom",
            "horizontalAlign": "right",
        }
    ],
}


@pytest.fixture
async def base_url(aiohttp_server, env):
    settings = Settings.from_env({**env, "PAGEMILL_SESSION_MAX_S": "1500"})  # the seed's configured max
    server = await aiohttp_server(create_app(settings))
    return str(server.make_url("")).rstrip("/")


async def test_seed_viewing_session_examples(base_url):
    async with aiohttp.ClientSession(base_url) as http:
        # POST ViewingSession (the seed's example body)
        async with http.post("/PCCIS/V1/ViewingSession", json=SEED_POST) as resp:
            assert resp.status == 200 and resp.content_type == "application/json"
            created = await resp.json()
        assert set(created) == {"viewingSessionId", "affinityToken"}
        sid = created["viewingSessionId"]

        # GET ViewingSession: the posted properties plus creationTime
        async with http.get(f"/PCCIS/V1/ViewingSession/u{sid}") as resp:
            body = await resp.json()
        for name in ("tenantId", "externalId", "minSecondsAvailable", "watermarks"):
            assert body[name] == SEED_POST[name]
        for name in ("origin", "render", "password", "watermarkText", "attachmentIndex", "attachmentDisplayName",
                     "countOfInitialPages", "documentSource", "documentExtension", "serverCaching",
                     "startConverting", "contentType", "pageContentEncryption", "creationTime"):  # fmt: skip
            assert name in body, name
        assert body["render"]["html5"] == {"alwaysUseRaster": False, "rasterResolution": 150}

        # minSecondsAvailable over the configured max (1500)
        body = {
            "tenantId": "my application name",
            "externalId": "my-unique-document-name.docx",
            "minSecondsAvailable": 3500,
        }
        async with http.post("/PCCIS/V1/ViewingSession", json=body) as resp:
            assert resp.status == 480
            assert wire(await resp.json()) == {
                "errorCode": "InvalidInput",
                "errorDetails": {
                    "in": "body",
                    "at": "minSecondsAvailable",
                    "expected": {"type": "integer", "greaterThanOrEqualTo": 0, "lessThanOrEqualTo": 1500},
                },
            }

        # minSecondsAvailable with serverCaching "full"
        body = {**body, "minSecondsAvailable": 500, "serverCaching": "full"}
        async with http.post("/PCCIS/V1/ViewingSession", json=body) as resp:
            assert resp.status == 480
            assert wire(await resp.json()) == {
                "errorCode": "InputNotSupportedWithServerCachingEnabled",
                "errorDetails": {"in": "body", "at": "minSecondsAvailable"},
            }

        # PUT SourceFile?FileExtension=doc: empty response
        async with http.put(
            f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension=doc",
            data=io.BytesIO(b"\xd0\xcf\x11\xe0 legacy word bytes"),
        ) as resp:
            assert resp.status == 200 and await resp.read() == b""

        # GET SourceFile with ContentDispositionFilename: the extension is added
        async with http.get(
            f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile?ContentDispositionFilename=MonthlySalesReport"
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/msword"
            assert resp.headers["Content-Disposition"] == 'attachment; filename="MonthlySalesReport.doc"'

        # GET FileId
        async with http.get(f"/PCCIS/V1/ViewingSession/u{sid}/FileId") as resp:
            file_id = (await resp.json())["fileId"]

        # SessionStarted: empty response
        async with http.post(
            f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStarted", json={"viewer": "HTML5"}
        ) as resp:
            assert resp.status == 200 and await resp.read() == b""

        # SourceRef onto a new session, then CannotChangeDocument, and NotFound
        async with http.post("/PCCIS/V1/ViewingSession", json={}) as resp:
            other = (await resp.json())["viewingSessionId"]
        ref = {"refType": "workFile", "fileId": file_id}
        async with http.put(f"/PCCIS/V1/ViewingSession/u{other}/SourceRef", json=ref) as resp:
            assert resp.status == 200 and await resp.read() == b""
        async with http.put(f"/PCCIS/V1/ViewingSession/u{other}/SourceRef", json=ref) as resp:
            assert resp.status == 480
            assert wire(await resp.json()) == {
                "errorCode": "CannotChangeDocument",
                "errorDetails": {"in": "body", "at": "fileId"},
            }
        async with http.post("/PCCIS/V1/ViewingSession", json={}) as resp:
            third = (await resp.json())["viewingSessionId"]
        async with http.put(
            f"/PCCIS/V1/ViewingSession/u{third}/SourceRef",
            json={"refType": "workFile", "fileId": "mUiXiqsQuevJKO9Swa32Bd"},
        ) as resp:
            assert resp.status == 480
            assert wire(await resp.json()) == {"errorCode": "NotFound", "errorDetails": {"in": "body", "at": "fileId"}}
        async with http.get(f"/PCCIS/V1/ViewingSession/u{third}/FileId") as resp:
            assert resp.status == 480
            assert wire(await resp.json()) == {
                "errorCode": "DocumentNotProvidedYet",
                "errorDetails": {"in": "body", "at": "fileId"},
            }

        # SessionStopped with httpStatus 504: later requests get 504 and the message
        stop = {"endUserMessage": "Session no longer available", "httpStatus": 504}
        async with http.post(f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStopped", json=stop) as resp:
            assert resp.status == 200
        async with http.get("/PCCIS/V1/Page/q/0", params={"DocumentID": f"u{sid}"}) as resp:
            assert resp.status == 504 and resp.reason == "Session no longer available"

        # DELETE: caching "none" -> 204; unknown -> 404; caching "full" -> 580
        async with http.post("/PCCIS/V1/ViewingSession", json={"serverCaching": "none"}) as resp:
            private = (await resp.json())["viewingSessionId"]
        async with http.delete(f"/PCCIS/V1/ViewingSession/u{private}") as resp:
            assert resp.status == 204
        async with http.delete("/PCCIS/V1/ViewingSession/u8091681f-15bf-4150-94a0-3ff7f2acd42d") as resp:
            assert resp.status == 404
        async with http.delete(f"/PCCIS/V1/ViewingSession/u{other}") as resp:
            assert resp.status == 580
            assert resp.content_type == "application/json"
            assert wire(await resp.json()) == {"errorCode": "CannotDeleteCachedViewingSession"}


async def test_seed_session_ids_with_dashes_are_accepted_as_ids(base_url):
    # The seed's ids look like UUIDs; ours are longer URL-safe strings, and both shapes are ids.
    async with aiohttp.ClientSession(base_url) as http:
        async with http.get("/PCCIS/V1/ViewingSession/u8091681f-15bf-4150-94a0-3ff7f2acd42d") as resp:
            assert resp.status == 404
        async with http.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1)) as resp:
            assert resp.status == 200
