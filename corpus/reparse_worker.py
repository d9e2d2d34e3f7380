"""The step a reparse runs in its worker processes: stored page rows in, staged rows out (pure, no database).

Kept apart from ``corpus.reparse`` so the pool's processes import only what
parsing and staging need.  A chunk of stored pages becomes one Arrow table per
core table (``corpus.load.stage_items``, rows keyed as their pages alone say)
plus a short record per page (loaded, failed, skipped), so the writer only
appends tables and the parsed records never cross between processes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from corpus.load import LoadItem, stage_items
from corpus.pipeline import StoredRow, stored_outcome


@dataclass(slots=True)
class PageResult:
    """What became of one stored request page."""

    url: str
    site: str
    kind: str  # 'loaded' | 'parse_failed' | 'skipped'
    failure_kind: str | None = None
    message: str | None = None
    page_sha256: str | None = None
    json_problem: str | None = None  # loaded from the HTML alone: why the stored JSON was not used


@dataclass(slots=True)
class StagedChunk:
    tables: dict[str, pa.Table] = field(default_factory=dict)
    pages: list[PageResult] = field(default_factory=list)
    cpu_seconds: float = 0.0  # this process's CPU time for the chunk
    pid: int = 0
    process_cpu: float = 0.0  # this process's CPU time since it started (receiving work and imports included)


def stage_chunk(rows: list[StoredRow], order: list[tuple[datetime | None, int]]) -> StagedChunk:
    """Parse and stage stored page rows; ``order[i]`` is row i's (fetched_at, store position)."""
    started = time.process_time()
    out = StagedChunk()
    items: list[LoadItem] = []
    item_order: list[tuple] = []
    for row, key in zip(rows, order):
        outcome = stored_outcome(row)
        if outcome is None:
            out.pages.append(PageResult(url=row[0], site=row[1], kind="skipped"))
            continue
        page = PageResult(url=outcome.page_url or outcome.url, site=outcome.site, kind=outcome.kind,
                          page_sha256=outcome.page_sha256)
        if outcome.kind == "loaded" and outcome.load_item is not None:
            page.json_problem = outcome.json_problem
            items.append(outcome.load_item)
            item_order.append(key)
        elif outcome.failure is not None:
            page.kind = "parse_failed"
            page.failure_kind, page.message = outcome.failure.kind, outcome.failure.message
        out.pages.append(page)
    out.tables = _stage_isolating(items, item_order, out.pages)
    out.cpu_seconds = time.process_time() - started
    out.pid, out.process_cpu = os.getpid(), time.process_time()
    return out


def _stage_isolating(items: list[LoadItem], order: list[tuple], pages: list[PageResult]) -> dict[str, pa.Table]:
    """Stage the chunk's threads; when that fails, stage them one by one and keep the ones that fail as load errors."""
    try:
        return stage_items(items, order)
    except Exception:  # a value the tables cannot hold: find the threads that have one
        pass
    kept: list[LoadItem] = []
    kept_order: list[tuple] = []
    by_url = {p.url: p for p in pages if p.kind == "loaded"}
    for item, key in zip(items, order):
        try:
            stage_items([item], [key])
        except Exception as exc:
            page = by_url[item.source_url]
            first = str(exc).splitlines()[0] if str(exc) else ""
            page.kind, page.failure_kind = "parse_failed", "load_error"
            page.message = f"the loader could not store this thread ({type(exc).__name__}: {first[:300]}); page kept"
            page.json_problem = None
            continue
        kept.append(item)
        kept_order.append(key)
    return stage_items(kept, kept_order)
