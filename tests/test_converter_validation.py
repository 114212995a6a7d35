"""POST /v2/contentConverters rejects bad requests with PrizmDoc's 480 envelope, enqueuing nothing."""

import io

import pytest

from schemas import jobs
from service import keys
from tests.docgen import text_pdf
from tests.helpers import upload, wire


async def post(client, body, raw=None):
    if raw is not None:
        resp = await client.post("/v2/contentConverters", data=raw, headers={"Content-Type": "application/json"})
    else:
        resp = await client.post("/v2/contentConverters", json=body)
    return resp.status, await resp.json()


@pytest.fixture
async def pdf_id(client):
    return (await upload(client, text_pdf(2)))["fileId"]


async def test_malformed_json_is_invalid_input(client):
    status, body = await post(client, None, raw=b'{"input": ')
    assert status == 480
    assert body["errorCode"] == "InvalidInput"
    assert body["errorDetails"]["at"] == ""
    assert body["errorDetails"]["in"] == "body"


@pytest.mark.parametrize(
    ("body", "at", "expected"),
    [
        ({}, "input", {"type": "object"}),
        ({"input": []}, "input", {"type": "object"}),
        (
            {"input": {"sources": [], "dest": {"format": "png"}}},
            "input.sources",
            {"type": "array", "minItems": 1, "maxItems": 100},
        ),
        ({"input": {"sources": [{"fileId": 5}], "dest": {"format": "png"}}}, "input.sources[0].fileId", None),
        (
            {"input": {"sources": [{"fileId": "x"}], "dest": {"format": "gif"}}},
            "input.dest.format",
            {"enum": ["pdf", "tiff", "png", "jpeg", "svg", "docx"], "type": "string"},
        ),
        (
            {
                "input": {
                    "sources": [{"fileId": "x"}],
                    "dest": {"format": "pdf", "pdfOptions": {"forceOneFilePerPage": "yes"}},
                }
            },
            "input.dest.pdfOptions.forceOneFilePerPage",
            {"type": "boolean"},
        ),
        (
            {"input": {"sources": [{"fileId": "x"}], "dest": {"format": "png"}}, "minSecondsAvailable": "60"},
            "minSecondsAvailable",
            None,
        ),
        ({"input": {"sources": [{"fileId": "x"}], "dest": {"format": "png"}, "colour": 1}}, "input.colour", None),
    ],
)
async def test_wrong_shapes_point_at_the_offending_path(client, body, at, expected):
    status, resp = await post(client, body)
    assert status == 480, resp
    assert resp["errorCode"] == "InvalidInput"
    assert resp["errorDetails"]["at"] == at
    if expected is not None:
        assert resp["errorDetails"]["expected"] == expected


async def test_unknown_work_file(client):
    body = {
        "input": {"sources": [{"fileId": "ML3AbF-qzIH5K9mVVxTlBX"}], "dest": {"format": "pdf"}},
        "minSecondsAvailable": 18000,
    }
    status, resp = await post(client, body)
    assert status == 480
    # matches PrizmDoc's captured response, including the normalised echo
    assert wire(resp) == {
        "input": {
            "dest": {"format": "pdf", "pdfOptions": {"forceOneFilePerPage": False}},
            "sources": [{"fileId": "ML3AbF-qzIH5K9mVVxTlBX", "pages": ""}],
        },
        "minSecondsAvailable": 18000,
        "errorCode": "WorkFileDoesNotExist",
        "errorDetails": {"in": "body", "at": "input.sources[0].fileId"},
    }


async def test_semantic_errors(client, pdf_id):
    txt = (await upload(client, b'{"not": "a document"}', "json"))["fileId"]  # json is data, not a document
    # an empty work file can only come from a resumable upload now (an empty POST body is refused)
    resp = await client.post(
        "/tus/files",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": "0", "Upload-Metadata": "filename ZW1wdHkucGRm"},
    )
    empty = resp.headers["Pagemill-File-Id"]
    cases = [
        (
            {"sources": [{"fileId": pdf_id, "pages": "1-x"}], "dest": {"format": "tiff"}},
            "InvalidPageSyntax",
            "input.sources[0].pages",
        ),
        (
            {"sources": [{"fileId": pdf_id, "pages": "0"}], "dest": {"format": "pdf"}},
            "InvalidPageSyntax",
            "input.sources[0].pages",
        ),
        (
            {"sources": [{"fileId": pdf_id, "pages": "3-2"}], "dest": {"format": "pdf"}},
            "InvalidPageSyntax",
            "input.sources[0].pages",
        ),
        (
            {"sources": [{"fileId": pdf_id}], "dest": {"format": "png", "pngOptions": {"maxWidth": "800"}}},
            "InvalidDimensionValue",
            "input.dest.pngOptions.maxWidth",
        ),
        (
            {"sources": [{"fileId": pdf_id}], "dest": {"format": "jpeg", "jpegOptions": {"maxHeight": "99999999px"}}},
            "InvalidDimensionValue",
            "input.dest.jpegOptions.maxHeight",
        ),
        (
            {"sources": [{"fileId": pdf_id}, {"fileId": pdf_id}], "dest": {"format": "png"}},
            "MultipleSourcesAreNotSupportedForThisDestinationFormat",
            "input.sources",
        ),
        (
            {"sources": [{"fileId": txt}], "dest": {"format": "png"}},
            "UnsupportedSourceFileFormat",
            "input.sources[0].fileId",
        ),
        (
            {"sources": [{"fileId": pdf_id}, {"fileId": empty}], "dest": {"format": "pdf"}},
            "SourceFileIsEmpty",
            "input.sources[1].fileId",
        ),
        (
            {"sources": [{"fileId": "../../../etc/passwd"}], "dest": {"format": "pdf"}},
            "WorkFileDoesNotExist",
            "input.sources[0].fileId",
        ),
    ]
    for inp, code, at in cases:
        status, resp = await post(client, {"input": inp})
        assert status == 480, (inp, resp)
        assert resp["errorCode"] == code, resp
        assert resp["errorDetails"]["at"] == at
    assert await client.app[keys.REDIS].zcard(jobs.BATCH_QUEUE) == 0


async def test_oversize_json_body(client):
    resp = await client.post("/v2/contentConverters", data=io.BytesIO(b" " * (2 * 1024 * 1024)))
    assert resp.status == 413


async def test_accepted_request_echoes_normalised_input_and_enqueues_one_plan_job(client, pdf_id):
    body = {
        "input": {
            "sources": [{"fileId": pdf_id, "pages": "1", "password": "pw"}],
            "dest": {"format": "png", "pngOptions": {"maxWidth": "100px"}},
        },
        "minSecondsAvailable": 60,
    }
    status, resp = await post(client, body)
    assert status == 200
    assert resp["state"] == "processing"
    assert resp["input"] == {
        "sources": [{"fileId": pdf_id, "password": "pw"}],  # pages dropped for png, as PrizmDoc does
        "dest": {"format": "png", "pngOptions": {"maxWidth": "100px"}},
    }
    assert resp["affinityToken"]
    assert resp["expirationDateTime"].endswith("Z")
    queued = await client.app[keys.REDIS].zrange(jobs.BATCH_QUEUE, 0, -1)
    assert queued == [jobs.plan_job_id(resp["processId"]).encode()]


async def test_unknown_process_and_bad_process_id(client):
    resp = await client.get("/v2/contentConverters/AAAAAAAAAAAAAAAAAAAAAA")
    assert resp.status == 404
    assert (await resp.json())["errorCode"] == "ProcessDoesNotExist"
    resp = await client.get("/v2/contentConverters/..%2Fsecret")
    assert resp.status == 480


async def test_unknown_route_and_wrong_method_answer_json(client):
    resp = await client.get("/nope")
    assert resp.status == 404
    assert wire(await resp.json()) == {"errorCode": "NotFound"}
    resp = await client.put("/v2/contentConverters")
    assert resp.status == 405
    assert "POST" in resp.headers["Allow"]
