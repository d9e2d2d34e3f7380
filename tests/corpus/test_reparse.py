from __future__ import annotations

import json
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
