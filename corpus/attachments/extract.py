"""Plain text from an attachment's original bytes, extracted locally.

``extract_text(data, filename, content_type, limits=...)`` is the one entry
point.  It never raises: every outcome, good or bad, is an :class:`Extraction`
whose ``status`` says what happened and whose ``reason`` says why in one sentence:

* ``ok`` -- text found (``reason`` may still note a cap reached or pages skipped);
  ``text_source`` says whether it is the file's own text or OCR;
* ``no_text_layer`` -- a scanned PDF or an image whose text OCR could not find,
  or could not look for (the reason then says how to install it);
* ``encrypted`` -- a PDF (or zip member) that cannot be opened without a password;
* ``corrupt`` -- the bytes are not a readable file of the type they claim;
* ``unsupported`` -- a type with no extractor here (or a legacy Office file with
  no converter on PATH);
* ``too_large`` -- over a cap that leaves nothing worth keeping: the file size,
  a zip that would inflate too far or too steeply, content streams over the
  caps on every page, or memory;
* ``timeout`` -- only from the worker process (:mod:`corpus.attachments.sandbox`);
* ``failed`` -- an extractor broke unexpectedly (the reason names the error).

The caps are :class:`~corpus.attachments.limits.Limits`; this function checks
them as it goes, and the sandbox's worker process adds the wall-clock and
memory limits around it.

The type is decided from the bytes first (``%PDF``, zip contents, ``{\\rtf``,
OLE2, image signatures), then the declared content type, then the file name's
extension, because authorities' file names and mail clients' content types are
often wrong.

Everything is in memory except legacy DOC/XLS, which go through ``antiword`` /
``catdoc`` / ``xls2csv`` on a temporary file when one of them is installed, and
OCR, which runs Tesseract.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

from corpus.attachments import archive, ocr, office
from corpus.attachments.limits import DEFAULT_LIMITS, Budget, Limits
from corpus.attachments.pdf import pdf as _pdf
from corpus.attachments.result import (
    OUT_OF_MEMORY,
    STATUSES,
    Extraction,
    bad,
    decode_text,
    method_of,
    ok,
    short,
)

__all__ = ["STATUSES", "Extraction", "Limits", "decode_text", "detect_kind", "extract_text"]

#: Seconds a legacy-format converter may run.
CONVERTER_TIMEOUT = 60


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
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # before %PDF: a zip may hold a PDF near its start
        return _zip_kind(data)
    if b"%PDF-" in head:
        return "pdf"
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
    if re.match(rb"^(received|return-path|from|message-id|mime-version|date|subject):", head, re.IGNORECASE):
        return "eml"
    return "text"


# ------------------------------------------------------------------ one extractor per kind


def _rtf(data: bytes, budget: Budget) -> Extraction:
    try:
        from striprtf.striprtf import rtf_to_text
    except ImportError:
        return bad("unsupported", "RTF needs the striprtf package: pip install 'foi-corpus[attachments]'", None)
    method = method_of("striprtf")
    try:
        text = rtf_to_text(data.decode("latin-1"), errors="ignore")
    except Exception as exc:
        return bad("corrupt", f"not a readable RTF file ({short(exc)})", method)
    return ok(text, method, max_chars=budget.limits.max_chars)


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


def _html(data: bytes, budget: Budget) -> Extraction:
    method = method_of("selectolax")
    try:
        return ok(_html_text(decode_text(data)), method, max_chars=budget.limits.max_chars)
    except Exception as exc:
        return bad("corrupt", f"not readable HTML ({short(exc)})", method)


def _text(data: bytes, budget: Budget) -> Extraction:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return bad("unsupported", "binary data of an unknown type (no extractor for it)", None)
    return ok(decode_text(data), "plain text (stdlib)", max_chars=budget.limits.max_chars)


def _csv(data: bytes, budget: Budget) -> Extraction:
    method = "csv (stdlib)"
    text = decode_text(data)
    cap = budget.limits.max_chars
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = ["\t".join(cell.strip() for cell in row) for row in csv.reader(io.StringIO(text), dialect)]
    except csv.Error:
        return ok(text, method, reason="the CSV is malformed; kept as plain text", max_chars=cap)
    return ok("\n".join(rows), method, max_chars=cap)


def _eml(data: bytes, budget: Budget, depth: int) -> Extraction:
    method = "email (stdlib)"
    limits = budget.limits
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
    except Exception as exc:
        return bad("corrupt", f"not a readable e-mail ({short(exc)})", method)
    out: list[str] = []
    methods: list[str] = []
    notes: list[str] = []
    parts: list[Extraction] = []

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
            if sum(len(chunk) for chunk in out) > limits.max_chars or budget.out_of_time():
                notes.append(f"{name!r} and later parts not read (a cap was reached)")
                return
            if part.get_content_type() == "message/rfc822":
                inner = part.get_payload()
                inner = inner[0] if isinstance(inner, list) and inner else inner
                if level + 1 > limits.max_depth:
                    notes.append(f"attached e-mail {name!r} not opened (over {limits.max_depth} levels deep)")
                elif isinstance(inner, email.message.Message):
                    out.append(f"--- attached e-mail: {name}")
                    walk(inner, level + 1)
                continue
            payload = part.get_payload(decode=True) or b""
            result = _extract(payload, name, part.get_content_type(), budget, level + 1)
            if result.status == "ok" and result.text:
                out.append(f"--- attachment: {name}")
                out.append(result.text)
                out.append("")
                parts.append(result)
                if result.method and result.method not in methods:
                    methods.append(result.method)
            else:
                notes.append(f"{name!r}: {result.status}")

    try:
        walk(message, depth)
    except MemoryError:
        raise
    except Exception as exc:
        return bad("corrupt", f"the e-mail could not be walked ({short(exc)})", method)
    full_method = " + ".join([method, *methods])
    reason = "inner attachments not read: " + "; ".join(notes) if notes else None
    source, confidence = archive.combine_parts(parts)
    return ok("\n".join(out), full_method, reason=reason, max_chars=limits.max_chars,
              source=source or "text_layer", confidence=confidence)


# Legacy Office formats: each converter reads a file path and prints text.
_CONVERTERS = {
    "doc": (("antiword", ["antiword", "-w", "0"]), ("catdoc", ["catdoc", "-w"])),
    "xls": (("xls2csv", ["xls2csv"]),),
}


def _legacy(data: bytes, kind: str, budget: Budget) -> Extraction:
    for name, argv in _CONVERTERS.get(kind, ()):
        exe = shutil.which(name)
        if exe is None:
            continue
        method = f"{name} (system tool)"
        timeout = max(1.0, min(CONVERTER_TIMEOUT, budget.seconds_left()))
        fd, path = tempfile.mkstemp(suffix="." + kind)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            done = subprocess.run(
                [exe, *argv[1:], path],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return bad("timeout", f"{name} did not finish within {timeout:g} s", method)
        except OSError as exc:
            return bad("failed", f"{name} could not run ({short(exc)})", method)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        if done.returncode != 0:
            err = decode_text(done.stderr).strip().splitlines()
            detail = err[0][:160] if err else f"exit code {done.returncode}"
            return bad("corrupt", f"{name} could not read the file ({detail})", method)
        return ok(decode_text(done.stdout), method, max_chars=budget.limits.max_chars)
    tools = " or ".join(name for name, _ in _CONVERTERS.get(kind, ()))
    label = {"doc": "legacy Word (.doc)", "xls": "legacy Excel (.xls)"}[kind]
    return bad("unsupported", f"{label} needs {tools} on PATH (e.g. apt-get install antiword catdoc)")


def _image(data: bytes, budget: Budget) -> Extraction:
    what = "an image file: its text needs OCR"
    if not budget.limits.ocr:
        return bad("no_text_layer", f"{what}, which is switched off")
    missing = ocr.unavailable()
    if missing is not None:
        return bad("no_text_layer", f"{what}; {missing}")
    return ocr.ocr_image(data, budget)


_UNSUPPORTED_REASON = {
    "pptx": "PowerPoint (.pptx) is not extracted",
    "ppt": "legacy PowerPoint (.ppt) is not extracted",
    "outlook_msg": "Outlook .msg files are not extracted",
    "ole": "an OLE2 (legacy Office) file of unknown kind",
}


def _member(data: bytes, name: str, budget: Budget, depth: int) -> Extraction:
    return _extract(data, name, None, budget, depth)


def _extract(data: bytes, filename: str, content_type: str | None, budget: Budget, depth: int) -> Extraction:
    limits = budget.limits
    if data is None or len(data) == 0:
        return bad("corrupt", "the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        return bad("too_large", f"{len(data):,} bytes, over the {limits.max_bytes:,}-byte cap")
    kind = detect_kind(bytes(data), filename or "", content_type)
    if kind == "pdf":
        return _pdf(data, budget)
    if kind == "docx":
        return office.docx(data, budget)
    if kind == "xlsx":
        return office.xlsx(data, budget)
    if kind == "odf":
        return office.odf(data, budget)
    if kind == "rtf":
        return _rtf(data, budget)
    if kind == "html":
        return _html(data, budget)
    if kind == "csv":
        return _csv(data, budget)
    if kind in ("eml", "zip") and depth >= limits.max_depth:
        return bad("too_large", f"not opened: nested more than {limits.max_depth} archives or e-mails deep")
    if kind == "eml":
        return _eml(data, budget, depth)
    if kind == "zip":
        return archive.zip_archive(data, budget, depth, _member)
    if kind in ("doc", "xls"):
        return _legacy(data, kind, budget)
    if kind == "image":
        return _image(data, budget)
    if kind == "corrupt_zip":
        return bad("corrupt", "starts like a zip container (DOCX/XLSX/ODT) but cannot be opened")
    if kind.startswith("mismatch:"):
        expected = kind.split(":", 1)[1].upper()
        return bad("corrupt", f"named as {expected} but the bytes are not a {expected} file")
    if kind in _UNSUPPORTED_REASON:
        return bad("unsupported", _UNSUPPORTED_REASON[kind])
    return _text(data, budget)


def extract_text(
    data: bytes,
    filename: str,
    content_type: str | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Extraction:
    """Extract plain text from one attachment's bytes within ``limits``.  Total: never raises.

    In-process, only the caps apply; run it through
    :class:`corpus.attachments.sandbox.ExtractorPool` to add the wall-clock and
    memory limits (as ``corpus sync`` and ``corpus reparse`` do).
    """
    try:
        return _extract(data, filename, content_type, Budget.start(limits), 0)
    except ImportError as exc:
        return bad("unsupported", f"the extractor's library is not installed ({exc.name}): pip install 'foi-corpus[attachments]'")
    except MemoryError:
        return bad("too_large", f"{OUT_OF_MEMORY} (the worker may use {limits.memory // (1024 * 1024)} MiB)")
    except RecursionError:
        return bad("corrupt", "nested too deeply to read")
    except Exception as exc:  # the contract: record and move on
        return bad("failed", f"the extractor broke ({short(exc)})")
