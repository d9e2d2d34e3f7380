"""Archives of the sample site for the archive tests: WARCs recorded over HTTP, a WACZ, pywb and the IA stand-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support.archive_files import WarcBuilder, make_wacz, record_site, sample_paths

T_OLD = datetime(2024, 11, 5, 9, 30, 12, tzinfo=timezone.utc)
T_NEW = datetime(2025, 7, 14, 16, 2, 45, tzinfo=timezone.utc)

# A bot challenge in another style than the sample site's own (a 200 interstitial).
CHALLENGE_200 = (
    b"<!doctype html><html><head><title>Attention Required! | Cloudflare</title></head><body>"
    b"<div class='cf-wrapper'>Please enable cookies.</div>"
    b"<script src='/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1'></script></body></html>"
)
HIDDEN_403 = (
    b"<!DOCTYPE html><html><head><title>Request has been removed - WhatDoTheyKnow</title></head><body>"
    b"<div id='hidden_request'><h1>This request has been hidden</h1><p>It was removed for legal reasons."
    b"</p></div></body></html>"
)


@dataclass
class Recorded:
    site: str  # the site the captures are of
    paths: list[str]
    bodies: dict[str, bytes]  # absolute URL -> the live body when recorded
    old: Path  # every path, captured at T_OLD
    new: Path  # the first threads again, captured at T_NEW
    history: Path  # pages whose later captures say removed / challenge / hidden
    wacz: Path  # old + new, packed by py-wacz
    updated: list[str]  # URLs captured again at T_NEW
    removed_later: str  # 200 at T_OLD, 404 at T_NEW
    challenged_later: str  # 200 at T_OLD, a captured challenge page at T_NEW
    hidden_later: str  # 200 at T_OLD, a 403 "hidden" page (no challenge) at T_NEW


@pytest.fixture(scope="package")
def recorded(tmp_path_factory) -> Recorded:
    """The sample site recorded into WARCs (the site is stopped again: archives outlive sites)."""
    from corpus.sample_site import FakeSite, sample_corpus

    folder = tmp_path_factory.mktemp("archives")
    with FakeSite(sample_corpus()) as site:
        paths = sample_paths(site.url, site.corpus)
        record_site(site.url, paths, folder / "old.warc.gz", when=T_OLD)
        updated_paths = [p for p in paths if p.startswith("/request/")][:4]
        record_site(site.url, updated_paths, folder / "new.warc.gz", when=T_NEW)
        import httpx

        with httpx.Client(base_url=site.url) as client:
            bodies = {site.url + p: client.get(p).content for p in paths}
        base = site.url
    page = next(p for p in paths if p.startswith("/request/") and not p.endswith(".json"))
    sample_body = bodies[base + page]
    with WarcBuilder(folder / "history.warc.gz") as w:
        removed = f"{base}/request/removed_later"
        w.response(removed, sample_body, when=T_OLD)
        w.response(removed, b"<html><body>Not found</body></html>", when=T_NEW, status=404, reason="Not Found")
        challenged = f"{base}/request/challenged_later"
        w.response(challenged, sample_body, when=T_OLD)
        w.response(challenged, CHALLENGE_200, when=T_NEW)
        hidden = f"{base}/request/hidden_later"
        w.response(hidden, sample_body, when=T_OLD)
        w.response(hidden, HIDDEN_403, when=T_NEW, status=403, reason="Forbidden")
    wacz = make_wacz([folder / "old.warc.gz", folder / "new.warc.gz"], folder / "session.wacz")
    return Recorded(site=base, paths=paths, bodies=bodies, old=folder / "old.warc.gz", new=folder / "new.warc.gz",
                    history=folder / "history.warc.gz", wacz=wacz, updated=[base + p for p in updated_paths],
                    removed_later=removed, challenged_later=challenged, hidden_later=hidden)
