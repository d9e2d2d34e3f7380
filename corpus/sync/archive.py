"""The web archive a sync falls back on (``--archive``), and what the live site refused this run.

A bot challenge is the live site saying no.  Without ``--archive`` the sync
stops there (exit 3).  With it, the kind of page that was challenged — thread
pages (``/request/<slug>`` and its ``.json``), attachments, or listings — is
not asked of the live site again in this run; each such URL is looked up in
the archive instead (its latest usable capture, raw), and the run carries on.
``--source archive`` asks the live site for nothing at all.

What a thread from the archive becomes:

* a capture of its page (and of its JSON, when the archive has one) → a raw
  thread of origin ``archive``, parsed like any other, "as of" the capture;
* the archive's latest capture says the page was removed (404/410, or a 403
  that is not a challenge) → the request is flagged removed, nothing loaded;
* no usable capture → the thread stays ``blocked`` in the frontier for a later run.

A live page is never mixed with an archived JSON: when only the JSON is
challenged, the thread is loaded from its live page alone (as when the JSON is
missing), since a JSON captured at another time may not match the page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from datetime import datetime, timezone

from corpus.frontier import QueuedUrl
from corpus.pipeline import Failure, OutcomeKind, RawPage, RawThread, ThreadOutcome
from corpus.progress import Reporter
from scraper.archive.captures import Capture, Skipped, SkipReason, canonical_url, slug_of
from scraper.archive.cdx import ArchiveEndpoint
from scraper.archive.wayback import ArchiveUnavailable, WaybackArchive
from scraper.errors import ChallengeDetected
from scraper.fetch import Failure as FetchFailure
from scraper.fetch import Fetcher, FetchResult
from scraper.urls import request_json_url

# Kinds of page a challenge refuses for the rest of the run.
THREADS, ATTACHMENTS, LISTINGS = "threads", "attachments", "listings"


def page_class(url: str) -> str:
    """Which kind of page a URL is, for deciding what a challenge refused."""
    path = url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url.lstrip("/")
    if path.startswith("request/") and "/attach/" in path:
        return ATTACHMENTS
    if path.startswith("request/"):
        return THREADS
    return LISTINGS


class ArchiveFallback:
    """One sync's archive: its client, what the live site refused, and what the archive supplied."""

    def __init__(self, endpoint: ArchiveEndpoint, *, site: str, contact: str | None, rate: float | None,
                 only: bool, reporter: Reporter, on_request: Callable[[str, str, int | None], None] | None = None,
                 fetch_options: dict | None = None):
        self.endpoint = endpoint
        self.site = site
        self.only = only
        self.rep = reporter
        self.archive = WaybackArchive(endpoint, site=site, contact=contact, rate=rate, on_request=on_request,
                                      fetcher_options=fetch_options)
        self.refused: dict[str, ChallengeDetected | None] = {}  # kind of page -> the challenge that refused it
        self.counts: Counter[str] = Counter()
        self.oldest: datetime | None = None
        self.newest: datetime | None = None
        self.unavailable: str | None = None
        self.withheld: Callable[[str], bool] = lambda url: False  # requests the live site reported removed
        self.served: dict[str, Capture] = {}  # pages ``fetch`` served from the archive, until claimed
        self.listings_newest: datetime | None = None  # the latest capture of a listing page read

    # ------------------------------------------------------------------ life

    async def open(self) -> None:
        """Read the archive's robots.txt; ``ArchiveUnavailable`` when the archive cannot be used."""
        if self.archive.rate_warning:
            self.rep.log("archive_rate_capped", self.archive.rate_warning, level="warning")
        await self.archive.open()
        self.rep.log("archive", f"archive to fall back on: {self.endpoint.name} ({self.endpoint.dialect} CDX API, "
                     f"{self.archive.rate * 60:g} requests a minute)")

    async def close(self) -> None:
        await self.archive.close()

    def stop(self, reason: str = "stopped") -> None:
        self.archive.stop(reason)

    # ------------------------------------------------------------------ what the live site refused

    def refuses(self, kind: str) -> bool:
        """Whether the live site is not to be asked for this kind of page any more this run."""
        return self.only or kind in self.refused

    def refused_by_site(self, kind: str, challenge: ChallengeDetected) -> None:
        if kind not in self.refused:
            self.refused[kind] = challenge
            self.rep.log("archive_fallback",
                         f"the site answered {challenge.url} with a bot challenge ({challenge.reason}); {kind} are "
                         f"not asked of it again this run, but looked up in {self.endpoint.name}", level="warning")

    def usable(self) -> bool:
        return self.unavailable is None

    def _given_up(self, exc: ArchiveUnavailable) -> None:
        if self.unavailable is None:
            self.unavailable = str(exc)
            self.rep.log("archive_unavailable", str(exc), level="error")

    def _seen(self, capture: Capture) -> None:
        when = capture.captured_at
        self.oldest = when if self.oldest is None or when < self.oldest else self.oldest
        self.newest = when if self.newest is None or when > self.newest else self.newest

    # ------------------------------------------------------------------ threads

    async def thread(self, q: QueuedUrl) -> RawThread | ThreadOutcome:
        """A queued thread from the archive: a raw thread to parse, or its outcome (removed, or not archived)."""
        if self.withheld(q.url):
            self.counts["withheld"] += 1
            return self._outcome(q, "withheld", Failure(
                "withheld", "the live site reported this request removed or hidden: not looked up in the archive"))
        if not self.usable():
            return self._outcome(q, "failed", Failure("archive", self.unavailable or ""))
        try:
            page = await self.archive.lookup(q.url)
            if isinstance(page, Skipped):
                return self._not_loaded(page, q)
            slug = slug_of(page.url) or q.url_title or ""
            data = await self.archive.lookup(request_json_url(self.site, slug))
        except ArchiveUnavailable as exc:
            self._given_up(exc)
            return self._outcome(q, "failed", Failure("archive", str(exc)))
        self._seen(page)
        self.counts["threads"] += 1
        raw = RawThread(url=q.url, site=self.site, origin="archive", fetched_at=datetime.now(timezone.utc),
                        html=self._raw_page(page), url_title=q.url_title, signature=q.listing_signature,
                        source="archive", provenance="archive", provenance_name=self.endpoint.name, queued=True)
        if isinstance(data, Capture):
            raw.json = self._raw_page(data)
        else:
            self.counts["threads_without_json"] += 1
        return raw

    def _raw_page(self, capture: Capture) -> RawPage:
        return RawPage(url=canonical_url(self.site, capture.url, capture.kind), body=capture.body,
                       status=capture.status, headers=capture.headers, captured_at=capture.captured_at,
                       capture_source=capture.source, record_id=capture.record_id)

    def _outcome(self, q: QueuedUrl, kind: OutcomeKind, failure: Failure) -> ThreadOutcome:
        """The outcome of a queued thread the archive did not load."""
        return ThreadOutcome(kind=kind, url=q.url, site=self.site, origin="archive", url_title=q.url_title,
                             signature=q.listing_signature, failure=failure, provenance="archive", queued=True)

    def _not_loaded(self, skipped: Skipped, q: QueuedUrl) -> ThreadOutcome:
        if skipped.reason is SkipReason.GONE:
            self.counts["removed"] += 1
            return self._outcome(q, "removed", Failure("gone", skipped.detail))
        self.counts[f"not_loaded:{skipped.reason}"] += 1
        self.counts["not_loaded"] += 1
        return self._outcome(q, "failed", Failure("archive", skipped.detail))

    # ------------------------------------------------------------------ attachments (and any other page)

    async def fetch(self, url: str, *, max_bytes: int | None = None) -> FetchResult:
        """A page from the archive, as a ``FetchResult`` the live fetcher's callers can read."""
        if not self.usable():
            return _failed(url, f"not fetched: the site refused it and {self.unavailable}")
        try:
            got = await self.archive.lookup(url)
        except ArchiveUnavailable as exc:
            self._given_up(exc)
            return _failed(url, f"not fetched: the site refused it and {exc}")
        if isinstance(got, Skipped):
            self.counts[f"{page_class(url)}_not_archived"] += 1
            if got.reason is SkipReason.GONE:
                return FetchResult(url=url, final_url=url, status=404, body=b"", attempts=1)
            return _failed(url, f"the site challenged us and the archive has no usable copy ({got.detail})")
        if max_bytes is not None and len(got.body) > max_bytes:
            return FetchResult(url=url, final_url=url, status=got.status, headers=got.headers, attempts=1,
                               error=f"body larger than the {max_bytes // (1024 * 1024)} MB cap; not stored",
                               failure=FetchFailure.TOO_LARGE)
        self._seen(got)
        self.counts[page_class(url)] += 1
        self.served[url] = got
        if page_class(url) == LISTINGS:
            self.listings_newest = max(filter(None, (self.listings_newest, got.captured_at)))
        return FetchResult(url=url, final_url=url, status=got.status, headers=got.headers, body=got.body, attempts=1)

    # ------------------------------------------------------------------ the summary

    def describe(self) -> str:
        """One sentence for the summary: how much came from the archive, and how old it is."""
        parts = [f"{self.counts['threads']} threads came from the archive {self.endpoint.name}"]
        if self.oldest and self.newest:
            parts.append(f"captured {self.oldest:%Y-%m-%d} to {self.newest:%Y-%m-%d}")
        if self.counts["attachments"]:
            parts.append(f"{self.counts['attachments']} attachments")
        if self.counts["not_loaded"]:
            parts.append(f"{self.counts['not_loaded']} not in it (left queued as blocked)")
        if self.counts["removed"]:
            parts.append(f"{self.counts['removed']} removed according to it (not loaded)")
        if self.counts["withheld"]:
            parts.append(f"{self.counts['withheld']} not looked up (the live site reported them removed)")
        if self.counts["listings"] or self.counts["listings_not_archived"]:
            found = (f"discovery read {self.counts['listings']} listing pages from it"
                     f" ({self.counts['listings_not_archived']} not archived, so the requests only they list were "
                     "not found)")
            if self.listings_newest is not None:
                found += f"; requests made after {self.listings_newest:%Y-%m-%d}, its latest listing capture, " \
                         "cannot be found from it"
            parts.append(found)
        refused = ", ".join(sorted(self.refused)) or "nothing"
        head = "live site not asked (--source archive)" if self.only else f"the live site refused: {refused}"
        text = f"Archive: {head}; " + ", ".join(parts) + "."
        if self.unavailable:
            text += f" {self.unavailable}."
        return text

    def as_json(self) -> dict:
        return {"archive": self.endpoint.name, "only": self.only, "refused": sorted(self.refused),
                "counts": dict(self.counts), "oldest_capture": self.oldest.isoformat() if self.oldest else None,
                "newest_capture": self.newest.isoformat() if self.newest else None, "unavailable": self.unavailable}


def _failed(url: str, why: str) -> FetchResult:
    return FetchResult(url=url, final_url=url, status=0, attempts=0, error=why, failure=FetchFailure.HTTP)


class FallbackFetcher:
    """The live fetcher, with the archive behind it: what a bot challenge refuses is fetched from the archive.

    Used for the attachment step (and anything else that takes a fetcher).
    ``withheld(url)`` says a URL belongs to a request the live site reported
    removed or hidden: such a URL is never looked up in the archive.
    """

    def __init__(self, live: Fetcher | None, fallback: ArchiveFallback, withheld: Callable[[str], bool]):
        self.live = live
        self.fallback = fallback
        self.withheld = withheld

    def __getattr__(self, name: str):
        return getattr(self.live, name)

    def provenance_of(self, url: str) -> dict:
        """``make_page`` arguments saying a page just fetched came from the archive (none for a live page)."""
        capture = self.fallback.served.pop(url, None)
        if capture is None:
            return {}
        return {"origin": "archive", "captured_at": capture.captured_at, "capture_source": capture.source,
                "record_id": capture.record_id}

    async def fetch(self, url: str, **kw) -> FetchResult:
        kind = page_class(url)
        if self.live is not None and not self.fallback.refuses(kind):
            try:
                return await self.live.fetch(url, **kw)
            except ChallengeDetected as exc:
                self.fallback.refused_by_site(kind, exc)
        absolute = url if "://" in url else f"{self.fallback.site}{url}"
        if self.withheld(absolute) or self.fallback.withheld(absolute):
            return _failed(absolute, "the live site reported this request removed or hidden; "
                           "not looked up in the archive")
        return await self.fallback.fetch(absolute, max_bytes=kw.get("max_bytes"))


def removed_slugs_check(slugs: Collection[str]) -> Callable[[str], bool]:
    """``withheld(url)`` for a set of request slugs the live site reported removed or hidden."""
    gone = set(slugs)
    return lambda url: (slug_of(url) or "") in gone


__all__ = ["ArchiveFallback", "FallbackFetcher", "page_class", "removed_slugs_check"]
