"""Image watermark sources (a PNG work file id or an http(s) URL) resolved to local files."""

import hashlib
from typing import Any

from core import keyspace
from core.errors import DocumentError, SourceError
from core.ids import is_valid_id, new_id
from core.records import make_workfile, now_ms
from core.settings import Settings
from core.sniff import sniff_extension
from core.storage.base import MeteredUpload, workfile_key
from workers.fetch import fetch_url

MAX_WATERMARK_BYTES = 20 * 1024 * 1024
URL_CACHE_S = 3600


async def resolve_marks(ctx: dict[str, Any], marks: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The watermarks with a local "_path" on image ones; DocumentError when an image is unusable."""
    resolved = []
    for mark in marks:
        if mark.get("type") == "image":
            mark = {**mark, "_path": str(await _image_path(ctx, mark.get("src") or ""))}
        resolved.append(mark)
    return tuple(resolved)


async def _image_path(ctx: dict[str, Any], src: str) -> Any:
    store, storage = ctx["store"], ctx["storage"]
    if is_valid_id(src):
        wf = await store.get_workfile(src)
        if wf is None:
            raise DocumentError("WatermarkImageNotFound", src)
        if wf.extension != "png":
            raise DocumentError("WatermarkImageNotPng", src)
        return await storage.local_path(workfile_key(wf.file_id))
    cache_key = keyspace.watermark_url(hashlib.sha256(src.encode()).hexdigest()[:32])
    cached = await store.redis.get(cache_key)
    if cached is not None:
        wf = await store.get_workfile(cached.decode())
        if wf is not None:
            return await storage.local_path(workfile_key(wf.file_id))
    settings: Settings = ctx["settings"]
    upload = MeteredUpload(storage.open_upload())
    file_id = new_id()
    try:
        await fetch_url(
            src,
            upload,
            max_bytes=MAX_WATERMARK_BYTES,
            timeout_s=settings.fetch_timeout_s,
            allow_private=settings.allow_private_sources,
        )
        if sniff_extension(upload.head) != "png":
            raise DocumentError("WatermarkImageNotPng", src)
        await upload.commit(workfile_key(file_id))
    except SourceError as exc:
        await upload.abort()
        raise DocumentError("WatermarkImageUnavailable", exc.code) from None
    except BaseException:
        await upload.abort()
        raise
    expires = now_ms() + URL_CACHE_S * 1000
    await store.put_workfile(make_workfile(file_id, "png", upload.size, upload.sha256, expires, ""))
    await store.redis.set(cache_key, file_id, ex=URL_CACHE_S)
    return await storage.local_path(workfile_key(file_id))
