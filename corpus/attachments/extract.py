"""Plain text from an attachment's original bytes, extracted locally.

``extract_text(data, filename, content_type)`` is the one entry point.  It never
raises: every outcome, good or bad, is an :class:`Extraction` whose ``status``
says what happened and whose ``reason`` says why in one sentence:

* ``ok`` -- text found (``reason`` may still note a truncation or skipped pages);
* ``no_text_layer`` -- a scanned PDF or an image: the letter is a picture, and
  text would need OCR, which is not attempted;
* ``encrypted`` -- a PDF that cannot be opened without a password;
* ``corrupt`` -- the bytes are not a readable file of the type they claim;
* ``unsupported`` -- a type with no extractor here (or a legacy Office file with
  no converter on PATH);
* ``too_large`` -- over the size cap, or a zip (DOCX/XLSX/ODT) that would
  inflate past it;
* ``failed`` -- an extractor broke unexpectedly (the reason names the error).

The type is decided from the bytes first (``%PDF``, zip contents, ``{\\rtf``,
OLE2), then the declared content type, then the file name's extension, because
authorities' file names and mail clients' content types are often wrong.

Everything is in memory except legacy DOC/XLS, which go through ``antiword`` /
``catdoc`` / ``xls2csv`` on a temporary file when one of them is installed.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from importlib import metadata
from xml.etree import ElementTree

#: Files larger than this are not parsed (status ``too_large``).
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
#: Stored text is cut at this many characters (status stays ``ok``; the reason says so).
MAX_TEXT_CHARS = 2_000_000
#: A zip container (DOCX, XLSX, ODT) may not inflate past this many bytes.
MAX_INFLATED_BYTES = 300 * 1024 * 1024
#: Attached e-mails inside e-mails are followed this deep.
MAX_EMAIL_DEPTH = 3
#: Seconds a legacy-format converter may run.
CONVERTER_TIMEOUT = 60

STATUSES = ("ok", "no_text_layer", "encrypted", "corrupt", "unsupported", "too_large", "failed")


@dataclass(slots=True, frozen=True)
class Extraction:
    text: str  # plain text, '' unless status is 'ok'
    pages: int | None  # PDF pages (also for scans); None where the format has no pages
    method: str | None  # library and version that produced the text, e.g. 'pypdf 7.1.1'
    status: str  # one of STATUSES
    reason: str | None  # one sentence; None when there is nothing to add

    @property
    def characters(self) -> int:
        return len(self.text)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:  # pragma: no cover - depends on the install
        return "?"


def _method(dist: str, label: str | None = None) -> str:
    return f"{label or dist} {_version(dist)}"


# ------------------------------------------------------------------ type sniffing

_EXT_KIND = {
    "pdf": "pdf",
    "docx": "docx",
    "docm": "docx",
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "odt": "odf",
    "ods": "odf",
    "odp": "odf",
    "rtf": "rtf",
    "txt": "text",
    "text": "text",
    "log": "text",
    "md": "text",
    "csv": "csv",
    "tsv": "csv",
    "htm": "html",
    "html": "html",
    "xhtml": "html",
    "eml": "eml",
    "msg": "outlook_msg",
    "doc": "doc",
    "dot": "doc",
    "xls": "xls",
    "ppt": "ppt",
    "pptx": "pptx",
    "zip": "zip",
    "jpg": "image",
    "jpeg": "image",
    "png": "image",
    "gif": "image",
    "tif": "image",
    "tiff": "image",
    "bmp": "image",
}

_CONTENT_TYPE_KIND = {
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.oasis.opendocument.text": "odf",
    "application/vnd.oasis.opendocument.spreadsheet": "odf",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "text/plain": "text",
    "text/csv": "csv",
    "text/html": "html",
    "message/rfc822": "eml",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.ms-outlook": "outlook_msg",
}

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"BM", "bmp"),
)


def _extension(filename: str) -> str:
    base = re.split(r"[\\/]", filename or "")[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return "corrupt_zip"
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    if "content.xml" in names:
        return "odf"
    return "zip"


def detect_kind(data: bytes, filename: str, content_type: str | None = None) -> str:
    """The extractor to use: 'pdf', 'docx', 'xlsx', 'odf', 'rtf', 'html', 'eml', ..."""
    head = data[:1024]
    ext_kind = _EXT_KIND.get(_extension(filename))
    ct = (content_type or "").split(";")[0].strip().lower()
    ct_kind = _CONTENT_TYPE_KIND.get(ct)
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data)
    if head.lstrip().startswith(b"{\\rtf"):
        return "rtf"
    if data.startswith(_OLE_MAGIC):
        if ext_kind in ("doc", "xls", "ppt", "outlook_msg"):
            return ext_kind
        if ct_kind in ("doc", "xls", "outlook_msg"):
            return ct_kind
        return "ole"
    for magic, _name in _IMAGE_MAGIC:
        if data.startswith(magic) and ext_kind not in ("text", "csv"):
            return "image"
    if ct.startswith("image/"):
        return "image"
    # Nothing in the bytes is decisive: trust the name, then the declared type.
    if ext_kind in ("pdf", "docx", "xlsx", "odf", "doc", "xls", "pptx", "zip"):
        # The name promises a binary format the bytes do not have.
        return "mismatch:" + ext_kind
    if ext_kind:
        return ext_kind
    if ct_kind:
        return ct_kind
    sniff = head.lstrip().lower()
    if sniff.startswith((b"<!doctype html", b"<html")):
        return "html"
    if re.match(rb"^(received|return-path|from|message-id|mime-version|date|subject):", head, re.I):
        return "eml"
    return "text"


# ------------------------------------------------------------------ text helpers

_NOISE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """Unify newlines, drop control characters and trailing spaces, squeeze blank runs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n\n")
    text = _NOISE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def decode_text(data: bytes) -> str:
    """Bytes of unknown encoding to str: BOMs, then UTF-8, then Windows-1252, then Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _has_words(text: str) -> bool:
    return sum(ch.isalnum() for ch in text) >= 3


def _ok(text: str, method: str, pages: int | None = None, reason: str | None = None) -> Extraction:
    text = _clean(text)
    if len(text) > MAX_TEXT_CHARS:
        note = f"text cut at {MAX_TEXT_CHARS:,} characters"
        reason = f"{reason}; {note}" if reason else note
        text = text[:MAX_TEXT_CHARS]
    if not _has_words(text):
        return Extraction("", pages, method, "ok", reason or "the file holds no text")
    return Extraction(text, pages, method, "ok", reason)


def _bad(status: str, reason: str, method: str | None = None, pages: int | None = None) -> Extraction:
    return Extraction("", pages, method, status, reason)


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    msg = msg[:160]
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _zip_too_big(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        return f"not a readable zip container ({_short(exc)})"
    if total > MAX_INFLATED_BYTES:
        return f"the archive would inflate to {total:,} bytes, over the {MAX_INFLATED_BYTES:,}-byte cap"
    return None


# ------------------------------------------------------------------ one extractor per kind


def _pdf(data: bytes) -> Extraction:
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    method = _method("pypdf")
    # pypdf logs every repaired defect; they are expected in the wild and not news here.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                return _bad("encrypted", f"the PDF is encrypted with a cipher this install cannot open ({_short(exc)})", method)
            if not opened:
                return _bad("encrypted", "the PDF needs a password to open", method)
        pages = reader.pages
        n_pages = len(pages)
    except FileNotDecryptedError:
        return _bad("encrypted", "the PDF needs a password to open", method)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
        return _bad("corrupt", f"not a readable PDF ({_short(exc)})", method)

    chunks: list[str] = []
    broken: list[int] = []
    image_pages = 0
    for number, page in enumerate(pages, start=1):
        try:
            chunks.append(page.extract_text() or "")
        except FileNotDecryptedError:
            return _bad("encrypted", "the PDF needs a password to open", method, n_pages)
        except Exception:  # a broken content stream spoils one page, not the file
            broken.append(number)
            chunks.append("")
        try:
            resources = page.get("/Resources")
            xobjects = resources.get_object().get("/XObject") if resources else None
            if xobjects:
                image_pages += 1
        except Exception:
            pass
    text = "\n\n".join(chunks)
    reason = None
    if broken:
        reason = f"{len(broken)} of {n_pages} pages could not be read (page {', '.join(map(str, broken[:10]))})"
    if not _has_words(text):
        if n_pages == 0:
            return _bad("corrupt", "the PDF has no pages", method, 0)
        if broken and len(broken) == n_pages:
            return _bad("corrupt", f"none of the {n_pages} pages could be read", method, n_pages)
        what = "images only" if image_pages else "no text"
        return _bad(
            "no_text_layer",
            f"{n_pages} page(s) with {what} and no text layer: probably a scan; OCR is not attempted",
            method,
            n_pages,
        )
    return _ok(text, method, n_pages, reason)


def _docx(data: bytes) -> Extraction:
    import docx
    from docx.table import Table

    method = _method("python-docx")
    if (problem := _zip_too_big(data)) is not None:
        status = "too_large" if "inflate" in problem else "corrupt"
        return _bad(status, problem, method)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        return _bad("corrupt", f"not a readable DOCX file ({_short(exc)})", method)

    lines: list[str] = []

    def table_lines(table: Table) -> None:
        for row in table.rows:
            cells: list[str] = []
            for cell in row.cells:
                value = cell.text.strip()
                if not cells or cells[-1] != value:  # merged cells repeat their text
                    cells.append(value)
            lines.append("\t".join(cells))
        lines.append("")

    def block_lines(container) -> None:
        for block in container.iter_inner_content():
            if isinstance(block, Table):
                table_lines(block)
            else:
                lines.append(block.text)

    block_lines(document)
    for section in document.sections:
        for part in (section.header, section.footer):
            try:
                if not part.is_linked_to_previous:
                    block_lines(part)
            except Exception:
                pass
    return _ok("\n".join(lines), method)


def _xlsx(data: bytes) -> Extraction:
    import openpyxl

    method = _method("openpyxl")
    if (problem := _zip_too_big(data)) is not None:
        status = "too_large" if "inflate" in problem else "corrupt"
        return _bad(status, problem, method)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        return _bad("corrupt", f"not a readable XLSX file ({_short(exc)})", method)
    out: list[str] = []
    size = 0
    try:
        for sheet in book.worksheets:
            out.append(f"# {sheet.title}")
            for row in sheet.iter_rows(values_only=True):
                values = ["" if v is None else str(v) for v in row]
                while values and values[-1] == "":
                    values.pop()
                if values:
                    line = "\t".join(values)
                    out.append(line)
                    size += len(line)
                    if size > MAX_TEXT_CHARS:
                        break
            out.append("")
    finally:
        book.close()
    return _ok("\n".join(out), method)


_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"


def _odf_inline(elem, out: list[str]) -> None:
    if elem.text:
        out.append(elem.text)
    for child in elem:
        tag = child.tag
        if tag == f"{{{_ODF_TEXT}}}s":
            out.append(" " * int(child.get(f"{{{_ODF_TEXT}}}c", "1")))
        elif tag == f"{{{_ODF_TEXT}}}tab":
            out.append("\t")
        elif tag == f"{{{_ODF_TEXT}}}line-break":
            out.append("\n")
        elif tag == f"{{{_ODF_TEXT}}}note":
            pass  # footnote bodies would interrupt the sentence they hang from
        else:
            _odf_inline(child, out)
        if child.tail:
            out.append(child.tail)


def _odf(data: bytes) -> Extraction:
    method = "odf content.xml (stdlib zipfile+xml)"
    if (problem := _zip_too_big(data)) is not None:
        status = "too_large" if "inflate" in problem else "corrupt"
        return _bad(status, problem, method)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            root = ElementTree.fromstring(zf.read("content.xml"))
    except Exception as exc:
        return _bad("corrupt", f"not a readable OpenDocument file ({_short(exc)})", method)
    lines: list[str] = []
    paragraph_tags = {f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h"}
    row_tag = f"{{{_ODF_TABLE}}}table-row"
    cell_tag = f"{{{_ODF_TABLE}}}table-cell"

    def walk(elem) -> None:
        for child in elem:
            if child.tag in paragraph_tags:
                parts: list[str] = []
                _odf_inline(child, parts)
                lines.append("".join(parts))
            elif child.tag == row_tag:
                cells = []
                for cell in child.iter(cell_tag):
                    parts = []
                    for p in cell.iter():
                        if p.tag in paragraph_tags:
                            _odf_inline(p, parts)
                    cells.append("".join(parts))
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    lines.append("\t".join(cells))
            else:
                walk(child)

    walk(root)
    return _ok("\n".join(lines), method)


def _rtf(data: bytes) -> Extraction:
    try:
        from striprtf.striprtf import rtf_to_text
    except ImportError:
        return _bad("unsupported", "RTF needs the striprtf package: pip install striprtf", None)
    method = _method("striprtf")
    try:
        text = rtf_to_text(data.decode("latin-1"), errors="ignore")
    except Exception as exc:
        return _bad("corrupt", f"not a readable RTF file ({_short(exc)})", method)
    return _ok(text, method)


def _html_text(markup: str) -> str:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(markup)
    for node in tree.css("script, style, noscript, template"):
        node.decompose()
    for node in tree.css("br"):
        node.replace_with("\n")
    for node in tree.css("p, div, li, tr, h1, h2, h3, h4, h5, h6, table, blockquote, pre"):
        node.insert_after("\n")
    root = tree.body or tree.root
    return root.text(deep=True, separator="") if root is not None else ""


def _html(data: bytes) -> Extraction:
    method = _method("selectolax")
    try:
        return _ok(_html_text(decode_text(data)), method)
    except Exception as exc:
        return _bad("corrupt", f"not readable HTML ({_short(exc)})", method)


def _text(data: bytes) -> Extraction:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _bad("unsupported", "binary data of an unknown type (no extractor for it)", None)
    return _ok(decode_text(data), "plain text (stdlib)")


def _csv(data: bytes) -> Extraction:
    method = "csv (stdlib)"
    text = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = ["\t".join(cell.strip() for cell in row) for row in csv.reader(io.StringIO(text), dialect)]
    except csv.Error:
        return _ok(text, method, reason="the CSV is malformed; kept as plain text")
    return _ok("\n".join(rows), method)


def _eml(data: bytes, depth: int) -> Extraction:
    method = "email (stdlib)"
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
    except Exception as exc:
        return _bad("corrupt", f"not a readable e-mail ({_short(exc)})", method)
    out: list[str] = []
    methods: list[str] = []
    notes: list[str] = []

    def headers(msg) -> None:
        for name in ("From", "To", "Date", "Subject"):
            value = msg.get(name)
            if value:
                out.append(f"{name}: {value}")
        out.append("")

    def walk(msg, level: int) -> None:
        headers(msg)
        try:
            body = msg.get_body(preferencelist=("plain", "html"))
        except Exception:
            body = None
        if body is not None:
            try:
                content = body.get_content()
            except Exception:
                payload = body.get_payload(decode=True) or b""
                content = decode_text(payload)
            out.append(_html_text(content) if body.get_content_type() == "text/html" else content)
            out.append("")
        for part in msg.iter_attachments() if msg.is_multipart() else ():
            name = part.get_filename() or "attachment"
            if part.get_content_type() == "message/rfc822":
                inner = part.get_payload()
                inner = inner[0] if isinstance(inner, list) and inner else inner
                if level + 1 >= MAX_EMAIL_DEPTH:
                    notes.append(f"attached e-mail {name!r} not opened (over {MAX_EMAIL_DEPTH} levels deep)")
                elif isinstance(inner, email.message.Message):
                    out.append(f"--- attached e-mail: {name}")
                    walk(inner, level + 1)
                continue
            payload = part.get_payload(decode=True) or b""
            result = extract_text(payload, name, part.get_content_type(), _depth=depth + 1)
            if result.status == "ok" and result.text:
                out.append(f"--- attachment: {name}")
                out.append(result.text)
                out.append("")
                if result.method and result.method not in methods:
                    methods.append(result.method)
            else:
                notes.append(f"{name!r}: {result.status}")

    try:
        walk(message, depth)
    except Exception as exc:
        return _bad("corrupt", f"the e-mail could not be walked ({_short(exc)})", method)
    full_method = " + ".join([method, *methods])
    reason = "inner attachments not read: " + "; ".join(notes) if notes else None
    return _ok("\n".join(out), full_method, reason=reason)


# Legacy Office formats: each converter reads a file path and prints text.
_CONVERTERS = {
    "doc": (("antiword", ["antiword", "-w", "0"]), ("catdoc", ["catdoc", "-w"])),
    "xls": (("xls2csv", ["xls2csv"]),),
}


def _legacy(data: bytes, kind: str) -> Extraction:
    for name, argv in _CONVERTERS.get(kind, ()):
        exe = shutil.which(name)
        if exe is None:
            continue
        method = f"{name} (system tool)"
        fd, path = tempfile.mkstemp(suffix="." + kind)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            done = subprocess.run(
                [exe, *argv[1:], path],
                capture_output=True,
                timeout=CONVERTER_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _bad("failed", f"{name} did not finish within {CONVERTER_TIMEOUT} s", method)
        except OSError as exc:
            return _bad("failed", f"{name} could not run ({_short(exc)})", method)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        if done.returncode != 0:
            err = decode_text(done.stderr).strip().splitlines()
            detail = err[0][:160] if err else f"exit code {done.returncode}"
            return _bad("corrupt", f"{name} could not read the file ({detail})", method)
        return _ok(decode_text(done.stdout), method)
    tools = " or ".join(name for name, _ in _CONVERTERS.get(kind, ()))
    label = {"doc": "legacy Word (.doc)", "xls": "legacy Excel (.xls)"}[kind]
    return _bad("unsupported", f"{label} needs {tools} on PATH (e.g. apt-get install antiword catdoc)")


_UNSUPPORTED_REASON = {
    "pptx": "PowerPoint (.pptx) is not extracted",
    "ppt": "legacy PowerPoint (.ppt) is not extracted",
    "outlook_msg": "Outlook .msg files are not extracted",
    "zip": "zip archives are not opened",
    "ole": "an OLE2 (legacy Office) file of unknown kind",
}


def extract_text(
    data: bytes,
    filename: str,
    content_type: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    _depth: int = 0,
) -> Extraction:
    """Extract plain text from one attachment's bytes.  Pure and total: never raises."""
    try:
        if data is None or len(data) == 0:
            return _bad("corrupt", "the file is empty (0 bytes)")
        if len(data) > max_bytes:
            return _bad("too_large", f"{len(data):,} bytes, over the {max_bytes:,}-byte cap")
        kind = detect_kind(bytes(data), filename or "", content_type)
        if kind == "pdf":
            return _pdf(data)
        if kind == "docx":
            return _docx(data)
        if kind == "xlsx":
            return _xlsx(data)
        if kind == "odf":
            return _odf(data)
        if kind == "rtf":
            return _rtf(data)
        if kind == "html":
            return _html(data)
        if kind == "csv":
            return _csv(data)
        if kind == "eml":
            return _eml(data, _depth)
        if kind in ("doc", "xls"):
            return _legacy(data, kind)
        if kind == "image":
            return _bad("no_text_layer", "an image file: its text would need OCR, which is not attempted")
        if kind == "corrupt_zip":
            return _bad("corrupt", "starts like a zip container (DOCX/XLSX/ODT) but cannot be opened")
        if kind.startswith("mismatch:"):
            expected = kind.split(":", 1)[1].upper()
            return _bad("corrupt", f"named as {expected} but the bytes are not a {expected} file")
        if kind in _UNSUPPORTED_REASON:
            return _bad("unsupported", _UNSUPPORTED_REASON[kind])
        return _text(data)
    except ImportError as exc:
        return _bad("unsupported", f"the extractor's library is not installed ({exc.name}): pip install 'foi-corpus[attachments]'")
    except MemoryError:
        return _bad("too_large", "ran out of memory while extracting")
    except Exception as exc:  # the contract: record and move on
        return _bad("failed", f"the extractor broke ({_short(exc)})")
