"""The one database writer: every write of a sync, an import or a reparse goes through here.

:func:`write_outcomes` holds the rules for writing thread outcomes
(``corpus.pipeline``), set-based and the same whatever the pages' origin:

* raw pages are stored (compressed) with the thread;
* loaded threads are upserted (``corpus.load``) and their ``parse_failures`` rows cleared;
* pages not understood are kept and listed in ``parse_failures``;
* only outcomes from the live site touch the frontier and ``requests.removed``:
  a 404/410 (or a hidden page) flags the request removed, a 200 or 304 clears it.
  Pages read back from the store or from saved files never change it;
* captures (from a web archive, or saved files) never fill a request the live site
  reported removed or hidden: such an outcome is ``withheld`` and nothing of it is
  stored.  An archive capture older than what the corpus holds for the thread is
  ``stale``: its pages go to ``page_history`` and no row changes.  A capture that
  answers a queued URL of a sync leaves it ``archived`` in the frontier (a later
  sync with the live site fetches it again); one that says the page was removed
  flags it removed, as the live site would.

:class:`Writer` owns the database for a run: one thread does every write,
and the buffers of what waits to be written (thread outcomes, discovered
URLs, listing pages, finished listing walks, the run's end) live here.
Nothing else opens the database for writing while a writer runs, so this is
the one place that decides what happens when the file cannot be opened.

A batch is written in one transaction.  When it fails, it is written again
thread by thread, so a thread the loader cannot store costs only itself: it
is kept as a ``load_error`` parse failure with its pages, and the frontier
moves past it, so a rerun never stops at the same place.

When another process (a reader) holds the file, a writer without a
:class:`Hold` (import, reparse) waits ``WAIT_SECONDS`` and raises
``DatabaseLocked``.  A sync's writer holds: the batch stays in memory, up to
``HOLD_THREADS`` threads or ``HOLD_BYTES``, and past that goes to the spool
beside the database (``corpus.spool``); the next attempt that finds the file
free writes the spool first, then what is in memory.  Every writer writes a
spool left by an earlier run before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from corpus import db, frontier, pagestore
from corpus.batch import Batch, FinishedRun, FinishedWalk
from corpus.errors import CorpusError, DatabaseLocked, HeldByReader, SpoolRefused
from corpus.frontier import FrontierItem, QueuedUrl
from corpus.load import LoadStats, load_threads, mark_removed
from corpus.pagestore import StoredPage
from corpus.pipeline import Failure, ThreadOutcome
from corpus.spool import Spool, SpoolFile, refused_message
from corpus.staging import arrow_rows, arrow_schema, registered

__all__ = ["Batch", "FinishedRun", "FinishedWalk", "Hold", "Take", "Writer", "WriteResult", "write_outcomes"]

BATCH_MEMORY_LIMIT = "32MB"  # DuckDB's cap while a batch is written (and checkpointed on close)

T = TypeVar("T")

_FAILURES = arrow_schema("parse_failures")


# ============================================================================ the rules


def _clear_failures(con: duckdb.DuckDBPyConnection, urls: list[str]) -> None:
    if urls:
        con.execute("DELETE FROM parse_failures WHERE url IN (SELECT unnest(?::VARCHAR[]))", [urls])


def _record_failures(con: duckdb.DuckDBPyConnection, outcomes: list[ThreadOutcome], now: datetime) -> None:
    rows = {}
    for o in outcomes:
        assert o.failure is not None
        url = o.page_url or o.url
        rows[url] = (url, o.site, o.failure.kind, o.failure.message, o.page_sha256, now)
    if not rows:
        return
    with registered(con, "_parse_failures_batch", arrow_rows(_FAILURES, list(rows.values()))):
        con.execute(f"INSERT OR REPLACE INTO parse_failures ({', '.join(_FAILURES.names)}) "
                    f"SELECT {', '.join(_FAILURES.names)} FROM _parse_failures_batch")


def _titles_by_site(outcomes: list[ThreadOutcome]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for o in outcomes:
        title = o.load_item.parsed.url_title if o.load_item is not None else o.url_title
        if title:
            out.setdefault(o.site, []).append(title)
    return out


def _gate_captures(con: duckdb.DuckDBPyConnection, outcomes: list[ThreadOutcome]) -> None:
    """Mark captures of removed requests ``withheld`` and archive captures older than the corpus ``stale``."""
    captured = [o for o in outcomes if o.origin in ("archive", "files") and o.url_title
                and o.kind in ("loaded", "parse_failed")]
    by_site: dict[str, list[ThreadOutcome]] = {}
    for o in captured:
        by_site.setdefault(o.site, []).append(o)
    for site, group in by_site.items():
        titles = sorted({o.url_title for o in group if o.url_title})
        rows = con.execute(
            """
            SELECT t.url_title,
                   coalesce(bool_or(r.removed), false) OR coalesce(bool_or(f.state = 'removed'), false),
                   max(coalesce(r.as_of, r.last_seen))
            FROM (SELECT unnest(?::VARCHAR[]) AS url_title) t
            LEFT JOIN requests r ON r.site = ? AND r.url_title = t.url_title
            LEFT JOIN frontier f ON f.url = ? || '/request/' || t.url_title
            GROUP BY t.url_title
            """,
            [titles, site, site],
        ).fetchall()
        known = {title: (bool(removed), as_of) for title, removed, as_of in rows}
        for o in group:
            removed, held_as_of = known.get(o.url_title or "", (False, None))
            if removed:
                o.kind = "withheld"
                o.pages = []
                o.load_item = None
                o.failure = Failure("withheld", "the live site reported this request removed or hidden; "
                                    "its copy from an archive or a saved file is not used")
            elif o.origin == "archive" and o.kind == "loaded" and held_as_of is not None and o.as_of is not None \
                    and o.as_of <= held_as_of:
                o.kind = "stale" if o.as_of < held_as_of else "unchanged"  # (the same capture, loaded again)
                o.load_item = None


def _archived_states(con: duckdb.DuckDBPyConnection, outcomes: list[ThreadOutcome], now: datetime) -> None:
    """Frontier states of queued URLs a sync answered from an archive."""
    answered = [o for o in outcomes if o.origin == "archive" and o.queued]
    if not answered:
        return
    frontier.mark_archived(con, [o.url for o in answered if o.kind in ("loaded", "stale", "unchanged",
                                                                        "parse_failed")], now=now)
    frontier.mark_blocked(con, [o.url for o in answered if o.kind == "failed"],
                          error="the site challenged us and the archive had no usable copy", now=now)
    removed = [o for o in answered if o.kind in ("removed", "withheld")]
    if removed:
        frontier.mark_removed(con, [o.url for o in removed], error="removed (according to the archive)", now=now)
    for site, titles in _titles_by_site([o for o in answered if o.kind == "removed"]).items():
        mark_removed(con, site, *titles)


def write_outcomes(con: duckdb.DuckDBPyConnection, outcomes: list[ThreadOutcome]) -> tuple[LoadStats, list[str]]:
    """Write thread outcomes inside the caller's transaction; returns the load figures and the URLs failed for good."""
    now = datetime.now(timezone.utc)
    _gate_captures(con, outcomes)
    pagestore.store_pages(con, [p for o in outcomes for p in o.pages])
    loaded = [o for o in outcomes if o.kind == "loaded"]
    stats = load_threads(con, [o.load_item for o in loaded if o.load_item is not None])
    _clear_failures(con, [o.page_url or o.url for o in loaded])
    _record_failures(con, [o for o in outcomes if o.kind == "parse_failed"], now)
    _archived_states(con, outcomes, now)
    live = [o for o in outcomes if o.origin == "site"]
    if not live:
        return stats, []
    frontier.mark_done(con, [(o.url, o.signature) for o in live if o.kind in ("loaded", "unchanged", "parse_failed")],
                       now=now)
    pagestore.touch_pages(con, [o.page_url or o.url for o in live if o.kind == "unchanged"], now)
    failed = [o for o in live if o.kind == "failed"]
    failed_for_good = frontier.mark_failed(
        con, [(o.url, o.failure.message if o.failure else "failed") for o in failed], max_attempts=1, now=now)
    removed = [o for o in live if o.kind == "removed"]
    if removed:
        reasons = sorted({o.failure.message for o in removed if o.failure})
        frontier.mark_removed(con, [o.url for o in removed], error="; ".join(reasons) or "gone", now=now)
    for site, titles in _titles_by_site(removed).items():
        mark_removed(con, site, *titles)
    for site, titles in _titles_by_site([o for o in live if o.kind in ("loaded", "unchanged")]).items():
        mark_removed(con, site, *titles, removed=False)
    return stats, failed_for_good


# ============================================================================ batches


@dataclass(slots=True)
class Take:
    """Queued URLs to take from the frontier in the same transaction as a batch."""

    site: str
    n: int
    exclude: set[str] = field(default_factory=set)
    known_only: bool = False


@dataclass(slots=True)
class WriteResult:
    outcomes: list[ThreadOutcome] = field(default_factory=list)  # the thread outcomes written
    load: LoadStats = field(default_factory=LoadStats)
    failed_for_good: list[str] = field(default_factory=list)
    isolated: list[ThreadOutcome] = field(default_factory=list)  # could not be stored: kept as load_error
    enqueued_new: int = 0
    taken: list[QueuedUrl] = field(default_factory=list)
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    pending: int | None = None  # queued URLs left on the site (when a take was asked)
    held_by: int | None = None  # nothing was written: this process (a reader) has the file; the batch is held
    held: bool = False
    spool: WriteResult | None = None  # written first, from the spool (threads held earlier, by this run or another)

    def add(self, other: WriteResult) -> None:
        """Count ``other`` (written after this) in this result."""
        self.outcomes.extend(other.outcomes)
        self.load.add(other.load)
        self.failed_for_good.extend(other.failed_for_good)
        self.isolated.extend(other.isolated)
        self.enqueued_new += other.enqueued_new


def _write_rest(con: duckdb.DuckDBPyConnection, batch: Batch, site: str | None, result: WriteResult) -> None:
    """Everything of a batch but its thread outcomes."""
    pagestore.store_pages(con, batch.pages)
    if batch.discovered:
        assert site is not None
        result.enqueued_new += frontier.enqueue(con, site, batch.discovered).new
    for w in batch.walks:
        assert site is not None
        frontier.record_walk(con, site, w.kind, w.value, w.since, w.until, started_at=w.started_at, pages=w.pages,
                             stopped_early=w.stopped_early, now=datetime.now(timezone.utc))
    for r in batch.runs:
        summary = dict(r.summary)
        if site is not None:
            summary["queued_left"] = result.pending = frontier.pending(con, site)
        con.execute("UPDATE sync_runs SET finished_at = ?, outcome = ?, summary = ? WHERE run_id = ?",
                    [r.finished_at, r.outcome, json.dumps(summary), r.run_id])


def _take(con: duckdb.DuckDBPyConnection, take: Take, result: WriteResult) -> None:
    result.taken = frontier.take(con, take.site, take.n, exclude=take.exclude, known_only=take.known_only)
    result.validators = pagestore.conditional_headers_many(con, [q.url for q in result.taken])
    result.pending = frontier.pending(con, take.site)


# ============================================================================ memory


def twice(limit: str) -> str:
    """A DuckDB memory limit doubled: ``"48MB"`` -> ``"96MB"`` (a limit in another form is returned as it is)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", limit)
    if not m:
        return limit
    number = float(m.group(1)) * 2
    return f"{int(number) if number.is_integer() else number}{m.group(2)}"


def out_of_memory(exc: BaseException | None) -> bool:
    """Whether DuckDB ran out of memory somewhere in this exception's chain (clean-up errors can mask it)."""
    while exc is not None:
        if isinstance(exc, duckdb.OutOfMemoryException):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


_LIBC: Any = None  # glibc when present (for malloc_trim), False elsewhere


def trim_heap(collect: bool = True) -> None:
    """Hand freed heap pages back to the system (glibc only; a no-op elsewhere), after a garbage collection."""
    global _LIBC
    if collect:
        gc.collect()
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 (raises AttributeError off glibc)
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


# glibc serves a request this large or larger with its own mapping, which goes back to the
# system when freed.  Left to itself, glibc raises that threshold to the size of each large
# block freed (up to 32 MB), and from then on serves DuckDB's 256 KB buffers from its heaps,
# where what a batch frees stays among live allocations and cannot be handed back: a sync's
# floor rose about 10 MB over 20,000 threads (in-process, 182 -> 193 MB between jobs; batches
# 211 -> 235 MB).  With the threshold fixed, batches peaked at 207-227 MB through the run.
MMAP_THRESHOLD = 256 * 1024


def sync_malloc_policy(arenas: int = 2) -> None:
    """For a process that syncs (the command line): glibc malloc set so that freed memory goes back (a no-op elsewhere).

    * At most ``arenas`` arenas.  glibc gives each thread that allocates (the
      parse thread, the database thread, DuckDB's workers) an arena of its own,
      up to eight per core, and memory freed in one is kept for that arena's
      later use: tens of MB held for nothing by a sync.
    * A fixed mmap threshold (``MMAP_THRESHOLD``, see there), so DuckDB's
      buffers are mapped and unmapped rather than left in the heaps.

    Must run before those threads start.
    """
    trim_heap(collect=False)  # (finds glibc)
    if _LIBC:
        _LIBC.mallopt(-8, arenas)  # M_ARENA_MAX
        _LIBC.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD (setting it turns the dynamic raise off)


# ============================================================================ the writer


WAIT_SECONDS = 10.0  # how long a writer that does not hold its work waits for the file (import, reparse)
TRY_SECONDS = 1.0  # how long each attempt of a holding writer (a sync's) waits for the file
POLL_SECONDS = 0.5  # between attempts of a job that must reach the database
HOLD_THREADS = 50  # threads held in memory while the file is held (two batches); more go to the spool
HOLD_BYTES = 32 * 1024 * 1024  # ... or this much memory (pages as fetched and their rows, roughly)


@dataclass(slots=True)
class Hold:
    """How a writer holds its work while another process has the file open.

    A sync's writer holds: a batch that finds the file held stays in memory
    (up to ``memory_threads`` threads or ``memory_bytes``), and past that goes to
    the spool (``corpus.spool``, one file per batch), until a later attempt
    finds the file free.  Without a ``Hold`` (import, reparse) a writer waits
    ``WAIT_SECONDS`` for the file and then raises ``DatabaseLocked``.
    """

    run_id: str
    try_seconds: float = TRY_SECONDS
    memory_threads: int = HOLD_THREADS
    memory_bytes: int = HOLD_BYTES


class Writer:
    """The database thread of one run, and the buffers waiting for it.

    ``add`` / ``discover`` / ``keep_pages`` / ``finish_walk`` / ``finish_run``
    fill the buffers (from one thread: the caller's, or the event loop).
    ``write`` (or ``write_async``) hands them to the database thread as one
    batch, and puts them back if the batch could not be written.  ``call`` runs
    any other job on the same thread, in one transaction.  DuckDB's memory is
    capped while a batch is written; a batch that needs more is written again
    uncapped.

    Before anything else, each time it opens the file, the writer writes
    what waits in the spool beside the database (``corpus.spool``): threads
    held by an earlier run, or by this one while a reader had the file.
    ``after_write(con, result)``, when given, runs inside each batch's
    transaction once the batch is written.
    """

    def __init__(self, db_path: str | Path, *, site: str | None = None, memory_limit: str | None = None,
                 hold: Hold | None = None,
                 after_write: Callable[[duckdb.DuckDBPyConnection, WriteResult], None] | None = None):
        self.db_path = Path(db_path)
        self.site = site
        self.memory_limit = memory_limit
        self.hold = hold
        self.after_write = after_write
        self.pending = Batch()
        self.last_write = time.monotonic()
        self.spool = Spool(self.db_path)
        self.held_by: int | None = None  # the process that had the file at the last attempt, while held
        self.held_since: float | None = None  # since when attempts find the file held (monotonic)
        self.spooled = 0  # threads this writer put in the spool and has not written yet
        self.merged_since: datetime | None = None  # earliest fetch of the threads written from an earlier run's spool
        self._from_spool = WriteResult()  # written from the spool, not reported yet
        self._merging = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="corpus-db")
        self._lock: asyncio.Lock | None = None

    # ------------------------------------------------------------------ buffers

    def add(self, outcome: ThreadOutcome) -> None:
        self.pending.outcomes.append(outcome)

    def discover(self, items: list[FrontierItem]) -> None:
        self.pending.discovered.extend(items)

    def keep_pages(self, pages: list[StoredPage]) -> None:
        self.pending.pages.extend(pages)

    def finish_walk(self, walk: FinishedWalk) -> None:
        self.pending.walks.append(walk)

    def finish_run(self, run: FinishedRun) -> None:
        self.pending.runs.append(run)

    @property
    def held(self) -> bool:
        """Whether the last attempt to open the file found it held by another process."""
        return self.held_since is not None

    def held_for(self) -> float:
        return time.monotonic() - self.held_since if self.held_since is not None else 0.0

    # ------------------------------------------------------------------ the database thread

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.hold is None:
            return db.connect_when_free(self.db_path, wait_seconds=WAIT_SECONDS)
        # readers may come and go all the time: try often, to catch the moments the file is free
        return db.connect_when_free(self.db_path, wait_seconds=self.hold.try_seconds, max_interval=0.05)

    @contextlib.contextmanager
    def transaction(self, cap: str | None = None, *, plain: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The database, opened for one transaction (committed, or rolled back on error) and closed.

        ``plain=True`` gives the open connection without a transaction, for jobs
        that manage their own statements (the derived-table rebuild).  The only
        place a run opens the file for writing.  Raises ``DatabaseLocked`` when
        another process keeps the file (after ``WAIT_SECONDS``, or a holding
        writer's ``try_seconds``).
        """
        con = self._connect()
        if plain:
            try:
                yield con
            finally:
                con.close()
            return
        with db.transaction_on(con, memory_limit=cap) as con:
            yield con

    @contextlib.contextmanager
    def transaction_when_free(self, wait: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """:meth:`transaction`, tried again for up to ``wait`` seconds while another process has the file.

        For a step that opens the file itself (the attachments); the spool is
        written first.  Raises ``HeldByReader`` when the file stays held.
        """
        started = time.monotonic()
        while True:
            try:
                self._thread.submit(self._merge_spool).result()
                con = self._connect()
                break
            except DatabaseLocked as exc:
                self._wait_on(exc, started, wait)
                time.sleep(POLL_SECONDS)
        self._note_free()
        with db.transaction_on(con) as con:
            yield con

    def _capped(self, fn: Callable[..., T], *args: Any, plain: bool = False, memory_limit: str | None = None) -> T:
        cap = memory_limit or self.memory_limit
        try:
            # the cap, then twice the cap, then none: a job a little over its cap does not run with DuckDB free
            # to keep every block it reads
            for attempt in (dict.fromkeys([cap, twice(cap)]) if cap and not plain else []):
                try:
                    with self.transaction(attempt) as con:
                        return fn(con, *args)
                except duckdb.Error as exc:
                    if not out_of_memory(exc):
                        raise
            with self.transaction(plain=plain) as con:
                return fn(con, *args)
        finally:
            trim_heap(collect=False)  # DuckDB freed its buffers on close: give the pages back

    def _job(self, fn: Callable[..., T], *args: Any, plain: bool = False, memory_limit: str | None = None) -> T:
        self._merge_spool()
        return self._capped(fn, *args, plain=plain, memory_limit=memory_limit)

    def submit(self, fn: Callable[..., T], *args: Any, plain: bool = False,
               memory_limit: str | None = None) -> Future[T]:
        """Run ``fn(con, *args)`` on the database thread, in one transaction (``plain``: none).

        DuckDB's memory is capped at ``memory_limit`` (default: the writer's);
        a job that needs more is rolled back and run again under twice the cap,
        then uncapped.  The spool
        is written first.
        """
        return self._thread.submit(self._job, fn, *args, plain=plain, memory_limit=memory_limit)

    def call(self, fn: Callable[..., T], *args: Any, plain: bool = False, wait: float | None = 0.0) -> T:
        """:meth:`submit` and wait for the answer.

        A holding writer that finds the file held tries again every
        ``POLL_SECONDS`` for up to ``wait`` seconds (None: until it is free)
        and then raises ``HeldByReader``; any other writer raises
        ``DatabaseLocked`` after ``WAIT_SECONDS``.
        """
        started = time.monotonic()
        while True:
            try:
                result = self.submit(fn, *args, plain=plain).result()
            except DatabaseLocked as exc:
                self._wait_on(exc, started, wait)
                time.sleep(POLL_SECONDS)
                continue
            self._note_free()
            return result

    async def call_async(self, fn: Callable[..., T], *args: Any, memory_limit: str | None = None,
                         plain: bool = False, wait: float | None = 0.0) -> T:
        """:meth:`call` for the event loop (the waits between attempts let the loop run)."""
        started = time.monotonic()
        while True:
            try:
                result = await asyncio.wrap_future(self.submit(fn, *args, plain=plain, memory_limit=memory_limit))
            except DatabaseLocked as exc:
                self._wait_on(exc, started, wait)
                await asyncio.sleep(POLL_SECONDS)
                continue
            self._note_free()
            return result

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    # ------------------------------------------------------------------ held files

    def _wait_on(self, exc: DatabaseLocked, started: float, wait: float | None) -> None:
        """A job found the file held: return to try again, or raise (no hold, or waited ``wait`` seconds)."""
        if self.hold is None or isinstance(exc, HeldByReader):
            raise exc
        self._note_held(exc)
        if wait is not None and time.monotonic() - started >= wait:
            raise self._gave_up(exc, time.monotonic() - started) from None

    def _note_held(self, exc: DatabaseLocked) -> None:
        if self.held_since is None:
            self.held_since = time.monotonic()
        self.held_by = exc.pid

    def _note_free(self) -> None:
        self.held_since = None
        self.held_by = None

    def gave_up(self, since: float) -> HeldByReader:
        """The error for a caller that waited since ``since`` (monotonic) while the file stayed held."""
        return self._gave_up(DatabaseLocked("held", pid=self.held_by), time.monotonic() - since)

    def _gave_up(self, exc: DatabaseLocked, waited: float) -> HeldByReader:
        who = f"process {exc.pid}" if exc.pid else "another process"
        return HeldByReader(f"{self.db_path.name} stayed open in {who} for {waited:.0f} s", pid=exc.pid,
                            waited=waited)

    def over_memory_bound(self) -> bool:
        """Whether what is held in memory is past the hold's bound (and should go to the spool)."""
        if self.hold is None:
            return False
        return len(self.pending.outcomes) > self.hold.memory_threads \
            or self.pending.held_bytes() > self.hold.memory_bytes

    def _spool_batch(self, batch: Batch) -> None:
        assert self.hold is not None
        self.spool.write(batch, run_id=self.hold.run_id, site=self.site)

    def spool_pending(self) -> int:
        """Keep everything in hand in a new spool file (blocking); returns how many threads went there."""
        batch = self._swap()
        if not batch:
            return 0
        try:
            self._thread.submit(self._spool_batch, batch).result()
        except BaseException:
            self.pending.put_back(batch)
            raise
        self.spooled += len(batch.outcomes)
        return len(batch.outcomes)

    async def spool_pending_async(self) -> int:
        """:meth:`spool_pending` for the event loop."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            batch = self._swap()
            if not batch:
                return 0
            try:
                await asyncio.wrap_future(self._thread.submit(self._spool_batch, batch))
            except BaseException:
                self.pending.put_back(batch)
                raise
            self.spooled += len(batch.outcomes)
            return len(batch.outcomes)

    def _merge_spool(self) -> None:
        """Database thread: write every spool file, oldest first, one transaction each, before anything else."""
        if self._merging:
            return
        files = self.spool.files()
        if not files:
            return
        self._merging = True
        try:
            for path in files:
                spooled = self.spool.read(path)
                own = self.hold is not None and spooled.run_id == self.hold.run_id
                if not own:
                    self._capped(self._check_spool, spooled)
                result = self._write_batch(spooled.batch, None, site=spooled.site or self.site)
                self.spool.remove(path)
                self._from_spool.add(result)
                if own:
                    self.spooled = max(0, self.spooled - spooled.threads)
                else:
                    fetched = [p.fetched_at for o in spooled.batch.outcomes for p in o.pages[:1] if p.fetched_at]
                    fetched += [r.rebuild_since for r in spooled.batch.runs if r.rebuild_since is not None]
                    if fetched:
                        first = min(fetched)
                        self.merged_since = first if self.merged_since is None else min(self.merged_since, first)
        finally:
            self._merging = False

    def _check_spool(self, con: duckdb.DuckDBPyConnection, spooled: SpoolFile) -> None:
        known = con.execute("SELECT count(*) FROM sync_runs WHERE run_id = ?", [spooled.run_id]).fetchall()[0][0]
        if not known:
            raise SpoolRefused(refused_message(spooled, self.db_path, self.spool.threads()))

    def take_spool_result(self) -> WriteResult | None:
        """What was written from the spool and not reported yet (by a ``call``), or None."""
        done, self._from_spool = self._from_spool, WriteResult()
        return done if done.outcomes or done.enqueued_new else None

    # ------------------------------------------------------------------ batches

    def _write_batch(self, batch: Batch, take: Take | None, site: str | None = None) -> WriteResult:
        """Database thread: write ``batch`` in one transaction; thread by thread if that fails."""
        site = site or self.site

        def whole(con: duckdb.DuckDBPyConnection) -> WriteResult:
            result = WriteResult(outcomes=batch.outcomes)
            _write_rest(con, batch, site, result)
            result.load, result.failed_for_good = write_outcomes(con, batch.outcomes)
            if take is not None:
                _take(con, take, result)
            if self.after_write is not None:
                self.after_write(con, result)
            return result

        try:
            return self._capped(whole)
        except CorpusError:
            raise  # the file cannot be opened: nothing to isolate
        except Exception as exc:
            if not batch.outcomes:
                raise
            first_error = exc
        return self._write_one_by_one(batch, take, site, first_error)

    def _write_one_by_one(self, batch: Batch, take: Take | None, site: str | None,
                          first_error: Exception) -> WriteResult:
        result = WriteResult(outcomes=batch.outcomes)
        try:
            self._capped(_write_rest, Batch(discovered=batch.discovered, pages=batch.pages, walks=batch.walks,
                                            runs=batch.runs), site, result)
        except Exception:
            raise first_error from None  # not a thread's fault
        for outcome in batch.outcomes:
            try:
                stats, gone = self._capped(write_outcomes, [outcome])
            except CorpusError:
                raise
            except Exception as exc:
                kept = outcome.as_load_error(exc)
                stats, gone = self._capped(write_outcomes, [kept])
                result.isolated.append(kept)
            result.load.add(stats)
            result.failed_for_good.extend(gone)
        if take is not None:
            self._capped(_take, take, result)
        return result

    def _write(self, batch: Batch, take: Take | None) -> WriteResult:
        """Database thread: the spool first, then ``batch``."""
        self._merge_spool()
        result = self._write_batch(batch, take)
        result.spool = self.take_spool_result()
        return result

    def _swap(self) -> Batch:
        batch, self.pending = self.pending, Batch()
        return batch

    def _not_written(self, batch: Batch, exc: BaseException) -> WriteResult:
        """``batch`` could not be written: put it back; a holding writer holds it, any other raises."""
        self.pending.put_back(batch)  # not written: a later write (or the next run) has it
        if self.hold is None or not isinstance(exc, DatabaseLocked) or isinstance(exc, HeldByReader):
            raise exc
        self._note_held(exc)
        return WriteResult(held=True, held_by=exc.pid)

    def write(self, take: Take | None = None) -> WriteResult:
        """Write everything in hand as one batch (blocking); optionally take queued URLs in the same transaction.

        A holding writer that finds the file held returns a result with
        ``held`` set and keeps the batch (past its memory bound, in the spool).
        """
        batch = self._swap()
        if not batch and take is None and not self.spool.files():
            return WriteResult()
        try:
            result = self._thread.submit(self._write, batch, take).result()
        except BaseException as exc:
            result = self._not_written(batch, exc)
            if self.over_memory_bound():
                self.spool_pending()
            return result
        self._note_free()
        self.last_write = time.monotonic()
        return result

    async def write_async(self, take: Take | None = None) -> WriteResult:
        """:meth:`write` for the event loop: batches are written one at a time, in order."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            batch = self._swap()
            if not batch and take is None and not self.spool.files():
                return WriteResult()
            try:
                result = await asyncio.wrap_future(self._thread.submit(self._write, batch, take))
            except BaseException as exc:
                result = self._not_written(batch, exc)
            else:
                self._note_free()
                self.last_write = time.monotonic()
                return result
        if self.over_memory_bound():
            await self.spool_pending_async()
        return result
