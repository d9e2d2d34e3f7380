"""Outputs never harm the corpus: refused targets, atomic writes, one-line errors."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from corpus import outputs
from corpus.cli import main
from corpus.errors import UsageError
from corpus.outputs import atomic_folder, check_output, write_text_atomic
from tests.corpus.test_queries import REQUESTS, known_db, known_template  # noqa: F401  (fixtures)


def _requests(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
    finally:
        con.close()


@pytest.mark.parametrize("suffix", ["", ".wal", ".sync.lock", ".lock", ".files/x.csv", ".search/meta.json"])
def test_the_database_and_its_files_are_refused(known_db, suffix):
    target = Path(str(known_db) + suffix)
    with pytest.raises(UsageError, match="is the database or one of its files"):
        check_output(target, db_path=known_db)


def test_a_link_to_the_database_is_the_database(known_db, tmp_path):
    link = tmp_path / "elsewhere.csv"
    link.symlink_to(known_db)
    with pytest.raises(UsageError, match="is the database"):
        check_output(link, db_path=known_db)


def test_any_duckdb_file_is_refused_by_its_magic_bytes(known_db, tmp_path):
    other = tmp_path / "innocent-name.csv"
    shutil.copy(known_db, other)
    with pytest.raises(UsageError, match="is a DuckDB database; it was left untouched"):
        check_output(other, db_path=tmp_path / "another.duckdb")


def test_folders_and_special_files_are_refused(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        check_output(tmp_path)
    with pytest.raises(UsageError, match="not a regular file"):
        check_output("/dev/null")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        check_output(fifo)
    assert Path("/dev/null").exists() and fifo.exists()


def test_missing_folder_is_one_line_with_the_fix(tmp_path):
    with pytest.raises(UsageError, match=r"folder .*missing does not exist; create it \(mkdir -p"):
        write_text_atomic(tmp_path / "missing" / "out.csv", "x")


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "replace", full)
    with pytest.raises(UsageError, match="no space left on the device; free some space"):
        write_text_atomic(target, "newer\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_permission_denied_is_one_line(tmp_path, monkeypatch):
    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(outputs.tempfile, "mkstemp", denied)
    with pytest.raises(UsageError, match="permission denied in its folder; choose a folder you can write to"):
        write_text_atomic(tmp_path / "out.csv", "x")


def test_atomic_folder_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "export"
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "half.parquet").write_text("x")
            raise RuntimeError("stopped half way")
    assert list(tmp_path.iterdir()) == []
    target.mkdir()  # an empty folder is fine, and is replaced
    with atomic_folder(target) as tmp:
        (tmp / "whole.parquet").write_text("x")
    assert [p.name for p in target.iterdir()] == ["whole.parquet"]


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs, when this machine lets the tests mount one (root on Linux)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root; the simulated ENOSPC test covers this")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", f"tmpfs-{uuid.uuid4().hex[:8]}", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_device_is_one_line_and_keeps_the_old_file(small_disk):
    target = small_disk / "out.csv"
    target.write_text("old\n")
    with pytest.raises(UsageError, match="no space left on the device"):
        write_text_atomic(target, "x" * 200_000)
    assert target.read_text() == "old\n"
    assert [p.name for p in small_disk.iterdir()] == ["out.csv"]


# ---------------------------------------------------------------- the commands
def test_query_report_export_sql_refuse_the_database(known_db):
    runner = CliRunner()
    before = known_db.read_bytes()
    commands = [
        ["query", "outcomes", "--db", str(known_db), "--format", "csv", "--output", str(known_db)],
        ["query", "outcomes", "--db", str(known_db), "--format", "parquet", "--output", str(known_db) + ".wal"],
        ["sql", "SELECT 1", "--db", str(known_db), "--format", "json", "--output", str(known_db)],
        ["report", "--db", str(known_db), "--output", str(known_db)],
        ["export", "--db", str(known_db), "--output", str(known_db) + ".files"],
    ]
    for args in commands:
        got = runner.invoke(main, args)
        assert got.exit_code == 2, (args, got.output)
        assert got.output.startswith("Error: ") and got.output.count("\n") == 1, got.output
        assert "Traceback" not in got.output
    assert known_db.read_bytes() == before
    assert _requests(known_db) == len(REQUESTS)


def test_query_into_another_corpus_is_refused(known_db, tmp_path):
    other = tmp_path / "other.duckdb"
    shutil.copy(known_db, other)
    got = CliRunner().invoke(main, ["query", "outcomes", "--db", str(known_db), "--format", "csv", "--output", str(other)])
    assert got.exit_code == 2 and "is a DuckDB database" in got.output
    assert _requests(other) == len(REQUESTS)


def test_query_output_missing_folder_and_full_device(known_db, tmp_path, monkeypatch):
    got = CliRunner().invoke(main, ["query", "outcomes", "--db", str(known_db), "--format", "csv",
                                    "--output", str(tmp_path / "nope" / "x.csv")])
    assert got.exit_code == 2 and "does not exist; create it" in got.output and "Traceback" not in got.output

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "fsync", full)
    target = tmp_path / "x.parquet"
    got = CliRunner().invoke(main, ["query", "outcomes", "--db", str(known_db), "--format", "parquet", "--output", str(target)])
    assert got.exit_code == 2 and "no space left on the device" in got.output
    assert not target.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".x.parquet")] == []
