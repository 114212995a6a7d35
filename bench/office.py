"""Office benchmark: docx -> pdf and docx -> png throughput, and the first page of a docx viewing
session, beside `soffice --headless --convert-to pdf` run once per file on the same documents.

Usage: .venv/bin/python bench/office.py [--url http://127.0.0.1:18681] [--docs 40] [--in-flight 4] [--reps 5]
Without --url it starts `python -m service serve` (embedded Redis, the README's default settings:
one worker whose LibreOffice converters start with it, PAGEMILL_OFFICE_PRESTART) on a free port.

What is warm, on both sides: before any timing pagemill has converted a few office documents end
to end (its LibreOffice converters are up and each is past its first document, which is slower),
and `soffice` has converted one document with each `-env:UserInstallation` profile it then uses
(the profile exists). Both first, cold runs are printed but not counted. Every timed document is
new content (a per-run nonce), so pagemill's per-content caches (the office PDF, rendered pages)
never answer a timed request, and each measurement starts once the service has no job left.
CPU time: the service's whole process tree (web, worker, render processes, LibreOffice, Redis),
when it was started here; the `soffice` (and `mutool`) commands' own.
"""

import argparse
import asyncio
import io
import os
import platform
import random
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import aiohttp
import pypdfium2 as pdfium

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, download_results, running_service
from core.settings import Settings

POLL_S = 0.05
PROSE = (
    "the quarterly report summarises revenue growth across all regions while operating costs remained "
    "stable despite higher energy prices and the board approved a new investment programme for the "
    "coming year including hiring plans customer support improvements product roadmap milestones risk "
    "assessment supplier contracts audit findings and compliance training for every department manager "
    "sales increased in the northern market whereas the southern division reported lower margins because "
    "of currency effects delayed shipments and one-off restructuring charges that will not recur"
)
WORDS = PROSE.split()
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


# --- documents -------------------------------------------------------------------------------


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(9, 18))]
    return " ".join(words).capitalize() + "."


def _run(text: str, *, bold: bool = False, size_pt: int = 0) -> str:
    props = ("<w:b/>" if bold else "") + (f'<w:sz w:val="{size_pt * 2}"/>' if size_pt else "")
    return f'<w:r>{f"<w:rPr>{props}</w:rPr>" if props else ""}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def _table(rng: random.Random) -> str:
    cell = '<w:tc><w:tcPr><w:tcW w:w="2340" w:type="dxa"/></w:tcPr><w:p>{}</w:p></w:tc>'
    head = "".join(cell.format(_run(h, bold=True)) for h in ("Region", "Q1", "Q2", "Q3"))
    rows = [f"<w:tr>{head}</w:tr>"]
    for region in ("North", "South", "East", "West"):
        values = [region] + [f"{rng.randint(1000, 99999):,}" for _ in range(3)]
        rows.append("<w:tr>" + "".join(cell.format(_run(v)) for v in values) + "</w:tr>")
    borders = "".join(f'<w:{b} w:val="single" w:sz="4" w:color="808080"/>' for b in ("top", "left", "bottom", "right"))
    return f'<w:tbl><w:tblPr><w:tblW w:w="9360" w:type="dxa"/><w:tblBorders>{borders}</w:tblBorders></w:tblPr>{"".join(rows)}</w:tbl>'


def report_docx(pages: int, seed: str) -> bytes:
    """A Word report of `pages` pages (explicit page breaks): a heading, four paragraphs of prose
    and, every other page, a small table; `seed` makes the text (and so the bytes) its own."""
    rng = random.Random(seed)
    body = []
    for p in range(pages):
        brk = '<w:r><w:br w:type="page"/></w:r>' if p else ""
        body.append(f"<w:p>{brk}{_run(f'{p + 1}. {_sentence(rng)[:48]}', bold=True, size_pt=16)}</w:p>")
        body.append(f"<w:p>{_run(f'Reference {seed}', size_pt=8)}</w:p>")
        for _ in range(4):
            text = " ".join(_sentence(rng) for _ in range(rng.randint(3, 4)))
            body.append(f'<w:p><w:pPr><w:jc w:val="both"/></w:pPr>{_run(text)}</w:p>')
        if p % 2:
            body.append(_table(rng))
            body.append("<w:p/>")
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>'
        + "".join(body)
        + '<w:sectPr><w:pgSz w:w="12240" w:h="15840"/>'
        '<w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440"/></w:sectPr></w:body></w:document>'
    )
    styles = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles xmlns:w="{_W}"><w:docDefaults>'
        '<w:rPrDefault><w:rPr><w:rFonts w:ascii="Liberation Serif" w:hAnsi="Liberation Serif"/>'
        '<w:sz w:val="22"/></w:rPr></w:rPrDefault>'
        '<w:pPrDefault><w:pPr><w:spacing w:after="160" w:line="264" w:lineRule="auto"/></w:pPr></w:pPrDefault>'
        "</w:docDefaults></w:styles>"
    )
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg_rels = "http://schemas.openxmlformats.org/package/2006/relationships"
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/word/document.xml" ContentType="{main}.document.main+xml"/>'
            f'<Override PartName="/word/styles.xml" ContentType="{main}.styles+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{pkg_rels}">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/_rels/document.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{pkg_rels}">'
            f'<Relationship Id="rId1" Type="{rel}/styles" Target="styles.xml"/></Relationships>'
        ),
        "word/document.xml": document,
        "word/styles.xml": styles,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write_docs(work: Path, name: str, pages: list[int], nonce: str) -> list[Path]:
    paths = []
    for i, n in enumerate(pages):
        path = work / f"{name}-{i:03d}.docx"
        path.write_bytes(report_docx(n, f"{nonce}-{name}-{i}"))
        paths.append(path)
    return paths


def pdf_pages(path: Path) -> int:
    return len(pdfium.PdfDocument(str(path)))


# --- pagemill ----------------------------------------------------------------------------------


async def convert_one(http: aiohttp.ClientSession, url: str, data: bytes, fmt: str) -> tuple[int, int]:
    """Upload, convert, poll and download every result; (pages, bytes downloaded)."""
    async with http.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=docx", data=data) as resp:
        assert resp.status == 200, await resp.text()
        file_id = (await resp.json())["fileId"]
    body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": fmt}}}
    async with http.post(f"{url}/v2/contentConverters", json=body) as resp:
        assert resp.status == 200, await resp.text()
        process_id = (await resp.json())["processId"]
    while True:
        async with http.get(f"{url}/v2/contentConverters/{process_id}") as resp:
            status = await resp.json()
        if status["state"] != "processing":
            break
        await asyncio.sleep(POLL_S)
    total = await download_results(http, url, status)
    return sum(r["pageCount"] for r in status["output"]["results"]), total


@dataclass
class Figures:
    """One line of a throughput table."""

    name: str
    docs: int
    pages: int
    wall_s: float
    bytes: int
    cpu_s: float | None  # None: not measurable (a service given by --url)
    detail: str = ""
    profile: str = ""  # where pagemill's time went


async def pagemill_throughput(url: str, docs: list[Path], fmt: str, in_flight: int, pid: int | None) -> Figures:
    """Convert every document end to end, `in_flight` at a time, once the service is idle;
    `pid`: the service's process, whose tree's CPU time is counted."""
    await wait_idle(url)
    jobs_before = await job_seconds(url)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        sem = asyncio.Semaphore(in_flight)
        latencies: list[float] = []

        async def one(path: Path) -> tuple[int, int]:
            async with sem:
                t0 = time.perf_counter()
                out = await convert_one(http, url, path.read_bytes(), fmt)
                latencies.append(time.perf_counter() - t0)
                return out

        cpu0 = tree_cpu_s(pid) if pid else 0.0
        t0 = time.perf_counter()
        done = await asyncio.gather(*(one(p) for p in docs))
        wall = time.perf_counter() - t0
        cpu = tree_cpu_s(pid) - cpu0 if pid else None
    jobs = job_breakdown(jobs_before, await job_seconds(url))
    profile = f"p50 per document {statistics.median(latencies) * 1000:.0f} ms; worker jobs (wall, mean): {jobs}"
    pages, nbytes = sum(p for p, _ in done), sum(b for _, b in done)
    return Figures(f"pagemill, {in_flight} in flight", len(docs), pages, wall, nbytes, cpu, "end to end", profile)


async def first_page(url: str, data: bytes, initial: int) -> float:
    """New session, PUT SourceFile, GET page 0 until 200: seconds."""
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        t0 = time.perf_counter()
        async with http.post(f"{url}/PCCIS/V1/ViewingSession", json={"countOfInitialPages": initial}) as resp:
            sid = (await resp.json())["viewingSessionId"]
        put = f"{url}/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension=docx"
        async with http.put(put, data=data) as resp:
            assert resp.status == 200, await resp.text()
        while True:
            async with http.get(f"{url}/PCCIS/V1/Page/q/0", params={"DocumentID": f"u{sid}"}) as resp:
                await resp.read()
                if resp.status == 200:
                    break
                assert resp.status == 504, resp.status  # not ready yet: ask again
        return time.perf_counter() - t0


async def job_seconds(url: str) -> dict[str, tuple[float, int]]:
    """The workers' job time so far by job type (from /metrics): {job: (seconds, count)}."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    sums = dict(re.findall(r'pagemill_job_duration_seconds_sum\{job="([^"]+)"\} (\S+)', text))
    counts = dict(re.findall(r'pagemill_job_duration_seconds_count\{job="([^"]+)"\} (\S+)', text))
    return {job: (float(sums[job]), int(float(counts.get(job, 0)))) for job in sums}


async def wait_idle(url: str, timeout_s: float = 300) -> None:
    """Wait until no job is waiting or running (so one measurement's leftovers never slow the next)."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            async with http.get(f"{url}/metrics") as resp:
                depths = re.findall(r"pagemill_queue_depth\{[^}]*\} (\S+)", await resp.text())
            if depths and all(float(d) == 0 for d in depths):
                return
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} still has jobs after {timeout_s:g} s")


def job_breakdown(before: dict[str, tuple[float, int]], after: dict[str, tuple[float, int]]) -> str:
    parts = []
    for job, (seconds, count) in sorted(after.items()):
        d_s, d_n = seconds - before.get(job, (0.0, 0))[0], count - before.get(job, (0.0, 0))[1]
        if d_n:
            parts.append(f"{job} {d_n} x {d_s / d_n * 1000:.0f} ms")
    return ", ".join(parts)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and its descendants, live or reaped."""
    procs: dict[int, tuple[int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        # after the command: state ppid ... utime(12) stime(13) cutime(14) cstime(15), in clock ticks
        procs[int(stat.parent.name)] = (int(fields[1]), sum(int(t) for t in fields[11:15]))
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, _) in procs.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(procs[p][1] for p in tree if p in procs) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    """CPU seconds of this process's reaped children (the soffice and mutool commands run here)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- soffice -----------------------------------------------------------------------------------


@dataclass
class Soffice:
    """`soffice --headless --convert-to pdf`, one command per file, with one reused profile."""

    binary: str
    profile: Path

    def convert(self, src: Path, outdir: Path) -> float:
        t0 = time.perf_counter()
        subprocess.run(
            [
                self.binary,
                "--headless",
                f"-env:UserInstallation={self.profile.resolve().as_uri()}",
                "--convert-to",
                "pdf",
                "--outdir",
                str(outdir),
                str(src),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - t0
        if not (outdir / f"{src.stem}.pdf").exists():
            raise SystemExit(f"soffice made no pdf of {src}")
        return elapsed


def mutool_png(pdf: Path, outdir: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["mutool", "draw", "-q", "-r", "150", "-o", str(outdir / f"{pdf.stem}-%d.png"), str(pdf)],
        check=True,
        stderr=subprocess.DEVNULL,  # "ICC support is not available"
    )
    return time.perf_counter() - t0


def run_files(fn: Callable[[int, Path], object], files: list[Path], workers: int = 1) -> tuple[float, float]:
    """Run `fn(k, file)` on every file, `workers` at a time (worker k takes every k-th file):
    (wall seconds, CPU seconds of the commands it ran)."""
    cpu0, t0 = children_cpu_s(), time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda k: [fn(k, f) for f in files[k::workers]], range(workers)))
    return time.perf_counter() - t0, children_cpu_s() - cpu0


def dir_bytes(outdir: Path, suffix: str) -> int:
    """Bytes of the files with `suffix` in `outdir`."""
    return sum(f.stat().st_size for f in outdir.glob(f"*{suffix}"))


# --- report -------------------------------------------------------------------------------------


def table(rows: list[Figures]) -> None:
    print(f"  {'':<38}{'docs':>5}{'pages':>6}{'wall s':>8}{'docs/s':>8}{'pages/s':>8}{'MB out':>7}{'CPU s/doc':>10}")
    for f in rows:
        cpu = f"{f.cpu_s / f.docs:>10.3f}" if f.cpu_s is not None else f"{'-':>10}"
        print(
            f"  {f.name:<38}{f.docs:>5}{f.pages:>6}{f.wall_s:>8.2f}{f.docs / f.wall_s:>8.2f}"
            f"{f.pages / f.wall_s:>8.1f}{f.bytes / 1e6:>7.1f}{cpu}   {f.detail}"
        )


def compare(pm: Figures, peers: list[Figures]) -> None:
    """pagemill's throughput (wall time, and CPU time per document when known) as multiples of each peer's."""
    for peer in peers:
        by_cpu = ""
        if pm.cpu_s and peer.cpu_s:
            by_cpu = f", by CPU per document {peer.cpu_s / peer.docs / (pm.cpu_s / pm.docs):.1f}x"
        print(f"  pagemill vs {peer.name.strip()}: {peer.wall_s / pm.wall_s:.1f}x the throughput{by_cpu}")
    print(f"  pagemill: {pm.profile}")
    if pm.pages != peers[0].pages:
        print(f"  ! page counts differ: pagemill {pm.pages}, soffice {peers[0].pages}")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def warm_up(url: str, docs: list[Path], cores: int, office: list[Soffice], out: Path) -> None:
    """Not counted: pagemill converts one document alone (its first, timed), then `cores` at once
    to pdf and to png, so every LibreOffice converter and render process has had a document;
    each soffice profile converts one document (the first run creates the profile, timed)."""
    t0 = time.perf_counter()
    asyncio.run(pagemill_throughput(url, docs[:1], "pdf", 1, None))
    cold_pagemill = time.perf_counter() - t0
    asyncio.run(pagemill_throughput(url, docs[1 : 1 + cores], "pdf", cores, None))
    asyncio.run(pagemill_throughput(url, docs[1 + cores : 1 + 2 * cores], "png", cores, None))
    cold_soffice = office[0].convert(docs[1 + 2 * cores], out)
    for k, profile in enumerate(office[1:], start=2 + 2 * cores):
        profile.convert(docs[k], out)
    print(
        f"warm-up, not counted: pagemill's first office document took {cold_pagemill:.2f} s after the service "
        f"reported healthy, soffice's first run {cold_soffice:.2f} s (it creates the profile)"
    )
    print(
        "timed: pagemill warm (its LibreOffice converters running, each past its first document); "
        "soffice warm (its profile exists; one process start per file, which is how the command works)"
    )


def pdf_section(url: str, pid: int | None, docs: list[Path], in_flight: int, office: list[Soffice], work: Path) -> None:
    cores = len(office)
    print(f"\n1. docx -> pdf, {len(docs)} documents   ({load()})")
    pm = asyncio.run(pagemill_throughput(url, docs, "pdf", in_flight, pid))
    seq_out, par_out = work / "pdf-seq", work / "pdf-par"
    seq_s, seq_cpu = run_files(lambda _, f: office[0].convert(f, seq_out), docs)
    pages = sum(pdf_pages(p) for p in seq_out.glob("*.pdf"))
    seq_bytes = dir_bytes(seq_out, ".pdf")
    seq = Figures("soffice --convert-to pdf, per file", len(docs), pages, seq_s, seq_bytes, seq_cpu, "one at a time")
    par_s, par_cpu = run_files(lambda k, f: office[k].convert(f, par_out), docs, cores)
    par = Figures(f"soffice per file, {cores} at once", len(docs), pages, par_s, dir_bytes(par_out, ".pdf"), par_cpu)
    par.detail = "one profile each"
    table([pm, seq, par])
    compare(pm, [seq, par])
    print("  goal: >= 10x the throughput of soffice per file")


def png_section(url: str, pid: int | None, docs: list[Path], in_flight: int, office: Soffice, work: Path) -> None:
    print(f"\n2. docx -> png at 150 dpi, {len(docs)} other documents of the same shapes   ({load()})")
    pm = asyncio.run(pagemill_throughput(url, docs, "png", in_flight, pid))
    out = work / "png-seq"
    soffice_s = soffice_cpu = mutool_s = mutool_cpu = 0.0
    mutool = shutil.which("mutool") is not None
    for f in docs:
        cpu0 = children_cpu_s()
        soffice_s += office.convert(f, out)
        cpu1 = children_cpu_s()
        soffice_cpu += cpu1 - cpu0
        if mutool:
            mutool_s += mutool_png(out / f"{f.stem}.pdf", out)
            mutool_cpu += children_cpu_s() - cpu1
    pages = sum(pdf_pages(p) for p in out.glob("*.pdf"))
    rows = [
        pm,
        Figures(
            "soffice --convert-to pdf, per file",
            len(docs),
            pages,
            soffice_s,
            dir_bytes(out, ".pdf"),
            soffice_cpu,
            "the issue's peer",
        ),
    ]
    if mutool:
        png_bytes = dir_bytes(out, ".png")
        rows.append(
            Figures(
                "soffice per file + mutool draw -r 150",
                len(docs),
                pages,
                soffice_s + mutool_s,
                png_bytes,
                soffice_cpu + mutool_cpu,
                f"png; mutool {mutool_s:.2f} s of it",
            )
        )
    table(rows)
    compare(pm, rows[1:])
    print("  goal: >= 10x the throughput of soffice per file")


def first_page_section(url: str, docs: list[Path], reps: int, office: Soffice, work: Path) -> None:
    print(f"\n3. first page of a {pdf_pages_of(docs[0], office, work)}-page docx viewing session, median of {reps}")
    print(f"   ({load()})")
    out = work / "long-out"
    figures: dict[str, list[float]] = {"initial1": [], "initial0": [], "soffice": []}
    for r in range(reps):
        for initial, doc in ((1, docs[2 * r]), (0, docs[2 * r + 1])):
            asyncio.run(wait_idle(url))
            figures[f"initial{initial}"].append(asyncio.run(first_page(url, doc.read_bytes(), initial)))
            asyncio.run(wait_idle(url))  # the rest of the session's pages, when it converts them all
            figures["soffice"].append(office.convert(doc, out))
    soffice_ms = statistics.median(figures["soffice"]) * 1000
    print(f"  {'':<58}{'median ms':>10}{'min':>8}{'max':>8}   vs soffice")
    for key, name in (
        ("initial1", "pagemill: session, PUT, page 0 (countOfInitialPages=1)"),
        ("initial0", "pagemill: the same with countOfInitialPages=0 (default)"),
        ("soffice", "soffice --convert-to pdf of the same documents"),
    ):
        ms = [v * 1000 for v in figures[key]]
        ratio = f"{statistics.median(ms) / soffice_ms:.2f}x"
        print(f"  {name:<58}{statistics.median(ms):>10.0f}{min(ms):>8.0f}{max(ms):>8.0f}   {ratio}")
    print("  goal: the first page in <= 0.5x the per-file soffice time")


def pdf_pages_of(doc: Path, office: Soffice, work: Path) -> int:
    """The page count LibreOffice gives the document (not timed)."""
    out = work / "count"
    office.convert(doc, out)
    return pdf_pages(out / f"{doc.stem}.pdf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running pagemill; default: start one with default settings")
    parser.add_argument("--docs", type=int, default=40, help="small documents per throughput measurement")
    parser.add_argument("--in-flight", type=int, default=4, help="pagemill conversions submitted at once")
    parser.add_argument("--long-pages", type=int, default=14, help="pages of the viewing-session document")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of the first-page measurement")
    args = parser.parse_args()
    soffice_bin = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice_bin is None:
        sys.exit("soffice is not installed (apt-get install libreoffice-writer-nogui python3-uno)")
    version = subprocess.run([soffice_bin, "--version"], capture_output=True, text=True).stdout.strip()
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="pagemill-bench-office-"))
    nonce = secrets.token_hex(4)  # new content every run, even against a long-running --url service
    small = [1, 3] * (args.docs // 2) + [1] * (args.docs % 2)
    set_pdf = write_docs(work, "pdf", small, nonce)
    set_png = write_docs(work, "png", small, nonce)
    long_docs = write_docs(work, "long", [args.long_pages] * (2 * args.reps), nonce)
    warm_docs = write_docs(work, "warm", [3] * (3 * cores + 1), nonce)

    print(f"pagemill {rev.strip() or '?'} · {cores} cores · Python {platform.python_version()} · {version}")
    if args.url:
        print(f"service: {args.url} (its settings are its own)")
    else:
        s = Settings.from_env(os.environ)
        print(
            f"service: started here, default settings (office processes {s.office_processes}, "
            f"render processes {s.render_processes}, office prestart {s.office_prestart})"
        )
    print(f"small documents: {args.docs} distinct docx per measurement, half 1-page, half 3-page; {load()}")
    office = [Soffice(soffice_bin, work / f"profile-{k}") for k in range(cores)]
    with running_service(args.url) as (url, server):
        pid = server.pid if server else None
        warm_up(url, warm_docs, cores, office, work / "warm-out")
        pdf_section(url, pid, set_pdf, args.in_flight, office, work)
        png_section(url, pid, set_png, args.in_flight, office[0], work)
        first_page_section(url, long_docs, args.reps, office[0], work)
    print(f"\n{load()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
