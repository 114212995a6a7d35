"""Client-side helpers written the way a PrizmDoc client uses the API."""

import asyncio
import io
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient


async def upload(client: TestClient, data: bytes, extension: str = "") -> dict[str, Any]:
    query = f"?FileExtension={extension}" if extension else ""
    resp = await client.post(f"/PCCIS/V1/WorkFile{query}", data=io.BytesIO(data))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def convert(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post("/v2/contentConverters", json=body)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def poll(
    client: TestClient,
    process_id: str,
    *,
    interval_s: float = 0.5,
    timeout_s: float = 60,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Poll like the official clients until the state is final; return the final body."""
    deadline = time.monotonic() + timeout_s
    seen: list[int] = []
    while True:
        resp = await client.get(f"/v2/contentConverters/{process_id}", headers=headers)
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/json"
        body = await resp.json()
        seen.append(body["percentComplete"])
        if body["state"] != "processing":
            body["_percent_seen"] = seen
            return body
        assert time.monotonic() < deadline, f"still processing after {timeout_s}s: {body}"
        await asyncio.sleep(interval_s)


async def download(client: TestClient, file_id: str) -> tuple[bytes, Any]:
    resp = await client.get(f"/PCCIS/V1/WorkFile/{file_id}")
    assert resp.status == 200, await resp.text()
    return await resp.read(), resp.headers


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def running(pid: int) -> bool:
    """The process exists and is not a zombie (an exited child nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wire(body: dict[str, Any]) -> dict[str, Any]:
    """An error body as PrizmDoc sends it: pagemill adds a human `message` (checked here), which is removed."""
    rest = dict(body)
    message = rest.pop("message", None)
    assert isinstance(message, str) and len(message) > 10, body
    return rest


async def wait_for_ok(http: Any, url: str, timeout_s: float, why: Any = lambda: "") -> None:
    """Poll `url` with an aiohttp session until it answers 200 (a server starting in a subprocess)."""
    import aiohttp

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            async with http.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        assert time.monotonic() < deadline, why()
        await asyncio.sleep(0.1)
