"""The scraper's own exceptions: expected failures, each with a one-line message.

The scraper knows nothing of exit codes or command-line options.  A program
built on it (``corpus.cli``) decides how each failure is shown and with which
exit code; a notebook can catch them as they are.  Failures of a single URL are
not exceptions: ``Fetcher.fetch`` returns them as data (``FetchResult.error``
and ``FetchResult.failure``).  The hierarchy::

    ScraperError                   anything below; ``str(exc)`` is one line naming the problem
    ├── InvalidInput               a value handed to the scraper cannot be used (also a ValueError);
    │   │                          ``subject`` says which: "site", "request", "contact", "rate",
    │   │                          "dates", "authority", "user" or "query"
    │   └── TargetNotFound         the site answered 404 for an authority, user or query to walk
    ├── SiteError                  the site's answers do not let the work go on
    │   ├── RobotsUnavailable      robots.txt could not be read (5xx, unreachable, undecodable):
    │   │                          nothing is crawled blind
    │   ├── ListingUnreadable      the first page of a listing could not be read
    │   └── ChallengeDetected      the site answered with a bot challenge: stop asking, never evade
    └── Stopped                    ``stop()`` was called on the fetcher or its rate limiter:
                                   waits and transfers in flight were cancelled
"""

from __future__ import annotations

__all__ = [
    "ChallengeDetected",
    "InvalidInput",
    "ListingUnreadable",
    "RobotsUnavailable",
    "ScraperError",
    "SiteError",
    "Stopped",
    "TargetNotFound",
]


class ScraperError(Exception):
    """An expected failure of the scraper, with a one-line message that names the problem."""


class InvalidInput(ScraperError, ValueError):
    """A value given to the scraper (a site URL, a request reference, a rate ...) cannot be used.

    ``subject`` names the value in words a caller can map to its own option
    names: ``site``, ``request``, ``contact``, ``rate``, ``dates``,
    ``authority``, ``user`` or ``query``.
    """

    def __init__(self, message: str, *, subject: str):
        super().__init__(message)
        self.subject = subject


class TargetNotFound(InvalidInput):
    """The site answered 404 for the authority, user or query a walk was asked for."""

    def __init__(self, message: str, *, kind: str, value: str):
        super().__init__(message, subject=kind)
        self.kind = kind
        self.value = value


class SiteError(ScraperError):
    """What the site answered does not let the work go on."""


class RobotsUnavailable(SiteError):
    """robots.txt answered 5xx, could not be reached or could not be decoded: we do not crawl blind."""


class ListingUnreadable(SiteError):
    """The first page of a listing could not be read."""


class ChallengeDetected(SiteError):
    """The site answered with a bot challenge: stop asking (never retried, never evaded)."""

    def __init__(self, url: str, status: int, reason: str):
        self.url = url
        self.status = status
        self.reason = reason
        super().__init__(f"the site answered {url} with a bot challenge ({reason}, HTTP {status}); stopped asking")


class Stopped(ScraperError):
    """The fetcher (or its rate limiter) was stopped: the wait or transfer in hand was cancelled."""
