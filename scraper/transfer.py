"""One request sent and its answer read, bounded in bytes and in time: ``Transfer``.

The body is read raw and decoded here (``scraper.encodings``): never more than
the byte cap, counted on the *decoded* bytes as they arrive.  Time on the
network ends at the fetch's deadline (``Budget``), or earlier when the answer
falls below the minimum throughput once the grace period has passed.  What
cannot be cured by trying again comes back as an ``Answer`` with an error (too
large, an encoding not decoded); what might be raises ``Retry``; a fetch out
of time raises ``GiveUp``; a bot challenge raises ``ChallengeDetected``.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from scraper.boundary import REDIRECT_STATUSES
from scraper.challenges import challenge_reason
from scraper.encodings import BodyDecoder, CorruptBody, OverCap, UnsupportedEncoding, encoding_of
from scraper.errors import ChallengeDetected
from scraper.results import Answer, Failure
from scraper.retries import GiveUp, Retry


@dataclass
class Budget:
    """One fetch's allowance of time on the network."""

    deadline: float
    spent: float = 0.0

    @property
    def left(self) -> float:
        return self.deadline - self.spent


@dataclass
class Progress:
    """How far one attempt got: raw body bytes received, and whether the answer's status line came."""

    received: int = 0
    answered: bool = False


def out_of_time(budget: Budget) -> GiveUp:
    return GiveUp(
        f"gave up after {budget.deadline:g} s on the network, the limit for one fetch", 0, {}, Failure.DEADLINE
    )


def too_large(status: int, headers: dict[str, str], cap: int, page_cap: int) -> Answer:
    what = "page" if cap == page_cap else "body"
    return Answer(status, headers, None, error=f"{what} larger than the {_mb(cap)} cap; not stored",
                  failure=Failure.TOO_LARGE)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


@dataclass
class Transfer:
    """One GET of ``url`` and its answer, the body decoded within ``cap`` decoded bytes.

    ``page_cap`` is the fetcher's usual cap (a body over it is a "page", over
    another a "body"); ``keep_head`` keeps what fitted of a body over the cap
    instead of refusing it (robots.txt).  ``notify`` hears the status of the
    answer, or None for a request that got no status line.
    """

    client: httpx.AsyncClient
    url: str
    headers: dict[str, str]
    cap: int
    page_cap: int
    keep_head: bool
    notify: Callable[[int | None], None]
    progress: Progress = field(default_factory=Progress)

    async def run(self, budget: Budget, *, grace: float, min_throughput: float) -> Answer:
        """The answer, within the time left in ``budget`` (which is charged for the time taken)."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        # Time on the network ends at the fetch's deadline, or earlier when the
        # answer falls below the minimum throughput: each byte received buys
        # 1/min_throughput seconds beyond the grace period.
        end_of_budget = began + budget.left
        progress = self.progress

        def cutoff() -> float:
            if min_throughput <= 0:
                return end_of_budget
            return min(end_of_budget, began + grace + progress.received / min_throughput)

        try:
            async with asyncio.timeout_at(cutoff()) as timer:
                return await self._exchange(lambda: timer.reschedule(cutoff()))
        except TimeoutError:
            self._unanswered()
            if loop.time() >= end_of_budget:
                raise out_of_time(budget) from None
            raise Retry(
                f"too slow: {progress.received:,} bytes in {loop.time() - began:.0f} s, under the minimum of "
                f"{min_throughput:g} bytes/s after the first {grace:g} s",
                failure=Failure.TOO_SLOW,
            ) from None
        except httpx.TimeoutException as exc:
            self._unanswered()
            raise Retry(f"timed out ({type(exc).__name__})") from exc
        except httpx.RemoteProtocolError as exc:
            self._unanswered()
            raise Retry(f"connection dropped or body truncated ({exc})") from exc
        except httpx.NetworkError as exc:
            self._unanswered()
            raise Retry(f"connection error ({type(exc).__name__}: {exc})") from exc
        finally:
            budget.spent += loop.time() - began

    def _unanswered(self) -> None:
        """Report a request that got no status line (one that did was reported already)."""
        if not self.progress.answered:
            self.notify(None)

    async def _exchange(self, progressed: Callable[[], None]) -> Answer:
        """The request and its answer; raises Retry/ChallengeDetected.  ``progressed`` hears of each chunk."""
        async with self.client.stream("GET", self.url, headers=self.headers) as resp:
            status = resp.status_code
            resp_headers = dict(resp.headers.items())
            self.progress.answered = True
            self.notify(status)
            reason = challenge_reason(status, resp_headers, None)
            if reason:
                raise ChallengeDetected(self.url, status, reason)
            if status in REDIRECT_STATUSES or status == 304:
                return Answer(status, resp_headers, None)
            raw_encoding = resp_headers.get("content-encoding")
            try:
                decoder = BodyDecoder(encoding_of(raw_encoding))
            except UnsupportedEncoding as exc:
                return Answer(status, resp_headers, None, error=f"{exc}; not stored", failure=Failure.ENCODING)
            declared = resp_headers.get("content-length")
            declared_len = int(declared) if declared and declared.isdigit() else None
            if (declared_len is not None and declared_len > self.cap and decoder.encoding == "identity"
                    and not self.keep_head):
                return too_large(status, resp_headers, self.cap, self.page_cap)
            try:
                body, within = await self._read(resp, decoder, progressed)
            except CorruptBody as exc:
                raise Retry(str(exc), status, resp_headers) from None
            if not within and not self.keep_head:
                return too_large(status, resp_headers, self.cap, self.page_cap)
            if within and declared_len is not None and self.progress.received != declared_len:
                raise Retry(f"truncated body ({self.progress.received} of {declared_len} bytes)", status, resp_headers)
            data = body.getvalue()
            reason = challenge_reason(status, resp_headers, data)
            if reason:
                raise ChallengeDetected(self.url, status, reason)
            return Answer(status, resp_headers, data, truncated=not within)

    async def _read(
        self, resp: httpx.Response, decoder: BodyDecoder, progressed: Callable[[], None]
    ) -> tuple[io.BytesIO, bool]:
        """The decoded body, and whether it fitted within the cap (if not: what fitted)."""
        body = io.BytesIO()
        cap = self.cap

        def take(decode: Callable[[int], bytes]) -> bool:
            """Keep what ``decode(room)`` gives; False once the cap is passed (what fitted is kept)."""
            try:
                body.write(decode(cap - body.tell()))
                return True
            except OverCap as over:
                body.write(over.head)
                return False

        within = True
        async for chunk in resp.aiter_raw():
            self.progress.received += len(chunk)
            progressed()
            within = take(functools.partial(decoder.feed, chunk))
            if not within:
                break
        else:
            within = take(decoder.finish)
        return body, within
