"""Staged Arrow tables take their columns from the DDL, read as text; DuckDB's own catalog must agree."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from corpus.schema import MIGRATIONS
from corpus.staging import _ARROW_TYPES, arrow_rows, arrow_schema, columns, duckdb_catalog, read_ddl, registered


def _arrow(catalog):
    return {t: [(n, _ARROW_TYPES[k]) for n, k in cols] for t, cols in catalog.items()}


def test_the_ddl_read_as_text_matches_duckdbs_catalog():
    text = read_ddl(MIGRATIONS)
    assert text is not None
    assert _arrow(text) == _arrow(duckdb_catalog(MIGRATIONS))


def test_a_migration_that_adds_a_column_is_followed():
    extra = "ALTER TABLE attachments ADD COLUMN size_bytes_exact BIGINT;  -- a column no step has added yet\n"
    text = read_ddl([*MIGRATIONS, extra])
    assert text is not None and text["attachments"][-1] == ("size_bytes_exact", "BIGINT")
    assert _arrow(text) == _arrow(duckdb_catalog([*MIGRATIONS, extra]))


def test_ddl_the_text_reader_does_not_understand_falls_back_to_duckdb():
    assert read_ddl([*MIGRATIONS, "ALTER TABLE pages DROP COLUMN etag;"]) is None
    assert read_ddl([*MIGRATIONS, lambda con: None]) is None


def test_schemas_follow_the_ddl_order_and_types():
    schema = arrow_schema("parse_failures")
    assert schema.names == columns("parse_failures") == ["url", "site", "kind", "message", "page_sha256", "failed_at"]
    assert schema.field("failed_at").type == pa.timestamp("us", tz="UTC")
    assert "removed" not in arrow_schema("requests", without=("removed",)).names
    assert arrow_schema("requests").field("tags").type == pa.list_(pa.string())


def test_rows_that_do_not_fit_the_schema_are_refused():
    schema = arrow_schema("parse_failures")
    assert arrow_rows(schema, []).num_rows == 0
    with pytest.raises(ValueError):
        arrow_rows(schema, [("u", "s", "k")])


def test_registered_is_gone_after_the_block_even_on_error():
    con = duckdb.connect()
    table = pa.table({"x": [1, 2]})
    with registered(con, "_t", table):
        assert con.execute("SELECT sum(x) FROM _t").fetchone() == (3,)
    with pytest.raises(RuntimeError), registered(con, "_t", table):
        raise RuntimeError
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM _t")


def test_a_failed_statement_inside_the_block_is_the_error_reported():
    """The failure aborts the transaction and unregistering fails too: the first error must not be hidden."""
    con = duckdb.connect()
    con.execute("BEGIN TRANSACTION")
    with pytest.raises(duckdb.BinderException, match="no_such_column"):
        with registered(con, "_t", pa.table({"a": [1]})):
            con.execute("SELECT no_such_column FROM _t")
    con.execute("ROLLBACK")
