"""What the loader does with what the parser gives.

Attachment rows: the part only from links, the database id beside it,
unknown parts keyed apart (with the schema step that added the column); and a
stored page whose JSON the parser refuses is re-parsed alone.
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from corpus.db import connect
from corpus.sample_site.threads import att, inc, out, page, thread
from corpus.schema import CURRENT_VERSION, MIGRATIONS
from scraper.pages.request import parse_request
from tests.corpus.factories import item
from tests.support.corpus_db import load_threads_tx


def test_erased_and_hidden_attachments_load_with_negative_keys_and_their_database_ids(tmp_path):
    t = datetime(2025, 3, 1, 10, 0, tzinfo=timezone.utc)
    corpus, req = thread([out(1, t), inc(2, t, attachments=[
        att(2, "kept.pdf", database_id=38894), att(3, "gone.pdf", erased=True, database_id=38895),
        att(4, "secret.pdf", hidden=True, database_id=38896), att(5, "also.pdf", database_id=38897)])])
    parsed = parse_request(page(corpus, req))
    con = connect(tmp_path / "foi.duckdb")
    try:
        load_threads_tx(con, [item(parsed)])
        rows = con.execute("SELECT part, database_id, filename, erased, hidden FROM attachments ORDER BY database_id").fetchall()
        assert rows == [(2, 38894, "kept.pdf", False, False), (-2, 38895, "gone.pdf", True, False),
                        (-3, 38896, "", False, True), (5, 38897, "also.pdf", False, False)]
        # loading the same page again changes nothing
        load_threads_tx(con, [item(parse_request(page(corpus, req)))])
        assert con.execute("SELECT count(*) FROM attachments").fetchone()[0] == 4
    finally:
        con.close()


def test_pages_without_database_ids_load_null(tmp_path, pages_2019):
    parsed = parse_request((pages_2019 / "1396660.html").read_bytes())
    con = connect(tmp_path / "foi.duckdb")
    try:
        load_threads_tx(con, [item(parsed)])
        rows = con.execute("SELECT part, database_id FROM attachments ORDER BY part").fetchall()
        assert rows == [(3, None), (4, None)]
    finally:
        con.close()


def test_a_version_2_database_gains_the_column(tmp_path):
    path = tmp_path / "old.duckdb"
    raw = duckdb.connect(str(path))
    for step in MIGRATIONS[:2]:
        raw.execute(step)
    raw.execute("INSERT INTO schema_version (version) VALUES (2)")
    raw.execute("INSERT INTO attachments (site, request_key, incoming_message_id, part) VALUES ('s', 'id:1', 7, 2)")
    raw.close()
    con = connect(path)
    try:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == CURRENT_VERSION
        assert con.execute("SELECT part, database_id FROM attachments").fetchall() == [(2, None)]
    finally:
        con.close()


def test_reparse_of_a_page_whose_stored_json_is_refused_loads_the_page_alone(tmp_path):
    from corpus.pagestore import make_page, store_pages
    from corpus.reparse import reparse

    t = datetime(2025, 3, 1, 10, 0, tzinfo=timezone.utc)
    corpus, req = thread([out(1, t), inc(2, t)])
    url = f"https://www.whatdotheyknow.com/request/{req.url_title}"
    db = tmp_path / "foi.duckdb"
    con = connect(db)
    try:
        json_url = url + ".json"
        store_pages(con, [
            make_page(url=url, site="https://www.whatdotheyknow.com", kind="request_html", status=200, final_url=url,
                      headers={"content-type": "text/html"}, body=page(corpus, req), fetched_at=t, companion_url=json_url),
            make_page(url=json_url, site="https://www.whatdotheyknow.com", kind="request_json", status=200,
                      final_url=json_url, headers={"content-type": "application/json"},
                      body=b'{"id": 1180591620717411303424}', fetched_at=t),
        ])
    finally:
        con.close()
    problems = []
    stats = reparse(db, workers=1, derive=False, on_bad_json=lambda u, why: problems.append((u, why)))
    assert (stats.threads, stats.failures, stats.bad_json) == (1, 0, 1)
    assert problems and "outside the ids" in problems[0][1]
    con = connect(db, read_only=True)
    try:
        assert con.execute("SELECT url_title, has_json FROM requests").fetchall() == [(req.url_title, False)]
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
    finally:
        con.close()
