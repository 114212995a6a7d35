"""Redaction and search benchmark: redact + burn of a 100-page PDF end to end, and a search task over a
117-page viewing session, each beside extracting the same text (and, for search, matching it and boxing
the matches) with PDFium directly, in one process and in as many processes as the render pool has.

Usage: .venv/bin/python bench/redaction.py [--url http://127.0.0.1:18681] [--pages 100] [--search-pages 117]
Without --url it starts `python -m service serve` (embedded Redis, one worker) on a free port.
"""

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pypdfium2 as pdfium

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import running_service
from tests.docgen import PEOPLE, lines_pdf, text_pdf

SSN, EMAIL = r"\d{3}-\d{2}-\d{4}", r"[\w.+-]+@[\w-]+\.[\w.]+"
RULES = [
    {"find": {"type": "regex", "pattern": SSN}, "redactWith": {"type": "RectangleRedaction", "reason": "(b)(6)"}},
    {"find": {"type": "regex", "pattern": EMAIL}, "redactWith": {"type": "RectangleRedaction"}},
]
SEARCH = "lazy dog"


def contacts(pages: int) -> bytes:
    """`pages` pages of contacts: 12 people a page, a name, an SSN and an email each, one per line."""
    sheets = []
    for p in range(pages):
        lines = [f"CONTACTS page {p + 1}"]
        for k in range(12):
            name, ssn, email = PEOPLE[(p + k) % len(PEOPLE)]
            lines += [f"Name: {name}", f"SSN: {ssn}", f"Email: {email}"]
        sheets.append(lines)
    return lines_pdf(sheets)


async def ended(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    while True:
        async with session.get(url) as resp:
            body = await resp.json()
        if body["state"] != "processing":
            if body["state"] != "complete":
                raise SystemExit(f"failed: {body}")
            return body
        await asyncio.sleep(0.02)


async def redact_and_burn(url: str, pdf: bytes) -> tuple[float, float, int]:
    """Seconds to the markup, seconds to the burned PDF downloaded (both from the upload), marks made."""
    async with aiohttp.ClientSession() as session:
        t0 = time.perf_counter()
        async with session.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=pdf", data=pdf) as resp:
            file_id = (await resp.json())["fileId"]
        body = {"input": {"source": {"fileId": file_id}, "rules": RULES}}
        async with session.post(f"{url}/v2/redactionCreators", json=body) as resp:
            pid = (await resp.json())["processId"]
        markup = (await ended(session, f"{url}/v2/redactionCreators/{pid}"))["output"]["markupFileId"]
        async with session.get(f"{url}/PCCIS/V1/WorkFile/{markup}") as resp:
            marks = len((await resp.json())["marks"])
        t_markup = time.perf_counter() - t0
        body = {"input": {"documentFileId": file_id, "markupFileId": markup}}
        async with session.post(f"{url}/PCCIS/V1/MarkupBurner", json=body) as resp:
            pid = (await resp.json())["processId"]
        burned = (await ended(session, f"{url}/PCCIS/V1/MarkupBurner/{pid}"))["output"]["documentFileId"]
        async with session.get(f"{url}/PCCIS/V1/WorkFile/{burned}") as resp:
            await resp.read()
        return t_markup, time.perf_counter() - t0, marks


async def search_session(url: str, pdf: bytes) -> tuple[float, float, int]:
    """Seconds from the search task's creation to its first results and to its last; results read."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/PCCIS/V1/ViewingSession", json={}) as resp:
            sid = (await resp.json())["viewingSessionId"]
        async with session.put(f"{url}/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension=pdf", data=pdf):
            pass
        body = {"input": {"searchTerms": [{"type": "simple", "pattern": SEARCH, "caseSensitive": True}]}}
        t0 = time.perf_counter()
        async with session.post(f"{url}/v2/viewingSessions/{sid}/searchTasks", json=body) as resp:
            pid = (await resp.json())["processId"]
        results, token, first = 0, None, None
        while True:
            params = {"limit": "1000", **({"continueToken": token} if token else {})}
            async with session.get(f"{url}/v2/searchTasks/{pid}/results", params=params) as resp:
                page = await resp.json()
            results += len(page["results"])
            if page["results"] and first is None:
                first = time.perf_counter() - t0
            token = page.get("continueToken") or token
            if page["state"] == "complete" and not page.get("continueToken"):
                return first or 0.0, time.perf_counter() - t0, results
            if not page["results"]:
                await asyncio.sleep(0.02)


def _pdfium_pages(args: tuple[str, list[int], str | None]) -> int:
    """Text of `pages` (and, with a pattern, every match's character boxes); matches found."""
    path, pages, pattern = args
    pdf, found = pdfium.PdfDocument(path), 0
    for i in pages:
        page = pdf[i]
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        if pattern:
            for match in re.finditer(pattern, text):
                found += 1
                for c in range(match.start(), match.end()):
                    textpage.get_charbox(c)
        textpage.close()
        page.close()
    pdf.close()
    return found


def pdfium_directly(path: str, count: int, pattern: str | None, processes: int) -> float:
    """Seconds for PDFium (in `processes` fresh processes, their start included) over every page."""
    t0 = time.perf_counter()
    shares = [(path, list(range(k, count, processes)), pattern) for k in range(processes)]
    if processes == 1:
        _pdfium_pages(shares[0])
    else:
        with ProcessPoolExecutor(processes) as pool:
            list(pool.map(_pdfium_pages, shares))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running pagemill; default: start one")
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--search-pages", type=int, default=117)
    args = parser.parse_args()
    processes = int(os.environ.get("PAGEMILL_RENDER_PROCESSES", os.cpu_count() or 1))
    work = Path(tempfile.mkdtemp(prefix="pagemill-bench-"))
    sheet, book = contacts(args.pages), text_pdf(args.search_pages)
    (work / "sheet.pdf").write_bytes(sheet)
    (work / "book.pdf").write_bytes(book)
    rows = []
    with running_service(args.url) as (url, _):
        # Warm once, untimed: a fresh worker's first large job shares the CPU with LibreOffice's prestart.
        asyncio.run(redact_and_burn(url, sheet))
        t_markup, t_burn, marks = asyncio.run(redact_and_burn(url, sheet))
        first, last, results = asyncio.run(search_session(url, book))
    measured = (
        (f"{args.pages}-page contacts ({marks} marks)", "sheet.pdf", args.pages, None, "PDFium text only",
         [("pagemill: upload -> markup", t_markup), ("pagemill: upload -> burned PDF", t_burn)]),
        (f"{args.search_pages}-page search ({results} hits)", "book.pdf", args.search_pages, SEARCH,
         "PDFium text+match+boxes", [("pagemill: task -> first results", first), ("pagemill: task -> all results", last)]),
    )  # fmt: skip
    for doc, name, count, pattern, peer, ours in measured:
        rows += [(doc, how, seconds) for how, seconds in ours]
        for n in sorted({1, processes}):
            rows.append((doc, f"{peer}, {n} proc", pdfium_directly(str(work / name), count, pattern, n)))
    print(f"\n{'document':<34}{'how':<38}{'s':>8}   ({os.cpu_count()} cores, {processes} render processes)")
    for doc, how, seconds in rows:
        print(f"{doc:<34}{how:<38}{seconds:>8.3f}")


if __name__ == "__main__":
    main()
