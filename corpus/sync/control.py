"""Why a sync is stopping early, in one place the fetch loop and the discovery producer both read."""

from __future__ import annotations

import asyncio

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
