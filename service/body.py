"""Upload bodies as people send them: the raw bytes, or the file part of a multipart/form-data form."""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from service import keys
from service.errors import ApiError

CHUNK_BYTES = 256 * 1024
T = TypeVar("T")


class BodyTimeout(ApiError, TimeoutError):
    """408: the body stopped arriving (a resumable upload keeps what arrived before it, like a break-off)."""

    status = 408

    def __init__(self, idle_s: float) -> None:
        super().__init__("RequestTimeout", message=f"no bytes of the body arrived for {idle_s:g} s")


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


async def chunks(request: web.Request, size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """The raw body as it arrives: every route that reads a body reads it here. A client that sends
    nothing for PAGEMILL_BODY_IDLE_TIMEOUT_S is cut off (408), so slow senders cannot hold the
    front door's connections and files open indefinitely."""
    idle_s = request.app[keys.SETTINGS].body_idle_timeout_s
    while True:
        chunk = await _within(idle_s, request.content.read(size))
        if not chunk:
            return
        yield chunk


async def _within(idle_s: float, read: Awaitable[T]) -> T:
    try:
        async with asyncio.timeout(idle_s):
            return await read
    except TimeoutError:
        raise ApiError("RequestTimeout", status=408, message=f"no bytes of the body arrived for {idle_s:g} s") from None


async def _part(request: web.Request, part: BodyPartReader) -> AsyncIterator[bytes]:
    idle_s = request.app[keys.SETTINGS].body_idle_timeout_s
    try:
        while chunk := await _within(idle_s, part.read_chunk(CHUNK_BYTES)):
            yield chunk
    except (ValueError, HttpProcessingError) as exc:
        raise MalformedMultipart(str(exc)) from None


async def file_body(request: web.Request) -> FileBody:
    """The request's file: the raw body, or the first part of a multipart form that carries a file name
    (else the one named `file`). Nothing is buffered: the bytes are read as the caller iterates.
    Raises MalformedMultipart, now or while iterating, for a form that cannot be parsed."""
    if not request.content_type.startswith("multipart/"):
        return FileBody(chunks(request))
    idle_s = request.app[keys.SETTINGS].body_idle_timeout_s
    try:
        reader = await request.multipart()
        # every wait for the client's bytes is bounded, the preamble and skipped fields included
        while (part := await _within(idle_s, reader.next())) is not None:
            if isinstance(part, BodyPartReader) and (part.filename or part.name == "file"):
                return FileBody(_part(request, part), part.filename)
            if isinstance(part, BodyPartReader):
                await _within(idle_s, part.release())  # a plain field before the file: skip its bytes
    except (ValueError, HttpProcessingError) as exc:  # a missing boundary, a malformed part or header
        raise MalformedMultipart(str(exc)) from None
    return FileBody(_empty(), found=False)
