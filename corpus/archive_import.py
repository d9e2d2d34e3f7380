"""``corpus import`` of web-archive files: WARC (``.warc``, ``.warc.gz``) and WACZ (``.wacz``).

Whoever recorded the file — ArchiveWeb.page in a browser, Browsertrix,
Heritrix, ``wget --warc-file`` — every capture of the site's request pages,
request JSON, listings and attachments in it is loaded through the same
pipeline as a sync (``corpus.pipeline``, ``corpus.writer``):

* a thread is built from the **latest** usable capture of its page, with the
  capture of its JSON nearest in time to it; the thread is "as of" that capture
  (``requests.as_of``), and comes from the file (``requests.provenance = 'file'``,
  ``provenance_name`` = the file);
* each page is stored under the site's own URL with its capture time, the file
  it came from and its record id; **earlier captures** of the same URL go to
  ``page_history``;
* listing pages and attachments are kept as pages (kinds ``listing`` and
  ``attachment``), their earlier captures in ``page_history`` too;
* when the latest capture of a request page says it was removed (404/410, or a
  403 that is not a bot challenge), no older capture of it is loaded;
* a request the live site reported removed or hidden is never filled from the
  file (the writer's rule: ``withheld``);
* bad records (truncated, damaged, challenge pages, unresolved revisits,
  non-200 answers) are skipped, counted by reason, and named in the summary.

Grouping keeps the bodies of one file's request pages and JSON in memory until
the file is read (about what the pages weigh, uncompressed); listings and
attachments are written as they come.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from corpus.pagestore import StoredPage, make_page
from corpus.pipeline import RawPage, RawThread, ThreadOutcome, outcome_of
from scraper.archive.captures import Capture, Skipped, SkipReason, UrlKind, canonical_url, slug_of
from scraper.archive.warc import ArchiveReader

_PAGE_KIND = {UrlKind.LISTING: "listing", UrlKind.ATTACHMENT: "attachment"}
PAGES_PER_BATCH = 200


@dataclass
class ThreadCaptures:
    """Every usable capture of one thread's page and JSON in a file, and whether its latest says removed."""

    slug: str
    pages: list[Capture] = field(default_factory=list)
    json: list[Capture] = field(default_factory=list)
    gone: Skipped | None = None  # the latest 404/410/hidden capture of the page, when there is one

    def latest(self) -> tuple[Capture | None, Capture | None, list[Capture]]:
        """The page to build from (None when removed or absent), its JSON, and the earlier captures."""
        pages = sorted(self.pages, key=lambda c: c.captured_at)
        page = pages[-1] if pages else None
        if page is not None and self.gone is not None and self.gone.captured_at is not None \
                and self.gone.captured_at >= page.captured_at:
            return None, None, []  # removed at its latest capture: nothing of it is built or kept
        if page is None:
            return None, None, list(self.json)
        data = min(self.json, key=lambda c: abs((c.captured_at - page.captured_at).total_seconds()), default=None)
        rest = pages[:-1] + [c for c in self.json if c is not data]
        return page, data, rest


@dataclass
class ArchiveFileSummary:
    """What the archive files of one import held."""

    files: int = 0
    captures: Counter[str] = field(default_factory=Counter)  # by URL kind
    skipped: Counter[str] = field(default_factory=Counter)  # by SkipReason
    skipped_examples: list[tuple[str, str]] = field(default_factory=list)  # (where, why), the first few
    threads: int = 0  # threads built from captures
    removed_in_archive: int = 0  # threads whose latest capture says removed: not loaded
    earlier_captures: int = 0  # captures kept as history
    oldest: datetime | None = None
    newest: datetime | None = None

    @property
    def damaged(self) -> int:
        """Records lost to a file cut short or damaged (not the ordinary contents of a session)."""
        return sum(self.skipped[str(r)] for r in (SkipReason.TRUNCATED, SkipReason.DAMAGED, SkipReason.UNREADABLE))

    def seen(self, when: datetime) -> None:
        self.oldest = when if self.oldest is None or when < self.oldest else self.oldest
        self.newest = when if self.newest is None or when > self.newest else self.newest

    def describe(self) -> str:
        kinds = ", ".join(f"{n} {k.replace('_', ' ')}s" for k, n in sorted(self.captures.items()))
        text = (f"From {self.files} archive file{'s' if self.files != 1 else ''}: {kinds or 'no captures of the site'}"
                f"; {self.threads} threads built from their latest capture")
        if self.oldest and self.newest:
            text += f" (captured {self.oldest:%Y-%m-%d} to {self.newest:%Y-%m-%d})"
        if self.earlier_captures:
            text += f", {self.earlier_captures} earlier captures kept as history"
        if self.removed_in_archive:
            text += f", {self.removed_in_archive} removed at their latest capture (not loaded)"
        text += "."
        if self.skipped:
            reasons = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(self.skipped.items()))
            examples = "; ".join(f"{w} ({d})" for w, d in self.skipped_examples[:3])
            text += f" Skipped {sum(self.skipped.values())} records: {reasons} — e.g. {examples}."
        return text

    def as_json(self) -> dict:
        return {"files": self.files, "captures": dict(self.captures), "skipped": dict(self.skipped),
                "threads": self.threads, "removed_in_archive": self.removed_in_archive,
                "earlier_captures": self.earlier_captures,
                "oldest_capture": self.oldest.isoformat() if self.oldest else None,
                "newest_capture": self.newest.isoformat() if self.newest else None}


def _page(site: str, capture: Capture, kind: str, source: str) -> StoredPage:
    url = canonical_url(site, capture.url, capture.kind)
    return make_page(url=url, site=site, kind=kind, status=capture.status, final_url=url, headers=capture.headers,
                     body=capture.body, fetched_at=datetime.now(timezone.utc), origin="file",
                     captured_at=capture.captured_at, capture_source=_where(source, capture.member),
                     record_id=capture.record_id)


def _where(source: str, member: str | None) -> str:
    return f"{source}#{member}" if member else source


def _raw_page(site: str, capture: Capture, source: str) -> RawPage:
    return RawPage(url=canonical_url(site, capture.url, capture.kind), body=capture.body, status=capture.status,
                   headers=capture.headers, captured_at=capture.captured_at,
                   capture_source=_where(source, capture.member), record_id=capture.record_id)


def read_file(path: Path, site: str, summary: ArchiveFileSummary, keep_pages,
              threads: dict[str, ThreadCaptures]) -> None:
    """Read one archive file: listings and attachments go to ``keep_pages`` in batches; threads are grouped
    into ``threads`` (shared by the files of one import, so the latest capture wins across them)."""
    reader = ArchiveReader(path, site=site)
    pending: list[StoredPage] = []
    summary.files += 1
    for item in reader.captures():
        if isinstance(item, Skipped):
            summary.skipped[str(item.reason)] += 1
            if len(summary.skipped_examples) < 10:
                where = item.url or f"{path.name}{'#' + item.member if item.member else ''}"
                summary.skipped_examples.append((where, item.detail))
            if item.reason is SkipReason.GONE and item.kind is UrlKind.REQUEST_PAGE and item.url:
                group = threads.setdefault(slug_of(item.url) or "", ThreadCaptures(slug_of(item.url) or ""))
                if group.gone is None or (item.captured_at and group.gone.captured_at
                                          and item.captured_at > group.gone.captured_at):
                    group.gone = item
            continue
        summary.captures[str(item.kind)] += 1
        summary.seen(item.captured_at)
        if item.kind in (UrlKind.REQUEST_PAGE, UrlKind.REQUEST_JSON):
            slug = slug_of(item.url)
            if slug:
                group = threads.setdefault(slug, ThreadCaptures(slug))
                (group.pages if item.kind is UrlKind.REQUEST_PAGE else group.json).append(item)
            continue
        pending.append(_page(site, item, _PAGE_KIND[item.kind], str(path)))
        if len(pending) >= PAGES_PER_BATCH:
            keep_pages(pending)
            pending = []
    if pending:
        keep_pages(pending)


def thread_outcomes(site: str, threads: dict[str, ThreadCaptures], summary: ArchiveFileSummary) -> list[ThreadOutcome]:
    """Outcomes of the threads of one file, each carrying its earlier captures (stored as history) too."""
    outcomes: list[ThreadOutcome] = []
    now = datetime.now(timezone.utc)
    for slug, group in sorted(threads.items()):
        page, data, rest = group.latest()
        if page is None:
            summary.removed_in_archive += group.gone is not None
            continue
        raw = RawThread(url=canonical_url(site, page.url, page.kind), site=site, origin="archive", fetched_at=now,
                        html=_raw_page(site, page, page.source), url_title=slug, source="import",
                        provenance="file", provenance_name=page.source)
        if data is not None:
            raw.json = _raw_page(site, data, data.source)
        outcome = outcome_of(raw)
        # Earlier captures go first, so the page store keeps the latest in pages and these in page_history;
        # they share the thread's fate (a withheld thread stores none of them).
        earlier = [_page(site, c, "request_html" if c.kind is UrlKind.REQUEST_PAGE else "request_json", c.source)
                   for c in sorted(rest, key=lambda c: c.captured_at)]
        outcome.pages = earlier + outcome.pages
        summary.earlier_captures += len(earlier)
        outcomes.append(outcome)
        summary.threads += 1
    return outcomes
