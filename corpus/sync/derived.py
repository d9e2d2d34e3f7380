"""When a sync brings the derived tables up to date: with its first batch, every ``DERIVE_EVERY`` seconds, at the end.

Only the requests the run touched (and those a new day makes overdue) are
rebuilt, a chunk at a time, so the cost follows the run rather than the size
of the corpus.  The search index is updated as a job of its own after each
rebuild, and also every ``SEARCH_EVERY`` threads written.  Each update reads
only the texts loaded since the one before it (or fetched before it and
written after it): what an update reads, adds and holds stays that of a small
run however long the run is.
The periodic and final rebuilds cap DuckDB's memory and fall back to no cap
when the cap is too small.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import duckdb

from corpus import db
from corpus.derive import rebuild
from corpus.errors import HeldByReader
from corpus.progress import Reporter
from corpus.search.index import update_search_index
from corpus.sync.reader import ReaderWait
from corpus.writer import Writer, WriteResult, out_of_memory, trim_heap

DERIVE_EVERY = 600.0  # seconds: a long sync brings the derived tables up to date this often (and at its end)
DERIVE_CHUNK = 1000  # requests rebuilt at a time: the rebuild's memory does not grow with the run
SEARCH_EVERY = 2000  # threads written between two updates of the search index while a run goes on
SEARCH_MEMORY_LIMIT = "32MB"  # DuckDB's cap while the search index is updated (what it reads is streamed)


class DerivedTables:
    """The derived tables of one run: whether they exist, when they were last rebuilt, and rebuilding them."""

    def __init__(self, writer: Writer, reporter: Reporter, reader: ReaderWait, *, memory_limit: str,
                 search_memory_limit: str = SEARCH_MEMORY_LIMIT):
        self.writer = writer
        self.rep = reporter
        self.reader = reader
        self.memory_limit = memory_limit  # DuckDB's cap while they are rebuilt
        self.search_memory_limit = search_memory_limit  # and while the search index is updated
        self.unindexed = 0  # threads written since the search index was last brought up to date
        self.exist: bool | None = None  # whether the file has them (None: not looked yet)
        self.last = time.monotonic()
        self.at_end = False  # brought up to date at the end of the run
        self.run_started_at: datetime | None = None  # wall clock, set when the run is recorded
        self.indexed_until: datetime | None = None  # when the last search update began (None: none yet this run)
        self.unindexed_from: datetime | None = None  # earliest fetch among the threads written since it

    def since(self) -> datetime | None:
        """Threads written by this run were fetched after it started; those from an earlier run's spool, earlier."""
        times = [t for t in (self.run_started_at, self.writer.merged_since) if t is not None]
        return min(times) if times else None

    def search_since(self) -> datetime | None:
        """What the next search update must read: texts loaded or extracted from this time on (None: all).

        After an update of this run, the time it began, or the earliest fetch
        of a thread written since then if earlier (a thread held while a reader
        had the file is written after it was fetched; ``last_seen`` is its
        fetch time).  Before one, the run's start, as for the rebuild.  Threads
        written from the spool take the run back to the earliest of them.
        """
        start = self.indexed_until if self.indexed_until is not None else self.since()
        if start is None:
            return None
        return min(t for t in (start, self.unindexed_from, self.writer.merged_since) if t is not None)

    def note_written(self, result: WriteResult) -> None:
        """Keep the earliest ``last_seen`` among the threads a batch wrote (and the spool with it), for the next
        update."""
        for outcomes in (result.outcomes, result.spool.outcomes if result.spool else []):
            for o in outcomes:
                if o.load_item is not None:
                    seen = o.load_item.seen_at
                    if self.unindexed_from is None or seen < self.unindexed_from:
                        self.unindexed_from = seen

    def _indexed(self, began: datetime) -> None:
        self.indexed_until, self.unindexed_from = began, None
        self.unindexed = 0

    def derive(self, con: duckdb.DuckDBPyConnection, commit_chunks: bool = False, show_progress: bool = True,
               search: bool = True) -> None:
        """Rebuild what the run may have changed.  ``show_progress``: the rebuild takes over the progress display
        (at the end of a run); a rebuild while fetching goes on leaves the display to the fetching.
        ``search=False``: not the search index (:meth:`update_search` does it apart)."""
        # One DuckDB thread: each thread reserves its own buffers for every join and aggregate of the
        # timeline build, and with two the build of a chunk went past the cap (and ran again uncapped).
        con.execute("SET threads = 1")
        began = datetime.now(timezone.utc)
        rebuild(con, since=self.since(), chunk=DERIVE_CHUNK, commit_chunks=commit_chunks,
                progress=self.rep.progress if show_progress else None, search=search)
        self.last = time.monotonic()
        if search:
            self._indexed(began)

    def update_search(self, con: duckdb.DuckDBPyConnection) -> None:
        """Add the texts written since the last update to the search index (one lean writer)."""
        con.execute("SET threads = 1")
        began = datetime.now(timezone.utc)
        update_search_index(con, since=self.search_since(), lean=True)
        self._indexed(began)

    def with_the_first_batch(self, con: duckdb.DuckDBPyConnection, result: WriteResult) -> None:
        """Inside the first batch's transaction: create the derived tables if the file has none yet.

        So a first sync's readers can query them from its first batch on (they
        cover what is written, and are brought up to date every
        ``DERIVE_EVERY`` seconds and at the end).  Tried once per run.
        """
        if self.exist is not None or not result.outcomes:
            return
        if db.table_exists(con, "request_timeline") and db.table_exists(con, "refusal_citations"):
            self.exist = True
            return
        try:
            # the rebuild's cap, not the batch's: a first build does not fit the batch's (and the whole
            # batch would be written again uncapped)
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
            self.derive(con, show_progress=False)
        except BaseException as exc:
            if not out_of_memory(exc):  # (out of memory: the batch is written again uncapped, and this with it)
                self.exist = False  # the batch is written without it; the end of the run tries again
                self.rep.log("derive_failed", "the derived tables could not be created with the first batch "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); the end of the "
                             "run builds them", level="warning")
            raise
        self.exist = True

    async def after_batch(self, result: WriteResult) -> None:
        """After a batch: every ``DERIVE_EVERY`` seconds, bring the tables up to date, and every ``SEARCH_EVERY``
        threads the search index (if no reader has the file)."""
        self.note_written(result)
        if not (result.outcomes and self.exist):
            return
        self.unindexed += len(result.outcomes)
        try:
            if time.monotonic() - self.last >= DERIVE_EVERY:
                await self.rebuild(wait=0.0, show_progress=False)
            elif self.unindexed >= SEARCH_EVERY:
                await self.search(wait=0.0)
        except HeldByReader:  # a reader came back in between: the next batch tries again
            pass

    async def at_the_end(self, *, wait: float) -> None:
        await self.rebuild(wait=wait)
        self.at_end = True

    async def rebuild(self, *, wait: float, show_progress: bool = True) -> None:
        """Rebuild the derived tables with DuckDB's memory capped (every thread is read: the cap keeps the
        process from growing with the corpus), then update the search index; uncapped if a cap is too small."""
        trim_heap()
        try:
            # (each chunk committed: what a rebuild of a whole run's threads writes is not held to its end)
            await self.reader.call(self.derive, True, show_progress, False, memory_limit=self.memory_limit, wait=wait)
        except HeldByReader:
            raise
        except Exception as exc:  # threads are committed; derived tables can be rebuilt later
            self._failed("derived tables were not rebuilt", exc)
            return
        await self.search(wait=wait)

    async def search(self, *, wait: float) -> None:
        """Bring the search index up to date, as a job of its own: the rebuild's buffers are gone, the cap smaller."""
        trim_heap()
        try:
            await self.reader.call(self.update_search, memory_limit=self.search_memory_limit, wait=wait)
        except HeldByReader:
            raise
        except Exception as exc:  # the texts are committed; the index is brought up to date later
            self._failed("the search index was not updated", exc)

    def _failed(self, what: str, exc: BaseException) -> None:
        why = "out of memory" if out_of_memory(exc) else (str(exc).splitlines() or [type(exc).__name__])[0]
        self.rep.log("derive_failed", f"{what} ({why}); run `corpus reparse`", level="warning")
