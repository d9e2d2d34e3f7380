"""Discovery through listings, incremental re-sync and --limit, in process against the sample site."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.conftest import query
from tests.support.sync import sync as run_sync

FAST = dict(rate=500, fetch_options={"backoff_base": 0.01})


def public(corpus, authority):
    return {r.url_title for r in corpus.requests if r.authority_url_name == authority and r.prominence == "normal"}


def test_every_request_of_a_body_with_more_than_500_is_found(fake_site_factory, tmp_path):
    from corpus.sample_site import generate_corpus
    from corpus.sample_site.generate import big_authority_url_name

    corpus = generate_corpus(1100, seed=7, big_authority_share=0.5)
    big = big_authority_url_name(7)
    expected = public(corpus, big)
    assert len(expected) > 500
    site = fake_site_factory(corpus)
    dbp = tmp_path / "big.duckdb"
    summary = run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    assert summary.exit_code == 0 and summary.outcome == "complete"
    got = {r[0] for r in query(dbp, "SELECT url_title FROM requests WHERE authority_url_name = ?", [big])}
    assert got == expected
    assert summary.new_threads == len(expected)
    assert query(dbp, "SELECT count(*) FROM frontier WHERE state <> 'done'") == [(0,)]

    # A second run over the unchanged site walks listings only.
    site.clear_hits()
    again = run_sync(db_path=dbp, site=site.url, authorities=[big], **FAST)
    thread_hits = [h for h in site.hits if h.path.startswith("/request/")]
    assert thread_hits == []
    assert len(site.hits) <= len(expected) / 25 + 5
    assert (again.fetched, again.new_threads, again.exit_code) == (0, 0, 0)


def test_resync_after_a_new_reply_fetches_that_thread_only(fake_site, tmp_path):
    corpus = fake_site.corpus
    authority = max(corpus.authorities, key=lambda a: len(public(corpus, a)))
    threads = public(corpus, authority)
    dbp = tmp_path / "inc.duckdb"
    first = run_sync(db_path=dbp, site=fake_site.url, authorities=[authority], **FAST)
    assert first.new_threads == len(threads)
    messages_before = query(dbp, "SELECT count(*) FROM messages")[0][0]

    target = sorted(threads)[0]
    req = corpus.by_slug(target)
    last = max(m.event_time for m in req.messages)
    fake_site.bump(target, direction="incoming", paragraphs=["Please find our reply attached."],
                   sent_at=last + timedelta(days=2))
    fake_site.clear_hits()
    second = run_sync(db_path=dbp, site=fake_site.url, authorities=[authority], **FAST)
    fetched = {h.path for h in fake_site.hits if h.path.startswith("/request/")}
    assert fetched == {f"/request/{target}", f"/request/{target}.json"}
    assert query(dbp, "SELECT count(*) FROM messages")[0][0] == messages_before + 1
    assert second.new_messages == 1 and second.fetched == 1
    # the re-sync rebuilt the derived rows of what it touched; a whole rebuild agrees
    derived = ["SELECT * FROM request_timeline ORDER BY site, request_key", "SELECT * FROM refusal_citations ORDER BY ALL"]
    after_sync = [query(dbp, sql) for sql in derived]
    assert query(dbp, "SELECT t.message_count = count(m.message_id) FROM request_timeline t "
                      "JOIN messages m USING (site, request_key) WHERE t.url_title = ? GROUP BY t.message_count",
                 [target]) == [(True,)]
    from corpus.db import connect
    from corpus.derive import rebuild

    con = connect(dbp)
    try:
        rebuild(con)
    finally:
        con.close()
    assert [query(dbp, sql) for sql in derived] == after_sync


def test_refresh_refetches_known_threads(fake_site, tmp_path):
    corpus = fake_site.corpus
    authority = sorted(corpus.authorities)[0]
    threads = public(corpus, authority)
    dbp = tmp_path / "refresh.duckdb"
    run_sync(db_path=dbp, site=fake_site.url, authorities=[authority], **FAST)
    fake_site.clear_hits()
    summary = run_sync(db_path=dbp, site=fake_site.url, authorities=[authority], refresh=True, **FAST)
    pages = {h.path for h in fake_site.hits if h.path.startswith("/request/") and not h.path.endswith(".json")}
    assert pages == {f"/request/{t}" for t in threads}
    assert summary.new_threads == 0 and summary.fetched == len(threads)


def test_limit_caps_new_threads(fake_site, tmp_path):
    corpus = fake_site.corpus
    authority = max(corpus.authorities, key=lambda a: len(public(corpus, a)))
    assert len(public(corpus, authority)) > 2
    dbp = tmp_path / "limit.duckdb"
    summary = run_sync(db_path=dbp, site=fake_site.url, authorities=[authority], limit=2, **FAST)
    assert summary.new_threads == 2
    assert query(dbp, "SELECT count(*) FROM requests") == [(2,)]
    # the rest stays queued for the next run
    rest = run_sync(db_path=dbp, site=fake_site.url, **FAST)
    assert query(dbp, "SELECT count(*) FROM requests")[0][0] == len(public(corpus, authority))
    assert rest.exit_code == 0


def test_unknown_authority_is_a_usage_error(fake_site, tmp_path):
    from scraper.errors import TargetNotFound  # the CLI shows it as a usage error (exit 2)

    with pytest.raises(TargetNotFound, match="no_such_body"):
        run_sync(db_path=tmp_path / "u.duckdb", site=fake_site.url, authorities=["no_such_body"], **FAST)


def test_authorities_csv_is_loaded(fake_site, tmp_path):
    corpus = fake_site.corpus
    dbp = tmp_path / "auth.duckdb"
    summary = run_sync(db_path=dbp, site=fake_site.url, fetch_authorities=True,
                       requests=[corpus.requests[0].url_title], **FAST)
    assert summary.exit_code == 0
    rows = {r[0]: r[1:] for r in query(dbp, "SELECT url_name, name, tags, home_page FROM authorities")}
    assert set(rows) == set(corpus.authorities)
    for slug, auth in corpus.authorities.items():
        name, tags, home = rows[slug]
        assert name == auth.name and sorted(tags) == sorted(auth.tags) and home == auth.home_page
    assert query(dbp, "SELECT count(*) FROM pages WHERE kind = 'authorities_csv'") == [(1,)]
