"""The storage interface shared by every backend: keys, errors, metering, the local scratch directory.

Every write goes to a temporary file first and is renamed into place on commit, so a reader
never sees a partially written object.
"""

import asyncio
import contextlib
import hashlib
import math
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.errors import StorageError
from core.sniff import SNIFF_BYTES

if TYPE_CHECKING:
    pass

_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")


@contextlib.contextmanager
def os_errors_as_storage_errors() -> Iterator[None]:
    """An OSError inside (disk full, permissions, ...) becomes a StorageError."""
    try:
        yield
    except OSError as exc:
        raise StorageError(str(exc)) from exc


def workfile_key(file_id: str) -> str:
    """Where a work file's bytes live; ids are validated before they get here."""
    return f"wf/{file_id[:2]}/{file_id}"


class Upload(Protocol):
    """An object being written; invisible until `commit`."""

    def write(self, data: bytes) -> None: ...
    async def commit(self, key: str) -> None: ...
    async def abort(self) -> None: ...


class Part(Protocol):
    """Bytes of a resumable upload that belong at one offset: kept (replacing any earlier part
    written at that offset, and anything after it) or discarded as a whole."""

    def write(self, data: bytes) -> None: ...
    async def keep(self) -> None: ...
    async def discard(self) -> None: ...


class Storage(Protocol):
    """What web and workers need from a storage backend (`LocalStorage` or `S3Storage`)."""

    def open_upload(self) -> Upload: ...
    def open_part(self, prefix: str, start: int) -> Part: ...
    async def join_parts(self, prefix: str, starts: list[int], size: int, key: str, meter: "Meter") -> None: ...
    def scratch_path(self, suffix: str = "") -> Path: ...
    async def commit_file(self, path: Path, key: str) -> None: ...
    async def local_path(self, key: str) -> Path: ...
    async def delete(self, key: str) -> None: ...
    async def delete_prefix(self, prefix: str) -> int: ...
    async def exists(self, key: str) -> bool: ...
    async def sweep_scratch(self, older_than_s: float) -> int: ...
    async def check(self) -> None: ...
    async def close(self) -> None: ...

    stats: Counter[str]


def check_key(key: str) -> str:
    """Return `key` if it is a safe storage key (no traversal, no odd characters); else ValueError."""
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"invalid storage key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Return `prefix` (a key followed by "/") if it is safe; else ValueError."""
    if not prefix.endswith("/"):
        raise ValueError(f"invalid storage prefix {prefix!r}")
    check_key(prefix[:-1])
    return prefix


class Meter:
    """Counts bytes, hashes them and keeps the first few for type detection."""

    def __init__(self, head_bytes: int = SNIFF_BYTES) -> None:
        self.size = 0
        self.head = b""
        self._head_bytes = head_bytes
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def update(self, data: bytes) -> None:
        self.size += len(data)
        if len(self.head) < self._head_bytes:
            self.head += data[: self._head_bytes - len(self.head)]
        self._digest.update(data)

    def update_from_file(self, path: Path, limit: int | None = None) -> None:
        """Meter a file's bytes (the first `limit` of them), reading 1 MiB at a time (blocking)."""
        left = math.inf if limit is None else limit
        with os_errors_as_storage_errors(), open(path, "rb") as fh:
            while left > 0 and (chunk := fh.read(int(min(1 << 20, left)))):
                self.update(chunk)
                left -= len(chunk)


class MeteredUpload(Meter):
    """Wraps an Upload, metering what is written through it."""

    def __init__(self, inner: Upload, head_bytes: int = SNIFF_BYTES) -> None:
        super().__init__(head_bytes)
        self.inner = inner

    def write(self, data: bytes) -> None:
        self.update(data)
        self.inner.write(data)

    async def commit(self, key: str) -> None:
        await self.inner.commit(key)

    async def abort(self) -> None:
        await self.inner.abort()


class _LocalUpload:
    """A temporary file in the storage's scratch directory."""

    def __init__(self, storage: "Storage") -> None:
        self._storage = storage
        self.path = storage.scratch_path(".upload")
        with os_errors_as_storage_errors():
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in commit/abort

    def write(self, data: bytes) -> None:
        with os_errors_as_storage_errors():
            self._fh.write(data)

    async def commit(self, key: str) -> None:
        try:
            self._fh.close()
        except OSError as exc:
            await self.abort()
            raise StorageError(str(exc)) from exc
        await self._storage.commit_file(self.path, key)

    async def abort(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


class ScratchDir:
    """Temporary files under `tmp`: uploads being received, outputs being written."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.stats: Counter[str] = Counter()  # operations of this process, for /metrics

    def open_upload(self) -> Upload:
        return _LocalUpload(self)  # type: ignore[arg-type]  # subclasses are Storages

    def scratch_path(self, suffix: str = "") -> Path:
        """A fresh temporary path (on the same filesystem as anything it is renamed to)."""
        return self.tmp / f"{uuid.uuid4().hex}{suffix}"

    async def sweep_scratch(self, older_than_s: float) -> int:
        """Remove temporaries left behind by killed processes; returns how many."""
        return await asyncio.to_thread(remove_older_than, self.tmp, time.time() - older_than_s)

    def probe(self) -> None:
        """Raise StorageError unless the scratch directory is writable."""
        probe = self.scratch_path(".probe")
        with os_errors_as_storage_errors():
            probe.write_bytes(b"ok")
            probe.unlink()


def remove_older_than(directory: Path, cutoff: float) -> int:
    """Delete the files directly in `directory` last modified before `cutoff`; returns how many."""
    removed = 0
    for entry in os.scandir(directory):
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue
    return removed
