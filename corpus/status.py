"""``corpus status``: what the database holds, in a few plain lines.

It reads through :class:`corpus.Reader`, so a sync in the middle of writing a
batch is waited for (and named as the sync, never as a program to close), and
it asks the sync lock whether a sync is running now: a run still marked
``running`` while no sync holds the lock was killed, and is shown as ended.
"""

from __future__ import annotations

import json
from pathlib import Path

from corpus.db import LockHolder, oldest_reader, read_lock_holder, schema_version, storage_format
from corpus.provenance import describe as describe_sources
from corpus.provenance import sources
from corpus.reader import Reader
from corpus.schema import CURRENT_VERSION

_RECENT_FAILURES = 5
_RECENT_RUNS = 5
STATUS_WAIT = 15.0  # seconds to wait for a sync to finish writing a batch


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def _when(ts) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts is not None else "-"


def _storage_line(fmt: str) -> str:
    reader = oldest_reader(fmt)
    if fmt.startswith("v2"):
        return (f"Storage: DuckDB format {fmt}: only DuckDB 2.x opens it; `corpus convert-storage` rewrites it "
                "for DuckDB 1.1 and later (the 1.x command line, R, DBeaver)")
    if reader is None:
        return f"Storage: DuckDB format {fmt}"
    return f"Storage: DuckDB format {fmt}: DuckDB {reader} and later open it"


def status_report(db_path: str | Path, *, wait: float = STATUS_WAIT) -> str:
    """A text summary of the corpus at ``db_path``; reads it without holding up a running sync."""
    path = Path(db_path)
    writer = read_lock_holder(path)
    with Reader(path, wait=wait, notify=True).session() as con:
        return _report(con, path, writer)


def _report(con, path: Path, writer: LockHolder | None) -> str:
    lines = [f"Database: {path} ({_human_size(path.stat().st_size)}), schema version {schema_version(con)}"
             f" (this corpus: {CURRENT_VERSION})", _storage_line(storage_format(con))]
    if writer is not None:
        lines.append(f"Now: {writer.command} (pid {writer.pid or '?'}) is running on this file")

    totals = con.execute(
        "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM requests WHERE removed),"
        " (SELECT count(*) FROM messages), (SELECT count(*) FROM annotations),"
        " (SELECT count(*) FROM attachments), (SELECT count(*) FROM authorities), (SELECT count(*) FROM users)"
    ).fetchall()[0]
    lines.append(
        f"Threads: {totals[0]} ({totals[1]} removed from the site), messages: {totals[2]}, "
        f"annotations: {totals[3]}, attachments: {totals[4]}, authorities: {totals[5]}, users: {totals[6]}"
    )
    by_site = con.execute(
        """
        WITH s AS (
            SELECT site FROM requests UNION SELECT site FROM messages
            UNION SELECT site FROM annotations UNION SELECT site FROM attachments
        )
        SELECT s.site,
               (SELECT count(*) FROM requests r WHERE r.site = s.site),
               (SELECT count(*) FROM messages m WHERE m.site = s.site),
               (SELECT count(*) FROM annotations a WHERE a.site = s.site),
               (SELECT count(*) FROM attachments t WHERE t.site = s.site),
               (SELECT max(last_seen) FROM requests r WHERE r.site = s.site)
        FROM s ORDER BY s.site
        """
    ).fetchall()
    if by_site:
        lines.append("By site:")
        for site, n_req, n_msg, n_ann, n_att, last in by_site:
            lines.append(f"  {site}: {n_req} threads, {n_msg} messages, {n_ann} annotations, "
                         f"{n_att} attachments; last seen {_when(last)}")
    if len(by_site) > 1:
        lines.append(_several_sites_warning([row[0] for row in by_site]))

    origins = describe_sources(sources(con))
    if origins:
        lines.append(origins)

    frontier = con.execute("SELECT state, count(*) FROM frontier GROUP BY state ORDER BY state").fetchall()
    if frontier:
        lines.append("Queue: " + ", ".join(f"{state} {n}" for state, n in frontier))
    else:
        lines.append("Queue: empty")

    pages = con.execute(
        "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(octet_length(body)), 0) FROM pages"
    ).fetchall()[0]
    lines.append(f"Stored pages: {pages[0]} ({_human_size(pages[1])} as fetched, "
                 f"{_human_size(pages[2])} stored)")

    n_fail = con.execute("SELECT count(*) FROM parse_failures").fetchall()[0][0]
    if n_fail:
        kinds = con.execute(
            "SELECT kind, count(*) FROM parse_failures GROUP BY kind ORDER BY count(*) DESC, kind"
        ).fetchall()
        lines.append(f"Parse failures: {n_fail} (" + ", ".join(f"{k} {n}" for k, n in kinds) + ")")
        for url, kind, message in con.execute(
            "SELECT url, kind, message FROM parse_failures ORDER BY failed_at DESC, url LIMIT ?",
            [_RECENT_FAILURES],
        ).fetchall():
            lines.append(f"  {url}: {kind}: {message}")
        if n_fail > _RECENT_FAILURES:
            lines.append(f"  … and {n_fail - _RECENT_FAILURES} more (SELECT * FROM parse_failures)")
    else:
        lines.append("Parse failures: none")

    failed = con.execute(
        "SELECT count(*) FROM frontier WHERE state = 'failed'"
    ).fetchall()[0][0]
    if failed:
        for url, err in con.execute(
            "SELECT url, last_error FROM frontier WHERE state = 'failed' ORDER BY last_attempt_at DESC NULLS LAST, url LIMIT ?",
            [_RECENT_FAILURES],
        ).fetchall():
            lines.append(f"  failed fetch {url}: {err or 'no detail'}")

    runs = con.execute(
        "SELECT run_id, site, command, started_at, finished_at, outcome, summary FROM sync_runs "
        "ORDER BY started_at DESC NULLS LAST LIMIT ?",
        [_RECENT_RUNS],
    ).fetchall()
    live_run = _live_run(con, writer)
    if runs:
        lines.append("Last runs:")
        for run_id, site, command, started, finished, outcome, summary in runs:
            took = ""
            if started is not None and finished is not None:
                took = f", {(finished - started).total_seconds():.0f} s"
            if finished is None and outcome in (None, "running"):
                if writer is not None and run_id == live_run:
                    outcome = f"running (pid {writer.pid or '?'})"
                else:
                    outcome = "ended without finishing (its process was killed or crashed; run it again to resume)"
            line = f"  {_when(started)} {command or 'sync'} {site or ''}: {outcome}{took}"
            extra = _summary_text(summary)
            if extra:
                line += f" ({extra})"
            lines.append(line)
    else:
        lines.append("Last runs: none")
    return "\n".join(lines)


def _live_run(con, writer: LockHolder | None) -> str | None:
    """The run_id of the run in progress: the newest unfinished run, if a sync holds the lock now."""
    if writer is None or writer.command != "corpus sync":
        return None
    row = con.execute(
        "SELECT run_id FROM sync_runs WHERE finished_at IS NULL AND coalesce(outcome, 'running') = 'running' "
        "ORDER BY started_at DESC NULLS LAST LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def _several_sites_warning(sites: list[str]) -> str:
    from corpus.demo import DEMO_SITE

    text = (f"Warning: this file holds {len(sites)} sites; queries, the report and the notebook count them together "
            "unless you choose one (e.g. corpus report --site URL)")
    if DEMO_SITE in sites or any(s.startswith("http://127.0.0.1:") for s in sites):
        text += "; the sample site's threads came from `corpus demo`, which now writes to its own file (foi-demo.duckdb)"
    return text


def _summary_text(summary) -> str:
    if summary is None:
        return ""
    if isinstance(summary, str):
        try:
            summary = json.loads(summary)
        except ValueError:
            return summary[:80]
    if isinstance(summary, dict):
        parts = [f"{k} {v}" for k, v in summary.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
        return ", ".join(parts[:6])
    return ""
