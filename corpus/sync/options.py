"""What one ``corpus sync`` was asked to do: checked once, before anything is written."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from corpus import DEFAULT_SITE
from corpus.errors import UsageError
from scraper.archive.cdx import ArchiveEndpoint, parse_endpoint
from scraper.archive.wayback import archive_rate as archive_rate_of
from scraper.http import user_agent
from scraper.politeness import DEFAULT_RATE, effective_rate
from scraper.urls import is_local_site, normalise_site, request_ref

ATTACHMENT_MODES = ("none", "text", "files")
SOURCES = ("site", "archive")


def _clean_slugs(values: Iterable[str], what: str) -> list[str]:
    out = []
    for v in values or ():
        v = str(v).strip().strip("/")
        if not v or "/" in v or "?" in v or "#" in v or " " in v:
            raise UsageError(f"{what} {v!r} is not a slug; give the name from the site's URL, e.g. /{what.lstrip('-')}/<slug>")
        out.append(v)
    return list(dict.fromkeys(out))


def _env_float(name: str) -> float | None:
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"${name}={value!r} is not a number; unset it or give seconds, e.g. 0.01") from None


@dataclass(frozen=True)
class SyncOptions:
    """The options of one sync, validated.  Build it with :meth:`build`."""

    db_path: Path
    site: str
    authorities: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    slugs: tuple[str, ...] = ()  # --request values given as slugs or URLs
    ids: tuple[int, ...] = ()  # --request values given as numeric ids
    query: str | None = None
    since: date | None = None
    until: date | None = None
    limit: int | None = None
    rate: float = DEFAULT_RATE
    contact: str | None = None
    refresh: bool = False
    fetch_authorities: bool = False
    attachments: str = "none"
    fetch_options: dict[str, Any] = field(default_factory=dict)  # for scraper.fetch.Fetcher (tests: backoff_base...)
    warnings: tuple[str, ...] = ()  # e.g. the rate was capped
    archive: ArchiveEndpoint | None = None  # --archive: a Wayback-compatible archive to fall back on
    archive_rate: float | None = None  # --archive-rate (None: the archive default)
    source: str = "site"  # --source: 'site' (the live site, the archive behind it) or 'archive' (no live site)

    @classmethod
    def build(
        cls, *, db_path: str | Path, site: str | None = DEFAULT_SITE, authorities: Iterable[str] = (),
        users: Iterable[str] = (), requests: Iterable[str | int] = (), query: str | None = None,
        since: date | None = None, until: date | None = None, limit: int | None = None, rate: float = DEFAULT_RATE,
        contact: str | None = None, refresh: bool = False, fetch_authorities: bool = False,
        attachments: str = "none", fetch_options: dict[str, Any] | None = None,
        archive: str | None = None, archive_rate: float | None = None, source: str = "site",
    ) -> SyncOptions:
        """Check every option; raises ``UsageError`` (nothing written) naming the bad one."""
        site = normalise_site(site or DEFAULT_SITE)
        if since and until and since > until:
            raise UsageError(f"--since {since} is after --until {until}; swap them or drop one")
        if limit is not None and limit < 1:
            raise UsageError(f"--limit {limit} must be at least 1")
        if attachments not in ATTACHMENT_MODES:
            raise UsageError(f"--attachments must be one of {', '.join(ATTACHMENT_MODES)}, not {attachments!r}")
        if source not in SOURCES:
            raise UsageError(f"--source must be one of {', '.join(SOURCES)}, not {source!r}")
        endpoint = parse_endpoint(archive) if archive else None
        if source == "archive" and endpoint is None:
            raise UsageError("--source archive needs --archive URL (e.g. --archive https://web.archive.org)")
        if endpoint is not None:
            archive_rate = archive_rate_of(endpoint.host_site, archive_rate)[0]
        rate, warning = effective_rate(site, rate)
        contact = (contact or "").strip() or None
        remote = not is_local_site(site) if source == "site" else False
        if endpoint is not None and not is_local_site(endpoint.host_site):
            remote = True
        if remote and not contact:
            raise UsageError(
                f"syncing {site} needs a contact address for the User-Agent, so the site can reach you: "
                "pass --contact you@example.org or set CORPUS_CONTACT"
            )
        user_agent(contact)  # validates the contact
        slugs: list[str] = []
        ids: list[int] = []
        for ref in requests or ():
            slug, rid = request_ref(site, ref)
            if slug:
                slugs.append(slug)
            elif rid is not None:
                ids.append(rid)
        options = dict(fetch_options or {})
        backoff = _env_float("CORPUS_BACKOFF_BASE")
        if backoff is not None:
            options.setdefault("backoff_base", backoff)
        return cls(
            db_path=Path(db_path), site=site, authorities=tuple(_clean_slugs(authorities, "--authority")),
            users=tuple(_clean_slugs(users, "--user")), slugs=tuple(dict.fromkeys(slugs)),
            ids=tuple(dict.fromkeys(ids)), query=(query or "").strip() or None, since=since, until=until,
            limit=limit, rate=rate, contact=contact, refresh=bool(refresh), fetch_authorities=bool(fetch_authorities),
            attachments=attachments, fetch_options=options, warnings=(warning,) if warning else (),
            archive=endpoint, archive_rate=archive_rate, source=source,
        )

    @property
    def has_targets(self) -> bool:
        return bool(self.authorities or self.users or self.slugs or self.ids or self.query)

    def command_line(self) -> str:
        """The command, for ``sync_runs`` (never the contact address)."""
        words = ["corpus", "sync", "--site", self.site]
        for flag, values in (("--authority", self.authorities), ("--user", self.users), ("--request", self.slugs),
                             ("--request", tuple(str(i) for i in self.ids))):
            for v in values:
                words += [flag, v]
        for flag, value in (("--query", self.query), ("--since", self.since), ("--until", self.until),
                            ("--limit", self.limit)):
            if value:
                words += [flag, str(value)]
        words += ["--rate", f"{self.rate:g}"]
        if self.refresh:
            words.append("--refresh")
        if self.fetch_authorities:
            words.append("--authorities")
        if self.attachments != "none":
            words += ["--attachments", self.attachments]
        if self.archive is not None:
            words += ["--archive", self.archive.base, "--archive-rate", f"{self.archive_rate:g}"]
        if self.source != "site":
            words += ["--source", self.source]
        return " ".join(words)
