"""Retrying one request: which failures are tried again, how often, and how long to wait between.

Transient failures (timeouts, dropped connections, truncated or damaged
bodies, answers below the minimum throughput, 429 and 500/502/503/504) raise
``Retry``; ``with_retries`` tries again after exponential back-off with full
jitter, or after the Retry-After the site sent.  A failure that ends the fetch
at once (a Retry-After beyond the limit, the fetch's deadline) raises ``GiveUp``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from scraper.politeness import parse_retry_after
from scraper.results import Answer, Failure

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Retry(Exception):
    """A transient failure: try again after back-off."""

    def __init__(self, reason: str, status: int = 0, headers: dict | None = None, retry_after: float | None = None,
                 failure: Failure = Failure.NETWORK):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = headers or {}
        self.retry_after = retry_after
        self.failure = failure


class GiveUp(Exception):
    """A failure that ends the fetch without further attempts."""

    def __init__(self, reason: str, status: int, headers: dict, failure: Failure, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = headers
        self.failure = failure
        self.retry_after = retry_after
        self.used = 0


@dataclass
class RetryPolicy:
    """How often one request is tried, and the back-off between tries."""

    max_attempts: int
    backoff_base: float
    backoff_max: float
    sleep: Callable[[float], Awaitable[None]]
    rng: random.Random

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (state.attempt_number - 1)))
        backoff = self.rng.uniform(0, ceiling)
        if isinstance(exc, Retry) and exc.retry_after is not None:
            return exc.retry_after
        return backoff

    async def run(self, once: Callable[[], Awaitable[Answer]]) -> tuple[Answer, int]:
        """The answer of the first call of ``once`` that does not raise ``Retry``, and how many attempts were made.

        When every attempt raised ``Retry`` the last one's reason comes back as the answer's error;
        a ``GiveUp`` goes on up with the attempts made in ``used``.
        """
        used = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self.wait,
            retry=retry_if_exception_type(Retry),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    used += 1
                    answer = await once()
            return answer, used
        except Retry as exc:
            return Answer(
                exc.status,
                exc.headers,
                None,
                error=f"{exc.reason} (gave up after {used} attempt{'s' if used != 1 else ''})",
                failure=exc.failure,
            ), used
        except GiveUp as exc:
            exc.used = used
            raise


def status_retry(
    status: int, headers: dict[str, str], *, retry_after_max: float, penalise: Callable[[float], None]
) -> Retry | GiveUp:
    """What a 429 or 5xx answer calls for: a retry (after its Retry-After, which ``penalise`` gets
    too), or giving up when the site asks for a wait beyond ``retry_after_max``."""
    retry_after = parse_retry_after(headers.get("retry-after"))
    if retry_after is not None:
        if retry_after > retry_after_max:
            when = datetime.now(timezone.utc) + timedelta(seconds=retry_after)
            return GiveUp(
                f"HTTP {status}: the site asked us to wait {retry_after:.0f} s (Retry-After); "
                f"retry after {when:%Y-%m-%d %H:%M} UTC",
                status,
                headers,
                Failure.HTTP,
                retry_after,
            )
        penalise(retry_after)
    return Retry(f"HTTP {status}", status, headers, retry_after, failure=Failure.HTTP)
