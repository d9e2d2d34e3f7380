"""The raw page store: compression, hashes, validators, set-based batches."""

from __future__ import annotations

import hashlib
import zlib
from datetime import datetime, timezone

import duckdb
import httpx
import pytest

from corpus import pagestore
from corpus.schema import MIGRATIONS
from tests.support.corpus_db import conditional_headers, load_page, load_pages, store_page

SITE = "http://127.0.0.1:9"
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def con():
    c = duckdb.connect()
    for step in MIGRATIONS:
        c.execute(step)
    yield c
    c.close()


def test_store_and_load_roundtrip_compresses_and_hashes(con):
    body = b"<html>" + b"correspondence " * 2000 + b"</html>"
    page = store_page(
        con,
        url=f"{SITE}/request/a",
        site=SITE,
        kind="request_html",
        status=200,
        final_url=None,
        headers=httpx.Headers({"ETag": 'W/"abc"', "Content-Type": "text/html; charset=utf-8"}),
        body=body,
        fetched_at=WHEN,
        companion_url=f"{SITE}/request/a.json",
    )
    assert page.sha256 == hashlib.sha256(body).hexdigest()
    assert load_page(con, f"{SITE}/request/a") == body
    row = con.execute(
        "SELECT encoding, size, sha256, etag, content_type, companion_url, final_url, octet_length(body), fetched_at "
        "FROM pages WHERE url = ?",
        [f"{SITE}/request/a"],
    ).fetchone()
    assert row[0] == "zlib"
    assert row[1] == len(body)
    assert row[2] == hashlib.sha256(body).hexdigest()
    assert row[3] == 'W/"abc"'
    assert row[4] == "text/html; charset=utf-8"
    assert row[5] == f"{SITE}/request/a.json"
    assert row[6] == f"{SITE}/request/a"  # final_url defaults to the url
    assert row[7] < len(body) / 10  # repetitive HTML compresses well
    assert row[8] == WHEN
    assert zlib.decompress(con.execute("SELECT body FROM pages").fetchone()[0]) == body


def test_conditional_headers_plain_dict_any_case(con):
    store_page(
        con, url="u1", site=SITE, kind="request_html", status=200, final_url=None,
        headers={"etag": 'W/"1"', "Last-Modified": "Wed, 01 May 2024 10:00:00 GMT"}, body=b"x",
    )
    assert conditional_headers(con, "u1") == ('W/"1"', "Wed, 01 May 2024 10:00:00 GMT")
    assert conditional_headers(con, "never-seen") == (None, None)
    assert pagestore.conditional_headers_many(con, ["u1", "nope"]) == {"u1": ('W/"1"', "Wed, 01 May 2024 10:00:00 GMT")}


def test_replacing_a_page_keeps_one_row_with_the_new_body(con):
    for body, etag in ((b"old", "1"), (b"new", "2")):
        store_page(con, url="u", site=SITE, kind="request_html", status=200, final_url=None,
                             headers={"ETag": etag}, body=body)
    assert con.execute("SELECT count(*) FROM pages").fetchone()[0] == 1
    assert load_page(con, "u") == b"new"
    assert conditional_headers(con, "u") == ("2", None)


def test_batch_store_many_pages_last_wins(con):
    pages = [
        pagestore.make_page(url=f"u{i % 50}", site=SITE, kind="request_json", status=200, final_url=None,
                            headers=None, body=f"body {i}".encode(), fetched_at=WHEN)
        for i in range(100)
    ]
    assert pagestore.store_pages(con, pages) == 50
    assert con.execute("SELECT count(*) FROM pages").fetchone()[0] == 50
    loaded = load_pages(con, ["u0", "u49", "missing"])
    assert loaded == {"u0": b"body 50", "u49": b"body 99"}


def test_missing_body_raises_page_not_stored(con):
    store_page(con, url="gone", site=SITE, kind="request_html", status=404, final_url=None,
                         headers=None, body=None)
    with pytest.raises(pagestore.PageNotStored):
        load_page(con, "gone")
    with pytest.raises(pagestore.PageNotStored):
        load_page(con, "never")
    assert conditional_headers(con, "gone") == (None, None)


def test_touch_moves_only_fetched_at(con):
    store_page(con, url="u", site=SITE, kind="request_html", status=200, final_url=None,
                         headers={"ETag": "e"}, body=b"abc", fetched_at=WHEN)
    later = datetime(2024, 6, 1, tzinfo=timezone.utc)
    pagestore.touch_pages(con, ["u"], later)
    assert con.execute("SELECT fetched_at, etag FROM pages").fetchone() == (later, "e")
    assert load_page(con, "u") == b"abc"


def test_empty_body_is_stored_not_missing(con):
    store_page(con, url="e", site=SITE, kind="request_json", status=200, final_url=None,
                         headers=None, body=b"")
    assert load_page(con, "e") == b""
