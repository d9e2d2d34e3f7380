"""Parquet export: everything comes back, by DuckDB and by pyarrow, partitioned by year."""

from __future__ import annotations

import json

import duckdb
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.errors import UsageError
from corpus.export import NULL_PARTITION, export_parquet
from tests.corpus.test_queries import REQUESTS, SITE, known_db, known_template  # noqa: F401  (fixtures)


def _add_page(db):
    con = duckdb.connect(str(db))
    con.execute(
        "INSERT INTO pages (url, site, kind, status, body) VALUES (?, ?, 'request_html', 200, ?)",
        [f"{SITE}/request/req_a1", SITE, b"<html>raw page</html>"],
    )
    # a message of a request the requests table does not know: its year is unknown
    con.execute("INSERT INTO messages (site, request_key, message_id, direction, body) VALUES (?, 'orphan', 9, 'incoming', 'x')", [SITE])
    # a late reply (2020) to a 2019 request: it belongs with its request
    con.execute("INSERT INTO messages (site, request_key, message_id, direction, sent_at, body) VALUES (?, 'a1', 8, 'incoming', '2020-02-01 10:00:00+00', 'late')", [SITE])
    con.close()


def test_export_round_trip(known_db, tmp_path):
    _add_page(known_db)
    out = tmp_path / "export"
    summary = export_parquet(db_path=str(known_db), out_dir=str(out))
    assert summary.startswith("Exported ") and "partitioned by year" in summary

    # request tables: hive-partitioned directories
    assert sorted(p.name for p in (out / "requests").iterdir()) == ["year=2019", "year=2020"]
    assert sorted(p.name for p in (out / "request_timeline").iterdir()) == ["year=2019", "year=2020"]
    assert (out / "messages" / f"year={NULL_PARTITION}").is_dir()  # the orphan message
    assert (out / "authorities.parquet").is_file()

    con = duckdb.connect()
    got = con.sql(f"SELECT year, count(*) FROM read_parquet('{out}/requests/**/*.parquet', hive_partitioning = true) GROUP BY year ORDER BY year").fetchall()
    assert got == [(2019, sum(r[2].startswith("2019") for r in REQUESTS)), (2020, sum(r[2].startswith("2020") for r in REQUESTS))]
    msgs = con.sql(f"SELECT request_key, year FROM read_parquet('{out}/messages/**/*.parquet', hive_partitioning = true) ORDER BY message_id").fetchall()
    assert ("a2", 2019) in msgs and ("a5", 2020) in msgs and ("orphan", None) in msgs
    assert ("a1", 2019) in msgs  # the 2020 reply sits with its 2019 request
    assert con.sql(f"SELECT count(*) FROM read_parquet('{out}/refusal_citations/**/*.parquet', hive_partitioning = true)").fetchall()[0][0] == 10

    # pyarrow reads the same directories
    timeline = ds.dataset(out / "request_timeline", format="parquet", partitioning="hive").to_table()
    assert timeline.num_rows == len(REQUESTS)
    assert sorted(set(timeline.column("year").to_pylist())) == [2019, 2020]
    title_of = dict(zip(timeline.column("request_key").to_pylist(), timeline.column("title").to_pylist()))
    assert title_of["a3"] == "Children's services: agency staff spend"

    pages = ds.dataset(out / "pages.parquet", format="parquet").to_table()
    assert pages.num_rows == 1 and "body" not in pages.column_names and "sha256" in pages.column_names

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"]["requests"] == {"rows": len(REQUESTS), "path": "requests/", "partitioned_by": "year (request year)"}
    assert manifest["tables"]["request_timeline"]["partitioned_by"] == "year (year column)"
    assert manifest["tables"]["pages"]["note"].startswith("body")


def test_empty_request_table_keeps_its_columns(known_db, tmp_path):
    out = tmp_path / "export"
    export_parquet(db_path=str(known_db), out_dir=str(out))
    # attachments is empty in the known corpus: still readable, with its columns
    table = ds.dataset(out / "attachments", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 0 and "incoming_message_id" in table.column_names
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/attachments/**/*.parquet', hive_partitioning = true)").fetchall()[0][0] == 0


def test_page_bodies_on_request(known_db, tmp_path):
    _add_page(known_db)
    export_parquet(db_path=str(known_db), out_dir=str(tmp_path / "e"), include_page_bodies=True)
    pages = ds.dataset(tmp_path / "e" / "pages.parquet", format="parquet").to_table()
    assert pages.column("body").to_pylist() == [b"<html>raw page</html>"]


def test_refuses_a_non_empty_directory(known_db, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "old.parquet").write_bytes(b"x")
    with pytest.raises(UsageError, match="not empty"):
        export_parquet(db_path=str(known_db), out_dir=str(tmp_path / "busy"))


def test_cli_export(known_db, tmp_path):
    result = CliRunner().invoke(main, ["export", "--db", str(known_db), "--output", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Exported ")
    assert (tmp_path / "cli" / "manifest.json").is_file()
