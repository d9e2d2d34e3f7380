"""corpus.Reader: a query at a time, the file closed in between, patient with a writer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

from corpus import Reader
from corpus import reader as reader_mod
from corpus.db import batch, connect
from corpus.errors import CorpusError, DatabaseLocked
from tests.conftest import PROJECT_ROOT
from tests.corpus.test_queries import known_db, known_template  # noqa: F401  (fixtures)


def _small_db(path: Path, n: int = 3) -> Path:
    con = connect(path)
    con.executemany("INSERT INTO authorities (site, url_name, name, tags) VALUES ('s', ?, ?, ?)",
                    [[f"body_{i}", f"Body {i}", ["t"]] for i in range(n)])
    con.close()
    return path


def test_results_come_in_every_form(tmp_path):
    r = Reader(_small_db(tmp_path / "foi.duckdb"))
    res = r.sql("SELECT url_name, tags FROM authorities WHERE url_name <> ? ORDER BY url_name", ["body_0"])
    assert res.columns == ["url_name", "tags"] and len(res) == 2
    assert res.fetchall() == [("body_1", ["t"]), ("body_2", ["t"])]
    assert res.fetchone() == ("body_1", ["t"])
    assert isinstance(res.arrow(), pa.Table) and res.arrow().num_rows == 2
    assert r.sql("SELECT count(*) AS n FROM authorities WHERE name = $name", {"name": "Body 2"}).fetchall() == [(1,)]
    assert "body_1" in repr(res)
    assert "authorities" in r.tables()


def test_pandas_dataframe(tmp_path):
    pytest.importorskip("pandas", reason="pandas is optional (pip install pandas)")
    df = Reader(_small_db(tmp_path / "foi.duckdb")).sql("SELECT url_name, count(*) AS n FROM authorities GROUP BY 1 ORDER BY 1").df()
    assert list(df.columns) == ["url_name", "n"] and df["n"].tolist() == [1, 1, 1]
    assert str(df["n"].dtype) == "int64"


def test_polars_dataframe(tmp_path):
    pytest.importorskip("polars", reason="polars is optional (pip install polars)")
    df = Reader(_small_db(tmp_path / "foi.duckdb")).sql("SELECT url_name FROM authorities ORDER BY 1").pl()
    assert df["url_name"].to_list() == ["body_0", "body_1", "body_2"]


def test_canned_query_through_the_reader(known_db):
    res = Reader(known_db).query("response_times", min_requests=1)
    rows = {r["authority_url_name"]: r for r in res.arrow().to_pylist()}
    assert rows["council_a"]["requests"] == 7


def test_the_file_is_closed_between_queries(tmp_path):
    path = _small_db(tmp_path / "foi.duckdb")
    r = Reader(path)
    assert r.sql("SELECT count(*) FROM authorities").fetchall() == [(3,)]
    # another process can write at once: nothing of the reader is left open
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from corpus.db import batch\n"
         "with batch(sys.argv[1], wait_seconds=0) as con: con.execute(\"INSERT INTO authorities (site, url_name) VALUES ('s', 'new')\")",
         str(path)], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    with r.session() as con:
        assert con.execute("SELECT count(*) FROM authorities").fetchone()[0] == 4
    assert r.sql("SELECT count(*) FROM authorities").fetchall() == [(4,)]


WRITER = textwrap.dedent(
    """
    import sys, time, duckdb
    from corpus.db import SyncLock
    db, hold, sync = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "sync"
    lock = SyncLock(db, command="corpus sync") if sync else None
    if lock: lock.acquire()
    con = duckdb.connect(db)
    con.execute("INSERT INTO authorities (site, url_name) VALUES ('s', 'written')")
    print("holding", flush=True)
    time.sleep(hold)
    con.close()
    if lock: lock.release()
    """
)


def _writer(path: Path, hold: float, *, sync: bool = True) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(hold), "sync" if sync else "other"],
                            stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def test_a_query_waits_for_the_sync_to_finish_its_batch(tmp_path, capfd):
    path = _small_db(tmp_path / "foi.duckdb")
    proc = _writer(path, 2.5)
    try:
        t0 = time.monotonic()
        assert Reader(path).sql("SELECT count(*) FROM authorities").fetchall() == [(4,)]  # the batch's row too
        assert time.monotonic() - t0 >= 1.5
    finally:
        proc.wait(timeout=30)
    err = capfd.readouterr().err
    assert f"foi.duckdb: waiting for corpus sync (pid {proc.pid}) to finish writing" in err


def test_a_query_gives_up_after_its_wait(tmp_path):
    path = _small_db(tmp_path / "foi.duckdb")
    proc = _writer(path, 30)
    try:
        t0 = time.monotonic()
        with pytest.raises(DatabaseLocked, match=rf"corpus sync \(pid {proc.pid}\) is writing to it"):
            Reader(path, wait=1.0, notify=False).sql("SELECT 1")
        assert 0.9 <= time.monotonic() - t0 < 10
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_writer_that_is_not_the_sync_is_reported_soon(tmp_path, monkeypatch):
    monkeypatch.setattr(reader_mod, "_GIVE_UP_ON_OTHERS", 0.5)
    path = _small_db(tmp_path / "foi.duckdb")
    proc = _writer(path, 30, sync=False)
    try:
        t0 = time.monotonic()
        with pytest.raises(DatabaseLocked, match="not a corpus sync"):
            Reader(path, notify=False).sql("SELECT 1")
        assert time.monotonic() - t0 < 10
    finally:
        proc.kill()
        proc.wait(timeout=30)


READERS = textwrap.dedent(
    """
    import sys
    from corpus import Reader
    r = Reader(sys.argv[1], notify=False)
    seen = []
    for _ in range(int(sys.argv[2])):
        n, total = r.sql("SELECT count(*), coalesce(sum(authority_id), 0) FROM authorities").fetchone()
        seen.append((n, total))
    bad = [s for s in seen if s[0] % 10 or s[1] != s[0] * (s[0] - 1) // 2]
    print(len(seen), min(s[0] for s in seen), max(s[0] for s in seen), len(bad))
    """
)


def test_readers_in_a_loop_never_stop_a_writer_and_see_whole_batches(tmp_path):
    """A writer of 40 batches (waiting at most 5 s each for the file) beside 3 processes querying in a loop."""
    from corpus.db import SyncLock

    path = tmp_path / "foi.duckdb"
    connect(path).close()
    sync_lock = SyncLock(path, command="corpus sync")  # the writer is a sync, as in real use
    sync_lock.acquire()
    readers = [subprocess.Popen([sys.executable, "-c", READERS, str(path), "40"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT) for _ in range(3)]
    for i in range(40):
        with batch(path, wait_seconds=5) as con:  # raises DatabaseLocked if a reader kept the file
            con.executemany("INSERT INTO authorities (site, url_name, authority_id) VALUES ('s', ?, ?)",
                            [[f"a{i * 10 + j}", i * 10 + j] for j in range(10)])
        time.sleep(0.02)
    sync_lock.release()
    spans = []
    for proc in readers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        n, lo, hi, bad = map(int, out.split())
        spans.append((lo, hi))
        assert n == 40 and bad == 0  # every answer was a whole number of batches, sums consistent
    assert any(lo < hi for lo, hi in spans), spans  # the readers did run while the writer wrote
    assert Reader(path).sql("SELECT count(*) FROM authorities").fetchall() == [(400,)]


def test_find_database(tmp_path, monkeypatch):
    monkeypatch.delenv("CORPUS_DB", raising=False)
    deep = tmp_path / "project" / "notebooks" / "2024"
    deep.mkdir(parents=True)
    with pytest.raises(CorpusError, match=r"no foi\.duckdb \(or foi-demo\.duckdb\) in .*set CORPUS_DB="):
        reader_mod.find_database(deep)
    demo = _small_db(tmp_path / "project" / "foi-demo.duckdb")
    assert reader_mod.find_database(deep) == demo
    real = _small_db(tmp_path / "foi.duckdb")
    assert reader_mod.find_database(deep) == real  # the real corpus wins over the demo, even further up
    monkeypatch.chdir(deep)
    assert Reader().path == real
    monkeypatch.setenv("CORPUS_DB", str(demo))
    assert Reader().path == demo
    monkeypatch.setenv("CORPUS_DB", str(tmp_path / "missing.duckdb"))
    with pytest.raises(CorpusError, match=r"\$CORPUS_DB is .*missing\.duckdb, but there is no file there"):
        Reader()


def test_a_waiting_writer_is_let_in_before_new_readers(tmp_path):
    """While a writer waits (a fresh <db>.write-wanted), a query holds off; a stale marker is ignored."""
    import os
    import threading

    from corpus.db import WRITE_WANTED_FRESH, write_wanted_path

    path = _small_db(tmp_path / "foi.duckdb")
    marker = write_wanted_path(path)
    marker.write_text("12345\n")
    threading.Timer(0.5, marker.unlink).start()  # the writer has written and gone
    t0 = time.monotonic()
    assert Reader(path, notify=False).sql("SELECT count(*) FROM authorities").fetchall() == [(3,)]
    assert 0.45 <= time.monotonic() - t0 < 5
    marker.write_text("12345\n")
    old = time.time() - WRITE_WANTED_FRESH - 1
    os.utime(marker, (old, old))  # left by a writer that died
    t0 = time.monotonic()
    assert Reader(path, notify=False).sql("SELECT count(*) FROM authorities").fetchall() == [(3,)]
    assert time.monotonic() - t0 < 0.4


def test_a_writer_kept_waiting_marks_it_and_tidies_up(tmp_path):
    from corpus.db import write_wanted_path

    path = _small_db(tmp_path / "foi.duckdb")
    proc = _writer(path, 1.0, sync=False)  # holds the file for a second
    try:
        with batch(path, wait_seconds=30) as con:
            con.execute("INSERT INTO authorities (site, url_name) VALUES ('s', 'after')")
    finally:
        proc.wait(timeout=30)
    assert not write_wanted_path(path).exists()
    assert Reader(path).sql("SELECT count(*) FROM authorities").fetchall() == [(5,)]
