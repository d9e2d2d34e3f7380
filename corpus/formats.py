"""Rendering a query result (an Arrow table) as table, CSV, JSON, JSON Lines or Parquet.

Every text format carries the same values, written the same way:

* timestamps with a time zone: ISO-8601 in UTC with seconds and offset,
  ``2015-01-01T10:18:00+00:00`` (fractions of a second only when there are any);
* dates ``2015-01-01``; whole numbers as they are; other numbers in the
  shortest form that reads back to the same double (``repr``);
* NULL (and NaN): an empty CSV cell, ``null`` in JSON;
* lists and structs: JSON arrays and objects (in CSV, their JSON text).

Two things protect the programs that read the output, and never change a
value that reaches a file otherwise:

* the aligned table (for terminals) drops control characters, terminal escape
  sequences (colours, ``ESC[2J``, OSC window titles and links) and bidirectional
  overrides from text, since the text comes from a website;
* CSV cells of text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return get a leading apostrophe (``'=HYPERLINK(...)``), as OWASP advises
  against formula injection, so a spreadsheet shows them as text.  Numbers
  are never changed.  JSON, JSON Lines and Parquet keep text exactly.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa

FORMATS = ("table", "csv", "json", "jsonl", "parquet")
FORMAT_HELP = (
    "table: aligned text for reading; csv: for spreadsheets (formula-like cells neutralised); "
    "json: one array; jsonl: one JSON object per line; parquet: typed columns (needs --output)."
)

# CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), other two-byte escapes, then lone C0/C1 controls.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n\r\u2028\u2029]+")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029]")


# ---------------------------------------------------------------- values
def iso_timestamp(value: datetime) -> str:
    """ISO-8601 with seconds; an aware timestamp in UTC with its offset."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.isoformat()


def _interval(value: Any) -> str:
    """An ISO-8601 duration for a DuckDB INTERVAL (Arrow month-day-nano) or a timedelta."""
    if isinstance(value, timedelta):
        months, days, nanos = 0, value.days, (value.seconds * 10**6 + value.microseconds) * 1000
    else:
        months, days, nanos = value.months, value.days, value.nanoseconds
    seconds = Decimal(nanos) / Decimal(10**9)
    return f"P{months}M{days}DT{seconds.normalize():f}S"


def plain(value: Any) -> Any:
    """A value as JSON can hold it: str, int, float, bool, None, list or dict (the one form every format starts from)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, datetime):
        return iso_timestamp(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # a MAP arrives as a list of (key, value) pairs: kept as pairs
        return [plain(v) for v in value]
    if isinstance(value, timedelta) or type(value).__name__ == "MonthDayNano":
        return _interval(value)
    return str(value)


def text(value: Any) -> str:
    """A value as one CSV or table cell."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def plain_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in row.items()} for row in table.to_pylist()]


# ---------------------------------------------------------------- protection
def terminal_safe(value: str) -> str:
    """Text fit to print on a terminal: escape sequences and control characters removed, line breaks as spaces."""
    value = _ESCAPE_SEQUENCE.sub("", value)
    value = _LINE_BREAKS.sub(" ", value)
    return _CONTROL.sub("", value)


def spreadsheet_safe(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP: prefix a quote)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _json_dumps(obj: Any, **kw) -> str:
    # JSON escapes C0 controls itself; DEL, C1 controls and line separators are escaped too, so a JSON
    # file printed on a terminal cannot drive it.  The values read back unchanged.
    out = json.dumps(obj, ensure_ascii=False, **kw)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)


# ---------------------------------------------------------------- formats
def _numeric(field: pa.Field) -> bool:
    t = field.type
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def format_table(table: pa.Table, max_width: int = 48) -> str:
    """An aligned plain-text table with a row count; long cells are cut with '…'; text is made terminal-safe."""
    names = [terminal_safe(n) for n in table.column_names]
    rows = []
    for row in table.to_pylist():
        cells = [terminal_safe(text(v)) for v in row.values()]
        rows.append([c if len(c) <= max_width else c[: max_width - 1] + "…" for c in cells])
    numeric = [_numeric(f) for f in table.schema]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]

    def line(cells):
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

    out = [line(names), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def format_csv(table: pa.Table, *, for_terminal: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; a lone CR or LF in a cell gets the cell quoted
    w.writerow(table.column_names)
    is_text = [not _numeric(f) and not pa.types.is_boolean(f.type) for f in table.schema]
    for row in table.to_pylist():
        cells = []
        for v, t in zip(row.values(), is_text):
            cell = text(v)
            if t:
                cell = spreadsheet_safe(cell)
                if for_terminal:
                    cell = terminal_safe(cell)
            cells.append(cell)
        w.writerow(cells)
    return buf.getvalue()


def format_json(table: pa.Table) -> str:
    return _json_dumps(plain_rows(table), indent=1) + "\n"


def format_jsonl(table: pa.Table) -> str:
    return "".join(_json_dumps(row) + "\n" for row in plain_rows(table))


def render(table: pa.Table, fmt: str, *, for_terminal: bool = False) -> str:
    """The text of ``table`` in a text format (every format but parquet)."""
    if fmt == "table":
        return format_table(table) + "\n"
    if fmt == "csv":
        return format_csv(table, for_terminal=for_terminal)
    if fmt == "json":
        return format_json(table)
    if fmt == "jsonl":
        return format_jsonl(table)
    raise ValueError(f"no text rendering for format {fmt!r}")


def parquet_table(table: pa.Table) -> pa.Table:
    """The table as written to Parquet: timestamps with a zone in UTC, as the text formats show them."""
    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            f = f.with_type(pa.timestamp(f.type.unit, tz="UTC"))
        fields.append(f)
    schema = pa.schema(fields, metadata=table.schema.metadata)
    return table.cast(schema) if schema != table.schema else table
