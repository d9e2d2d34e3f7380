"""The limits every attachment is extracted under, and the running budget of one extraction.

A hostile or broken file must cost a bounded amount of time and memory.  The
limits come in two layers:

* caps the extractors check as they go (:class:`Limits` fields other than
  ``seconds`` and ``memory``): a file that breaks one is recorded with a status
  and a one-sentence reason, keeping whatever text was read before the cap when
  that is meaningful;
* the worker process itself (:mod:`corpus.attachments.sandbox`): a wall-clock
  limit (``seconds``) and an address-space limit (``memory``, ``RLIMIT_AS``)
  catch anything the caps did not foresee.  Breaking them costs the worker its
  life; it is replaced and the attachment recorded as ``timeout`` or ``too_large``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on one attachment's extraction (defaults are what ``corpus sync`` uses)."""

    #: The file itself: larger ones are not opened (``too_large``).
    max_bytes: int = 50 * MiB
    #: Text kept per attachment; the rest is cut (``ok``, the reason says so).
    max_chars: int = 2_000_000
    #: PDF pages read for their text layer; later pages are skipped (``ok``, noted).
    max_pages: int = 1_000
    #: Decoded size of one PDF content stream; a page over it is skipped.
    max_stream_bytes: int = 16 * MiB
    #: Tokens (operators and operands) parsed from one PDF content stream; a page over it is skipped.
    max_stream_tokens: int = 400_000
    #: Spreadsheet cells read (blank padding included); the rest is cut (``ok``, noted).
    max_cells: int = 1_000_000
    #: Columns read per spreadsheet row; wider rows are cut.
    max_columns: int = 1_000
    #: Sum of the declared uncompressed sizes in a zip (DOCX, XLSX, ODT, .zip), nested ones included.
    max_inflated: int = 200 * MiB
    #: Uncompressed/compressed ratio of one zip member (members under 1 MiB are exempt).
    max_ratio: int = 100
    #: Members of one zip archive.
    max_members: int = 2_000
    #: ODF repeat counts (``text:c`` spaces) are clamped to this.
    max_repeat: int = 100
    #: Archives and e-mails inside one another are opened this deep.
    max_depth: int = 3
    #: Pages (or image frames) read by OCR.
    ocr_pages: int = 10
    #: Resolution pages are rendered at for OCR.
    ocr_dpi: int = 300
    #: Pixels of one rendered page or image given to OCR (the resolution drops to fit).
    ocr_pixels: int = 40_000_000
    #: Try OCR on scans and images when Tesseract and the ``ocr`` extra are installed.
    ocr: bool = True
    #: Wall-clock seconds per attachment; the worker is killed past it (``timeout``).
    seconds: float = 120.0
    #: Address space of the worker process (``RLIMIT_AS``); an extraction that needs more is ``too_large``.
    memory: int = 512 * MiB
    #: Share of ``seconds`` after which page-by-page extractors stop and keep what they have.
    soft_fraction: float = 0.6

    @property
    def soft_seconds(self) -> float:
        """Time after which page-by-page extractors stop and keep what they have (well before the kill)."""
        return self.seconds * self.soft_fraction


#: The limits ``corpus sync`` and ``corpus reparse`` use.
DEFAULT_LIMITS = Limits()


@dataclass(slots=True)
class Budget:
    """What one extraction (with everything nested inside it) may still spend."""

    limits: Limits
    deadline: float = 0.0
    inflated_left: int = 0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, limits: Limits) -> Budget:
        return cls(limits, time.monotonic() + limits.soft_seconds, limits.max_inflated)

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    def seconds_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class CapReached(Exception):
    """Raised inside a streaming reader to stop it at a cap; the message is the note to record."""
