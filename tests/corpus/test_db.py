from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from corpus import db as corpus_db
from corpus import schema
from corpus.db import SyncLock, batch, connect, lock_path, schema_version
from corpus.errors import CorpusError, DatabaseLocked


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='main'").fetchall()}


def test_connect_creates_file_with_current_schema(tmp_path):
    path = tmp_path / "foi.duckdb"
    con = connect(path)
    try:
        assert path.exists()
        assert schema_version(con) == schema.CURRENT_VERSION
        assert {"requests", "messages", "attachments", "annotations", "events", "users", "authorities",
                "pages", "frontier", "parse_failures", "sync_runs"} <= _tables(con)
        rows = con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert [r[0] for r in rows] == list(range(1, schema.CURRENT_VERSION + 1))
    finally:
        con.close()
    # reopening applies nothing twice
    con = connect(path)
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == schema.CURRENT_VERSION
    con.close()


def test_read_only_open_of_missing_file_is_refused_and_creates_nothing(tmp_path):
    path = tmp_path / "missing.duckdb"
    with pytest.raises(CorpusError, match="no corpus database"):
        connect(path, read_only=True)
    assert not path.exists()


def test_not_a_duckdb_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_bytes(b"these are my notes, not a database\n" * 10)
    before = path.read_bytes()
    with pytest.raises(CorpusError, match="not a corpus database") as exc:
        connect(path)
    assert str(path) in str(exc.value)
    assert path.read_bytes() == before


def test_empty_file_becomes_a_new_database(tmp_path):
    path = tmp_path / "foi.duckdb"
    path.touch()
    with pytest.raises(CorpusError, match="empty file"):
        connect(path, read_only=True)
    con = connect(path)
    assert schema_version(con) == schema.CURRENT_VERSION
    con.close()
    assert path.stat().st_size > 0


def test_foreign_duckdb_database_is_refused(tmp_path):
    path = tmp_path / "other.duckdb"
    other = duckdb.connect(str(path))
    other.execute("CREATE TABLE sales(x INTEGER)")
    other.close()
    with pytest.raises(CorpusError, match="not a corpus database"):
        connect(path)
    other = duckdb.connect(str(path))
    assert _tables(other) == {"sales"}
    other.close()


def test_missing_folder_and_directory_path_are_clear_errors(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        connect(tmp_path / "nope" / "foi.duckdb")
    with pytest.raises(CorpusError, match="is a directory"):
        connect(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(CorpusError, match="not writable"):
            connect(ro / "foi.duckdb")
    finally:
        ro.chmod(0o700)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs, where nobody can create files")
def test_location_where_files_cannot_be_created_is_a_clear_error():
    with pytest.raises(CorpusError, match=r"cannot open /sys/foi\.duckdb .*use another --db"):
        connect("/sys/foi.duckdb")


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "foi.duckdb"
    con = connect(path)
    con.execute("INSERT INTO schema_version (version) VALUES (?)", [schema.CURRENT_VERSION + 5])
    con.close()
    with pytest.raises(CorpusError, match=rf"newer corpus \(schema {schema.CURRENT_VERSION + 5} > {schema.CURRENT_VERSION}\); upgrade foi-corpus"):
        connect(path)


def test_older_file_is_upgraded_in_place_without_losing_data(tmp_path, monkeypatch):
    path = tmp_path / "foi.duckdb"
    con = connect(path)
    con.execute("INSERT INTO authorities (site, url_name, name) VALUES ('s', 'council', 'The Council')")
    con.close()

    def add_column(c):
        c.execute("ALTER TABLE authorities ADD COLUMN motto VARCHAR")
        c.execute("UPDATE authorities SET motto = 'upgraded'")

    migrations = list(schema.MIGRATIONS) + [add_column, "CREATE TABLE extra_v3 (x INTEGER)"]
    monkeypatch.setattr(corpus_db, "MIGRATIONS", migrations)
    monkeypatch.setattr(corpus_db, "CURRENT_VERSION", len(migrations))
    con = connect(path)
    try:
        assert schema_version(con) == len(migrations)
        assert con.execute("SELECT name, motto FROM authorities").fetchall() == [("The Council", "upgraded")]
        assert "extra_v3" in _tables(con)
    finally:
        con.close()


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    path = tmp_path / "foi.duckdb"
    connect(path).close()

    def broken(c):
        c.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("boom")

    migrations = list(schema.MIGRATIONS) + [broken]
    monkeypatch.setattr(corpus_db, "MIGRATIONS", migrations)
    monkeypatch.setattr(corpus_db, "CURRENT_VERSION", len(migrations))
    with pytest.raises(RuntimeError):
        connect(path)
    monkeypatch.undo()
    con = connect(path)
    assert schema_version(con) == schema.CURRENT_VERSION
    assert "half_done" not in _tables(con)
    con.close()


def test_read_only_refuses_older_schema_with_fix(tmp_path, monkeypatch):
    path = tmp_path / "foi.duckdb"
    connect(path).close()
    migrations = list(schema.MIGRATIONS) + ["CREATE TABLE later (x INTEGER)"]
    monkeypatch.setattr(corpus_db, "MIGRATIONS", migrations)
    monkeypatch.setattr(corpus_db, "CURRENT_VERSION", len(migrations))
    with pytest.raises(CorpusError, match="upgrade it in place"):
        connect(path, read_only=True)


HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    """
)


def _hold_open(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_database_held_by_another_process_names_its_pid(tmp_path):
    path = tmp_path / "foi.duckdb"
    connect(path).close()
    proc = _hold_open(path)
    try:
        with pytest.raises(DatabaseLocked, match=rf"process {proc.pid}\b"):
            connect(path, read_only=True)
        with pytest.raises(DatabaseLocked, match=rf"process {proc.pid}\b"):
            with batch(path, wait_seconds=0.2):
                pass
    finally:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)


def test_batch_commits_or_rolls_back_and_closes(tmp_path):
    path = tmp_path / "foi.duckdb"
    with batch(path) as con:
        con.execute("INSERT INTO authorities (site, url_name) VALUES ('s', 'kept')")
    with pytest.raises(ValueError):
        with batch(path) as con:
            con.execute("INSERT INTO authorities (site, url_name) VALUES ('s', 'dropped')")
            raise ValueError("bad batch")
    # closed after each batch: another process can open it now
    out = subprocess.run([sys.executable, "-c",
                          "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True);"
                          "print(sorted(r[0] for r in c.execute('select url_name from authorities').fetchall()))",
                          str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['kept']"


def test_batch_waits_for_a_reader_to_let_go(tmp_path):
    path = tmp_path / "foi.duckdb"
    connect(path).close()
    proc = _hold_open(path)
    proc.stdin.write("\n")  # the holder exits right after we start waiting
    proc.stdin.flush()
    with batch(path, wait_seconds=30) as con:
        con.execute("INSERT INTO authorities (site, url_name) VALUES ('s', 'after_wait')")
    proc.wait(timeout=30)
    con = connect(path, read_only=True)
    assert con.execute("SELECT url_name FROM authorities").fetchall() == [("after_wait",)]
    con.close()


LOCKER = textwrap.dedent(
    """
    import sys
    from corpus.db import SyncLock
    lock = SyncLock(sys.argv[1]); lock.acquire()
    print("locked", flush=True)
    sys.stdin.readline()
    """
)


def test_sync_lock_refuses_a_second_sync_naming_the_pid(tmp_path):
    path = tmp_path / "foi.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(DatabaseLocked, match=rf"another corpus sync \(pid {proc.pid}\) is writing to foi.duckdb"):
            with SyncLock(path):
                pass
    finally:
        proc.kill()  # killed, not released: the kernel drops the flock
        proc.wait(timeout=30)
    assert lock_path(path).exists()  # stale file left behind by the killed process
    with SyncLock(path) as lock:
        assert lock_path(path).read_text().strip() == str(os.getpid())
        assert lock.path == lock_path(path)
    assert not lock_path(path).exists()


def test_sync_lock_in_same_process_is_exclusive_and_reusable(tmp_path):
    path = tmp_path / "foi.duckdb"
    with SyncLock(path):
        with pytest.raises(DatabaseLocked, match=rf"pid {os.getpid()}"):
            SyncLock(path).acquire()
    with SyncLock(path):
        pass
