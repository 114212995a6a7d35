"""File type detection from the first bytes, and the content types of the extensions we know."""

import mimetypes

SNIFF_BYTES = 4096

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "zip": "application/zip",
    "txt": "text/plain",
    "json": "application/json",
    "xml": "application/xml",
    "html": "text/html",
    "csv": "text/csv",
}


def sniff_extension(head: bytes) -> str | None:
    """The extension the leading bytes prove, or None when they prove nothing."""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tif"
    return None


def content_type_for(extension: str) -> str:
    """The media type served for a work file with this extension."""
    ext = extension.lower()
    return CONTENT_TYPES.get(ext) or mimetypes.guess_type(f"file.{ext}", strict=False)[0] or "application/octet-stream"


_ALIASES = {"jpg": {"jpg", "jpeg", "jpe"}, "tif": {"tif", "tiff"}}


def choose_extension(sniffed: str | None, given: str) -> str:
    """The detected type wins; the client's spelling is kept when it names the same type."""
    if sniffed is None:
        return given or "bin"
    return given if given in _ALIASES.get(sniffed, {sniffed}) else sniffed


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
