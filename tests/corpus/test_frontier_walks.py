"""Frontier support for early-stopping re-syncs: listing_changed_at, changed_since, listing_walks."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from corpus import frontier
from corpus.frontier import FrontierItem
from corpus.schema import MIGRATIONS
from tests.support.corpus_db import last_complete_walk

SITE = "http://127.0.0.1:9"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def con():
    c = duckdb.connect()
    for step in MIGRATIONS:
        c.execute(step)
    yield c
    c.close()


def url(slug):
    return f"{SITE}/request/{slug}"


def item(slug, sig):
    return FrontierItem(url=url(slug), url_title=slug, listing_signature=sig)


def changed_at(con, slug):
    return con.execute("SELECT listing_changed_at FROM frontier WHERE url_title = ?", [slug]).fetchone()[0]


def test_listing_changed_at_moves_only_when_the_listing_entry_changes(con):
    frontier.enqueue(con, SITE, [item("a", "2025-01-01T10:00:00+00:00|waiting_response"),
                                 item("b", "2025-01-02T10:00:00+00:00|successful")], now=T0)
    assert changed_at(con, "a") == T0 and changed_at(con, "b") == T0
    later = T0 + timedelta(days=30)
    frontier.enqueue(con, SITE, [
        # the same event, now overdue: no new event, the listing does not move it
        item("a", "2025-01-01T10:00:00+00:00|waiting_response_overdue"),
        # a new event
        item("b", "2025-02-20T09:00:00+00:00|successful"),
    ], now=later)
    assert changed_at(con, "a") == T0
    assert changed_at(con, "b") == later
    # the stored signature itself is always the latest one
    sigs = dict(con.execute("SELECT url_title, listing_signature FROM frontier").fetchall())
    assert sigs["a"].endswith("|waiting_response_overdue")


def test_changed_since_counts_new_changed_and_recently_seen_items(con):
    frontier.enqueue(con, SITE, [item("old", "t1|successful"), item("drift", "t2|waiting_response")], now=T0)
    walk_done = T0 + timedelta(minutes=1)
    frontier.enqueue(con, SITE, [item("recent", "t3|successful")], now=T0 + timedelta(minutes=5))
    assert frontier.changed_since(con, [(url("old"), "t1|successful")], walk_done) == 0
    assert frontier.changed_since(con, [(url("drift"), "t2|waiting_response_very_overdue")], walk_done) == 0
    assert frontier.changed_since(con, [(url("old"), "t9|successful")], walk_done) == 1  # new event
    assert frontier.changed_since(con, [(url("old"), "t1|refused")], walk_done) == 1  # new status
    assert frontier.changed_since(con, [(url("unknown"), "t1|successful")], walk_done) == 1
    # known with this signature, but only since after the walk finished
    assert frontier.changed_since(con, [(url("recent"), "t3|successful")], walk_done) == 1
    page = [(url("old"), "t1|successful"), (url("recent"), "t3|successful"), (url("new"), "t4|successful")]
    assert frontier.changed_since(con, page, walk_done) == 2
    assert frontier.changed_since(con, [], walk_done) == 0


def test_rows_from_before_the_migration_count_as_long_known(con):
    frontier.enqueue(con, SITE, [item("a", "t1|successful")], now=T0)
    con.execute("UPDATE frontier SET listing_changed_at = NULL")
    assert frontier.changed_since(con, [(url("a"), "t1|successful")], T0 - timedelta(days=1)) == 0


def test_walks_are_recorded_per_target_and_dates(con):
    assert last_complete_walk(con, SITE, "authority", "home_office") is None
    frontier.record_walk(con, SITE, "authority", "home_office", pages=4, now=T0)
    frontier.record_walk(con, SITE, "authority", "home_office", date(2024, 1, 1), None, pages=2, now=T0)
    later = T0 + timedelta(hours=1)
    frontier.record_walk(con, SITE, "authority", "home_office", pages=1, stopped_early=True, now=later)
    assert last_complete_walk(con, SITE, "authority", "home_office") == later
    assert last_complete_walk(con, SITE, "authority", "home_office", date(2024, 1, 1)) == T0
    assert last_complete_walk(con, SITE, "user", "home_office") is None
    assert last_complete_walk(con, "http://other", "authority", "home_office") is None
    assert frontier.complete_walks(con, SITE) == {
        ("authority", "home_office", None, None): later,
        ("authority", "home_office", date(2024, 1, 1), None): T0,
    }
    rows = con.execute("SELECT pages, stopped_early FROM listing_walks WHERE since IS NULL").fetchall()
    assert rows == [(1, True)]  # one row per target: the latest walk
