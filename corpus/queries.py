"""The canned-query runner behind ``corpus queries`` and ``corpus query``.

Each ``queries/<name>.sql`` file is one SELECT that reads its parameters with
``getvariable('<param>')`` and applies its own defaults (``coalesce``), so the
same file runs unchanged in the plain ``duckdb`` shell after
``SET VARIABLE <param> = <value>;``.  The runner parses the file's header
comment (description, parameters with type and default, columns), checks and
converts the values it is given, binds them with ``SET VARIABLE name = ?`` on a
private cursor, and runs the file.  Values are always bound, never pasted into
SQL text.

Lines ending with ``-- needs attachment_texts`` search extracted attachment
text; the runner leaves them out when a database has no such table.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpus.db import table_exists
from corpus.errors import CorpusError, UsageError
from corpus.formats import FORMATS, format_table, parquet_table, render
from corpus.outputs import check_output, write_atomic, write_text_atomic

__all__ = ["run_query", "list_queries", "get_query", "describe_queries", "format_table", "write_result", "run_query_cli"]

QUERIES_DIR = Path(__file__).resolve().parent.parent / "queries"

OPTIONAL_TABLE = "attachment_texts"
_OPTIONAL_MARK = re.compile(r"--\s*needs attachment_texts\s*$")

_HEADER_FIRST = re.compile(r"^--\s*(?P<name>[a-z_][a-z0-9_]*):\s*(?P<desc>.+?)\s*$")
_PARAM_LINE = re.compile(r"^--\s+(?P<name>[a-z_][a-z0-9_]*)\s+(?P<type>[A-Z]+(?:\([^)]*\))?)\s+(?P<default>\S+)\s+(?P<help>.+?)\s*$")
_COLUMN_LINE = re.compile(r"^--\s{1,6}(?P<name>[a-z_][a-z0-9_]*)(?:\s+(?P<help>.*?))?\s*$")
_SECTION = re.compile(r"^--\s*(?P<title>[A-Z][A-Za-z ]+?)(?:\s*\(.*\))?:\s*$")

PARAM_TYPES = ("VARCHAR", "DATE", "INTEGER", "BOOLEAN", "DOUBLE")
INTEGER_MAX = 2**31 - 1  # DuckDB INTEGER, which the files cast to


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter as declared in the header."""

    name: str
    type: str  # VARCHAR | DATE | INTEGER | BOOLEAN | DOUBLE
    default: str | None  # None: unset (NULL) in the SQL, meaning "all"
    required: bool
    help: str
    choices: tuple[str, ...] = ()  # e.g. regime: FOIA, EIR, FOISA, EISR
    is_list: bool = False  # comma-separated subset of choices


@dataclass(frozen=True, slots=True)
class QueryInfo:
    name: str
    description: str
    params: dict[str, str | None]  # name -> default (None: unset / required)
    columns: list[str]
    param_specs: dict[str, Param] = field(default_factory=dict)
    column_help: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    sql: str = ""

    def usage(self) -> str:
        parts = []
        for p in self.param_specs.values():
            parts.append(f"{p.name}=<{p.type.lower()}>" if p.required else f"[{p.name}=…]")
        return " ".join(parts)


def _parse_type(token: str) -> tuple[str, tuple[str, ...], bool]:
    m = re.fullmatch(r"(ENUM|LIST)\(([^)]*)\)", token)
    if m:
        choices = tuple(c.strip() for c in m.group(2).split(",") if c.strip())
        return "VARCHAR", choices, m.group(1) == "LIST"
    if token not in PARAM_TYPES:
        raise ValueError(f"unknown parameter type {token!r}")
    return token, (), False


def parse_header(sql: str, name: str, path: Path | None = None) -> QueryInfo:
    """Read a canned query's header comment into a QueryInfo.

    Raises ValueError when the header does not follow the documented layout
    (a developer error, caught by the tests).
    """
    lines = sql.splitlines()
    if not lines:
        raise ValueError(f"{name}.sql is empty")
    first = _HEADER_FIRST.match(lines[0])
    if not first or first.group("name") != name:
        raise ValueError(f"{name}.sql must start with '-- {name}: <one-line description>'")
    section = None
    specs: dict[str, Param] = {}
    columns: dict[str, str] = {}
    last_column = None
    for line in lines[1:]:
        if not line.startswith("--"):
            break  # end of the header block
        sec = _SECTION.match(line)
        if sec:
            section = sec.group("title").strip().lower()
            continue
        if section == "parameters":
            m = _PARAM_LINE.match(line)
            if not m:
                if line.strip("- "):
                    raise ValueError(f"{name}.sql: cannot read parameter line {line!r}")
                continue
            ptype, choices, is_list = _parse_type(m.group("type"))
            default = m.group("default")
            required = default == "required"
            specs[m.group("name")] = Param(
                name=m.group("name"),
                type=ptype,
                default=None if default in ("NULL", "required") else default,
                required=required,
                help=m.group("help"),
                choices=choices,
                is_list=is_list,
            )
        elif section == "columns":
            m = _COLUMN_LINE.match(line)
            if m and len(line) - len(line.lstrip("- ")) <= 6:
                last_column = m.group("name")
                columns[last_column] = m.group("help") or ""
            elif last_column and line.strip("- "):
                columns[last_column] += " " + line.strip("- ").strip()
    if not columns:
        raise ValueError(f"{name}.sql: the header has no 'Columns:' section")
    return QueryInfo(
        name=name,
        description=first.group("desc"),
        params={p.name: p.default for p in specs.values()},
        columns=list(columns),
        param_specs=specs,
        column_help=columns,
        path=path,
        sql=sql,
    )


def list_queries() -> list[QueryInfo]:
    """Every canned query, sorted by name."""
    out = []
    for path in sorted(QUERIES_DIR.glob("*.sql")):
        out.append(parse_header(path.read_text(encoding="utf-8"), path.stem, path))
    return out


def get_query(name: str) -> QueryInfo:
    queries = {q.name: q for q in list_queries()}
    if name not in queries:
        raise UsageError(f"no canned query named {name!r}; choose one of: {', '.join(sorted(queries))} (see 'corpus queries')")
    return queries[name]


def describe_queries() -> str:
    """A readable list of the canned queries with their parameters."""
    blocks = []
    for q in list_queries():
        lines = [f"{q.name}: {q.description}"]
        for p in q.param_specs.values():
            if p.required:
                default = "required"
            elif p.default is None:
                default = "default: all"
            else:
                default = f"default: {p.default}"
            kind = p.type.lower()
            if p.choices:
                kind = ("any of " if p.is_list else "one of ") + "|".join(p.choices)
            lines.append(f"    --param {p.name}=<{kind}>  {p.help} ({default})")
        lines.append(f"    columns: {', '.join(q.columns)}")
        blocks.append("\n".join(lines))
    blocks.append("Run one with: corpus query NAME [--param NAME=VALUE ...] [--authority SLUG] [--since DATE] [--until DATE] "
                  "[--site URL] [--format table|csv|json|jsonl|parquet] [--output FILE]")
    return "\n\n".join(blocks)


# ---------------------------------------------------------------- parameters
def parse_param_args(items: list[str]) -> dict[str, str]:
    """['k=v', ...] from the command line -> {'k': 'v'}."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--param {item!r} is not NAME=VALUE; write e.g. --param authority=home_office")
        if key in out:
            raise UsageError(f"--param {key} is given twice; give each parameter once")
        out[key] = value
    return out


def _show(raw: Any) -> str:
    """A value for an error message: quoted, and cut when long."""
    text = str(raw)
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _check_text(spec: Param, raw: Any) -> None:
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{spec.name}= holds bytes that are not UTF-8 text; give the value in UTF-8 "
                             "(check the terminal's or the script's encoding)") from None
        if "\x00" in raw:
            raise UsageError(f"{spec.name}= holds a NUL character; remove it")


def _convert(query: QueryInfo, spec: Param, raw: Any) -> Any:
    if raw is None:
        return None
    _check_text(spec, raw)
    if spec.type == "DATE":
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        try:
            return date.fromisoformat(str(raw).strip())
        except ValueError:
            raise UsageError(f"{spec.name}={_show(raw)} is not a date; use YYYY-MM-DD, e.g. {spec.name}=2020-01-31") from None
    if spec.type == "INTEGER":
        if isinstance(raw, bool):
            raise UsageError(f"{spec.name}={_show(raw)} is not a whole number; use e.g. {spec.name}=10")
        text = str(raw).strip()
        if len(text) > 40:
            raise UsageError(f"{spec.name}={_show(text)} is too long for a whole number; use at most {INTEGER_MAX}")
        try:
            whole = int(text)
        except ValueError:
            raise UsageError(f"{spec.name}={_show(raw)} is not a whole number; use e.g. {spec.name}=10") from None
        if whole < 0:
            raise UsageError(f"{spec.name}={whole} is negative; use 0 or more")
        if whole > INTEGER_MAX:
            shown = str(whole) if len(str(whole)) <= 20 else str(whole)[:20] + "…"
            raise UsageError(f"{spec.name}={shown} is too large; use at most {INTEGER_MAX}")
        return whole
    if spec.type == "DOUBLE":
        try:
            number = float(str(raw).strip())
        except ValueError:
            raise UsageError(f"{spec.name}={_show(raw)} is not a number; use e.g. {spec.name}=0.5") from None
        if not math.isfinite(number):
            raise UsageError(f"{spec.name}={_show(raw)} is not a finite number")
        return number
    if spec.type == "BOOLEAN":
        text = str(raw).strip().lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise UsageError(f"{spec.name}={_show(raw)} is not true or false")
    value = str(raw)
    if spec.choices:
        wanted = [v.strip() for v in value.split(",")] if spec.is_list else [value.strip()]
        lookup = {c.lower(): c for c in spec.choices}
        picked = []
        for w in wanted:
            if w.lower() not in lookup:
                how = "comma-separated, any of" if spec.is_list else "one of"
                raise UsageError(f"{spec.name}={_show(raw)} is not allowed; use {how}: {', '.join(spec.choices)}")
            picked.append(lookup[w.lower()])
        return ",".join(picked)
    if spec.required and not value.strip():
        raise UsageError(f"{spec.name} is empty; give the text to use, e.g. {spec.name}=school")
    return value


def bind_values(query: QueryInfo, params: dict[str, Any] | None) -> dict[str, Any]:
    """Check names and types; return {param: typed value or None} for every declared parameter."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(query.param_specs))
    if unknown:
        valid = ", ".join(query.param_specs) or "none"
        raise UsageError(f"query {query.name!r} has no parameter {unknown[0]!r}; its parameters are: {valid}")
    values = {}
    for spec in query.param_specs.values():
        raw = params.get(spec.name)
        if raw is None and spec.required:
            raise UsageError(f"query {query.name!r} needs --param {spec.name}=… ({spec.help})")
        values[spec.name] = _convert(query, spec, raw)
    return values


# ---------------------------------------------------------------- running
def sql_for(query: QueryInfo, con) -> str:
    """The query text to run on ``con``: without the attachment lines when that table is absent."""
    lines = query.sql.splitlines()
    if not any(_OPTIONAL_MARK.search(line) for line in lines) or table_exists(con, OPTIONAL_TABLE):
        return query.sql
    return "\n".join(line for line in lines if not _OPTIONAL_MARK.search(line))


def open_read_only(db_path: str | os.PathLike):
    """Open the corpus read-only, with clear errors for a missing or busy file."""
    from corpus.db import connect

    path = Path(db_path)
    if not path.exists():
        raise UsageError(f"no database at {path}; collect some threads first (corpus sync, corpus import or corpus demo) or pass --db")
    return connect(path, read_only=True)


def _known_values(cur, table: str, column: str) -> list[str] | None:
    """The distinct values of ``table.column`` (None when the table is absent)."""
    if not table_exists(cur, table):
        return None
    return sorted(str(r[0]) for r in cur.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL").fetchall())


def _check_against_database(cur, query: QueryInfo, values: dict[str, Any]) -> None:
    """A site or regime the database does not hold is a typo more often than a question: say what it holds."""
    site = values.get("site")
    if site is not None and "site" in query.param_specs:
        known = _known_values(cur, "requests", "site")
        if known is not None and site not in known:
            holds = ", ".join(known[:5]) + (" …" if len(known) > 5 else "") if known else "no threads yet"
            raise UsageError(f"site={_show(site)} has no threads in this database; it holds: {holds}")
    regime = values.get("regime")
    if regime is not None and "regime" in query.param_specs and not query.param_specs["regime"].choices:
        known = _known_values(cur, "request_timeline", "regime")
        if known is not None and regime.lower() not in {k.lower() for k in known}:
            raise UsageError(f"regime={_show(regime)} is not in this database; use one of: {', '.join(known) or 'none yet'}")


def run_query(con_or_path, name: str, params: dict[str, Any] | None = None, *, notes: list[str] | None = None) -> pa.Table:
    """Run canned query ``name`` with ``params`` ({name: value as text or typed}) and return an Arrow table.

    ``con_or_path`` is an open DuckDB connection (the query runs on a private
    cursor, so variables set there do not leak) or a database path (opened
    read-only and closed again).  Remarks for the reader (e.g. that ``search``
    ran without its index) are appended to ``notes`` when given.
    """
    import duckdb

    query = get_query(name)
    values = bind_values(query, params)
    own = not isinstance(con_or_path, duckdb.DuckDBPyConnection)
    con = open_read_only(con_or_path) if own else con_or_path
    cur = con.cursor()
    try:
        for key, value in values.items():
            if value is None:
                cur.execute(f"SET VARIABLE \"{key}\" = NULL")  # key comes from the header grammar: [a-z_][a-z0-9_]*
            else:
                cur.execute(f"SET VARIABLE \"{key}\" = ?", [value])
        try:
            _check_against_database(cur, query, values)
            text = sql_for(query, cur)
            if name == "search":
                from corpus.search.query import search

                return search(cur, values, text, notes if notes is not None else [])
            return cur.sql(text).to_arrow_table()
        except duckdb.CatalogException as exc:
            missing = re.search(r"Table with name (\w+) does not exist", str(exc))
            if missing:
                raise CorpusError(
                    f"the database has no table {missing.group(1)!r}, which query {name!r} needs; "
                    "load threads and rebuild the derived tables (corpus reparse) first"
                ) from None
            raise
        except duckdb.BinderException as exc:
            missing = re.search(r'Referenced column "?(\w+)"? not found|does not have a column named "?(\w+)', str(exc))
            if missing:
                raise CorpusError(
                    f"the database has no column {missing.group(1) or missing.group(2)!r}, which query {name!r} needs: its derived tables "
                    "were built by an older version; rebuild them (corpus reparse) first"
                ) from None
            raise
        except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.OutOfRangeException) as exc:
            raise UsageError(f"query {name!r}: {str(exc).splitlines()[0]}; check the --param values") from None
    finally:
        cur.close()
        if own:
            con.close()


# ---------------------------------------------------------------- output
def write_result(table: pa.Table, fmt: str, output: str | None, *, db_path: str | None = None,
                 for_terminal: bool = False) -> str | None:
    """Write ``table`` as ``fmt`` to ``output``, or return its text for stdout (``for_terminal``: a terminal).

    Files are written through ``corpus.outputs`` (never over the database, a
    temporary file and a rename).
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if fmt == "parquet":
        if not output:
            raise UsageError("--format parquet needs --output FILE.parquet (Parquet is not for the terminal)")
        import pyarrow.parquet as pq

        write_atomic(output, lambda tmp: pq.write_table(parquet_table(table), tmp), db_path=db_path)
        return None
    if output:
        write_text_atomic(output, render(table, fmt), db_path=db_path)
        return None
    return render(table, fmt, for_terminal=for_terminal)


FILTER_FLAGS = ("authority", "since", "until", "site")


def merge_filters(query: QueryInfo, params: dict[str, str], filters: dict[str, Any]) -> dict[str, str]:
    """Fold ``--authority``/``--since``/``--until``/``--site`` into the query's parameters of the same names."""
    out = dict(params)
    for name, value in filters.items():
        if value is None or value == "":
            continue
        if name not in query.param_specs:
            have = [f"--{f}" for f in FILTER_FLAGS if f in query.param_specs]
            raise UsageError(
                f"query {query.name!r} has no {name} filter; drop --{name}"
                + (f" (it takes {', '.join(have)})" if have else "")
            )
        if name in out:
            raise UsageError(f"--{name} and --param {name}=… both given; give it once")
        out[name] = value.isoformat() if isinstance(value, date) else str(value)
    return out


@dataclass
class QueryRun:
    """What ``corpus query`` shows: the text for stdout (None when written to a file) and the notes for stderr."""

    table: pa.Table
    text: str | None
    notes: list[str]


def run_query_cli(*, db_path: str, name: str, params: list[str], fmt: str = "table", output: str | None = None,
                  filters: dict[str, Any] | None = None, for_terminal: bool = False) -> QueryRun:
    """What ``corpus query NAME`` does: check, run read-only, write the result or return its text."""
    query = get_query(name)  # bad names fail before the database is touched
    values = merge_filters(query, parse_param_args(params), filters or {})
    bind_values(query, values)
    if output:
        check_output(output, db_path=db_path)  # refuse a harmful --output before the work
    elif fmt == "parquet":
        raise UsageError("--format parquet needs --output FILE.parquet (Parquet is not for the terminal)")
    notes: list[str] = []
    table = run_query(db_path, name, values, notes=notes)
    text = write_result(table, fmt, output, db_path=db_path, for_terminal=for_terminal)
    if text is None and output:
        notes.insert(0, f"Wrote {table.num_rows} rows to {output}")
    note = cap_note(query, values, table.num_rows)
    return QueryRun(table, text, notes + ([note] if note else []))


def cap_note(query: QueryInfo, params: dict[str, Any] | None, rows: int) -> str | None:
    """A warning when a result stopped at the query's ``top`` limit, so no rows go missing unsaid."""
    spec = query.param_specs.get("top")
    if spec is None:
        return None
    limit = bind_values(query, params).get("top")
    if limit is None:
        limit = int(spec.default) if spec.default is not None else None
    if limit is None or rows < limit:
        return None
    return (f"Note: {query.name} stopped at top={limit} rows; there may be more. "
            f"Ask for more with --param top=N (or narrow the question with its other parameters).")
