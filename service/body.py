"""Upload bodies as people send them: the raw bytes, or the file part of a multipart/form-data form."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

CHUNK_BYTES = 256 * 1024


@dataclass
class FileBody:
    """The bytes of an upload, streamed; `filename` is the form part's file name (None for a raw body)."""

    chunks: AsyncIterator[bytes]
    filename: str | None = None
    found: bool = True  # False: a multipart form without a file part


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _raw(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        yield chunk


async def _part(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK_BYTES):
        yield chunk


async def file_body(request: web.Request) -> FileBody:
    """The request's file: the raw body, or the first part of a multipart form that carries a file name
    (else the one named `file`). Nothing is buffered: the bytes are read as the caller iterates."""
    if not request.content_type.startswith("multipart/"):
        return FileBody(_raw(request))
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and (part.filename or part.name == "file"):
            return FileBody(_part(part), part.filename)
        if isinstance(part, BodyPartReader):
            await part.release()  # a plain field before the file: skip its bytes
    return FileBody(_empty(), found=False)
