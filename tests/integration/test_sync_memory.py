"""DuckDB memory caps of the sync: a cap too small for the database never loses a batch or a rebuild."""

from __future__ import annotations

from corpus import frontier
from corpus.sync import run as sync_run
from tests.integration.conftest import query
from tests.support.sync import sync as run_sync

FAST = dict(rate=500, fetch_options={"backoff_base": 0.01})


def test_batches_and_the_rebuild_are_written_uncapped_when_the_cap_is_too_small(fake_site, tmp_path, monkeypatch):
    monkeypatch.setattr(sync_run, "BATCH_MEMORY_LIMIT", "1MB")
    monkeypatch.setattr(sync_run, "DERIVE_MEMORY_LIMIT", "1MB")
    corpus = fake_site.corpus
    authority = max(corpus.authorities, key=lambda a: sum(r.authority_url_name == a for r in corpus.requests))
    listed = {r.url_title for r in corpus.requests
              if r.authority_url_name == authority and r.prominence == "normal" and r.indexed_events()}
    dbp = tmp_path / "capped.duckdb"
    summary = run_sync(db_path=dbp, site=fake_site.url, authorities=[authority], **FAST)
    assert summary.outcome == "complete" and summary.new_threads == len(listed)
    assert {r[0] for r in query(dbp, "SELECT url_title FROM requests")} >= listed
    assert query(dbp, "SELECT count(*) FROM request_timeline") == query(dbp, "SELECT count(*) FROM requests")
    assert query(dbp, "SELECT outcome FROM sync_runs") == [("complete",)]


def test_batches_run_under_the_cap(fake_site, tmp_path, monkeypatch):
    seen = []
    real_pending = frontier.pending

    def pending(con, site, *a, **kw):
        seen.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        return real_pending(con, site, *a, **kw)

    monkeypatch.setattr(frontier, "pending", pending)
    authority = sorted(fake_site.corpus.authorities)[0]
    summary = run_sync(db_path=tmp_path / "c.duckdb", site=fake_site.url, authorities=[authority], **FAST)
    assert summary.outcome == "complete" and seen
    # DuckDB reports the limit in its own units (e.g. "91.5 MiB" for 96MB)
    assert all(v.endswith("MiB") and float(v.split()[0]) <= 64 for v in seen), seen
