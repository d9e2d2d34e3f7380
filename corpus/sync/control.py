"""Why a sync is stopping early, in one place the fetch loop and the discovery producer both read."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from scraper.fetch import ChallengeDetected


class Control:
    """A run's stop state.  ``stopping`` is set by Ctrl-C / SIGTERM, a bot challenge, or a discovery error."""

    def __init__(self) -> None:
        self.interrupted = False
        self.blocked: ChallengeDetected | None = None
        self.error: BaseException | None = None  # raised by the discovery producer
        self.wake = asyncio.Event()  # new URLs were discovered, or the run is stopping

    @property
    def stopping(self) -> bool:
        return self.interrupted or self.blocked is not None or self.error is not None

    def interrupt(self) -> None:
        self.interrupted = True
        self.wake.set()

    def block(self, exc: ChallengeDetected) -> None:
        self.blocked = self.blocked or exc
        self.wake.set()

    def fail(self, exc: BaseException) -> None:
        self.error = exc
        self.wake.set()

    def install_signals(self, on_first: Callable[[], None]) -> list[signal.Signals]:
        """Ctrl-C / SIGTERM: the first interrupts (then ``on_first``), the second cancels the running task."""
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None

        def on_signal() -> None:
            if self.interrupted:
                main_task.cancel()  # second Ctrl-C: stop waiting, keep what is committed
                return
            self.interrupt()
            on_first()

        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)
        return installed

    @staticmethod
    def remove_signals(installed: list[signal.Signals]) -> None:
        loop = asyncio.get_running_loop()
        for sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
