"""The run's own record: its ``sync_runs`` row, begun before the first thread and finished with the summary."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import duckdb

from corpus import frontier, pagestore
from corpus.frontier import FrontierItem
from corpus.pagestore import StoredPage
from corpus.sync.options import SyncOptions
from corpus.sync.summary import SyncSummary


def begin_run(con: duckdb.DuckDBPyConnection, options: SyncOptions, summary: SyncSummary,
              robots_page: StoredPage | None, explicit: list[FrontierItem]) -> tuple[datetime, int, int]:
    """Record the run, store robots.txt, queue --refresh and --request.

    Returns when the run started, how many known threads --refresh queued again,
    and how many URLs are new to the frontier.
    """
    started = datetime.now(timezone.utc)
    con.execute(
        "INSERT INTO sync_runs (run_id, site, command, started_at, outcome, summary) VALUES (?, ?, ?, ?, 'running', ?)",
        [summary.run_id, options.site, options.command_line(), started, json.dumps(summary.as_json())],
    )
    if robots_page is not None:  # (an archive-only run asks the live site for nothing)
        pagestore.store_pages(con, [robots_page])
    requeued = frontier.requeue_all(con, options.site) if options.refresh else 0
    if options.source == "site":
        # Threads an earlier run took from an archive: ask the live site for them again.
        requeued += frontier.requeue_archived(con, options.site)
    new = frontier.enqueue(con, options.site, explicit).new if explicit else 0
    return started, requeued, new


def end_run(con: duckdb.DuckDBPyConnection, site: str, summary: SyncSummary) -> None:
    """Close the run's record with its outcome and summary (and how many threads are still queued)."""
    summary.queued_left = frontier.pending(con, site)
    con.execute("UPDATE sync_runs SET finished_at = ?, outcome = ?, summary = ? WHERE run_id = ?",
                [datetime.now(timezone.utc), summary.outcome, json.dumps(summary.as_json()), summary.run_id])
