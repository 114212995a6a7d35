"""Search: PDFium character boxes (unit), search contexts and search tasks end to end, the Text
route's character positions."""

import asyncio
import ctypes
import time

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from core.settings import Settings
from schemas.search import compile_pattern
from service.app import create_app
from tests.conftest import running_worker
from tests.docgen import PEOPLE, contacts_pdf, lines_pdf, text_pdf
from tests.helpers import upload, wire
from tests.test_viewing import new_session, put_source
from workers.render.glyphs import NO_BOX, find_matches, line_rects, read_glyphs

SSN = r"\d\d\d-\d\d-\d\d\d\d"


def contains(outer: dict | tuple, inner: tuple) -> bool:
    ox, oy, ow, oh = (outer["x"], outer["y"], outer["width"], outer["height"]) if isinstance(outer, dict) else outer
    x, y, w, h = inner
    eps = 0.01
    return ox - eps <= x and oy - eps <= y and x + w <= ox + ow + eps and y + h <= oy + oh + eps


# --- PDFium character boxes ----------------------------------------------------------------------
def test_glyphs_are_the_text_pdfium_extracts_with_one_box_per_character():
    pdf = pdfium.PdfDocument(text_pdf(2))
    page = pdf[1]
    glyphs = read_glyphs(page)
    assert glyphs.text == page.get_textpage().get_text_range()
    assert len(glyphs.loose) == len(glyphs.ink) == len(glyphs.text)
    assert (glyphs.width, glyphs.height) == (612, 792)
    # the generated line breaks have no box; every letter has one inside the page
    for ch, box in zip(glyphs.text, glyphs.loose, strict=True):
        if ch in "\r\n":
            assert box == NO_BOX
        elif ch.isalnum():
            assert box[2] > 0 and box[3] > 0 and 0 <= box[0] <= 612 and 0 <= box[1] <= 792
    # "Page 2" is the 28pt title 90pt below the top: its "P" starts at x=72 and its box spans the baseline
    p = glyphs.loose[0]
    assert abs(p[0] - 72) < 1.5 and p[1] < 90 < p[1] + p[3]


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_boxes_follow_the_displayed_page_as_pdfium_maps_it(rotation):
    pdf = pdfium.PdfDocument(text_pdf(1))
    page = pdf[0]
    page.set_rotation(rotation)
    glyphs = read_glyphs(page)
    assert (glyphs.width, glyphs.height) == ((792, 612) if rotation in (90, 270) else (612, 792))
    textpage = page.get_textpage()
    for i in (0, 10, 200):
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        pdfium_c.FPDFText_GetCharBox(textpage.raw, i, left, right, bottom, top)
        w, h = int(glyphs.width * 100), int(glyphs.height * 100)
        corners = []
        for x, y in ((left.value, top.value), (right.value, bottom.value)):
            dx, dy = ctypes.c_int(), ctypes.c_int()
            pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, w, h, 0, x, y, dx, dy)
            corners.append((dx.value / 100, dy.value / 100))
        xs, ys = sorted(c[0] for c in corners), sorted(c[1] for c in corners)
        expected = (xs[0], ys[0], xs[1] - xs[0], ys[1] - ys[0])
        assert all(abs(a - b) < 0.02 for a, b in zip(glyphs.ink[i], expected, strict=True)), (glyphs.ink[i], expected)


def test_matches_hug_their_glyphs_one_rectangle_per_line():
    pdf = pdfium.PdfDocument(contacts_pdf())
    glyphs = read_glyphs(pdf[0])
    matches = find_matches(glyphs, compile_pattern(SSN))
    assert [m.text for m in matches] == [ssn for _, ssn, _ in PEOPLE[:4]]
    for m in matches:
        (rect,) = m.rects
        for i in range(m.start, m.end):
            assert contains(rect, glyphs.ink[i]) and contains(rect, glyphs.loose[i])
        # ...and nothing else: the "SSN: " before it is outside
        assert rect[0] > glyphs.loose[m.start - 2][0] + glyphs.loose[m.start - 2][2] - 0.01
        assert rect[2] < 80 and 8 < rect[3] < 16
    # a match across a line break gets one rectangle per line
    wrapped = find_matches(glyphs, compile_pattern(r"Peter Parker\s+SSN"))
    assert len(wrapped) == 1 and len(wrapped[0].rects) == 2
    assert wrapped[0].rects[1][1] > wrapped[0].rects[0][1] + 10
    assert line_rects(glyphs, 0, 0) == []


def test_javascript_named_groups_and_case():
    assert compile_pattern(r"(?<year>\d{4})").match("2024").group("year") == "2024"
    assert compile_pattern("peter", case_sensitive=False).search("Peter")
    assert not compile_pattern("peter").search("Peter")


# --- search contexts -------------------------------------------------------------------------------
async def poll_context(client, context_id: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        resp = await client.get(f"/v2/searchContexts/{context_id}")
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        if body["state"] != "processing":
            return body
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def test_search_context_records_every_page_text(client, worker):
    wf = await upload(client, contacts_pdf())
    body = {"input": {"documentIdentifier": wf["fileId"], "source": "workFile", "fileId": wf["fileId"]}}
    resp = await client.post("/v2/searchContexts", json=body)
    assert resp.status == 200, await resp.text()
    created = await resp.json()
    assert created["state"] == "processing" and created["input"] == body["input"] and "processId" not in created
    done = await poll_context(client, created["contextId"])
    assert done["state"] == "complete" and done["percentComplete"] == 100
    records = await (await client.get(f"/v2/searchContexts/{created['contextId']}/records?pages=0-")).json()
    assert [p["pageIndex"] for p in records["pages"]] == [0, 1]
    assert "Peter Parker" in records["pages"][0]["text"] and "Selina Kyle" in records["pages"][1]["text"]
    one = await (await client.get(f"/v2/searchContexts/{created['contextId']}/records?pages=1")).json()
    assert [p["pageIndex"] for p in one["pages"]] == [1]
    # the records are what PDFium extracts
    pdf = pdfium.PdfDocument(contacts_pdf())
    assert records["pages"][0]["text"] == pdf[0].get_textpage().get_text_range()
    for bad in ("", "x", "3-1", "-2", "1,a"):
        resp = await client.get(f"/v2/searchContexts/{created['contextId']}/records", params={"pages": bad})
        assert resp.status == 480 and (await resp.json())["errorDetails"]["at"] == "pages", bad
    # a search context is not a conversion, and a conversion's poll does not show it
    assert (await client.get(f"/v2/contentConverters/{created['contextId']}")).status == 404
    assert (await client.delete(f"/v2/searchContexts/{created['contextId']}")).status == 204
    assert (await client.get(f"/v2/searchContexts/{created['contextId']}")).status == 404


async def test_search_context_validation(client):
    wf = await upload(client, contacts_pdf())
    good = {"documentIdentifier": "doc", "source": "workFile", "fileId": wf["fileId"]}
    cases = [
        ({**good, "fileId": "non-existent-id"}, "ResourceNotFound", "input.fileId"),
        ({**good, "fileId": "A" * 22}, "ResourceNotFound", "input.fileId"),
        ({**good, "source": "upload"}, "InvalidInput", "input.source"),
        ({k: v for k, v in good.items() if k != "documentIdentifier"}, "InvalidInput", "input.documentIdentifier"),
        ({**good, "documentIdentifier": ""}, "InvalidInput", "input.documentIdentifier"),
        ({**good, "extra": 1}, "InvalidInput", "input.extra"),
    ]
    for body, code, at in cases:
        resp = await client.post("/v2/searchContexts", json={"input": body})
        assert resp.status == 480, (body, await resp.text())
        answer = wire(await resp.json())
        assert (answer["errorCode"], answer["errorDetails"]["at"]) == (code, at), answer


# --- search tasks ----------------------------------------------------------------------------------
async def session_with(client, data: bytes) -> str:
    sid = await new_session(client)
    await put_source(client, sid, data)
    return sid


async def all_results(client, process_id: str, limit: int, timeout_s: float = 120) -> tuple[list[dict], int]:
    """Page through the results like a viewer: follow continueToken until it is gone."""
    deadline = time.monotonic() + timeout_s
    token, results, calls = None, [], 0
    while True:
        params = {"limit": str(limit), **({"continueToken": token} if token else {})}
        resp = await client.get(f"/v2/searchTasks/{process_id}/results", params=params)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        calls += 1
        assert len(body["results"]) <= limit
        results += body["results"]
        token = body.get("continueToken")
        if token is None:
            assert body["state"] == "complete"
            return results, calls
        assert time.monotonic() < deadline
        if not body["results"]:
            await asyncio.sleep(0.05)


async def test_search_task_finds_every_match_with_its_rectangles(client, worker):
    sid = await session_with(client, contacts_pdf())
    terms = [{"type": "simple", "pattern": SSN}, {"type": "simple", "pattern": "peter parker"}]
    resp = await client.post(f"/v2/viewingSessions/{sid}/searchTasks", json={"input": {"searchTerms": terms}})
    assert resp.status == 200, await resp.text()
    task = await resp.json()
    assert task["state"] == "processing" and task["input"]["searchTerms"][1]["caseSensitive"] is False
    results, _ = await all_results(client, task["processId"], limit=2)
    assert [r["id"] for r in results] == list(range(len(results)))
    ssns = [r for r in results if r["searchTermIndex"] == 0]
    names = [r for r in results if r["searchTermIndex"] == 1]
    assert [(r["pageIndex"], r["text"]) for r in ssns] == [(0, s) for _, s, _ in PEOPLE[:4]] + [
        (1, PEOPLE[4][1]),
        (1, "999-88-7777"),
    ]
    assert [(r["pageIndex"], r["text"]) for r in names] == [(0, "Peter Parker"), (0, "Peter Parker")]
    pdf = pdfium.PdfDocument(contacts_pdf())
    for r in results:
        glyphs = read_glyphs(pdf[r["pageIndex"]])
        start = r["startIndexInPage"]
        assert glyphs.text[start : start + len(r["text"])] == r["text"]
        assert r["pageData"] == {"width": 612, "height": 792}
        (line,) = r["lineRectangles"]
        assert line == r["boundingRectangle"]
        for i in range(start, start + len(r["text"])):
            if glyphs.ink[i] != NO_BOX:
                assert contains(line, glyphs.ink[i])
        assert r["text"] in r["context"]
    assert (await (await client.get(f"/v2/searchTasks/{task['processId']}")).json())["state"] == "complete"


async def test_search_task_over_117_pages_is_paged_and_complete(client, worker):
    sid = await session_with(client, text_pdf(117))
    body = {"input": {"searchTerms": [{"type": "simple", "pattern": "lazy dog", "caseSensitive": True}]}}
    task = await (await client.post(f"/v2/viewingSessions/{sid}/searchTasks", json=body)).json()
    results, calls = await all_results(client, task["processId"], limit=500)
    assert len(results) == 117 * 40 and calls >= 10
    assert len({r["id"] for r in results}) == len(results)
    per_page = {}
    for r in results:
        per_page[r["pageIndex"]] = per_page.get(r["pageIndex"], 0) + 1
    assert per_page == dict.fromkeys(range(117), 40)
    # line n of every page is 130 + 15 (n - 1) points below the top: the rectangles say so
    last = [r for r in results if r["pageIndex"] == 116]
    ys = [r["boundingRectangle"]["y"] for r in last]
    assert ys == sorted(ys)
    for n, r in enumerate(last, start=1):
        baseline = 130 + 15 * (n - 1)
        rect = r["boundingRectangle"]
        assert rect["y"] < baseline < rect["y"] + rect["height"], (n, rect)


async def test_search_task_validation(client, worker):
    sid = await session_with(client, contacts_pdf())
    url = f"/v2/viewingSessions/{sid}/searchTasks"
    cases = [
        ({"input": {"searchTerms": []}}, "input.searchTerms"),
        ({"input": {"searchTerms": [{"type": "regex", "pattern": "a"}]}}, "input.searchTerms[0].type"),
        ({"input": {"searchTerms": [{"type": "simple", "pattern": ""}]}}, "input.searchTerms[0].pattern"),
        ({"input": {"searchTerms": [{"type": "simple", "pattern": "a("}]}}, "input.searchTerms[0].pattern"),
        (
            {"input": {"searchTerms": [{"type": "simple", "pattern": "a", "caseSensitive": "yes"}]}},
            "input.searchTerms[0].caseSensitive",
        ),
        ({"input": {}}, "input.searchTerms"),
        ({}, "input"),
    ]
    for body, at in cases:
        resp = await client.post(url, json=body)
        assert resp.status == 480, (body, await resp.text())
        assert wire(await resp.json())["errorDetails"]["at"] == at
    resp = await client.post(f"/v2/viewingSessions/{'x' * 40}/searchTasks", json={"input": {"searchTerms": []}})
    assert resp.status == 404
    empty = await new_session(client)
    resp = await client.post(
        f"/v2/viewingSessions/{empty}/searchTasks",
        json={"input": {"searchTerms": [{"type": "simple", "pattern": "a"}]}},
    )
    assert resp.status == 480 and (await resp.json())["errorCode"] == "DocumentNotProvidedYet"
    task = await (await client.post(url, json={"input": {"searchTerms": [{"type": "simple", "pattern": "a"}]}})).json()
    for params, at in (
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"continueToken": "-1"}, "continueToken"),
    ):
        resp = await client.get(f"/v2/searchTasks/{task['processId']}/results", params=params)
        assert resp.status == 480 and (await resp.json())["errorDetails"]["at"] == at
    assert (await client.get(f"/v2/searchTasks/{'A' * 22}/results")).status == 404


async def test_a_pattern_that_never_ends_fails_the_task_not_the_worker(aiohttp_client, env):
    from core.settings import Settings
    from service.app import create_app
    from tests.conftest import running_worker

    settings = Settings.from_env({**env, "PAGEMILL_PAGE_TIMEOUT_S": "30"})
    client = await aiohttp_client(create_app(settings))
    async with running_worker(settings):
        sid = await session_with(client, lines_pdf([["a," * 30 + "!"]]))
        # (.*?,){25}x backtracks without end even in the regex module; (a+)+b and its kind it matches at once
        body = {"input": {"searchTerms": [{"type": "simple", "pattern": "(.*?,){25}x"}]}}
        started = time.monotonic()
        task = await (await client.post(f"/v2/viewingSessions/{sid}/searchTasks", json=body)).json()
        while (state := await (await client.get(f"/v2/searchTasks/{task['processId']}")).json())[
            "state"
        ] == "processing":
            assert time.monotonic() - started < 60
            await asyncio.sleep(0.2)
        assert state["state"] == "error" and state["errorCode"] == "PageRenderTimeout"
        assert time.monotonic() - started < 15  # the matching budget (5 s), not the 30 s page timeout
        # ...and the worker still searches
        body = {"input": {"searchTerms": [{"type": "simple", "pattern": ",!"}]}}
        task = await (await client.post(f"/v2/viewingSessions/{sid}/searchTasks", json=body)).json()
        results, _ = await all_results(client, task["processId"], limit=10)
        assert [r["text"] for r in results] == [",!"]


# --- character positions for viewers ---------------------------------------------------------------
async def test_text_route_gives_every_character_box_on_request(client, worker):
    sid = await session_with(client, contacts_pdf())
    plain = await client.get("/PCCIS/V1/Document/q/0-1/Text", params={"DocumentID": f"u{sid}"})
    assert plain.status == 200, await plain.text()
    assert all("chars" not in p for p in (await plain.json())["pages"])
    resp = await client.get(
        "/PCCIS/V1/Document/q/0-1/Text", params={"DocumentID": f"u{sid}", "Positions": "characters"}
    )
    pages = (await resp.json())["pages"]
    pdf = pdfium.PdfDocument(contacts_pdf())
    for p in pages:
        assert len(p["chars"]) == 4 * len(p["text"])
        glyphs = read_glyphs(pdf[p["number"]])
        scale = p["width"] / 612  # pixels of the page image at scale 1 (150 dpi)
        i = p["text"].index("Peter" if p["number"] == 0 else "Selina")
        x, y, w, h = p["chars"][4 * i : 4 * i + 4]
        assert [round(v / scale, 0) for v in (x, y, w, h)] == [round(v, 0) for v in glyphs.loose[i]]
    assert pages[0]["chars"][4 * pages[0]["text"].index("\n") : 4 * pages[0]["text"].index("\n") + 4] == [0, 0, 0, 0]
    bad = await client.get("/PCCIS/V1/Document/q/0-1/Text", params={"DocumentID": f"u{sid}", "Positions": "words"})
    assert bad.status == 480


@pytest.fixture
async def capped(aiohttp_client, env):
    """A service and worker that keep at most 50 matches a task."""
    settings = Settings.from_env({**env, "PAGEMILL_MAX_MATCHES": "50"})
    async with running_worker(settings):
        yield await aiohttp_client(create_app(settings))


async def test_a_search_task_stops_at_the_match_limit_and_says_so(capped):
    # Given a 20-page document with 40 hits a page, and 100 terms matching every character
    sid = await session_with(capped, text_pdf(20))
    for terms in ([{"type": "simple", "pattern": "lazy dog"}], [{"type": "simple", "pattern": "."}] * 100):
        task = await (
            await capped.post(f"/v2/viewingSessions/{sid}/searchTasks", json={"input": {"searchTerms": terms}})
        ).json()
        results, _ = await all_results(capped, task["processId"], limit=1000)
        # Then the first 50 are kept, in order, the task is complete and both answers say the limit was reached
        assert len(results) == 50 and [r["id"] for r in results] == list(range(50))
        assert results[0]["pageIndex"] == 0
        poll = await (await capped.get(f"/v2/searchTasks/{task['processId']}")).json()
        assert poll["state"] == "complete" and poll["output"] == {"limitReached": True}
        last = await (await capped.get(f"/v2/searchTasks/{task['processId']}/results")).json()
        assert last["limitReached"] is True
    # while a search under the limit does not say it
    task = await (
        await capped.post(
            f"/v2/viewingSessions/{sid}/searchTasks",
            json={"input": {"searchTerms": [{"type": "simple", "pattern": "Page 3\\b", "caseSensitive": True}]}},
        )
    ).json()
    results, _ = await all_results(capped, task["processId"], limit=1000)
    assert len(results) == 1
    assert "limitReached" not in await (await capped.get(f"/v2/searchTasks/{task['processId']}/results")).json()


async def test_a_redaction_creator_past_the_match_limit_makes_no_markup(capped):
    wf = await upload(capped, text_pdf(20))
    rules = [{"find": {"type": "regex", "pattern": "lazy dog"}, "redactWith": {"type": "RectangleRedaction"}}]
    resp = await capped.post(
        "/v2/redactionCreators", json={"input": {"source": {"fileId": wf["fileId"]}, "rules": rules}}
    )
    pid = (await resp.json())["processId"]
    for _ in range(600):
        done = await (await capped.get(f"/v2/redactionCreators/{pid}")).json()
        if done["state"] != "processing":
            break
        await asyncio.sleep(0.05)
    assert (done["state"], done["errorCode"]) == ("error", "MarkupCreationError"), done
