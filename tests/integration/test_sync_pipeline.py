"""The sync's side of the one pipeline: a bad thread costs only itself, a bad JSON is counted and named."""

from __future__ import annotations

from tests.integration.conftest import FAST, query, run_cli, simple_thread
from tests.support.corpus_db import refuse_to_store
from tests.support.sync import sync

OPTIONS = dict(rate=500, fetch_options={"backoff_base": 0.01})


def test_a_thread_the_loader_cannot_store_costs_only_itself(fake_site, tmp_path, monkeypatch):
    corpus = fake_site.corpus
    authority = max(corpus.authorities, key=lambda a: sum(r.authority_url_name == a for r in corpus.requests))
    listed = sorted(r.url_title for r in corpus.requests
                    if r.authority_url_name == authority and r.prominence == "normal" and r.indexed_events())
    poison = listed[1]
    refuse_to_store(monkeypatch, poison)
    dbp = tmp_path / "poison.duckdb"
    summary = sync(db_path=dbp, site=fake_site.url, authorities=[authority], **OPTIONS)
    assert summary.outcome == "complete" and summary.parse_failures == 1 and summary.exit_code == 1
    assert sorted(r[0] for r in query(dbp, "SELECT url_title FROM requests")) == [s for s in listed if s != poison]
    assert query(dbp, "SELECT kind FROM parse_failures WHERE url LIKE ?", [f"%/{poison}"]) == [("load_error",)]
    assert query(dbp, "SELECT count(*) FROM pages WHERE url LIKE ?", [f"%/request/{poison}"]) == [(1,)]
    assert query(dbp, "SELECT state FROM frontier WHERE url_title = ?", [poison]) == [("done",)]
    # the loader still refuses it, but a rerun does not stop there: nothing is left to fetch
    again = sync(db_path=dbp, site=fake_site.url, authorities=[authority], **OPTIONS)
    assert again.outcome == "complete" and again.fetched == 0


def test_a_json_that_cannot_be_read_is_counted_and_named(fake_site, tmp_path):
    slug = simple_thread(fake_site.corpus).url_title
    fake_site.add_fault(rf"^/request/{slug}\.json$", "status", code=200, body='{"id": 12, "url_title": "')
    dbp = tmp_path / "badjson.duckdb"
    res = run_cli("sync", "--site", fake_site.url, "--db", dbp, "--request", slug, *FAST)
    assert res.returncode == 0, res.stderr
    assert "1 without JSON (1 whose JSON could not be read)" in res.stdout
    assert f"JSON not used, loaded from the page alone: {fake_site.url}/request/{slug}" in res.stderr
    assert query(dbp, "SELECT has_json FROM requests") == [(False,)]
    assert query(dbp, "SELECT kind FROM pages WHERE url LIKE '%.json'") == [("request_json",)]  # kept
