"""Acquiring a viewing session's document from a URL or a local file, with limits.

URLs are fetched through the outbound guard (workers/outbound.py), which refuses a connection to a
private, loopback, link-local or otherwise internal address (unless allowed by configuration) at
the socket, on every redirect hop; the body is capped in size and time. File paths must resolve inside the
configured root.
"""

import asyncio
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp

from core.errors import SourceError
from core.storage.base import MeteredUpload
from workers.outbound import guarded_session, was_refused

MAX_REDIRECTS = 5
CHUNK_BYTES = 256 * 1024


def check_url(url: str) -> None:
    """Only absolute http(s) URLs; which addresses may be reached is the outbound guard's call."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError("InvalidSourceUrl", url)


def _append(upload: MeteredUpload, chunk: bytes, max_bytes: int) -> None:
    if upload.size + len(chunk) > max_bytes:
        raise SourceError("SourceTooLarge", f"over {max_bytes} bytes")
    upload.write(chunk)


async def fetch_url(url: str, upload: MeteredUpload, *, max_bytes: int, timeout_s: float, allow_private: bool) -> None:
    """Stream `url` into `upload` (which keeps the first bytes for type detection)."""
    async with guarded_session(allow_private=allow_private, timeout_s=timeout_s) as session:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url)
            try:
                async with session.get(url, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    if resp.status != 200:
                        raise SourceError("SourceDownloadFailed", f"HTTP {resp.status}")
                    if resp.content_length is not None and resp.content_length > max_bytes:
                        raise SourceError("SourceTooLarge", str(resp.content_length))
                    async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                        _append(upload, chunk, max_bytes)
                    return
            except (aiohttp.ClientError, TimeoutError) as exc:
                if was_refused(exc):
                    raise SourceError("SourceAddressNotAllowed", urlsplit(url).hostname or url) from None
                raise SourceError("SourceDownloadFailed", str(exc) or type(exc).__name__) from None
        raise SourceError("SourceDownloadFailed", "too many redirects")


def resolve_file(path: str, root: Path | None) -> Path:
    """The file at `path`, which must resolve (symlinks included) inside `root`."""
    if root is None:
        raise SourceError("FileSourceDisabled")
    base = root.resolve()
    candidate = Path(path)
    target = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if not target.is_relative_to(base):
        raise SourceError("SourcePathNotAllowed", path)
    if not target.is_file():
        raise SourceError("SourceFileNotFound", path)
    return target


async def copy_file(path: Path, upload: MeteredUpload, *, max_bytes: int) -> None:
    """Copy a local file into `upload`."""

    def copy() -> None:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                _append(upload, chunk, max_bytes)

    await asyncio.to_thread(copy)


def extension_hint(source: str) -> str:
    """An extension from a URL path or file name ("" when there is none)."""
    name = urlsplit(source).path if "://" in source else source
    suffix = Path(name).suffix.lstrip(".").lower()
    return suffix if suffix.isalnum() and len(suffix) <= 16 else ""
