"""What a long-running command tells the person watching it.

* On a terminal (and without ``--quiet``) a live rich display: threads
  discovered / fetched / failed, requests made, the current rate and an ETA.
* Log lines go to stderr, as plain text or (``--log-format json``) as one JSON
  object per line, for machines.
* Never anything on stdout but the final summary, so it can be piped.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TextIO


class RateMeter:
    """Requests per second over a sliding window of recent request starts."""

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


class Reporter:
    """Progress display plus log lines for one run.

    The run keeps its own counters and calls :meth:`show` with what to draw;
    :meth:`request_made` feeds the rate meter.  ``Reporter.silent()`` says
    nothing at all (library use).
    """

    def __init__(self, *, quiet: bool = False, log_format: str = "text", stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.log_format = log_format
        self.meter = RateMeter()
        self._progress: Any = None
        self._task: Any = None
        self._silent = False
        interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.show_bar = interactive and not quiet and log_format == "text"

    @classmethod
    def silent(cls) -> Reporter:
        """A reporter that writes nothing (for library calls; the CLI passes its own)."""
        rep = cls(quiet=True)
        rep._silent = True
        rep.show_bar = False
        return rep

    # ------------------------------------------------------------------ logging

    def log(self, event: str, message: str, *, level: str = "info", **fields: Any) -> None:
        """One log line on stderr.  Quiet mode keeps warnings and errors only."""
        if self._silent or (self.quiet and level == "info"):
            return
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
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.stream, flush=True)

    # ------------------------------------------------------------------ display

    def start(self, title: str) -> None:
        if not self.show_bar:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        console = Console(file=self.stream)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} threads"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(title, total=1, detail="")

    def request_made(self) -> None:
        self.meter.tick()

    def show(self, done: int, total: int, detail: str) -> None:
        """Redraw the bar: ``done`` of ``total`` threads, then ``detail`` and the current request rate."""
        if self._progress is None or self._task is None:
            return
        self._progress.update(self._task, completed=done, total=max(total, done, 1),
                              detail=f"{detail} · {self.meter.rate():.2f} req/s")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
