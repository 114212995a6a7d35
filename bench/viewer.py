"""Viewer benchmark: time to first page with countOfInitialPages, versus the whole document.

Usage: .venv/bin/python bench/viewer.py [--url http://127.0.0.1:18681] [--pages 120]
Without --url it starts `python -m service serve` on a free port. It reports:
  * first page: a new session (countOfInitialPages=1) -> GET page 0
  * a far page requested first (page N/2 of a fresh session), served before the rest
  * the whole document: every page of the session rendered
  * a viewer page while a batch conversion of the same size is running (interactive queue)
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import running_service
from tests.docgen import text_pdf
from workers.render.document import open_document
from workers.render.page import render_page
from workers.render.spec import RenderSpec


def in_process_first_page(pdf: bytes) -> float:
    """The floor: open the PDF, render page 0 at 150 dpi and encode it as PNG, in this process."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "doc.pdf"
        src.write_bytes(pdf)
        t0 = time.perf_counter()
        doc = open_document(str(src), "pdf", None, 10**9)
        render_page(doc, 0, RenderSpec("png"), str(Path(tmp) / "p.png"))
        elapsed = time.perf_counter() - t0
        doc.close()
    return elapsed


async def session_with(http: aiohttp.ClientSession, url: str, pdf: bytes, initial: int) -> str:
    async with http.post(f"{url}/PCCIS/V1/ViewingSession", json={"countOfInitialPages": initial}) as resp:
        sid = (await resp.json())["viewingSessionId"]
    async with http.put(f"{url}/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension=pdf", data=pdf) as resp:
        assert resp.status == 200, await resp.text()
    return sid


async def get_page(http: aiohttp.ClientSession, url: str, sid: str, n: int) -> float:
    t0 = time.perf_counter()
    async with http.get(f"{url}/PCCIS/V1/Page/q/{n}", params={"DocumentID": f"u{sid}"}) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return time.perf_counter() - t0


async def run(url: str, pages: int) -> None:
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        # distinct bytes per scenario so the shared page cache cannot help
        docs = [text_pdf(pages, lines=40 + i) for i in range(4)]

        print(f"in-process render+encode of page 0  {in_process_first_page(docs[0]) * 1000:8.1f} ms")
        sid = await session_with(http, url, docs[0], 1)
        t0 = time.perf_counter()
        first = await get_page(http, url, sid, 0)
        # the remainder starts when a later page is wanted; the last page waits for it
        last = await get_page(http, url, sid, pages - 1)
        rest_started = time.perf_counter()
        await asyncio.gather(*(get_page(http, url, sid, n) for n in range(1, pages)))
        whole = time.perf_counter() - t0
        print(f"first page (countOfInitialPages=1)   {first * 1000:8.1f} ms")
        print(f"page {pages - 1} requested next               {last * 1000:8.1f} ms")
        print(
            f"whole document ({pages} pages)           {whole * 1000:8.1f} ms  (first page = {first / whole:.1%} of it)"
        )
        print(f"  remainder after page {pages - 1}            {(time.perf_counter() - rest_started) * 1000:8.1f} ms")

        sid = await session_with(http, url, docs[1], 1)
        far = await get_page(http, url, sid, pages // 2)
        print(f"far page {pages // 2} requested first          {far * 1000:8.1f} ms")

        async with http.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=pdf", data=docs[2]) as resp:
            file_id = (await resp.json())["fileId"]
        body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": "png"}}}
        async with http.post(f"{url}/v2/contentConverters", json=body) as resp:
            process_id = (await resp.json())["processId"]
        await asyncio.sleep(0.5)  # let the batch conversion occupy the workers
        sid = await session_with(http, url, docs[3], 1)
        busy = await get_page(http, url, sid, 0)
        async with http.get(f"{url}/v2/contentConverters/{process_id}") as resp:
            state = await resp.json()
        print(
            f"first page during a batch conversion {busy * 1000:8.1f} ms  (conversion at {state['percentComplete']}%)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running pagemill; default: start one")
    parser.add_argument("--pages", type=int, default=120)
    args = parser.parse_args()
    with running_service(args.url) as (url, _):
        asyncio.run(run(url, args.pages))


if __name__ == "__main__":
    main()
