"""``corpus reparse``: rebuild the core tables from the stored raw pages with the current parser; no network.

Stored request pages go through the same step as a sync or an import
(``corpus.pipeline``) and the same writer (``corpus.writer``); they differ
only in where the pages come from.  Pages read back from the store never
change what only the live site can say: ``requests.removed`` and the frontier.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.pool import ApplyResult
from pathlib import Path

import duckdb

from corpus.attachments.reextract import reextract_all
from corpus.db import SyncLock, connect, table_exists
from corpus.derive import rebuild
from corpus.errors import CorpusError
from corpus.load import LoadStats
from corpus.pipeline import StoredRow, ThreadOutcome, stored_outcome
from corpus.writer import Writer

REQUEST_PAGE_KINDS = ("request_html", "imported_html")
CORE_TABLES = ("events", "attachments", "annotations", "messages", "requests", "users", "authorities")

Parsed = list["ThreadOutcome | None"]


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

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

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
        return "\n".join(lines)


def read_page_rows(con: duckdb.DuckDBPyConnection, urls: list[str]) -> list[StoredRow]:
    """Stored request pages with their JSON companions, as rows for ``corpus.pipeline.stored_outcome``."""
    return con.execute(
        "SELECT p.url, p.site, p.kind, p.status, p.encoding, p.body, p.fetched_at, p.sha256, "
        "       j.url, j.status, j.encoding, j.body "
        "FROM pages p LEFT JOIN pages j ON j.url = p.companion_url "
        "WHERE p.url IN (SELECT unnest(?::VARCHAR[])) ORDER BY p.url",
        [urls],
    ).fetchall()


def _page_urls(con: duckdb.DuckDBPyConnection, fresh: bool) -> list[str]:
    urls = [r[0] for r in con.execute(
        "SELECT url FROM pages WHERE kind IN (SELECT unnest(?::VARCHAR[])) ORDER BY url", [list(REQUEST_PAGE_KINDS)],
    ).fetchall()]
    if fresh:
        for table in CORE_TABLES:
            con.execute(f"DELETE FROM {table}")
    return urls


def _write(writer: Writer, results: Parsed, stats: ReparseStats,
           on_bad_json: Callable[[str, str], None] | None) -> None:
    for outcome in results:
        if outcome is None:
            stats.skipped += 1
        else:
            writer.add(outcome)
    done = writer.write()
    isolated = {o.url for o in done.isolated}
    stats.load.add(done.load)
    for o in results:
        if o is None:
            continue
        if o.kind == "loaded" and o.url not in isolated:
            stats.threads += 1
            if o.json_problem:
                stats.bad_json += 1
                if on_bad_json is not None:
                    on_bad_json(o.url, o.json_problem)
        else:
            stats.failures += 1


def _reextract_attachments(con: duckdb.DuckDBPyConnection, db_path: Path) -> str | None:
    """Redo attachment text from the files kept beside the database, if any were kept."""
    if not table_exists(con, "attachment_texts") or not con.execute(
        "SELECT count(*) FROM attachment_texts WHERE stored_path IS NOT NULL"
    ).fetchall()[0][0]:
        return None
    return reextract_all(con, db_path).describe()


def reparse(
    db_path: str | Path,
    *,
    fresh: bool = False,
    batch_size: int = 2000,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    derive: bool = True,
    on_bad_json: Callable[[str, str], None] | None = None,
) -> ReparseStats:
    """Rebuild the core tables from the stored raw pages with the current parser; no network.

    Loads with the same rules as a sync, so history the pages no longer show
    (bodies of messages hidden later, messages gone from the page, ``first_seen``)
    is kept.  ``fresh=True`` empties the core tables first: the result is then
    exactly what the stored pages say, and that history is lost.

    Holds the sync lock for the whole run and opens the database once per batch,
    so readers can open the file between batches.  Parsing runs in a process
    pool of ``workers`` (default: all CPUs).  ``progress(done, total)`` is called
    after each batch; ``on_bad_json(url, problem)`` for each page whose stored
    JSON could not be used.  ``derive=False`` skips rebuilding the derived
    tables (``corpus.derive``) at the end.
    """
    started = time.monotonic()
    if not Path(db_path).exists():
        raise CorpusError(f"no corpus database at {db_path}; nothing to reparse (check --db)")
    connect(db_path).close()  # clear errors (missing, locked, newer schema) before any work
    stats = ReparseStats()
    workers = workers or os.cpu_count() or 1
    with SyncLock(db_path):
        writer = Writer(db_path)
        pool = None
        try:
            urls = writer.call(_page_urls, fresh)
            stats.pages = len(urls)
            chunks = [urls[i:i + batch_size] for i in range(0, len(urls), batch_size)]
            if workers > 1 and len(urls) > workers:
                pool = multiprocessing.get_context("forkserver").Pool(workers)
            # Two chunks in flight: the pool parses chunk k+1 while the writer writes chunk k.
            pending: ApplyResult[Parsed] | Parsed | None = None
            done = 0
            for idx in range(len(chunks) + 1):
                submitted: ApplyResult[Parsed] | Parsed | None = None
                if idx < len(chunks):
                    rows = writer.call(read_page_rows, chunks[idx])
                    if pool is not None:
                        submitted = pool.map_async(stored_outcome, rows,
                                                   chunksize=max(1, len(rows) // (workers * 4)))
                    else:
                        submitted = [stored_outcome(r) for r in rows]
                    del rows
                if pending is not None:
                    results = pending.get() if isinstance(pending, ApplyResult) else pending
                    _write(writer, results, stats, on_bad_json)
                    done += len(results)
                    if progress is not None:
                        progress(done, stats.pages)
                pending = submitted
            # Attachment text is re-extracted from kept files (``--attachments files``); the derived
            # tables manage their own statements, so both get a plain connection.
            stats.attachments = writer.call(_reextract_attachments, Path(db_path), plain=True)
            if derive:
                writer.call(rebuild, plain=True)
                stats.derived = True
        finally:
            if pool is not None:
                pool.close()
                pool.join()
            writer.close()
    stats.seconds = time.monotonic() - started
    return stats
