"""What waits to be written: a batch of thread outcomes, discoveries, listing pages, finished walks and run records.

A :class:`Batch` is what ``corpus.writer`` writes in one transaction, and
what ``corpus.spool`` keeps on disk when the database cannot be opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from corpus.frontier import FrontierItem
from corpus.pagestore import StoredPage
from corpus.pipeline import ThreadOutcome


@dataclass(slots=True)
class FinishedWalk:
    """A listing walk read to its end (recorded with its last discoveries, in the same transaction)."""

    kind: str
    value: str
    since: date | None
    until: date | None
    started_at: datetime
    pages: int
    stopped_early: bool


@dataclass(slots=True)
class FinishedRun:
    """The end of a sync run: its ``sync_runs`` row gets this outcome and summary."""

    run_id: str
    outcome: str
    finished_at: datetime
    summary: dict[str, Any]
    rebuild_since: datetime | None = None  # the run could not bring the derived tables up to date from then on


@dataclass(slots=True)
class Batch:
    """What waits to be written."""

    outcomes: list[ThreadOutcome] = field(default_factory=list)
    discovered: list[FrontierItem] = field(default_factory=list)
    pages: list[StoredPage] = field(default_factory=list)  # listing pages and the like
    walks: list[FinishedWalk] = field(default_factory=list)
    runs: list[FinishedRun] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.outcomes or self.discovered or self.pages or self.walks or self.runs)

    def put_back(self, other: Batch) -> None:
        """Put ``other`` (not written) back in front of what arrived since."""
        self.outcomes[:0] = other.outcomes
        self.discovered[:0] = other.discovered
        self.pages[:0] = other.pages
        self.walks[:0] = other.walks
        self.runs[:0] = other.runs

    def held_bytes(self) -> int:
        """About how much memory this batch holds: its pages as fetched, what was parsed from them, the rest."""
        pages = sum((p.size or 0) * 2 + len(p.body or b"") for o in self.outcomes for p in o.pages)
        listing = sum(len(p.body or b"") for p in self.pages)
        return pages + listing + 400 * (len(self.outcomes) + len(self.discovered))
