"""SVG output (dest.format "svg"): one valid SVG per page, as PrizmDoc, drawn by pdftocairo with the
page's text kept as (invisible, searchable) text; images as SVG holding the image."""

import asyncio
import base64
import io
import os
import shutil
import signal
import time
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from core import capabilities, keyspace
from core.errors import DocumentError
from core.settings import Settings
from schemas import formats
from service import keys
from service.app import create_app
from tests import officegen
from tests.docgen import encrypted_pdf, image_bytes, text_pdf
from tests.helpers import cmdline, convert, descendants, download, poll, upload, wire
from workers.office import find_engine
from workers.render import tool

SVG = "{http://www.w3.org/2000/svg}"


def parsed(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == SVG + "svg"
    return root


def layer_text(root: ET.Element) -> str:
    return " ".join(t.text or "" for t in root.iter(SVG + "text"))


async def test_a_pdf_gives_one_svg_per_page_with_its_text(client, worker):
    # Given a 3-page text PDF
    wf = await upload(client, text_pdf(3))
    # When it is converted to svg (pages is dropped: svg gives every page, as png does)
    body = {"input": {"sources": [{"fileId": wf["fileId"], "pages": "2"}], "dest": {"format": "svg"}}}
    started = await convert(client, body)
    assert started["input"] == {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "svg"}}
    final = await poll(client, started["processId"], interval_s=0.05)
    # Then there is one result per page, each a valid SVG of the page's size holding the page's text
    assert final["state"] == "complete", final
    results = final["output"]["results"]
    assert [(r["pageCount"], r["sources"]) for r in results] == [
        (1, [{"fileId": wf["fileId"], "pages": str(n)}]) for n in (1, 2, 3)
    ]
    for n, result in enumerate(results, start=1):
        data, headers = await download(client, result["fileId"])
        assert headers["Content-Type"].startswith("image/svg+xml")
        root = parsed(data)
        assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("612pt", "792pt", "0 0 612 792")
        # the glyphs, drawn by pdftocairo: each letter's outline once, then placed for every character
        assert len(list(root.iter(SVG + "path"))) > 30 and len(list(root.iter(SVG + "use"))) > 1000
        text = layer_text(root)
        assert f"Page {n}" in text and f"Line 40 of page {n}: the quick brown fox jumps over the lazy dog." in text
        first = next(t for t in root.iter(SVG + "text") if t.text == f"Page {n}")
        assert 70 < float(first.get("x")) < 80 and 680 < 792 - float(first.get("y")) < 710  # where it is drawn
    info = await (await client.get(f"/PCCIS/V1/WorkFile/{results[0]['fileId']}/Info")).json()
    assert info["fileExtension"] == "svg" and info["contentType"] == "image/svg+xml"


async def test_encrypted_pdfs_and_images_convert_too(client, worker):
    pdf = await upload(client, encrypted_pdf(2, "secret"))
    body = {"input": {"sources": [{"fileId": pdf["fileId"], "password": "secret"}], "dest": {"format": "svg"}}}
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.05)
    assert final["state"] == "complete", final
    assert "Page 2" in layer_text(parsed((await download(client, final["output"]["results"][1]["fileId"]))[0]))
    # an image: the SVG holds the image itself, at 96 pixels per inch
    png = image_bytes("PNG", (480, 240), color="red")
    wf = await upload(client, png, "png")
    body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "svg"}}}
    final = await poll(client, (await convert(client, body))["processId"])
    [result] = final["output"]["results"]
    root = parsed((await download(client, result["fileId"]))[0])
    assert (root.get("width"), root.get("height")) == ("360.00pt", "180.00pt")
    [image] = root.iter(SVG + "image")
    href = image.get("href")
    assert href.startswith("data:image/png;base64,")
    inner = Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1])))
    assert inner.size == (480, 240) and inner.convert("RGB").getpixel((100, 50)) == (255, 0, 0)


async def test_svg_rules_on_the_wire(client, worker):
    wf = {"fileId": (await upload(client, text_pdf(1)))["fileId"]}
    for dest, code, at in (
        ({"format": "svg", "watermarks": [{"type": "text", "text": "x"}]}, "InvalidInput", "input.dest.watermarks"),
        ({"format": "svg", "header": {"lines": [["x"]]}}, "UnsupportedDestinationFormatWhenUsingHeaderOrFooter",
         "input.dest.format"),
        ({"format": "svg", "svgOptions": {}}, "InvalidInput", "input.dest.svgOptions"),
    ):  # fmt: skip
        resp = await client.post("/v2/contentConverters", json={"input": {"sources": [wf], "dest": dest}})
        body = await resp.json()
        assert resp.status == 480 and body["errorCode"] == code and body["errorDetails"]["at"] == at, body
    two = {"input": {"sources": [wf, wf], "dest": {"format": "svg"}}}
    resp = await client.post("/v2/contentConverters", json=two)
    body = wire(await resp.json())
    assert body["errorCode"] == "MultipleSourcesAreNotSupportedForThisDestinationFormat"
    assert body["errorDetails"] == {"in": "body", "at": "input.sources"}


def test_an_engine_that_runs_too_long_is_killed(tmp_path):
    started = time.monotonic()
    with pytest.raises(DocumentError) as err:
        tool.run(["sleep", "30"], 0.5, "SvgRenderFailed")
    assert err.value.code == "SvgRenderFailed" and time.monotonic() - started < 5
    assert not [p for p in descendants(os.getpid()) if "sleep" in cmdline(p)]
    with pytest.raises(DocumentError):
        tool.run(["pagemill-no-such-engine"], 1, "SvgRenderFailed")
    with pytest.raises(DocumentError):
        tool.run(["false"], 1, "SvgRenderFailed")


def test_an_engine_dies_with_the_render_process_that_started_it(tmp_path):
    # Given a render process (a child) running an engine that would run for a minute
    pid = os.fork()
    if pid == 0:  # the child: start the engine, then wait for it
        try:
            tool.run(["sleep", "60"], 120, "SvgRenderFailed")
        finally:
            os._exit(0)
    deadline = time.monotonic() + 10
    while not (engines := descendants(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engines
    # When the render process is killed (as a page timeout recycles the pool)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    # Then the engine goes too
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{p}") for p in engines) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any("sleep" in cmdline(p) for p in engines)


async def test_tenants_see_only_their_own_svg_sources_and_outputs(aiohttp_client, env, worker):
    keyed = {**env, "PAGEMILL_API_KEYS": "acme:acme-key-123,globex:globex-key-456"}
    api = await aiohttp_client(create_app(Settings.from_env(keyed)))
    acme, globex = {"Acs-Api-Key": "acme-key-123"}, {"Acs-Api-Key": "globex-key-456"}
    fid = (await (await api.post("/PCCIS/V1/WorkFile", data=text_pdf(1), headers=acme)).json())["fileId"]

    async def start(file_id: str, headers: dict[str, str]) -> tuple[int, str]:
        body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": "svg"}}}
        resp = await api.post("/v2/contentConverters", json=body, headers=headers)
        return resp.status, (await resp.text()).replace(file_id, "ID")

    assert await start(fid, globex) == await start("AAAAAAAAAAAAAAAAAAAAAA", globex)
    body = {"input": {"sources": [{"fileId": fid}], "dest": {"format": "svg"}}}
    final = await poll(api, (await (await api.post("/v2/contentConverters", json=body, headers=acme)).json())["processId"],
                       headers=acme)  # fmt: skip
    out = final["output"]["results"][0]["fileId"]
    assert (await api.get(f"/PCCIS/V1/WorkFile/{out}", headers=acme)).status == 200
    assert (await api.get(f"/PCCIS/V1/WorkFile/{out}", headers=globex)).status == 404


async def test_a_word_document_gives_one_svg_per_page(client, worker):
    # As the SDK's ConvertAsync_Svg_Tests: example.docx (2 pages) -> 2 results, pages "1" and "2"
    wf = await upload(client, officegen.docx(["Alpha page", "Beta page"]), "docx")
    body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "svg"}}}
    final = await poll(client, (await convert(client, body))["processId"], timeout_s=90)
    assert final["state"] == "complete", final
    results = final["output"]["results"]
    assert [(r["pageCount"], r["sources"][0]["pages"]) for r in results] == [(1, "1"), (1, "2")]
    for result, word in zip(results, ("Alpha page", "Beta page"), strict=True):
        assert word in layer_text(parsed((await download(client, result["fileId"]))[0]))


async def test_svg_is_refused_up_front_when_no_live_worker_writes_it(client):
    # Given live workers (on other hosts, say) without pdftocairo
    redis = client.app[keys.REDIS]
    await capabilities.publish(redis, ["jpeg", "pdf", "png", "tiff"], keyspace.WRITABLE)
    wf = await (await client.post("/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1))).json()
    body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "svg"}}}
    # Then an svg conversion is 480 at input.dest.format, naming what to install, and Info says so
    resp = await client.post("/v2/contentConverters", json=body)
    answer = await resp.json()
    assert resp.status == 480 and answer["errorCode"] == "InvalidInput", answer
    assert answer["errorDetails"]["at"] == "input.dest.format"
    assert answer["errorDetails"]["expected"] == {"enum": ["jpeg", "pdf", "png", "tiff"]}
    assert "poppler-utils" in answer["message"]
    info = await (await client.get("/PCCIS/V1/Service/Current/Info")).json()
    assert info["outputFormats"] == ["jpeg", "pdf", "png", "tiff"]
    # while a worker with it makes svg available again
    await capabilities.publish(redis, formats.output_formats(), keyspace.WRITABLE)
    assert (await client.post("/v2/contentConverters", json=body)).status == 200


def test_a_worker_writes_svg_only_with_pdftocairo_and_docx_only_with_libreoffice():
    assert formats.output_formats() == ["docx", "jpeg", "pdf", "png", "svg", "tiff"]
    assert formats.output_formats(office=False, svg=False) == ["jpeg", "pdf", "png", "tiff"]


async def test_a_worker_reports_what_it_writes(client, worker):
    redis = client.app[keys.REDIS]
    for _ in range(100):  # it says so as it starts, then every few seconds
        if await redis.exists(keyspace.WRITABLE):
            break
        await asyncio.sleep(0.05)
    expected = formats.output_formats(office=find_engine() is not None, svg=shutil.which("pdftocairo") is not None)
    assert await capabilities.writable(redis) == expected
