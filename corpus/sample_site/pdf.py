"""Small real files for the sample site's attachments.

``minimal_pdf`` writes a valid one-page PDF whose text layer holds the given
lines (Helvetica, WinAnsi), so text extraction can be tested without any
third-party PDF writer.
"""

from __future__ import annotations

import hashlib

from corpus.sample_site.data import FakeAttachment, FakeMessage, FakeRequest


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with ``lines`` in its text layer."""
    ops = [b"BT", b"/F1 11 Tf", b"14 TL", b"56 780 Td"]
    for line in lines[:50]:
        ops.append(_pdf_string(line) + b" Tj T*")
    ops.append(b"ET")
    stream = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _wrap(text: str, width: int = 85) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        words = para.split()
        cur = ""
        for w in words:
            if cur and len(cur) + 1 + len(w) > width:
                lines.append(cur)
                cur = w
            else:
                cur = f"{cur} {w}" if cur else w
        lines.append(cur)
    return lines


def attachment_text(req: FakeRequest, msg: FakeMessage, att: FakeAttachment) -> str:
    if att.text:
        return att.text
    return f"{req.title}\nResponse reference {msg.id}, document {att.filename}.\n" + "\n".join(msg.paragraphs[:3])


def attachment_bytes(req: FakeRequest, msg: FakeMessage, att: FakeAttachment) -> bytes:
    """The file served for an attachment: a real PDF, text or CSV where the type allows."""
    text = attachment_text(req, msg, att)
    if att.content_type == "application/pdf":
        return minimal_pdf(_wrap(text))
    if att.content_type.startswith("text/"):
        return text.encode("utf-8")
    seed = hashlib.sha256(f"{req.id}/{msg.id}/{att.part}".encode()).digest()
    return b"PK\x03\x04" + seed * 8  # opaque office-style bytes
