"""sync_attachments against a loopback site: real downloads through the real Fetcher."""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from corpus.attachments.store import files_root
from corpus.attachments.sync import AttachmentOptions, sync_attachments
from corpus.db import batch, connect

from . import samples
from .loopback import Route, Site, serve
from .treerss import REPORT_MAXRSS, run_measured

fetch_mod = pytest.importorskip("scraper.fetch")
politeness = pytest.importorskip("scraper.politeness")
http = pytest.importorskip("scraper.http")

SLUG = "refused_request"
PDF_NAME = "FOI 0193 response.pdf"


def attach_path(slug: str, incoming: int, part: int, name: str) -> str:
    return f"/request/{slug}/response/{incoming}/attach/{part}/{quote(name)}"


@pytest.fixture
def site():
    s = Site()
    server = serve(s)
    yield s
    server.shutdown()
    server.server_close()


def make_db(tmp_path: Path, site: str, rows: list[tuple]) -> Path:
    """A corpus with one request and the given (incoming_id, part, filename, download_url, erased) attachments."""
    db = tmp_path / "foi.duckdb"
    con = connect(db)
    con.execute(
        "INSERT INTO requests (site, request_key, url_title, title, law) VALUES (?, 'id:42', ?, 'Costs', 'foi')",
        [site, SLUG],
    )
    for incoming, part, name, url, erased in rows:
        con.execute(
            "INSERT INTO attachments (site, request_key, incoming_message_id, part, filename, download_url, erased, hidden) "
            "VALUES (?, 'id:42', ?, ?, ?, ?, ?, false)",
            [site, incoming, part, name, url, erased],
        )
    con.close()
    return db


async def _run(site_url: str, db: Path, options: AttachmentOptions, outcomes=None):
    robots = politeness.Robots.parse(site_url, (await _robots(site_url)))
    limiter = politeness.RateLimiter(1000.0)
    async with http.make_client(site_url, "tests@example.org") as client:
        fetcher = fetch_mod.Fetcher(client, robots, limiter, site=site_url, max_attempts=2, backoff_base=0.01)
        return await sync_attachments(
            fetcher,
            db,
            site_url,
            options,
            request_keys=["id:42"],
            con_factory=functools.partial(batch, db),
            on_outcome=None if outcomes is None else outcomes.append,
        )


async def _robots(site_url: str) -> str:
    from .loopback import ROBOTS

    return ROBOTS


def run(site_url, db, mode, outcomes=None, **kw):
    return asyncio.run(_run(site_url, db, AttachmentOptions(mode=mode, **kw), outcomes))


def rows(db: Path):
    con = connect(db, read_only=True)
    try:
        cur = con.execute("SELECT * FROM attachment_texts ORDER BY incoming_message_id, part")
        names = [d[0] for d in cur.description]
        return {(r[names.index("incoming_message_id")], r[names.index("part")]): dict(zip(names, r)) for r in cur.fetchall()}
    finally:
        con.close()


def test_text_mode_stores_text_failures_and_pending(site, tmp_path):
    pdf = samples.pdf_with_text()
    site.routes.update(
        {
            attach_path(SLUG, 100, 2, PDF_NAME): Route(body=pdf, content_type="application/pdf"),
            attach_path(SLUG, 100, 3, "decision.docx"): Route(body=samples.docx_letter(), content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            attach_path(SLUG, 100, 4, "stats.xlsx"): Route(body=samples.xlsx_table([["Refused", "section 12"]])),
            attach_path(SLUG, 101, 2, "scan.pdf"): Route(body=samples.scanned_pdf(1), content_type="application/pdf"),
            attach_path(SLUG, 101, 3, "locked.pdf"): Route(body=samples.encrypted_pdf(), content_type="application/pdf"),
            attach_path(SLUG, 101, 4, "broken.pdf"): Route(body=b"%PDF-1.4\nnot really", content_type="application/pdf"),
            # still being masked: the site redirects to its wait page
            attach_path(SLUG, 102, 2, "late.pdf"): Route(status=302, location="/attachments/BAh7CEkiCG/wait?referer=%2Frequest%2Fx"),
            "/attachments/BAh7CEkiCG/wait": Route(body=b"<!DOCTYPE html><html><body>Please wait</body></html>", content_type="text/html; charset=utf-8"),
        }
    )
    db = make_db(
        tmp_path,
        site.base,
        [
            (100, 2, PDF_NAME, attach_path(SLUG, 100, 2, PDF_NAME) + "?cookie_passthrough=1", False),
            (100, 3, "decision.docx", attach_path(SLUG, 100, 3, "decision.docx"), False),
            (100, 4, "stats.xlsx", None, False),  # no link kept: the URL is rebuilt from the slug
            (101, 2, "scan.pdf", attach_path(SLUG, 101, 2, "scan.pdf"), False),
            (101, 3, "locked.pdf", attach_path(SLUG, 101, 3, "locked.pdf"), False),
            (101, 4, "broken.pdf", attach_path(SLUG, 101, 4, "broken.pdf"), False),
            (102, 2, "late.pdf", attach_path(SLUG, 102, 2, "late.pdf"), False),
            (102, 3, "gone.pdf", attach_path(SLUG, 102, 3, "gone.pdf"), True),  # erased: never asked for
            # off-site, HTML view, and robots-disallowed links are never requested
            (103, 2, "evil.pdf", "http://other.example/request/x/response/103/attach/2/evil.pdf", False),
            (103, 3, "view.pdf", f"/request/{SLUG}/response/103/attach/html/3/view.pdf.html", False),
            (103, 4, "secret.pdf", attach_path("forbidden_request", 103, 4, "secret.pdf"), False),
        ],
    )
    outcomes = []
    stats = run(site.base, db, "text", outcomes, batch_size=3)
    got = rows(db)

    assert got[(100, 2)]["status"] == "ok"
    assert got[(100, 2)]["method"].startswith("pypdf ") and got[(100, 2)]["library_version"] == got[(100, 2)]["method"].split()[-1]
    assert "exceed the appropriate limit" in " ".join(got[(100, 2)]["text"].split())
    assert got[(100, 2)]["pages"] == 1
    assert got[(100, 2)]["characters"] == len(got[(100, 2)]["text"])
    assert got[(100, 2)]["source_url"] == site.base + attach_path(SLUG, 100, 2, PDF_NAME) + "?cookie_passthrough=1"
    assert got[(100, 2)]["size"] == len(pdf)
    import hashlib

    assert got[(100, 2)]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert got[(100, 2)]["stored_path"] is None  # text mode keeps no files
    assert got[(100, 3)]["status"] == "ok" and "section 40(2)" in got[(100, 3)]["text"]
    assert got[(100, 4)]["status"] == "ok" and got[(100, 4)]["text"] == "# Requests\nRefused\tsection 12"

    assert got[(101, 2)]["status"] == "no_text_layer" and got[(101, 2)]["pages"] == 1
    assert got[(101, 3)]["status"] == "encrypted" and "password" in got[(101, 3)]["reason"]
    assert got[(101, 4)]["status"] == "corrupt" and got[(101, 4)]["reason"]

    assert got[(102, 2)]["status"] == "pending"
    assert "please wait" in got[(102, 2)]["reason"]
    assert got[(102, 2)]["text"] == "" and got[(102, 2)]["sha256"] is None
    assert (102, 3) not in got

    assert got[(103, 2)]["status"] == "failed" and "not requested" in got[(103, 2)]["reason"]
    assert got[(103, 3)]["status"] == "failed"
    assert got[(103, 4)]["status"] == "failed" and "robots.txt" in got[(103, 4)]["reason"]

    asked = [p for p in site.log if p != "/robots.txt"]
    assert not any("/attach/html/" in p or "forbidden_request" in p or "/response/102/attach/3/" in p for p in asked)
    assert len(asked) == 8  # seven attachments + the wait page they redirect to
    assert stats.statuses == {"ok": 3, "no_text_layer": 1, "encrypted": 1, "corrupt": 1, "pending": 1, "failed": 3}
    assert stats.considered == 10 == len(outcomes)
    assert {(o.incoming_message_id, o.part): o.status for o in outcomes}[(101, 3)] == "encrypted"

    # Second run: final rows are not asked again; pending (now masked) and failed are retried.
    site.log.clear()
    site.routes[attach_path(SLUG, 102, 2, "late.pdf")] = Route(body=samples.pdf_with_text(["Refused under section 43(2)."]), content_type="application/pdf")
    stats2 = run(site.base, db, "text")
    asked = [p for p in site.log if p != "/robots.txt"]
    assert asked == [attach_path(SLUG, 102, 2, "late.pdf")]
    got = rows(db)
    assert got[(102, 2)]["status"] == "ok" and "section 43(2)" in got[(102, 2)]["text"]
    assert got[(102, 2)]["attempts"] == 2
    assert got[(103, 4)]["attempts"] == 2
    assert stats2.considered == 4


def test_files_mode_keeps_originals_content_addressed(site, tmp_path):
    pdf = samples.pdf_with_text()
    evil_names = ["../../etc/passwd", "/etc/shadow", "..\\..\\boot.ini"]
    for part, _name in enumerate(evil_names, start=2):
        site.routes[f"/request/{SLUG}/response/200/attach/{part}/x.pdf"] = Route(body=pdf, content_type="application/pdf")
    site.routes[attach_path(SLUG, 201, 2, "other.docx")] = Route(body=samples.docx_letter())
    db = make_db(
        tmp_path,
        site.base,
        [(200, part, name, f"/request/{SLUG}/response/200/attach/{part}/x.pdf", False) for part, name in enumerate(evil_names, start=2)]
        + [(201, 2, "other.docx", attach_path(SLUG, 201, 2, "other.docx"), False)],
    )
    run(site.base, db, "files")
    got = rows(db)
    root = files_root(db)
    import hashlib

    sha = hashlib.sha256(pdf).hexdigest()
    stored = {got[(200, p)]["stored_path"] for p in (2, 3, 4)}
    assert len(stored) == 1  # one copy for three identical files
    (path,) = stored
    assert path.startswith(f"{sha[:2]}/{sha}-")
    assert "/" not in path.split("/", 1)[1] and ".." not in path
    assert (root / path).read_bytes() == pdf
    every = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(every) == 2
    assert all(p.resolve().is_relative_to(root.resolve()) for p in every)
    assert not (tmp_path / "etc").exists()
    assert got[(201, 2)]["stored_path"].endswith("-other.docx")


def test_files_mode_size_cap_keeps_text_but_not_file(site, tmp_path):
    site.routes[attach_path(SLUG, 300, 2, "big.pdf")] = Route(body=samples.pdf_with_text(), content_type="application/pdf")
    db = make_db(tmp_path, site.base, [(300, 2, "big.pdf", attach_path(SLUG, 300, 2, "big.pdf"), False)])
    run(site.base, db, "files", keep_max_bytes=100)
    row = rows(db)[(300, 2)]
    assert row["status"] == "ok" and row["stored_path"] is None
    assert "file not kept" in row["reason"]
    assert not files_root(db).exists() or not any(files_root(db).rglob("*-big.pdf"))


def test_bad_mode_is_a_usage_error():
    from corpus.errors import UsageError

    with pytest.raises(UsageError, match="--attachments must be one of none, text, files"):
        AttachmentOptions(mode="pdf")


SYNC_IN_A_PROCESS = (
    """
import asyncio, functools, json, sys, time
from corpus.attachments.sync import AttachmentOptions, sync_attachments
from corpus.db import batch
from scraper import fetch, http, politeness
from tests.corpus.attachments.loopback import ROBOTS

site, db = sys.argv[1], sys.argv[2]

async def main():
    robots = politeness.Robots.parse(site, ROBOTS)
    async with http.make_client(site, "tests@example.org") as client:
        fetcher = fetch.Fetcher(client, robots, politeness.RateLimiter(1000.0), site=site, max_attempts=1)
        return await sync_attachments(fetcher, db, site, AttachmentOptions(), con_factory=functools.partial(batch, db))

started = time.monotonic()
stats = asyncio.run(main())
RESULT = {"statuses": stats.statuses, "seconds": time.monotonic() - started}
"""
    + REPORT_MAXRSS
)


def test_hostile_attachments_through_a_sync_stay_bounded(site, tmp_path):
    from . import bombs

    served = {
        "decision.docx": (bombs.docx_bomb(), "too_large"),
        "reply.odt": (bombs.odt_space_bomb(), "ok"),
        "stats.xlsx": (bombs.xlsx_dimension_bomb(), "ok"),
        "padded.xlsx": (bombs.xlsx_dimension_bomb(far_cell="XFD1048576"), "ok"),
        "response.pdf": (bombs.pdf_shared_stream_bomb(), "too_large"),
        "zeros.zip": (bombs.ratio_zip_bomb(), "too_large"),
        "nested.zip": (bombs.nested_zip_bomb(), "too_large"),
        "overlap.zip": (bombs.overlapping_zip_bomb(), "too_large"),
        "lying.zip": (bombs.lying_sizes_zip(), "too_large"),
        "letter.pdf": (samples.pdf_with_text(), "ok"),  # an honest file after them all
    }
    attachments = []
    for part, (name, (data, _)) in enumerate(served.items(), start=2):
        site.routes[attach_path(SLUG, 500, part, name)] = Route(body=data)
        attachments.append((500, part, name, attach_path(SLUG, 500, part, name), False))
    db = make_db(tmp_path, site.base, attachments)
    got = run_measured(SYNC_IN_A_PROCESS, site.base, str(db))
    print(f"hostile sync: {got.out['seconds']:.1f} s, tree peak {got.tree_mb:.0f} MB, largest process {got.process_mb:.0f} MB")
    assert got.tree_mb < 400 and got.process_mb < 400, (got.tree_mb, got.process_mb)
    assert got.out["seconds"] < 90
    stored = rows(db)
    for part, (name, (_, status)) in enumerate(served.items(), start=2):
        row = stored[(500, part)]
        assert row["status"] == status, (name, row["reason"])
        assert status == "ok" or row["reason"], name
    assert "section 40(2)" in stored[(500, 11)]["text"]
    assert "cut at 1,000,000 cells" in stored[(500, 5)]["reason"]


ocr_needed = pytest.mark.skipif(__import__("corpus.attachments.ocr", fromlist=["x"]).unavailable() is not None,
                                reason="OCR (Tesseract and the ocr extra) is not installed here")


@ocr_needed
def test_scans_are_asked_for_again_once_ocr_is_installed(site, tmp_path, monkeypatch):
    letter = samples.scan_of(samples.pdf_with_text())
    site.routes[attach_path(SLUG, 600, 2, "scan.pdf")] = Route(body=letter, content_type="application/pdf")
    db = make_db(tmp_path, site.base, [(600, 2, "scan.pdf", attach_path(SLUG, 600, 2, "scan.pdf"), False)])

    real_path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on it
    run(site.base, db, "text")
    first = rows(db)[(600, 2)]
    assert first["status"] == "no_text_layer" and first["text_source"] is None
    assert "apt install tesseract-ocr" in first["reason"]
    run(site.base, db, "text")
    assert rows(db)[(600, 2)]["attempts"] == 1  # final while OCR is missing: not fetched again

    monkeypatch.setenv("PATH", real_path)
    site.log.clear()
    run(site.base, db, "text")
    second = rows(db)[(600, 2)]
    assert [p for p in site.log if p != "/robots.txt"] == [attach_path(SLUG, 600, 2, "scan.pdf")]
    assert second["status"] == "ok" and second["text_source"] == "ocr" and second["attempts"] == 2
    assert 0 < second["ocr_confidence"] <= 100
    assert "section 40(2)" in second["text"]
    site.log.clear()
    run(site.base, db, "text")
    assert [p for p in site.log if p != "/robots.txt"] == []
