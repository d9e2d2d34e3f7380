"""Where the corpus's threads came from: the live site, a web archive, or files — and how old those copies are.

``requests.provenance`` says it per thread (``live``, ``archive`` or ``file``),
``provenance_name`` names the archive or file, and ``as_of`` is the capture
time of a copy from an archive (a thread is "as of" its capture).  ``corpus
status`` and the HTML report summarise them with :func:`describe`; the canned
query ``sources`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

SOURCES_SQL = """
    SELECT coalesce(r.provenance, 'live') AS provenance, r.provenance_name, count(*), min(r.as_of), max(r.as_of)
    FROM {table} GROUP BY ALL ORDER BY 3 DESC, 1, 2
"""


@dataclass(frozen=True, slots=True)
class Source:
    provenance: str  # live | archive | file
    name: str | None  # the archive's base URL or the file; None for the live site
    threads: int
    oldest: datetime | None  # earliest capture (None: live, or saved pages without a capture time)
    newest: datetime | None


def sources(con: duckdb.DuckDBPyConnection, table: str = "requests r", *, with_sql: str = "",
            params: dict | None = None) -> list[Source]:
    """Threads per source; ``table`` may be a join that selects some requests (aliased ``r``), on a
    ``WITH`` clause given as ``with_sql`` (and its ``params``)."""
    try:
        rows = con.execute(with_sql + SOURCES_SQL.format(table=table), params or {}).fetchall()
    except duckdb.BinderException:  # a corpus from before provenance was recorded: all live or imported
        return []
    return [Source(p, n, int(c), lo, hi) for p, n, c, lo, hi in rows]


def describe(found: list[Source]) -> str:
    """One line: how much came from where, and the capture dates of what came from archives and files."""
    if not found:
        return ""
    total = sum(s.threads for s in found)
    by_kind: dict[str, list[Source]] = {}
    for s in found:
        by_kind.setdefault(s.provenance, []).append(s)
    parts = []
    for kind, label in (("live", "from the live site"), ("archive", "from web archives"), ("file", "from files")):
        group = by_kind.get(kind)
        if not group:
            continue
        n = sum(s.threads for s in group)
        text = f"{n} {label} ({n / total:.0%})"
        dates = [d for s in group for d in (s.oldest, s.newest) if d is not None]
        if dates:
            text += f", captured {min(dates):%Y-%m-%d} to {max(dates):%Y-%m-%d}"
        if kind == "archive":
            text += " [" + ", ".join(s.name or "?" for s in group[:3]) + (" ..." if len(group) > 3 else "") + "]"
        parts.append(text)
    return "Sources: " + "; ".join(parts) + "."
