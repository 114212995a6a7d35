"""The viewing session id as the viewer's credential: what it opens without an API key (that session's
viewer routes and the viewer page), what it never opens, PAGEMILL_VIEWER_REQUIRES_KEY, and the routes
the browser viewer adds (IncludePageSizes, the session's PDF, the page and its files)."""

import base64
import io
import json

import pypdf
import pytest
from aiohttp.test_utils import make_mocked_request
from redis.asyncio import Redis

from core import keyspace
from core.records import now_ms
from core.sessions import SessionStore
from core.settings import Settings
from service.api.viewer import estimate_page_count
from service.app import create_app
from service.auth import NO_TENANT, Claim, claimed_tenant, session_claim
from tests.docgen import corrupt_pdf, image_bytes, text_pdf
from tests.helpers import wire

ACME = {"Acs-Api-Key": "acme-key-123"}
GLOBEX = {"Acs-Api-Key": "globex-key-456"}
KEYS = "acme:acme-key-123,globex:globex-key-456"


@pytest.fixture
async def api(aiohttp_client, env):
    return await aiohttp_client(create_app(Settings.from_env({**env, "PAGEMILL_API_KEYS": KEYS})))


async def new_session(api, document: bytes, extension: str, **props) -> str:
    resp = await api.post("/PCCIS/V1/ViewingSession", json=props, headers=ACME)
    sid = (await resp.json())["viewingSessionId"]
    resp = await api.put(f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension={extension}", data=document,
                         headers=ACME)  # fmt: skip
    assert resp.status == 200, await resp.text()
    return sid


def viewer_routes(sid: str) -> list[str]:
    return [
        f"/PCCIS/V1/Page/q/1?DocumentID=u{sid}",
        f"/PCCIS/V1/Page/q/0?DocumentID=u{sid}&ContentType=jpeg&Scale=0.5",
        f"/PCCIS/V1/Page/q/2/100x100?DocumentID=u{sid}",
        f"/PCCIS/V1/Page/q/0/Attributes?DocumentID=u{sid}",
        f"/PCCIS/V1/Document/q/Attributes?DocumentID=u{sid}",
        f"/PCCIS/V1/Document/q/0-2/Text?DocumentID=u{sid}",
        f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile",
        f"/PCCIS/V1/ViewingSession/u{sid}/Pdf",
    ]


async def test_a_session_id_opens_its_viewer_routes_and_nothing_else(api, worker):
    # Given a keyed server and acme's session on a 3-page PDF
    document = text_pdf(3)
    sid = await new_session(api, document, "pdf")
    # When a browser without any key asks for that session's viewer routes
    for path in viewer_routes(sid):
        resp = await api.get(path)
        # Then each answers as it does for acme's own key
        assert resp.status == 200, (path, resp.status, await resp.text())
        assert resp.status == (await api.get(path, headers=ACME)).status
    assert await (await api.get(f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile")).read() == document
    # (also with the id base64-encoded, the other DocumentID form)
    encoded = base64.urlsafe_b64encode(sid.encode()).decode().rstrip("=")
    assert (await api.get(f"/PCCIS/V1/Page/q/0/Attributes?DocumentID=e{encoded}")).status == 200
    # But the id opens nothing else: not the session's properties (they may hold its password), its
    # work file, changes to it, its deletion, other sessions, or any other route
    wf = (await (await api.get(f"/PCCIS/V1/ViewingSession/u{sid}/FileId", headers=ACME)).json())["fileId"]
    for method, path in [
        ("GET", f"/PCCIS/V1/ViewingSession/u{sid}"),
        ("GET", f"/PCCIS/V1/ViewingSession/u{sid}/FileId"),
        ("DELETE", f"/PCCIS/V1/ViewingSession/u{sid}"),
        ("PUT", f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile"),
        ("POST", f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStopped"),
        ("POST", f"/PCCIS/V1/ViewingSession/u{sid}/Notification/SessionStarted"),
        ("GET", f"/PCCIS/V1/WorkFile/{wf}"),
        ("GET", f"/PCCIS/V1/WorkFile/{wf}/Info"),
        ("POST", "/PCCIS/V1/ViewingSession"),
        ("POST", f"/PCCIS/V1/WorkFile?DocumentID=u{sid}"),
        ("GET", f"/api/QueuedJobs?DocumentID=u{sid}"),
    ]:
        resp = await api.request(method, path)
        assert resp.status == 401, (method, path, resp.status)
    # and a request that sends a key is judged by its key alone
    assert (await api.get(viewer_routes(sid)[0], headers={"Acs-Api-Key": "wrong-key-1"})).status == 401
    assert (await api.get(viewer_routes(sid)[0], headers=GLOBEX)).status == 403  # another tenant's session


async def test_an_unknown_session_id_is_an_expired_session(api):
    # Given no session with this (well-formed) id
    sid = "A" * 86
    # Then viewer routes answer as for an expired session, and the source route as for an unknown one
    resp = await api.get(f"/PCCIS/V1/Page/q/0?DocumentID=u{sid}")
    assert resp.status == 403 and resp.headers["Accusoft-Status-Number"] == "403"
    assert wire(await resp.json()) == {"errorCode": "ViewingSessionExpired"}
    assert (await api.get(f"/PCCIS/V1/ViewingSession/u{sid}/SourceFile")).status == 404
    # and an id that is not session-shaped gets no grant: a key is needed
    assert (await api.get("/PCCIS/V1/Page/q/0?DocumentID=u..%2F..")).status == 401
    assert (await api.get("/PCCIS/V1/Page/q/0")).status == 401


async def test_viewer_requires_key_turns_the_grant_off(aiohttp_client, env, worker):
    settings = Settings.from_env({**env, "PAGEMILL_API_KEYS": KEYS, "PAGEMILL_VIEWER_REQUIRES_KEY": "true"})
    api = await aiohttp_client(create_app(settings))
    sid = await new_session(api, text_pdf(3), "pdf")
    for path in [*viewer_routes(sid), f"/viewer?session={sid}", "/viewer/static/viewer.js"]:
        assert (await api.get(path)).status == 401, path
    assert (await api.get(viewer_routes(sid)[0], headers=ACME)).status == 200


async def test_the_viewer_page_and_its_files(api):
    sid = "B" * 86
    # The page needs no key; it preloads the page it opens at, as the viewer will fetch it
    resp = await api.get(f"/viewer?session={sid}&page=5")
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    assert f'href="/PCCIS/V1/Page/q/4?DocumentID=u{sid}"' in page
    assert '<script type="module" src="/viewer/static/viewer.js">' in page
    # nothing from elsewhere may run or load in it, and its address (the session id) is never sent on
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    # a page address without a usable session preloads nothing (the page then says what is missing)
    for query in ("", "?session=%22%3E%3Cscript%3E", "?session=" + sid + "&page=x"):
        text = await (await api.get("/viewer" + query)).text()
        assert ("/PCCIS/V1/Page/q/" in text) == query.endswith("page=x"), query
        assert "<script>" not in text
    # Every file the page names is served (offline: nothing from a CDN), and nothing else
    for name, media in [("viewer.js", "text/javascript"), ("viewer.css", "text/css"), ("pages.js", "text/javascript")]:
        resp = await api.get(f"/viewer/static/{name}")
        assert resp.status == 200 and resp.content_type == media, name
    for name in ("viewer.html", "..%2Fapi%2Fui.py", "nope.js"):
        assert (await api.get(f"/viewer/static/{name}")).status == 404, name
    for asset in ("api.js", "layout.js", "status.js", "thumbs.js", "printing.js", "viewer.css", "viewer.js"):
        assert f"/viewer/static/{asset}" in page, asset
    assert "http://" not in page and "https://" not in page


async def test_include_page_sizes(api, worker):
    # Given a document whose pages differ in size
    sid = await new_session(api, _mixed_pdf(), "pdf")
    url = f"/PCCIS/V1/Document/q/Attributes?DocumentID=u{sid}&IncludePageSizes=true"
    body = await (await api.get(url)).json()
    # Then every page's size comes with the real count, at the resolution page attributes use
    assert body["pageCount"] == 2 and body["pageCountConfidence"] == 100
    assert body["imageResolution"] == 150
    assert body["pageSizes"] == [[1275, 1650], [1650, 1275]]
    for n, size in enumerate(body["pageSizes"]):
        attrs = await (await api.get(f"/PCCIS/V1/Page/q/{n}/Attributes?DocumentID=u{sid}")).json()
        assert [attrs["imageWidth"], attrs["imageHeight"]] == size
    # without it, the answer is PrizmDoc's
    plain = await (await api.get(f"/PCCIS/V1/Document/q/Attributes?DocumentID=u{sid}")).json()
    assert plain == {"pageCount": 2, "pageCountConfidence": 100}
    resp = await api.get(url.replace("=true", "=yes"))
    assert resp.status == 480 and (await resp.json())["errorDetails"]["at"] == "IncludePageSizes"


def _mixed_pdf() -> bytes:
    """A portrait Letter page, then a landscape one."""
    out = pypdf.PdfWriter()
    out.append(pypdf.PdfReader(io.BytesIO(text_pdf(1))))
    out.append(pypdf.PdfReader(io.BytesIO(text_pdf(1, width_pt=792, height_pt=612))))
    buf = io.BytesIO()
    out.write(buf)
    return buf.getvalue()


async def test_the_session_pdf(api, worker):
    # A PDF session's PDF is its original
    document = text_pdf(2)
    sid = await new_session(api, document, "pdf")
    resp = await api.get(f"/PCCIS/V1/ViewingSession/u{sid}/Pdf?ContentDispositionFilename=report")
    assert resp.status == 200 and await resp.read() == document
    assert resp.content_type == "application/pdf"
    assert 'filename="report.pdf"' in resp.headers["Content-Disposition"]
    # an image has no PDF here (HEAD tells the viewer whether to offer one)
    sid = await new_session(api, image_bytes("png"), "png")
    resp = await api.get(f"/PCCIS/V1/ViewingSession/u{sid}/Pdf")
    assert resp.status == 404 and wire(await resp.json()) == {"errorCode": "PdfNotAvailable"}
    assert (await api.head(f"/PCCIS/V1/ViewingSession/u{sid}/Pdf")).status == 404
    # a session without its document yet says so
    sid = (await (await api.post("/PCCIS/V1/ViewingSession", json={}, headers=ACME)).json())["viewingSessionId"]
    resp = await api.get(f"/PCCIS/V1/ViewingSession/u{sid}/Pdf")
    assert resp.status == 480 and (await resp.json())["errorCode"] == "DocumentNotProvidedYet"


async def test_viewer_errors_reach_a_keyless_viewer(api, worker):
    # The states the viewer shows come from the same answers a keyed client gets
    sid = await new_session(api, corrupt_pdf(), "pdf")
    resp = await api.get(f"/PCCIS/V1/Page/q/0?DocumentID=u{sid}")
    assert resp.status == 580 and resp.headers["Accusoft-Status-Number"] == "5005"


def test_page_count_estimate_reads_past_a_long_kids_array():
    # A root /Pages dictionary whose /Count follows 117 kids (as the test documents and many writers
    # put it) still gives the viewer its estimate before PDFium has opened the file
    for pages in (1, 7, 117, 2000):
        document = text_pdf(pages, lines=1)
        assert estimate_page_count(document[: 256 * 1024], document[-256 * 1024 :]) == pages
    # and a /Count in another object is not read as the document's
    other = b"1 0 obj\n<< /Type /Pages /Kids [] >>\nendobj\n2 0 obj\n<< /Count 99 >>\nendobj\n"
    assert estimate_page_count(other, b"") is None


async def test_a_search_task_is_open_to_its_own_session_only(redis_url):
    # Given two sessions of one tenant and a search task of the first, recorded as the process
    # framework records it (its type, and the session in its params)
    redis = Redis.from_url(redis_url)
    views = SessionStore(redis)
    first, second = "F" * 86, "S" * 86
    for sid in (first, second):
        await views.create(sid, {}, now_ms(), now_ms() + 60_000, "acme")
    task, conversion = "T" * 22, "C" * 22
    await redis.hset(keyspace.process(task), mapping={"type": "SearchTask", "params": json.dumps({"sessionId": first})})
    await redis.hset(keyspace.process(conversion), mapping={"type": "ContentConversion", "params": "{}"})
    try:
        # Then the task's results are the first session's (its tenant's) to read without a key
        assert await claimed_tenant(views, Claim(first, task)) == "acme"
        assert await claimed_tenant(views, Claim(first)) == "acme"
        # and nobody else's: another session's id, another kind of process, an unknown one, a gone session
        for claim in (Claim(second, task), Claim(first, conversion), Claim(first, "U" * 22), Claim("G" * 86, task)):
            assert await claimed_tenant(views, claim) == NO_TENANT, claim
    finally:
        await redis.aclose()


def test_search_routes_are_claimed_with_their_session():
    def claim(method: str, path: str) -> Claim | None:
        return session_claim(make_mocked_request(method, path))

    sid = "F" * 86
    assert claim("POST", f"/v2/viewingSessions/{sid}/searchTasks") == Claim(sid)
    assert claim("GET", f"/v2/searchTasks/{'T' * 22}/results?DocumentID=u{sid}&limit=5") == Claim(sid, "T" * 22)
    assert claim("GET", f"/v2/searchTasks/{'T' * 22}?DocumentID=u{sid}") == Claim(sid, "T" * 22)
    for method, path in [
        ("GET", f"/v2/searchTasks/{'T' * 22}/results"),  # no session named: a key is needed
        ("DELETE", f"/v2/searchTasks/{'T' * 22}?DocumentID=u{sid}"),
        ("POST", f"/v2/viewingSessions/{sid}/searchTasks/x"),
        ("POST", "/v2/viewingSessions/short/searchTasks"),
        ("GET", f"/v2/viewingSessions/{sid}/searchTasks"),
        ("POST", f"/PCCIS/V1/Page/q/0?DocumentID=u{sid}"),
        ("GET", f"/v2/contentConverters/{'T' * 22}?DocumentID=u{sid}"),
    ]:
        assert claim(method, path) is None, (method, path)
