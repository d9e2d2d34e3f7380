"""Real attachment files built in memory, with known text.

Each builder returns bytes of a genuine file of its type (made with the same
libraries a council's office software would produce them with, or by hand for
the simplest formats), so the extractors meet real structure, not mocks.
"""

from __future__ import annotations

import io
import zipfile

REFUSAL_LETTER = [
    "Freedom of Information request reference FOI-2024-0193",
    "We estimate that the cost of complying with your request would exceed the appropriate limit "
    "of 450 pounds set out in section 12 of the Freedom of Information Act 2000.",
    "The names of junior officers are withheld under section 40(2) as they are personal data.",
    "You may ask for an internal review within 40 working days.",
]


def pdf_with_text(lines: list[str] = REFUSAL_LETTER, pages: int = 1) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for page in range(pages):
        y = 780
        for line in lines:
            # reportlab does not wrap: split long sentences over several lines
            words, row = line.split(), ""
            for word in words:
                if len(row) + len(word) > 85:
                    c.drawString(50, y, row)
                    y -= 16
                    row = ""
                row = f"{row} {word}".strip()
            c.drawString(50, y, row)
            y -= 24
        if pages > 1:
            c.drawString(50, 40, f"Page {page + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def scanned_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages are only a picture (what a scanner produces): no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = Image.new("L", (200, 280), 255)
    draw = ImageDraw.Draw(picture)
    for y in range(20, 260, 12):  # strokes that look like lines of type, but are pixels
        draw.line((20, y, 180, y), fill=0, width=3)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for _ in range(pages):
        c.drawImage(ImageReader(picture), 0, 0, width=A4[0], height=A4[1])
        c.showPage()
    c.save()
    return buf.getvalue()


def encrypted_pdf(password: str = "s3cret", lines: list[str] = REFUSAL_LETTER) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_with_text(lines))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def owner_only_encrypted_pdf(lines: list[str] = REFUSAL_LETTER) -> bytes:
    """Encrypted with an empty user password: anyone can open it (printing restrictions only)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_with_text(lines))))
    writer.encrypt(user_password="", owner_password="owner-only", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_letter(lines: list[str] = REFUSAL_LETTER, table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Response to your request", level=1)
    for line in lines:
        document.add_paragraph(line)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.add_paragraph("Yours sincerely, Information Governance Team")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_table(rows: list[list[object]], title: str = "Requests") -> bytes:
    import openpyxl
    from openpyxl.worksheet.worksheet import Worksheet

    book = openpyxl.Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook starts with one worksheet
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def odt_letter(lines: list[str] = REFUSAL_LETTER) -> bytes:
    """A minimal but valid OpenDocument text file, written by hand."""
    paragraphs = "".join(
        f"<text:p>{line.replace('&', '&amp;').replace('<', '&lt;')}</text:p>" for line in lines
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:text><text:h>Decision</text:h>{paragraphs}"
        "<text:p>Two<text:s text:c=\"3\"/>spaces<text:tab/>and a tab</text:p>"
        "</office:text></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", content)
        zf.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
            '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
        )
    return out.getvalue()


def rtf_letter(lines: list[str] = REFUSAL_LETTER) -> bytes:
    body = "".join(line.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}") + "\\par\n" for line in lines)
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Arial;}}\\f0\\fs22 " + body + "}").encode("latin-1")


def eml_with_pdf(lines: list[str] = REFUSAL_LETTER) -> bytes:
    """An e-mail (as forwarded to a requester) with no body text and a PDF letter attached."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "FOI Team <foi@council.example>"
    msg["To"] = "requester@example.org"
    msg["Subject"] = "Your FOI request FOI-2024-0193"
    msg["Date"] = "Tue, 05 Mar 2024 10:00:00 +0000"
    msg.set_content("Please find our response attached.")
    msg.add_attachment(pdf_with_text(lines), maintype="application", subtype="pdf", filename="response.pdf")
    return bytes(msg)


def scan_of(pdf: bytes, *, dpi: int = 200, skew: float = 0.6, specks: int = 3000, quality: int = 75, seed: int = 7) -> bytes:
    """What a scanner makes of a printed PDF: each page as a slightly skewed, speckled JPEG, no text layer."""
    import random

    import pypdfium2
    from PIL import Image

    rnd = random.Random(seed)
    pages = []
    document = pypdfium2.PdfDocument(pdf)
    try:
        for page in document:
            image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            image = image.rotate(skew, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
            pixels = image.load()
            for _ in range(specks):  # dust and toner specks
                pixels[rnd.randrange(image.width), rnd.randrange(image.height)] = rnd.choice((0, 96, 255))
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=quality)
            pages.append(Image.open(io.BytesIO(buf.getvalue())))
    finally:
        document.close()
    out = io.BytesIO()
    pages[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=pages[1:])
    return out.getvalue()


def png_of_text(text: str = "Refused under section 12.") -> bytes:
    """A small picture of a line of type, as a PNG."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (600, 60), 255)
    ImageDraw.Draw(image).text((10, 20), text, fill=0)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
