"""Zip archives of documents (authorities often send a disclosure as one .zip), opened within the caps.

Each member is extracted as an attachment of its own, one level deeper, and
their texts are joined under ``--- file: <name>`` lines.  What may be inflated
is shared with every archive nested inside (see
:mod:`corpus.attachments.zipguard`), archives deeper than ``max_depth`` are
not opened, and members stop being read once the character cap or the time
budget is reached.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable

from corpus.attachments.limits import Budget
from corpus.attachments.result import Extraction, bad, ok
from corpus.attachments.zipguard import ZipProblem, open_zip, read_member

Member = Callable[[bytes, str, Budget, int], Extraction]

_WORST_FIRST = ("too_large", "timeout", "corrupt", "encrypted", "failed", "unsupported", "no_text_layer")


def combine_parts(parts: list[Extraction]) -> tuple[str | None, float | None]:
    """``text_source`` and OCR confidence of a text made of several parts ('ocr' when any part is OCR)."""
    read = [p for p in parts if p.text]
    by_ocr = [p for p in read if p.text_source == "ocr" and p.ocr_confidence is not None]
    if not by_ocr:
        return "text_layer", None
    words = sum(len(p.text.split()) for p in by_ocr) or 1
    mean = sum((p.ocr_confidence or 0.0) * len(p.text.split()) for p in by_ocr) / words
    return "ocr", round(mean, 1)


def zip_archive(data: bytes, budget: Budget, depth: int, member: Member) -> Extraction:
    limits = budget.limits
    base = "zip (stdlib)"
    try:
        zf = open_zip(data, budget)
    except ZipProblem as problem:
        return bad(problem.status, problem.reason, base)
    out: list[str] = []
    parts: list[Extraction] = []
    methods: list[str] = []
    notes: list[str] = []
    failures: list[str] = []  # statuses of members that gave no text
    size = 0
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = info.filename
            if size > limits.max_chars:
                notes.append(f"members after {name[:60]!r} not read (character cap)")
                break
            if budget.out_of_time():
                notes.append(f"members from {name[:60]!r} on not read ({limits.soft_seconds:g}-second time budget)")
                break
            if info.flag_bits & 0x1:
                failures.append("encrypted")
                notes.append(f"{name[:60]!r}: encrypted")
                continue
            if info.file_size > limits.max_bytes:
                failures.append("too_large")
                notes.append(f"{name[:60]!r}: too_large")
                continue
            try:
                content = read_member(zf, name)
            except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError) as exc:
                failures.append("corrupt")
                notes.append(f"{name[:60]!r}: corrupt ({type(exc).__name__})")
                continue
            result = member(content, name, budget, depth + 1)
            if result.status == "ok" and result.text:
                out.append(f"--- file: {name}")
                out.append(result.text)
                out.append("")
                size += len(result.text)
                parts.append(result)
                if result.method and result.method not in methods:
                    methods.append(result.method)
            else:
                failures.append(result.status)
                # The first failure says why in full (through nested archives); later ones just their status.
                notes.append(f"{name[:60]!r}: {result.reason if result.reason and not notes else result.status}")
    if not out:
        # Nothing read: the archive takes its members' worst status (a bomb inside is a bomb).
        worst = next((s for s in _WORST_FIRST if s in failures), None)
        if worst is not None:
            return bad(worst, ("no member could be read: " + "; ".join(notes[:5]))[:500], base)
    source, confidence = combine_parts(parts)
    reason = "members not read: " + "; ".join(notes[:10]) if notes else None
    return ok("\n".join(out), " + ".join([base, *methods]), reason=reason, max_chars=limits.max_chars,
              source=source or "text_layer", confidence=confidence)
