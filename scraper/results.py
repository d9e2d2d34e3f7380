"""What a fetch comes to: ``FetchResult`` for the caller, ``Failure`` naming why it ended without
an answer, and ``Answer``, one request's answer before redirects are followed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Failure(StrEnum):
    """Why a fetch ended without an answer (``FetchResult.failure``)."""

    REFUSED = "refused"  # off the site, plain http on an https site, or disallowed by robots.txt: nothing sent
    REDIRECT = "redirect"  # a redirect not followed: off-site, a downgrade, disallowed, a loop, no Location
    TOO_LARGE = "too_large"  # the decoded body passed the byte cap: nothing kept
    ENCODING = "encoding"  # a Content-Encoding not decoded (stacked, br, unknown): nothing kept
    TOO_SLOW = "too_slow"  # under the minimum throughput, on every attempt
    DEADLINE = "deadline"  # the fetch's time on the network ran out
    HTTP = "http"  # 429 or 5xx on every attempt, or a Retry-After beyond the limit
    NETWORK = "network"  # timeouts, dropped connections, truncated or damaged bodies on every attempt


@dataclass
class FetchResult:
    """What happened to one URL.  ``status`` is 0 when no response was received."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    not_modified: bool = False
    attempts: int = 0
    error: str | None = None  # final failure reason after retries (None: we have an answer)
    challenge: bool = False
    elapsed: float = 0.0
    retry_after: float | None = None  # seconds the site asked us to wait, when it did
    failure: Failure | None = None  # the kind of ``error``
    truncated: bool = False  # only for robots.txt: the body is its first ROBOTS_MAX_BYTES + 1 bytes

    @property
    def ok(self) -> bool:
        """A 2xx answer with a body, or a 304."""
        return self.error is None and (self.not_modified or 200 <= self.status < 300)


@dataclass
class Answer:
    """One request's answer (a redirect not yet followed), or why it is not one (``error``)."""

    status: int
    headers: dict[str, str]
    body: bytes | None
    error: str | None = None
    failure: Failure | None = None
    truncated: bool = False
