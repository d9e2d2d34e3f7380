"""The writer: one set of rules for every outcome, and a thread the loader cannot store costs only itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from corpus import frontier, pagestore
from corpus.errors import DatabaseLocked
from corpus.frontier import FrontierItem
from corpus.pipeline import Failure, ThreadOutcome
from corpus.writer import Take, Writer
from tests.corpus.factories import SITE, item, make_thread
from tests.support.corpus_db import rows

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def _url(n: int) -> str:
    return f"{SITE}/request/thread_{n}"


def _loaded(n: int, origin="site", **kw) -> ThreadOutcome:
    it = item(make_thread(n, **kw))
    page = pagestore.make_page(url=_url(n), site=SITE, kind="request_html", status=200, final_url=None,
                               headers=None, body=f"<html>thread {n}</html>".encode(), fetched_at=NOW)
    return ThreadOutcome(kind="loaded", url=_url(n), site=SITE, origin=origin, url_title=f"thread_{n}",
                         signature=f"sig{n}", page_url=_url(n), page_sha256=page.sha256,
                         pages=[page] if origin != "store" else [], load_item=it)


def _removed(n: int) -> ThreadOutcome:
    return ThreadOutcome(kind="removed", url=_url(n), site=SITE, origin="site", url_title=f"thread_{n}",
                         failure=Failure("gone", "HTTP 410"))


@pytest.fixture
def writer(tmp_path):
    w = Writer(tmp_path / "w.duckdb", site=SITE)
    w.call(lambda con: frontier.enqueue(con, SITE, [FrontierItem(url=_url(n), url_title=f"thread_{n}")
                                                    for n in range(1, 6)]))
    yield w
    w.close()


def _write(w: Writer, *outcomes: ThreadOutcome):
    for o in outcomes:
        w.add(o)
    return w.write()


def test_a_batch_is_written_whole_with_its_pages_and_frontier_states(writer):
    result = _write(writer, _loaded(1), _loaded(2), _removed(3))
    assert result.load.requests_new == 2 and result.isolated == [] and len(result.outcomes) == 3
    db = writer.db_path
    assert rows(db, "SELECT url, state FROM frontier WHERE url_title IN ('thread_1','thread_2','thread_3') "
                     "ORDER BY 1") == [(_url(1), "done"), (_url(2), "done"), (_url(3), "removed")]
    assert rows(db, "SELECT count(*) FROM pages") == [(2,)]


def test_a_thread_the_loader_cannot_store_costs_only_itself(writer):
    poison = _loaded(2)
    assert poison.load_item is not None
    poison.load_item.parsed.messages[0].message_id = 2**63  # past BIGINT: the loader raises
    result = _write(writer, _loaded(1), poison, _loaded(3))
    assert [o.url for o in result.isolated] == [_url(2)]
    assert result.load.requests_new == 2
    db = writer.db_path
    assert sorted(r[0] for r in rows(db, "SELECT url_title FROM requests")) == ["thread_1", "thread_3"]
    kind, message, sha = rows(db, "SELECT kind, message, page_sha256 FROM parse_failures WHERE url = ?",
                               [_url(2)])[0]
    assert kind == "load_error" and "could not store" in message and sha == poison.page_sha256
    assert rows(db, "SELECT count(*) FROM pages WHERE url = ?", [_url(2)]) == [(1,)]  # its page is kept
    # the frontier moves on: a rerun does not stop at the same thread again
    assert rows(db, "SELECT state FROM frontier WHERE url = ?", [_url(2)]) == [("done",)]


def test_every_thread_failing_leaves_nothing_half_written(writer, monkeypatch):
    from corpus import load

    monkeypatch.setitem(load._UPSERT_SQL, "messages", ["SELECT no_such_column FROM messages"])
    monkeypatch.setitem(load._INSERT_NEW_SQL, "messages", "SELECT no_such_column FROM messages")
    result = _write(writer, _loaded(1), _loaded(2))
    assert len(result.isolated) == 2
    db = writer.db_path
    assert rows(db, "SELECT count(*) FROM requests") == [(0,)]  # each thread's transaction rolled back whole
    assert rows(db, "SELECT count(*) FROM parse_failures WHERE kind = 'load_error'") == [(2,)]


def test_a_batch_that_cannot_be_written_is_put_back(writer, monkeypatch):
    from corpus import db as corpus_db

    def locked(*a, **kw):
        raise DatabaseLocked("w.duckdb is open in process 1")

    monkeypatch.setattr(corpus_db, "connect_when_free", locked)
    writer.add(_loaded(1))
    writer.discover([FrontierItem(url=_url(9), url_title="thread_9")])
    with pytest.raises(DatabaseLocked):
        writer.write()
    assert [o.url for o in writer.pending.outcomes] == [_url(1)] and len(writer.pending.discovered) == 1
    monkeypatch.undo()
    result = writer.write(Take(SITE, 10))
    assert result.load.requests_new == 1 and result.enqueued_new == 1
    assert {q.url for q in result.taken} == {_url(n) for n in (2, 3, 4, 5, 9)} and result.pending == 5


def test_only_the_live_site_sets_or_clears_removed(writer):
    _write(writer, _loaded(1), _loaded(2))
    _write(writer, _removed(1), _removed(2))
    db = writer.db_path
    assert rows(db, "SELECT bool_and(removed) FROM requests") == [(True,)]
    _write(writer, _loaded(1, origin="store"), _loaded(2, origin="files"))  # a reparse, an import
    assert rows(db, "SELECT bool_and(removed) FROM requests") == [(True,)]
    unchanged = ThreadOutcome(kind="unchanged", url=_url(2), site=SITE, origin="site", url_title="thread_2")
    _write(writer, _loaded(1), unchanged)  # the site serves both again (200, and a 304)
    assert rows(db, "SELECT bool_or(removed) FROM requests") == [(False,)]


def test_a_parse_failure_is_recorded_then_cleared_by_a_later_load(writer):
    bad = ThreadOutcome(kind="parse_failed", url=_url(4), site=SITE, origin="site", url_title="thread_4",
                        page_url=_url(4), failure=Failure("markup_changed", "no #request_status"))
    _write(writer, bad)
    db = writer.db_path
    assert rows(db, "SELECT kind FROM parse_failures") == [("markup_changed",)]
    assert rows(db, "SELECT state FROM frontier WHERE url = ?", [_url(4)]) == [("done",)]
    _write(writer, _loaded(4, origin="store"))
    assert rows(db, "SELECT count(*) FROM parse_failures") == [(0,)]


def test_a_fetch_failure_fails_the_url_for_good_and_says_why(writer):
    failed = ThreadOutcome(kind="failed", url=_url(5), site=SITE, origin="site", url_title="thread_5",
                           failure=Failure("fetch", "HTTP 503"))
    result = _write(writer, failed)
    assert result.failed_for_good == [_url(5)]
    assert rows(writer.db_path, "SELECT state, last_error FROM frontier WHERE url = ?", [_url(5)]) == [
        ("failed", "HTTP 503")]


def test_listing_walks_are_recorded_with_their_discoveries(writer):
    from corpus.writer import FinishedWalk

    writer.discover([FrontierItem(url=_url(7), url_title="thread_7", listing_signature="s")])
    writer.finish_walk(FinishedWalk("authority", "council_1", None, None, NOW - timedelta(minutes=1), 3, False))
    result = writer.write()
    assert result.enqueued_new == 1
    assert rows(writer.db_path, "SELECT target_value, pages FROM listing_walks") == [("council_1", 3)]


@pytest.mark.parametrize("failures, last", [(1, "twice the cap"), (2, "no cap")])
def test_a_job_over_its_cap_runs_again_under_twice_the_cap_then_without_one(tmp_path, failures, last):
    import duckdb

    w = Writer(tmp_path / "w.duckdb", site=SITE, memory_limit="20MB")
    limits: list[float] = []

    def job(con):
        value, unit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0].split()
        limits.append(float(value) * {"MiB": 1, "GiB": 1024}[unit])
        if len(limits) <= failures:
            raise duckdb.OutOfMemoryException("Out of Memory Error: more than the test allows")
        return "written"

    try:
        assert w.call(job) == "written"
    finally:
        w.close()
    assert len(limits) == failures + 1
    assert limits[0] == pytest.approx(20e6 / 2**20, rel=0.01)
    if last == "twice the cap":
        assert limits[1] == pytest.approx(2 * limits[0], rel=0.01)
    else:
        assert limits[1] == pytest.approx(2 * limits[0], rel=0.01) and limits[2] > 1024  # DuckDB's own default


def test_twice_a_limit():
    from corpus.writer import twice

    assert [twice(x) for x in ("48MB", "1MB", "1.5GB", "96 MB", "unlimited")] == ["96MB", "2MB", "3GB", "192MB", "unlimited"]


def test_the_sync_malloc_policy_caps_arenas_and_fixes_the_mmap_threshold(monkeypatch):
    import corpus.writer as writer_module

    calls = []

    class FakeLibc:
        def malloc_trim(self, pad):
            calls.append(("trim", pad))

        def mallopt(self, param, value):
            calls.append(("mallopt", param, value))

    monkeypatch.setattr(writer_module, "_LIBC", FakeLibc())
    writer_module.sync_malloc_policy(arenas=3)
    # M_ARENA_MAX is -8 and M_MMAP_THRESHOLD -3 in glibc's malloc.h
    assert ("mallopt", -8, 3) in calls
    assert ("mallopt", -3, writer_module.MMAP_THRESHOLD) in calls
    assert writer_module.MMAP_THRESHOLD == 256 * 1024  # DuckDB's buffers are 256 KB: they are mapped, not kept in heaps

    monkeypatch.setattr(writer_module, "_LIBC", False)  # not glibc: nothing to set
    calls.clear()
    writer_module.sync_malloc_policy()
    assert calls == []
