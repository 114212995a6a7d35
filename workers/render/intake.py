"""Preparing a source for LibreOffice, on hostile input: bound what a package inflates to, decode
text of any encoding (UTF-8/16/32 with or without BOM, else Windows-1252/Latin-1) to UTF-8, and
turn an e-mail into an HTML page (its headers, then its body; attachments are listed, not opened)."""

import codecs
import email
import email.policy
import html
import zipfile
from email.message import EmailMessage
from pathlib import Path

from core.errors import DocumentError

CHUNK_BYTES = 1 << 20
MAX_PACKAGE_ENTRIES = 20_000
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def check_package(path: str, max_inflated_bytes: int) -> None:
    """Refuse a zip package (OOXML, ODF) that inflates to more than `max_inflated_bytes` or holds
    too many parts. Sizes are counted while inflating, not read from headers, which can lie."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as package:
            entries = package.infolist()
            if len(entries) > MAX_PACKAGE_ENTRIES:
                raise DocumentError("DocumentTooLarge", f"{len(entries)} parts")
            if sum(e.file_size for e in entries) > max_inflated_bytes:
                raise DocumentError("DocumentTooLarge", "the package's parts declare more than the limit")
            total = 0
            for entry in entries:
                with package.open(entry) as part:
                    while chunk := part.read(CHUNK_BYTES):
                        total += len(chunk)
                        if total > max_inflated_bytes:
                            raise DocumentError("DocumentTooLarge", "the package inflates to more than the limit")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise DocumentError("CorruptFile", f"damaged package: {exc}") from None


def text_encoding(head: bytes) -> tuple[str, int]:
    """The encoding the leading bytes show (a BOM, or UTF-16's zero bytes) and the BOM's length;
    ("", 0) when they show none."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, len(bom)
    pairs = len(head) // 2
    if pairs >= 2:
        odd_zeros = head[1 : pairs * 2 : 2].count(0)
        even_zeros = head[0 : pairs * 2 : 2].count(0)
        if odd_zeros > pairs * 0.3 and even_zeros < pairs * 0.05:
            return "utf-16-le", 0
        if even_zeros > pairs * 0.3 and odd_zeros < pairs * 0.05:
            return "utf-16-be", 0
    return "", 0


def _decodes(path: str, encoding: str, skip: int) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with open(path, "rb") as src:
        src.seek(skip)
        try:
            while chunk := src.read(CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def to_utf8(path: str, out_path: str) -> str:
    """Write the text file `path` as UTF-8 (no BOM) to `out_path`, streaming; returns the encoding read."""
    with open(path, "rb") as src:
        head = src.read(CHUNK_BYTES)
    encoding, skip = text_encoding(head)
    if not encoding:
        encoding = next(e for e in ("utf-8", "cp1252", "latin-1") if _decodes(path, e, 0))
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    with open(path, "rb") as src, Path(out_path).open("w", encoding="utf-8", newline="") as out:
        src.seek(skip)
        while chunk := src.read(CHUNK_BYTES):
            out.write(decoder.decode(chunk))
        out.write(decoder.decode(b"", final=True))
    return encoding


MAX_EMAIL_BYTES = 64 * 1024 * 1024
_SHOWN_HEADERS = ("From", "To", "Cc", "Date", "Subject")


def email_to_html(path: str, out_path: str) -> None:
    """Write an RFC 822 message as an HTML page: its main headers, its HTML (or text) body, and the
    names of its attachments."""
    if Path(path).stat().st_size > MAX_EMAIL_BYTES:
        raise DocumentError("DocumentTooLarge", "the message is larger than 64 MiB")
    with open(path, "rb") as src:
        message = email.message_from_binary_file(src, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not any(message.get(h) for h in _SHOWN_HEADERS):
        raise DocumentError("CorruptFile", "not an e-mail message (no From, To, Date or Subject header)")
    rows = "".join(
        f"<tr><th>{h}:</th><td>{html.escape(str(message.get(h)))}</td></tr>" for h in _SHOWN_HEADERS if message.get(h)
    )
    try:
        part = message.get_body(preferencelist=("html", "plain"))
        content = part.get_content() if part is not None else ""
        body = (
            content
            if part is not None and part.get_content_subtype() == "html"
            else f"<pre>{html.escape(content)}</pre>"
        )
    except (LookupError, UnicodeError, ValueError) as exc:
        raise DocumentError("CorruptFile", f"the message body cannot be decoded: {exc}") from None
    names = [html.escape(a.get_filename() or "(unnamed)") for a in message.iter_attachments()]
    attachments = f"<p>Attachments: {', '.join(names)}</p>" if names else ""
    Path(out_path).write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><table>{rows}</table><hr>'
        f"{attachments}{body}</body></html>",
        encoding="utf-8",
    )
