"""End-to-end conversion benchmark: upload -> process -> download every page, beside mutool/pdftoppm.

Usage: .venv/bin/python bench/convert.py [--url http://127.0.0.1:18681] [--pages 120] [--format png]
Without --url it starts `python -m service serve` (embedded Redis, one worker) on a free port.
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import running_service
from tests.docgen import image_pdf, text_pdf


async def run_pagemill(url: str, pdf: bytes, fmt: str, out_dir: Path) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        t0 = time.perf_counter()
        async with session.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=pdf", data=pdf) as resp:
            file_id = (await resp.json())["fileId"]
        body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": fmt}}}
        async with session.post(f"{url}/v2/contentConverters", json=body) as resp:
            process = await resp.json()
        t_uploaded = time.perf_counter()
        while True:
            async with session.get(f"{url}/v2/contentConverters/{process['processId']}") as resp:
                status = await resp.json()
            if status["state"] != "processing":
                break
            await asyncio.sleep(0.05)
        t_complete = time.perf_counter()
        if status["state"] != "complete":
            raise SystemExit(f"conversion failed: {status}")
        results = status["output"]["results"]
        sem = asyncio.Semaphore(8)
        total_bytes = 0

        async def fetch(i: int, file_id: str) -> None:
            nonlocal total_bytes
            async with sem, session.get(f"{url}/PCCIS/V1/WorkFile/{file_id}") as resp:
                data = await resp.read()
                total_bytes += len(data)
                (out_dir / f"page-{i:04d}.{fmt}").write_bytes(data)

        await asyncio.gather(*(fetch(i, r["fileId"]) for i, r in enumerate(results)))
        t_done = time.perf_counter()
    return {
        "pages": sum(r.get("pageCount", 0) for r in results),
        "upload_s": t_uploaded - t0,
        "convert_s": t_complete - t_uploaded,
        "download_s": t_done - t_complete,
        "total_s": t_done - t0,
        "bytes": total_bytes,
    }


def run_tool(name: str, args: list[str], out_dir: Path) -> dict[str, float] | None:
    if not shutil.which(args[0]):
        return None
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    files = list(out_dir.iterdir())
    return {"pages": len(files), "total_s": elapsed, "bytes": sum(f.stat().st_size for f in files)}


def compare(url: str, kind: str, pdf: bytes, pages: int, fmt: str, work: Path) -> None:
    """Convert one document through pagemill and the command-line tools; print a table."""
    pdf_path = work / f"{kind}.pdf"
    pdf_path.write_bytes(pdf)
    out = work / f"{kind}-pagemill"
    out.mkdir()
    figures = {"pagemill": asyncio.run(run_pagemill(url, pdf, fmt, out))}
    for name, cmd in {
        "mutool draw -r 150": ["mutool", "draw", "-q", "-r", "150", "-o", "{out}/p%d.png", str(pdf_path)],
        "pdftoppm -r 150": ["pdftoppm", "-r", "150", "-png", str(pdf_path), "{out}/p"],
    }.items():
        tool_out = work / f"{kind}-{name.split()[0]}"
        tool_out.mkdir()
        result = run_tool(name, [a.replace("{out}", str(tool_out)) for a in cmd], tool_out)
        if result:
            figures[name] = result
    print(f"\n{pages}-page {kind} PDF -> {fmt} at 150 dpi ({os.cpu_count()} cores)")
    print(f"{'tool':<22}{'pages':>6}{'total s':>9}{'pages/s':>9}{'MB out':>8}   detail")
    for name, f in figures.items():
        detail = ""
        if "convert_s" in f:
            detail = f"upload {f['upload_s']:.2f}s, convert {f['convert_s']:.2f}s, download {f['download_s']:.2f}s"
        rate = f["pages"] / f["total_s"]
        print(f"{name:<22}{f['pages']:>6.0f}{f['total_s']:>9.2f}{rate:>9.1f}{f['bytes'] / 1e6:>8.1f}   {detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running pagemill; default: start one")
    parser.add_argument("--pages", type=int, default=120)
    parser.add_argument("--format", default="png", choices=["png", "jpeg"])
    parser.add_argument("--kind", default="both", choices=["text", "image", "both"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pagemill-bench-"))
    kinds = ["text", "image"] if args.kind == "both" else [args.kind]
    with running_service(args.url) as (url, _):
        for kind in kinds:
            pdf = text_pdf(args.pages) if kind == "text" else image_pdf(args.pages)
            compare(url, kind, pdf, args.pages, args.format, work)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
