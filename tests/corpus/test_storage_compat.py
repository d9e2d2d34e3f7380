"""A corpus built by the real CLI opens in DuckDB 1.x (the `duckdb` command of the duckdb-cli 1.5 package)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

import pytest

from corpus.queries import run_query
from tests.cli_runner import cli_args, cli_env
from tests.conftest import PROJECT_ROOT


def _duckdb_1x() -> str:
    found = shutil.which("duckdb")
    if not found:
        pytest.skip("no `duckdb` command on PATH (pip install 'duckdb-cli>=1.5,<2', part of the test extra)")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    if not re.match(r"v1\.", version):
        pytest.skip(f"the `duckdb` command is {version or 'of unknown version'}, not a 1.x release; this test checks 1.x")
    return found


@pytest.fixture(scope="module")
def built_by_cli(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compat")
    run = subprocess.run(cli_args("demo"), capture_output=True, text=True, timeout=300, cwd=folder, env=cli_env())
    assert run.returncode == 0, run.stderr[-3000:]
    return folder / "foi-demo.duckdb"


def _cli_csv(duckdb_bin: str, db, *commands: str, stdin: str | None = None) -> list[dict]:
    args = [duckdb_bin, "-readonly", "-csv", str(db)]
    for c in commands:
        args += ["-c", c]
    run = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert run.returncode == 0 and "Error" not in run.stderr, run.stderr
    return list(csv.DictReader(io.StringIO(run.stdout)))


def test_duckdb_1x_opens_a_corpus_built_by_the_cli(built_by_cli):
    duckdb_bin = _duckdb_1x()
    import duckdb

    con = duckdb.connect(str(built_by_cli), read_only=True)
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    expected = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    con.close()
    assert expected["requests"] == 41
    union = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM \"{t}\"" for t in tables)
    rows = _cli_csv(duckdb_bin, built_by_cli, union)
    assert {r["t"]: int(r["n"]) for r in rows} == expected
    fmt = _cli_csv(duckdb_bin, built_by_cli, "SELECT tags['storage_version'] AS v FROM duckdb_databases() WHERE NOT internal")
    assert fmt == [{"v": "v1.0.0+"}]
    # every column of the busiest tables reads (lists, TIMESTAMPTZ, JSON, BLOB)
    for table in ("requests", "messages", "sync_runs", "pages", "request_timeline"):
        assert len(_cli_csv(duckdb_bin, built_by_cli, f'SELECT * FROM "{table}"')) == expected[table]


def test_canned_queries_run_in_duckdb_1x(built_by_cli):
    duckdb_bin = _duckdb_1x()
    sql = (PROJECT_ROOT / "queries" / "response_times.sql").read_text()
    rows = _cli_csv(duckdb_bin, built_by_cli, stdin=sql)
    ours = run_query(built_by_cli, "response_times", {}).to_pylist()
    assert [r["authority_url_name"] for r in rows] == [r["authority_url_name"] for r in ours]
    assert [int(r["requests"]) for r in rows] == [r["requests"] for r in ours]
