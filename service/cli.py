"""Batch conversions from the command line: upload a folder, convert, download the outputs.

    python -m service.cli convert INPUT_DIR --out OUT_DIR [--format png] [--url URL] [--api-key KEY]

Outputs get deterministic names: `<stem>.<ext>` for a single result, `<stem>-<page>.<ext>` (page
4 digits, 1-based) for one result per page. Every conversion POST carries an Idempotency-Key, so
a retried request never starts a second conversion. Exit status 1 if any document failed.
"""

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

EXTENSIONS = {"png": "png", "jpeg": "jpg", "tiff": "tif", "pdf": "pdf"}
RETRIES = 4


@dataclass
class Job:
    """One input document's journey."""

    path: Path
    file_id: str = ""
    process_id: str = ""
    percent: int = 0
    state: str = "pending"
    outputs: list[Path] = field(default_factory=list)
    error: str = ""


class Progress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs, self.tty, self.last = jobs, sys.stderr.isatty(), 0.0

    def show(self, final: bool = False) -> None:
        if not final and not self.tty and time.monotonic() - self.last < 5:
            return
        self.last = time.monotonic()
        done = sum(j.state in ("done", "failed") for j in self.jobs)
        percent = sum(100 if j.state in ("done", "failed") else j.percent for j in self.jobs) // max(1, len(self.jobs))
        bar = "#" * (percent // 4) + "-" * (25 - percent // 4)
        line = f"[{bar}] {done}/{len(self.jobs)} documents {percent:3d}%"
        print(("\r" if self.tty else "") + line, end="\n" if final or not self.tty else "", file=sys.stderr, flush=True)


async def _request(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    """A JSON request, retried on connection errors and 5xx with backoff."""
    for attempt in range(RETRIES + 1):
        try:
            async with http.request(method, url, **kwargs) as resp:
                if resp.status < 500 or attempt == RETRIES:
                    body = await resp.json(content_type=None)
                    if resp.status >= 400:
                        raise RuntimeError(
                            f"{method} {url}: {resp.status} {body.get('errorCode')} {body.get('message', '')}"
                        )
                    return body
        except (aiohttp.ClientConnectionError, TimeoutError):
            if attempt == RETRIES:
                raise
        await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def output_names(stem: str, fmt: str, results: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Deterministic file names for a process's results."""
    ext = EXTENSIONS[fmt]
    if len(results) == 1:
        return [(results[0], f"{stem}.{ext}")]
    named = []
    for i, result in enumerate(results, start=1):
        pages = (result.get("sources") or [{}])[0].get("pages", "")
        number = int(pages) if pages.isdigit() else i
        named.append((result, f"{stem}-{number:04d}.{ext}"))
    return named


async def convert_one(http: aiohttp.ClientSession, url: str, job: Job, fmt: str, out: Path, progress: Progress) -> None:
    try:
        job.state = "uploading"
        for attempt in range(RETRIES + 1):
            try:
                with open(job.path, "rb") as fh:
                    async with http.post(
                        f"{url}/PCCIS/V1/WorkFile?FileExtension={job.path.suffix.lstrip('.') or 'bin'}", data=fh
                    ) as resp:
                        body = await resp.json(content_type=None)
                        if resp.status != 200:
                            raise RuntimeError(f"upload failed: {resp.status} {body.get('errorCode')}")
                        job.file_id = body["fileId"]
                break
            except aiohttp.ClientConnectionError:
                if attempt == RETRIES:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)
        request = {"input": {"sources": [{"fileId": job.file_id}], "dest": {"format": fmt}}}
        headers = {"Idempotency-Key": f"pagemill-cli:{job.file_id}:{fmt}"}
        process = await _request(http, "POST", f"{url}/v2/contentConverters", json=request, headers=headers)
        job.process_id, job.state = process["processId"], "converting"
        delay = 0.5
        while process["state"] == "processing":
            await asyncio.sleep(delay)
            delay = min(delay * 2, 8.0)
            process = await _request(http, "GET", f"{url}/v2/contentConverters/{job.process_id}")
            job.percent = process.get("percentComplete", 0)
            progress.show()
        if process["state"] != "complete":
            raise RuntimeError(f"conversion ended in {process['state']} ({process.get('errorCode')})")
        job.state = "downloading"
        for result, name in output_names(job.path.stem, fmt, process["output"]["results"]):
            if "fileId" not in result:
                raise RuntimeError(f"{name}: {result.get('errorCode')}")
            target = out / name
            partial = target.with_name(target.name + ".part")
            async with http.get(f"{url}/PCCIS/V1/WorkFile/{result['fileId']}") as resp:
                resp.raise_for_status()
                with open(partial, "wb") as fh:
                    async for chunk in resp.content.iter_chunked(256 * 1024):
                        fh.write(chunk)
            os.replace(partial, target)
            job.outputs.append(target)
        job.state = "done"
    except Exception as exc:
        job.state, job.error = "failed", str(exc)
    progress.show()


async def convert_folder(
    source: Path, out: Path, fmt: str, url: str, api_key: str | None, concurrency: int
) -> list[Job]:
    jobs = [Job(p) for p in sorted(source.iterdir()) if p.is_file() and not p.name.startswith(".")]
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(jobs)
    headers = {"Acs-Api-Key": api_key} if api_key else {}
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_read=600)) as http:

        async def run(job: Job) -> None:
            async with slots:
                await convert_one(http, url.rstrip("/"), job, fmt, out, progress)

        await asyncio.gather(*(run(j) for j in jobs))
    progress.show(final=True)
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert every file of a folder")
    convert.add_argument("input", type=Path)
    convert.add_argument("--out", type=Path, required=True)
    convert.add_argument("--format", choices=sorted(EXTENSIONS), default="png")
    convert.add_argument("--url", default=os.environ.get("PAGEMILL_URL", "http://127.0.0.1:18681"))
    convert.add_argument("--api-key", default=os.environ.get("PAGEMILL_API_KEY"))
    convert.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    if not args.input.is_dir():
        parser.error(f"{args.input} is not a folder")
    jobs = asyncio.run(convert_folder(args.input, args.out, args.format, args.url, args.api_key, args.concurrency))
    failed = [j for j in jobs if j.state != "done"]
    for job in jobs:
        status = f"{len(job.outputs)} file(s)" if job.state == "done" else f"FAILED: {job.error}"
        print(f"{job.path.name}: {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
