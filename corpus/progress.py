"""What a long-running command tells the person (or program) watching it.

* On a terminal (text logs, without ``--quiet``) a live rich bar: done / total,
  what is going on, and an ETA from the recent rate of work.  The total moves
  only when more work is found, so the ETA holds still.
* Elsewhere (stderr piped to a file, or ``--log-format json``) one stats line
  per minute instead, as scrapy does: pages per minute, work done and left,
  and the ETA at the current rate.  ``$CORPUS_STATS_INTERVAL`` (seconds)
  changes the minute.
* Log lines go to stderr, as plain text or (``--log-format json``) as one JSON
  object per line; with JSON, the summary and errors are JSON objects too.
* Never anything on stdout but the result, so it can be piped.

Library functions never print: they take a :data:`ProgressFn` callback (or a
:class:`Reporter`), and the CLI passes one.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TextIO

STATS_INTERVAL_ENV = "CORPUS_STATS_INTERVAL"
DEFAULT_STATS_INTERVAL = 60.0  # seconds between stats lines when there is no bar
LOG_FORMATS = ("text", "json")

ProgressFn = Callable[[str, int, "int | None"], None]
"""``progress(stage, done, total)``: how far a stage of a long job is (``total`` None when not yet known)."""


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The :data:`ProgressFn` that reports nothing (library calls)."""


def stats_interval_from_env() -> float:
    """Seconds between stats lines: ``$CORPUS_STATS_INTERVAL`` when it is a positive number, else 60."""
    raw = os.environ.get(STATS_INTERVAL_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_STATS_INTERVAL
    except ValueError:
        return DEFAULT_STATS_INTERVAL
    return value if value > 0 else DEFAULT_STATS_INTERVAL


def format_duration(seconds: float) -> str:
    """``42s``, ``13m05s``, ``2h07m``: short enough for a progress line."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class RateMeter:
    """Events per second over a sliding window of recent event times."""

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()

    def tick(self) -> None:
        now = self._clock()
        self._times.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()

    def rate(self) -> float:
        now = self._clock()
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


class WorkRate:
    """Units of work done per second over a sliding window of ``(time, done)`` samples, and the ETA from it."""

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    def note(self, done: int) -> None:
        now = self._clock()
        if self._samples and self._samples[-1][1] == done:
            return
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] > self.window:
            self._samples.popleft()

    def rate(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        span = max(self._clock(), t1) - t0
        return (d1 - d0) / span if span > 0 and d1 > d0 else 0.0

    def eta(self, left: int) -> float | None:
        """Seconds to do ``left`` more at the recent rate; None while there is no rate yet."""
        if left <= 0:
            return 0.0
        r = self.rate()
        return left / r if r > 0 else None


class _Work:
    """The piece of work being reported on: what, how far, and the counters of the last stats line."""

    def __init__(self, title: str, unit: str, total: int | None, now: float):
        self.title = title
        self.unit = unit
        self.done = 0
        self.total = total
        self.detail = ""
        self.pages = 0  # requests made (a sync); other jobs count their units of work as pages
        self.last_at = now
        self.last_done = 0
        self.last_pages = 0


class Reporter:
    """Progress display, stats lines and log lines for one command.

    A sync calls :meth:`start`, then :meth:`show` with its own counters and
    :meth:`request_made` per request.  Other jobs pass :meth:`progress` to
    the library function as its ``progress`` callback.  ``Reporter.silent()``
    says nothing at all (library use).  Safe to call from several threads.
    """

    def __init__(self, *, quiet: bool = False, log_format: str = "text", stream: TextIO | None = None,
                 stats_interval: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.log_format = log_format
        self.stats_interval = stats_interval if stats_interval is not None else stats_interval_from_env()
        self.meter = RateMeter(clock=clock)
        self._clock = clock
        self._lock = threading.RLock()
        self._progress: Any = None
        self._task: Any = None
        self._silent = False
        self._work: _Work | None = None
        self._rate = WorkRate(clock=clock)
        self._ticker: threading.Thread | None = None
        self._ticker_stop = threading.Event()
        interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.show_bar = interactive and not quiet and log_format == "text"

    @classmethod
    def silent(cls) -> Reporter:
        """A reporter that writes nothing (for library calls; the CLI passes its own)."""
        rep = cls(quiet=True)
        rep._silent = True
        rep.show_bar = False
        return rep

    @property
    def stats_lines(self) -> bool:
        """Whether a stats line is written every interval (no bar to look at, and not quiet)."""
        return not (self._silent or self.quiet or self.show_bar)

    # ------------------------------------------------------------------ logging

    def log(self, event: str, message: str, *, level: str = "info", **fields: Any) -> None:
        """One log line on stderr.  Quiet mode keeps warnings and errors only."""
        if self._silent or (self.quiet and level == "info"):
            return
        self._emit(event, message, level, fields)

    def _emit(self, event: str, message: str, level: str, fields: dict[str, Any]) -> None:
        if self.log_format == "json":
            record = {
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "level": level,
                "event": event,
                "message": message,
            }
            record.update(fields)
            line = json.dumps(record, default=str, ensure_ascii=False)
        else:
            prefix = "" if level == "info" else f"{level}: "
            line = prefix + message
        with self._lock:
            if self._progress is not None:
                self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                print(line, file=self.stream, flush=True)

    def note(self, message: str) -> None:
        """A note about a result (rows written, a result cut at a limit): shown even when quiet."""
        if not self._silent:
            self._emit("note", message, "info", {})

    def summary(self, message: str, **fields: Any) -> None:
        """The final summary of a command, for machines: a ``summary`` JSON object on stderr (text: nothing,
        since the CLI prints the summary on stdout)."""
        if self.log_format == "json" and not self._silent:
            self._emit("summary", message, "info", fields)

    def error(self, message: str, *, exit_code: int, **fields: Any) -> None:
        """An error that ends the command: ``Error: ...`` or, with JSON logs, an ``error`` object."""
        if self.log_format == "json":
            self._emit("error", message, "error", {"exit_code": exit_code, **fields})
        else:
            with self._lock:
                print(f"Error: {message}", file=self.stream, flush=True)

    # ------------------------------------------------------------------ display

    def start(self, title: str, *, unit: str = "threads", total: int | None = None) -> None:
        """Begin reporting on one piece of work (ends the one before)."""
        self.stop()
        if self._silent:
            return
        with self._lock:
            self._work = _Work(title, unit, total, self._clock())
            self._rate = WorkRate(clock=self._clock)
            if self.show_bar:
                self._start_bar(title, unit, total)
            elif self.stats_lines:
                self._ticker_stop = threading.Event()
                self._ticker = threading.Thread(target=self._tick, args=(self._ticker_stop,), daemon=True,
                                                name="corpus-stats")
                self._ticker.start()

    def _start_bar(self, title: str, unit: str, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(file=self.stream)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.fields[shown_total]} " + unit),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TextColumn("ETA {task.fields[eta]}"),
            console=console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(title, total=total, detail="", eta="…",
                                             shown_total="?" if total is None else total)

    def request_made(self) -> None:
        self.meter.tick()
        work = self._work
        if work is not None:
            work.pages += 1

    def show(self, done: int, total: int | None, detail: str = "") -> None:
        """``done`` of ``total`` units of the current work, then ``detail`` (a sync adds its request rate).

        The bar's total is changed only when ``total`` does: rich starts its
        speed estimate again on every change of total.
        """
        work = self._work
        if work is None:
            return
        with self._lock:
            work.done = done
            work.total = None if total is None else max(total, done)
            work.detail = detail
            self._rate.note(done)
            if self._progress is None or self._task is None:
                return
            if work.unit == "threads" and self.meter.rate() > 0:
                detail = f"{detail} · {self.meter.rate():.2f} req/s" if detail else f"{self.meter.rate():.2f} req/s"
            eta = self._eta(work)
            task = self._progress.tasks[0]
            new_total = work.total if work.total is not None else None
            self._progress.update(
                self._task, completed=done, detail=detail, eta=format_duration(eta) if eta is not None else "…",
                shown_total="?" if new_total is None else new_total,
                **({"total": new_total} if new_total is not None and new_total != task.total else {}))

    def bar_total(self) -> float | None:
        """The total the bar shows now (None without a bar): for tests."""
        with self._lock:
            return self._progress.tasks[0].total if self._progress is not None else None

    def progress(self, stage: str, done: int, total: int | None) -> None:
        """The :data:`ProgressFn` for library functions: a new ``stage`` starts a new bar (or stats title)."""
        if self._silent:
            return
        work = self._work
        if work is None or work.title != stage:
            self.start(stage, unit=_unit_of(stage), total=total)
        self.show(done, total)

    def stop(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            self._ticker_stop.set()
            ticker.join(timeout=5)
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None
                self._task = None
            self._work = None

    # ------------------------------------------------------------------ stats lines (no bar)

    def _eta(self, work: _Work) -> float | None:
        if work.total is None:
            return None
        return self._rate.eta(work.total - work.done)

    def _tick(self, stop: threading.Event) -> None:
        while not stop.wait(self.stats_interval):
            self.stats_line()

    def stats_line(self) -> None:
        """Write one stats line about the current work (the ticker calls it every interval)."""
        with self._lock:
            work = self._work
            if work is None or not self.stats_lines:
                return
            now = self._clock()
            minutes = max(now - work.last_at, 1e-9) / 60
            pages = work.pages if work.pages else work.done
            per_minute = (pages - (work.last_pages if work.pages else work.last_done)) / minutes
            done_rate = (work.done - work.last_done) / minutes
            left = None if work.total is None else max(work.total - work.done, 0)
            eta = None
            if left is not None:
                eta = 0.0 if left == 0 else (left / done_rate * 60 if done_rate > 0 else None)
            work.last_at, work.last_done, work.last_pages = now, work.done, work.pages
            unit_pages = "pages" if work.pages or work.unit in ("pages", "threads") else work.unit
            parts = [f"{work.title}: {per_minute:.0f} {unit_pages}/min",
                     f"{work.done} {work.unit} done, " + (f"{left} left" if left is not None else "total not known yet")]
            if left is not None:
                parts.append(f"ETA {format_duration(eta)} at the current rate" if eta is not None
                             else "ETA unknown (none finished in the last interval)")
            fields = {"stage": work.title, "pages_per_minute": round(per_minute, 1), "unit": work.unit,
                      "done": work.done, "left": left, "eta_seconds": None if eta is None else round(eta)}
        self._emit("stats", " · ".join(parts), "info", fields)


_UNITS = {"reparse": "pages", "import": "files", "export": "tables", "derive": "steps"}


def _unit_of(stage: str) -> str:
    """The unit a stage counts in: its first word names the job (``reparse``, ``import archives``...)."""
    return _UNITS.get(stage.split()[0] if stage else "", "items")
