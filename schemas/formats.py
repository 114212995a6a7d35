"""The format registry: one row per file format, read by sniffing, upload and conversion validation,
planning, rendering, viewer pages and the batch CLI. Adding a format means adding a row here (and,
for a new kind of source, a way to open it in workers/render/document.py)."""

from dataclasses import dataclass
from typing import Literal

Kind = Literal["pdf", "raster", "vector", "office", "text", "html", "email", "data"]
# How a source of this format is opened for rendering: PDFium, Pillow, through the office source stage
# (LibreOffice turns it into a PDF first, cached by content), or not at all (not convertible).
Opener = Literal["pdfium", "pillow", "office"] | None
# How LibreOffice reads it: "" detects the type from the content; the others name an import filter.
OfficeImport = Literal["", "text", "csv", "tsv", "html"]
# Containers whose signature alone does not say which format is inside.
Container = Literal["zip", "ole", "xml"]  # the extensions of the bare container rows

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"


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
    markers: tuple[bytes, ...] = ()  # with magic: one of these must also appear in the leading bytes
    containers: tuple[Container, ...] = ()  # generic containers a file of this format may arrive as
    opener: Opener = None
    office_import: OfficeImport = ""
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
            signed = any(sig in head[: self.magic_within] for sig in self.magic)
        else:
            signed = any(head.startswith(sig) for sig in self.magic)
        return signed and (not self.markers or any(marker in head for marker in self.markers))


def _utf16(name: str) -> bytes:
    """A stream name as an OLE2 directory entry spells it."""
    return name.encode("utf-16-le")


def _odf(kind: str) -> bytes:
    """The stored `mimetype` entry every ODF package starts with."""
    return b"mimetypeapplication/vnd.oasis.opendocument." + kind.encode()


def _flat(kind: str) -> bytes:
    return b'office:mimetype="application/vnd.oasis.opendocument.' + kind.encode() + b'"'


_OOXML = "application/vnd.openxmlformats-officedocument."


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
    Format("svg", "image/svg+xml", "vector", output="svg", one_file_per_page=True),
    # Office documents: zip (OOXML, ODF) and OLE2 packages are told apart by the parts they hold.
    Format("docx", _OOXML + "wordprocessingml.document", "office", aliases=("docm", "dotx", "dotm"),
           magic=(ZIP,), markers=(b"word/",), containers=("zip", "ole"), opener="office", output="docx"),
    Format("xlsx", _OOXML + "spreadsheetml.sheet", "office", aliases=("xlsm", "xltx", "xltm"),
           magic=(ZIP,), markers=(b"xl/",), containers=("zip", "ole"), opener="office"),
    Format("pptx", _OOXML + "presentationml.presentation", "office",
           aliases=("pptm", "ppsx", "ppsm", "potx", "potm"),
           magic=(ZIP,), markers=(b"ppt/",), containers=("zip", "ole"), opener="office"),
    Format("odt", "application/vnd.oasis.opendocument.text", "office", aliases=("ott",),
           magic=(ZIP,), markers=(_odf("text"),), containers=("zip",), opener="office"),
    Format("ods", "application/vnd.oasis.opendocument.spreadsheet", "office", aliases=("ots",),
           magic=(ZIP,), markers=(_odf("spreadsheet"),), containers=("zip",), opener="office"),
    Format("odp", "application/vnd.oasis.opendocument.presentation", "office", aliases=("otp",),
           magic=(ZIP,), markers=(_odf("presentation"),), containers=("zip",), opener="office"),
    Format("odg", "application/vnd.oasis.opendocument.graphics", "office", aliases=("otg",),
           magic=(ZIP,), markers=(_odf("graphics"),), containers=("zip",), opener="office"),
    Format("doc", "application/msword", "office", aliases=("dot",),
           magic=(OLE2,), markers=(_utf16("WordDocument"),), containers=("ole",), opener="office"),
    Format("xls", "application/vnd.ms-excel", "office", aliases=("xlt",),
           magic=(OLE2,), markers=(_utf16("Workbook"), _utf16("Book")), containers=("ole",), opener="office"),
    Format("ppt", "application/vnd.ms-powerpoint", "office", aliases=("pps", "pot"),
           magic=(OLE2,), markers=(_utf16("PowerPoint Document"), _utf16("Current User")), containers=("ole",),
           opener="office"),
    Format("fodt", "application/vnd.oasis.opendocument.text-flat-xml", "office", magic=(b"<?xml",),
           markers=(_flat("text"),), containers=("xml",), opener="office"),
    Format("fods", "application/vnd.oasis.opendocument.spreadsheet-flat-xml", "office", magic=(b"<?xml",),
           markers=(_flat("spreadsheet"),), containers=("xml",), opener="office"),
    Format("fodp", "application/vnd.oasis.opendocument.presentation-flat-xml", "office", magic=(b"<?xml",),
           markers=(_flat("presentation"),), containers=("xml",), opener="office"),
    Format("rtf", "application/rtf", "office", magic=(b"{\\rtf",), opener="office"),
    Format("html", "text/html", "html", aliases=("htm", "xhtml"),
           magic=(b"<!DOCTYPE html", b"<!doctype html", b"<!DOCTYPE HTML", b"<html", b"<HTML"), magic_within=512,
           opener="office", office_import="html"),
    # Containers whose signature proves only the container: a client's spelling of a format inside wins.
    Format("zip", "application/zip", "data", magic=(ZIP,)),
    Format("ole", "application/x-ole-storage", "data", magic=(OLE2,)),
    Format("xml", "application/xml", "data"),
    # Plain text proves nothing by its bytes: it needs FileExtension (as PrizmDoc says).
    Format("txt", "text/plain", "text", aliases=("text",), opener="office", office_import="text"),
    Format("md", "text/markdown", "text", aliases=("markdown",), opener="office", office_import="text"),
    Format("csv", "text/csv", "text", opener="office", office_import="csv"),
    Format("tsv", "text/tab-separated-values", "text", aliases=("tab",), opener="office", office_import="tsv"),
    Format("eml", "message/rfc822", "email", opener="office", office_import="html"),
    Format("json", "application/json", "data"),
)  # fmt: skip

_BY_SPELLING = {spelling: f for f in FORMATS for spelling in f.spellings}
_BY_OUTPUT = {f.output: f for f in FORMATS if f.output}


def by_extension(extension: str) -> Format | None:
    """The format a file extension (any known spelling, any case) names."""
    return _BY_SPELLING.get(extension.lower())


def by_output(dest_format: str) -> Format:
    """The format of a conversion output (`dest.format`: pdf, tiff, png, jpeg, svg)."""
    return _BY_OUTPUT[dest_format]


def sniff(head: bytes) -> Format | None:
    """The format the leading bytes of a file prove, or None when they prove nothing."""
    return next((f for f in FORMATS if f.magic and f.proves(head)), None)


def source_extensions(office: bool = True) -> list[str]:
    """Every extension spelling a conversion or viewer can open (with LibreOffice or without), sorted."""
    return sorted(s for f in FORMATS if f.opener and (office or f.opener != "office") for s in f.spellings)


def output_formats(office: bool = True, svg: bool = True) -> list[str]:
    """Every dest.format a worker writes: svg needs poppler's pdftocairo, docx LibreOffice; sorted."""
    wanting = {"svg": svg, "docx": office}
    return sorted(f.output for f in FORMATS if f.output and wanting.get(f.output, True))


def same_container(sniffed: Format, given: Format) -> bool:
    """Whether `sniffed` is a bare container (its signature only) that a file of `given` may arrive as."""
    return sniffed.kind == "data" and sniffed.extension in given.containers


OUTPUTS = tuple(_BY_OUTPUT)
