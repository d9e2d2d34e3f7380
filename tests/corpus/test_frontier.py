"""The crawl frontier: set-based enqueue, signatures, states, counts."""

from __future__ import annotations

import duckdb
import pytest

from corpus import frontier
from corpus.frontier import FrontierItem
from corpus.schema import MIGRATIONS
from tests.support.corpus_db import failed_urls

SITE = "http://127.0.0.1:9"


@pytest.fixture
def con():
    c = duckdb.connect()
    for step in MIGRATIONS:
        c.execute(step)
    yield c
    c.close()


def item(slug, sig=None, **kw):
    return FrontierItem(url=f"{SITE}/request/{slug}", url_title=slug, listing_signature=sig, **kw)


def test_new_urls_are_queued_once(con):
    stats = frontier.enqueue(con, SITE, [item("a", "s1"), item("b", "s1"), item("a", "s2")])
    assert (stats.new, stats.requeued, stats.unchanged) == (2, 0, 0)
    assert frontier.counts(con, SITE)["queued"] == 2
    assert con.execute("SELECT listing_signature FROM frontier WHERE url_title='a'").fetchone()[0] == "s2"
    again = frontier.enqueue(con, SITE, [item("a", "s2")])
    assert (again.new, again.requeued, again.unchanged) == (0, 0, 1)


def test_done_with_same_signature_is_not_requeued_but_changed_one_is(con):
    frontier.enqueue(con, SITE, [item("a", "s1"), item("b", "s1")])
    taken = frontier.take(con, SITE, 10)
    frontier.mark_done(con, [(q.url, q.listing_signature) for q in taken])
    assert frontier.counts(con, SITE)["done"] == 2
    stats = frontier.enqueue(con, SITE, [item("a", "s1"), item("b", "s2")])
    assert (stats.new, stats.requeued, stats.unchanged) == (0, 1, 1)
    assert [q.url_title for q in frontier.take(con, SITE, 10)] == ["b"]


def test_force_requeues_done_url(con):
    frontier.enqueue(con, SITE, [item("a")])
    frontier.mark_done(con, [(f"{SITE}/request/a", None)])
    assert frontier.enqueue(con, SITE, [item("a")]).unchanged == 1
    assert frontier.enqueue(con, SITE, [item("a", force=True)]).requeued == 1
    assert frontier.pending(con, SITE) == 1


def test_requeue_all_for_refresh(con):
    frontier.enqueue(con, SITE, [item(s, "x") for s in "abc"])
    frontier.mark_done(con, [(f"{SITE}/request/{s}", "x") for s in "ab"])
    frontier.mark_removed(con, [f"{SITE}/request/c"])
    assert frontier.requeue_all(con, SITE) == 3
    assert frontier.counts(con, SITE)["queued"] == 3


def test_signature_moving_during_fetch_keeps_url_queued(con):
    frontier.enqueue(con, SITE, [item("a", "s1")])
    (q,) = frontier.take(con, SITE, 1)
    frontier.enqueue(con, SITE, [item("a", "s2")])  # the listing moved on meanwhile
    frontier.mark_done(con, [(q.url, q.listing_signature)])
    assert frontier.counts(con, SITE)["queued"] == 1
    (q2,) = frontier.take(con, SITE, 1)
    frontier.mark_done(con, [(q2.url, q2.listing_signature)])
    assert frontier.counts(con, SITE)["done"] == 1


def test_failures_count_attempts_then_fail_for_good(con):
    frontier.enqueue(con, SITE, [item("a")])
    url = f"{SITE}/request/a"
    assert frontier.mark_failed(con, [(url, "timeout")], max_attempts=2) == []
    assert frontier.counts(con, SITE)["queued"] == 1
    assert frontier.mark_failed(con, [(url, "HTTP 500")], max_attempts=2) == [url]
    assert frontier.counts(con, SITE)["failed"] == 1
    assert failed_urls(con, SITE) == [(url, "HTTP 500")]
    assert frontier.take(con, SITE, 5) == []
    # rediscovery gives a failed URL another chance
    assert frontier.enqueue(con, SITE, [item("a")]).requeued == 1


def test_blocked_urls_are_taken_again_and_removed_kept(con):
    frontier.enqueue(con, SITE, [item("a"), item("b"), item("c")])
    frontier.mark_blocked(con, [f"{SITE}/request/a"])
    frontier.mark_removed(con, [f"{SITE}/request/b"])
    c = frontier.counts(con, SITE)
    assert (c["blocked"], c["removed"], c["queued"]) == (1, 1, 1)
    assert sorted(q.url_title for q in frontier.take(con, SITE, 10)) == ["a", "c"]
    assert con.execute("SELECT count(*) FROM frontier").fetchone()[0] == 3


def test_take_orders_by_priority_and_excludes_in_flight(con):
    frontier.enqueue(con, SITE, [item("low"), item("high", priority=5), item("mid", priority=1)])
    assert [q.url_title for q in frontier.take(con, SITE, 2)] == ["high", "mid"]
    assert [q.url_title for q in frontier.take(con, SITE, 5, exclude=[f"{SITE}/request/high"])] == ["mid", "low"]


def test_enqueue_many_is_set_based(con):
    items = [item(f"r{i}", f"s{i}") for i in range(5000)]
    stats = frontier.enqueue(con, SITE, items)
    assert stats.new == 5000
    assert frontier.counts(con, SITE)["queued"] == 5000
