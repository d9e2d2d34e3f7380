"""Derived tables: rebuilt from the base tables, never edited by hand.

``rebuild(con)`` writes, in order:

* ``holidays`` and ``workday_calendar`` (``corpus.workdays``): non-working days
  and a per-regime working-day index, 2005 to two years ahead;
* ``request_timeline`` (``corpus.derive.timeline``): one row per request;
* ``refusal_citations`` (``corpus.derive.refusals``): one row per ground cited
  in an authority's message.
"""

from __future__ import annotations

from datetime import date

from corpus.derive.refusals import Citation, build_refusal_citations, extract_citations
from corpus.derive.timeline import build_sql, classify_response
from corpus.workdays import uk_today, write_calendar

__all__ = ["rebuild", "extract_citations", "Citation", "classify_response"]


def rebuild(con, *, today: date | None = None) -> None:
    """(Re)create the derived tables from the base tables.

    ``today`` (the UK date "overdue now" is judged against) defaults to today in
    Europe/London; tests pass a fixed date.
    """
    today = today or uk_today()
    write_calendar(con, last_year=max(today.year + 2, date.today().year + 2))
    con.execute(build_sql(today))
    build_refusal_citations(con)
