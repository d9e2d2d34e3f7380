from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from corpus.db import SyncLock, connect
from corpus.errors import CorpusError, DatabaseLocked
from corpus.load import LoadItem, mark_removed
from corpus.pagestore import make_page, store_pages
from corpus.reparse import reparse
from scraper.pages.request import parse_request
from tests.conftest import require_reference
from tests.support.corpus_db import load_threads_tx, refuse_to_store

SITE = "https://www.whatdotheyknow.com"
FETCHED = datetime(2019, 8, 5, 12, 22, tzinfo=timezone.utc)
CORE = ("requests", "messages", "attachments", "annotations", "events", "users", "authorities")
VOLATILE = {"first_seen", "last_seen"}


def _reference_pages() -> list[tuple[str, bytes]]:
    folder = require_reference()
    out = []
    for path in sorted(Path(folder).glob("*.html")):
        html = path.read_bytes()
        parsed = parse_request(html)
        assert not hasattr(parsed, "kind"), f"{path.name}: {parsed}"
        out.append((f"{SITE}/request/{parsed.url_title}", html))
    return out


def _snapshot(con) -> dict[str, list[tuple]]:
    snap = {}
    for table in CORE:
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table]).fetchall() if r[0] not in VOLATILE]
        rows = con.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
        snap[table] = sorted(rows, key=repr)
    return snap


def _store_with_json(tmp_path, url: str, html: bytes, json_body: bytes):
    """A database holding one request page and its JSON, as a sync stores them."""
    db = tmp_path / "foi.duckdb"
    json_url = url + ".json"
    con = connect(db)
    store_pages(con, [
        make_page(url=url, site=SITE, kind="request_html", status=200, final_url=url, headers=None, body=html,
                  fetched_at=FETCHED, companion_url=json_url),
        make_page(url=json_url, site=SITE, kind="request_json", status=200, final_url=json_url, headers=None,
                  body=json_body, fetched_at=FETCHED),
    ])
    con.close()
    return db


@pytest.fixture
def loaded_db(tmp_path):
    """A database whose pages table holds the 2019 pages, loaded as a sync would."""
    db = tmp_path / "foi.duckdb"
    pages = _reference_pages()
    con = connect(db)
    try:
        stored = [make_page(url=url, site=SITE, kind="request_html", status=200, final_url=url,
                            headers={"content-type": "text/html"}, body=html, fetched_at=FETCHED)
                  for url, html in pages]
        store_pages(con, stored)
        items = [LoadItem(parsed=parse_request(html, url=url), site=SITE, source="sync", source_url=url,
                          page_sha256=p.sha256, fetched_at=FETCHED)
                 for (url, html), p in zip(pages, stored)]
        load_threads_tx(con, items)
        snap = _snapshot(con)
    finally:
        con.close()
    return db, snap, pages


def test_reparse_reproduces_the_original_load(loaded_db):
    db, before, pages = loaded_db
    assert len(before["requests"]) == len(pages) == 13
    assert len(before["messages"]) >= 40
    stats = reparse(db, workers=1, derive=False)
    assert (stats.pages, stats.threads, stats.failures, stats.skipped) == (13, 13, 0, 0)
    assert stats.load.unchanged == 13 and stats.load.requests_new == 0
    con = connect(db, read_only=True)
    try:
        assert _snapshot(con) == before
    finally:
        con.close()


def test_fresh_reparse_rebuilds_empty_tables_to_the_same_rows(loaded_db):
    db, before, _ = loaded_db
    stats = reparse(db, fresh=True, workers=1, derive=False)
    assert stats.load.requests_new == 13
    con = connect(db, read_only=True)
    try:
        assert _snapshot(con) == before
    finally:
        con.close()


def test_reparse_in_a_process_pool_gives_the_same_rows(loaded_db):
    db, before, _ = loaded_db
    stats = reparse(db, fresh=True, workers=2, batch_size=4, derive=False)
    assert stats.threads == 13
    con = connect(db, read_only=True)
    try:
        assert _snapshot(con) == before
    finally:
        con.close()


def test_reparse_keeps_history_the_pages_no_longer_show(loaded_db):
    db, _, _ = loaded_db
    con = connect(db)
    con.execute("INSERT INTO messages (site, request_key, message_id, direction, body) "
                "VALUES (?, 'id:583390', 999999999, 'incoming', 'seen once, since gone')", [SITE])
    con.close()
    reparse(db, workers=1, derive=False)
    con = connect(db, read_only=True)
    assert con.execute("SELECT body FROM messages WHERE message_id = 999999999").fetchone() == ("seen once, since gone",)
    con.close()
    reparse(db, fresh=True, workers=1, derive=False)
    con = connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM messages WHERE message_id = 999999999").fetchone() == (0,)
    con.close()


def test_parse_failures_are_recorded_then_cleared_when_fixed(loaded_db):
    db, _, pages = loaded_db
    bad_url = f"{SITE}/request/broken_page"
    con = connect(db)
    store_pages(con, [
        make_page(url=bad_url, site=SITE, kind="request_html", status=200, final_url=bad_url, headers=None,
                  body=b"<html><body><p>Nothing to see here</p></body></html>", fetched_at=FETCHED),
        make_page(url=f"{SITE}/request/no_body", site=SITE, kind="request_html", status=304, final_url=None,
                  headers=None, body=None, fetched_at=FETCHED),
    ])
    con.close()
    stats = reparse(db, workers=1, derive=False)
    assert (stats.threads, stats.failures, stats.skipped) == (13, 1, 1)
    con = connect(db, read_only=True)
    row = con.execute("SELECT url, site, kind, message FROM parse_failures").fetchall()
    con.close()
    assert len(row) == 1 and row[0][:2] == (bad_url, SITE)
    assert row[0][2] in ("not_request", "markup_changed", "truncated", "error_page")
    assert row[0][3]
    # the page is fixed (e.g. re-fetched): the next reparse clears the failure
    good_url, good_html = pages[0]
    con = connect(db)
    store_pages(con, [make_page(url=bad_url, site=SITE, kind="request_html", status=200, final_url=bad_url,
                                headers=None, body=good_html, fetched_at=FETCHED)])
    con.close()
    stats = reparse(db, workers=1, derive=False)
    assert stats.failures == 0
    con = connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM parse_failures").fetchone() == (0,)
    con.close()


def test_reparse_never_changes_removed(loaded_db):
    # Only the live site says whether a request is gone: a stored 410 is skipped, a stored page showing
    # the thread does not bring a removed request back.
    db, _, pages = loaded_db
    (gone_url, _), (flagged_url, _) = pages[0], pages[1]
    con = connect(db)
    store_pages(con, [make_page(url=gone_url, site=SITE, kind="request_html", status=410, final_url=gone_url,
                                headers=None, body=b"<html>gone</html>", fetched_at=FETCHED + timedelta(days=1))])
    mark_removed(con, SITE, flagged_url.rsplit("/", 1)[1])
    con.close()
    stats = reparse(db, workers=1, derive=False)
    assert (stats.threads, stats.skipped) == (12, 1)
    con = connect(db, read_only=True)
    got = con.execute("SELECT url_title FROM requests WHERE removed").fetchall()
    assert got == [(flagged_url.rsplit("/", 1)[1],)]
    assert con.execute("SELECT count(*) FROM requests").fetchone() == (13,)
    con.close()


def test_a_stored_json_that_cannot_be_read_is_counted_and_reported(tmp_path):
    url, html = _reference_pages()[0]
    db = _store_with_json(tmp_path, url, html, b'{"id": 12, "url_title": ')
    seen = []
    stats = reparse(db, workers=1, derive=False, on_bad_json=lambda u, why: seen.append((u, why)))
    assert (stats.threads, stats.bad_json, stats.failures) == (1, 1, 0)
    assert [u for u, _ in seen] == [url] and "JSON" in seen[0][1]
    assert "1 threads were loaded from their HTML alone" in stats.describe()


def test_a_thread_the_loader_cannot_store_costs_only_itself(loaded_db, monkeypatch):
    db, _, pages = loaded_db
    poison = pages[3][0].rsplit("/", 1)[1]
    refuse_to_store(monkeypatch, poison)
    stats = reparse(db, fresh=True, workers=1, derive=False)
    assert (stats.threads, stats.failures) == (12, 1)
    con = connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM requests").fetchone() == (12,)
    kind, message = con.execute("SELECT kind, message FROM parse_failures WHERE url = ?", [pages[3][0]]).fetchone()
    con.close()
    assert kind == "load_error" and "OverflowError" in message


def test_reparse_uses_the_json_companion(tmp_path):
    pages = _reference_pages()
    url, html = pages[0]
    parsed = parse_request(html, url=url)
    payload = json.dumps({
        "id": parsed.request_id, "url_title": parsed.url_title, "title": "From JSON", "described_state": "successful",
        "display_status": "Successful", "awaiting_description": False, "prominence": "normal", "law_used": "foi",
        "tags": [], "info_request_events": [],
    }).encode()
    db = _store_with_json(tmp_path, url, html, payload)
    stats = reparse(db, workers=1, derive=False)
    assert (stats.pages, stats.threads, stats.failures) == (1, 1, 0)
    con = connect(db, read_only=True)
    row = con.execute("SELECT request_key, described_state, has_json FROM requests").fetchone()
    con.close()
    assert row == (f"id:{parsed.request_id}", "successful", True)


def test_reparse_refuses_while_a_sync_runs(loaded_db):
    db, _, _ = loaded_db
    with SyncLock(db):
        with pytest.raises(DatabaseLocked, match="another corpus sync"):
            reparse(db, workers=1, derive=False)


def test_reparse_of_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="no corpus database at .*nothing to reparse"):
        reparse(tmp_path / "foi.duckdb")
    assert not (tmp_path / "foi.duckdb").exists()


def test_describe_names_the_figures_and_derived_tables_are_rebuilt(loaded_db):
    db, _, _ = loaded_db
    stats = reparse(db, workers=1)
    assert stats.derived
    text = stats.describe()
    assert text.startswith("Re-parsed 13 stored request pages in ")
    assert "13 threads loaded, 0 parse failures, 0 skipped." in text
    assert "13 unchanged" in text
    stage_line = next(line for line in text.splitlines() if line.startswith("Time by stage: "))
    names = re.findall(r"(?:: |, )([a-z ]+?) [0-9.]+ s", stage_line)
    assert names == ["parse", "load", "attachments", "timeline", "citations", "search index", "other"]
    assert stats.split()["other"] >= 0 and abs(sum(stats.split().values()) - stats.seconds) < 0.05


# ---------------------------------------------------------------- the parallel reparse against the serial load


def _sample_store(db: Path, n: int = 40) -> None:
    """Sample-site pages as a sync stores them: most with their JSON, every fifth without, fetched on two days."""
    from corpus.sample_site import generate_corpus
    from corpus.sample_site.render import request_json, request_page

    corpus = generate_corpus(n, seed=7)
    con = connect(db)
    try:
        stored = []
        for i, req in enumerate(corpus.requests):
            url = f"{SITE}/request/{req.url_title}"
            fetched = FETCHED + timedelta(days=i % 2)
            json_url = url + ".json" if i % 5 else None
            stored.append(make_page(url=url, site=SITE, kind="request_html", status=200, final_url=url,
                                    headers={"content-type": "text/html"},
                                    body=request_page(corpus, req, SITE).encode(), fetched_at=fetched,
                                    companion_url=json_url))
            if json_url:
                stored.append(make_page(url=json_url, site=SITE, kind="request_json", status=200, final_url=json_url,
                                        headers={"content-type": "application/json"},
                                        body=request_json(corpus, req), fetched_at=fetched))
        store_pages(con, stored)
    finally:
        con.close()


def _serial_load(db: Path, batch: int) -> None:
    """The stored pages parsed in this process and loaded ``batch`` at a time, in the order they were fetched."""
    from corpus.pipeline import stored_outcome
    from corpus.reparse import read_page_rows

    con = connect(db)
    try:
        urls = [r[0] for r in con.execute(
            "SELECT url FROM pages WHERE kind = 'request_html' ORDER BY fetched_at, rowid").fetchall()]
        for i in range(0, len(urls), batch):
            rows = read_page_rows(con, urls[i:i + batch])
            items = [o.load_item for o in map(stored_outcome, rows) if o is not None and o.load_item is not None]
            load_threads_tx(con, items)
    finally:
        con.close()


def _db_snapshot(db: Path) -> dict[str, list[tuple]]:
    con = connect(db, read_only=True)
    try:
        return _snapshot(con)
    finally:
        con.close()


@pytest.mark.parametrize("fresh", [True, False])
def test_parallel_reparse_gives_the_rows_of_the_serial_load_on_sample_site_pages(tmp_path, fresh):
    serial = tmp_path / "serial.duckdb"
    _sample_store(serial)
    _serial_load(serial, batch=1)  # one page at a time: the load rules alone decide, not where batches end
    expected = _db_snapshot(serial)
    assert len(expected["requests"]) == 40 and expected["messages"] and expected["events"]

    parallel = tmp_path / "parallel.duckdb"
    _sample_store(parallel)
    if not fresh:  # a reparse over tables a sync already filled
        _serial_load(parallel, batch=13)
    stats = reparse(parallel, fresh=fresh, workers=2, batch_size=6, derive=False)
    assert (stats.threads, stats.failures, stats.pages) == (40, 0, 40)
    assert _db_snapshot(parallel) == expected

    one = tmp_path / "one.duckdb"
    _sample_store(one)
    reparse(one, workers=1, batch_size=1000, derive=False)
    assert _db_snapshot(one) == expected


def test_an_interrupted_reparse_leaves_the_database_as_it_was(loaded_db):
    from corpus.reparse import staging_path

    db, before, _ = loaded_db

    def interrupt(stage, done, total):
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reparse(db, fresh=True, workers=2, batch_size=2, progress=interrupt)
    assert not staging_path(db).exists()
    assert _db_snapshot(db) == before
    reparse(db, workers=2, batch_size=2, derive=False)  # the lock was released and the next run works
    assert _db_snapshot(db) == before


def test_reparse_chunks_hold_the_batch_size_however_the_pages_are_spread(tmp_path):
    from corpus.reparse import _chunk_bounds

    db = tmp_path / "foi.duckdb"
    con = connect(db)
    try:
        pages = []
        for i in range(30):
            kind = "request_html" if i < 5 or i >= 25 else "authority_html"
            url = f"{SITE}/{'request' if kind == 'request_html' else 'body'}/p{i}"
            pages.append(make_page(url=url, site=SITE, kind=kind, status=200, final_url=url, headers=None,
                                   body=b"<html></html>", fetched_at=FETCHED))
        store_pages(con, pages)
        n, bounds = _chunk_bounds(con, 3)
        counts = [con.execute("SELECT count(*) FROM pages WHERE kind = 'request_html' AND rowid >= ? AND rowid < ?",
                              [a, b]).fetchall()[0][0] for a, b in bounds]
    finally:
        con.close()
    assert n == 10 and counts == [3, 3, 3, 1]


def test_a_second_reparse_takes_every_unchanged_text_from_the_scan_cache(tmp_path, monkeypatch):
    from corpus.derive import refusals

    db = tmp_path / "foi.duckdb"
    _sample_store(db)
    scanned: list[int] = []
    real_scan = refusals._scan_chunk

    def counting(rows, pool):
        scanned.append(len(rows))
        return real_scan(rows, pool)

    monkeypatch.setattr(refusals, "_scan_chunk", counting)
    reparse(db, workers=1)
    first = sum(scanned)
    assert first > 0  # the sample site's authorities refuse some requests
    citations = _db_rows(db, "SELECT * FROM refusal_citations")
    scanned.clear()
    reparse(db, workers=1)
    assert sum(scanned) == 0
    assert _db_rows(db, "SELECT * FROM refusal_citations") == citations


def _db_rows(db: Path, sql: str) -> list[tuple]:
    con = connect(db, read_only=True)
    try:
        return sorted(con.execute(sql).fetchall(), key=repr)
    finally:
        con.close()
