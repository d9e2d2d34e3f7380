from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest

from corpus.db import connect, lock_path
from corpus.errors import CorpusError, DatabaseLocked
from corpus.load import mark_removed
from corpus.schema import CURRENT_VERSION
from corpus.status import status_report
from tests.conftest import PROJECT_ROOT
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
    assert ("Warning: this file holds 2 sites; queries, the report and the notebook count them together "
            "unless you choose one (e.g. corpus report --site URL)") in text


def test_status_opens_read_only_and_needs_an_existing_file(tmp_path):
    with pytest.raises(CorpusError, match="no corpus database"):
        status_report(tmp_path / "missing.duckdb")
    assert not (tmp_path / "missing.duckdb").exists()


def _runs_db(tmp_path):
    db = tmp_path / "foi.duckdb"
    con = connect(db)
    load_threads_tx(con, [item(make_thread(1))])
    con.execute(
        "INSERT INTO sync_runs VALUES ('old', ?, 'corpus sync --authority x', ?, NULL, 'running', NULL),"
        " ('new', ?, 'corpus sync --authority y', ?, NULL, 'running', NULL)",
        [SITE, datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc), SITE, datetime(2024, 5, 2, 10, 0, tzinfo=timezone.utc)])
    con.close()
    return db


def test_runs_left_running_by_a_dead_process_show_as_ended(tmp_path):
    db = _runs_db(tmp_path)
    lock_path(db).write_text("\n99999\ncorpus sync\n")  # the lock file a killed sync leaves behind
    text = status_report(db)
    assert "Now:" not in text and ": running" not in text
    assert text.count("ended without finishing (its process was killed or crashed; run it again to resume)") == 2


LOCKED_SYNC = textwrap.dedent(
    """
    import sys, time, duckdb
    from corpus.db import SyncLock
    lock = SyncLock(sys.argv[1], command="corpus sync"); lock.acquire()
    hold = float(sys.argv[2])
    if hold:
        con = duckdb.connect(sys.argv[1])  # writing a batch
    print("ready", flush=True)
    time.sleep(hold) if hold else sys.stdin.readline()
    if hold:
        con.close()
    sys.stdin.readline()
    """
)


def _sync_like(db, hold: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", LOCKED_SYNC, str(db), str(hold)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _stop(proc):
    proc.kill()
    proc.wait(timeout=30)


def _status_beside_a_sync(tmp_path, hold: float) -> tuple[str, int]:
    """status_report while a sync-like process holds the lock (and, for ``hold`` seconds, the file)."""
    db = _runs_db(tmp_path)
    proc = _sync_like(db, hold)
    try:
        return status_report(db), proc.pid
    finally:
        _stop(proc)


def test_the_run_in_progress_shows_as_running(tmp_path):
    text, pid = _status_beside_a_sync(tmp_path, 0)
    assert f"Now: corpus sync (pid {pid}) is running on this file" in text
    assert f"2024-05-02 10:00 UTC corpus sync --authority y {SITE}: running (pid {pid})" in text
    assert "2024-05-01 10:00 UTC corpus sync --authority x " + SITE + ": ended without finishing" in text


def test_status_waits_for_the_sync_to_finish_a_batch(tmp_path):
    text, _ = _status_beside_a_sync(tmp_path, 1.5)
    assert "Threads: 1" in text


def test_status_names_the_busy_sync_instead_of_blaming_it(tmp_path):
    db = _runs_db(tmp_path)
    proc = _sync_like(db, 60)
    try:
        with pytest.raises(DatabaseLocked) as exc:
            status_report(db, wait=0.5)
    finally:
        _stop(proc)
    message = str(exc.value)
    assert f"corpus sync (pid {proc.pid}) is writing to it" in message and "close" not in message


def test_one_site_has_no_warning_and_the_storage_format_is_named(tmp_path):
    db = tmp_path / "foi.duckdb"
    con = connect(db)
    load_threads_tx(con, [item(make_thread(1))])
    con.close()
    text = status_report(db)
    assert "Warning" not in text
    assert "Storage: DuckDB format v1.0.0+: DuckDB 1.1 and later open it" in text


def test_a_2_0_format_file_is_pointed_to_convert_storage(tmp_path):
    import duckdb

    db = tmp_path / "foi.duckdb"
    duckdb.connect(str(db), config={"storage_compatibility_version": "v2.0.0"}).close()
    connect(db).close()
    assert "only DuckDB 2.x opens it; `corpus convert-storage` rewrites it" in status_report(db)
