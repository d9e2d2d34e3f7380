"""A sync's derived tables and search index: when each is brought up to date, and under which memory cap."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from corpus.db import connect
from corpus.load import load_threads
from corpus.sync import derived as derived_module
from corpus.sync.derived import SEARCH_MEMORY_LIMIT, DerivedTables
from tests.corpus.factories import T0, item, make_thread

pytest.importorskip("tantivy")


class Jobs:
    """Stands in for the reader-aware writer: runs each job in a transaction of its own, noting its cap."""

    def __init__(self, db):
        self.db = db
        self.calls: list[tuple[str, str | None]] = []

    async def call(self, fn, *args, memory_limit=None, wait=0.0):
        self.calls.append((fn.__name__, memory_limit))
        con = connect(self.db)
        try:
            con.execute("BEGIN TRANSACTION")
            fn(con, *args)
            con.execute("COMMIT")
        finally:
            con.close()


def _load(db, numbers) -> list[object]:
    con = connect(db)
    try:
        con.execute("BEGIN TRANSACTION")
        load_threads(con, [item(make_thread(n)) for n in numbers])
        con.execute("COMMIT")
    finally:
        con.close()
    return list(numbers)  # as the batch's outcomes


def _indexed(db) -> int:
    con = connect(db)
    try:
        return con.execute("SELECT count(*) FROM search_docs").fetchall()[0][0]
    finally:
        con.close()


def test_a_long_run_updates_the_search_index_every_search_every_threads(tmp_path, monkeypatch):
    """However long the run, one update of the index adds at most about SEARCH_EVERY threads' texts, under its
    own small cap; the rebuild at the end leaves the index to a job of its own."""
    monkeypatch.setattr(derived_module, "SEARCH_EVERY", 5)
    db = tmp_path / "d.duckdb"
    jobs = Jobs(db)
    reporter = SimpleNamespace(progress=lambda *a: None, log=lambda *a, **k: None)
    derived = DerivedTables(SimpleNamespace(merged_since=None), reporter, jobs, memory_limit="1GB")
    derived.exist, derived.run_started_at = True, T0

    asyncio.run(derived.after_batch(SimpleNamespace(outcomes=_load(db, range(1, 4)))))
    assert jobs.calls == [] and derived.unindexed == 3  # 3 threads: not yet

    asyncio.run(derived.after_batch(SimpleNamespace(outcomes=_load(db, range(4, 7)))))
    assert jobs.calls == [("update_search", SEARCH_MEMORY_LIMIT)]
    assert _indexed(db) == 6 * 3 and derived.unindexed == 0  # three messages a thread

    asyncio.run(derived.after_batch(SimpleNamespace(outcomes=_load(db, range(7, 9)))))
    asyncio.run(derived.at_the_end(wait=0.0))
    assert [name for name, _ in jobs.calls] == ["update_search", "derive", "update_search"]
    assert jobs.calls[1][1] == "1GB" and jobs.calls[2][1] == SEARCH_MEMORY_LIMIT
    assert _indexed(db) == 8 * 3 and derived.at_end
    con = connect(db)
    try:
        assert con.execute("SELECT count(*) FROM request_timeline").fetchall() == [(8,)]
    finally:
        con.close()
