"""Conversion options benchmark: OCR pages/s beside Tesseract run directly on the same page images, and
header/footer stamping of a PDF beside a plain pdf conversion of it (and svg output per page).

Usage: .venv/bin/python bench/options.py [--url http://127.0.0.1:18681] [--ocr-pages 12] [--pages 100]
Without --url it starts `python -m service serve` (embedded Redis, one worker) on a free port.
"""

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pypdfium2 as pdfium

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import running_service
from tests.docgen import text_pdf
from tests.test_ocr import VERSES, scan

HEADER = {"lines": [["Acme Corp", "Confidential", "Page {{pageNumber}} of {{pageCount}}"]], "color": "#0000FF"}
FOOTER = {"lines": [["", "BATES{{pageNumber+4000,10}}", ""]], "color": "#FF0000"}


async def timed_conversion(url: str, data: bytes, dest: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Upload, convert and wait: (seconds from the conversion request to its completion, final status)."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=pdf", data=data) as resp:
            file_id = (await resp.json())["fileId"]
        t0 = time.perf_counter()
        body = {"input": {"sources": [{"fileId": file_id}], "dest": dest}}
        async with session.post(f"{url}/v2/contentConverters", json=body) as resp:
            process = await resp.json()
        while True:
            async with session.get(f"{url}/v2/contentConverters/{process['processId']}") as resp:
                status = await resp.json()
            if status["state"] != "processing":
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - t0
    if status["state"] != "complete":
        raise SystemExit(f"conversion failed: {status}")
    return elapsed, status


def scanned(pages: int) -> bytes:
    """A scanned PDF of `pages` pages (images of text, no text layer)."""
    images = [scan(VERSES[i % len(VERSES)]) for i in range(pages)]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=150.0)
    return buf.getvalue()


def tesseract_directly(scan_pdf: bytes, work: Path, parallel: int) -> float:
    """Seconds for `tesseract` on the same page images as pagemill reads (300 dpi greyscale), `parallel`
    at a time, one thread each (what pagemill runs), text-only PDF output."""
    pdf = pdfium.PdfDocument(scan_pdf)
    paths = []
    for i in range(len(pdf)):
        path = work / f"ocr-{i}.pgm"
        pdf[i].render(scale=300 / 72).to_pil().convert("L").save(path)
        paths.append(path)

    def one(path: Path) -> None:
        subprocess.run(
            ["tesseract", str(path), str(path.with_suffix("")), "-l", "eng", "--dpi", "300", "-c", "textonly_pdf=1",
             "pdf"],
            check=True, capture_output=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )  # fmt: skip

    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, paths))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running pagemill; default: start one")
    parser.add_argument("--ocr-pages", type=int, default=12)
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    processes = int(os.environ.get("PAGEMILL_RENDER_PROCESSES", os.cpu_count() or 1))
    work = Path(tempfile.mkdtemp(prefix="pagemill-bench-"))
    rows = []
    with running_service(args.url) as (url, _):
        scan_pdf = scanned(args.ocr_pages)
        ocr_s, _ = asyncio.run(timed_conversion(url, scan_pdf, {"format": "pdf", "pdfOptions": {"ocr": {}}}))
        direct_s = tesseract_directly(scan_pdf, work, processes)
        rows.append((f"OCR {args.ocr_pages} scanned pages -> pdf", "pagemill", ocr_s, args.ocr_pages))
        rows.append((f"OCR {args.ocr_pages} scanned pages -> pdf", f"tesseract x{processes} directly", direct_s,
                     args.ocr_pages))  # fmt: skip
        text = text_pdf(args.pages)
        for name, dest in (
            ("plain pdf", {"format": "pdf"}),
            ("pdf + header and footer", {"format": "pdf", "header": HEADER, "footer": FOOTER}),
            ("plain tiff", {"format": "tiff"}),
            ("tiff + header and footer", {"format": "tiff", "header": HEADER, "footer": FOOTER}),
            ("svg (a file per page)", {"format": "svg"}),
        ):
            seconds, _ = asyncio.run(timed_conversion(url, text, dest))
            rows.append((f"{args.pages}-page text PDF", name, seconds, args.pages))
    print(f"\n{'document':<32}{'how':<28}{'s':>8}{'pages/s':>9}   ({os.cpu_count()} cores, {processes} processes)")
    for doc, how, seconds, pages in rows:
        print(f"{doc:<32}{how:<28}{seconds:>8.2f}{pages / seconds:>9.1f}")


if __name__ == "__main__":
    main()
