"""Redaction end to end, as PrizmDoc's SDK drives it: redaction creators, markup burners, plain-text
redactors; their validation and PrizmDoc's error codes."""

import asyncio
import json
import re
import time

import pypdfium2 as pdfium
import pytest

from tests.docgen import PEOPLE, contacts_pdf, corrupt_pdf
from tests.helpers import download, upload, wire
from tests.test_search import SSN, contains
from workers.render.glyphs import NO_BOX, read_glyphs

EMAIL = r"\S+@\S+\.\S+"
RULES = [
    {"find": {"type": "regex", "pattern": SSN},
     "redactWith": {"type": "RectangleRedaction", "reason": "(b)(6)", "data": {"rule": "SSN"}}},
    {"find": {"type": "regex", "pattern": EMAIL},
     "redactWith": {"type": "RectangleRedaction", "reason": "(b)(6)", "data": {"rule": "email"}}},
    {"find": {"type": "regex", "pattern": "Bruce Wayne"},
     "redactWith": {"type": "RectangleRedaction", "reason": "Not Batman"}},
]  # fmt: skip


async def finished(client, path: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        resp = await client.get(path)
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/json"
        body = await resp.json()
        if body["state"] != "processing":
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)


async def create_redactions(client, file_id: str, rules: list[dict]) -> dict:
    resp = await client.post("/v2/redactionCreators", json={"input": {"source": {"fileId": file_id}, "rules": rules}})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["state"] == "processing" and body["percentComplete"] == 0 and body["affinityToken"]
    return await finished(client, f"/v2/redactionCreators/{body['processId']}")


async def markup_of(client, file_id: str) -> dict:
    return json.loads((await download(client, file_id))[0])


# --- redaction creators ----------------------------------------------------------------------------
async def test_rules_over_a_contacts_sheet_give_one_mark_per_occurrence(client, worker):
    wf = await upload(client, contacts_pdf())
    done = await create_redactions(client, wf["fileId"], RULES)
    assert done["state"] == "complete" and done["percentComplete"] == 100, done
    assert done["input"]["rules"][2] == RULES[2]
    markup = await markup_of(client, done["output"]["markupFileId"])
    marks = markup["marks"]
    assert all(m["type"] == "RectangleRedaction" for m in marks)

    def count(page: int, rule: str | None = None, reason: str | None = None) -> int:
        return sum(
            1
            for m in marks
            if m["pageNumber"] == page
            and (rule is None or m["data"].get("rule") == rule)
            and (reason is None or m["reason"] == reason)
        )

    # page 1: four people, and a manager line with Peter Parker's email again; page 2: one person and a backup SSN
    assert (count(1, "SSN"), count(1, "email"), count(1, reason="Not Batman")) == (4, 5, 1)
    assert (count(2, "SSN"), count(2, "email"), count(2, reason="Not Batman")) == (2, 1, 0)
    assert len(marks) == 13
    pdf = pdfium.PdfDocument(contacts_pdf())
    for m in marks:
        assert m["pageData"] == {"width": 612, "height": 792}
        assert (m["fontColor"], m["fillColor"], m["borderColor"], m["borderThickness"]) == (
            "#ffffff", "#000000", "#000000", 1,
        )  # fmt: skip
        assert m["interactionMode"] == "Full" and m["uid"] and m["creationDateTime"].endswith("Z")
        # the rectangle holds the glyphs of exactly one match of its rule
        glyphs = read_glyphs(pdf[m["pageNumber"] - 1])
        pattern = {"SSN": SSN, "email": EMAIL}.get(m["data"].get("rule"), "Bruce Wayne")
        inside = [
            found for found in re.finditer(pattern, glyphs.text)
            if all(contains(m["rectangle"], glyphs.ink[i]) for i in range(found.start(), found.end())
                   if glyphs.ink[i] != NO_BOX)
        ]  # fmt: skip
        assert len(inside) == 1, m
    # the same rules again: the same marks (uids are per process, the rest is equal)
    again = await markup_of(client, (await create_redactions(client, wf["fileId"], RULES))["output"]["markupFileId"])
    assert [m["rectangle"] for m in again["marks"]] == [m["rectangle"] for m in marks]
    assert [m["data"] for m in again["marks"]] == [m["data"] for m in marks]


async def test_redaction_creator_options_are_used(client, worker):
    wf = await upload(client, contacts_pdf())
    rule = {
        "find": {"type": "regex", "pattern": "Selina Kyle"},
        "redactWith": {"type": "RectangleRedaction", "reason": "r", "fontColor": "#FF0000", "fillColor": "#00ff00",
                       "borderColor": "#123", "borderThickness": 3, "data": {"a": "b", "c": "d"}},
    }  # fmt: skip
    done = await create_redactions(client, wf["fileId"], [rule])
    (mark,) = (await markup_of(client, done["output"]["markupFileId"]))["marks"]
    assert mark["pageNumber"] == 2 and mark["reason"] == "r" and mark["data"] == {"a": "b", "c": "d"}
    assert (mark["fontColor"], mark["fillColor"], mark["borderColor"], mark["borderThickness"]) == (
        "#FF0000", "#00ff00", "#123", 3,
    )  # fmt: skip


async def test_redaction_creator_validation_matches_prizmdoc(client):
    wf = await upload(client, contacts_pdf())

    def body(**redact_with) -> dict:
        rules = [
            {"find": {"type": "regex", "pattern": SSN}, "redactWith": {"type": "RectangleRedaction"}},
            {"find": {"type": "regex", "pattern": EMAIL}, "redactWith": {"type": "RectangleRedaction", **redact_with}},
        ]
        return {"input": {"source": {"fileId": wf["fileId"]}, "rules": rules}}

    cases = [
        (body(fontColor="REDDD"), "InvalidInput", "input.rules[1].redactWith.fontColor"),
        (body(fillColor="Bluuuuue"), "InvalidInput", "input.rules[1].redactWith.fillColor"),
        (body(borderColor="#12345"), "InvalidInput", "input.rules[1].redactWith.borderColor"),
        (body(borderThickness=0), "InvalidInput", "input.rules[1].redactWith.borderThickness"),
        (body(borderThickness="2"), "InvalidInput", "input.rules[1].redactWith.borderThickness"),
        (body(data={"k": 1}), "InvalidInput", "input.rules[1].redactWith.data.k"),
        (body(type="TextRedaction"), "InvalidInput", "input.rules[1].redactWith.type"),
        (body(extra=True), "InvalidInput", "input.rules[1].redactWith.extra"),
        ({"input": {"source": {"fileId": "non-existent-id"}, "rules": body()["input"]["rules"]}},
         "ResourceNotFound", "input.source.fileId"),
        ({"input": {"source": {"fileId": "A" * 22}, "rules": body()["input"]["rules"]}},
         "ResourceNotFound", "input.source.fileId"),
        ({"input": {"source": {"fileId": wf["fileId"]}, "rules": []}}, "InvalidInput", "input.rules"),
        ({"input": {"source": {"fileId": wf["fileId"]}, "rules": [
            {"find": {"type": "text", "pattern": "a"}, "redactWith": {"type": "RectangleRedaction"}}]}},
         "InvalidInput", "input.rules[0].find.type"),
        ({"input": {"source": {"fileId": wf["fileId"]}, "rules": [
            {"find": {"type": "regex", "pattern": "(a"}, "redactWith": {"type": "RectangleRedaction"}}]}},
         "InvalidInput", "input.rules[0].find.pattern"),
        ({"input": {"rules": body()["input"]["rules"]}}, "InvalidInput", "input.source"),
    ]  # fmt: skip
    for request_body, code, at in cases:
        resp = await client.post("/v2/redactionCreators", json=request_body)
        assert resp.status == 480, (request_body, await resp.text())
        answer = wire(await resp.json())
        assert (answer["errorCode"], answer["errorDetails"]["at"]) == (code, at), answer
        if at.endswith("borderThickness") and code == "InvalidInput" and request_body == body(borderThickness=0):
            assert answer["errorDetails"]["expected"] == {"type": "integer", "greaterThan": 0}


async def test_an_unusable_document_is_a_markup_creation_error(client, worker):
    wf = await upload(client, corrupt_pdf())
    rule = {"find": {"type": "regex", "pattern": "wat"}, "redactWith": {"type": "RectangleRedaction"}}
    done = await create_redactions(client, wf["fileId"], [rule])
    assert done["state"] == "error" and done["errorCode"] == "MarkupCreationError" and done["affinityToken"]
    assert done["input"] == {"source": {"fileId": wf["fileId"]}, "rules": [rule]}


# --- markup burners --------------------------------------------------------------------------------
async def burn(client, document_id: str, markup_id: str) -> dict:
    body = {"input": {"documentFileId": document_id, "markupFileId": markup_id}}
    resp = await client.post("/PCCIS/V1/MarkupBurner", json=body)
    assert resp.status == 200, await resp.text()
    created = await resp.json()
    assert created["input"] == body["input"] and created["state"] == "processing"
    return await finished(client, f"/PCCIS/V1/MarkupBurner/{created['processId']}")


def pages_text(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


async def test_burned_redactions_remove_the_text_and_keep_the_rest(client, worker):
    source = contacts_pdf() + b""
    wf = await upload(client, source)
    created = await create_redactions(client, wf["fileId"], RULES)
    done = await burn(client, wf["fileId"], created["output"]["markupFileId"])
    assert done["state"] == "complete", done
    data, headers = await download(client, done["output"]["documentFileId"])
    assert headers["Content-Type"] == "application/pdf"
    before, after = pages_text(source), pages_text(data)
    assert len(after) == 2
    for _name, ssn, email in PEOPLE:
        assert ssn not in "".join(after) and email not in "".join(after)
    assert "999-88-7777" not in after[1] and "Bruce Wayne" not in after[0]
    # every other word is still there, on its page (the manager line keeps the name beside the email)
    for page_before, page_after in zip(before, after, strict=True):
        kept = re.sub(rf"{SSN}|{EMAIL}|Bruce Wayne", " ", page_before).split()
        assert kept and all(word in page_after for word in kept), [w for w in kept if w not in page_after]
    assert "Manager: Peter Parker" in after[0] and "Diana Prince" in after[0] and "Selina Kyle" in after[1]
    assert after[0].count("(b)(6)") == 9 and "Not Batman" in after[0]
    # and the pixels under the boxes are the fill color
    markup = await markup_of(client, created["output"]["markupFileId"])
    image = pdfium.PdfDocument(data)[0].render(scale=2).to_pil().convert("L")
    for mark in markup["marks"]:
        if mark["pageNumber"] == 1:
            r = mark["rectangle"]
            corner = image.getpixel((round(r["x"] * 2) + 2, round(r["y"] * 2) + 2))
            assert corner < 40, (mark, corner)


async def test_burning_keeps_unmarked_pages_and_draws_other_marks(client, worker):
    from tests.docgen import text_pdf

    source = text_pdf(3)
    wf = await upload(client, source)
    page_data = {"width": 612, "height": 792}
    marks = [
        {"type": "RectangleAnnotation", "pageNumber": 2, "pageData": page_data,
         "rectangle": {"x": 300, "y": 20, "width": 100, "height": 40}, "fillColor": "#ff0000", "borderThickness": 0},
        {"type": "EllipseAnnotation", "pageNumber": 2, "pageData": page_data,
         "rectangle": {"x": 420, "y": 20, "width": 100, "height": 40}, "borderColor": "#0000ff", "borderThickness": 4},
        {"type": "LineAnnotation", "pageNumber": 2, "pageData": page_data,
         "startPoint": {"x": 50, "y": 760}, "endPoint": {"x": 550, "y": 760}, "color": "#00ff00", "thickness": 6},
        {"type": "TextAnnotation", "pageNumber": 2, "pageData": page_data,
         "rectangle": {"x": 300, "y": 700, "width": 200, "height": 30}, "text": "Approved", "fontSize": 16},
        {"type": "HighlightAnnotation", "pageNumber": 2, "pageData": {"width": 1224, "height": 1584},
         "rectangle": {"x": 900, "y": 1400, "width": 200, "height": 40}, "fillColor": "#ffff00"},
    ]  # fmt: skip
    markup = await upload(client, json.dumps({"marks": marks}).encode(), "json")
    done = await burn(client, wf["fileId"], markup["fileId"])
    assert done["state"] == "complete", done
    data, _ = await download(client, done["output"]["documentFileId"])
    before, after = pages_text(source), pages_text(data)
    assert after[0] == before[0] and after[2] == before[2]
    assert before[1] in after[1] and "Approved" in after[1]
    page = pdfium.PdfDocument(data)[1]
    image = page.render(scale=1).to_pil().convert("RGB")
    assert image.getpixel((350, 40)) == (255, 0, 0)  # filled rectangle
    assert image.getpixel((470, 22))[2] > 200 and image.getpixel((470, 40)) == (255, 255, 255)  # ellipse outline
    assert image.getpixel((300, 760))[1] > 200 and image.getpixel((300, 760))[0] < 60  # the line
    r, g, b = image.getpixel((500, 710))  # the highlight, given in a pageData twice as large
    assert r > 200 and g > 200 and b < 200  # yellow at 40 % over white


async def test_burner_errors_are_prizmdocs(client, worker):
    wf = await upload(client, contacts_pdf())
    good_mark = {"type": "RectangleRedaction", "pageNumber": 1, "pageData": {"width": 612, "height": 792},
                 "rectangle": {"x": 1, "y": 1, "width": 10, "height": 10}}  # fmt: skip
    markup = await upload(client, json.dumps({"marks": [good_mark]}).encode(), "json")
    schema_fail = await upload(client, json.dumps({"marks": [{**good_mark, "pageNumber": "wat"}]}).encode(), "json")
    unknown = await upload(client, json.dumps({"marks": [{**good_mark, "type": "SomethingElse"}]}).encode(), "json")
    too_far = await upload(client, json.dumps({"marks": [{**good_mark, "pageNumber": 3}]}).encode(), "json")
    not_json = await upload(client, b"PK\x03\x04 this is not json", "json")
    corrupt = await upload(client, corrupt_pdf())
    cases = [
        (wf["fileId"], schema_fail["fileId"], "InvalidMarkup"),
        (wf["fileId"], unknown["fileId"], "InvalidMarkup"),
        (wf["fileId"], too_far["fileId"], "InvalidMarkup"),
        (wf["fileId"], not_json["fileId"], "RedactionError"),
        (corrupt["fileId"], markup["fileId"], "RedactionError"),
        ("non-existent-id", markup["fileId"], "DocumentFileIdDoesNotExist"),
        (wf["fileId"], "A" * 22, "MarkupFileIdDoesNotExist"),
    ]
    for document_id, markup_id, code in cases:
        done = await burn(client, document_id, markup_id)
        assert (done["state"], done["errorCode"]) == ("error", code), (document_id, markup_id, done)
    for body, at in (
        ({"input": {"documentFileId": wf["fileId"]}}, "input.markupFileId"),
        ({"input": {"documentFileId": 1, "markupFileId": "x"}}, "input.documentFileId"),
        ({"input": {"documentFileId": "a", "markupFileId": "b", "more": 1}}, "input.more"),
    ):
        resp = await client.post("/PCCIS/V1/MarkupBurner", json=body)
        assert resp.status == 480 and wire(await resp.json())["errorDetails"]["at"] == at


# --- plain-text redactors --------------------------------------------------------------------------
async def redact_to_text(client, source_id: str, markup_id: str, ending: str) -> dict:
    body = {
        "input": {"source": {"fileId": source_id}, "markup": {"fileId": markup_id}, "dest": {"lineEndings": ending}}
    }
    resp = await client.post("/v2/plainTextRedactors", json=body)
    assert resp.status == 200, await resp.text()
    return await finished(client, f"/v2/plainTextRedactors/{(await resp.json())['processId']}")


async def test_plain_text_replaces_exactly_the_redacted_spans(client, worker):
    source = contacts_pdf()
    wf = await upload(client, source)
    created = await create_redactions(client, wf["fileId"], RULES)
    markup_id = created["output"]["markupFileId"]
    expected_lines = []
    for text in pages_text(source):
        redacted = re.sub(rf"{SSN}|{EMAIL}|Bruce Wayne", "<Text Redacted>", text)
        expected_lines += redacted.split("\r\n")
    for ending in ("\n", "\r\n"):
        done = await redact_to_text(client, wf["fileId"], markup_id, ending)
        assert done["state"] == "complete", done
        assert done["input"]["dest"] == {"lineEndings": ending}
        data, _ = await download(client, done["output"]["fileId"])
        text = data.decode()
        assert text == ending.join(expected_lines) + ending
        if ending == "\n":
            assert "\r" not in text
        assert "Peter Parker" in text and "hotshotpete@dailybugle.com" not in text and "<Text Redacted>" in text


async def test_plain_text_redactor_errors_are_prizmdocs(client, worker):
    wf = await upload(client, contacts_pdf())
    markup = await upload(client, json.dumps({"marks": []}).encode(), "json")
    schema_fail = await upload(
        client, json.dumps({"marks": [{"type": "RectangleRedaction", "pageNumber": "wat"}]}).encode(), "json"
    )
    not_json = await upload(client, b"PK\x03\x04 not json at all", "json")
    corrupt = await upload(client, corrupt_pdf())
    for source_id, markup_id, code in (
        (wf["fileId"], not_json["fileId"], "InvalidJson"),
        (wf["fileId"], schema_fail["fileId"], "InvalidMarkup"),
        (corrupt["fileId"], markup["fileId"], "InternalError"),
    ):
        done = await redact_to_text(client, source_id, markup_id, "\n")
        assert (done["state"], done["errorCode"]) == ("error", code), done
    good = {"source": {"fileId": wf["fileId"]}, "markup": {"fileId": markup["fileId"]}, "dest": {"lineEndings": "\n"}}
    cases = [
        ({**good, "dest": {"lineEndings": "wat"}}, "InvalidInput", "input.dest.lineEndings"),
        ({**good, "source": {"fileId": "non-existent-id"}}, "ResourceNotFound", "input.source.fileId"),
        ({**good, "markup": {"fileId": "A" * 22}}, "ResourceNotFound", "input.markup.fileId"),
        ({k: v for k, v in good.items() if k != "dest"}, "InvalidInput", "input.dest"),
    ]
    for body, code, at in cases:
        resp = await client.post("/v2/plainTextRedactors", json={"input": body})
        assert resp.status == 480, await resp.text()
        answer = wire(await resp.json())
        assert (answer["errorCode"], answer["errorDetails"]["at"]) == (code, at)
        if at == "input.dest.lineEndings":
            assert answer["errorDetails"]["expected"]["enum"] == ["\n", "\r\n"]


HOSTILE_MARKS = [  # (mark fields over a good RectangleRedaction, what is wrong with it)
    ({"rectangle": {"x": float("nan"), "y": 1, "width": 10, "height": 10}}, "NaN"),
    ({"rectangle": {"x": 1, "y": 1, "width": float("inf"), "height": 10}}, "Infinity"),
    ({"rectangle": {"x": -1e20, "y": -1e20, "width": 1e21, "height": 1e21}}, "huge"),
    ({"rectangle": {"x": 0, "y": 0, "width": 1e300, "height": 1e300}}, "huger"),
    ({"pageData": {"width": 1e-300, "height": 1e-300}}, "a page of no size"),
    ({"type": "TextSelectionRedaction", "position": {"startIndex": 0, "length": 10**12}}, "endless selection"),
]


@pytest.mark.parametrize(("fields", "what"), HOSTILE_MARKS, ids=[w for _, w in HOSTILE_MARKS])
async def test_hostile_markup_is_refused_and_never_redacts_nothing(client, worker, fields, what):
    wf = await upload(client, contacts_pdf())
    mark = {"type": "RectangleRedaction", "pageNumber": 1, "pageData": {"width": 612, "height": 792},
            "rectangle": {"x": 0, "y": 0, "width": 612, "height": 792}, **fields}  # fmt: skip
    markup = await upload(client, json.dumps({"marks": [mark]}).encode(), "json")  # json.dumps writes NaN
    burned = await burn(client, wf["fileId"], markup["fileId"])
    assert (burned["state"], burned["errorCode"]) == ("error", "InvalidMarkup"), burned
    text = await redact_to_text(client, wf["fileId"], markup["fileId"], "\n")
    assert (text["state"], text["errorCode"]) == ("error", "InvalidMarkup"), text


async def test_markup_nested_too_deeply_is_not_json(client, worker):
    wf = await upload(client, contacts_pdf())
    deep = await upload(client, b"[" * 100_000, "json")
    burned = await burn(client, wf["fileId"], deep["fileId"])
    assert (burned["state"], burned["errorCode"]) == ("error", "RedactionError"), burned
    text = await redact_to_text(client, wf["fileId"], deep["fileId"], "\n")
    assert (text["state"], text["errorCode"]) == ("error", "InvalidJson"), text


async def test_marks_far_outside_the_page_are_cut_to_it(client, worker):
    # A tiny pageData scales a mark within the limits far beyond the page: it covers the page, drawn cut to it
    wf = await upload(client, contacts_pdf())
    mark = {"type": "RectangleRedaction", "pageNumber": 1, "pageData": {"width": 1, "height": 1},
            "rectangle": {"x": -5e5, "y": -5e5, "width": 1e6, "height": 1e6}}  # fmt: skip
    markup = await upload(client, json.dumps({"marks": [mark]}).encode(), "json")
    burned = await burn(client, wf["fileId"], markup["fileId"])
    assert burned["state"] == "complete", burned
    pages = pages_text((await download(client, burned["output"]["documentFileId"]))[0])
    assert "SSN" not in pages[0] and "SSN" in pages[1]
    text = await redact_to_text(client, wf["fileId"], markup["fileId"], "\n")
    lines = (await download(client, text["output"]["fileId"]))[0].decode().split("\n")
    assert "<Text Redacted>" in lines[0] and any("SSN" in line for line in lines)
