"""``corpus sql``: one read-only statement, the same formats and safety as ``corpus query``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from corpus.adhoc import run_sql
from corpus.cli import main
from corpus.errors import UsageError
from tests.corpus.test_queries import REQUESTS, known_db, known_template  # noqa: F401  (fixtures)


def test_sql_runs_one_statement_in_every_format(known_db, tmp_path):
    runner = CliRunner()
    stmt = "SELECT authority_url_name, count(*) AS n, min(sent_at) AS first FROM request_timeline GROUP BY ALL ORDER BY n DESC, 1"
    table = runner.invoke(main, ["sql", stmt, "--db", str(known_db)])
    assert table.exit_code == 0 and table.stdout.splitlines()[2].split()[:2] == ["council_a", "7"]
    jsonl = runner.invoke(main, ["sql", stmt, "--db", str(known_db), "--format", "jsonl"]).stdout.splitlines()
    first = json.loads(jsonl[0])
    assert first == {"authority_url_name": "council_a", "n": 7, "first": "2019-03-04T09:00:00+00:00"}
    csv_text = runner.invoke(main, ["sql", stmt, "--db", str(known_db), "--format", "csv"]).stdout
    assert csv_text.splitlines()[1] == "council_a,7,2019-03-04T09:00:00+00:00"
    out = tmp_path / "n.parquet"
    assert runner.invoke(main, ["sql", stmt, "--db", str(known_db), "--format", "parquet", "--output", str(out)]).exit_code == 0
    import pyarrow.parquet as pq

    assert pq.read_table(out).num_rows == 4
    assert run_sql(str(known_db), "SELECT count(*) AS n FROM requests").to_pylist() == [{"n": len(REQUESTS)}]


@pytest.mark.parametrize("stmt, message", [
    ("DELETE FROM requests", "read-only"),
    ("DROP TABLE requests", "read-only"),
    ("COPY requests TO '{tmp}/leak.csv'", "reads the corpus only"),
    ("ATTACH '{tmp}/other.duckdb' AS o", "reads the corpus only"),
    ("SELECT * FROM read_csv('/etc/passwd')", "reads the corpus only"),
    ("SET enable_external_access = true", "the query failed"),
    ("INSTALL httpfs", "reads the corpus only"),
    ("SELECT 1; SELECT 2", "exactly one SQL statement"),
    ("SELEC 1", "does not parse"),
    ("SELECT * FROM no_such_table", "the query failed"),
    ("", "give one SQL statement"),
])
def test_sql_cannot_write_or_reach_outside(known_db, tmp_path, stmt, message):
    stmt = stmt.format(tmp=tmp_path)
    with pytest.raises(UsageError, match=message):
        run_sql(str(known_db), stmt)
    got = CliRunner().invoke(main, ["sql", stmt, "--db", str(known_db)])
    assert got.exit_code == 2 and got.output.startswith("Error: ") and got.output.count("\n") == 1, got.output
    assert not (tmp_path / "leak.csv").exists() and not (tmp_path / "other.duckdb").exists()
    assert run_sql(str(known_db), "SELECT count(*) AS n FROM requests").to_pylist() == [{"n": len(REQUESTS)}]
