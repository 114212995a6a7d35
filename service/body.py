"""Upload bodies as people send them: the raw bytes, or the file part of a multipart/form-data form."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

CHUNK_BYTES = 256 * 1024


class MalformedMultipart(ValueError):
    """A multipart body without a boundary, or with a part that cannot be parsed."""


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
    try:
        while chunk := await part.read_chunk(CHUNK_BYTES):
            yield chunk
    except ValueError as exc:
        raise MalformedMultipart(str(exc)) from None


async def file_body(request: web.Request) -> FileBody:
    """The request's file: the raw body, or the first part of a multipart form that carries a file name
    (else the one named `file`). Nothing is buffered: the bytes are read as the caller iterates.
    Raises MalformedMultipart, now or while iterating, for a form that cannot be parsed."""
    if not request.content_type.startswith("multipart/"):
        return FileBody(_raw(request))
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and (part.filename or part.name == "file"):
                return FileBody(_part(part), part.filename)
            if isinstance(part, BodyPartReader):
                await part.release()  # a plain field before the file: skip its bytes
    except ValueError as exc:  # aiohttp's word for a missing boundary or a malformed part
        raise MalformedMultipart(str(exc)) from None
    return FileBody(_empty(), found=False)
