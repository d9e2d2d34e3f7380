"""The outcome of extracting one attachment, and the small helpers every extractor shares."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from importlib import metadata

STATUSES = ("ok", "no_text_layer", "encrypted", "corrupt", "unsupported", "too_large", "timeout", "failed")

#: Where the text came from: the file's own text (a PDF's text layer, a document's
#: words) or optical character recognition of its pictures.
TEXT_SOURCES = ("text_layer", "ocr")

#: How the reason of an extraction that hit the memory limit begins.
OUT_OF_MEMORY = "ran out of memory while extracting"


@dataclass(slots=True, frozen=True)
class Extraction:
    text: str  # plain text, '' unless status is 'ok'
    pages: int | None  # PDF pages (also for scans), image frames for OCR; None where the format has no pages
    method: str | None  # library and version that produced the text, e.g. 'pypdf 7.1.1'
    status: str  # one of STATUSES
    reason: str | None  # one sentence; None when there is nothing to add
    text_source: str | None = None  # 'text_layer' | 'ocr' when there is text; 'ocr' when OCR found none
    ocr_confidence: float | None = None  # Tesseract's mean word confidence (0-100) for OCR text

    @property
    def characters(self) -> int:
        return len(self.text)

    @property
    def out_of_memory(self) -> bool:
        """Whether the extraction hit the memory limit (its process is not to be trusted with more work)."""
        return self.status == "too_large" and (self.reason or "").startswith(OUT_OF_MEMORY)


def version_of(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:  # pragma: no cover - depends on the install
        return "?"


def method_of(dist: str, label: str | None = None) -> str:
    return f"{label or dist} {version_of(dist)}"


_NOISE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def valid_text(text: str) -> str:
    """``text`` with lone surrogates replaced: always encodable as UTF-8 (and storable)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def clean(text: str) -> str:
    """Unify newlines, drop control characters and trailing spaces, squeeze blank runs."""
    text = valid_text(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n\n")
    text = _NOISE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def has_words(text: str) -> bool:
    return sum(ch.isalnum() for ch in text[:10_000]) >= 3


def joined(*notes: str | None) -> str | None:
    parts = [n for n in notes if n]
    return "; ".join(parts) if parts else None


def ok(
    text: str,
    method: str,
    pages: int | None = None,
    reason: str | None = None,
    *,
    max_chars: int,
    source: str = "text_layer",
    confidence: float | None = None,
) -> Extraction:
    text = clean(text)
    if len(text) > max_chars:
        note = f"text cut at {max_chars:,} characters"
        reason = reason if reason and note in reason else joined(reason, note)
        text = text[:max_chars]
    if not has_words(text):
        return Extraction("", pages, method, "ok", reason or "the file holds no text")
    return Extraction(text, pages, method, "ok", reason, source, confidence)


def bad(status: str, reason: str, method: str | None = None, pages: int | None = None, *, source: str | None = None) -> Extraction:
    return Extraction("", pages, method, status, reason, source)


def short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    msg = msg[:160]
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


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
