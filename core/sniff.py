"""File type detection from the first bytes and media types of extensions, from the format registry."""

import mimetypes

from schemas import formats

SNIFF_BYTES = 65536  # OOXML and OLE2 packages name their parts within the first few KiB


def sniff_extension(head: bytes) -> str | None:
    """The extension the leading bytes prove, or None when they prove nothing."""
    found = formats.sniff(head)
    return found.extension if found else None


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
