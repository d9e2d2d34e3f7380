"""The HTTP client: one polite connection per site, identified by a User-Agent.

Redirects are *not* followed here: ``scraper.fetch.Fetcher`` follows them
itself so it can refuse to leave the site.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from scraper import __version__
from scraper.errors import InvalidInput
from scraper.urls import is_local_site

TOOL_NAME = "foi-corpus"
TOOL_PURPOSE = "FOI research corpus builder"


def user_agent(contact: str | None) -> str:
    """The User-Agent string: tool name, version, purpose and the operator's contact.

    >>> user_agent("you@example.org")
    'foi-corpus/0.1.0 (FOI research corpus builder; contact: you@example.org)'
    """
    if contact is None or not contact.strip():
        return f"{TOOL_NAME}/{__version__} ({TOOL_PURPOSE}; no contact given)"
    contact = contact.strip()
    if any(ch in contact for ch in "\r\n\t()") or not contact.isprintable() or not contact.isascii():
        raise InvalidInput(
            f"contact {contact!r} cannot go in a User-Agent header; use a plain e-mail address or URL, e.g. you@example.org",
            subject="contact",
        )
    return f"{TOOL_NAME}/{__version__} ({TOOL_PURPOSE}; contact: {contact})"


def make_client(
    site: str,
    contact: str | None,
    *,
    timeout: float = 30.0,
    max_connections: int = 1,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for one site: HTTP/1.1, one connection, no automatic redirects, no cookies.

    ``transport`` lets tests plug in ``httpx.MockTransport``.
    """
    headers = {
        "User-Agent": user_agent(contact),
        "Accept-Encoding": "gzip",
        "Accept": "text/html,application/json;q=0.9,*/*;q=0.5",
    }
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    # The site's session and tracking cookies are never kept, so never sent back.
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(
        base_url=site,
        headers=headers,
        timeout=httpx.Timeout(timeout),
        limits=limits,
        follow_redirects=False,
        cookies=no_cookies,
        http1=True,
        http2=False,
        # A loopback site is never reached through a proxy from the environment.
        trust_env=not is_local_site(site),
        transport=transport,
    )
