from datetime import date

import pytest

from corpus.errors import CorpusError
from corpus.sites import REGIMES
from corpus.workdays import (
    CALENDARS,
    add_working_days,
    calendar_rows,
    due_date,
    is_working_day,
    non_working_days,
    working_days_between,
    write_calendar,
)


def test_christmas_and_new_year_2023():
    # Mon 25, Tue 26 Dec 2023; Mon 1 Jan 2024; Tue 2 Jan 2024 is Scottish only.
    for d in (date(2023, 12, 25), date(2023, 12, 26), date(2024, 1, 1), date(2024, 1, 2)):
        assert not is_working_day(d, "FOIA"), d
    assert is_working_day(date(2023, 12, 27), "FOIA")
    assert not is_working_day(date(2024, 1, 2), "FOISA")
    # Friday 22 Dec -> days 1..4 are 27, 28, 29 Dec, 3 Jan (2 Jan is a Scottish bank holiday)
    assert add_working_days(date(2023, 12, 22), 4, "FOIA") == date(2024, 1, 3)
    assert working_days_between(date(2023, 12, 22), date(2024, 1, 3)) == 4


def test_easter_good_friday_and_easter_monday():
    assert not is_working_day(date(2024, 3, 29), "FOIA")  # Good Friday
    assert not is_working_day(date(2024, 4, 1), "FOIA")  # Easter Monday (England, Wales, NI)
    assert not is_working_day(date(2024, 3, 29), "FOISA")
    assert is_working_day(date(2024, 4, 1), "FOISA")  # not a Scottish bank holiday
    # received Thu 28 Mar 2024: 20 working days lands on Mon 29 Apr
    assert add_working_days(date(2024, 3, 28), 20, "FOIA") == date(2024, 4, 29)
    assert add_working_days(date(2024, 3, 28), 20, "FOISA") == date(2024, 4, 26)


def test_scottish_only_days_count_for_foia():
    assert not is_working_day(date(2024, 12, 2), "FOIA")  # St Andrew's Day substitute
    assert not is_working_day(date(2024, 12, 2), "FOISA")
    assert not is_working_day(date(2024, 8, 5), "FOIA")  # Scottish summer bank holiday
    assert not is_working_day(date(2024, 8, 26), "FOIA")  # English late summer
    assert is_working_day(date(2024, 8, 26), "FOISA")
    assert "Saint Andrew" in non_working_days(2024, "FOIA")[date(2024, 12, 2)]


def test_northern_irish_days_count_for_foia_not_foisa():
    assert not is_working_day(date(2023, 3, 17), "FOIA")  # St Patrick's Day (Friday)
    assert not is_working_day(date(2023, 7, 12), "EIR")  # Battle of the Boyne (Wednesday)
    assert is_working_day(date(2023, 3, 17), "FOISA")
    assert is_working_day(date(2023, 7, 12), "EISR")


def test_one_off_days():
    assert not is_working_day(date(2022, 9, 19), "FOIA")  # state funeral
    assert not is_working_day(date(2022, 9, 19), "FOISA")
    assert not is_working_day(date(2023, 5, 8), "FOIA")  # coronation
    assert not is_working_day(date(2022, 6, 2), "FOIA") and not is_working_day(date(2022, 6, 3), "FOIA")
    # Sat 10 Sep 2022: Mon 12 is day 1, Fri 16 day 5, Mon 19 skipped, Tue 20 day 6
    assert add_working_days(date(2022, 9, 10), 6) == date(2022, 9, 20)


def test_weekend_receipt_starts_counting_on_monday():
    assert add_working_days(date(2024, 6, 1), 1) == date(2024, 6, 3)  # Saturday -> Monday is day 1
    assert add_working_days(date(2024, 6, 2), 0) == date(2024, 6, 2)
    assert working_days_between(date(2024, 6, 1), date(2024, 6, 1)) == 0
    assert working_days_between(date(2024, 6, 1), date(2024, 6, 2)) == 0
    assert working_days_between(date(2024, 6, 1), date(2024, 6, 3)) == 1
    assert working_days_between(date(2024, 6, 3), date(2024, 6, 1)) == -1


def test_bad_regime_and_negative_count():
    with pytest.raises(CorpusError, match="regime"):
        is_working_day(date(2024, 1, 1), "GDPR")
    with pytest.raises(CorpusError, match="0 or more"):
        add_working_days(date(2024, 1, 1), -1)


def test_calendar_index_matches_python_counting():
    rows = [r for r in calendar_rows(2022, 2023) if r[0] == "FOIA"]
    index = {r[1]: r[3] for r in rows}
    for a, b in [(date(2022, 1, 1), date(2022, 12, 31)), (date(2022, 9, 10), date(2023, 5, 9)), (date(2023, 4, 6), date(2023, 4, 11))]:
        assert index[b] - index[a] == working_days_between(a, b)


def test_every_regime_has_a_calendar():
    assert {r.calendar for r in REGIMES.values()} <= set(CALENDARS)
    assert {r.unit for r in REGIMES.values()} <= {"working", "calendar"}


def test_the_written_calendar_is_the_day_by_day_calendar_for_every_regime():
    """The database makes the calendar from the holidays; Python's day-by-day walk says what it must hold."""
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    write_calendar(con, 2012, 2027)  # leap years, weekend holidays moved, NZ summers, Ukraine's working Saturdays
    got = con.execute("SELECT regime, date, is_working_day, working_day_index, holiday_name "
                      "FROM workday_calendar ORDER BY regime, date").fetchall()
    assert got == sorted(calendar_rows(2012, 2027), key=lambda r: (r[0], r[1]))
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0


def test_write_calendar_tables():
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    write_calendar(con, 2022, 2023)
    names = dict(con.execute("SELECT regime, count(*) FROM holidays GROUP BY regime").fetchall())
    assert names["FOIA"] > names["FOISA"] > 0
    assert con.execute(
        "SELECT name FROM holidays WHERE regime = 'FOIA' AND date = DATE '2022-09-19'"
    ).fetchone()[0].startswith("State Funeral")
    # 2022: 260 weekdays minus weekday holidays of the UK union
    n = con.execute(
        "SELECT count(*) FROM workday_calendar WHERE regime = 'FOIA' AND is_working_day AND year(date) = 2022"
    ).fetchone()[0]
    expected = sum(1 for r in calendar_rows(2022, 2022) if r[0] == "FOIA" and r[2])
    assert n == expected
    assert 240 < n < 255
    # every day of every regime, once: the timeline reads the calendar as lists indexed by day
    gaps = con.execute("""SELECT regime FROM workday_calendar GROUP BY regime
                          HAVING count(*) <> count(DISTINCT date) OR count(*) <> max(date) - min(date) + 1""").fetchall()
    assert gaps == [] and con.execute("SELECT count(DISTINCT regime) FROM workday_calendar").fetchone()[0] == len(REGIMES)
    # and the working days numbered 1, 2, 3, ... in date order, a day off keeping the index of the day before
    assert con.execute("""SELECT count(*) FROM (
        SELECT working_day_index - lag(working_day_index) OVER (PARTITION BY regime ORDER BY date) AS step, is_working_day
        FROM workday_calendar) WHERE step IS NOT NULL AND step <> CASE WHEN is_working_day THEN 1 ELSE 0 END""").fetchone()[0] == 0


class _CountingConnection:
    """A DuckDB connection that counts the tables it is asked to create."""

    def __init__(self, con):
        self.con, self.created = con, 0

    def execute(self, sql, *args):
        self.created += sql.lstrip().upper().startswith("CREATE OR REPLACE TABLE")
        return self.con.execute(sql, *args)

    def register(self, *args):
        return self.con.register(*args)

    def unregister(self, *args):
        return self.con.unregister(*args)


def test_the_calendar_is_written_again_only_when_it_would_change():
    duckdb = pytest.importorskip("duckdb")
    con = _CountingConnection(duckdb.connect())
    write_calendar(con, 2022, 2023)
    assert con.created == 2  # workday_calendar and holidays
    whole = con.execute("SELECT * FROM workday_calendar ORDER BY regime, date").fetchall()
    write_calendar(con, 2022, 2023)
    assert con.created == 2  # the same calendar: nothing written
    # a stored day that differs from the rules, or a holiday missing: both tables are made again
    con.execute("UPDATE workday_calendar SET holiday_name = 'marker' WHERE regime = 'FOIA' AND date = DATE '2022-03-02'").fetchall()
    write_calendar(con, 2022, 2023)
    assert con.created == 4 and con.execute("SELECT * FROM workday_calendar ORDER BY regime, date").fetchall() == whole
    con.execute("DELETE FROM holidays WHERE regime = 'FOIA' AND date = DATE '2022-09-19'").fetchall()
    write_calendar(con, 2022, 2023)
    assert con.created == 6
    assert con.execute("SELECT count(*) FROM holidays WHERE date = DATE '2022-09-19'").fetchall()[0][0] > 0
    write_calendar(con, 2022, 2024)
    assert con.execute("SELECT max(date) FROM workday_calendar").fetchall()[0][0] == date(2024, 12, 31)


# --------------------------------------------------------------------------- New Zealand


def test_nz_oia_summer_period_is_not_working_days():
    # OIA s2(b): 25 December to 15 January, weekdays included
    assert is_working_day(date(2024, 12, 24), "NZ_OIA")
    for d in (date(2024, 12, 25), date(2024, 12, 31), date(2025, 1, 8), date(2025, 1, 15)):
        assert not is_working_day(d, "NZ_OIA"), d
    assert is_working_day(date(2025, 1, 16), "NZ_OIA")
    # received Mon 2 Dec 2024: 16 working days to Christmas Eve, then 16, 17, 20 and 21 January
    assert add_working_days(date(2024, 12, 2), 20, "NZ_OIA") == date(2025, 1, 21)
    assert due_date(date(2024, 12, 2), "NZ_OIA") == date(2025, 1, 21)
    assert working_days_between(date(2024, 12, 20), date(2025, 1, 17), "NZ_OIA") == 4  # 23, 24 Dec; 16, 17 Jan


def test_nz_oia_public_holidays_and_mondayisation():
    assert not is_working_day(date(2024, 6, 28), "NZ_OIA")  # Matariki
    assert not is_working_day(date(2024, 6, 3), "NZ_OIA")  # the Sovereign's birthday
    assert not is_working_day(date(2022, 9, 26), "NZ_OIA")  # Queen Elizabeth II Memorial Day
    # s2(ab): Waitangi Day and Anzac Day falling at a weekend move to the Monday, from 2014
    assert not is_working_day(date(2021, 2, 8), "NZ_OIA")
    assert not is_working_day(date(2015, 4, 27), "NZ_OIA")
    assert is_working_day(date(2010, 4, 26), "NZ_OIA")  # Anzac Day 2010 was a Sunday, before the 2013 Act
    # provincial anniversary days are working days under the OIA
    assert is_working_day(date(2024, 11, 15), "NZ_OIA")  # Canterbury


def test_nz_lgoima_period_and_anniversary_days_changed_in_2019():
    # from 21 March 2019: 20 December to 10 January, and anniversary days do not count
    assert not is_working_day(date(2024, 12, 20), "NZ_LGOIMA")
    assert is_working_day(date(2025, 1, 13), "NZ_LGOIMA") and not is_working_day(date(2025, 1, 13), "NZ_OIA")
    assert not is_working_day(date(2024, 11, 15), "NZ_LGOIMA")
    assert "anniversary" in non_working_days(2024, "NZ_LGOIMA")[date(2024, 11, 15)]
    # before: 25 December to 15 January, anniversary days counted as working days
    assert is_working_day(date(2018, 12, 20), "NZ_LGOIMA")
    assert not is_working_day(date(2019, 1, 14), "NZ_LGOIMA")
    assert is_working_day(date(2018, 11, 16), "NZ_LGOIMA")  # Canterbury anniversary day 2018
    # received 2 Dec 2024: 13 working days to 19 Dec, then from 13 Jan; 20 Jan is Wellington's anniversary day
    assert add_working_days(date(2024, 12, 2), 20, "NZ_LGOIMA") == date(2025, 1, 22)


# --------------------------------------------------------------------------- EU institutions


def test_eu_commission_calendar_matches_a_real_extension_letter():
    # A Commission letter on AskTheEU: registered 25/10/2019, 15 working days "expires today (18/11/2019)",
    # extended by 15 working days under Art 7(3) to 09/12/2019.  1 November is a holiday, 11 November is not.
    assert add_working_days(date(2019, 10, 25), 15, "EU_1049") == date(2019, 11, 18)
    assert add_working_days(date(2019, 10, 25), 30, "EU_1049") == date(2019, 12, 9)
    assert is_working_day(date(2019, 11, 11), "EU_1049") and not is_working_day(date(2019, 11, 1), "EU_1049")


def test_eu_commission_holidays_beyond_belgian_ones():
    for d in (date(2024, 3, 28), date(2024, 3, 29), date(2024, 5, 10), date(2024, 12, 27), date(2024, 1, 2),
              date(2023, 5, 9), date(2023, 11, 2)):
        assert not is_working_day(d, "EU_1049"), d
    assert is_working_day(date(2024, 12, 23), "EU_1049")
    # received Fri 20 Dec 2024: 23 December, then 2 January is a holiday too: 3, 6, 7 ... January
    assert add_working_days(date(2024, 12, 20), 2, "EU_1049") == date(2025, 1, 3)


# --------------------------------------------------------------------------- Australia


def test_au_thirty_calendar_days_then_next_working_day():
    assert REGIMES["AU_FOI"].unit == "calendar"
    assert due_date(date(2024, 6, 5), "AU_FOI") == date(2024, 7, 5)  # a Friday: no move
    # day 30 is Easter Sunday 2024; Easter Monday is a holiday too: Tuesday 2 April
    assert due_date(date(2024, 3, 1), "AU_FOI") == date(2024, 4, 2)
    # day 30 is Melbourne Cup day (Victoria only): the later reading, Wednesday 6 November
    assert due_date(date(2024, 10, 6), "AU_FOI") == date(2024, 11, 6)
    assert due_date(date(2024, 8, 3), "AU_FOI") == date(2024, 9, 2)  # day 30 a Monday, after a weekend start


# --------------------------------------------------------------------------- Ukraine


def test_ua_five_working_days_with_transfers_before_the_war():
    # 2021: Independence Day (Tue 24 Aug) and a transferred day off on Mon 23 Aug, worked on Sat 28 Aug
    assert not is_working_day(date(2021, 8, 23), "UA_PUBLIC_INFO")
    assert not is_working_day(date(2021, 8, 24), "UA_PUBLIC_INFO")
    assert is_working_day(date(2021, 8, 28), "UA_PUBLIC_INFO")
    assert add_working_days(date(2021, 8, 20), 5, "UA_PUBLIC_INFO") == date(2021, 8, 30)


def test_ua_no_holidays_under_martial_law():
    assert is_working_day(date(2023, 8, 24), "UA_PUBLIC_INFO")  # Independence Day, a working day since 2022
    assert non_working_days(2023, "UA_PUBLIC_INFO") == {}
    assert add_working_days(date(2023, 8, 21), 5, "UA_PUBLIC_INFO") == date(2023, 8, 28)
    assert not is_working_day(date(2022, 3, 8), "UA_PUBLIC_INFO")  # before the martial-law labour act


def test_calendar_index_matches_python_counting_for_every_regime():
    for regime in REGIMES:
        index = {r[1]: r[3] for r in calendar_rows(2018, 2025, [regime])}
        for a, b in [(date(2018, 12, 1), date(2019, 2, 1)), (date(2021, 8, 1), date(2021, 9, 30)),
                     (date(2024, 12, 1), date(2025, 2, 1))]:
            assert index[b] - index[a] == working_days_between(a, b, regime), (regime, a, b)
