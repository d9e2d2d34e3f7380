"""Arrow tables staged for set-based writes: their schemas, taken from the DDL, and how SQL sees them.

Every bulk write builds one Arrow table and runs one statement over it.  The
columns of each table are declared once, in ``corpus.schema``'s migrations;
:func:`arrow_schema` reads them back from that DDL, so a staged table can
never drift from the table it feeds.  (The DDL is read as text, which is
quick at import; a test checks the reading against DuckDB's own catalog.)
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from corpus.schema import MIGRATIONS

TIMESTAMP = pa.timestamp("us", tz="UTC")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMPTZ": TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": TIMESTAMP,
    "BLOB": pa.binary(),
    "VARCHAR[]": pa.list_(pa.string()),
}
_TYPE = r"(VARCHAR\[\]|VARCHAR|JSON|BIGINT|INTEGER|DOUBLE|BOOLEAN|DATE|TIMESTAMPTZ|BLOB)(?![\w\[])"
_CREATE = re.compile(r"CREATE TABLE (IF NOT EXISTS )?(\w+)\s*\((.*?)\n\);", re.S)
_COLUMN = re.compile(rf"^\s*(\w+)\s+{_TYPE}", re.M)
_ADD = re.compile(rf"ALTER TABLE (\w+) ADD COLUMN (\w+) {_TYPE}")
_DROP = re.compile(r"DROP TABLE (\w+);")
_RENAME = re.compile(r"ALTER TABLE (\w+) RENAME TO (\w+);")
_OTHER_DDL = re.compile(r"\b(DROP|RENAME|ALTER COLUMN)\b", re.I)

Catalog = dict[str, tuple[tuple[str, str], ...]]


def read_ddl(migrations: Sequence[object]) -> Catalog | None:
    """``table -> ((column, type), ...)`` read from the migrations' text; None when some step is not plain DDL."""
    out: dict[str, list[tuple[str, str]]] = {}
    for step in migrations:
        if not isinstance(step, str):
            return None
        step = re.sub(r"--[^\n]*", "", step)
        if _OTHER_DDL.search(_RENAME.sub("", _DROP.sub("", step))):
            return None
        events = [(m.start(), "create", m) for m in _CREATE.finditer(step)]
        events += [(m.start(), "add", m) for m in _ADD.finditer(step)]
        events += [(m.start(), "drop", m) for m in _DROP.finditer(step)]
        events += [(m.start(), "rename", m) for m in _RENAME.finditer(step)]
        for _, kind, m in sorted(events, key=lambda e: e[0]):
            if kind == "create":
                if m.group(1):  # IF NOT EXISTS: an existing table keeps its columns
                    out.setdefault(m.group(2), []).extend(_COLUMN.findall(m.group(3)))
                else:
                    out[m.group(2)] = _COLUMN.findall(m.group(3))
            elif kind == "add":
                out[m.group(1)].append((m.group(2), m.group(3)))
            elif kind == "drop":
                out.pop(m.group(1), None)
            else:  # a table rebuilt under a new name takes the old one's place
                out[m.group(2)] = out.pop(m.group(1))
    return {t: tuple(cols) for t, cols in out.items()}


def duckdb_catalog(migrations: Sequence[object]) -> Catalog:
    """The same, as DuckDB builds it (the migrations applied to an in-memory database)."""
    con = duckdb.connect(":memory:")
    try:
        for step in migrations:
            if callable(step):
                step(con)
            else:
                con.execute(str(step))
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        out.setdefault(table, []).append((column, kind))
    return {t: tuple(cols) for t, cols in out.items()}


@functools.cache
def _catalog() -> Catalog:
    return read_ddl(MIGRATIONS) or duckdb_catalog(MIGRATIONS)


def columns(table: str, *, without: Sequence[str] = ()) -> list[str]:
    """The columns of ``table`` in their DDL order, less ``without``."""
    return [name for name, _ in _catalog()[table] if name not in without]


def arrow_schema(table: str, *, without: Sequence[str] = ()) -> pa.Schema:
    """The Arrow schema of ``table`` (its DDL order, less ``without``)."""
    return pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in _catalog()[table] if name not in without])


def arrow_rows(schema: pa.Schema, rows: Sequence[tuple]) -> pa.Table:
    """An Arrow table from row tuples laid out as ``schema``."""
    if not rows:
        return schema.empty_table()
    cols = list(zip(*rows, strict=True))
    if len(cols) != len(schema):
        raise ValueError(f"rows have {len(cols)} values, the staged table {len(schema)} columns")
    return pa.table([pa.array(cols[i], type=f.type) for i, f in enumerate(schema)], schema=schema)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[str]:
    """Expose an Arrow table to SQL as ``name`` for the duration of the block.

    DuckDB refuses to register (or unregister) while an ``execute`` result is
    only partly fetched, so such a result is completed first.
    """
    con.complete()
    con.register(name, table)
    try:
        yield name
    except BaseException:
        # a failed statement aborts the transaction, and unregistering in it fails too: the first error is
        # the one to report
        with contextlib.suppress(duckdb.Error):
            con.complete()
            con.unregister(name)
        raise
    con.complete()
    con.unregister(name)
