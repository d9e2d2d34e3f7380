"""Stopping waits and transfers at once: ``StopSwitch``.

A ``StopSwitch`` guards the sections of code that may wait a long time (a
rate-limiter slot, a back-off sleep, an HTTP transfer).  ``stop()`` cancels
every task inside a guarded section, and each guard turns that cancellation
into ``scraper.errors.Stopped``; a guard entered after ``stop()`` raises
``Stopped`` at once.  A cancellation that did not come from the switch (the
caller cancelling its own task) passes through unchanged.

``stop()`` must be called on the event loop's thread, e.g. from a handler
installed with ``loop.add_signal_handler``, or through
``loop.call_soon_threadsafe(switch.stop)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from scraper.errors import Stopped


class StopSwitch:
    """One switch per site: thrown once, it stays thrown."""

    def __init__(self) -> None:
        self._stopped = False
        self._reason = "stopped"
        self._inside: dict[asyncio.Task, int] = {}  # task -> guarded sections it is in
        self._cancelled: set[asyncio.Task] = set()  # tasks this switch cancelled, not yet told

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self, reason: str = "stopped") -> None:
        """Cancel every task inside a guarded section; later guards raise ``Stopped`` at once."""
        if self._stopped:
            return
        self._stopped = True
        self._reason = reason
        for task in list(self._inside):
            if not task.done():
                task.cancel(msg=f"StopSwitch: {reason}")
                self._cancelled.add(task)

    def _error(self) -> Stopped:
        return Stopped(f"{self._reason}: the wait or transfer in hand was cancelled")

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """A section that ``stop()`` may cancel; must be entered from inside a task."""
        if self._stopped:
            raise self._error()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("StopSwitch.guard() needs a running asyncio task")
        self._inside[task] = self._inside.get(task, 0) + 1
        try:
            yield
        except asyncio.CancelledError:
            if task in self._cancelled:
                self._cancelled.discard(task)
                # Only the switch's own cancellation becomes Stopped; if the caller
                # cancelled the task as well, the cancellation goes on.
                if task.uncancel() == 0:
                    raise self._error() from None
            raise
        finally:
            left = self._inside[task] - 1
            if left:
                self._inside[task] = left
            else:
                del self._inside[task]
