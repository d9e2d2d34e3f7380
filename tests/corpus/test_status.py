from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from corpus.db import connect
from corpus.errors import CorpusError
from corpus.load import mark_removed
from corpus.schema import CURRENT_VERSION
from corpus.status import status_report
from tests.corpus.factories import SITE, item, make_thread
from tests.support.corpus_db import load_threads_tx


def test_status_of_a_fresh_database(tmp_path):
    db = tmp_path / "foi.duckdb"
    connect(db).close()
    text = status_report(db)
    assert f"schema version {CURRENT_VERSION}" in text
    assert "Threads: 0 (0 removed from the site), messages: 0" in text
    assert "Queue: empty" in text
    assert "Parse failures: none" in text
    assert "Last runs: none" in text


def test_status_counts_by_site_queue_failures_and_runs(tmp_path):
    db = tmp_path / "foi.duckdb"
    con = connect(db)
    load_threads_tx(con, [item(make_thread(1, messages=4, annotations=1)), item(make_thread(2)),
                          item(make_thread(3), site="https://alaveteli.example")])
    mark_removed(con, SITE, "thread_2")
    con.execute(
        "INSERT INTO frontier (url, site, kind, state) VALUES "
        "('u1', ?, 'request', 'queued'), ('u2', ?, 'request', 'queued'), ('u3', ?, 'request', 'done'),"
        "('u4', ?, 'request', 'failed')", [SITE] * 4)
    con.execute("UPDATE frontier SET last_error = 'HTTP 500 five times' WHERE url = 'u4'")
    con.execute(
        "INSERT INTO parse_failures VALUES ('https://x/request/a', ?, 'markup_changed', 'no correspondence found', NULL, now())",
        [SITE])
    con.execute(
        "INSERT INTO sync_runs VALUES ('r1', ?, 'sync', ?, ?, 'complete', ?)",
        [SITE, datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc), datetime(2024, 5, 1, 10, 2, tzinfo=timezone.utc),
         json.dumps({"fetched": 12, "new_threads": 3})])
    con.close()

    text = status_report(db)
    assert "Threads: 3 (1 removed from the site), messages: 10, annotations: 1, attachments: 4" in text
    assert f"  {SITE}: 2 threads, 7 messages, 1 annotations, 3 attachments" in text
    assert "  https://alaveteli.example: 1 threads, 3 messages, 0 annotations, 1 attachments" in text
    assert "Queue: done 1, failed 1, queued 2" in text
    assert "failed fetch u4: HTTP 500 five times" in text
    assert "Parse failures: 1 (markup_changed 1)" in text
    assert "https://x/request/a: markup_changed: no correspondence found" in text
    assert "2024-05-01 10:00 UTC sync https://www.whatdotheyknow.com: complete, 120 s (fetched 12, new_threads 3)" in text


def test_status_opens_read_only_and_needs_an_existing_file(tmp_path):
    with pytest.raises(CorpusError, match="no corpus database"):
        status_report(tmp_path / "missing.duckdb")
    assert not (tmp_path / "missing.duckdb").exists()
