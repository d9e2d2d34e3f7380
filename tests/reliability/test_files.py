"""Disk and file faults: a clear one-line message, no traceback, nothing overwritten."""

from __future__ import annotations

import hashlib
import os

import duckdb
import pytest

from corpus.errors import EXIT_USAGE
from tests.reliability.truth import run_cli


def _fingerprint(path):
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size


def _sync(site, dbp):
    return run_cli("sync", "--site", site.url, "--db", dbp, "--request", site.corpus.requests[0].url_title, "--rate", "200")


def _check(res, *words):
    assert res.returncode == EXIT_USAGE, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("Error: ")
    for w in words:
        assert w in res.stderr, (w, res.stderr)


def test_missing_folder_and_a_file_in_the_way(site, tmp_path):
    res = _sync(site, tmp_path / "no" / "such" / "folder" / "foi.duckdb")
    _check(res, "does not exist")
    assert list(tmp_path.iterdir()) == []
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n")
    before = _fingerprint(blocker)
    _check(_sync(site, blocker / "foi.duckdb"), "notes.txt")
    assert _fingerprint(blocker) == before
    folder = tmp_path / "a_folder.duckdb"
    folder.mkdir()
    _check(_sync(site, folder), "is a directory")
    assert list(folder.iterdir()) == []


def test_a_read_only_location(site, tmp_path):
    # /proc refuses new files even to root, unlike a chmod-ed folder
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc on this system")
    res = _sync(site, "/proc/foi-corpus-test.duckdb")
    assert res.returncode != 0 and "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("Error: ")
    assert not os.path.exists("/proc/foi-corpus-test.duckdb")


def test_a_file_that_is_not_a_duckdb_database_is_left_untouched(site, tmp_path):
    for name, content in (("notes.duckdb", b"These are my notes, not a database.\n" * 100),
                          ("random.duckdb", os.urandom(4096)),
                          ("data.parquet", b"PAR1" + b"\0" * 200 + b"PAR1")):
        f = tmp_path / name
        f.write_bytes(content)
        before = _fingerprint(f)
        _check(_sync(site, f), "not a corpus database", "left untouched")
        assert _fingerprint(f) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.parquet", "notes.duckdb", "random.duckdb"]


def test_a_database_from_a_newer_schema_is_refused_unchanged(site, tmp_path):
    from corpus.schema import CURRENT_VERSION

    f = tmp_path / "future.duckdb"
    con = duckdb.connect(str(f))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ DEFAULT now())")
    con.execute("INSERT INTO schema_version (version) VALUES (?)", [CURRENT_VERSION + 5])
    con.execute("CREATE TABLE requests (x INTEGER)")
    con.close()
    before = _fingerprint(f)
    _check(_sync(site, f), f"schema {CURRENT_VERSION + 5} > {CURRENT_VERSION}", "upgrade foi-corpus")
    assert _fingerprint(f) == before
    for command in (["status"], ["query", "outcomes"], ["reparse"]):
        res = run_cli(*command, "--db", f)
        _check(res, "newer corpus")
        assert _fingerprint(f) == before


def test_another_duckdb_database_is_not_taken_over(site, tmp_path):
    f = tmp_path / "mine.duckdb"
    con = duckdb.connect(str(f))
    con.execute("CREATE TABLE budget AS SELECT range AS n FROM range(10)")
    con.close()
    before = _fingerprint(f)
    _check(_sync(site, f), "not a corpus database")
    assert _fingerprint(f) == before
