"""Local-disk storage: the embedded default (one host, or a volume every host mounts)."""

import asyncio
import os
import shutil
from pathlib import Path

from core.errors import StorageError
from core.storage.base import (
    Meter,
    Part,
    ScratchDir,
    check_key,
    check_prefix,
    os_errors_as_storage_errors,
)


class _LocalPart:
    """A part written in place into the upload's one growing file (no copy when it is joined)."""

    def __init__(self, path: Path, start: int) -> None:
        self.start = start
        self.written = 0
        with os_errors_as_storage_errors():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+b")
            self._fh.seek(start)

    def write(self, data: bytes) -> None:
        with os_errors_as_storage_errors():
            self._fh.write(data)
        self.written += len(data)

    async def keep(self) -> None:
        await self._end(self.start + self.written)

    async def discard(self) -> None:
        await self._end(self.start)

    async def _end(self, size: int) -> None:
        with os_errors_as_storage_errors(), self._fh:
            self._fh.truncate(size)


class LocalStorage(ScratchDir):
    """Objects as files under `root/objects`, temporaries under `root/tmp` (same filesystem)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.objects = self.root / "objects"
        self.objects.mkdir(parents=True, exist_ok=True)
        super().__init__(self.root / "tmp")

    def _path(self, key: str) -> Path:
        return self.objects / check_key(key)

    async def commit_file(self, path: Path, key: str) -> None:
        """Move a finished temporary file into place atomically."""
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise StorageError(str(exc)) from exc

    async def local_path(self, key: str) -> Path:
        """A local file holding the object (local storage: the object itself; absent if it is)."""
        return self._path(key)

    def open_part(self, prefix: str, start: int) -> Part:
        return _LocalPart(self._path(check_prefix(prefix) + "data"), start)

    async def join_parts(self, prefix: str, starts: list[int], size: int, key: str, meter: Meter) -> None:
        """Meter the upload's first `size` bytes and move its file into place as `key`; drop the rest."""
        source, target = self._path(check_prefix(prefix) + "data"), self._path(key)

        def join() -> None:
            if size == 0:
                source.parent.mkdir(parents=True, exist_ok=True)
                source.touch()
            meter.update_from_file(source, limit=size)
            if meter.size != size:
                raise StorageError(f"{prefix}: {meter.size} of {size} bytes in storage")
            os.truncate(source, size)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)

        with os_errors_as_storage_errors():
            await asyncio.to_thread(join)
        await self.delete_prefix(prefix)

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix` (which ends in "/"); returns how many."""
        folder = self.objects / check_prefix(prefix)

        def remove() -> int:
            files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
            shutil.rmtree(folder, ignore_errors=True)
            return len(files)

        return await asyncio.to_thread(remove)

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    async def check(self) -> None:
        """Raise StorageError unless the storage is writable."""
        self.probe()

    async def close(self) -> None:
        return None
