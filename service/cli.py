"""pagemill-batch: convert every file of a folder on a pagemill (or PrizmDoc) server and download the outputs."""

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from schemas import formats

RETRIES = 4
LONG_POLL_S = 20  # GET /v2/contentConverters/{id}?wait= (pagemill extension)
DEFAULT_URL = "http://127.0.0.1:18681"
INFO = "/PCCIS/V1/Service/Current/Info"  # public on pagemill and PrizmDoc
KEY_CHECK = "/v2/contentConverters/pagemill-batch-check"  # needs the API key, answers 404 JSON when it fits
MARKERS = ".pagemill-batch"  # a folder in --out: one marker per finished document
HINTS = {"InvalidPassword": "the document needs a password: pass --password"}
FINISHED = ("done", "skipped", "failed")

DESCRIPTION = """\
Convert every file of a folder on a pagemill (or PrizmDoc) server and download the outputs.

Outputs get deterministic names: <stem>.<ext> for a single result, <stem>-0001.<ext>, ... (1-based
page numbers) for one result per page. Each document's outputs are downloaded to temporary names
and renamed; a marker in OUT/.pagemill-batch/ records that all of them arrived, so a re-run skips
finished documents (whose input did not change) and --force converts them again. Every conversion
request carries an Idempotency-Key, so a retried request never starts a second conversion.
Exit status: 0 all converted or skipped, 1 some document failed, 2 the server cannot be used."""

EPILOG = f"""\
environment:
  PAGEMILL_URL      default for --url (else {DEFAULT_URL})
  PAGEMILL_API_KEY  default for --api-key (sent as the Acs-Api-Key header)"""


class ServerProblem(Exception):
    """The server cannot be used at all: told in one line, before anything is uploaded."""


class RequestFailed(Exception):
    """One request for one document failed; that document fails, the others go on."""


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
        done = sum(j.state in FINISHED for j in self.jobs)
        percent = sum(100 if j.state in FINISHED else j.percent for j in self.jobs) // max(1, len(self.jobs))
        bar = "#" * (percent // 4) + "-" * (25 - percent // 4)
        line = f"[{bar}] {done}/{len(self.jobs)} documents {percent:3d}%"
        print(("\r" if self.tty else "") + line, end="\n" if final or not self.tty else "", file=sys.stderr, flush=True)


def describe(body: Any) -> str:
    """`errorCode at errorDetails.at: message` of an error answer or of one failed result."""
    if not isinstance(body, dict):
        return "no error code"
    code = body.get("errorCode") or "no error code"
    text = str(code)
    details = body.get("errorDetails")
    if isinstance(details, dict) and details.get("at"):
        text += f" at {details['at']}"
    if body.get("message"):
        text += f": {body['message']}"
    if code in HINTS:
        text += f" ({HINTS[code]})"
    return text


def failure(process: dict[str, Any]) -> str:
    """Why a process ended in error: its results' own errorCodes (the real cause), else its errorCode."""
    output = process.get("output")
    results = output.get("results") if isinstance(output, dict) else None
    causes = [describe(r) for r in results or [] if isinstance(r, dict) and r.get("errorCode")]
    return "; ".join(dict.fromkeys(causes)) or describe(process)


async def _json(resp: aiohttp.ClientResponse) -> Any:
    try:
        return await resp.json(content_type=None)
    except ValueError:
        raise RequestFailed(
            f"{resp.method} {resp.url.path}: {resp.status} answer is not JSON ({resp.content_type})"
        ) from None


async def _request(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    """A JSON request, retried on connection errors and 5xx with backoff."""
    for attempt in range(RETRIES + 1):
        try:
            async with http.request(method, url, **kwargs) as resp:
                if resp.status < 500 or attempt == RETRIES:
                    body = await _json(resp)
                    if resp.status >= 400:
                        raise RequestFailed(f"{method} {resp.url.path}: {resp.status} {describe(body)}")
                    return body
        except (aiohttp.ClientConnectionError, TimeoutError):
            if attempt == RETRIES:
                raise
        await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


async def _probe(http: aiohttp.ClientSession, url: str, path: str) -> tuple[int, str, Any]:
    """(status, content type, JSON body or None) of one GET, or ServerProblem if nothing answers."""
    try:
        async with http.get(url + path, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            text = await resp.text(errors="replace")
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            return resp.status, resp.content_type, body
    except aiohttp.ClientConnectorError as exc:  # refused, DNS failure, unreachable network
        errno = exc.os_error.errno
        reason = os.strerror(errno) if errno and errno > 0 else exc.strerror
        raise ServerProblem(f"cannot reach {url}: {reason}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ServerProblem(f"cannot reach {url}: {exc or type(exc).__name__}") from None


async def check_server(http: aiohttp.ClientSession, url: str, api_key: str | None) -> None:
    """Raise ServerProblem unless `url` answers like pagemill/PrizmDoc and accepts our API key."""
    not_it = f"{url} does not look like a pagemill or PrizmDoc server"
    status, ctype, info = await _probe(http, url, INFO)
    if status not in (401, 403):
        if status != 200 or not isinstance(info, dict) or "serviceStatus" not in info:
            raise ServerProblem(f"{not_it}: GET {INFO} answered {status} {ctype}")
        status, ctype, _ = await _probe(http, url, KEY_CHECK)
        if ctype == "text/html":
            raise ServerProblem(f"{not_it}: GET {KEY_CHECK} answered {status} {ctype}")
    if status in (401, 403):
        if api_key:
            raise ServerProblem(f"{url} rejected the API key ({status}): check --api-key or PAGEMILL_API_KEY")
        raise ServerProblem(f"{url} needs an API key ({status}): pass --api-key or set PAGEMILL_API_KEY")
    if info["serviceStatus"] != "running":
        print(f"pagemill-batch: warning: {url} reports serviceStatus {info['serviceStatus']!r}", file=sys.stderr)


def output_names(stem: str, fmt: str, results: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Deterministic file names for a process's results."""
    ext = formats.by_output(fmt).extension
    if len(results) == 1:
        return [(results[0], f"{stem}.{ext}")]
    named = []
    for i, result in enumerate(results, start=1):
        pages = (result.get("sources") or [{}])[0].get("pages", "")
        number = int(pages) if pages.isdigit() else i
        named.append((result, f"{stem}-{number:04d}.{ext}"))
    return named


def marker_path(out: Path, source: Path, fmt: str) -> Path:
    return out / MARKERS / f"{source.name}.{fmt}.json"


def _fingerprint(source: Path) -> dict[str, int]:
    stat = source.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def finished_outputs(out: Path, source: Path, fmt: str) -> list[Path] | None:
    """The outputs of an earlier complete conversion of this unchanged input, if all are still there."""
    try:
        record = json.loads(marker_path(out, source, fmt).read_text())
        outputs = [out / name for name in record["outputs"]]
        unchanged = record["source"] == _fingerprint(source)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return outputs if unchanged and outputs and all(p.is_file() for p in outputs) else None


def mark_finished(out: Path, job: Job, fmt: str) -> None:
    """Written last, after every output was renamed into place: a half-downloaded document has none."""
    marker = marker_path(out, job.path, fmt)
    marker.parent.mkdir(exist_ok=True)
    partial = marker.with_name(marker.name + ".part")
    partial.write_text(json.dumps({"source": _fingerprint(job.path), "outputs": [p.name for p in job.outputs]}))
    os.replace(partial, marker)


async def _upload(http: aiohttp.ClientSession, url: str, path: Path) -> str:
    extension = path.suffix.lstrip(".") or "bin"
    for attempt in range(RETRIES + 1):
        try:
            with open(path, "rb") as fh:
                async with http.post(f"{url}/PCCIS/V1/WorkFile?FileExtension={extension}", data=fh) as resp:
                    body = await _json(resp)
                    if resp.status != 200:
                        raise RequestFailed(f"upload failed: {resp.status} {describe(body)}")
                    return str(body["fileId"])
        except aiohttp.ClientConnectionError:
            if attempt == RETRIES:
                raise
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


async def _download(http: aiohttp.ClientSession, url: str, file_id: str, target: Path) -> None:
    partial = target.with_name(target.name + ".part")
    async with http.get(f"{url}/PCCIS/V1/WorkFile/{file_id}") as resp:
        if resp.status != 200:
            raise RequestFailed(f"download of {target.name} failed: {resp.status} {describe(await _json(resp))}")
        with open(partial, "wb") as fh:
            async for chunk in resp.content.iter_chunked(256 * 1024):
                fh.write(chunk)
    os.replace(partial, target)


async def convert_one(
    http: aiohttp.ClientSession, url: str, job: Job, fmt: str, out: Path, password: str | None, progress: Progress
) -> None:
    try:
        marker_path(out, job.path, fmt).unlink(missing_ok=True)  # redone: not finished until it is again
        job.state = "uploading"
        job.file_id = await _upload(http, url, job.path)
        source: dict[str, Any] = {"fileId": job.file_id}
        if password is not None:
            source["password"] = password
        request = {"input": {"sources": [source], "dest": {"format": fmt}}}
        headers = {"Idempotency-Key": f"pagemill-cli:{job.file_id}:{fmt}"}
        process = await _request(http, "POST", f"{url}/v2/contentConverters", json=request, headers=headers)
        job.process_id, job.state = process["processId"], "converting"
        delay = 0.5
        while process["state"] == "processing":
            # pagemill answers this long poll the moment the process ends; a server that ignores `wait`
            # (PrizmDoc) answers at once, and is then asked again after a growing delay.
            asked = time.monotonic()
            poll_url = f"{url}/v2/contentConverters/{job.process_id}?wait={LONG_POLL_S}"
            process = await _request(http, "GET", poll_url)
            job.percent = process.get("percentComplete", 0)
            progress.show()
            if process["state"] == "processing" and time.monotonic() - asked < LONG_POLL_S / 2:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 8.0)
        if process["state"] != "complete":
            raise RequestFailed(failure(process) if process["state"] == "error" else f"conversion {process['state']}")
        job.state = "downloading"
        for result, name in output_names(job.path.stem, fmt, process["output"]["results"]):
            if "fileId" not in result:
                raise RequestFailed(f"{name}: {describe(result)}")
            await _download(http, url, result["fileId"], out / name)
            job.outputs.append(out / name)
        mark_finished(out, job, fmt)
        job.state = "done"
    except Exception as exc:
        job.state, job.error = "failed", str(exc) or type(exc).__name__
    progress.show()


async def convert_folder(
    source: Path,
    out: Path,
    fmt: str,
    url: str,
    api_key: str | None,
    concurrency: int,
    *,
    password: str | None = None,
    force: bool = False,
) -> list[Job]:
    """Convert every file of `source`; raise ServerProblem (before uploading anything) if the server is unusable."""
    jobs = [Job(p) for p in sorted(source.iterdir()) if p.is_file() and not p.name.startswith(".")]
    out.mkdir(parents=True, exist_ok=True)
    for job in jobs:
        if not force and (outputs := finished_outputs(out, job.path, fmt)):
            job.state, job.outputs = "skipped", outputs
    pending = [j for j in jobs if j.state == "pending"]
    progress = Progress(jobs)
    headers = {"Acs-Api-Key": api_key} if api_key else {}
    slots = asyncio.Semaphore(concurrency)
    url = url.rstrip("/")
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_read=600)) as http:
        if pending:
            await check_server(http, url, api_key)

        async def run(job: Job) -> None:
            async with slots:
                await convert_one(http, url, job, fmt, out, password, progress)

        await asyncio.gather(*(run(j) for j in pending))
    progress.show(final=True)
    return jobs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pagemill-batch",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="what to do")
    convert = commands.add_parser(
        "convert",
        help="convert every file of a folder",
        description="Upload every file of INPUT (not sub-folders, not hidden files), convert each one and\n"
        "download its outputs into --out; a re-run skips documents finished before.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert.add_argument("input", type=Path, metavar="INPUT", help="folder whose files are converted")
    convert.add_argument("--out", type=Path, required=True, help="folder for the outputs (created if missing)")
    convert.add_argument(
        "--format", choices=sorted(formats.OUTPUTS), default="png", help="output format (default: %(default)s)"
    )
    convert.add_argument(
        "--url",
        default=os.environ.get("PAGEMILL_URL", DEFAULT_URL),
        help=f"server base URL (default: $PAGEMILL_URL, else {DEFAULT_URL})",
    )
    convert.add_argument(
        "--api-key",
        default=os.environ.get("PAGEMILL_API_KEY"),
        help="API key sent as Acs-Api-Key (default: $PAGEMILL_API_KEY; none when unset)",
    )
    convert.add_argument(
        "--password", help="password for encrypted documents, sent as sources[0].password for every document"
    )
    convert.add_argument(
        "--force", action="store_true", help="convert again documents a previous run finished (default: skip them)"
    )
    convert.add_argument(
        "--concurrency", type=int, default=4, help="documents converted at the same time (default: %(default)s)"
    )
    return parser


def report(jobs: list[Job], out: Path) -> None:
    for job in jobs:
        if job.state == "failed":
            status = f"FAILED: {job.error}"
        else:
            status = f"{len(job.outputs)} file(s)" + (" (skipped: done earlier)" if job.state == "skipped" else "")
        print(f"{job.path.name}: {status}")
    counts = {state: sum(j.state == state for j in jobs) for state in FINISHED}
    line = f"{counts['done']} converted, {counts['skipped']} skipped, {counts['failed']} failed"
    if counts["skipped"]:
        line += f" (skipped: finished earlier in {out}; --force converts them again)"
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.input.is_dir():
        parser.error(f"{args.input} is not a folder")
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"--url {args.url!r} must start with http:// or https://")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    try:
        jobs = asyncio.run(
            convert_folder(
                args.input,
                args.out,
                args.format,
                args.url,
                args.api_key,
                args.concurrency,
                password=args.password,
                force=args.force,
            )
        )
    except ServerProblem as exc:
        print(f"pagemill-batch: {exc}", file=sys.stderr)
        return 2
    report(jobs, args.out)
    return 1 if any(j.state == "failed" for j in jobs) else 0


if __name__ == "__main__":
    sys.exit(main())
