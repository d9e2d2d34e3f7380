"""`corpus demo`: its own file, one stable site address, the same database however often it runs."""

from __future__ import annotations

import hashlib
import os
import subprocess

import duckdb
import pytest

from corpus.db import connect
from corpus.demo import DEMO_SITE
from tests.cli_runner import cli_args, cli_env
from tests.corpus.factories import SITE, item, make_thread
from tests.support.corpus_db import load_threads_tx

TABLES = ("requests", "messages", "annotations", "attachments", "events", "authorities", "users", "frontier",
          "pages", "request_timeline", "refusal_citations", "sync_runs")


def _demo(cwd, *args, env=None):
    return subprocess.run(cli_args("demo", *args), capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=env or cli_env())


def _counts(path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
    finally:
        con.close()


def _sites(path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT site FROM requests UNION SELECT site FROM pages UNION SELECT site FROM frontier").fetchall()}
    finally:
        con.close()


def test_demo_twice_gives_the_same_database_in_its_own_file(tmp_path):
    env = cli_env(CORPUS_DB=tmp_path / "my-real-corpus.duckdb")  # the demo never writes to $CORPUS_DB
    first = _demo(tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    demo_db = tmp_path / "foi-demo.duckdb"
    assert demo_db.is_file()
    assert not (tmp_path / "foi.duckdb").exists() and not (tmp_path / "my-real-corpus.duckdb").exists()
    # the database and its search index; no .building file or index, .wal or lock left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foi-demo.duckdb", "foi-demo.duckdb.search"]
    counts = _counts(demo_db)
    assert counts["requests"] == 41 and counts["sync_runs"] == 1
    assert _sites(demo_db) == {DEMO_SITE}
    assert f"The demo corpus is in foi-demo.duckdb (site {DEMO_SITE})" in first.stdout

    second = _demo(tmp_path, env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _counts(demo_db) == counts  # not 82 requests
    assert _sites(demo_db) == {DEMO_SITE}
    con = duckdb.connect(str(demo_db), read_only=True)
    assert con.execute("SELECT count(*) FROM pages WHERE url LIKE '%127.0.0.1%' OR final_url LIKE '%127.0.0.1%'").fetchone()[0] == 0
    con.close()


def _file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_refuses_a_corpus_of_another_site(tmp_path):
    real = tmp_path / "foi.duckdb"
    con = connect(real)
    load_threads_tx(con, [item(make_thread(1))])
    con.close()
    before = _file_digest(real)
    run = _demo(tmp_path, "--db", real)
    assert run.returncode == 2, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"holds threads from {SITE}" in lines[0] and "foi-demo.duckdb" in lines[0], run.stderr
    assert _file_digest(real) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foi.duckdb"]


def test_demo_refuses_files_that_are_not_corpora(tmp_path):
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes\n")
    run = _demo(tmp_path, "--db", notes)
    assert run.returncode == 2 and "not a corpus database" in run.stderr
    assert notes.read_text() == "my notes\n"
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.duckdb"
        os.mkfifo(fifo)
        run = _demo(tmp_path, "--db", fifo)
        assert run.returncode == 2 and "named pipe" in run.stderr
        assert fifo.is_fifo()


@pytest.mark.parametrize("name", ["foi-demo.duckdb"])
def test_an_empty_file_is_fine(tmp_path, name):
    (tmp_path / name).touch()
    run = _demo(tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _counts(tmp_path / name)["requests"] == 41
