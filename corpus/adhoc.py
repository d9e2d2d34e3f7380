"""``corpus sql "SELECT …"``: one ad-hoc query, for those without a DuckDB shell.

The database is opened read-only and DuckDB's access to anything else is shut
before the query runs (``enable_external_access = false``, then
``lock_configuration = true`` so the query cannot turn it back on): no
``COPY … TO``, ``ATTACH``, ``INSTALL``/``LOAD``, or reading and writing files.
One statement per call.  The result goes out in the same formats, through the
same safe writer, as ``corpus query``.
"""

from __future__ import annotations

import pyarrow as pa

from corpus.errors import CorpusError, UsageError

_SAFE_SETTINGS = ("SET enable_external_access = false", "SET lock_configuration = true")


def _reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run_sql(db_path: str, sql: str) -> pa.Table:
    """Run one read-only statement on the corpus at ``db_path``; return its result."""
    import duckdb

    from corpus.queries import open_read_only

    if not sql or not sql.strip():
        raise UsageError('give one SQL statement, e.g. corpus sql "SELECT count(*) FROM requests"')
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("the SQL holds bytes that are not UTF-8 text; give it in UTF-8") from None
    con = open_read_only(db_path)
    try:
        for setting in _SAFE_SETTINGS:
            con.execute(setting)
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise UsageError(f"the SQL does not parse: {_reason(exc)}") from None
        if len(statements) != 1:
            raise UsageError(f"give exactly one SQL statement (got {len(statements)}); run several with several calls")
        try:
            rel = con.sql(sql)
            if rel is None:
                raise UsageError("that statement returns no rows; corpus sql is for queries (SELECT, SHOW, DESCRIBE, ...)")
            return rel.to_arrow_table()
        except duckdb.PermissionException as exc:
            raise UsageError(f"not allowed here: {_reason(exc)}; corpus sql reads the corpus only (no files, ATTACH or extensions)") from None
        except (duckdb.InvalidInputException, duckdb.ParserException, duckdb.BinderException,
                duckdb.CatalogException, duckdb.ConversionException, duckdb.OutOfRangeException,
                duckdb.NotImplementedException) as exc:
            raise UsageError(f"the query failed: {_reason(exc)}") from None
        except duckdb.Error as exc:
            text = _reason(exc)
            if "read-only" in text.lower() or "read only" in text.lower():
                raise UsageError(f"not allowed here: {text}; corpus sql opens the corpus read-only") from None
            raise CorpusError(f"the query failed: {text}") from None
    finally:
        con.close()
