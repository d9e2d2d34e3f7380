"""Re-syncs stop walking an authority's listing at the first page with nothing new.

Only after a walk of the same target finished in full: a walk cut short (a
listing page that could not be read, a bot challenge, a killed process) must
not let the next run stop early and miss older threads.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.integration.conftest import query, start_cli
from tests.support.sync import sync as run_sync

FAST = dict(rate=500, fetch_options={"backoff_base": 0.01, "max_attempts": 2})


@pytest.fixture
def big_site(fake_site_factory):
    """A sample site whose biggest authority lists a few hundred requests (about ten pages)."""
    from corpus.sample_site import generate_corpus
    from corpus.sample_site.generate import big_authority_url_name

    corpus = generate_corpus(500, seed=11, big_authority_share=0.5, messages_per_request=(1, 3))
    big = big_authority_url_name(11)
    listed = {r.url_title for r in corpus.requests if r.authority_url_name == big and r.prominence == "normal"
              and r.indexed_events()}
    assert 150 < len(listed) <= 500  # several pages, no date slices
    return fake_site_factory(corpus), big, listed


def listing_hits(site, authority):
    return [h for h in site.hits if h.path == f"/body/{authority}"]


def thread_hits(site):
    return {h.path for h in site.hits if h.path.startswith("/request/")}


def walks(dbp, authority):
    return query(dbp, "SELECT pages, stopped_early FROM listing_walks WHERE target_value = ?", [authority])


def stored(dbp, authority):
    return {r[0] for r in query(dbp, "SELECT url_title FROM requests WHERE authority_url_name = ?", [authority])}


def test_unchanged_rerun_reads_one_listing_page(big_site, tmp_path):
    site, big, listed = big_site
    dbp = tmp_path / "c.duckdb"
    first = run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    assert first.new_threads == len(listed)
    pages = len(listing_hits(site, big))
    assert pages == -(-len(listed) // 25)
    assert walks(dbp, big) == [(pages, False)]

    site.clear_hits()
    again = run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    assert [h.query for h in listing_hits(site, big)] == [""]  # page 1 only
    assert thread_hits(site) == set()
    assert (again.fetched, again.new_threads, again.exit_code) == (0, 0, 0)
    assert walks(dbp, big) == [(1, True)]


def test_a_thread_changed_deep_in_the_listing_is_found_at_the_top(big_site, tmp_path):
    site, big, listed = big_site
    dbp = tmp_path / "c.duckdb"
    run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    # The request at the very bottom of the listing gets a reply today.
    oldest = min((r for r in site.corpus.requests if r.url_title in listed),
                 key=lambda r: r.latest_listing_event()["created_at"])
    site.bump(oldest.url_title, direction="incoming", paragraphs=["Please find our reply attached."],
              sent_at=datetime.now(timezone.utc) - timedelta(minutes=5))
    messages_before = query(dbp, "SELECT count(*) FROM messages")[0][0]

    site.clear_hits()
    again = run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    assert thread_hits(site) == {f"/request/{oldest.url_title}", f"/request/{oldest.url_title}.json"}
    assert again.new_messages == 1 and again.updated_threads == 1
    assert query(dbp, "SELECT count(*) FROM messages")[0][0] == messages_before + 1
    # page 1 holds the changed thread, page 2 shows nothing new: the walk stops there
    assert [h.query for h in listing_hits(site, big)] == ["", "page=2"]


def test_refresh_walks_the_whole_listing(big_site, tmp_path):
    site, big, listed = big_site
    dbp = tmp_path / "c.duckdb"
    run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    site.clear_hits()
    run_sync(db_path=dbp, site=site.url, authorities=[big], refresh=True, **FAST)
    assert len(listing_hits(site, big)) == -(-len(listed) // 25)


def test_a_walk_cut_short_by_an_unreadable_page_does_not_allow_an_early_stop(big_site, tmp_path):
    site, big, listed = big_site
    dbp = tmp_path / "c.duckdb"
    site.add_fault(rf"^/body/{big}\?page=3$", "status", times=None, code=500)
    first = run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    assert first.new_threads == 50  # pages 1 and 2 only
    assert walks(dbp, big) == []

    site.clear_faults()
    site.clear_hits()
    again = run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    assert stored(dbp, big) == listed
    assert again.new_threads == len(listed) - 50
    assert len(listing_hits(site, big)) == -(-len(listed) // 25)


def test_a_walk_stopped_by_a_bot_challenge_does_not_allow_an_early_stop(big_site, tmp_path):
    site, big, listed = big_site
    dbp = tmp_path / "c.duckdb"
    run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    # New requests arrive; the next run is challenged half-way down the listing.
    newest = sorted(listed)[:40]
    now = datetime.now(timezone.utc)
    for i, slug in enumerate(newest):
        site.bump(slug, direction="incoming", sent_at=now - timedelta(minutes=60 - i))
    site.add_fault(rf"^/body/{big}\?page=2$", "challenge", times=None)
    blocked = run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    assert blocked.outcome == "blocked"
    assert walks(dbp, big)[0][1] is False  # still the first run's full walk

    site.clear_faults()
    run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    got = dict(query(dbp, "SELECT url_title, count(*) FROM messages m JOIN requests r USING (site, request_key) "
                          "WHERE r.authority_url_name = ? GROUP BY 1", [big]))
    want = {r.url_title: len(r.messages) for r in site.corpus.requests if r.url_title in listed}
    assert got == want


def test_a_killed_first_walk_then_a_rerun_reaches_every_thread(big_site, tmp_path):
    site, big, listed = big_site
    dbp = tmp_path / "c.duckdb"
    proc = start_cli("sync", "--site", site.url, "--db", dbp, "--authority", big, "--rate", "20", "--quiet")
    deadline = time.monotonic() + 60
    try:
        while not site.hits_for(rf"^/body/{big}\?page=4$") and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert site.hits_for(rf"^/body/{big}\?page=4$"), "the first run never reached page 4 of the listing"
    assert not site.hits_for(rf"^/body/{big}\?page=8$"), "the first run walked the listing before it was killed"

    again = run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    assert again.exit_code == 0
    assert stored(dbp, big) == listed
    assert walks(dbp, big) == [(-(-len(listed) // 25), False)]
