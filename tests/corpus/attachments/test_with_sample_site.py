"""sync_attachments against the bundled sample site: every attachment it serves, through the real Fetcher."""

from __future__ import annotations

import asyncio
import functools
import re
from urllib.parse import quote

import pytest

from corpus.attachments.sync import sync_attachments
from corpus.db import batch, connect

fetch_mod = pytest.importorskip("scraper.fetch")
politeness = pytest.importorskip("scraper.politeness")
http = pytest.importorskip("scraper.http")


async def _run(site, db):
    async with http.make_client(site.url, "tests@example.org") as client:
        limiter = politeness.RateLimiter(1000.0)
        robots, _ = await fetch_mod.load_robots(client, site.url, limiter)
        fetcher = fetch_mod.Fetcher(client, robots, limiter, site=site.url, max_attempts=2, backoff_base=0.01)
        return await sync_attachments(fetcher, db, site.url, con_factory=functools.partial(batch, db))


def test_every_sample_attachment(fake_site, tmp_path):
    db = tmp_path / "foi.duckdb"
    con = connect(db)
    expected = {}
    for req in fake_site.corpus.requests:
        con.execute("INSERT INTO requests (site, request_key, url_title) VALUES (?, ?, ?)", [fake_site.url, f"id:{req.id}", req.url_title])
        for msg in req.messages:
            for att in msg.attachments:
                url = f"/request/{quote(req.url_title)}/response/{msg.id}/attach/{att.part}/{quote(att.filename)}?cookie_passthrough=1"
                # what the page shows: hidden requests/messages mark their attachments hidden
                hidden = req.prominence in ("hidden", "requester_only") or msg.prominence != "normal"
                con.execute(
                    "INSERT INTO attachments (site, request_key, incoming_message_id, part, filename, download_url, erased, hidden) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [fake_site.url, f"id:{req.id}", msg.id, att.part, att.filename, url, att.erased, hidden],
                )
                if not att.erased and not hidden:
                    expected[(msg.id, att.part)] = att
    con.close()
    assert expected, "the sample corpus has attachments"
    fake_site.clear_hits()
    stats = asyncio.run(_run(fake_site, db))
    con = connect(db, read_only=True)
    got = {(m, p): (s, t, r) for m, p, s, t, r in con.execute(
        "SELECT incoming_message_id, part, status, text, reason FROM attachment_texts").fetchall()}
    con.close()
    assert set(got) == set(expected)
    for key, att in expected.items():
        status, text, reason = got[key]
        assert status == "ok", (att.filename, reason)
        if att.text:
            # CSV cells come back tab-separated: compare the words, not the punctuation
            words = re.findall(r"\w+", att.text)[:8]
            assert " ".join(words) in " ".join(re.findall(r"\w+", text)), att.filename
    paths = [h.path for h in fake_site.hits_for(r".*")]
    assert not any("/attach/html/" in p for p in paths)
    assert sum("/attach/" in p for p in paths) == len(expected)
    assert stats.statuses == {"ok": len(expected)}
