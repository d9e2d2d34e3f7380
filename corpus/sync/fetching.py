"""The fetch side of a sync: queued threads in hand, and one thread's pages fetched into a raw thread.

``corpus.sync.loop`` drives the loop; this module knows what is taken from
the frontier and not yet written back, the stored validators for a
conditional GET, and how ``/request/<slug>`` and its ``.json`` are asked for.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from corpus.frontier import QueuedUrl
from corpus.pipeline import RawPage, RawThread
from corpus.writer import Take, WriteResult
from scraper.fetch import Fetcher, FetchResult
from scraper.urls import request_json_url, url_title_from_href

TAKE_SIZE = 100  # queued URLs taken from the frontier at a time


@dataclass
class InHand:
    """Queued URLs taken from the frontier and not yet written back (they stay queued in the database)."""

    site: str
    limit: int | None  # --limit: new threads fetched at most
    work: deque[QueuedUrl] = field(default_factory=deque)
    claimed: set[str] = field(default_factory=set)
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    new_fetched: int = 0

    @property
    def limit_reached(self) -> bool:
        return self.limit is not None and self.new_fetched >= self.limit

    def low(self) -> bool:
        return len(self.work) < TAKE_SIZE // 2

    def take(self) -> Take:
        """What to ask the frontier for, leaving out URLs in hand (fetched ones stay in hand until written)."""
        return Take(self.site, TAKE_SIZE, exclude=set(self.claimed), known_only=self.limit_reached)

    def receive(self, result: WriteResult) -> None:
        self.work.extend(result.taken)
        self.claimed.update(q.url for q in result.taken)
        self.validators.update(result.validators)

    def next(self) -> QueuedUrl | None:
        """The next URL to fetch; threads never fetched before are skipped once --limit new ones were."""
        while self.work:
            q = self.work.popleft()
            if q.known:
                return q
            if not self.limit_reached:
                self.new_fetched += 1
                return q
            self.claimed.discard(q.url)
        return None

    def release(self, urls: list[str]) -> None:
        """These URLs are written back (or left queued in the database): no longer in hand."""
        self.claimed.difference_update(urls)

    def drop_unfetched(self) -> None:
        self.claimed.difference_update(q.url for q in self.work)
        self.work.clear()


def _page(res: FetchResult) -> RawPage | None:
    return RawPage(url=res.final_url, body=res.body, status=res.status, headers=res.headers) if res.status else None


async def fetch_html(fetcher: Fetcher, q: QueuedUrl, site: str, validators: tuple[str | None, str | None]) -> RawThread:
    """GET ``/request/<slug>``, conditional on the stored validators; may raise ``ChallengeDetected``."""
    etag, last_modified = validators
    res = await fetcher.fetch(q.url, etag=etag, last_modified=last_modified)
    return RawThread(url=q.url, site=site, origin="site", fetched_at=datetime.now(timezone.utc), html=_page(res),
                     url_title=q.url_title, signature=q.listing_signature, not_modified=res.not_modified,
                     error=res.error)


def wants_json(raw: RawThread) -> bool:
    return raw.error is None and raw.html is not None and raw.html.status == 200 and raw.html.body is not None


async def fetch_json(fetcher: Fetcher, raw: RawThread) -> None:
    """GET the thread's ``.json`` (after a redirect, under the slug the page has now); kept only when it is a 200."""
    assert raw.html is not None
    slug = url_title_from_href(raw.html.url) or raw.url_title or ""
    res = await fetcher.fetch(request_json_url(raw.site, slug))
    if res.error is None and res.status == 200 and res.body is not None:
        raw.json = _page(res)
