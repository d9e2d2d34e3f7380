"""``corpus reparse``: rebuild the core tables from the stored raw pages with the current parser; no network.

Stored request pages go through the same parser and loading rules as a sync
or an import (``corpus.pipeline``, ``corpus.load``); they differ only in where
the pages come from, and in that a reparse writes everything at once:

1. the stored pages are read a chunk at a time, in the order they are stored
   (a range of ``rowid``\\ s, with the JSON beside each page), and handed to a
   process pool;
2. each worker parses its chunk and stages its rows (``corpus.reparse_worker``):
   one Arrow table per core table, keyed as the pages alone say;
3. the tables are appended to a staging file beside the database
   (``<db>.reparse-staging``), so the database itself is not written while
   pages are parsed: readers can open it at any time until the last step;
4. one transaction merges the staging file into the core tables
   (``corpus.load.merge_staged``: keys resolved, the latest row kept per key,
   one upsert per table, or with ``fresh`` the tables emptied and the rows
   inserted) and records the pages that failed in ``parse_failures``;
5. the derived tables are rebuilt (``corpus.derive.rebuild``).

Killed before step 4, a reparse leaves the database as it was (the next run
starts the staging file again).  Pages read back from the store never change
what only the live site can say: ``requests.removed`` and the frontier.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from corpus.attachments.reextract import reextract_all
from corpus.db import SyncLock, connect, table_exists
from corpus.derive import rebuild
from corpus.errors import CorpusError
from corpus.load import LoadStats, merge_staged, staged_layout
from corpus.pipeline import StoredRow
from corpus.progress import ProgressFn
from corpus.reparse_worker import StagedChunk, stage_chunk
from corpus.staging import arrow_schema
from corpus.writer import Writer, trim_heap

REPARSE_STAGE = "reparse"  # the stage name given to ``progress``
REQUEST_PAGE_KINDS = ("request_html", "imported_html")
JSON_PAGE_KINDS = ("request_json", "imported_json")
CORE_TABLES = ("events", "attachments", "annotations", "messages", "requests", "users", "authorities")
STAGING_SUFFIX = ".reparse-staging"
# A page's JSON is stored in the same write as the page: look for it this many rows either side first.
_COMPANION_WINDOW = 4096
# Chunks handed to the pool and not yet written, per worker: memory holds at most about
# (_IN_FLIGHT * workers + 1) * batch_size pages, whatever the size of the store.
_IN_FLIGHT = 2

_PAGE_RESULTS = """CREATE TABLE page_results (
    url VARCHAR, site VARCHAR, kind VARCHAR, failure_kind VARCHAR, message VARCHAR, page_sha256 VARCHAR)"""
_PAGE_RESULT_COLUMNS = ("url", "site", "kind", "failure_kind", "message", "page_sha256")
_PAGE_RESULTS_SCHEMA = pa.schema([(name, pa.string()) for name in _PAGE_RESULT_COLUMNS])
_FAILURES = arrow_schema("parse_failures")


@dataclass(slots=True)
class ReparseStats:
    pages: int = 0  # stored request pages read
    threads: int = 0  # parsed and loaded
    failures: int = 0  # recorded in parse_failures
    bad_json: int = 0  # loaded from the HTML alone: the stored JSON could not be used
    skipped: int = 0  # no body, or an HTTP status that is not a page
    seconds: float = 0.0
    derived: bool = False  # corpus.derive.rebuild ran
    attachments: str | None = None  # what re-extraction from kept files did
    load: LoadStats = field(default_factory=LoadStats)
    # Seconds per stage: "parse" is the CPU time of parsing and staging in the
    # workers (they overlap with reading and staging), "workers" the pool
    # processes' whole CPU time (starting, receiving pages, returning rows
    # included), the rest wall time in this process, in order.
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    def split(self) -> dict[str, float]:
        """Wall seconds by stage, in the order they run: parse (reading the store, waiting for the
        workers, staging their rows), load, attachments, timeline (calendar included), citations,
        search index, and other (whatever the run spent outside those)."""
        st = self.stages
        out = {
            "parse": st.get("read pages", 0.0) + st.get("wait for parsing", 0.0) + st.get("stage", 0.0),
            "load": st.get("load", 0.0),
            "attachments": st.get("attachments", 0.0),
            "timeline": st.get("calendar", 0.0) + st.get("timeline", 0.0),
            "citations": st.get("citations", 0.0),
            "search index": st.get("search index", 0.0),
        }
        out["other"] = max(self.seconds - sum(out.values()), 0.0)
        return out

    def describe(self) -> str:
        lines = [
            f"Re-parsed {self.pages} stored request pages in {self.seconds:.1f} s "
            f"({self.pages_per_second:.0f} pages/s): {self.threads} threads loaded, "
            f"{self.failures} parse failures, {self.skipped} skipped.",
            f"Tables: {self.load.describe()}.",
        ]
        if self.bad_json:
            lines.append(f"{self.bad_json} threads were loaded from their HTML alone: their stored JSON could not "
                         "be read (see the log).")
        if self.failures:
            lines.append("See `corpus status` for the parse failures.")
        if self.attachments:
            lines.append(self.attachments)
        if self.derived:
            lines.append("Derived tables rebuilt.")
        if self.stages:
            workers = self.stages.get("workers")
            lines.append("Time by stage: " + ", ".join(
                f"{name} {seconds:.1f} s" + (f" (the workers' CPU {workers:.1f} s)" if name == "parse" and workers else "")
                for name, seconds in self.split().items()) + ".")
        return "\n".join(lines)


def staging_path(db_path: str | Path) -> Path:
    """The file a reparse stages its rows in, beside the database (removed when the reparse ends)."""
    return Path(str(db_path) + STAGING_SUFFIX)


# ============================================================================ reading the store


def _chunk_bounds(con: duckdb.DuckDBPyConnection, size: int) -> tuple[int, list[tuple[int, int]]]:
    """(request pages, rowid ranges holding ``size`` request pages each, in store order)."""
    starts = [int(r[0]) for r in con.execute(
        """SELECT rowid FROM (SELECT rowid, row_number() OVER (ORDER BY rowid) - 1 AS i
                              FROM pages WHERE kind IN (SELECT unnest(?::VARCHAR[])))
           WHERE i % ? = 0 ORDER BY rowid""",
        [list(REQUEST_PAGE_KINDS), size],
    ).fetchall()]
    if not starts:
        return 0, []
    n, hi = con.execute("SELECT count(*), max(rowid) FROM pages WHERE kind IN (SELECT unnest(?::VARCHAR[]))",
                        [list(REQUEST_PAGE_KINDS)]).fetchall()[0]
    ends = starts[1:] + [int(hi) + 1]
    return int(n), list(zip(starts, ends))


def read_chunk(con: duckdb.DuckDBPyConnection, lo: int, hi: int) -> tuple[list[StoredRow], list[tuple]]:
    """The request pages stored at rowids ``lo`` to ``hi - 1``, each with its JSON companion, in store order.

    Returns the rows (as ``corpus.pipeline.stored_outcome`` takes them) and each
    row's order (fetch time, rowid).  Companions are looked for near the page
    first (they are stored together), then by URL.
    """
    kinds, json_kinds = list(REQUEST_PAGE_KINDS), list(JSON_PAGE_KINDS)
    pages = con.execute(
        """SELECT url, site, kind, status, encoding, body, fetched_at, sha256, companion_url, rowid
           FROM pages WHERE rowid >= ? AND rowid < ? AND kind IN (SELECT unnest(?::VARCHAR[])) ORDER BY rowid""",
        [lo, hi, kinds],
    ).fetchall()
    wanted = {p[8] for p in pages if p[8] is not None}
    companions: dict[str, tuple] = {}
    if wanted:
        for url, status, enc, body in con.execute(
            """SELECT url, status, encoding, body FROM pages
               WHERE rowid >= ? AND rowid < ? AND kind IN (SELECT unnest(?::VARCHAR[]))
                 AND url IN (SELECT unnest(?::VARCHAR[]))""",
            [lo - _COMPANION_WINDOW, hi + _COMPANION_WINDOW, json_kinds, sorted(wanted)],
        ).fetchall():
            companions[url] = (url, status, enc, body)
        missing = sorted(wanted - companions.keys())
        if missing:
            for url, status, enc, body in con.execute(
                "SELECT url, status, encoding, body FROM pages WHERE url IN (SELECT unnest(?::VARCHAR[]))", [missing],
            ).fetchall():
                companions[url] = (url, status, enc, body)
    rows: list[StoredRow] = []
    order: list[tuple] = []
    for url, site, kind, status, enc, body, fetched_at, sha, companion, rowid in pages:
        j = companions.get(companion) if companion is not None else None
        rows.append((url, site, kind, status, enc, body, fetched_at, sha, *(j or (None, None, None, None))))
        order.append((fetched_at, rowid))
    return rows, order


def read_page_rows(con: duckdb.DuckDBPyConnection, urls: list[str]) -> list[StoredRow]:
    """Stored request pages with their JSON companions, by URL, as rows for ``corpus.pipeline.stored_outcome``."""
    return con.execute(
        "SELECT p.url, p.site, p.kind, p.status, p.encoding, p.body, p.fetched_at, p.sha256, "
        "       j.url, j.status, j.encoding, j.body "
        "FROM pages p LEFT JOIN pages j ON j.url = p.companion_url "
        "WHERE p.url IN (SELECT unnest(?::VARCHAR[])) ORDER BY p.url",
        [urls],
    ).fetchall()


# ============================================================================ the staging file


class _Staging:
    """The staging file: one table per core table (its columns, then the order) and the fate of each page."""

    def __init__(self, path: Path):
        self.path = path
        _remove_file(path)
        self.con = duckdb.connect(str(path))
        self.con.execute("SET preserve_insertion_order = false")
        for table in CORE_TABLES:
            layout = staged_layout(table)
            self.con.register("_layout", layout.empty_table())
            self.con.execute(f"CREATE TABLE {table} AS SELECT * FROM _layout")
            self.con.unregister("_layout")
        self.con.execute(_PAGE_RESULTS)

    def append(self, chunk: StagedChunk) -> None:
        for table, rows in chunk.tables.items():
            if rows.num_rows:
                self.con.register("_chunk", rows)
                self.con.execute(f"INSERT INTO {table} SELECT * FROM _chunk")
                self.con.unregister("_chunk")
        if chunk.pages:
            results = pa.table({name: [getattr(p, name) for p in chunk.pages] for name in _PAGE_RESULT_COLUMNS},
                               schema=_PAGE_RESULTS_SCHEMA)
            self.con.register("_chunk", results)
            self.con.execute("INSERT INTO page_results SELECT * FROM _chunk")
            self.con.unregister("_chunk")

    def close(self) -> None:
        self.con.execute("CHECKPOINT")
        self.con.close()


def _remove_file(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)


def _merge(con: duckdb.DuckDBPyConnection, staging: Path, fresh: bool) -> LoadStats:
    """Write the staging file into the core tables and ``parse_failures``, in one transaction."""
    quoted = str(staging).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS reparse_staging (READ_ONLY)")
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            stats = merge_staged(con, "reparse_staging", fresh=fresh)
            con.execute("DELETE FROM parse_failures WHERE url IN "
                        "(SELECT url FROM reparse_staging.page_results WHERE kind = 'loaded')")
            con.execute(
                f"""INSERT OR REPLACE INTO parse_failures ({', '.join(_FAILURES.names)})
                    SELECT url, site, failure_kind, message, page_sha256, ?::TIMESTAMPTZ
                    FROM reparse_staging.page_results WHERE kind = 'parse_failed'""",
                [datetime.now(timezone.utc)],
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.execute("DETACH reparse_staging")
    return stats


def _reextract_attachments(con: duckdb.DuckDBPyConnection, db_path: Path) -> str | None:
    """Redo attachment text from the files kept beside the database, if any were kept."""
    if not table_exists(con, "attachment_texts") or not con.execute(
        "SELECT count(*) FROM attachment_texts WHERE stored_path IS NOT NULL"
    ).fetchall()[0][0]:
        return None
    return reextract_all(con, db_path).describe()


# ============================================================================ the run


def _count(chunk: StagedChunk, stats: ReparseStats, on_bad_json: Callable[[str, str], None] | None) -> None:
    for page in chunk.pages:
        if page.kind == "skipped":
            stats.skipped += 1
        elif page.kind == "loaded":
            stats.threads += 1
            if page.json_problem:
                stats.bad_json += 1
                if on_bad_json is not None:
                    on_bad_json(page.url, page.json_problem)
        else:
            stats.failures += 1


def reparse(
    db_path: str | Path,
    *,
    fresh: bool = False,
    batch_size: int = 500,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    derive: bool = True,
    on_bad_json: Callable[[str, str], None] | None = None,
) -> ReparseStats:
    """Rebuild the core tables from the stored raw pages with the current parser; no network.

    Loads with the same rules as a sync, so history the pages no longer show
    (bodies of messages hidden later, messages gone from the page, ``first_seen``)
    is kept.  ``fresh=True`` empties the core tables first: the result is then
    exactly what the stored pages say, and that history is lost.  Either way
    the core tables change in one transaction at the end.

    Holds the sync lock for the whole run; the database is opened for each
    chunk read and for the final merge, so readers can open it in between.
    Parsing runs in a process pool of ``workers`` (default: all CPUs), about
    ``batch_size`` pages to a chunk.  ``progress("reparse", done, total)`` is
    called after each chunk (and by the derived-table build, with its own
    stage); ``on_bad_json(url, problem)`` for each page whose stored JSON
    could not be used.  ``derive=False`` skips rebuilding the derived tables
    (``corpus.derive``) at the end.
    """
    started = time.monotonic()
    if not Path(db_path).exists():
        raise CorpusError(f"no corpus database at {db_path}; nothing to reparse (check --db)")
    connect(db_path).close()  # clear errors (missing, locked, newer schema) before any work
    stats = ReparseStats()
    workers = workers or os.cpu_count() or 1
    clock = _Clock(stats.stages)
    with SyncLock(db_path):
        writer = Writer(db_path)
        pool = None
        staging = staging_path(db_path)
        store: _Staging | None = None
        try:
            n_pages, bounds = writer.call(_chunk_bounds, batch_size)
            stats.pages = n_pages
            if progress is not None:
                progress(REPARSE_STAGE, 0, stats.pages)
            store = staging_store = _Staging(staging)
            if workers > 1 and n_pages > batch_size:
                pool = multiprocessing.get_context("forkserver").Pool(workers)
            in_flight: deque = deque()
            worker_cpu: dict[int, float] = {}  # pid -> its CPU time so far
            done = 0

            def finish(result) -> None:
                nonlocal done
                with clock("wait for parsing"):
                    chunk: StagedChunk = result.get() if pool is not None else result
                stats.stages["parse"] = stats.stages.get("parse", 0.0) + chunk.cpu_seconds
                worker_cpu[chunk.pid] = max(worker_cpu.get(chunk.pid, 0.0), chunk.process_cpu)
                with clock("stage"):
                    staging_store.append(chunk)
                _count(chunk, stats, on_bad_json)
                done += len(chunk.pages)
                if progress is not None:
                    progress(REPARSE_STAGE, done, stats.pages)

            for a, b in bounds:
                with clock("read pages"):
                    rows, order = writer.call(read_chunk, a, b)
                if not rows:
                    continue
                if pool is not None:
                    in_flight.append(pool.apply_async(stage_chunk, (rows, order)))
                else:
                    in_flight.append(stage_chunk(rows, order))
                del rows, order
                while len(in_flight) > _IN_FLIGHT * max(workers, 1):
                    finish(in_flight.popleft())
            while in_flight:
                finish(in_flight.popleft())
            if pool is not None:
                stats.stages["workers"] = sum(worker_cpu.values())
            if pool is not None:
                pool.close()
                pool.join()
                pool = None
            store.close()
            store = None
            with clock("load"):
                stats.load = writer.call(_merge, staging, fresh, plain=True)
            _remove_file(staging)
            trim_heap()
            # Attachment text is re-extracted from kept files (``--attachments files``); the derived
            # tables manage their own statements, so both get a plain connection.
            with clock("attachments"):
                stats.attachments = writer.call(_reextract_attachments, Path(db_path), plain=True)
            if derive:
                timings: dict[str, float] = {}
                with clock("derived tables"):
                    writer.call(_rebuild, timings, progress, plain=True)
                stats.stages.pop("derived tables")
                stats.stages.update(timings)
                stats.derived = True
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
            if store is not None:
                store.con.close()
            _remove_file(staging)
            writer.close()
    stats.seconds = time.monotonic() - started
    return stats


def _rebuild(con: duckdb.DuckDBPyConnection, timings: dict[str, float], progress: ProgressFn | None) -> None:
    rebuild(con, timings=timings, progress=progress)


class _Clock:
    """Adds the wall time of ``with clock(name):`` blocks to ``stages[name]``."""

    def __init__(self, stages: dict[str, float]):
        self.stages = stages

    def __call__(self, name: str):
        return _Timed(self.stages, name)


class _Timed:
    __slots__ = ("stages", "name", "t")

    def __init__(self, stages: dict[str, float], name: str):
        self.stages, self.name = stages, name

    def __enter__(self) -> None:
        self.t = time.monotonic()

    def __exit__(self, *exc) -> None:
        self.stages[self.name] = self.stages.get(self.name, 0.0) + time.monotonic() - self.t
