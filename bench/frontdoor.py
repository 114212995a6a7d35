"""Front-door benchmark: job pickup latency, poll requests/s and download speed, each beside a baseline.

Usage: .venv/bin/python bench/frontdoor.py [--jobs 40] [--seconds 8] [--download-mb 256]
Needs `wrk` and `curl` (apt-get install wrk curl). Starts its own redis-server and
`python -m service serve`, plus two baselines: a bare aiohttp handler answering the same JSON
(for the poll endpoint) and a plain aiohttp static file server (for downloads).
"""

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from arq.jobs import Job

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import running_service
from bench.upload import RssWatcher, rss_kb
from core.ids import new_id
from core.queue import connect_redis
from core.records import Store, now_ms
from core.redisproc import RedisServer, free_port
from core.settings import Settings
from schemas import jobs
from tests.docgen import text_pdf

BARE_APP = """
import sys
from aiohttp import web
body = sys.argv[2].encode()
async def handler(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/poll", handler)
app.router.add_static("/static", sys.argv[3])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def wrk(url: str, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def curl_mb_s(url: str, size_mb: float, repeats: int = 5) -> float:
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=True)
        best = max(best, size_mb / (time.perf_counter() - t0))
    return best


async def pickup_latencies(url: str, redis_url: str, count: int) -> list[float]:
    """Submit one-page conversions one after another; read arq's enqueue/start times of their jobs."""
    redis = await connect_redis(Settings(redis_url=redis_url))
    latencies = []
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1)) as r:
            file_id = (await r.json())["fileId"]
        for _ in range(count):
            body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": "png"}}}
            async with http.post(f"{url}/v2/contentConverters", json=body) as r:
                pid = (await r.json())["processId"]
            while True:
                async with http.get(f"{url}/v2/contentConverters/{pid}") as r:
                    if (await r.json())["state"] != "processing":
                        break
                await asyncio.sleep(0.01)
            for job_id in (jobs.plan_job_id(pid), jobs.chunk_job_id(pid, 0, 0), jobs.finish_job_id(pid)):
                info = await Job(job_id, redis, _deserializer=jobs.deserialize_job).result_info()
                if info is not None:
                    latencies.append((info.start_time - info.enqueue_time).total_seconds() * 1000)
    await redis.aclose()
    return latencies


async def make_file(url: str, size_mb: int, path: Path) -> str:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as fh:
        for _ in range(size_mb):
            fh.write(block)
    async with aiohttp.ClientSession() as http:
        with open(path, "rb") as fh:
            async with http.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=bin", data=fh) as r:
                return (await r.json())["fileId"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--download-mb", type=int, default=256)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pagemill-bench-"))
    redis = RedisServer(work / "redis", persist=False)
    redis.start()
    try:
        with running_service(REDIS_URL=redis.url) as (url, server):
            assert server is not None
            latencies = asyncio.run(pickup_latencies(url, redis.url, args.jobs))
            q = statistics.quantiles(latencies, n=20)
            print(
                f"job pickup latency over {len(latencies)} jobs: p50 {statistics.median(latencies):.1f} ms, p95 {q[18]:.1f} ms"
            )

            pid = asyncio.run(_one_process(url))
            poll_url = f"{url}/v2/contentConverters/{pid}"
            body = subprocess.run(["curl", "-s", poll_url], capture_output=True, text=True, check=True).stdout
            payload = work / "payload.bin"
            file_id = asyncio.run(make_file(url, args.download_mb, payload))
            port = free_port()
            bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), body, str(work)])
            try:
                time.sleep(1.5)
                theirs = wrk(f"http://127.0.0.1:{port}/poll", args.seconds)
                ours = wrk(poll_url, args.seconds)
                print(
                    f"poll a complete process: {ours:,.0f} req/s; bare aiohttp handler {theirs:,.0f} req/s ({ours / theirs:.0%})"
                )
                # A process that stays "processing" (written straight to Redis, no job behind it), so the
                # endpoint is measured without the worker competing for the cores.
                busy = asyncio.run(_processing_record(redis.url))
                ours = wrk(f"{url}/v2/contentConverters/{busy}", args.seconds)
                print(f"poll a processing process: {ours:,.0f} req/s ({ours / theirs:.0%} of bare)")
                before = rss_kb(server.pid)
                watcher = RssWatcher(server.pid)
                watcher.start()
                ours = curl_mb_s(f"{url}/PCCIS/V1/WorkFile/{file_id}", args.download_mb)
                watcher.running = False
                watcher.join()
                theirs = curl_mb_s(f"http://127.0.0.1:{port}/static/payload.bin", args.download_mb)
                print(
                    f"download {args.download_mb} MB work file: {ours:,.0f} MB/s; plain static server {theirs:,.0f} MB/s "
                    f"({ours / theirs:.0%}); web RSS +{(watcher.peak - before) / 1024:.1f} MB"
                )
            finally:
                bare.terminate()
                bare.wait(10)
    finally:
        redis.stop()


async def _processing_record(redis_url: str) -> str:
    redis = await connect_redis(Settings(redis_url=redis_url))
    process_id = new_id()
    inp = {"sources": [{"fileId": "bench"}], "dest": {"format": "png"}}
    fields = {"input": inp, "state": "processing", "created_ms": now_ms(), "tenant": "", "total": 100}
    await Store(redis).create_process(process_id, fields, now_ms() + 3_600_000)
    await redis.aclose()
    return process_id


async def _one_process(url: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(2)) as r:
            file_id = (await r.json())["fileId"]
        body = {"input": {"sources": [{"fileId": file_id}], "dest": {"format": "png"}}}
        async with http.post(f"{url}/v2/contentConverters", json=body) as r:
            pid = (await r.json())["processId"]
        for _ in range(200):
            async with http.get(f"{url}/v2/contentConverters/{pid}") as r:
                if (await r.json())["state"] != "processing":
                    return pid
            await asyncio.sleep(0.05)
    raise SystemExit("conversion did not finish")


if __name__ == "__main__":
    main()
