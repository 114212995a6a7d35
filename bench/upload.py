"""Large-upload benchmark: 1 GB by parts (and by tus) while watching the server's memory.

Usage: .venv/bin/python bench/upload.py [--mb 1024] [--part-mb 16] [--s3]
Starts `python -m service serve` on a free port (its web process is the one measured), uploads
`--mb` megabytes in parts, saves the work file, and prints throughput and the web process's RSS
before, at peak and after. `--s3` stores into a local S3-compatible server (moto's, in memory, so
the throughput is moto's more than pagemill's; the web process's memory is the point).
"""

import argparse
import asyncio
import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import moto_s3, running_service

MB = 1024 * 1024


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssWatcher(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.05)


async def body(total: int, block: bytes):
    sent = 0
    while sent < total:
        piece = block[: min(len(block), total - sent)]
        sent += len(piece)
        yield piece


async def by_parts(url: str, size: int, part: int, block: bytes) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{url}/PCCIS/V1/WorkFile/UploadSession", json={"content_type": "application/octet-stream"}
        ) as r:
            upload_id = (await r.json())["session"]["id"]
        for start in range(0, size, part):
            length = min(part, size - start)
            headers = {"Content-Range": f"bytes {start}-{start + length - 1}/{size}", "Content-Length": str(length)}
            async with http.put(
                f"{url}/PCCIS/V1/WorkFile/UploadSession/{upload_id}", data=body(length, block), headers=headers
            ) as r:
                assert r.status == 200, await r.text()
        async with http.post(f"{url}/PCCIS/V1/WorkFile/UploadSession/{upload_id}/save") as r:
            return (await r.json())["object"]["fileId"]


async def by_tus(url: str, size: int, part: int, block: bytes) -> str:
    v = {"Tus-Resumable": "1.0.0"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/tus/files", headers={**v, "Upload-Length": str(size)}) as r:
            location = r.headers["Location"]
        offset = 0
        while offset < size:
            length = min(part, size - offset)
            headers = {
                **v,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(length),
            }
            async with http.patch(f"{url}{location}", data=body(length, block), headers=headers) as r:
                assert r.status == 204, await r.text()
                offset = int(r.headers["Upload-Offset"])
        return r.headers["Pagemill-File-Id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--part-mb", type=int, default=16)
    parser.add_argument("--s3", action="store_true", help="store into a local S3-compatible server")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        env = stack.enter_context(moto_s3()) if args.s3 else {}
        url, server = stack.enter_context(running_service(**env))
        assert server is not None
        block = os.urandom(MB)
        size = args.mb * MB
        for name, fn in (("parts", by_parts), ("tus", by_tus)):
            before = rss_kb(server.pid)
            watcher = RssWatcher(server.pid)
            watcher.start()
            t0 = time.perf_counter()
            file_id = asyncio.run(fn(url, size, args.part_mb * MB, block))
            elapsed = time.perf_counter() - t0
            watcher.running = False
            watcher.join()
            after = rss_kb(server.pid)
            print(
                f"{name:<6} {args.mb} MB in {args.part_mb} MB parts: {elapsed:6.2f} s ({args.mb / elapsed:6.1f} MB/s); "
                f"web RSS {before / 1024:.1f} MB before, peak {watcher.peak / 1024:.1f} MB "
                f"(+{(watcher.peak - before) / 1024:.1f} MB), {after / 1024:.1f} MB after; fileId {file_id}"
            )


if __name__ == "__main__":
    main()
