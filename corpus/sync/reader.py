"""While a reader holds the database file: database jobs that wait for it, and the notices about the wait."""

from __future__ import annotations

import time
from pathlib import Path

from corpus.errors import HeldByReader
from corpus.progress import Reporter
from corpus.sync.summary import SyncSummary
from corpus.writer import Writer

HELD_NOTICE_EVERY = 60.0  # seconds between "still waiting" lines while a reader keeps the file


class ReaderWait:
    """Says when a reader starts and stops holding the file (at most every ``HELD_NOTICE_EVERY`` seconds)."""

    def __init__(self, writer: Writer, reporter: Reporter, db_path: Path):
        self.writer = writer
        self.rep = reporter
        self.db_name = db_path.name
        self.notice: float | None = None  # when the last "waiting for a reader" line was written

    async def call(self, fn, *args, wait: float = 0.0, **kwargs):
        """A database job that must be done now; while a reader holds the file, waits up to ``wait`` seconds."""
        started_held = self.writer.held
        try:
            return await self.writer.call_async(fn, *args, wait=wait, **kwargs)
        finally:
            if self.writer.held:
                self.held()
            elif started_held:
                self.free()

    def held(self) -> None:
        now = time.monotonic()
        if self.notice is not None and now - self.notice < HELD_NOTICE_EVERY:
            return
        first = self.notice is None
        self.notice = now
        pid = self.writer.held_by
        who = f"PID {pid}" if pid else "another process"
        memory, spooled = len(self.writer.pending.outcomes), self.writer.spooled
        if first:
            self.rep.log("waiting_for_reader", f"waiting for {who} (a reader) to close {self.db_name}: "
                         "fetching goes on, and finished threads are held until the file is free "
                         f"({memory} in memory, {spooled} in {self.writer.spool.path.name}/)", level="warning",
                         pid=pid)
        else:
            self.rep.log("waiting_for_reader", f"still waiting for {who} (a reader) to close "
                         f"{self.db_name} after {self.writer.held_for():.0f} s: {memory} threads held in "
                         f"memory, {spooled} in {self.writer.spool.path.name}/", level="warning", pid=pid)

    def free(self) -> None:
        if self.notice is None:
            return
        self.notice = None
        self.rep.log("reader_gone", f"{self.db_name} is free again: writing what was held", level="warning")

    def gave_up(self, summary: SyncSummary, exc: HeldByReader, outcome: str = "spooled") -> None:
        """The run waited ``reader_wait`` in vain: the summary says who held the file and what is in the spool."""
        summary.outcome = outcome
        summary.held_by = exc.pid
        summary.reader_wait = exc.waited
        summary.spool_path = str(self.writer.spool.path)
        summary.spooled = self.writer.spool.threads() + len(self.writer.pending.outcomes)
