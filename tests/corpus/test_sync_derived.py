"""A sync's derived tables and search index: when each is brought up to date, and under which memory cap."""

from __future__ import annotations

import asyncio
from datetime import timedelta
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


def _load(db, numbers, fetched_at=None) -> SimpleNamespace:
    """Threads written as one batch: its result, as the writer reports it."""
    items = [item(make_thread(n), fetched_at=fetched_at) for n in numbers]
    con = connect(db)
    try:
        con.execute("BEGIN TRANSACTION")
        load_threads(con, items)
        con.execute("COMMIT")
    finally:
        con.close()
    return SimpleNamespace(outcomes=[SimpleNamespace(load_item=it) for it in items], spool=None)


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

    asyncio.run(derived.after_batch(_load(db, range(1, 4))))
    assert jobs.calls == [] and derived.unindexed == 3  # 3 threads: not yet

    asyncio.run(derived.after_batch(_load(db, range(4, 7))))
    assert jobs.calls == [("update_search", SEARCH_MEMORY_LIMIT)]
    assert _indexed(db) == 6 * 3 and derived.unindexed == 0  # three messages a thread

    asyncio.run(derived.after_batch(_load(db, range(7, 9))))
    asyncio.run(derived.at_the_end(wait=0.0))
    assert [name for name, _ in jobs.calls] == ["update_search", "derive", "update_search"]
    assert jobs.calls[1][1] == "1GB" and jobs.calls[2][1] == SEARCH_MEMORY_LIMIT
    assert _indexed(db) == 8 * 3 and derived.at_end
    con = connect(db)
    try:
        assert con.execute("SELECT count(*) FROM request_timeline").fetchall() == [(8,)]
    finally:
        con.close()


def test_each_search_update_reads_from_the_one_before(tmp_path):
    """An update reads the texts loaded since the update before it, not since the run began; a thread fetched
    before an update but written after it (held while a reader had the file) is read by the next one."""
    db = tmp_path / "d.duckdb"
    jobs = Jobs(db)
    reporter = SimpleNamespace(progress=lambda *a: None, log=lambda *a, **k: None)
    writer = SimpleNamespace(merged_since=None)
    derived = DerivedTables(writer, reporter, jobs, memory_limit="1GB")
    derived.exist, derived.run_started_at = True, T0
    assert derived.search_since() == T0

    first = T0 + timedelta(days=1)
    derived.note_written(_load(db, range(1, 4), fetched_at=first))
    asyncio.run(derived.search(wait=0.0))
    assert _indexed(db) == 3 * 3
    began = derived.indexed_until
    assert began is not None and began > first and derived.search_since() == began

    held = T0 + timedelta(days=2)  # fetched long before it is written
    derived.note_written(_load(db, range(4, 6), fetched_at=held))
    assert derived.search_since() == held
    asyncio.run(derived.search(wait=0.0))
    assert _indexed(db) == 5 * 3 and derived.unindexed_from is None

    writer.merged_since = T0 - timedelta(days=1)  # a spool written: back to its earliest thread
    assert derived.search_since() == T0 - timedelta(days=1)
