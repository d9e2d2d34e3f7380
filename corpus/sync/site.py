"""Before a sync asks for anything else: the site's robots.txt, and whether it is an Alaveteli site at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from corpus import pagestore
from corpus.errors import UsageError
from corpus.pagestore import StoredPage
from corpus.progress import Reporter
from scraper.fetch import Fetcher, load_robots
from scraper.politeness import RateLimiter, Robots

_HOME_MARKERS = (b"alaveteli", b'href="/request/', b'href="/body/', b"/list/successful", b"make a request")


def looks_alaveteli(robots_txt: str) -> bool:
    """Whether a robots.txt names the paths every Alaveteli site has."""
    low = robots_txt.lower()
    return "/request/" in low and ("/body/" in low or "/annotate/" in low or "/track/" in low)


async def open_site(
    client: httpx.AsyncClient, site: str, limiter: RateLimiter, reporter: Reporter,
    on_request: Callable[[str, str, int | None], None], fetch_options: dict[str, Any],
) -> tuple[Robots, StoredPage]:
    """Read robots.txt (its Crawl-delay goes to ``limiter``) and check the site; returns the rules and the page to keep.

    Raises ``RobotsUnavailable`` when the rules cannot be known, and
    ``UsageError`` when neither robots.txt nor the home page looks like Alaveteli.
    """
    robots, res = await load_robots(client, site, limiter, on_request=on_request, **fetch_options)
    if robots.crawl_delay:
        reporter.log("crawl_delay", f"robots.txt asks for {robots.crawl_delay:g} s between requests; honouring it")
    if not looks_alaveteli(robots.text):
        probe = Fetcher(client, Robots.allow_all(site), limiter, site=site, on_request=on_request,
                        **{**fetch_options, "max_attempts": min(3, fetch_options.get("max_attempts", 3))})
        home = await probe.fetch("/")
        body = (home.body or b"")[:500_000].lower()
        if home.error or home.status != 200 or sum(m in body for m in _HOME_MARKERS) < 2:
            raise UsageError(
                f"{site} does not look like an Alaveteli site (no request/body pages in its robots.txt or "
                "home page); check --site, e.g. https://www.whatdotheyknow.com"
            )
    page = pagestore.make_page(url=res.final_url, site=site, kind="robots", status=res.status, final_url=res.final_url,
                               headers=res.headers, body=res.body if res.status == 200 else None)
    return robots, page
