"""The format registry: one row per file format, read by sniffing, upload and conversion validation,
planning, rendering, viewer pages and the batch CLI. Adding a format means adding a row here (and,
for a new kind of source, a way to open it in workers/render/document.py)."""

from dataclasses import dataclass
from typing import Literal

Kind = Literal["pdf", "raster", "office", "text", "html", "data"]
# How a source of this format is opened for rendering: PDFium, Pillow, or not at all (not convertible).
Opener = Literal["pdfium", "pillow"] | None


@dataclass(frozen=True)
class Format:
    """A file format and everything pagemill knows about it."""

    extension: str  # the canonical extension, given to work files of this format
    mime: str
    kind: Kind
    aliases: tuple[str, ...] = ()  # other spellings a client may use (kept when they name this format)
    magic: tuple[bytes, ...] = ()  # leading bytes that prove the format
    magic_within: int = 0  # > 0: the first signature may start anywhere in the first N bytes (PDF)
    min_bytes: int = 0  # a signature proves nothing in a file shorter than this
    opener: Opener = None
    output: str | None = None  # its name as a conversion's dest.format, when it is an output
    one_file_per_page: bool = False  # the output's default: one result per page, or one for all pages

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.extension, *self.aliases)

    def proves(self, head: bytes) -> bool:
        """Whether the leading bytes of a file prove it is of this format."""
        if len(head) < self.min_bytes:
            return False
        if self.magic_within:
            return any(sig in head[: self.magic_within] for sig in self.magic)
        return any(head.startswith(sig) for sig in self.magic)


FORMATS: tuple[Format, ...] = (
    Format("pdf", "application/pdf", "pdf", magic=(b"%PDF-",), magic_within=1024, opener="pdfium", output="pdf"),
    Format("png", "image/png", "raster", magic=(b"\x89PNG\r\n\x1a\n",), opener="pillow", output="png",
           one_file_per_page=True),
    Format("jpg", "image/jpeg", "raster", aliases=("jpeg", "jpe"), magic=(b"\xff\xd8\xff",), opener="pillow",
           output="jpeg", one_file_per_page=True),
    Format("gif", "image/gif", "raster", magic=(b"GIF87a", b"GIF89a"), opener="pillow"),
    Format("bmp", "image/bmp", "raster", magic=(b"BM",), min_bytes=26, opener="pillow"),
    Format("tif", "image/tiff", "raster", aliases=("tiff",), magic=(b"II*\x00", b"MM\x00*"), opener="pillow",
           output="tiff"),
    Format("zip", "application/zip", "data"),
    Format("txt", "text/plain", "text"),
    Format("csv", "text/csv", "text"),
    Format("json", "application/json", "data"),
    Format("xml", "application/xml", "data"),
    Format("html", "text/html", "html", aliases=("htm",)),
)  # fmt: skip

_BY_SPELLING = {spelling: f for f in FORMATS for spelling in f.spellings}
_BY_OUTPUT = {f.output: f for f in FORMATS if f.output}


def by_extension(extension: str) -> Format | None:
    """The format a file extension (any known spelling, any case) names."""
    return _BY_SPELLING.get(extension.lower())


def by_output(dest_format: str) -> Format:
    """The format of a conversion output (`dest.format`: pdf, tiff, png, jpeg)."""
    return _BY_OUTPUT[dest_format]


def sniff(head: bytes) -> Format | None:
    """The format the leading bytes of a file prove, or None when they prove nothing."""
    return next((f for f in FORMATS if f.magic and f.proves(head)), None)


def source_extensions() -> list[str]:
    """Every extension spelling a conversion or viewer can open, sorted."""
    return sorted(s for f in FORMATS if f.opener for s in f.spellings)


OUTPUTS = tuple(_BY_OUTPUT)
