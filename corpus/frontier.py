"""The crawl frontier, stored in the database beside the data.

Each URL to fetch is one row of ``frontier`` with a state:

``queued``   waiting to be fetched (a run resumes these first);
``done``     fetched and loaded; ``fetched_signature`` says which listing state it reflects;
``failed``   gave up after ``max_attempts`` (``last_error`` says why); a later run retries it;
``removed``  the site answered 404/410: kept as a record, never deleted;
``blocked``  the site challenged us on this URL; a later run retries it;
``archived`` the site challenged us and the thread was loaded from a web archive
             instead; a later sync that asks the live site fetches it again.

A listing item carries a *signature* (latest event time + status).  Enqueueing an
item whose URL is already ``done`` with the same signature does nothing, so a
re-sync over an unchanged site fetches no thread again; a changed signature
puts the URL back in the queue.  Every write is one set-based statement.

``listing_changed_at`` records when a row's signature last changed (ignoring
the overdue drift of an unanswered request, which moves nothing on a listing);
with ``listing_walks`` (which walks of a listing finished, and when) it lets a
re-sync stop walking a listing at the first page that holds nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa

from corpus.staging import arrow_schema, registered

STATES = ("queued", "done", "failed", "removed", "blocked", "archived")


@dataclass(slots=True)
class FrontierItem:
    """A URL offered to the frontier (from a listing, an explicit --request, ...)."""

    url: str
    kind: str = "request"
    url_title: str | None = None
    listing_signature: str | None = None
    discovered_from: str | None = None
    priority: int = 0
    force: bool = False  # re-queue even when done with the same signature (explicit --request)


@dataclass(slots=True)
class QueuedUrl:
    """A queued URL handed to a fetch worker."""

    url: str
    kind: str
    url_title: str | None
    listing_signature: str | None
    attempts: int
    known: bool = False  # fetched successfully at some earlier time


@dataclass(slots=True)
class EnqueueStats:
    new: int = 0
    requeued: int = 0
    unchanged: int = 0
    urls_new: list[str] = field(default_factory=list)


# URLs offered to the frontier: some of its columns (types from the DDL), and whether to force a re-queue.
_OFFERED = ("url", "kind", "url_title", "listing_signature", "discovered_from", "priority")
_BATCH_SCHEMA = pa.schema([f for f in arrow_schema("frontier") if f.name in _OFFERED] + [pa.field("force", pa.bool_())])


def _now() -> datetime:
    return datetime.now(timezone.utc)


def enqueue(con, site: str, items: Iterable[FrontierItem], *, now: datetime | None = None) -> EnqueueStats:
    """Offer many URLs to the frontier in one pass.

    New URLs are queued.  Known URLs are re-queued when their listing signature
    changed since they were fetched, when they had failed or been blocked, or
    when ``force`` is set; otherwise they are left alone (``unchanged``).
    """
    latest: dict[str, FrontierItem] = {}
    for item in items:
        prev = latest.get(item.url)
        if prev is not None and prev.force and not item.force:
            item.force = True
        latest[item.url] = item
    stats = EnqueueStats()
    if not latest:
        return stats
    rows = list(latest.values())
    table = pa.table({name: [getattr(r, name) for r in rows] for name in _BATCH_SCHEMA.names}, schema=_BATCH_SCHEMA)
    when = now or _now()
    with registered(con, "_frontier_batch", table):
        # What will happen to each offered URL (decided before anything changes).
        requeue_cond = """
            f.state IN ('failed', 'blocked', 'archived')
            OR (f.state IN ('done', 'removed') AND (
                  b.force
                  OR (b.listing_signature IS NOT NULL
                      AND b.listing_signature IS DISTINCT FROM f.fetched_signature)))
        """
        counts = con.execute(
            f"""
            SELECT
              count(*) FILTER (WHERE f.url IS NULL),
              count(*) FILTER (WHERE f.url IS NOT NULL AND f.state <> 'queued' AND ({requeue_cond})),
              count(*) FILTER (WHERE f.url IS NOT NULL AND (f.state = 'queued' OR NOT ({requeue_cond})))
            FROM _frontier_batch b LEFT JOIN frontier f ON f.url = b.url
            """
        ).fetchall()[0]
        stats.new, stats.requeued, stats.unchanged = (int(c or 0) for c in counts)
        # Known URLs: re-queue those that need it; refresh the listing signature of all.
        con.execute(
            f"""
            UPDATE frontier AS f SET
              state = CASE WHEN f.state <> 'queued' AND ({requeue_cond}) THEN 'queued' ELSE f.state END,
              listing_changed_at = CASE
                  WHEN b.listing_signature IS NOT NULL
                       AND {_norm('b.listing_signature')} IS DISTINCT FROM {_norm('f.listing_signature')}
                  THEN ?::TIMESTAMPTZ ELSE f.listing_changed_at END,
              listing_signature = coalesce(b.listing_signature, f.listing_signature),
              priority = greatest(f.priority, b.priority)
            FROM _frontier_batch b
            WHERE f.url = b.url
            """,
            [when],
        )
        con.execute(
            """
            INSERT INTO frontier (url, site, kind, url_title, state, priority, discovered_at,
                                  discovered_from, listing_signature, attempts, listing_changed_at)
            SELECT b.url, ?, b.kind, b.url_title, 'queued', b.priority, ?, b.discovered_from,
                   b.listing_signature, 0, ?
            FROM _frontier_batch b
            WHERE NOT EXISTS (SELECT 1 FROM frontier f WHERE f.url = b.url)
            """,
            [site, when, when],
        )
    return stats


def _norm(sig: str) -> str:
    """SQL for a listing signature without the overdue drift of an unanswered request.

    ``waiting_response`` becomes ``waiting_response_overdue`` and then
    ``..._very_overdue`` as days pass, with no new event: the listing does not
    move the request up for that, so it must not count as a change of the listing.
    """
    return rf"regexp_replace({sig}, '\|waiting_response(_very)?_overdue$', '|waiting_response')"


def requeue_all(con, site: str, kind: str = "request") -> int:
    """``--refresh``: put every known URL of this kind back in the queue. Returns how many."""
    n = con.execute(
        "SELECT count(*) FROM frontier WHERE site = ? AND kind = ? AND state <> 'queued'",
        [site, kind],
    ).fetchall()[0][0]
    con.execute(
        "UPDATE frontier SET state = 'queued' WHERE site = ? AND kind = ? AND state <> 'queued'",
        [site, kind],
    )
    return int(n)


def take(
    con, site: str, n: int, *, kind: str = "request", exclude: Iterable[str] = (), known_only: bool = False
) -> list[QueuedUrl]:
    """Up to ``n`` queued (or previously blocked) URLs, highest priority and oldest first.

    Taking does not change the row: a run that dies before marking it leaves it
    queued, so the next run fetches it again.  ``exclude`` skips URLs in flight;
    ``known_only`` skips URLs never fetched before (``--limit`` reached).
    """
    excluded = list(exclude)
    rows = con.execute(
        f"""
        SELECT url, kind, url_title, listing_signature, attempts, done_at IS NOT NULL FROM frontier
        WHERE site = ? AND kind = ? AND state IN ('queued', 'blocked')
          AND NOT list_contains(?::VARCHAR[], url)
          {"AND done_at IS NOT NULL" if known_only else ""}
        ORDER BY priority DESC, discovered_at, url
        LIMIT ?
        """,
        [site, kind, excluded, n],
    ).fetchall()
    return [
        QueuedUrl(url=r[0], kind=r[1], url_title=r[2], listing_signature=r[3], attempts=int(r[4]), known=bool(r[5]))
        for r in rows
    ]


def _url_table(urls: list[str], extra: dict[str, list] | None = None) -> pa.Table:
    data = {"url": pa.array(urls, pa.string())}
    for key, values in (extra or {}).items():
        data[key] = pa.array(values, pa.string())
    return pa.table(data)


def mark_done(con, done: Iterable[tuple[str, str | None]], *, now: datetime | None = None) -> None:
    """Mark URLs fetched: ``done`` is ``(url, signature the fetch answered)`` pairs.

    If the listing signature moved on while the page was being fetched, the URL
    stays queued so the newer state is fetched too.
    """
    pairs = list(dict(done).items())
    if not pairs:
        return
    when = now or _now()
    table = _url_table([p[0] for p in pairs], {"sig": [p[1] for p in pairs]})
    with registered(con, "_done_batch", table):
        con.execute(
            """
            UPDATE frontier AS f SET
              state = CASE WHEN f.listing_signature IS NOT NULL AND d.sig IS NOT NULL
                                AND f.listing_signature IS DISTINCT FROM d.sig
                           THEN 'queued' ELSE 'done' END,
              fetched_signature = coalesce(d.sig, f.listing_signature),
              attempts = 0,
              last_error = NULL,
              last_attempt_at = ?,
              done_at = ?
            FROM _done_batch d WHERE f.url = d.url
            """,
            [when, when],
        )


def mark_failed(
    con, failed: Iterable[tuple[str, str]], *, max_attempts: int = 3, now: datetime | None = None
) -> list[str]:
    """Record failed attempts (``(url, error)`` pairs).

    A URL stays queued until it has failed ``max_attempts`` times in all, then
    becomes ``failed``.  Returns the URLs that failed for good.
    """
    pairs = list(dict(failed).items())
    if not pairs:
        return []
    when = now or _now()
    table = _url_table([p[0] for p in pairs], {"err": [p[1] for p in pairs]})
    with registered(con, "_failed_batch", table):
        con.execute(
            """
            UPDATE frontier AS f SET
              attempts = f.attempts + 1,
              state = CASE WHEN f.attempts + 1 >= ? THEN 'failed' ELSE 'queued' END,
              last_error = d.err,
              last_attempt_at = ?
            FROM _failed_batch d WHERE f.url = d.url
            """,
            [max_attempts, when],
        )
        gone = con.execute(
            "SELECT url FROM frontier WHERE state = 'failed' AND url IN (SELECT url FROM _failed_batch)"
        ).fetchall()
    return [r[0] for r in gone]


def _set_state(con, urls: Iterable[str], state: str, error: str | None, when: datetime) -> None:
    urls = list(dict.fromkeys(urls))
    if not urls:
        return
    con.execute(
        f"""
        UPDATE frontier SET state = '{state}', last_error = ?, last_attempt_at = ?,
               attempts = attempts + 1
        WHERE url IN (SELECT unnest(?::VARCHAR[]))
        """,
        [error, when, urls],
    )


def mark_removed(con, urls: Iterable[str], *, error: str = "gone (404/410)", now: datetime | None = None) -> None:
    """The site no longer serves these URLs: keep the rows, state ``removed``."""
    when = now or _now()
    urls = list(urls)
    _set_state(con, urls, "removed", error, when)
    if urls:
        con.execute(
            "UPDATE frontier SET fetched_signature = listing_signature, done_at = ? "
            "WHERE url IN (SELECT unnest(?::VARCHAR[]))",
            [when, urls],
        )


def mark_archived(con, urls: Iterable[str], *, now: datetime | None = None) -> None:
    """Loaded from a web archive, the live site having refused: done for this run, fetched live again later."""
    when = now or _now()
    urls = list(urls)
    _set_state(con, urls, "archived", None, when)
    if urls:
        con.execute("UPDATE frontier SET done_at = ? WHERE url IN (SELECT unnest(?::VARCHAR[]))", [when, urls])


def requeue_archived(con, site: str, kind: str = "request") -> int:
    """Queue again the threads an earlier run loaded from an archive, so the live site is asked for them."""
    n = con.execute("SELECT count(*) FROM frontier WHERE site = ? AND kind = ? AND state = 'archived'",
                    [site, kind]).fetchall()[0][0]
    if n:
        con.execute("UPDATE frontier SET state = 'queued' WHERE site = ? AND kind = ? AND state = 'archived'",
                    [site, kind])
    return int(n)


def mark_blocked(con, urls: Iterable[str], *, error: str = "bot challenge", now: datetime | None = None) -> None:
    """The site challenged us on these URLs; a later run retries them."""
    _set_state(con, urls, "blocked", error, now or _now())


def counts(con, site: str | None = None, kind: str = "request") -> dict[str, int]:
    """Rows per state (every state present, zero when none)."""
    sql = "SELECT state, count(*) FROM frontier WHERE kind = ?"
    params: list = [kind]
    if site is not None:
        sql += " AND site = ?"
        params.append(site)
    sql += " GROUP BY state"
    result = {s: 0 for s in STATES}
    for state, n in con.execute(sql, params).fetchall():
        result[state] = int(n)
    return result


def pending(con, site: str, kind: str = "request") -> int:
    """How many URLs a run would still fetch (queued + blocked)."""
    c = counts(con, site, kind)
    return c["queued"] + c["blocked"]


# ---------------------------------------------------------------------------- listing walks


def _walk_key(site: str, kind: str, value: str, since, until) -> list:
    return [site, kind, value, since, until]


_WALK_MATCH = """site = ? AND target_kind = ? AND target_value = ?
                 AND since IS NOT DISTINCT FROM ?::DATE AND until IS NOT DISTINCT FROM ?::DATE"""


def complete_walks(con, site: str) -> dict[tuple, datetime]:
    """``(kind, value, since, until) -> completed_at`` of every finished walk on ``site``."""
    rows = con.execute(
        "SELECT target_kind, target_value, since, until, max(completed_at) FROM listing_walks WHERE site = ? "
        "GROUP BY ALL",
        [site],
    ).fetchall()
    return {(r[0], r[1], r[2], r[3]): r[4] for r in rows}


def record_walk(
    con, site: str, kind: str, value: str, since=None, until=None, *, started_at: datetime | None = None,
    pages: int = 0, stopped_early: bool = False, now: datetime | None = None,
) -> None:
    """Note that a walk of this target finished (its discoveries are committed in the same transaction)."""
    key = _walk_key(site, kind, value, since, until)
    con.execute(f"DELETE FROM listing_walks WHERE {_WALK_MATCH}", key)
    con.execute(
        "INSERT INTO listing_walks (site, target_kind, target_value, since, until, started_at, completed_at, pages, "
        "stopped_early) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        key + [started_at, now or _now(), pages, stopped_early],
    )


def changed_since(con, listed: Iterable[tuple[str, str | None]], since: datetime) -> int:
    """How many ``(url, listing signature)`` pairs were not already listed just so at ``since``.

    An item counts as unchanged when its frontier row has the same signature
    (overdue drift aside) and that signature was first seen no later than
    ``since``.  Zero means a listing page shows nothing new since then.
    """
    pairs = list(dict(listed).items())
    if not pairs:
        return 0
    table = _url_table([p[0] for p in pairs], {"sig": [p[1] for p in pairs]})
    with registered(con, "_listed_batch", table):
        n = con.execute(
            f"""
            SELECT count(*) FROM _listed_batch b LEFT JOIN frontier f ON f.url = b.url
            WHERE f.url IS NULL
               OR b.sig IS NULL
               OR {_norm('b.sig')} IS DISTINCT FROM {_norm('f.listing_signature')}
               OR coalesce(f.listing_changed_at, '-infinity'::TIMESTAMPTZ) > ?::TIMESTAMPTZ
            """,
            [since],
        ).fetchall()[0][0]
    return int(n)
