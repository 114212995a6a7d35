"""The format registry: one row per format, and every reader of formats agrees with it."""

import typing

import pytest

from core import sniff as core_sniff
from core.sniff import choose_extension, content_type_for, sniff_extension
from schemas import formats
from schemas.converters import DestFormat
from tests.docgen import image_bytes, text_pdf


def test_every_conversion_output_has_exactly_one_row():
    assert sorted(formats.OUTPUTS) == sorted(typing.get_args(DestFormat))
    assert [formats.by_output(name).output for name in formats.OUTPUTS] == list(formats.OUTPUTS)


def test_spellings_are_unique_and_lower_case():
    spellings = [s for f in formats.FORMATS for s in f.spellings]
    assert len(spellings) == len(set(spellings))
    assert all(s == s.lower() and s.isalnum() for s in spellings)


@pytest.mark.parametrize(
    ("data", "extension", "mime"),
    [
        (text_pdf(1), "pdf", "application/pdf"),
        (b"\n" * 100 + text_pdf(1), "pdf", "application/pdf"),  # a PDF header need not be at byte 0
        (image_bytes("PNG"), "png", "image/png"),
        (image_bytes("JPEG"), "jpg", "image/jpeg"),
        (image_bytes("GIF"), "gif", "image/gif"),
        (image_bytes("BMP"), "bmp", "image/bmp"),
        (image_bytes("TIFF"), "tif", "image/tiff"),
    ],
)
def test_sniffing_reads_the_registry(data, extension, mime):
    assert sniff_extension(data[:4096]) == extension
    assert content_type_for(extension) == mime
    assert formats.by_extension(extension).opener is not None


def test_short_or_unknown_heads_prove_nothing():
    assert sniff_extension(b"BM") is None  # too short to be a bitmap
    assert sniff_extension(b"plain words") is None
    assert content_type_for("xyz123") == "application/octet-stream"


def test_a_clients_spelling_is_kept_when_it_names_the_detected_format():
    assert choose_extension("jpg", "JPEG".lower()) == "jpeg"
    assert choose_extension("tif", "tiff") == "tiff"
    assert choose_extension("pdf", "txt") == "pdf"
    assert choose_extension(None, "") == "bin"


def test_sources_are_the_formats_with_an_opener():
    assert formats.source_extensions(office=False) == sorted(
        s for f in formats.FORMATS if f.kind in ("pdf", "raster") for s in f.spellings
    )
    with_office = formats.source_extensions()
    for spelling in ("docx", "doc", "xlsx", "xls", "pptx", "ppsx", "odt", "fodt", "rtf", "txt", "csv", "html", "md"):
        assert spelling in with_office
    assert "zip" not in with_office and "json" not in with_office


def test_office_packages_are_told_apart_by_their_content():
    from tests import officegen

    head = core_sniff.SNIFF_BYTES
    assert sniff_extension(officegen.docx(2)[:head]) == "docx"
    assert sniff_extension(officegen.xlsx([["a"]])[:head]) == "xlsx"
    assert sniff_extension(officegen.odt(["x"])[:head]) == "odt"
    assert sniff_extension(officegen.odp(["x"])[:head]) == "odp"
    assert sniff_extension(officegen.fodt(["x"])[:head]) == "fodt"
    assert sniff_extension(b"{\\rtf1\\ansi hello}") == "rtf"
    assert sniff_extension(b"  <!DOCTYPE html><html></html>") == "html"
    assert sniff_extension(b"PK\x03\x04" + bytes(100)) == "zip"  # a zip holding nothing office-like
    assert sniff_extension(formats.OLE2 + bytes(100)) == "ole"
    # A bare container keeps the client's name when that format may arrive in it (encrypted OOXML is OLE2)
    assert choose_extension("ole", "docx") == "docx"
    assert choose_extension("zip", "xlsx") == "xlsx"
    assert choose_extension("zip", "txt") == "zip"
    assert choose_extension("docx", "zip") == "docx"
    assert choose_extension(None, "txt") == "txt"  # plain text proves nothing: the name decides
