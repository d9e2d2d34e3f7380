"""The site's boundary: which URLs a fetch may send, and which redirects it follows.

A URL is sent only when it is on the site's host (as read both here and by
httpx), keeps to https on an https site, and robots.txt allows it; a redirect
is followed only to such a URL, and only so many times.  Pure functions of the
site, its current robots.txt rules and the URL.
"""

from __future__ import annotations

import httpx

from scraper.politeness import Robots
from scraper.results import Answer
from scraper.urls import absolute_url, downgrades, same_host

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def refusal(site: str, robots: Robots, url: str) -> str | None:
    """Why ``url`` may not be sent at all, or None."""
    if downgrades(site, url):
        return f"plain http URL on the https site {site}; refused"
    if not on_site(site, url):
        return f"not on {site}; refused"
    if not robots.allowed(url):
        return "disallowed by robots.txt"
    return None


def redirect_target(
    site: str, robots: Robots, current: str, answer: Answer, *, last_hop: bool, max_redirects: int
) -> tuple[str, str | None]:
    """Where a redirect from ``current`` points, and why it is not followed (None: follow it)."""
    location = answer.headers.get("location")
    if not location:
        return current, f"redirect ({answer.status}) without a Location header"
    target = absolute_url(current, location)
    if downgrades(site, target):
        return target, f"redirect from https to plain http ({target}); not followed"
    if not on_site(site, target):
        return target, f"redirect to another host ({target}); not followed"
    if not robots.allowed(target):
        return target, f"redirect to {target}, which is disallowed by robots.txt"
    if last_hop:
        return target, f"too many redirects (stopped after {max_redirects}; a redirect loop?)"
    return target, None


def on_site(site: str, url: str) -> bool:
    """On the site's host, as read by the URL parser here *and* by the one httpx sends with.

    The two readings could differ on a strange URL (a backslash, odd
    userinfo); the URL is used only when both name the site.
    """
    if not same_host(site, url):
        return False
    try:
        as_sent = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return same_host(site, str(as_sent))
