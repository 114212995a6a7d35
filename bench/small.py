"""Small documents fast: latency, throughput, a 1,000-document batch, a large document and a viewer under
load, each beside `mutool draw` on the same files and cores, in one run.

Usage: .venv/bin/python bench/small.py [--url http://host:port] [--runs 30] [--docs 100] [--batch 1000]
       [--pages 117] [--no-wait]
Without --url it starts `python -m service serve` (embedded Redis, one worker) on a free port. Needs
mutool (apt-get install mupdf-tools). Every pagemill figure is end to end: upload, POST
/v2/contentConverters (png), GET /v2/contentConverters/{id}?wait=10 until final, download every output.
"""

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pypdfium2.version

from bench.common import download_results, running_service
from tests.docgen import text_pdf

DPI = "150"  # pagemill's default PAGEMILL_RENDER_DPI
WAIT_S = 10


def tree_rss_mb(root: int, skip: tuple[str, ...] = ("redis-server",)) -> float:
    """RSS of `root` and its descendants (but not `skip`), in MB."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        names[int(entry.name)] = name
    total_kb, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        if names.get(pid, "") in skip:
            continue
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


class RssSampler(threading.Thread):
    """Samples a process tree's RSS twice a second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples, self.running = pid, [], True

    def run(self) -> None:
        while self.running:
            self.samples.append(tree_rss_mb(self.pid))
            time.sleep(0.5)

    def stop(self) -> list[float]:
        self.running = False
        self.join()
        return self.samples


# --- pagemill, end to end -----------------------------------------------------------------------


async def convert(http: aiohttp.ClientSession, url: str, pdf: bytes, wait: bool, keep: bool = False) -> int:
    """Upload, convert to png, wait, download every output; returns the bytes downloaded."""
    async with http.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=pdf", data=pdf) as resp:
        assert resp.status == 200, await resp.text()
        file_id = (await resp.json())["fileId"]
    body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": "png"}}}
    async with http.post(f"{url}/v2/contentConverters", json=body) as resp:
        process = await resp.json()
        assert resp.status == 200, process
    poll = f"{url}/v2/contentConverters/{process['processId']}" + (f"?wait={WAIT_S}" if wait else "")
    while process["state"] == "processing":
        if not wait:
            await asyncio.sleep(0.005)
        async with http.get(poll) as resp:
            process = await resp.json()
    return await download_results(http, url, process)


async def latency(url: str, pdf: bytes, runs: int, wait: bool, work: Path) -> tuple[list[float], list[float]]:
    """One document at a time through pagemill, each followed by one cold `mutool draw` of it (so both
    see the same load on a shared machine): both lists of seconds."""
    async with aiohttp.ClientSession() as http:
        await convert(http, url, pdf, wait)  # warm: connection, caches, render processes
        mutool(work / "one.pdf", work / "warm.png")
        ours, theirs = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            await convert(http, url, pdf, wait)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await asyncio.to_thread(mutool, work / "one.pdf", work / "one.png")
            theirs.append(time.perf_counter() - t0)
    return ours, theirs


async def throughput(url: str, pdfs: list[bytes], clients: int, wait: bool) -> float:
    """Documents per second with `clients` clients each converting one document at a time."""
    todo = list(pdfs)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as http:

        async def client() -> None:
            while todo:
                await convert(http, url, todo.pop(), wait)

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return len(pdfs) / (time.perf_counter() - t0)


async def large(url: str, pdf: bytes, wait: bool) -> tuple[float, int]:
    """Seconds for upload -> every page downloaded as png, over one kept-alive connection."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        t0 = time.perf_counter()
        size = await convert(http, url, pdf, wait)
        return time.perf_counter() - t0, size


async def first_page(http: aiohttp.ClientSession, url: str, pdf: bytes) -> float:
    """A new viewing session of `pdf`: POST ViewingSession, PUT SourceFile, GET Page/q/0."""
    t0 = time.perf_counter()
    async with http.post(f"{url}/PCCIS/V1/ViewingSession", json={"countOfInitialPages": 1}) as resp:
        sid = (await resp.json())["viewingSessionId"]
    async with http.put(f"{url}/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension=pdf", data=pdf) as resp:
        assert resp.status == 200, await resp.text()
    async with http.get(f"{url}/PCCIS/V1/Page/q/0", params={"DocumentID": f"u{sid}"}) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return time.perf_counter() - t0


async def viewer_under_load(
    url: str, view_pdfs: list[bytes], batch: list[bytes], wait: bool, rounds: int = 3
) -> tuple[float, float]:
    """Median first page idle and while `batch` is being converted by 8 clients, in `rounds` rounds
    (idle sessions, then a part of the batch with sessions during it), so both see the machine alike."""
    per_round = len(view_pdfs) // (2 * rounds)
    docs = iter(view_pdfs)
    idle, busy = [], []
    async with aiohttp.ClientSession() as http:
        await first_page(http, url, text_pdf(3, lines=10))  # warm
        for r in range(rounds):
            idle += [await first_page(http, url, next(docs)) for _ in range(per_round)]
            part = batch[r * len(batch) // rounds : (r + 1) * len(batch) // rounds]
            flood = asyncio.create_task(throughput(url, part, 8, wait))
            await asyncio.sleep(1.5)  # the batch is well under way
            for _ in range(per_round):
                busy.append(await first_page(http, url, next(docs)))
                await asyncio.sleep(0.3)
            assert not flood.done(), "the batch ended before the viewer was measured: use a larger --batch"
            await flood
    return statistics.median(idle), statistics.median(busy)


def cli_batch(url: str, folder: Path, out: Path, server_pid: int | None, in_flight: int) -> dict[str, Any]:
    """The project's CLI over the folder; its exit status, time and the service's RSS samples."""
    sampler = RssSampler(server_pid) if server_pid else None
    if sampler:
        sampler.start()
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "convert",
            str(folder),
            "--out",
            str(out),
            "--url",
            url,
            "--concurrency",
            str(in_flight),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    samples = sampler.stop() if sampler else []
    return {"rc": done.returncode, "s": elapsed, "summary": done.stdout.strip().splitlines()[-1], "rss": samples}


# --- mutool -------------------------------------------------------------------------------------


def mutool(pdf: Path, out: Path, pages: str = "") -> None:
    cmd = ["mutool", "draw", "-q", "-r", DPI, "-o", str(out), str(pdf)] + ([pages] if pages else [])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def mutool_parallel(commands: list[list[str]], parallel: int) -> float:
    """Seconds to run every command, `parallel` at a time."""
    todo = list(commands)
    running: list[subprocess.Popen[bytes]] = []
    t0 = time.perf_counter()
    while todo or running:
        while todo and len(running) < parallel:
            running.append(subprocess.Popen(todo.pop(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        running[0].wait()
        running = [p for p in running if p.poll() is None]
    return time.perf_counter() - t0


def draw(pdf: Path, out: str, pages: str = "") -> list[str]:
    return ["mutool", "draw", "-q", "-r", DPI, "-o", out, str(pdf)] + ([pages] if pages else [])


# --- the run ------------------------------------------------------------------------------------


def versions() -> str:
    mutool_version = subprocess.run(["mutool", "-v"], capture_output=True, text=True)
    line = (mutool_version.stderr or mutool_version.stdout).strip().splitlines()[0]
    return (
        f"{os.cpu_count()} CPUs; {line}; Python {platform.python_version()}; "
        f"pypdfium2 {pypdfium2.version.PYPDFIUM_INFO} (PDFium {pypdfium2.version.PDFIUM_INFO})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running pagemill; default: start one")
    parser.add_argument("--runs", type=int, default=30, help="documents timed one at a time")
    parser.add_argument("--docs", type=int, default=100, help="documents for the 8-client throughput")
    parser.add_argument("--batch", type=int, default=1000, help="documents of the CLI batch and the viewer load")
    parser.add_argument("--pages", type=int, default=117, help="pages of the large document")
    parser.add_argument("--no-wait", action="store_true", help="poll every 5 ms instead of ?wait= (older servers)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="setting for the service")
    args = parser.parse_args()
    if not shutil.which("mutool"):
        raise SystemExit("needs mutool: apt-get install mupdf-tools")
    wait = not args.no_wait
    work = Path(tempfile.mkdtemp(prefix="pagemill-small-"))
    one = text_pdf(1)
    (work / "one.pdf").write_bytes(one)
    docs = work / "docs"
    docs.mkdir()
    for i in range(max(args.docs, args.batch)):
        (docs / f"doc-{i:04d}.pdf").write_bytes(one)
    big = text_pdf(args.pages)
    (work / "big.pdf").write_bytes(big)
    rows: list[tuple[str, str, str, str, str]] = []

    print(
        f"# bench/small.py: {versions()}; load before: {os.getloadavg()[0]:.2f}" + "".join(f"; {e}" for e in args.env)
    )
    env = dict(item.split("=", 1) for item in args.env)
    with running_service(args.url, **env) as (url, server):
        # 1. latency
        ours, theirs = asyncio.run(latency(url, one, args.runs, wait, work))
        p50, m50 = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
        p95 = statistics.quantiles(ours, n=20)[18] * 1000
        rows.append(
            (
                "one 1-page doc alone, p50 ms (p95)",
                f"{p50:.1f} ({p95:.1f})",
                f"{m50:.1f}",
                f"{m50 / p50:.2f}x",
                "pagemill <= mutool",
            )
        )
        # 2. throughput, 8 clients; in two rounds each, taking turns (the machine's load is shared alike)
        ours_s = theirs_s = 0.0
        for _ in range(2):
            ours_s += args.docs / asyncio.run(throughput(url, [one] * args.docs, 8, wait))
            commands = [draw(work / "one.pdf", str(work / f"t{i}.png")) for i in range(args.docs)]
            theirs_s += mutool_parallel(commands, 2)
        rate, mrate = 2 * args.docs / ours_s, 2 * args.docs / theirs_s
        rows.append(
            (
                f"{args.docs} 1-page docs, 8 clients, docs/s",
                f"{rate:.1f}",
                f"{mrate:.1f} (2 at a time)",
                f"{rate / mrate:.2f}x",
                ">= 1.5x",
            )
        )
        # 3. the CLI batch
        batch = cli_batch(url, docs, work / "out", server.pid if server else None, 8)
        rss = batch["rss"]
        shape = f"RSS {rss[len(rss) // 10]:.0f} -> {max(rss):.0f} peak -> {rss[-1]:.0f} MB" if rss else "RSS n/a"
        rows.append(
            (
                f"CLI batch of {args.batch}, 8 in flight, docs/s",
                f"{args.batch / batch['s']:.1f}",
                "",
                f"exit {batch['rc']}",
                f"{batch['summary']}; {shape}",
            )
        )
        # 4. the large document
        ours_s, size = asyncio.run(large(url, big, wait))
        half = args.pages // 2
        theirs_s = mutool_parallel(
            [
                draw(work / "big.pdf", str(work / "a%d.png"), f"1-{half}"),
                draw(work / "big.pdf", str(work / "b%d.png"), f"{half + 1}-N"),
            ],
            2,
        )
        rows.append(
            (
                f"{args.pages}-page doc to png, one connection, s",
                f"{ours_s:.2f} ({size / 1e6:.0f} MB)",
                f"{theirs_s:.2f} (2 processes)",
                f"{theirs_s / ours_s:.2f}x",
                ">= 1.3x",
            )
        )
        # 5. a viewer's first page while a batch is converted
        view = [text_pdf(10, lines=20 + i) for i in range(18)]  # distinct documents (at most 41 lines fit)
        idle, busy = asyncio.run(viewer_under_load(url, view, [one] * args.batch, wait))
        rows.append(
            (
                "viewer first page, idle -> under batch load, ms",
                f"{idle * 1000:.1f} -> {busy * 1000:.1f}",
                "",
                f"{busy / idle:.2f}x idle",
                "<= 2x idle",
            )
        )
    print(f"# load after: {os.getloadavg()[0]:.2f}")
    print()
    print("| measure | pagemill | mutool draw -r 150 | ratio | bar / note |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
