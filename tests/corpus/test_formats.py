"""Rendering results: the same values in every format, and nothing that drives a terminal or a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from corpus.formats import (
    format_csv,
    format_json,
    format_jsonl,
    format_table,
    plain,
    spreadsheet_safe,
    terminal_safe,
    text,
)

HOSTILE = [
    "\x1b]0;pwned title\x07Budget",             # OSC: sets the window title
    "\x1b[2J\x1b[HCleared",                     # clear screen, cursor home
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x1b[31mred\x1b[0m",                        # colours
    "a\x9b31mb",                                 # C1 CSI
    "bell\x07 and nul\x00 and del\x7f",
    "right\u202eto-left",                        # bidi override
]


def test_timestamps_are_iso_with_seconds_and_offset():
    assert text(datetime(2015, 1, 1, 10, 18, tzinfo=timezone.utc)) == "2015-01-01T10:18:00+00:00"
    # a London summer time is shown in UTC: the same instant, one form everywhere
    assert text(datetime(2015, 7, 1, 11, 18, 5, tzinfo=ZoneInfo("Europe/London"))) == "2015-07-01T10:18:05+00:00"
    assert text(datetime(2015, 1, 1, 10, 18, 0, 250000, tzinfo=timezone.utc)) == "2015-01-01T10:18:00.250000+00:00"
    assert text(datetime(2015, 1, 1, 10, 18)) == "2015-01-01T10:18:00"  # no zone: none invented
    assert text(date(2015, 1, 1)) == "2015-01-01"


def test_numbers_and_the_rest():
    assert [text(v) for v in (3, 2.0, 0.3333, 12.5, -4, True, None, float("nan"))] == ["3", "2", "0.3333", "12.5", "-4", "true", "", ""]
    assert plain(Decimal("2")) == 2 and plain(Decimal("1.25")) == 1.25
    assert plain(Decimal("0.1000000000000000055511151231257827")) == "0.1000000000000000055511151231257827"  # no float rounding
    assert text(["a", 1]) == '["a", 1]' and text({"x": None}) == '{"x": null}'
    assert plain(timedelta(days=3)) == "P0M3DT0S"
    assert plain(b"\x00\xff") == "AP8="


def test_terminal_safe_strips_escapes_and_controls():
    for value in HOSTILE:
        safe = terminal_safe(value)
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in safe), repr(safe)
        assert "\u202e" not in safe
    assert terminal_safe(HOSTILE[0]) == "Budget"
    assert terminal_safe(HOSTILE[2]) == "click"
    assert terminal_safe("two\nlines\r\n") == "two lines "


def test_table_output_is_terminal_safe():
    table = pa.table({"title": HOSTILE, "n": list(range(len(HOSTILE)))})
    out = format_table(table, max_width=200)
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\u202e" not in out
    assert "Budget" in out and "Cleared" in out


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"])
def test_csv_neutralises_formulas(cell):
    table = pa.table({"title": [cell], "n": [-5]})
    rows = list(csv.reader(io.StringIO(format_csv(table))))
    assert rows[1][0] == "'" + cell
    assert rows[1][1] == "-5"  # numbers are never touched
    assert spreadsheet_safe("plain") == "plain"


def test_json_keeps_text_exactly_but_escapes_terminal_controls():
    table = pa.table({"title": HOSTILE})
    out = format_json(table)
    assert "\x1b" not in out and "\x9b" not in out and "\x7f" not in out
    assert [r["title"] for r in json.loads(out)] == HOSTILE
    lines = format_jsonl(table).splitlines()
    assert len(lines) == len(HOSTILE) and [json.loads(x)["title"] for x in lines] == HOSTILE
