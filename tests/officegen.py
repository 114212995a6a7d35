"""Office documents generated for tests: OOXML and ODF written by hand, so each test knows exactly
what is inside (page breaks, linked images, macros) without an office suite to author them."""

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"'
    ' Target="{target}"/></Relationships>'
)


def _content_types(overrides: dict[str, str]) -> str:
    """[Content_Types].xml naming each part's OOXML content type (given without prefix and +xml)."""
    parts = "".join(
        f'<Override PartName="{name}" ContentType="application/vnd.openxmlformats-officedocument.{kind}+xml"/>'
        for name, kind in overrides.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{parts}</Types>'
    )


def _zip(parts: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _image_run(rel_id: str) -> str:
    """A 1-inch picture whose bytes are not in the package: `r:link` points outside it."""
    emu = 914400
    return (
        "<w:r><w:drawing>"
        '<wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
        f'<wp:extent cx="{emu}" cy="{emu}"/><wp:docPr id="1" name="Linked"/>'
        '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:nvPicPr><pic:cNvPr id="0" name="linked.png"/><pic:cNvPicPr/></pic:nvPicPr>'
        f'<pic:blipFill><a:blip r:link="{rel_id}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
        f'<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="{emu}" cy="{emu}"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr>'
        "</pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"
    )


def docx(
    pages: list[str] | int, *, linked_images: tuple[str, ...] = (), lines_per_page: int = 1, app_pages: int = 0
) -> bytes:
    """A Word document: one page per entry (explicit page breaks), plus pictures linked by URL; with
    `app_pages`, the page count Word records in docProps/app.xml."""
    texts = [f"Page {i + 1} of the office test document" for i in range(pages)] if isinstance(pages, int) else pages
    body = []
    for i, text in enumerate(texts):
        brk = '<w:r><w:br w:type="page"/></w:r>' if i else ""
        for line in range(lines_per_page):
            words = text if line == 0 else f"{text} line {line + 1}"
            body.append(
                f'<w:p>{brk if line == 0 else ""}<w:r><w:t xml:space="preserve">{escape(words)}</w:t></w:r></w:p>'
            )
    rels = []
    for n, url in enumerate(linked_images):
        rels.append(f'<Relationship Id="rIdImg{n}" Type="{_R}/image" Target="{escape(url)}" TargetMode="External"/>')
        body.append(f"<w:p>{_image_run(f'rIdImg{n}')}</w:p>")
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{_W}" xmlns:r="{_R}"><w:body>{"".join(body)}'
        '<w:sectPr><w:pgSz w:w="12240" w:h="15840"/>'
        '<w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440"/></w:sectPr>'
        "</w:body></w:document>"
    )
    return _zip(
        {
            "[Content_Types].xml": _content_types({"/word/document.xml": "wordprocessingml.document.main"}),
            "_rels/.rels": _PKG_RELS.format(target="word/document.xml"),
            "word/_rels/document.xml.rels": (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                + "".join(rels)
                + "</Relationships>"
            ),
            "word/document.xml": document,
            **(
                {
                    "docProps/app.xml": (
                        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Properties xmlns='
                        '"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
                        f"<Pages>{app_pages}</Pages></Properties>"
                    )
                }
                if app_pages
                else {}
            ),
        }
    )


def xlsx(rows: list[list[str | int]]) -> bytes:
    """A one-sheet workbook with inline strings and numbers."""
    cells = []
    for r, row in enumerate(rows, start=1):
        out = []
        for c, value in enumerate(row):
            ref = f"{chr(ord('A') + c)}{r}"
            if isinstance(value, int):
                out.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                out.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
        cells.append(f'<row r="{r}">{"".join(out)}</row>')
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    return _zip(
        {
            "[Content_Types].xml": _content_types(
                {"/xl/workbook.xml": "spreadsheetml.sheet.main", "/xl/worksheets/sheet1.xml": "spreadsheetml.worksheet"}
            ),
            "_rels/.rels": _PKG_RELS.format(target="xl/workbook.xml"),
            "xl/workbook.xml": (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{ns}" xmlns:r="{_R}">'
                '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
            ),
            "xl/_rels/workbook.xml.rels": (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                f'<Relationship Id="rId1" Type="{_R}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
            ),
            "xl/worksheets/sheet1.xml": (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{ns}">'
                f"<sheetData>{''.join(cells)}</sheetData></worksheet>"
            ),
        }
    )


def odp(slides: list[str]) -> bytes:
    """A presentation (ODF), one slide per title."""
    pages = "".join(
        f'<draw:page draw:name="s{i}"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="3cm">'
        f"<draw:text-box><text:p>{escape(t)}</text:p></draw:text-box></draw:frame></draw:page>"
        for i, t in enumerate(slides)
    )
    return _odf(
        "application/vnd.oasis.opendocument.presentation", f"<office:presentation>{pages}</office:presentation>"
    )


def odt(paragraphs: list[str]) -> bytes:
    """A text document (ODF)."""
    body = "".join(f"<text:p>{escape(p)}</text:p>" for p in paragraphs)
    return _odf("application/vnd.oasis.opendocument.text", f"<office:text>{body}</office:text>")


def fodt(paragraphs: list[str]) -> bytes:
    """A flat (single XML file) ODF text document."""
    body = "".join(f"<text:p>{escape(p)}</text:p>" for p in paragraphs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<office:document {_ODF_NS} office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.text">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document>"
    ).encode()


_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink"'
)


def _odf(mimetype: str, body: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), mimetype)  # first and stored, as ODF requires
        zf.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
            f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
            compress_type=zipfile.ZIP_DEFLATED,
        )
        zf.writestr(
            "content.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODF_NS} office:version="1.2">'
            f"<office:body>{body}</office:body></office:document-content>",
            compress_type=zipfile.ZIP_DEFLATED,
        )
    return buf.getvalue()


def html(body: str) -> bytes:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>{body}</body></html>'.encode()
    )


def zip_bomb(inner_bytes: int) -> bytes:
    """A docx-shaped zip whose document part inflates to `inner_bytes` of zeros-like XML."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        base = docx(1)
        with zipfile.ZipFile(io.BytesIO(base)) as src:
            for item in src.infolist():
                if item.filename != "word/document.xml":
                    zf.writestr(item.filename, src.read(item.filename))
        with zf.open("word/document.xml", "w", force_zip64=True) as out:
            out.write(f'<?xml version="1.0"?><w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>'.encode())
            chunk = b"A" * (1 << 20)
            for _ in range(inner_bytes >> 20):
                out.write(chunk)
            out.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return buf.getvalue()


def encrypted(package: bytes, password: str, tmp: Path) -> bytes:
    """An OOXML package encrypted with `password` (ECMA-376 agile encryption, an OLE2 container)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain, locked = tmp / "plain.docx", tmp / "locked.docx"
    plain.write_bytes(package)
    # msoffcrypto writes packages under one 4096-byte segment that no reader (itself included) decrypts:
    # pad with an unreferenced stored part.
    with zipfile.ZipFile(plain, "a") as padded:
        padded.writestr("customXml/padding.xml", "<padding>" + "0" * 5000 + "</padding>")
    with plain.open("rb") as src, locked.open("wb") as out:  # msoffcrypto needs real files
        OOXMLFile(src).encrypt(password, out)
    return locked.read_bytes()
