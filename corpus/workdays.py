"""UK working days as the FOI laws define them.

* FOIA 2000 s10(6) (and the EIR, which follow it): a working day is any day
  other than a Saturday, a Sunday, Christmas Day, Good Friday, or a day that is
  a bank holiday under the Banking and Financial Dealings Act 1971 in *any part*
  of the United Kingdom.  So 2 January and St Andrew's Day (Scotland) and
  St Patrick's Day and 12 July (Northern Ireland) are non-working days for a
  request to an English council too.
* FOISA 2002 s73 (and the EI(S)R): Saturday, Sunday, Christmas Day and the
  bank holidays *in Scotland* are the non-working days.

Bank holidays come from the ``holidays`` package, taking the union of the UK
subdivisions ENG, WLS, SCT and NIR (the package without a subdivision returns
only the handful of UK-wide days).  Christmas Day and Good Friday are added by
rule because they are common-law holidays, not 1971-Act bank holidays.
``OVERRIDES`` pins corrections to what the package says.

Counting follows Alaveteli and the ICO: the day of receipt is day 0 and the
next working day is day 1, so a request received on a Saturday has Monday as
day 1.  Timestamps are turned into dates in Europe/London time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays as _holidays
from dateutil.easter import easter

from corpus.errors import UsageError

LONDON = ZoneInfo("Europe/London")

REGIMES = ("FOIA", "EIR", "FOISA", "EISR")
# Which calendar each regime uses: 'UK' = union of all four parts, 'SCT' = Scotland only.
CALENDAR_OF = {"FOIA": "UK", "EIR": "UK", "FOISA": "SCT", "EISR": "SCT"}
_SUBDIVS = {"UK": ("ENG", "WLS", "SCT", "NIR"), "SCT": ("SCT",)}

# Corrections to the ``holidays`` package, applied after it: (calendar, date) ->
# name to add, or None to remove a day the package lists but the law does not.
# Each entry says why.  Keep this table small and cite the proclamation.
OVERRIDES: dict[tuple[str, date], str | None] = {
    # A one-off Scottish day the package lists for 2026 (Scotland's World Cup
    # appearance).  GOV.UK's published lists did not yet carry it when this table
    # was written: it is pinned here so the choice is explicit, and a package
    # upgrade cannot move it silently.  Change to None if it is not proclaimed.
    ("UK", date(2026, 6, 15)): "Scotland's participation in the FIFA World Cup",
    ("SCT", date(2026, 6, 15)): "Scotland's participation in the FIFA World Cup",
}

FIRST_CALENDAR_YEAR = 2005


def _calendar(regime: str) -> str:
    try:
        return CALENDAR_OF[regime.upper()]
    except (KeyError, AttributeError):
        raise UsageError(
            f"unknown FOI regime {regime!r}; use one of {', '.join(REGIMES)}."
        ) from None


@functools.lru_cache(maxsize=512)
def _year_holidays(year: int, cal: str) -> dict[date, str]:
    out: dict[date, str] = {}
    for subdiv in _SUBDIVS[cal]:
        for d, name in _holidays.country_holidays("GB", subdiv=subdiv, years=year).items():
            if d.year != year:
                continue
            if d in out and name not in out[d].split("; "):
                out[d] = f"{out[d]}; {name}"
            else:
                out.setdefault(d, name)
    # Common-law holidays named in FOIA s10(6) and FOISA s73 regardless of the 1971 Act.
    out.setdefault(date(year, 12, 25), "Christmas Day")
    if cal == "UK":
        out.setdefault(easter(year) - timedelta(days=2), "Good Friday")
    for (ocal, d), fixed in OVERRIDES.items():
        if ocal != cal or d.year != year:
            continue
        if fixed is None:
            out.pop(d, None)
        else:
            out[d] = fixed
    return out


def uk_holidays(years: int | Iterable[int], regime: str = "FOIA") -> dict[date, str]:
    """Non-working days other than weekends for ``regime`` in ``years``: {date: name}."""
    cal = _calendar(regime)
    if isinstance(years, int):
        years = [years]
    out: dict[date, str] = {}
    for y in years:
        out.update(_year_holidays(int(y), cal))
    return out


def is_working_day(d: date, regime: str = "FOIA") -> bool:
    if isinstance(d, datetime):
        d = d.date()
    if d.weekday() >= 5:
        return False
    return d not in _year_holidays(d.year, _calendar(regime))


def add_working_days(start: date, n: int, regime: str = "FOIA") -> date:
    """The date of working day ``n`` counting ``start`` as day 0 (n=20 gives the FOI due date)."""
    if n < 0:
        raise UsageError(f"cannot count {n} working days; give a number of days of 0 or more.")
    _calendar(regime)
    d = start
    left = n
    while left:
        d += timedelta(days=1)
        if is_working_day(d, regime):
            left -= 1
    return d


def working_days_between(start: date, end: date, regime: str = "FOIA") -> int:
    """Working days after ``start`` up to and including ``end`` (0 for the same day).

    Negative when ``end`` is before ``start``.
    """
    _calendar(regime)
    if end < start:
        return -working_days_between(end, start, regime)
    count = 0
    d = start
    while d < end:
        d += timedelta(days=1)
        if is_working_day(d, regime):
            count += 1
    return count


def uk_date(ts: datetime) -> date:
    """The Europe/London calendar date of an instant (naive times are taken as UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(LONDON).date()


def uk_today() -> date:
    return datetime.now(LONDON).date()


def calendar_rows(first_year: int, last_year: int):
    """Per regime and day: (regime, date, is_working_day, working_day_index, holiday_name).

    ``working_day_index`` counts the working days from the start of the table up to
    and including the day, so ``index(end) - index(start)`` is
    ``working_days_between(start, end)`` and the due date is the working day whose
    index is ``index(received) + 20``.
    """
    for regime in REGIMES:
        hol = uk_holidays(range(first_year, last_year + 1), regime)
        d = date(first_year, 1, 1)
        end = date(last_year, 12, 31)
        idx = 0
        while d <= end:
            name = hol.get(d)
            working = d.weekday() < 5 and name is None
            if working:
                idx += 1
            yield regime, d, working, idx, name
            d += timedelta(days=1)


def _calendar_written(con, first_year: int, last_year: int) -> bool:
    """Whether ``con`` already holds exactly the calendar of these years: the same span and the same holidays."""
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                                      "AND table_name IN ('workday_calendar', 'holidays')").fetchall()}
    if have != {"workday_calendar", "holidays"}:
        return False
    span = con.execute("SELECT min(date), max(date), count(*), count(DISTINCT regime) FROM workday_calendar").fetchall()[0]
    days = (date(last_year, 12, 31) - date(first_year, 1, 1)).days + 1
    if span != (date(first_year, 1, 1), date(last_year, 12, 31), days * len(REGIMES), len(REGIMES)):
        return False
    wanted = sorted((d, regime, name) for regime in REGIMES
                    for d, name in uk_holidays(range(first_year, last_year + 1), regime).items())
    stored = con.execute("SELECT date, regime, name FROM holidays ORDER BY date, regime, name").fetchall()
    return stored == wanted


def write_calendar(con, first_year: int = FIRST_CALENDAR_YEAR, last_year: int | None = None) -> None:
    """(Re)create ``holidays`` (date, regime, name) and ``workday_calendar`` in ``con``."""
    import pyarrow as pa

    if last_year is None:
        last_year = uk_today().year + 2
    if _calendar_written(con, first_year, last_year):
        return  # (a sync rebuilds the derived tables often: 35,000 days are not made again for nothing)
    rows = list(calendar_rows(first_year, last_year))
    cal = pa.table(
        {
            "regime": [r[0] for r in rows],
            "date": [r[1] for r in rows],
            "is_working_day": [r[2] for r in rows],
            "working_day_index": pa.array([r[3] for r in rows], pa.int32()),
            "holiday_name": [r[4] for r in rows],
        }
    )
    con.register("_workday_calendar_src", cal)
    try:
        con.execute(
            "CREATE OR REPLACE TABLE workday_calendar AS "
            "SELECT regime, date, is_working_day, working_day_index, holiday_name "
            "FROM _workday_calendar_src ORDER BY regime, date"
        )
    finally:
        con.unregister("_workday_calendar_src")
    con.execute(
        "CREATE OR REPLACE TABLE holidays AS "
        "SELECT date, regime, holiday_name AS name FROM workday_calendar "
        "WHERE holiday_name IS NOT NULL ORDER BY regime, date"
    )
