"""Real test documents generated on the fly: multi-page text PDFs, images, broken files."""

import io
import re
import zlib

from PIL import Image, ImageDraw


def text_pdf(pages: int, *, width_pt: float = 612, height_pt: float = 792, lines: int = 40) -> bytes:
    """A valid PDF of `pages` US-letter pages of Helvetica text; each page says its own number."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # placeholders filled below
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for n in range(1, pages + 1):
        text = [b"BT /F1 28 Tf 72 %d Td (Page %d) Tj ET" % (int(height_pt) - 90, n)]
        for i in range(lines):
            y = int(height_pt) - 130 - i * 15
            if y < 40:
                break
            text.append(
                b"BT /F1 10 Tf 72 %d Td (Line %d of page %d: the quick brown fox jumps over the lazy dog.) Tj ET"
                % (y, i + 1, n)
            )
        stream = zlib.compress(b"\n".join(text))
        content = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream))
        page = add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
            % (pages_obj, _num(width_pt), _num(height_pt), font, content)
        )
        kids.append(page)
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (i, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref))
    return out.getvalue()


def _num(v: float) -> bytes:
    return (b"%d" % v) if float(v).is_integer() else (b"%.2f" % v)


def encrypted_pdf(pages: int, password: str) -> bytes:
    """A text PDF that needs `password` to open (RC4-128 via pypdf, pure Python)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(pages))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def image_bytes(fmt: str, size: tuple[int, int] = (400, 300), color: str = "navy", frames: int = 1) -> bytes:
    """An image with a distinct colour block per frame (multi-frame for tiff/gif)."""
    images = []
    for i in range(frames):
        im = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(im)
        draw.rectangle([10 + i * 5, 10, size[0] // 2, size[1] // 2], fill=color)
        draw.text((20, size[1] - 30), f"frame {i + 1}", fill="black")
        images.append(im)
    buf = io.BytesIO()
    kwargs = {"save_all": True, "append_images": images[1:]} if frames > 1 else {}
    images[0].save(buf, fmt, **kwargs)
    return buf.getvalue()


def corrupt_pdf() -> bytes:
    """Starts like a PDF, is not one."""
    return b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n" + b"\x00garbage" * 200


def image_pdf(pages: int, size: tuple[int, int] = (1240, 1754)) -> bytes:
    """A PDF whose pages are full-page colour photographs-like images (JPEG inside), for benchmarks."""
    import random

    rng = random.Random(7)
    frames = []
    for n in range(pages):
        base = Image.linear_gradient("L").resize(size).convert("RGB")
        tint = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        im = Image.blend(base, tint, 0.5)
        draw = ImageDraw.Draw(im)
        for _ in range(40):
            x, y = rng.randrange(size[0]), rng.randrange(size[1])
            r = rng.randrange(20, 200)
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        draw.text((40, 40), f"Photo page {n + 1}", fill="black")
        frames.append(im)
    buf = io.BytesIO()
    frames[0].save(buf, "PDF", save_all=True, append_images=frames[1:], resolution=150.0, quality=80)
    return buf.getvalue()


def broken_xref_pdf(pages: int) -> bytes:
    """A text PDF whose xref offsets are all wrong and whose trailer is cut off (PDFium refuses it)."""
    good = text_pdf(pages)
    at = good.index(b"xref\n")
    table = good[at : good.index(b"trailer")]
    wrong = re.sub(rb"(\d{10}) 00000 n", lambda m: b"%010d 00000 n" % (int(m.group(1)) + 7), table)
    return good[:at] + wrong + b"trailer\n<< /Size 1"


def lost_page_tree_pdf(pages: int) -> bytes:
    """A text PDF whose catalog names a page tree object that does not exist (PDFium refuses it)."""
    return text_pdf(pages).replace(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Catalog /Pages 99 0 R >>")


def packed_pdf(pages: int, *, damaged: bool = False) -> bytes:
    """A text PDF 1.5 whose dictionaries (catalog, page tree, pages) are packed in an object stream, with a
    cross-reference stream; `damaged` cuts the file off after the object stream (no xref, no trailer)."""
    contents, dicts = [], []  # dicts: (number, text), packed into the object stream
    font, catalog, tree = 1, 2, 3
    dicts += [(font, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")]
    kids = []
    number = 4
    for n in range(1, pages + 1):
        stream = zlib.compress(b"BT /F1 28 Tf 72 700 Td (Page %d) Tj ET" % n)
        contents.append(
            (number, b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream))
        )
        dicts.append((number + 1, b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] "
                      b"/Resources << /Font << /F1 1 0 R >> >> /Contents %d 0 R >>" % number))  # fmt: skip
        kids.append(number + 1)
        number += 2
    dicts += [(catalog, b"<< /Type /Catalog /Pages 3 0 R >>")]
    dicts += [(tree, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), pages))]
    body, header = b"", []
    for num, text in dicts:
        header.append(b"%d %d" % (num, len(body)))
        body += text + b"\n"
    first = b" ".join(header) + b"\n"
    packed = zlib.compress(first + body)
    objstm = number
    out = io.BytesIO()
    out.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num, text in contents:
        offsets[num] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (num, text))
    offsets[objstm] = out.tell()
    out.write(b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream\nendobj\n"
              % (objstm, len(dicts), len(first), len(packed), packed))  # fmt: skip
    if damaged:
        return out.getvalue()
    xref = objstm + 1
    rows = [b"\x00\x00\x00\x00\xff\xff"]
    index_in = {num: i for i, (num, _) in enumerate(dicts)}
    for num in range(1, xref + 1):
        if num in index_in:
            rows.append(b"\x02" + objstm.to_bytes(3, "big") + index_in[num].to_bytes(2, "big"))
        elif num == xref:
            rows.append(b"\x01" + out.tell().to_bytes(3, "big") + b"\x00\x00")
        else:
            rows.append(b"\x01" + offsets[num].to_bytes(3, "big") + b"\x00\x00")
    table = zlib.compress(b"".join(rows))
    at = out.tell()
    out.write(b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 3 2] /Root %d 0 R /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream\nendobj\n"
              % (xref, xref + 1, catalog, len(table), table))  # fmt: skip
    out.write(b"startxref\n%d\n%%%%EOF\n" % at)
    return out.getvalue()


def lines_pdf(pages: list[list[str]], *, size: int = 11, rotate: int = 0) -> bytes:
    """A PDF whose pages hold the given lines of Helvetica text (72pt margin, 18pt apart), each
    line one text object, and with a page /Rotate of `rotate` degrees."""
    objects: list[bytes] = [b"", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for lines in pages:
        shown = []
        for i, line in enumerate(lines):
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
            shown.append(b"BT /F1 %d Tf 72 %d Td (%s) Tj ET" % (size, 720 - 18 * i, escaped))
        stream = b"\n".join(shown)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Rotate %d "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (rotate, content)
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (i, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


PEOPLE = [
    ("Peter Parker", "123-45-6789", "hotshotpete@dailybugle.com"),
    ("Bruce Wayne", "987-65-4321", "bruce@wayne.example"),
    ("Diana Prince", "555-12-3456", "diana@themyscira.example"),
    ("Clark Kent", "111-22-3333", "ckent@dailyplanet.example"),
    ("Selina Kyle", "222-33-4444", "selina@gotham.example"),
]


def contacts_pdf() -> bytes:
    """A two-page contacts sheet: a name, an SSN and an email per person, one field a line, and on
    page 1 one line holding a name and an email together (redacting one must keep the other)."""
    page1 = ["CONFIDENTIAL CONTACTS"]
    for name, ssn, email in PEOPLE[:4]:
        page1 += [f"Name: {name}", f"SSN: {ssn}", f"Email: {email}"]
    page1.append(f"Manager: {PEOPLE[0][0]} <{PEOPLE[0][2]}>")
    page2 = ["CONTACTS (continued)"]
    name, ssn, email = PEOPLE[4]
    page2 += [f"Name: {name}", f"SSN: {ssn}", f"Email: {email}", "Backup SSN: 999-88-7777"]
    return lines_pdf([page1, page2])


def scans_and_text_pdf() -> bytes:
    """Three pages: text, a scan (an image only), and a scan with invisible OCR text over it."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(text_pdf(1))
    scans = pdfium.PdfDocument(image_pdf(2, size=(620, 877)))
    pdf.import_pages(scans)
    page = pdf[2]
    font = pdfium_c.FPDFText_LoadStandardFont(pdf.raw, b"Helvetica")
    text = pdfium_c.FPDFPageObj_CreateTextObj(pdf.raw, font, 12.0)
    words = "Recognised words".encode("utf-16-le") + b"\x00\x00"
    pdfium_c.FPDFText_SetText(text, ctypes.cast(ctypes.c_char_p(words), ctypes.POINTER(ctypes.c_ushort)))
    pdfium_c.FPDFTextObj_SetTextRenderMode(text, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
    pdfium_c.FPDFPageObj_Transform(text, 1, 0, 0, 1, 72, 400)
    pdfium_c.FPDFPage_InsertObject(page.raw, text)
    pdfium_c.FPDFPage_GenerateContent(page.raw)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def scan_with_nested_text_pdf(depth: int, render_mode: int = 0) -> bytes:
    """A one-page scan (an image over the page) plus text drawn in render mode `render_mode` (0: visible,
    3: invisible, 7: clip only) inside Form XObjects nested `depth` deep (0: on the page itself)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"",  # the page, below
        b"",  # its content, below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        _stream(b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceRGB /BitsPerComponent 8",
                b"\x80" * 192),
    ]  # fmt: skip
    text = b"BT /F1 24 Tf %d Tr 72 600 Td (Words on a scan) Tj ET" % render_mode
    for d in range(depth):
        body = text if d == depth - 1 else b"/Fm%d Do" % (8 + d)
        resources = b"/Resources << /Font << /F1 5 0 R >> /XObject << /Fm%d %d 0 R >> >>" % (8 + d, 8 + d)
        objects.append(_stream(b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] " + resources, body))
    objects[3] = _stream(b"", b"q 612 0 0 792 0 0 cm /Im0 Do Q " + (b"/Fm7 Do" if depth else text))
    objects[2] = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Im0 6 0 R /Fm7 7 0 R >> >> >>"
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _stream(header: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (header, len(data), data)
