"""Hostile and broken inputs end in precise errors, never a crash or a hang."""

import pytest

from service.app import create_app
from service.settings import Settings
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
        (text_pdf(3)[:900], "pdf", "CorruptFile"),  # truncated PDF
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
