"""A sync's batches: what is in hand written as one transaction, and what each batch wrote counted and shown."""

from __future__ import annotations

import asyncio
import time

from corpus.progress import Reporter
from corpus.sync.control import Control
from corpus.sync.derived import DerivedTables
from corpus.sync.fetching import InHand
from corpus.sync.options import SyncOptions
from corpus.sync.reader import ReaderWait
from corpus.sync.summary import SyncSummary
from corpus.writer import POLL_SECONDS, Writer, WriteResult


class Batches:
    """Feeds the writer from the threads in hand, and keeps the counts of what it wrote."""

    def __init__(self, options: SyncOptions, writer: Writer, hand: InHand, summary: SyncSummary, reporter: Reporter,
                 reader: ReaderWait, derived: DerivedTables, control: Control):
        self.opts = options
        self.writer = writer
        self.hand = hand
        self.summary = summary
        self.rep = reporter
        self.reader = reader
        self.derived = derived
        self.control = control
        self.enqueued_new = 0  # URLs new to the frontier this run (for --limit)
        self.written = 0  # thread outcomes written this run
        self.total = 0  # threads of this run: written + queued, as of the last batch (the bar's stable total)

    async def write(self, take: bool = False) -> WriteResult:
        """Write everything in hand as one batch; with ``take``, take more queued URLs in the same transaction."""
        result = await self.writer.write_async(self.hand.take() if take else None)
        if result.held:
            self.reader.held()
            return result
        self.reader.free()
        if result.spool is not None:
            self.count_spool(result.spool)
        self.hand.release([o.url for o in result.outcomes])
        self.hand.receive(result)
        self._count(result)
        await self.derived.after_batch(result)
        return result

    async def drain(self, wait: float) -> None:
        """Write everything in hand (and the spool).

        While a reader holds the file this tries again for up to ``wait``
        seconds, then raises ``HeldByReader``.
        """
        started = time.monotonic()
        while True:
            result = await self.write()
            if not result.held and not self.writer.pending and not self.writer.spool.files():
                return
            if result.held and (self.control.interrupted or time.monotonic() - started >= wait):
                raise self.writer.gave_up(started)  # (a first Ctrl-C or SIGTERM ends this wait too)
            await asyncio.sleep(POLL_SECONDS if result.held else 0)

    def _count(self, result: WriteResult) -> None:
        self.summary.count_written(result)
        self.enqueued_new += result.enqueued_new
        self.written += len(result.outcomes)
        if result.pending is not None:
            self.total = self.written + result.pending
            if self.opts.limit is not None:  # queued threads beyond --limit wait for a later run
                self.total = min(self.total, max(self.written, self.opts.limit))
        for o in result.isolated:
            self.rep.log("load_error", f"not stored, page kept: {o.url} ({o.failure.message if o.failure else ''})",
                         level="warning", url=o.url)
        reasons = {o.url: o.failure.message for o in result.outcomes if o.failure is not None}
        for url in result.failed_for_good:
            self.rep.log("failed", f"failed for good: {url} ({reasons.get(url)})", level="warning", url=url)
        self.show()

    def count_spool(self, result: WriteResult) -> None:
        """Threads written from the spool: held by this run while a reader had the file, or left by an earlier run."""
        self.hand.release([o.url for o in result.outcomes])
        self._count(result)
        self.summary.from_spool += len(result.outcomes)
        self.rep.log("spool_written", f"wrote {len(result.outcomes)} threads held in "
                     f"{self.writer.spool.path.name}/", url=str(self.writer.spool.path))

    def show(self) -> None:
        s = self.summary
        done = s.fetched + s.failed + s.removed
        # The total moves only when a batch says how many are queued (it grows as discovery finds more),
        # not with every thread done, so the ETA holds still.
        self.rep.show(done, max(self.total, done) or None, f"discovered {s.discovered} · fetched {s.fetched} · failed "
                      f"{s.failed} · {s.requests_made} requests")
