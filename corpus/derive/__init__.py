"""Derived tables: rebuilt from the base tables, never edited by hand.

``rebuild(con)`` writes, in order:

* ``holidays`` and ``workday_calendar`` (``corpus.workdays``): non-working days
  and a per-regime working-day index, 2005 to two years ahead;
* ``regimes``, ``sites`` and ``site_rules`` (``corpus.sites``): the laws'
  clocks and which law each site's requests run under, built-in and from the
  user's ``sites.toml``;
* ``request_timeline`` (``corpus.derive.timeline``): one row per request;
* ``refusal_citations`` (``corpus.derive.refusals``): one row per ground cited
  in an authority's message (or attachment) and its role: relied on, upheld
  or overturned at review, under consideration, expressly not relied on, an
  earlier decision described, the request quoted back, boilerplate, or
  another law.  Only ``COUNTED_ROLES`` (relied on, upheld) are refusals;
* the search index beside the database (``corpus.search.index``): Tantivy in
  ``<db>.search/`` and the ``search_docs`` table saying what it holds.

``rebuild(con, since=t)`` does the same for only the requests that can have
changed since ``t`` (a sync passes its start time), and gives the same tables
as a whole rebuild.  When the sites or regimes changed since the stored
tables were built, every request is rebuilt.
"""

from __future__ import annotations

import contextlib
import time
from datetime import date, datetime

from corpus.db import checkpoint, table_columns, table_exists
from corpus.derive.refusals import (
    COUNTED_ROLES,
    ROLES,
    Citation,
    build_refusal_citations,
    create_refusal_citations,
    extract_citations,
)
from corpus.derive.timeline import build_sql, classify_response, timeline_columns
from corpus.progress import ProgressFn
from corpus.search.index import update_search_index
from corpus.sites import write_sites
from corpus.workdays import uk_today, write_calendar

__all__ = ["rebuild", "extract_citations", "Citation", "ROLES", "COUNTED_ROLES", "classify_response"]


def _scope_sql(today: date, with_texts: bool) -> str:
    """Requests whose derived rows may differ from what is stored.

    Loaded or seen since ``$since`` (``last_seen`` moves on every load); of an
    authority seen since then (its tags, hence its requests' regime, may have
    changed); with attachment text extracted since then; still unanswered
    when the stored rows were judged on another day (``overdue_now`` moves
    with the date); rows whose request is gone (re-keyed from slug to id); and
    requests that have no row yet.
    """
    parts = [
        "SELECT site, request_key FROM requests WHERE last_seen >= $since OR first_seen >= $since",
        """SELECT r.site, r.request_key FROM requests r
           JOIN authorities a ON a.site = r.site AND a.url_name = r.authority_url_name
           WHERE a.last_seen >= $since""",
        f"""SELECT site, request_key FROM request_timeline
            WHERE NOT coalesce(answered, false) AND as_of_date IS DISTINCT FROM DATE '{today.isoformat()}'""",
        "SELECT t.site, t.request_key FROM request_timeline t ANTI JOIN requests r USING (site, request_key)",
        "SELECT r.site, r.request_key FROM requests r ANTI JOIN request_timeline t USING (site, request_key)",
    ]
    if with_texts:
        parts.append("SELECT site, request_key FROM attachment_texts WHERE extracted_at >= $since")
    return "CREATE OR REPLACE TEMP TABLE _derive_scope AS\n" + "\nUNION\n".join(parts)


def _can_scope(con, today: date) -> bool:
    """True when both derived tables exist with every column the current build writes."""
    have = set(table_columns(con, "request_timeline"))
    if not have or not table_columns(con, "refusal_citations"):
        return False
    return timeline_columns(con, today) <= have


def _site_tables(con) -> tuple | None:
    """The stored regimes, sites and site rules (None before the first build): a change rebuilds every request."""
    if not all(table_exists(con, t) for t in ("regimes", "sites", "site_rules")):
        return None
    return tuple(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ("regimes", "sites", "site_rules"))


@contextlib.contextmanager
def _timed(timings: dict[str, float] | None, name: str):
    started = time.monotonic()
    try:
        yield
    finally:
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.monotonic() - started


def _capture_dates(con) -> bool:
    """Whether requests say when a thread's capture was made (``as_of``, schema 5 on)."""
    return "as_of" in table_columns(con, "requests")


DERIVE_STAGE = "derive tables"  # the stage name given to ``progress``
_STEPS = 4  # calendar, request_timeline, refusal_citations, search index


def rebuild(con, *, today: date | None = None, since: datetime | None = None, chunk: int | None = None,
            commit_chunks: bool = False, timings: dict[str, float] | None = None,
            progress: ProgressFn | None = None, search: bool = True) -> None:
    """(Re)create the derived tables from the base tables.

    ``today`` (the UK date "overdue now" is judged against) defaults to today in
    Europe/London; tests pass a fixed date.  With ``since``, only the requests
    that may have changed since then are rebuilt (see ``_scope_sql``); without
    it, or when the stored tables are missing or from an older build, all are.
    ``chunk``: rebuild the requests in scope that many at a time, so that the
    memory it takes does not grow with the scope (a sync passes it).
    ``commit_chunks``: commit the caller's transaction after each chunk, write
    it into the file (``corpus.db.checkpoint``) and begin another, so that what
    the chunks wrote is not all held until the end; a chunk's requests are
    rebuilt whole or not at all.
    ``timings``, when given, receives the seconds each table took;
    ``progress(stage, done, total)`` is told after each of the four steps.
    ``search=False`` leaves the search index to the caller (a sync updates it
    as a job of its own, under a smaller memory cap).
    """
    step = _stepper(progress)
    today = today or uk_today()
    with _timed(timings, "calendar"):
        before = _site_tables(con)
        write_sites(con)
        write_calendar(con, last_year=max(today.year + 2, date.today().year + 2))
    step()
    capture_dates = _capture_dates(con)
    whole = since is None or before != _site_tables(con) or not _can_scope(con, today)
    if whole and chunk:
        # Every request, still a chunk at a time: the tables start empty and every request is in scope.
        select = build_sql(today, capture_dates=capture_dates).split("\n", 2)[2]  # the query, less its CREATE
        con.execute(f"CREATE OR REPLACE TABLE request_timeline AS SELECT * FROM ({select}) LIMIT 0")
        create_refusal_citations(con)
        con.execute("CREATE OR REPLACE TEMP TABLE _derive_scope AS SELECT site, request_key FROM requests")
        _rebuild_in_chunks(con, today, chunk, capture_dates, commit_chunks)
        step()
        step()
        if search:
            update_search_index(con, lean=True)
        step()
        return
    if whole:
        with _timed(timings, "timeline"):
            con.execute(build_sql(today, capture_dates=capture_dates))
        step()
        with _timed(timings, "citations"):
            build_refusal_citations(con)
        step()
        with _timed(timings, "search index"):
            if search:
                update_search_index(con, lean=bool(chunk))
        step()
        return
    con.execute(_scope_sql(today, bool(table_columns(con, "attachment_texts"))), {"since": since})
    if chunk:
        _rebuild_in_chunks(con, today, chunk, capture_dates, commit_chunks)
        step()
        step()
    else:
        con.execute("DELETE FROM request_timeline t USING _derive_scope s "
                    "WHERE t.site = s.site AND t.request_key = s.request_key")
        con.execute(build_sql(today, scoped=True, capture_dates=capture_dates))
        _refresh_counts(con, today, capture_dates)
        step()
        build_refusal_citations(con, scoped=True)
        con.execute("DROP TABLE IF EXISTS _derive_scope")
        step()
    if search:
        update_search_index(con, since=since, lean=bool(chunk))  # last: its commit is the index's
    step()


def _rebuild_in_chunks(con, today: date, chunk: int, capture_dates: bool, commit: bool = False) -> None:
    """The scoped rebuild, ``chunk`` requests of ``_derive_scope`` at a time (a request's rows depend on it alone)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _derive_all AS "
                "SELECT site, request_key, row_number() OVER (ORDER BY site, request_key) AS rn FROM _derive_scope")
    total = con.execute("SELECT count(*) FROM _derive_all").fetchall()[0][0]
    for lo in range(0, max(total, 1), chunk):
        con.execute("CREATE OR REPLACE TEMP TABLE _derive_scope AS SELECT site, request_key FROM _derive_all "
                    "WHERE rn > ? AND rn <= ?", [lo, lo + chunk])
        con.execute("DELETE FROM request_timeline t USING _derive_scope s "
                    "WHERE t.site = s.site AND t.request_key = s.request_key")
        con.execute(build_sql(today, scoped=True, capture_dates=capture_dates))
        build_refusal_citations(con, scoped=True)
        if commit:
            con.execute("COMMIT")
            checkpoint(con)  # the chunk's rows leave memory for the file
            con.execute("BEGIN TRANSACTION")
    _refresh_counts(con, today, capture_dates)
    con.execute("DROP TABLE IF EXISTS _derive_scope")
    con.execute("DROP TABLE IF EXISTS _derive_all")


def _refresh_counts(con, today: date, capture_dates: bool) -> None:
    """What is counted across requests, and the date rows were judged on: refreshed where the scope changed them."""
    con.execute(
        """UPDATE request_timeline t SET title_key_requests = c.n
           FROM (SELECT site, title_key, CAST(count(*) AS INTEGER) AS n FROM request_timeline GROUP BY ALL) c
           WHERE t.site = c.site AND t.title_key IS NOT DISTINCT FROM c.title_key
             AND t.title_key_requests IS DISTINCT FROM c.n"""
    )
    if capture_dates:  # rows of threads from an archive stay judged as of their capture
        con.execute("UPDATE request_timeline t SET as_of_date = ? FROM requests r WHERE r.site = t.site "
                    "AND r.request_key = t.request_key AND r.as_of IS NULL AND t.as_of_date IS DISTINCT FROM ?",
                    [today, today])
    else:
        con.execute("UPDATE request_timeline SET as_of_date = ? WHERE as_of_date IS DISTINCT FROM ?", [today, today])


def _stepper(progress: ProgressFn | None):
    """A function that reports one more step of the build done (the first call is step 0: started)."""
    done = -1

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(DERIVE_STAGE, done, _STEPS)

    step()
    return step
