"""Reading WARC and WACZ files: the sample site's pages come back whole; bad records are skipped and counted."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from collections import Counter
from datetime import datetime, timezone

import pytest

from scraper.archive.captures import Capture, Skipped, SkipReason, UrlKind, classify_url
from scraper.archive.warc import ArchiveReader, is_archive_file, read_warc
from tests.scraper.archive.conftest import CHALLENGE_200, T_NEW, T_OLD
from tests.support.archive_files import WarcBuilder, cut_file, record_site

SITE = "https://www.whatdotheyknow.com"
WHEN = datetime(2023, 2, 1, 8, 0, tzinfo=timezone.utc)
PAGE = b"<html><head><title>Bus lane fines - a Freedom of Information request</title></head><body>x</body></html>"


def read(path, site=SITE, **kw):
    reader = ArchiveReader(path, site=site, **kw)
    items = list(reader.captures())
    return reader, [i for i in items if isinstance(i, Capture)], [i for i in items if isinstance(i, Skipped)]


def test_archive_suffixes():
    assert all(is_archive_file(n) for n in ("a.warc", "a.WARC.GZ", "session.wacz"))
    assert not any(is_archive_file(n) for n in ("a.html", "a.gz", "a.warc.json"))


def test_a_recorded_site_comes_back_whole(recorded):
    reader, captures, skipped = read(recorded.old, site=recorded.site)
    assert not skipped
    by_url = {c.url: c for c in captures}
    assert set(by_url) == set(recorded.bodies)
    for url, body in recorded.bodies.items():
        c = by_url[url]
        assert c.body == body, url
        assert c.captured_at == T_OLD and c.status == 200
        assert c.kind is classify_url(recorded.site, url)
        assert c.source == str(recorded.old) and c.member is None
        assert c.record_id and c.record_id.startswith("<urn:uuid:")
    kinds = Counter(c.kind for c in captures)
    assert kinds[UrlKind.REQUEST_PAGE] == kinds[UrlKind.REQUEST_JSON] > 0
    assert kinds[UrlKind.ATTACHMENT] > 0 and kinds[UrlKind.LISTING] > 0
    # the request records a browser writes beside each response are passed over, and counted
    assert reader.stats["other_record"] == len(captures)
    assert reader.stats[f"capture:{UrlKind.REQUEST_PAGE}"] == kinds[UrlKind.REQUEST_PAGE]


def test_the_wacz_holds_the_same_captures_as_its_warcs(recorded):
    _, from_wacz, skipped = read(recorded.wacz, site=recorded.site)
    assert not skipped
    _, old, _ = read(recorded.old, site=recorded.site)
    _, new, _ = read(recorded.new, site=recorded.site)

    def key(c):
        return c.url, c.captured_at, hashlib.sha256(c.body).hexdigest()

    assert sorted(map(key, from_wacz)) == sorted(map(key, old + new))
    assert {c.member for c in from_wacz} == {"archive/old.warc.gz", "archive/new.warc.gz"}
    assert {c.source for c in from_wacz} == {str(recorded.wacz)}
    with zipfile.ZipFile(recorded.wacz) as z:  # made by py-wacz, as ArchiveWeb.page would lay it out
        assert {"datapackage.json", "pages/pages.jsonl"} <= set(z.namelist())
        assert any(n.startswith("indexes/") for n in z.namelist())


def test_plain_and_gzipped_warcs_read_alike(tmp_path):
    for name in ("a.warc", "a.warc.gz"):
        with WarcBuilder(tmp_path / name) as w:
            w.response(f"{SITE}/request/bus_lane_fines", PAGE, when=WHEN)
            w.response(f"{SITE}/request/bus_lane_fines.json", b'{"id": 1}', when=WHEN,
                       headers=[("Content-Type", "application/json")])
        _, captures, skipped = read(tmp_path / name)
        assert [(c.kind, c.body) for c in captures] == [(UrlKind.REQUEST_PAGE, PAGE), (UrlKind.REQUEST_JSON, b'{"id": 1}')]
        assert not skipped


def test_encoded_bodies_are_decoded(tmp_path):
    chunked = b"5\r\n<html\r\n6\r\n>hi</h\r\n5\r\ntml>\n\r\n0\r\n\r\n"
    with WarcBuilder(tmp_path / "enc.warc.gz") as w:
        w.response(f"{SITE}/request/a", gzip.compress(PAGE), when=WHEN,
                   headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
        w.response(f"{SITE}/request/b", chunked, when=WHEN,
                   headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")])
    _, captures, skipped = read(tmp_path / "enc.warc.gz")
    assert not skipped
    assert [c.body for c in captures] == [PAGE, b"<html>hi</html>\n"]


def bad_archive(path):
    """One archive with every kind of bad record, and good ones between them."""
    with WarcBuilder(path) as w:
        good = w.response(f"{SITE}/request/bus_lane_fines", PAGE, when=WHEN)
        w.response(f"{SITE}/request/school_meals", CHALLENGE_200, when=WHEN)
        w.response(f"{SITE}/request/school_meals.json", b"<html><title>Just a moment...</title></html>",
                   when=WHEN, status=403, reason="Forbidden", headers=[("cf-mitigated", "challenge")])
        w.response(f"{SITE}/request/withdrawn_thread", b"<h1>Not found</h1>", when=WHEN, status=404,
                   reason="Not Found")
        w.response(f"{SITE}/request/hidden_thread", b"<p id='hidden_request'>Hidden</p>", when=WHEN, status=403,
                   reason="Forbidden")
        w.response(f"{SITE}/request/123456", b"", when=WHEN, status=301, reason="Moved",
                   headers=[("Location", f"{SITE}/request/bus_lane_fines")])
        w.response(f"{SITE}/assets/logo.png", b"\x89PNG....", when=WHEN, headers=[("Content-Type", "image/png")])
        w.response("https://fonts.example/font.woff2", b"wOF2", when=WHEN)
        w.revisit(f"{SITE}/request/bus_lane_fines", of=good, when=T_NEW)
        from tests.support.archive_files import Recorded

        elsewhere = Recorded(f"{SITE}/request/parking_permits", 200, T_OLD, "<urn:uuid:x>", "sha1:AAAABBBBCCCCDDDD")
        w.revisit(f"{SITE}/request/parking_permits", of=elsewhere, when=T_NEW)
        w.response(f"{SITE}/request/last_one", PAGE * 200, when=WHEN, with_request=False)
    return good


@pytest.mark.parametrize("name", ["bad.warc", "bad.warc.gz"])
def test_bad_records_are_skipped_with_a_reason(tmp_path, name):
    path = tmp_path / name
    bad_archive(path)
    cut_file(path, 30)  # the file ends inside the last record's body
    reader, captures, skipped = read(path)
    reasons = Counter(s.reason for s in skipped)
    assert reasons == {
        SkipReason.CHALLENGE: 2,
        SkipReason.GONE: 2,
        SkipReason.STATUS: 1,
        SkipReason.REVISIT_UNRESOLVED: 1,
        SkipReason.TRUNCATED: 1,
    }, [(s.reason, s.detail) for s in skipped]
    assert all(s.detail and "\n" not in s.detail for s in skipped)
    truncated = next(s for s in skipped if s.reason is SkipReason.TRUNCATED)
    assert truncated.url == f"{SITE}/request/last_one"
    # the good page, and the revisit resolved against it (same body, its own capture time)
    assert [(c.url, c.captured_at) for c in captures] == [
        (f"{SITE}/request/bus_lane_fines", WHEN), (f"{SITE}/request/bus_lane_fines", T_NEW),
    ]
    assert captures[1].body == PAGE and captures[1].revisit_of == captures[0].record_id
    assert reader.stats["other_url"] == 2
    assert reader.stats["skipped:challenge"] == 2


def test_a_file_cut_inside_a_record_header(tmp_path):
    path = tmp_path / "cut.warc.gz"
    with WarcBuilder(path) as w:
        w.response(f"{SITE}/request/a", PAGE, when=WHEN)
        w.response(f"{SITE}/request/b", PAGE * 50, when=WHEN, with_request=False)
    size = path.stat().st_size
    data = path.read_bytes()
    last_member = data.rindex(b"\x1f\x8b\x08")  # where the last gzip member (record b) starts
    path.write_bytes(data[: last_member + 12])
    _, captures, skipped = read(path)
    assert [c.url for c in captures] == [f"{SITE}/request/a"]
    assert [s.reason for s in skipped] == [SkipReason.TRUNCATED]
    assert "cut short" in skipped[0].detail and size > path.stat().st_size


def test_a_damaged_record_is_skipped(tmp_path):
    path = tmp_path / "damaged.warc"
    with WarcBuilder(path) as w:
        w.response(f"{SITE}/request/a", PAGE, when=WHEN, with_request=False)
        w.response(f"{SITE}/request/b", PAGE, when=WHEN, with_request=False)
    data = path.read_bytes()
    at = data.index(b"Bus lane")  # flip a byte in the first body, keeping every length
    path.write_bytes(data[:at] + b"X" + data[at + 1:])
    _, captures, skipped = read(path)
    assert [c.url for c in captures] == [f"{SITE}/request/b"]
    assert [s.reason for s in skipped] == [SkipReason.DAMAGED]


def test_a_body_over_the_cap_is_skipped(tmp_path):
    with WarcBuilder(tmp_path / "big.warc.gz") as w:
        w.response(f"{SITE}/request/a", PAGE * 100, when=WHEN)
    _, captures, skipped = read(tmp_path / "big.warc.gz", max_bytes={UrlKind.REQUEST_PAGE: 1000})
    assert not captures and [s.reason for s in skipped] == [SkipReason.TOO_LARGE]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.warc", b"these are my notes, not an archive\n" * 5),
        ("session.wacz", b"PK but not really a zip"),
        ("empty.warc.gz", gzip.compress(b"garbage that is not WARC/1.0", mtime=0)),
    ],
    ids=["notes.warc", "session.wacz", "empty.warc.gz"],
)
def test_files_that_are_not_archives(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    _, captures, skipped = read(tmp_path / name)
    assert not captures
    assert [s.reason for s in skipped] == [SkipReason.UNREADABLE]
    assert "\n" not in skipped[0].detail


def test_a_wacz_without_warcs(tmp_path):
    with zipfile.ZipFile(tmp_path / "x.wacz", "w") as z:
        z.writestr("datapackage.json", "{}")
    _, captures, skipped = read(tmp_path / "x.wacz")
    assert not captures and [s.reason for s in skipped] == [SkipReason.UNREADABLE]


def test_read_warc_takes_bytes(tmp_path):
    with WarcBuilder(tmp_path / "a.warc") as w:
        w.response(f"{SITE}/request/a", PAGE, when=WHEN)
    items = list(read_warc((tmp_path / "a.warc").read_bytes(), site=SITE, source="upload"))
    assert [(type(i).__name__, i.source) for i in items] == [("Capture", "upload")]


def test_a_revisit_across_warcs_of_one_wacz(tmp_path, recorded):
    """A revisit in one WARC of a WACZ resolves against its original in another."""
    from tests.support.archive_files import make_wacz

    with WarcBuilder(tmp_path / "first.warc.gz") as w:
        original = w.response(f"{SITE}/request/a", PAGE, when=WHEN)
    with WarcBuilder(tmp_path / "second.warc.gz") as w:
        w.revisit(f"{SITE}/request/a", of=original, when=T_NEW)
    wacz = make_wacz([tmp_path / "first.warc.gz", tmp_path / "second.warc.gz"], tmp_path / "two.wacz")
    _, captures, skipped = read(wacz)
    assert not skipped
    assert [(c.captured_at, c.body, c.member) for c in captures] == [
        (WHEN, PAGE, "archive/first.warc.gz"), (T_NEW, PAGE, "archive/second.warc.gz"),
    ]


def test_recording_over_http_keeps_the_capture_time_per_page(tmp_path, fake_site):
    def when(path):
        return T_NEW if path.endswith(".json") else T_OLD

    slug = fake_site.corpus.requests[0].url_title
    record_site(fake_site.url, [f"/request/{slug}", f"/request/{slug}.json"], tmp_path / "t.warc.gz", when=when)
    _, captures, _ = read(tmp_path / "t.warc.gz", site=fake_site.url)
    assert [(c.kind, c.captured_at) for c in captures] == [(UrlKind.REQUEST_PAGE, T_OLD), (UrlKind.REQUEST_JSON, T_NEW)]
    assert io.BytesIO(captures[1].body).read(1) == b"{"
