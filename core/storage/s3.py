"""S3-compatible storage (AWS S3, MinIO, Ceph RGW, ...) with a bounded local read cache.

Objects are written from a local temporary file (multipart above 64 MiB) and become visible
only when the upload completes, so a reader never sees a partial object. Readers get a local
file: `local_path` downloads the object once into `cache/` and serves later reads from there.
Objects are never rewritten under the same key (ids are random or derived from the content),
so a cached copy cannot go stale; it is dropped when deleted through this process, and on
other hosts when it has been idle for `cache_idle_s` or the cache outgrows `cache_max_bytes`
(least recently used first: a copy's access time says when it was last used, its modification
time is derived from its key so that every host serves it with the same ETag).
"""

import asyncio
import contextlib
import os
import shutil
import time
import zlib
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any

import boto3
import boto3.exceptions
import botocore.exceptions
import s3transfer.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from core.errors import StorageError, StorageUnavailable
from core.storage.base import (
    Meter,
    Part,
    ScratchDir,
    Upload,
    check_key,
    check_prefix,
)

if TYPE_CHECKING:
    from core.settings import Settings

IN_USE_S = 120.0  # a cached file touched this recently may be being served: never evicted
TRIM_EVERY_S = 300.0  # evict idle copies at least this often
TRIM_AGAIN_S = 10.0  # over the cap with every copy in use, do not rescan the cache on every download
_MISSING = {"404", "NoSuchKey", "NotFound"}
_UNREACHABLE = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.ReadTimeoutError,
    boto3.exceptions.RetriesExceededError,
    s3transfer.exceptions.RetriesExceededError,
)
_FAILURES = (
    botocore.exceptions.BotoCoreError,
    boto3.exceptions.Boto3Error,
    s3transfer.exceptions.RetriesExceededError,
    s3transfer.exceptions.S3DownloadFailedError,
    s3transfer.exceptions.S3UploadFailedError,
    OSError,
)


def _missing(exc: botocore.exceptions.ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


def _failure(method: str, exc: BaseException) -> StorageError:
    """StorageUnavailable for what may pass (unreachable, 5xx after retries), else StorageError."""
    cause = exc.__cause__ if isinstance(exc, boto3.exceptions.S3UploadFailedError) else exc
    transient = isinstance(cause, _UNREACHABLE) or (
        isinstance(cause, botocore.exceptions.ClientError)
        and cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    )
    return (StorageUnavailable if transient else StorageError)(f"S3 {method}: {exc}")


class S3Storage(ScratchDir):
    """Objects in one bucket under an optional key prefix; temporaries and the cache on local disk."""

    def __init__(
        self,
        bucket: str,
        root: Path,
        *,
        key_prefix: str = "",
        client: Any,
        cache_max_bytes: int = 2 * 1024**3,
        cache_idle_s: float = 3600.0,
    ) -> None:
        self.root = root.resolve()
        super().__init__(self.root / "tmp")
        self.cache = self.root / "cache"
        self.cache.mkdir(parents=True, exist_ok=True)
        self.bucket = bucket
        self.key_prefix = key_prefix
        self.cache_max_bytes = cache_max_bytes
        self.cache_idle_s = cache_idle_s
        self._client = client
        self._transfer = TransferConfig(
            multipart_threshold=64 * 1024**2, multipart_chunksize=16 * 1024**2, max_concurrency=4
        )
        self._fetching: dict[str, asyncio.Future[None]] = {}
        self._cache_bytes = sum(size for _, size, _ in _cached_files(self.cache))
        self._trimmed_at = time.monotonic()

    @classmethod
    def from_settings(cls, settings: "Settings") -> "S3Storage":
        style = settings.s3_addressing_style or ("path" if settings.s3_endpoint_url else "auto")
        config = Config(
            region_name=settings.s3_region,
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=3,
            read_timeout=60,
            max_pool_connections=32,
            s3={"addressing_style": style},
            # Many S3-compatible servers reject the newer default integrity headers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        credentials = {}
        if settings.s3_access_key_id:
            credentials = {
                "aws_access_key_id": settings.s3_access_key_id,
                "aws_secret_access_key": settings.s3_secret_access_key,
            }
        client = boto3.session.Session().client(
            "s3", endpoint_url=settings.s3_endpoint_url, config=config, **credentials
        )
        return cls(
            settings.s3_bucket or "",
            settings.data_dir / "s3",
            key_prefix=settings.s3_key_prefix,
            client=client,
            cache_max_bytes=settings.s3_cache_max_bytes,
        )

    def _name(self, key: str) -> str:
        return self.key_prefix + check_key(key)

    def _cached(self, key: str) -> Path:
        return self.cache / check_key(key)

    async def _call(self, method: str, /, **kwargs: Any) -> Any:
        """One S3 API call in a thread; failures other than "missing" become StorageError."""
        self.stats[method] += 1
        try:
            return await asyncio.to_thread(getattr(self._client, method), **kwargs)
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(kwargs.get("Key", kwargs.get("Prefix", ""))) from exc
            self.stats["failed"] += 1
            raise _failure(method, exc) from exc
        except _FAILURES as exc:
            self.stats["failed"] += 1
            raise _failure(method, exc) from exc

    async def commit_file(self, path: Path, key: str) -> None:
        """Upload a finished temporary file; it then becomes this host's cached copy."""
        name = self._name(key)
        try:
            await self._call("upload_file", Filename=str(path), Bucket=self.bucket, Key=name, Config=self._transfer)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        try:
            await asyncio.to_thread(self._adopt, path, key)
        except OSError:
            path.unlink(missing_ok=True)  # the object is stored; only the cache copy is lost

    def _adopt(self, path: Path, key: str) -> None:
        """Make a local file the cached copy of `key`."""
        size = path.stat().st_size
        os.utime(path, (time.time(), _stamp(key)))
        target = self._cached(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        self._cache_bytes += size

    async def local_path(self, key: str) -> Path:
        """A local file holding the object, downloaded on first use (absent if the object is)."""
        target = self._cached(key)
        while True:
            with contextlib.suppress(FileNotFoundError):
                os.utime(target, (time.time(), _stamp(key)))  # used now: the trim evicts by access time
                self.stats["cache_hit"] += 1
                return target
            pending = self._fetching.get(key)
            if pending is None:
                break
            await asyncio.shield(pending)  # another request is fetching it: wait, then look again
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._fetching[key] = future
        try:
            await self._download(key, target)
        finally:
            del self._fetching[key]
            future.set_result(None)
        await self._maybe_trim()
        return target

    async def _download(self, key: str, target: Path) -> None:
        tmp = self.scratch_path(".download")
        try:
            name = self._name(key)
            await self._call("download_file", Bucket=self.bucket, Key=name, Filename=str(tmp), Config=self._transfer)
            await asyncio.to_thread(self._adopt, tmp, key)
        except FileNotFoundError:
            pass  # no such object: the caller sees a path that does not exist, as with local storage
        except OSError as exc:
            raise StorageError(str(exc)) from exc
        finally:
            tmp.unlink(missing_ok=True)

    def open_part(self, prefix: str, start: int) -> Part:
        return _S3Part(self, f"{check_prefix(prefix)}{start:016d}")

    async def join_parts(self, prefix: str, starts: list[int], size: int, key: str, meter: Meter) -> None:
        """Stream the part objects, in order, into one new object `key`, metering them; then delete the parts."""
        joined = self.open_upload()
        try:
            for start in starts:
                part = f"{prefix}{start:016d}"
                try:
                    response = await self._call("get_object", Bucket=self.bucket, Key=self._name(part))
                except FileNotFoundError:
                    raise StorageError(f"{part} is missing") from None
                await asyncio.to_thread(_pour, response["Body"], joined, meter)
            if meter.size != size:
                raise StorageError(f"{prefix}: {meter.size} of {size} bytes in storage")
        except BaseException:
            await joined.abort()
            raise
        await joined.commit(key)
        await self.delete_prefix(prefix)

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Bucket=self.bucket, Key=self._name(key))
        self._cached(key).unlink(missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix` (which ends in "/"); returns how many."""
        name = self.key_prefix + check_prefix(prefix)
        removed = 0
        token: dict[str, str] = {}
        while True:
            page = await self._call("list_objects_v2", Bucket=self.bucket, Prefix=name, **token)
            found = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if found:
                await self._call("delete_objects", Bucket=self.bucket, Delete={"Objects": found, "Quiet": True})
                removed += len(found)
            if not page.get("IsTruncated"):
                break
            token = {"ContinuationToken": page["NextContinuationToken"]}
        await asyncio.to_thread(shutil.rmtree, self.cache / prefix, ignore_errors=True)
        return removed

    async def exists(self, key: str) -> bool:
        try:
            await self._call("head_object", Bucket=self.bucket, Key=self._name(key))
        except FileNotFoundError:
            return False
        return True

    async def sweep_scratch(self, older_than_s: float) -> int:
        removed = await super().sweep_scratch(older_than_s)
        await self.trim_cache()
        return removed

    async def _maybe_trim(self) -> None:
        since = time.monotonic() - self._trimmed_at
        if since > TRIM_EVERY_S or (self._cache_bytes > self.cache_max_bytes and since > TRIM_AGAIN_S):
            await self.trim_cache()

    async def trim_cache(self) -> int:
        """Evict idle cached copies, then the least recently used until the cache is under 80 % of its cap."""
        self._trimmed_at = time.monotonic()
        removed, self._cache_bytes = await asyncio.to_thread(
            _trim, self.cache, int(self.cache_max_bytes * 0.8), self.cache_idle_s
        )
        return removed

    async def check(self) -> None:
        """Raise StorageError unless the bucket answers and local scratch space is writable."""
        self.probe()
        try:
            await self._call("head_bucket", Bucket=self.bucket)
        except FileNotFoundError:
            raise StorageError(f"S3 bucket {self.bucket!r} does not exist") from None

    async def close(self) -> None:
        self._client.close()


class _S3Part:
    """A part received into a scratch file, stored as its own object when kept."""

    def __init__(self, storage: S3Storage, key: str) -> None:
        self._upload = storage.open_upload()
        self._key = key

    def write(self, data: bytes) -> None:
        self._upload.write(data)

    async def keep(self) -> None:
        await self._upload.commit(self._key)

    async def discard(self) -> None:
        await self._upload.abort()


def _pour(body: Any, upload: Upload, meter: Meter) -> None:
    """Copy a streaming S3 body into an upload (in a thread)."""
    try:
        for chunk in body.iter_chunks(1 << 20):
            meter.update(chunk)
            upload.write(chunk)
    except _FAILURES as exc:
        raise _failure("read", exc) from exc
    finally:
        body.close()


def _stamp(key: str) -> int:
    """The modification time every host gives its copy of `key`, so their ETags agree (FileResponse
    derives the ETag from mtime and size); objects never change under a key, so neither may it."""
    return 1_000_000_000 + zlib.crc32(key.encode()) % 1_000_000_000


def _cached_files(cache: Path) -> list[tuple[float, int, Path]]:
    """(atime, size, path) of every cached copy; files that vanish meanwhile (another process trims) are skipped."""
    found = []
    for path in cache.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            if S_ISREG(stat.st_mode):
                found.append((stat.st_atime, stat.st_size, path))
    return found


def _trim(cache: Path, keep_bytes: int, idle_s: float) -> tuple[int, int]:
    """Delete idle files, then the oldest until at most `keep_bytes` remain; returns (removed, bytes left)."""
    now = time.time()
    entries = sorted(_cached_files(cache))
    total = sum(size for _, size, _ in entries)
    removed = 0
    for used, size, path in entries:
        if now - used < IN_USE_S:
            break
        if now - used < idle_s and total <= keep_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed, total
