"""Working days as each access-to-information law defines them: one calendar per law, one way to count.

A *calendar* is the set of non-working days other than Saturdays and Sundays
(and, for Ukraine, the Saturdays that were made working days).  Every calendar
is built from the ``holidays`` package, then cut or widened to what the law's
own definition says (README "Working days" cites each):

* ``UK`` (FOIA s10(6), and the EIR): Christmas Day, Good Friday and the bank
  holidays of **any** part of the United Kingdom: the union of the package's
  ENG, WLS, SCT and NIR subdivisions.
* ``SCT`` (FOISA s73, and the EI(S)R): Christmas Day and Scottish bank holidays.
* ``NZ_OIA`` (Official Information Act 1982 s2): New Zealand's national public
  holidays (Waitangi and Anzac Day Mondayised from 2014, Matariki from 2022, the
  2022 memorial day) and every day from 25 December to 15 January.
* ``NZ_LGOIMA`` (LGOIMA 1987 s2): the same national days; the summer period is
  25 December to 15 January until 20 March 2019 and 20 December to 10 January
  from 21 March 2019, when provincial anniversary days also stopped counting.
  The province of a council is not known here, so every province's anniversary
  day is a non-working day (the later, benefit-of-the-doubt deadline).
* ``EU`` (Regulation 1049/2001 with Regulation 1182/71 art 2): the European
  Commission's public holidays: Belgium's public holidays except 11 November,
  plus 2 January, Holy Thursday, Good Friday, 9 May, the Friday after Ascension,
  2 November and 24 to 31 December.
* ``AU`` (Acts Interpretation Act 1901 s36(2)): a public holiday in any state or
  territory (the place of the agency is not known; this is the later deadline).
* ``UA`` (Labour Code art 67 and 73): Ukraine's holidays with their weekend
  transfers, the Cabinet's working Saturdays, and none at all under martial law
  (from March 2022), all as the package models them.

Counting follows Alaveteli and the laws: the day of receipt is day 0; the next
working day is day 1.  Calendar-day limits (Australia) end on day N, moved
forward to the next working day when it is not one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays as _holidays
from dateutil.easter import easter

from corpus.errors import UsageError
from corpus.sites import REGIMES

LONDON = ZoneInfo("Europe/London")

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
LGOIMA_2019_CHANGE = date(2019, 3, 21)  # Local Government Regulatory Systems Amendment Act 2019

_UK_SUBDIVS = {"UK": ("ENG", "WLS", "SCT", "NIR"), "SCT": ("SCT",)}


# --------------------------------------------------------------------------- calendars


def _add(out: dict[date, str], d: date, name: str) -> None:
    if d in out:
        if name not in out[d].split("; "):
            out[d] = f"{out[d]}; {name}"
    else:
        out[d] = name


def _union(out: dict[date, str], years: list[int], cls, subdivs, **kw) -> None:
    for subdiv in subdivs:
        for d, name in cls(subdiv=subdiv, years=years, **kw).items():
            if d.year in years:
                _add(out, d, name)


def _span(out: dict[date, str], years: list[int], start: tuple[int, int], end: tuple[int, int], name: str,
          when=lambda d: True) -> None:
    """Every day from ``start`` (month, day) of a year to ``end`` of the next, within ``years``."""
    for y in range(min(years) - 1, max(years) + 1):
        d = date(y, *start)
        last = date(y + 1, *end)
        while d <= last:
            if d.year in years and when(d):
                _add(out, d, name)
            d += timedelta(days=1)


def _uk(cal: str, years: list[int]) -> dict[date, str]:
    out: dict[date, str] = {}
    _union(out, years, _holidays.UnitedKingdom, _UK_SUBDIVS[cal])
    for y in years:  # common-law holidays named in FOIA s10(6) and FOISA s73 whatever the 1971 Act says
        out.setdefault(date(y, 12, 25), "Christmas Day")
        if cal == "UK":
            out.setdefault(easter(y) - timedelta(days=2), "Good Friday")
    return out


def _nz_oia(years: list[int]) -> dict[date, str]:
    out: dict[date, str] = {}
    _union(out, years, _holidays.NewZealand, (None,))
    _span(out, years, (12, 25), (1, 15), "25 December to 15 January (OIA s2)")
    return out


def _nz_lgoima(years: list[int]) -> dict[date, str]:
    out: dict[date, str] = {}
    _union(out, years, _holidays.NewZealand, (None,))
    new = LGOIMA_2019_CHANGE
    _span(out, years, (12, 25), (1, 15), "25 December to 15 January (LGOIMA s2 before 21 March 2019)",
          when=lambda d: d < new)
    _span(out, years, (12, 20), (1, 10), "20 December to 10 January (LGOIMA s2)", when=lambda d: d >= new)
    national = set(_holidays.NewZealand(years=years))
    for subdiv in _holidays.NewZealand.subdivisions:
        for d, name in _holidays.NewZealand(subdiv=subdiv, years=years).items():
            if d.year in years and d >= new and d not in national:
                _add(out, d, f"{name} (a provincial anniversary day)")
    return out


def _eu(years: list[int]) -> dict[date, str]:
    out: dict[date, str] = {}
    for d, name in _holidays.Belgium(years=years, language="en_US").items():
        if d.year in years and (d.month, d.day) != (11, 11):  # Armistice Day is not a Commission holiday
            _add(out, d, name)
    for y in years:
        e = easter(y)
        for d, name in (
            (date(y, 1, 2), "Day following New Year's Day"),
            (e - timedelta(days=3), "Holy Thursday"),
            (e - timedelta(days=2), "Good Friday"),
            (date(y, 5, 9), "Anniversary of the Schuman Declaration"),
            (e + timedelta(days=40), "Friday after Ascension Day"),
            (date(y, 11, 2), "All Souls' Day"),
        ):
            _add(out, d, name)
        for day in range(24, 32):
            _add(out, date(y, 12, day), "End-of-year closure (24 to 31 December)")
    return out


def _au(years: list[int]) -> dict[date, str]:
    where: dict[date, dict[str, list[str]]] = {}
    subdivs = _holidays.Australia.subdivisions
    for subdiv in subdivs:
        for d, name in _holidays.Australia(subdiv=subdiv, years=years).items():
            if d.year in years:
                where.setdefault(d, {}).setdefault(name, []).append(subdiv)
    return {
        d: "; ".join(name if len(places) == len(subdivs) else f"{name} ({', '.join(places)})"
                     for name, places in names.items())
        for d, names in where.items()
    }


def _ua(years: list[int]) -> tuple[dict[date, str], set[date]]:
    ua = _holidays.Ukraine(years=years, language="en_US")
    out = {d: name for d, name in ua.items() if d.year in years}
    return out, {d for d in ua.weekend_workdays if d.year in years}


CALENDARS = ("UK", "SCT", "NZ_OIA", "NZ_LGOIMA", "EU", "AU", "UA")

# (calendar, year) -> (non-working weekdays and holidays {date: name}, weekend days that are working days)
_CACHE: dict[tuple[str, int], tuple[dict[date, str], frozenset[date]]] = {}


def _ensure(cal: str, years: Iterable[int]) -> None:
    """Build the missing years of ``cal`` (one pass over the package for all of them)."""
    todo = sorted({int(y) for y in years} - {y for c, y in _CACHE if c == cal})
    if not todo:
        return
    extra: set[date] = set()
    if cal in ("UK", "SCT"):
        days = _uk(cal, todo)
    elif cal == "NZ_OIA":
        days = _nz_oia(todo)
    elif cal == "NZ_LGOIMA":
        days = _nz_lgoima(todo)
    elif cal == "EU":
        days = _eu(todo)
    elif cal == "AU":
        days = _au(todo)
    elif cal == "UA":
        days, extra = _ua(todo)
    else:  # pragma: no cover - REGIMES only names the calendars above
        raise ValueError(cal)
    for (ocal, d), name in OVERRIDES.items():
        if ocal == cal and d.year in todo:
            if name is None:
                days.pop(d, None)
            else:
                days[d] = name
    for y in todo:
        _CACHE[(cal, y)] = (
            {d: n for d, n in days.items() if d.year == y},
            frozenset(d for d in extra if d.year == y),
        )


def _year(cal: str, year: int) -> tuple[dict[date, str], frozenset[date]]:
    if (cal, year) not in _CACHE:
        _ensure(cal, [year])
    return _CACHE[(cal, year)]


def calendar_of(regime: str) -> str:
    """The calendar a regime counts on, or UsageError naming the regimes there are."""
    try:
        return REGIMES[regime.upper()].calendar
    except (KeyError, AttributeError):
        raise UsageError(f"unknown FOI regime {regime!r}; use one of {', '.join(REGIMES)}.") from None


# --------------------------------------------------------------------------- counting


def non_working_days(years: int | Iterable[int], regime: str = "FOIA") -> dict[date, str]:
    """Non-working days other than weekends for ``regime`` in ``years``: {date: name}."""
    cal = calendar_of(regime)
    years = [years] if isinstance(years, int) else [int(y) for y in years]
    _ensure(cal, years)
    out: dict[date, str] = {}
    for y in years:
        out.update(_CACHE[(cal, y)][0])
    return out


def _working(d: date, cal: str) -> bool:
    days, extra = _year(cal, d.year)
    if d.weekday() >= 5:
        return d in extra
    return d not in days


def is_working_day(d: date, regime: str = "FOIA") -> bool:
    if isinstance(d, datetime):
        d = d.date()
    return _working(d, calendar_of(regime))


def add_working_days(start: date, n: int, regime: str = "FOIA") -> date:
    """The date of working day ``n`` counting ``start`` as day 0 (n=20 gives the FOIA due date)."""
    if n < 0:
        raise UsageError(f"cannot count {n} working days; give a number of days of 0 or more.")
    cal = calendar_of(regime)
    d = start
    left = n
    while left:
        d += timedelta(days=1)
        if _working(d, cal):
            left -= 1
    return d


def working_days_between(start: date, end: date, regime: str = "FOIA") -> int:
    """Working days after ``start`` up to and including ``end`` (0 for the same day).

    Negative when ``end`` is before ``start``.
    """
    cal = calendar_of(regime)
    if end < start:
        return -working_days_between(end, start, regime)
    count = 0
    d = start
    while d < end:
        d += timedelta(days=1)
        if _working(d, cal):
            count += 1
    return count


def next_working_day(d: date, regime: str) -> date:
    """``d`` itself when it is a working day, else the first working day after it."""
    cal = calendar_of(regime)
    while not _working(d, cal):
        d += timedelta(days=1)
    return d


def due_date(received: date, regime: str, days: int | None = None) -> date:
    """The last day to answer a request received on ``received`` (day 0) under ``regime``.

    Working-day limits: working day N.  Calendar-day limits: day N after receipt,
    or the next working day when that is a weekend or holiday (Australia's Acts
    Interpretation Act s36(2)).  ``days`` overrides the regime's limit.
    """
    calendar_of(regime)  # an unknown regime stops here with the usual error
    r = REGIMES[regime.upper()]
    n = r.days if days is None else days
    if r.unit == "calendar":
        return next_working_day(received + timedelta(days=n), regime)
    return add_working_days(received, n, regime)


def uk_today() -> date:
    return datetime.now(LONDON).date()


# --------------------------------------------------------------------------- tables


def calendar_rows(first_year: int, last_year: int, regimes: Iterable[str] | None = None):
    """Per regime and day: (regime, date, is_working_day, working_day_index, holiday_name).

    ``working_day_index`` counts the working days from the start of the table up to
    and including the day, so ``index(end) - index(start)`` is
    ``working_days_between(start, end)``, working day N after ``received`` is the
    working day whose index is ``index(received) + N``, and the first working day
    on or after a date ``d`` has index ``index(d)`` when ``d`` works, else
    ``index(d) + 1``.
    """
    years = range(first_year, last_year + 1)
    by_calendar: dict[str, list[tuple]] = {}
    for regime in (regimes or REGIMES):
        cal = calendar_of(regime)
        if cal not in by_calendar:
            _ensure(cal, years)
            rows = []
            d, end, idx = date(first_year, 1, 1), date(last_year, 12, 31), 0
            while d <= end:
                days, extra = _CACHE[(cal, d.year)]
                working = d in extra if d.weekday() >= 5 else d not in days
                if working:
                    idx += 1
                rows.append((d, working, idx, days.get(d)))
                d += timedelta(days=1)
            by_calendar[cal] = rows
        for d, working, idx, name in by_calendar[cal]:
            yield regime, d, working, idx, name


def _holiday_lists(first_year: int, last_year: int) -> dict[str, list]:
    """Every calendar's non-working weekdays and named days, and its working weekend days, as query parameters.

    A few hundred values per calendar: the calendar itself (a row per regime and
    day) is made by the database from them, not built here row by row.
    """
    years = range(first_year, last_year + 1)
    lists: dict[str, list] = {"cal": [], "day": [], "name": [], "extra_cal": [], "extra_day": []}
    for cal in sorted({calendar_of(regime) for regime in REGIMES}):
        _ensure(cal, years)
        for y in years:
            days, extra = _CACHE[(cal, y)]
            for d in sorted(days):
                lists["cal"].append(cal)
                lists["day"].append(d)
                lists["name"].append(days[d])
            for d in sorted(extra):
                lists["extra_cal"].append(cal)
                lists["extra_day"].append(d)
    return lists


# The same rows as ``calendar_rows``: a weekday works unless it is a holiday, a
# weekend day only when the calendar names it a working day (isodow 6 and 7 are
# Saturday and Sunday), and the index counts working days up to and including
# the day, per calendar.
_CALENDAR_SQL = """
CREATE OR REPLACE TEMP TABLE _workday_calendar_src AS
WITH regime_cal AS (SELECT unnest($regimes) AS regime, unnest($regime_cals) AS cal),
named AS (SELECT unnest($cal) AS cal, unnest($day) AS date, unnest($name) AS name),
extra AS (SELECT unnest($extra_cal) AS cal, unnest($extra_day) AS date),
days AS (SELECT CAST(range AS DATE) AS date FROM range($first, $after, INTERVAL 1 DAY)),
per_cal AS (
    SELECT c.cal, d.date, n.name AS holiday_name,
           CASE WHEN isodow(d.date) >= 6 THEN e.date IS NOT NULL ELSE n.date IS NULL END AS is_working_day
    FROM (SELECT DISTINCT cal FROM regime_cal) c CROSS JOIN days d
    LEFT JOIN named n ON n.cal = c.cal AND n.date = d.date
    LEFT JOIN extra e ON e.cal = c.cal AND e.date = d.date
),
indexed AS (
    SELECT *, CAST(sum(CAST(is_working_day AS INTEGER)) OVER (PARTITION BY cal ORDER BY date
                                                              ROWS UNBOUNDED PRECEDING) AS INTEGER) AS working_day_index
    FROM per_cal
)
SELECT r.regime, i.date, i.is_working_day, i.working_day_index, i.holiday_name
FROM indexed i JOIN regime_cal r ON r.cal = i.cal
"""


def _make_calendar(con, first_year: int, last_year: int) -> None:
    """The calendar of every regime, as the temporary table ``_workday_calendar_src``."""
    params: dict[str, object] = dict(_holiday_lists(first_year, last_year))
    params.update(regimes=list(REGIMES), regime_cals=[calendar_of(r) for r in REGIMES],
                  first=datetime(first_year, 1, 1), after=datetime(last_year + 1, 1, 1))
    con.execute(_CALENDAR_SQL, params)


_CALENDAR_HASH = "SELECT count(*), sum(hash(regime, date, is_working_day, working_day_index, holiday_name)) FROM "


def _calendar_written(con) -> bool:
    """Whether ``con`` already holds exactly the calendar registered as ``_workday_calendar_src`` (and its holidays)."""
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                                      "AND table_name IN ('workday_calendar', 'holidays')").fetchall()}
    if have != {"workday_calendar", "holidays"}:
        return False
    stored = con.execute(_CALENDAR_HASH + "workday_calendar").fetchall()[0]
    wanted = con.execute(_CALENDAR_HASH + "_workday_calendar_src").fetchall()[0]
    holidays_ok = con.execute(
        "SELECT (SELECT count(*) FROM holidays) = (SELECT count(*) FROM _workday_calendar_src WHERE holiday_name IS NOT NULL)"
    ).fetchall()[0][0]
    return stored == wanted and bool(holidays_ok)


def write_calendar(con, first_year: int = FIRST_CALENDAR_YEAR, last_year: int | None = None) -> None:
    """(Re)create ``holidays`` (date, regime, name) and ``workday_calendar`` in ``con``, for every regime."""
    if last_year is None:
        last_year = uk_today().year + 2
    _make_calendar(con, first_year, last_year)
    try:
        if _calendar_written(con):
            return  # (a sync rebuilds the derived tables often: the same calendar is not written again)
        con.execute(
            "CREATE OR REPLACE TABLE workday_calendar AS "
            "SELECT regime, date, is_working_day, working_day_index, holiday_name "
            "FROM _workday_calendar_src ORDER BY regime, date"
        )
    finally:
        con.execute("DROP TABLE IF EXISTS _workday_calendar_src")
    con.execute(
        "CREATE OR REPLACE TABLE holidays AS "
        "SELECT date, regime, holiday_name AS name FROM workday_calendar "
        "WHERE holiday_name IS NOT NULL ORDER BY regime, date"
    )


__all__ = [
    "CALENDARS", "OVERRIDES", "add_working_days", "calendar_of", "calendar_rows", "due_date", "is_working_day",
    "next_working_day", "non_working_days", "uk_today", "working_days_between", "write_calendar",
]
