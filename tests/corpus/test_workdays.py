from datetime import date, datetime, timezone

import pytest

from corpus.errors import CorpusError
from corpus.workdays import (
    add_working_days,
    calendar_rows,
    is_working_day,
    uk_date,
    uk_holidays,
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
    assert "Saint Andrew" in uk_holidays(2024, "FOIA")[date(2024, 12, 2)]


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


def test_uk_date_near_midnight():
    # 23:30 UTC in summer is 00:30 BST the next day; in winter it is the same day.
    assert uk_date(datetime(2023, 6, 30, 23, 30, tzinfo=timezone.utc)) == date(2023, 7, 1)
    assert uk_date(datetime(2023, 12, 1, 23, 30, tzinfo=timezone.utc)) == date(2023, 12, 1)
    assert uk_date(datetime(2023, 6, 30, 23, 30)) == date(2023, 7, 1)  # naive = UTC


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


def test_the_calendar_is_written_again_only_when_it_would_change():
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    write_calendar(con, 2022, 2023)
    whole = con.execute("SELECT * FROM workday_calendar ORDER BY regime, date").fetchall()
    # a stray change to a day the rules do not touch stays: the same span and holidays are not written again
    con.execute("UPDATE workday_calendar SET holiday_name = 'marker' WHERE regime = 'FOIA' AND date = DATE '2022-03-02'")
    write_calendar(con, 2022, 2023)
    assert con.execute("SELECT count(*) FROM workday_calendar WHERE holiday_name = 'marker'").fetchone()[0] == 1
    # a holiday missing from the stored table, or another span, and both tables are made again
    con.execute("DELETE FROM holidays WHERE regime = 'FOIA' AND date = DATE '2022-09-19'")
    write_calendar(con, 2022, 2023)
    assert con.execute("SELECT * FROM workday_calendar ORDER BY regime, date").fetchall() == whole
    assert con.execute("SELECT count(*) FROM holidays WHERE date = DATE '2022-09-19'").fetchone()[0] > 0
    write_calendar(con, 2022, 2024)
    assert con.execute("SELECT max(date) FROM workday_calendar").fetchone()[0] == date(2024, 12, 31)
