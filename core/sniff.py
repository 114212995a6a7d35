"""File type detection from the first bytes and media types of extensions, from the format registry."""

import asyncio
import mimetypes
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

from schemas import formats

SNIFF_BYTES = 65536  # OOXML and OLE2 packages name their parts within the first few KiB


def sniff_extension(head: bytes) -> str | None:
    """The extension the leading bytes prove, or None when they prove nothing."""
    found = formats.sniff(head)
    return found.extension if found else None


def ole_directory(path: Path) -> bytes:
    """The first sector of an OLE2 file's directory (its first stream names), which may lie anywhere in
    the file (at its end, as LibreOffice and Office write it), so not within the sniffed head."""
    with path.open("rb") as f:
        header = f.read(512)
        if len(header) < 512 or not header.startswith(formats.OLE2):
            return b""
        sector_bytes = 1 << min(16, struct.unpack_from("<H", header, 30)[0])
        first = struct.unpack_from("<I", header, 48)[0]
        if first >= 0xFFFFFFFA:  # no directory (a special sector number)
            return b""
        f.seek((first + 1) * sector_bytes)
        return f.read(sector_bytes)


async def refine(sniffed: str | None, local_path: Callable[[], Awaitable[Path]]) -> str | None:
    """A bare OLE2 container is told apart (doc, xls, ppt) by the stream names in its directory."""
    if sniffed != "ole":
        return sniffed
    directory = await asyncio.to_thread(ole_directory, await local_path())
    found = formats.sniff(formats.OLE2 + directory)
    return found.extension if found else sniffed


def content_type_for(extension: str) -> str:
    """The media type served for a work file with this extension."""
    known = formats.by_extension(extension)
    if known is not None:
        return known.mime
    return mimetypes.guess_type(f"file.{extension.lower()}", strict=False)[0] or "application/octet-stream"


def choose_extension(sniffed: str | None, given: str) -> str:
    """The detected type wins; the client's spelling is kept when it names it, or a format it may contain."""
    if sniffed is None:
        return given or "bin"
    named, found = formats.by_extension(given), formats.by_extension(sniffed)
    # A bare container (a zip, an OLE2 file) the client names as a format it may hold: the name wins.
    same = named is found or (named is not None and found is not None and formats.same_container(found, named))
    return given if given and same else sniffed


_EXTENSION_FOR = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
    "text/plain": "txt",
}


def extension_for(content_type: str) -> str:
    """A file extension for a media type ("" when unknown)."""
    media = content_type.split(";")[0].strip().lower()
    return _EXTENSION_FOR.get(media) or (mimetypes.guess_extension(media, strict=False) or "").lstrip(".")
