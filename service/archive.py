"""Zip archives streamed as they are written: a thread runs zipfile over an unseekable writer whose
bytes an async consumer takes through a small queue, so an archive of any size holds ~1 MiB."""

import asyncio
import io
import threading
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

CHUNK_BYTES = 256 * 1024
QUEUE_CHUNKS = 4


class _Abandoned(Exception):
    """The consumer went away (the client disconnected): stop writing."""


class _QueueWriter(io.RawIOBase):
    """An unseekable file whose writes go, in chunks, to an asyncio queue in another thread's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None], stop: threading.Event):
        self.loop, self.queue, self.stop, self.buffer = loop, queue, stop, bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer += data
        if len(self.buffer) >= CHUNK_BYTES:
            self.push(bytes(self.buffer))
            self.buffer.clear()
        return len(data)

    def push(self, item: bytes | None) -> None:
        future = asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop)
        while True:
            if self.stop.is_set():
                future.cancel()
                raise _Abandoned
            try:
                future.result(timeout=0.5)
                return
            except TimeoutError:
                continue


def _write(files: list[tuple[str, Path]], writer: _QueueWriter) -> None:
    try:
        # Outputs are already compressed images and PDFs: store them.
        with zipfile.ZipFile(writer, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, path in files:
                archive.write(path, name)
        if writer.buffer:
            writer.push(bytes(writer.buffer))
    except _Abandoned:
        return
    finally:
        if not writer.stop.is_set():
            writer.push(None)  # the end, also after an error (which the consumer then re-raises)


async def zip_chunks(files: list[tuple[str, Path]]) -> AsyncIterator[bytes]:
    """The bytes of a zip holding `files` (archive name, path), produced while they are consumed."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_CHUNKS)
    stop = threading.Event()
    writer = _QueueWriter(asyncio.get_running_loop(), queue, stop)
    task = asyncio.create_task(asyncio.to_thread(_write, files, writer))
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await task  # re-raises what the writer thread raised (an unreadable file)
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
