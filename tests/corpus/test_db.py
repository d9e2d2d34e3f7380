from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from corpus import db as corpus_db
from corpus import schema
from corpus.db import (
    LockHolder,
    SyncLock,
    batch,
    connect,
    lock_path,
    read_lock_holder,
    schema_version,
    storage_format,
)
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


def _hold_open(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _let_go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=30)


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
        _let_go(proc)


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
    with SyncLock(path, command="corpus reparse") as lock:
        assert lock_path(path).read_text().split() == [str(os.getpid()), "corpus", "reparse"]
        assert lock.path == lock_path(path)
        assert read_lock_holder(path) == LockHolder(os.getpid(), "corpus reparse")
    assert not lock_path(path).exists()


def test_sync_lock_in_same_process_is_exclusive_and_reusable(tmp_path):
    path = tmp_path / "foi.duckdb"
    with SyncLock(path):
        with pytest.raises(DatabaseLocked, match=rf"pid {os.getpid()}"):
            SyncLock(path).acquire()
    with SyncLock(path):
        pass


# ---------------------------------------------------------------- who holds the file
def test_a_reader_blocked_by_the_sync_is_told_it_is_the_sync(tmp_path):
    """The sync writing a batch is named as the sync, not as a program to close."""
    path = tmp_path / "foi.duckdb"
    connect(path).close()
    script = textwrap.dedent(
        """
        import sys, duckdb
        from corpus.db import SyncLock
        lock = SyncLock(sys.argv[1], command="corpus sync"); lock.acquire()
        con = duckdb.connect(sys.argv[1])
        print("writing", flush=True)
        sys.stdin.readline()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout.readline().strip() == "writing"
        with pytest.raises(DatabaseLocked) as exc:
            connect(path, read_only=True)
        message = str(exc.value)
        assert f"corpus sync (pid {proc.pid}) is writing to it" in message
        assert "close" not in message
        assert read_lock_holder(path) == LockHolder(proc.pid, "corpus sync")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert read_lock_holder(path) is None  # the lock file is left behind, but nobody holds it


def test_a_writer_that_is_not_the_sync_is_named_as_such(tmp_path):
    path = tmp_path / "foi.duckdb"
    connect(path).close()
    proc = _hold_open(path)  # read-write, no sync lock: e.g. a notebook without read_only=True
    try:
        with pytest.raises(DatabaseLocked, match=rf"open for writing in process {proc.pid}\b.*not a corpus sync"):
            connect(path, read_only=True)
        with pytest.raises(DatabaseLocked, match=rf"open in process {proc.pid}\b.*a reader such as a notebook"):
            connect(path)
    finally:
        _let_go(proc)


def test_probing_the_lock_does_not_make_a_starting_sync_fail(tmp_path):
    """read_lock_holder takes a free lock for an instant; a sync starting just then waits it out."""
    import threading

    path = tmp_path / "foi.duckdb"
    lock_path(path).write_text("\n99999\ncorpus sync\n")  # left behind by a killed sync
    assert read_lock_holder(path) is None
    fd = os.open(lock_path(path), os.O_RDONLY)
    try:
        assert corpus_db._try_lock(fd)  # a probe caught holding the lock right now
        hurried = SyncLock(path)
        hurried.probe_grace = 0.1
        with pytest.raises(DatabaseLocked):
            hurried.acquire()
        threading.Timer(0.3, corpus_db._unlock, [fd]).start()
        with SyncLock(path):  # default grace: outlasts the probe
            assert lock_path(path).read_text().split()[0] == str(os.getpid())
    finally:
        os.close(fd)


# ---------------------------------------------------------------- special files
@pytest.fixture
def no_unlink_outside(tmp_path, monkeypatch):
    """Fail the test, instead of deleting anything, if code tries to unlink a path outside tmp_path."""
    real_unlink = os.unlink

    def guarded(p, *a, **k):
        if not os.path.realpath(p).startswith(str(tmp_path.resolve())):
            raise AssertionError(f"tried to delete {p}")
        return real_unlink(p, *a, **k)

    monkeypatch.setattr(os, "unlink", guarded)


@pytest.mark.parametrize("read_only", [False, True])
def test_dev_null_is_refused_and_left_alone(tmp_path, no_unlink_outside, read_only):
    before = os.stat("/dev/null")
    with pytest.raises(CorpusError, match=r"/dev/null is a character device, not a database file; it was left untouched"):
        connect("/dev/null", read_only=read_only)
    after = os.stat("/dev/null")
    assert stat_kind(after) == "chr" and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def stat_kind(st) -> str:
    import stat as s

    return "chr" if s.S_ISCHR(st.st_mode) else "fifo" if s.S_ISFIFO(st.st_mode) else "reg" if s.S_ISREG(st.st_mode) else "?"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
@pytest.mark.parametrize("read_only", [False, True])
def test_fifo_is_refused_and_left_alone(tmp_path, no_unlink_outside, read_only):
    fifo = tmp_path / "foi.duckdb"
    os.mkfifo(fifo)
    with pytest.raises(CorpusError, match=r"is a named pipe \(FIFO\), not a database file; it was left untouched"):
        connect(fifo, read_only=read_only)  # and it did not hang opening the pipe
    assert stat_kind(os.stat(fifo)) == "fifo"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_links_to_special_files_are_refused(tmp_path, no_unlink_outside):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target, kind in ((Path("/dev/null"), "a character device"), (fifo, r"a named pipe \(FIFO\)")):
        link = tmp_path / f"link-{target.name}.duckdb"
        link.symlink_to(target)
        with pytest.raises(CorpusError, match=rf"is a symbolic link to {re.escape(str(target))}, {kind}, not a database file"):
            connect(link)
        assert link.is_symlink()
    assert stat_kind(os.stat(fifo)) == "fifo" and stat_kind(os.stat("/dev/null")) == "chr"


def test_links_to_files_work_and_broken_links_are_refused(tmp_path):
    target = tmp_path / "real.duckdb"
    target.touch()  # empty regular file: becomes a database, at the link's target
    link = tmp_path / "link.duckdb"
    link.symlink_to(target)
    connect(link).close()
    assert link.is_symlink() and target.stat().st_size > 0
    con = connect(link, read_only=True)
    assert schema_version(con) == schema.CURRENT_VERSION
    con.close()
    broken = tmp_path / "broken.duckdb"
    broken.symlink_to(tmp_path / "gone" / "x.duckdb")
    with pytest.raises(CorpusError, match="symbolic link to .*which does not exist"):
        connect(broken)


def test_cli_refuses_a_fifo_in_one_line(tmp_path):
    from tests.cli_runner import run_cli

    fifo = tmp_path / "foi.duckdb"
    os.mkfifo(fifo)
    for args in (("status",), ("reparse",), ("report", "--output", tmp_path / "r.html")):
        run = run_cli(*args, "--db", fifo, timeout=60)
        assert run.returncode == 2, (args, run.stderr)
        assert run.stderr.strip().count("\n") == 0 and "named pipe (FIFO)" in run.stderr, run.stderr
    assert stat_kind(os.stat(fifo)) == "fifo"


# ---------------------------------------------------------------- storage format
def test_new_files_use_the_older_storage_format(tmp_path):
    con = connect(tmp_path / "foi.duckdb")
    try:
        fmt = storage_format(con)
    finally:
        con.close()
    assert fmt == "v1.0.0+", "new corpora must stay readable by DuckDB 1.x"
    assert corpus_db.oldest_reader(fmt) == "1.1"
    assert corpus_db.oldest_reader("v1.3.0+") == "1.3" and corpus_db.oldest_reader("v2.0.0+") == "2.0"


def test_existing_files_keep_their_format_and_convert_storage_rewrites_them(tmp_path):
    path = tmp_path / "foi.duckdb"
    raw = duckdb.connect(str(path), config={"storage_compatibility_version": "v2.0.0"})  # as older releases wrote
    raw.close()
    con = connect(path)  # creates the schema in the existing 2.0-format file
    con.execute("INSERT INTO authorities (site, url_name, name, tags) VALUES ('s', 'a', 'A', ['x', 'y'])")
    con.execute("INSERT INTO frontier (url, site, kind, state) VALUES ('u', 's', 'request', 'queued')")
    assert storage_format(con) == "v2.0.0+"
    con.close()
    summary = corpus_db.convert_storage(path, keep_original=True)
    assert "from storage format v2.0.0+ to v1.0.0+" in summary and "DuckDB 1.1 and later" in summary
    assert (tmp_path / "foi.duckdb.v2-original").is_file()
    assert not (tmp_path / "foi.duckdb.converting").exists() and not lock_path(path).exists()
    con = connect(path)
    try:
        assert storage_format(con) == "v1.0.0+"
        assert con.execute("SELECT url_name, tags FROM authorities").fetchall() == [("a", ["x", "y"])]
        assert schema_version(con) == schema.CURRENT_VERSION
        with pytest.raises(duckdb.ConstraintException):  # the primary keys came along
            con.execute("INSERT INTO frontier (url, site, kind, state) VALUES ('u', 's', 'request', 'queued')")
    finally:
        con.close()
    assert "nothing to do" in corpus_db.convert_storage(path)


def test_convert_storage_refuses_while_a_sync_runs(tmp_path):
    path = tmp_path / "foi.duckdb"
    connect(path).close()
    with SyncLock(path, command="corpus sync"):
        with pytest.raises(DatabaseLocked, match="another corpus sync"):
            lock = SyncLock(path)
            lock.probe_grace = 0
            with lock:
                pass


# ---------------------------------------------------------------- no fcntl (Windows has none)
NO_FCNTL = textwrap.dedent(
    """
    import importlib.abc, sys, warnings

    class HideFcntl(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "fcntl":
                raise ImportError("No module named 'fcntl' (hidden by the test, as on Windows)")

    sys.modules.pop("fcntl", None)
    sys.meta_path.insert(0, HideFcntl())
    warnings.simplefilter("ignore")  # filelock warns that only soft locks are left

    db = sys.argv[1]
    from corpus import Reader
    from corpus.cli import main
    from corpus.db import SyncLock, read_lock_holder
    from corpus.errors import CorpusError

    print("requests", Reader(db).sql("SELECT count(*) FROM authorities").fetchall()[0][0])
    print("holder", read_lock_holder(db))
    try:
        main(["status", "--db", db])
    except SystemExit as exc:
        print("status exit", exc.code)
    try:
        SyncLock(db).acquire()
    except CorpusError as exc:
        print("lock:", exc)
    assert "fcntl" not in sys.modules
    """
)


def test_reading_works_without_fcntl_and_locking_says_why_not(tmp_path):
    path = tmp_path / "foi.duckdb"
    con = connect(path)
    con.execute("INSERT INTO authorities (site, url_name) VALUES ('s', 'a'), ('s', 'b')")
    con.close()
    lock_path(path).write_text("\n99999\ncorpus sync\n")  # a stale lock file, as a killed sync leaves
    run = subprocess.run([sys.executable, "-c", NO_FCNTL, str(path)], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "requests 2" in out and "holder None" in out
    assert "status exit 0" in out and "Database:" in out
    assert "lock: this system offers no file locking" in out


def test_cli_convert_storage(tmp_path):
    from tests.cli_runner import run_cli

    path = tmp_path / "foi.duckdb"
    duckdb.connect(str(path), config={"storage_compatibility_version": "v2.0.0"}).close()
    connect(path).close()
    run = run_cli("convert-storage", "--db", path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "from storage format v2.0.0+ to v1.0.0+" in run.stdout
    assert not (tmp_path / "foi.duckdb.v2-original").exists()
    run = run_cli("convert-storage", "--db", tmp_path / "missing.duckdb", timeout=120)
    assert run.returncode == 2 and run.stderr.count("\n") == 1


def test_connect_never_drops_the_locks_of_a_connection_already_open_here(tmp_path):
    """Closing any descriptor of a file drops this process's POSIX locks on it: connect() must not open the file itself."""
    path = tmp_path / "foi.duckdb"
    connect(path).close()
    held = duckdb.connect(str(path), read_only=True)  # e.g. a notebook's own connection
    try:
        connect(path, read_only=True).close()
        writer = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", str(path)],
                                capture_output=True, text=True, timeout=60)
        assert writer.returncode != 0 and "lock" in writer.stderr.lower(), "another process could write under an open reader"
    finally:
        held.close()


def test_version_6_keeps_the_pages_and_drops_their_key_index(tmp_path, monkeypatch):
    from corpus import pagestore

    path = tmp_path / "foi.duckdb"
    monkeypatch.setattr(corpus_db, "MIGRATIONS", schema.MIGRATIONS[:5])
    monkeypatch.setattr(corpus_db, "CURRENT_VERSION", 5)
    con = connect(path)
    page = pagestore.make_page(url="https://s/request/a", site="https://s", kind="request_html", status=200,
                               final_url=None, headers={"ETag": "e1"}, body=b"first")
    pagestore.store_pages(con, [page])
    before = con.execute("SELECT * FROM pages").fetchall()
    con.close()
    monkeypatch.undo()

    con = connect(path)
    try:
        assert schema_version(con) == schema.CURRENT_VERSION >= 6
        assert con.execute("SELECT * FROM pages").fetchall() == before
        assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'pages' "
                           "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'pages' "
                           "AND constraint_type = 'NOT NULL'").fetchone()[0] == 3  # url, site, kind
        again = pagestore.make_page(url="https://s/request/a", site="https://s", kind="request_html", status=200,
                                    final_url=None, headers={"ETag": "e2"}, body=b"second")
        pagestore.store_pages(con, [again])
        assert con.execute("SELECT count(*), any_value(etag) FROM pages").fetchone() == (1, "e2")
    finally:
        con.close()


def test_version_7_keeps_the_core_rows_and_drops_their_key_indexes(tmp_path, monkeypatch):
    from tests.corpus.factories import item, make_thread
    from tests.support.corpus_db import load_threads_tx

    path = tmp_path / "foi.duckdb"
    monkeypatch.setattr(corpus_db, "MIGRATIONS", schema.MIGRATIONS[:6])
    monkeypatch.setattr(corpus_db, "CURRENT_VERSION", 6)
    con = connect(path)
    load_threads_tx(con, [item(make_thread(1, messages=4, annotations=2)), item(make_thread(2, with_json=False))])
    core = ("authorities", "users", "requests", "messages", "attachments", "annotations", "events")
    before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in core}
    assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'messages' "
                       "AND constraint_type = 'PRIMARY KEY'").fetchone()[0] == 1
    con.close()
    monkeypatch.undo()

    con = connect(path)
    try:
        assert schema_version(con) == schema.CURRENT_VERSION >= 7
        for t in core:
            assert con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() == before[t], t
        assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name IN ? "
                           "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')", [list(core)]).fetchone()[0] == 0
        # defaults and NOT NULL came along
        con.execute("INSERT INTO requests (site, request_key, url_title) VALUES ('s', 'slug:x', 'x')")
        assert con.execute("SELECT removed FROM requests WHERE request_key = 'slug:x'").fetchone()[0] is False
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO messages (site, request_key, direction) VALUES ('s', 'slug:x', 'incoming')")
        # and loading again over the migrated rows adds nothing
        load_threads_tx(con, [item(make_thread(1, messages=4, annotations=2)), item(make_thread(2, with_json=False))])
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == len(before["messages"])
    finally:
        con.close()


def _rows_per_row_group(con, table: str) -> list[int]:
    return [r[0] for r in con.execute(
        "SELECT max(start + count) - min(start) FROM pragma_storage_info(?) "
        "WHERE column_id = 0 AND segment_type <> 'VALIDITY' GROUP BY row_group_id ORDER BY row_group_id", [table],
    ).fetchall()]


def test_writing_connections_keep_row_groups_small(tmp_path):
    # a checkpoint rewrites the whole last row group of a table that gained rows: small groups bound that work
    path = tmp_path / "foi.duckdb"
    con = connect(path)
    try:
        assert con.execute("SELECT current_database()").fetchall()[0][0] == corpus_db.WRITING_ALIAS
        con.execute("INSERT INTO sync_runs (run_id, started_at) SELECT 'r' || range, now() FROM range(40000)")
    finally:
        con.close()
    con = connect(path)  # a second writer appends after a checkpoint
    try:
        con.execute("INSERT INTO sync_runs (run_id, started_at) SELECT 's' || range, now() FROM range(100)")
    finally:
        con.close()
    plain = duckdb.connect(str(path), read_only=True)  # what a notebook or the duckdb shell opens
    try:
        sizes = _rows_per_row_group(plain, "sync_runs")
        assert sum(sizes) == 40100
        assert len(sizes) >= 3 and max(sizes) <= corpus_db.ROW_GROUP_SIZE
    finally:
        plain.close()


def test_checkpoint_writes_what_was_committed_and_keeps_the_cap(tmp_path):
    path = tmp_path / "foi.duckdb"
    con = connect(path)
    try:
        con.execute("SET memory_limit = '48MB'")
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO sync_runs (run_id, started_at) SELECT 'r' || range, now() FROM range(5000)")
        con.execute("COMMIT")
        wal = Path(str(path) + ".wal")
        assert wal.exists() and wal.stat().st_size > 0  # committed, but only in the WAL
        cap = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        corpus_db.checkpoint(con)
        assert not wal.exists() or wal.stat().st_size == 0
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == cap
        assert con.execute("SELECT count(*) FROM sync_runs").fetchall()[0][0] == 5000
    finally:
        con.close()


def test_checkpoint_leaves_the_cap_where_it_was_however_often(tmp_path):
    con = connect(tmp_path / "foi.duckdb")
    try:
        con.execute("SET memory_limit = '96MB'")
        shown = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        for _ in range(30):
            corpus_db.checkpoint(con)
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == shown
    finally:
        con.close()
