"""Small database helpers the tests use and the tool does not: one page at a time, one load in its own transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import duckdb

from corpus.load import LoadItem, LoadStats, load_threads
from corpus.pagestore import PageNotStored, StoredPage, decode_body, make_page, store_pages


def rows(db_path, sql: str, params=()) -> list[tuple]:
    """``sql`` on the database file, opened read-only for just this query."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- pages


def store_page(con: duckdb.DuckDBPyConnection, *, url: str, site: str, kind: str, status: int | None,
               final_url: str | None, headers: Mapping[str, str] | None, body: bytes | None,
               fetched_at: datetime | None = None, companion_url: str | None = None) -> StoredPage:
    """Store one page (replacing any earlier copy of the same URL) and return its row."""
    page = make_page(url=url, site=site, kind=kind, status=status, final_url=final_url, headers=headers, body=body,
                     fetched_at=fetched_at, companion_url=companion_url)
    store_pages(con, [page])
    return page


def load_page(con: duckdb.DuckDBPyConnection, url: str) -> bytes:
    """The uncompressed body stored for ``url``; ``PageNotStored`` if there is none."""
    rows = con.execute("SELECT body, encoding FROM pages WHERE url = ?", [url]).fetchall()
    if not rows or rows[0][0] is None:
        raise PageNotStored(f"no stored page for {url}")
    return decode_body(rows[0][0], rows[0][1])


def load_pages(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, bytes]:
    """Uncompressed bodies for many URLs (URLs with no stored body are absent)."""
    rows = con.execute(
        "SELECT url, body, encoding FROM pages WHERE body IS NOT NULL AND url IN (SELECT unnest(?::VARCHAR[]))",
        [list(dict.fromkeys(urls))],
    ).fetchall()
    return {u: decode_body(b, e) for u, b, e in rows}


def conditional_headers(con: duckdb.DuckDBPyConnection, url: str) -> tuple[str | None, str | None]:
    """The (ETag, Last-Modified) stored for ``url``."""
    row = con.execute("SELECT etag, last_modified FROM pages WHERE url = ? AND body IS NOT NULL", [url]).fetchall()
    return (row[0][0], row[0][1]) if row else (None, None)


# ---------------------------------------------------------------- frontier


def failed_urls(con: duckdb.DuckDBPyConnection, site: str | None = None) -> list[tuple[str, str | None]]:
    sql = "SELECT url, last_error FROM frontier WHERE state = 'failed'"
    params: list[object] = []
    if site is not None:
        sql += " AND site = ?"
        params.append(site)
    return [(r[0], r[1]) for r in con.execute(sql + " ORDER BY url", params).fetchall()]


def last_complete_walk(con: duckdb.DuckDBPyConnection, site: str, kind: str, value: str, since=None,
                       until=None) -> datetime | None:
    """When the last walk of this exact listing target (same dates) finished in full; None if never."""
    return con.execute(
        "SELECT max(completed_at) FROM listing_walks WHERE site = ? AND target_kind = ? AND target_value = ? "
        "AND since IS NOT DISTINCT FROM ?::DATE AND until IS NOT DISTINCT FROM ?::DATE",
        [site, kind, value, since, until],
    ).fetchall()[0][0]


# ---------------------------------------------------------------- loading


def refuse_to_store(monkeypatch, url_title: str) -> None:
    """Make the loader raise, as for a value out of range, on any batch holding the thread ``url_title``."""
    from corpus import load

    real_stage = load._stage

    def stage(items, keys, *order):
        if any(it.parsed.url_title == url_title for it in items):
            raise OverflowError("Python int too large to convert to C long")
        return real_stage(items, keys, *order)

    monkeypatch.setattr(load, "_stage", stage)


def load_threads_tx(con: duckdb.DuckDBPyConnection, items: list[LoadItem]) -> LoadStats:
    """``load_threads`` in its own transaction (committed, or rolled back on error)."""
    con.execute("BEGIN TRANSACTION")
    try:
        stats = load_threads(con, items)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return stats
