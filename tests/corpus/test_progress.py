"""The reporter: a bar whose total holds still (so it has an ETA), stats lines without a terminal, JSON logs."""

from __future__ import annotations

import io
import json
import time

import pytest

from corpus.progress import Reporter, WorkRate, format_duration, stats_interval_from_env


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_total_changes_only_when_more_work_is_found_and_an_eta_shows():
    clock = FakeClock()
    stream = Terminal()
    rep = Reporter(stream=stream, clock=clock)
    assert rep.show_bar
    rep.start("sync")
    totals = []
    for done in range(1, 41):
        clock.now += 2
        rep.show(done, 100 if done < 30 else 120, "fetching")
        totals.append(rep.bar_total())
    task = rep._progress.tasks[0]
    assert task.fields["eta"] not in ("", "…")  # 80 left at 0.5 per second: about 2m40s
    assert task.fields["eta"] == format_duration(80 / 0.5)
    rep.stop()
    assert totals[:29] == [100] * 29 and totals[29:] == [120] * 11


def test_the_eta_comes_from_the_recent_rate_of_work():
    clock = FakeClock()
    rate = WorkRate(window=60, clock=clock)
    for done in range(0, 11):
        rate.note(done)
        clock.now += 3  # one every 3 s
    assert rate.rate() == pytest.approx(10 / 33, rel=0.01)
    assert rate.eta(10) == pytest.approx(33, rel=0.01)
    assert rate.eta(0) == 0.0
    assert WorkRate(clock=clock).eta(5) is None  # no rate yet: no made-up ETA


def test_without_a_terminal_a_stats_line_every_interval():
    stream = io.StringIO()
    rep = Reporter(stream=stream, stats_interval=0.05)
    assert not rep.show_bar and rep.stats_lines
    rep.start("sync")
    for i in range(1, 21):
        rep.request_made()
        rep.request_made()
        rep.show(i, 50, "")
        time.sleep(0.01)
    time.sleep(0.15)
    rep.stop()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2, lines
    assert all(line.startswith("sync: ") for line in lines)
    first = lines[0]
    assert "pages/min" in first and "threads done" in first and " left" in first and "ETA" in first
    assert "30 left" in lines[-1] and "20 threads done" in lines[-1]


def test_stats_lines_as_json_carry_the_figures():
    stream = io.StringIO()
    clock = FakeClock()
    rep = Reporter(stream=stream, log_format="json", stats_interval=3600, clock=clock)
    rep.start("reparse", unit="pages", total=100)
    clock.now += 30
    rep.show(25, 100)
    rep.stats_line()
    rep.stop()
    [record] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert record["event"] == "stats" and record["stage"] == "reparse"
    assert record["done"] == 25 and record["left"] == 75
    assert record["pages_per_minute"] == pytest.approx(50)
    assert record["eta_seconds"] == 90  # 75 left at 25 per 30 s


def test_quiet_means_no_stats_lines_and_no_info_but_warnings_and_notes_stay():
    stream = io.StringIO()
    rep = Reporter(stream=stream, quiet=True, stats_interval=0.01)
    rep.start("sync")
    rep.show(1, 2)
    time.sleep(0.05)
    rep.log("discover", "walking listings")
    rep.log("failed", "failed for good: x", level="warning")
    rep.note("Wrote 3 rows to out.csv")
    rep.stop()
    assert stream.getvalue().splitlines() == ["warning: failed for good: x", "Wrote 3 rows to out.csv"]


def test_progress_callback_starts_a_stage_per_name():
    stream = io.StringIO()
    rep = Reporter(stream=stream, log_format="json", stats_interval=3600)
    rep.progress("reparse", 0, 10)
    rep.progress("reparse", 10, 10)
    rep.stats_line()
    rep.progress("derive tables", 1, 4)
    rep.stats_line()
    rep.stop()
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["stage"], r["unit"], r["done"], r["left"]) for r in records] == [
        ("reparse", "pages", 10, 0), ("derive tables", "steps", 1, 3)]


def test_errors_and_summaries_as_json():
    stream = io.StringIO()
    rep = Reporter(stream=stream, log_format="json")
    rep.summary("Sync complete.", exit_code=0)
    rep.error("no database at x", exit_code=2)
    a, b = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (a["event"], a["message"], a["exit_code"]) == ("summary", "Sync complete.", 0)
    assert (b["event"], b["level"], b["exit_code"]) == ("error", "error", 2)
    text = io.StringIO()
    Reporter(stream=text).error("no database at x", exit_code=2)
    assert text.getvalue() == "Error: no database at x\n"


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CORPUS_STATS_INTERVAL", "2.5")
    assert stats_interval_from_env() == 2.5
    for bad in ("soon", "0", "-3"):
        monkeypatch.setenv("CORPUS_STATS_INTERVAL", bad)
        assert stats_interval_from_env() == 60.0
