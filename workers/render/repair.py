"""Repairing PDFs that PDFium refuses as damaged: a new cross-reference table, then a new page tree.

Real-world PDFs whose xref offsets are wrong or whose trailer is cut off, or whose catalog has lost
its page tree, open in other readers that rebuild what is missing. This module does the same,
without rewriting the file: it scans the bytes for `N G obj` headers (and the objects packed in
object streams), and yields the original bytes with a tail appended (a cross-reference stream
naming every object found and the catalog, then, if that is not enough, a new page tree of every
page object found, in file order). PDFium then opens the patched file. It runs on hostile input,
inside a render-pool process: the file is mapped, not read into memory; object streams are inflated
up to a cap; the scan gives up past a deadline or an object count; and the pool's timeout bounds it
all.
"""

import io
import mmap
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_BYTES = 1 << 30  # larger files are not scanned
MAX_OBJECTS = 300_000
MAX_HEADERS = 2 * MAX_OBJECTS  # object headers read (redefinitions included)
MAX_OBJECT_NUMBER = 8_388_607  # the largest object number PDF allows
MAX_INFLATE_BYTES = 32 << 20  # per object stream
MAX_INFLATE_TOTAL = 128 << 20
HEAD_BYTES = 4096  # how much of an object is read to classify it
DEADLINE_S = 10.0

_WS = rb"[ \t\r\n\f\x00]"
_HEADER = re.compile(rb"(?<![0-9])(\d{1,10})" + _WS + rb"+(\d{1,5})" + _WS + rb"+obj(?![A-Za-z0-9])")
_TYPE = re.compile(rb"/Type\s*/(Catalog|Pages|Page|ObjStm|XRef)(?![A-Za-z0-9])")
_PAGES = re.compile(rb"/Pages\s+(\d{1,10})\s+\d{1,5}\s+R")
_ROOT = re.compile(rb"/Root\s+(\d{1,10})\s+(\d{1,5})\s+R")
_ENCRYPT = re.compile(rb"/Encrypt\s+\d{1,10}\s+\d{1,5}\s+R")
_INFO = re.compile(rb"/Info\s+\d{1,10}\s+\d{1,5}\s+R")
_ID = re.compile(rb"/ID\s*\[\s*<[0-9A-Fa-f\s]*>\s*<[0-9A-Fa-f\s]*>\s*\]")
_TRAILER = re.compile(rb"trailer\s*<<")
_INT = re.compile(rb"/(N|First)\s+(\d{1,10})(?![0-9])")
_FILTER = re.compile(rb"/Filter\s*\[?\s*/(\w+)")


class GaveUp(Exception):
    """The file is too large, has too many objects, or took too long to scan."""


@dataclass
class Scan:
    """What the scan found: where each object is (last definition wins), the catalogs, the pages."""

    size: int
    # number -> (location for precedence, kind 1 direct / 2 in an object stream, offset or stream number,
    # generation or index in the stream)
    objects: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    types: dict[int, bytes] = field(default_factory=dict)  # number -> Catalog, Pages, Page (as last defined)
    page_trees: dict[int, int] = field(default_factory=dict)  # catalog number -> the number its /Pages names
    trailer: bytes = b""  # the last trailer (or cross-reference stream) dictionary's start
    trailer_at: int = -1

    def root(self) -> int | None:
        """The trailer's catalog if it is one, else the catalog defined last."""
        found = _ROOT.search(self.trailer)
        if found and self.types.get(int(found.group(1))) == b"Catalog":
            return int(found.group(1))
        catalogs = [n for n, t in self.types.items() if t == b"Catalog"]
        return max(catalogs, key=lambda n: self.objects[n][0]) if catalogs else None

    def pages(self) -> list[int]:
        """Every page object, in the order they appear in the file."""
        pages = (n for n, t in self.types.items() if t == b"Page")
        return sorted(pages, key=lambda n: (self.objects[n][0], self.objects[n][3]))


def _classify(scan: Scan, number: int, head: bytes) -> None:
    kinds = {m.group(1) for m in _TYPE.finditer(head)}
    scan.page_trees.pop(number, None)
    for kind in (b"Catalog", b"Pages", b"Page"):  # a page's resources may hold other dicts: the strongest wins
        if kind in kinds:
            scan.types[number] = kind
            if kind == b"Catalog" and (tree := _PAGES.search(head)):
                scan.page_trees[number] = int(tree.group(1))
            return
    scan.types.pop(number, None)


def _define(scan: Scan, number: int, entry: tuple[int, int, int, int], head: bytes) -> None:
    if number > MAX_OBJECT_NUMBER or number == 0:
        return
    old = scan.objects.get(number)
    if old is not None and old[0] > entry[0]:
        return
    if old is None and len(scan.objects) >= MAX_OBJECTS:
        raise GaveUp("too many objects")
    scan.objects[number] = entry
    _classify(scan, number, head)


def _inflate(raw: bytes, cap: int) -> bytearray | None:
    """The inflated bytes, a megabyte at a time, or None when they are broken or more than `cap`."""
    inflater, out, pending = zlib.decompressobj(), bytearray(), raw
    try:
        while not inflater.eof:
            piece = inflater.decompress(pending, 1 << 20)
            pending = inflater.unconsumed_tail
            out += piece
            if len(out) > cap:
                return None
            if not piece and not pending:
                break
    except zlib.error:
        return None
    return out


def _object_stream(
    scan: Scan, data: mmap.mmap, number: int, at: int, head: bytes, body: int, budget: list[int]
) -> None:
    """Define the objects packed in an object stream (FlateDecode or unfiltered), inflating at most a cap."""
    ints = {m.group(1): int(m.group(2)) for m in _INT.finditer(head)}
    filters = _FILTER.findall(head)
    if b"N" not in ints or filters not in ([], [b"FlateDecode"]) or b"/DecodeParms" in head:
        return
    end = data.find(b"endstream", body)
    if end < 0:
        return
    cap = min(MAX_INFLATE_BYTES, budget[0])
    if filters:
        text = _inflate(data[body:end], cap)
        if text is None:
            return  # broken, or larger than the cap: left alone
    else:
        text = bytearray(data[body : min(end, body + cap)])
    budget[0] -= len(text)
    count, first = ints[b"N"], ints.get(b"First", 0)
    numbers = re.findall(rb"\d+", text[:first])
    pairs = [(int(numbers[i]), int(numbers[i + 1])) for i in range(0, min(len(numbers) - 1, 2 * count), 2)]
    for index, (packed, offset) in enumerate(pairs):
        start = first + offset
        stop = first + pairs[index + 1][1] if index + 1 < len(pairs) else len(text)
        _define(scan, packed, (at, 2, number, index), text[start : min(stop, start + HEAD_BYTES)])


def scan(data: mmap.mmap, deadline_s: float = DEADLINE_S) -> Scan:
    """Find every object definition, the catalogs and pages, and the last trailer."""
    if len(data) > MAX_BYTES:
        raise GaveUp("too large to repair")
    result = Scan(size=len(data))
    started = time.monotonic()
    budget = [MAX_INFLATE_TOTAL]
    streams: list[tuple[int, int, bytes, int]] = []
    pos, endstream_at, exhausted = 0, -1, False
    headers = 0
    while (found := _HEADER.search(data, pos)) is not None:
        headers += 1
        if headers > MAX_HEADERS:
            raise GaveUp("too many object headers")
        if time.monotonic() - started > deadline_s:
            raise GaveUp("scan took too long")
        number, generation, at = int(found.group(1)), int(found.group(2)), found.start()
        head = data[found.end() : found.end() + HEAD_BYTES]
        # the object ends at its endobj (or the next object's header: "obj" is in both) or its stream
        cut = min((i for i in (head.find(b"obj"), head.find(b"stream")) if i >= 0), default=len(head))
        _define(result, number, (at, 1, at, generation), head[:cut])
        pos = found.end()
        if head[cut : cut + 6] == b"stream":
            body = found.end() + cut + 6
            body += 2 if data[body : body + 2] == b"\r\n" else 1 if data[body : body + 1] in (b"\n", b"\r") else 0
            if b"/ObjStm" in head[:cut]:
                streams.append((number, at, head[:cut], body))
            if b"/XRef" in head[:cut] and at > result.trailer_at:
                result.trailer, result.trailer_at = head[:cut], at
            # skip the stream's bytes (they may hold anything); once no endstream is left, none is looked for
            if not exhausted and endstream_at < body:
                endstream_at = data.find(b"endstream", body)
                exhausted = endstream_at < 0
            if endstream_at >= body:
                pos = endstream_at
    for trailer in _TRAILER.finditer(data):
        if trailer.start() > result.trailer_at:
            result.trailer, result.trailer_at = data[trailer.start() : trailer.start() + HEAD_BYTES], trailer.start()
    for number, at, head, body in streams:
        if time.monotonic() - started > deadline_s:
            raise GaveUp("scan took too long")
        if result.objects.get(number, (0, 0))[:2] == (at, 1):  # still the stream's current definition
            _object_stream(result, data, number, at, head, body, budget)
    return result


def _xref_stream(found: Scan, extra: list[bytes], root: int) -> bytes:
    """The tail: `extra` objects numbered after the last one found, then a cross-reference stream of them all."""
    out = io.BytesIO()
    out.write(b"\n")
    entries = {n: (kind, a, b) for n, (_, kind, a, b) in found.objects.items()}
    number = max(entries, default=0)
    for body in extra:
        number += 1
        entries[number] = (1, found.size + out.tell(), 0)
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    number += 1
    entries[number] = (1, found.size + out.tell(), 0)
    numbers = sorted(entries)
    runs: list[list[int]] = []
    for n in numbers:
        if runs and runs[-1][0] + runs[-1][1] == n:
            runs[-1][1] += 1
        else:
            runs.append([n, 1])
    table = b"".join(
        bytes([kind]) + a.to_bytes(5, "big") + b.to_bytes(4, "big") for kind, a, b in (entries[n] for n in numbers)
    )
    packed = zlib.compress(table)
    keep = b" ".join(m.group(0) for pattern in (_ENCRYPT, _INFO, _ID) if (m := pattern.search(found.trailer)))
    index = b" ".join(b"%d %d" % (start, count) for start, count in runs)
    out.write(
        b"%d 0 obj\n<< /Type /XRef /Size %d /Index [%s] /W [1 5 4] /Root %d 0 R %s /Filter /FlateDecode /Length %d >>"
        b"\nstream\n%s\nendstream\nendobj\n" % (number, number + 1, index, root, keep, len(packed), packed)
    )
    out.write(b"startxref\n%d\n%%%%EOF\n" % entries[number][1])
    return out.getvalue()


class Patched(io.RawIOBase):
    """The original file followed by a tail, as one seekable stream (PDFium reads through it)."""

    def __init__(self, path: str, tail: bytes) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed with the stream
        self._size = self._file.seek(0, io.SEEK_END)
        self._tail = tail
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size + len(self._tail)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        view = memoryview(buffer).cast("B")
        done = 0
        if self._pos < self._size:
            self._file.seek(self._pos)
            done = self._file.readinto(view[: min(len(view), self._size - self._pos)]) or 0
        tail_at = self._pos + done - self._size
        if done < len(view) and 0 <= tail_at < len(self._tail):
            piece = self._tail[tail_at : tail_at + len(view) - done]
            view[done : done + len(piece)] = piece
            done += len(piece)
        self._pos += done
        return done

    def close(self) -> None:
        self._file.close()
        super().close()


def attempts(path: str) -> Iterator[Patched]:
    """Patched versions of a damaged PDF to try in turn: its objects with a new cross-reference stream
    (and the catalog found), then also a new page tree of every page found. Nothing when there is nothing
    to rebuild from; GaveUp when the file is too large or the scan too long."""
    with open(path, "rb") as fh:
        if fh.seek(0, io.SEEK_END) == 0:
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            found = scan(data)
    root = found.root()
    if root is not None and found.types.get(found.page_trees.get(root, 0)) == b"Pages":
        yield Patched(path, _xref_stream(found, [], root))  # the catalog's page tree is there: a new xref may do
    pages = found.pages()
    if pages:
        last = max(found.objects)
        kids = b" ".join(b"%d %d R" % (n, found.objects[n][3] if found.objects[n][1] == 1 else 0) for n in pages)
        tree = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages))
        catalog = b"<< /Type /Catalog /Pages %d 0 R >>" % (last + 1)
        yield Patched(path, _xref_stream(found, [tree, catalog], last + 2))
