"""``corpus export``: every table as Parquet, for other tools and bigger machines.

Layout of the output directory::

    manifest.json                         what was written: tables, rows, layout
    requests/year=2019/data_0.parquet     request tables, hive-partitioned by year
    requests/year=__HIVE_DEFAULT_PARTITION__/...   rows whose year is unknown
    attachments/data_0.parquet            an empty request table: one empty file, year a column
    authorities.parquet                   every other table, one file

A table is "per request" when it has ``site`` and ``request_key`` columns
(requests, messages, attachments, attachment_texts, annotations, events,
request_timeline, refusal_citations, ...).  Its ``year`` is the table's own
``year`` column when it has one (request_timeline: the year the request was
received; refusal_citations: the year of the citing message), otherwise the
year the request was made (``requests.created_at`` in Europe/London, or its
first message when that is unknown), so one thread's rows share a partition.

The raw page bodies (``pages.body``) are left out unless asked for: they are
the bulk of the file, they can be rebuilt from the site, and the parsed tables
hold what they say.  The page metadata is exported.

The export is written into a temporary folder beside ``out_dir`` and renamed
into place when complete (``corpus.outputs.atomic_folder``): an interrupted
or failed export leaves nothing half-written, and the database or its files
are refused as a target.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from corpus.outputs import atomic_folder, check_output

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # DuckDB and pyarrow read it back as NULL


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _tables(con) -> list[tuple[str, list[str]]]:
    got = con.execute(
        """SELECT t.table_name, list(c.column_name ORDER BY c.column_index)
           FROM duckdb_tables() AS t
           JOIN duckdb_columns() AS c
             ON c.database_name = t.database_name AND c.schema_name = t.schema_name AND c.table_name = t.table_name
           WHERE t.database_name = current_database() AND t.schema_name = 'main' AND NOT t.temporary
           GROUP BY t.table_name
           ORDER BY t.table_name"""
    ).fetchall()
    return [(name, list(cols)) for name, cols in got]


_REQUEST_YEAR = """
    SELECT r.site, r.request_key,
           CAST(coalesce(year(timezone('Europe/London', r.created_at)),
                         year(timezone('Europe/London', fm.first_at))) AS INTEGER) AS year
    FROM requests AS r
    LEFT JOIN (SELECT site, request_key, min(sent_at) AS first_at FROM messages GROUP BY site, request_key) AS fm
      ON fm.site = r.site AND fm.request_key = r.request_key
"""


def export_parquet(*, db_path: str, out_dir: str, include_page_bodies: bool = False) -> str:
    """Write every table of the corpus at ``db_path`` into ``out_dir`` as Parquet; return a summary line."""
    from corpus.queries import open_read_only

    shown = Path(out_dir)
    check_output(out_dir, db_path=db_path, folder=True)  # refuse before reading anything
    con = open_read_only(db_path)
    try:
        with atomic_folder(out_dir, db_path=db_path) as out:
            manifest, total_rows = _export_tables(con, out, db_path, include_page_bodies)
    finally:
        con.close()
    partitioned = sum(1 for t in manifest["tables"].values() if "partitioned_by" in t)
    bodies = "with" if include_page_bodies else "without"
    return (
        f"Exported {len(manifest['tables'])} tables ({total_rows:,} rows) to {shown}: "
        f"{partitioned} per-request tables partitioned by year, pages {bodies} raw bodies; see {shown / 'manifest.json'}"
    )


def _export_tables(con, out: Path, db_path: str, include_page_bodies: bool) -> tuple[dict, int]:
    """Copy every table into ``out``; return the manifest and the rows written."""
    tables = _tables(con)
    names = {name for name, _ in tables}
    manifest: dict = {
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "database": os.path.abspath(db_path),
        "schema_version": con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] if "schema_version" in names else None,
        "partitioning": "hive, by year; NULL year in year=" + NULL_PARTITION,
        "tables": {},
    }
    total_rows = 0
    for name, cols in tables:
        select_cols = list(cols)
        note = None
        if name == "pages" and not include_page_bodies and "body" in cols:
            select_cols.remove("body")
            note = "body (raw page bytes) left out"
        col_sql = ", ".join(f"t.{_quote(c)}" for c in select_cols)
        per_request = {"site", "request_key"} <= set(cols)
        if per_request and "year" in cols:
            source = f"SELECT {col_sql} FROM {_quote(name)} AS t"
            year_from = "year column"
        elif per_request and "requests" in names:
            source = (
                f"WITH ry AS ({_REQUEST_YEAR}) SELECT {col_sql}, ry.year AS year FROM {_quote(name)} AS t "
                "LEFT JOIN ry ON ry.site = t.site AND ry.request_key = t.request_key"
            )
            year_from = "request year"
        else:
            source = f"SELECT {col_sql} FROM {_quote(name)} AS t"
            year_from = None
        rows = con.execute(f"SELECT count(*) FROM {_quote(name)}").fetchall()[0][0]
        total_rows += rows
        entry: dict = {"rows": rows}
        if year_from:
            target = out / name
            target.mkdir()
            if rows:
                con.execute(
                    f"COPY ({source}) TO {_sql_path(target)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year))"
                )
            else:  # keep the columns (year included): one empty file, no partition folders
                con.execute(f"COPY ({source}) TO {_sql_path(target / 'data_0.parquet')} (FORMAT parquet)")
            entry.update(path=f"{name}/", partitioned_by=f"year ({year_from})")
        else:
            con.execute(f"COPY ({source}) TO {_sql_path(out / (name + '.parquet'))} (FORMAT parquet, COMPRESSION zstd)")
            entry.update(path=f"{name}.parquet")
        if note:
            entry["note"] = note
        manifest["tables"][name] = entry
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest, total_rows
