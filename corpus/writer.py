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
URLs, listing pages, finished listing walks) live here.  Nothing else opens
the database for writing while a writer runs, so this is the one place that
decides what happens when the file cannot be opened.

A batch is written in one transaction.  When it fails, it is written again
thread by thread, so a thread the loader cannot store costs only itself: it
is kept as a ``load_error`` parse failure with its pages, and the frontier
moves past it, so a rerun never stops at the same place.

When another process holds the file, :meth:`Writer.transaction` raises
``DatabaseLocked`` (after ``corpus.db``'s bounded wait) and the batch goes back
into the buffers, in memory.  That is the one seam where holding outcomes
longer (in memory, then in a spool beside the database) would go: nothing
else in a run opens the file for writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from corpus import db, frontier, pagestore
from corpus.errors import CorpusError
from corpus.frontier import FrontierItem, QueuedUrl
from corpus.load import LoadStats, load_threads, mark_removed
from corpus.pagestore import StoredPage
from corpus.pipeline import Failure, ThreadOutcome
from corpus.staging import arrow_rows, arrow_schema, registered

BATCH_MEMORY_LIMIT = "64MB"  # DuckDB's cap while a batch is written (and checkpointed on close)

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
class Batch:
    """What waits to be written."""

    outcomes: list[ThreadOutcome] = field(default_factory=list)
    discovered: list[FrontierItem] = field(default_factory=list)
    pages: list[StoredPage] = field(default_factory=list)  # listing pages and the like
    walks: list[FinishedWalk] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.outcomes or self.discovered or self.pages or self.walks)

    def put_back(self, other: Batch) -> None:
        """Put ``other`` (not written) back in front of what arrived since."""
        self.outcomes[:0] = other.outcomes
        self.discovered[:0] = other.discovered
        self.pages[:0] = other.pages
        self.walks[:0] = other.walks


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


def _take(con: duckdb.DuckDBPyConnection, take: Take, result: WriteResult) -> None:
    result.taken = frontier.take(con, take.site, take.n, exclude=take.exclude, known_only=take.known_only)
    result.validators = pagestore.conditional_headers_many(con, [q.url for q in result.taken])
    result.pending = frontier.pending(con, take.site)


# ============================================================================ memory


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


# ============================================================================ the writer


class Writer:
    """The database thread of one run, and the buffers waiting for it.

    ``add`` / ``discover`` / ``keep_pages`` / ``finish_walk`` fill the buffers
    (from one thread: the caller's, or the event loop).  ``write`` (or
    ``write_async``) hands them to the database thread as one batch, and puts
    them back if the batch could not be written.  ``call`` runs any other job
    on the same thread, in one transaction.  DuckDB's memory is capped while a
    batch is written; a batch that needs more is written again uncapped.
    """

    def __init__(self, db_path: str | Path, *, site: str | None = None, memory_limit: str | None = None):
        self.db_path = Path(db_path)
        self.site = site
        self.memory_limit = memory_limit
        self.pending = Batch()
        self.last_write = time.monotonic()
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

    # ------------------------------------------------------------------ the database thread

    @contextlib.contextmanager
    def transaction(self, cap: str | None = None, *, plain: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The database, opened for one transaction (committed, or rolled back on error) and closed.

        ``plain=True`` gives the open connection without a transaction, for jobs
        that manage their own statements (the derived-table rebuild).  The only
        place a run opens the file for writing.
        """
        if plain:
            con = db.connect_when_free(self.db_path)
            try:
                yield con
            finally:
                con.close()
            return
        with db.batch(self.db_path) as con:
            if cap:
                con.execute(f"SET memory_limit = '{cap}'")
            yield con

    def _capped(self, fn: Callable[..., T], *args: Any, plain: bool = False, memory_limit: str | None = None) -> T:
        cap = memory_limit or self.memory_limit
        try:
            if cap and not plain:
                try:
                    with self.transaction(cap) as con:
                        return fn(con, *args)
                except duckdb.Error as exc:
                    if not out_of_memory(exc):
                        raise
            with self.transaction(plain=plain) as con:
                return fn(con, *args)
        finally:
            trim_heap(collect=False)  # DuckDB freed its buffers on close: give the pages back

    def submit(self, fn: Callable[..., T], *args: Any, plain: bool = False,
               memory_limit: str | None = None) -> Future[T]:
        """Run ``fn(con, *args)`` on the database thread, in one transaction (``plain``: none).

        DuckDB's memory is capped at ``memory_limit`` (default: the writer's);
        a job that needs more is rolled back and run again uncapped.
        """
        return self._thread.submit(self._capped, fn, *args, plain=plain, memory_limit=memory_limit)

    def call(self, fn: Callable[..., T], *args: Any, plain: bool = False) -> T:
        return self.submit(fn, *args, plain=plain).result()

    async def call_async(self, fn: Callable[..., T], *args: Any, memory_limit: str | None = None) -> T:
        return await asyncio.wrap_future(self.submit(fn, *args, memory_limit=memory_limit))

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    # ------------------------------------------------------------------ batches

    def _write(self, batch: Batch, take: Take | None) -> WriteResult:
        """Database thread: write ``batch`` in one transaction; thread by thread if that fails."""
        def whole(con: duckdb.DuckDBPyConnection) -> WriteResult:
            result = WriteResult(outcomes=batch.outcomes)
            _write_rest(con, batch, self.site, result)
            result.load, result.failed_for_good = write_outcomes(con, batch.outcomes)
            if take is not None:
                _take(con, take, result)
            return result

        try:
            return self._capped(whole)
        except CorpusError:
            raise  # the file cannot be opened: nothing to isolate
        except Exception as exc:
            if not batch.outcomes:
                raise
            first_error = exc
        return self._write_one_by_one(batch, take, first_error)

    def _write_one_by_one(self, batch: Batch, take: Take | None, first_error: Exception) -> WriteResult:
        result = WriteResult(outcomes=batch.outcomes)
        try:
            self._capped(_write_rest, Batch(discovered=batch.discovered, pages=batch.pages, walks=batch.walks),
                         self.site, result)
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

    def _swap(self) -> Batch:
        batch, self.pending = self.pending, Batch()
        return batch

    def write(self, take: Take | None = None) -> WriteResult:
        """Write everything in hand as one batch (blocking); optionally take queued URLs in the same transaction."""
        batch = self._swap()
        if not batch and take is None:
            return WriteResult()
        try:
            result = self._thread.submit(self._write, batch, take).result()
        except BaseException:
            self.pending.put_back(batch)  # not written: a later write (or the next run) has it
            raise
        self.last_write = time.monotonic()
        return result

    async def write_async(self, take: Take | None = None) -> WriteResult:
        """:meth:`write` for the event loop: batches are written one at a time, in order."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            batch = self._swap()
            if not batch and take is None:
                return WriteResult()
            try:
                result = await asyncio.wrap_future(self._thread.submit(self._write, batch, take))
            except BaseException:
                self.pending.put_back(batch)
                raise
            self.last_write = time.monotonic()
            return result
