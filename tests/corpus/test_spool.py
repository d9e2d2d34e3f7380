"""The spool: batches a sync holds on disk while a reader has the database, and how they are written later."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from corpus import frontier
from corpus.batch import Batch, FinishedRun, FinishedWalk
from corpus.errors import DatabaseLocked, SpoolRefused
from corpus.frontier import FrontierItem
from corpus.pagestore import make_page
from corpus.pipeline import Failure, RawPage, RawThread, ThreadOutcome, outcome_of
from corpus.sample_site import generate_corpus, render
from corpus.spool import Spool, decode, encode, spool_path
from corpus.writer import Hold, Take, Writer
from tests.support.corpus_db import rows

SITE = "http://127.0.0.1:9"
FETCHED = datetime(2024, 5, 2, 10, 30, 15, tzinfo=timezone.utc)
CORPUS = generate_corpus(12, seed=3, n_authorities=1)
PUBLIC = [r for r in CORPUS.requests if r.prominence == "normal"]


def _url(slug: str) -> str:
    return f"{SITE}/request/{slug}"


def _fetched(req, *, with_json: bool = True) -> ThreadOutcome:
    """A thread as a sync gets it from the site (its page and JSON as the sample site serves them), parsed."""
    html = render.request_page(CORPUS, req, SITE).encode()
    raw = RawThread(url=_url(req.url_title), site=SITE, origin="site", fetched_at=FETCHED,
                    html=RawPage(url=_url(req.url_title), body=html, status=200,
                                 headers={"ETag": 'W/"abc"', "Content-Type": "text/html; charset=utf-8"}),
                    url_title=req.url_title, signature=f"sig-{req.url_title}")
    if with_json:
        raw.json = RawPage(url=_url(req.url_title) + ".json", body=render.request_json(CORPUS, req), status=200,
                           headers={"Content-Type": "application/json"})
    out = outcome_of(raw)
    assert out.kind == "loaded"
    return out


def _others() -> list[ThreadOutcome]:
    return [
        ThreadOutcome(kind="removed", url=_url("gone_one"), site=SITE, origin="site", url_title="gone_one",
                      failure=Failure("gone", "HTTP 410")),
        ThreadOutcome(kind="unchanged", url=_url("same_one"), site=SITE, origin="site", url_title="same_one",
                      signature="s"),
        ThreadOutcome(kind="failed", url=_url("bad_one"), site=SITE, origin="site", url_title="bad_one",
                      failure=Failure("fetch", "HTTP 503")),
    ]


def _batch() -> Batch:
    listing = make_page(url=f"{SITE}/body/council_1", site=SITE, kind="listing", status=200, final_url=None,
                        headers={"etag": "x"}, body=b"<html>listing</html>", fetched_at=FETCHED)
    return Batch(
        outcomes=[_fetched(PUBLIC[0]), _fetched(PUBLIC[1], with_json=False), *_others()],
        discovered=[FrontierItem(url=_url("new_one"), url_title="new_one", listing_signature="2024|x",
                                 discovered_from="authority:council_1", priority=3, force=True)],
        pages=[listing],
        walks=[FinishedWalk("authority", "council_1", date(2020, 1, 1), None, FETCHED, 4, True)],
        runs=[FinishedRun("run1", "spooled", FETCHED, {"fetched": 5, "exit_code": 5},
                          rebuild_since=FETCHED - timedelta(hours=1))],
    )


def test_a_batch_comes_back_from_its_spool_table_exactly():
    batch = _batch()
    back = decode(encode(batch), spool_path("x.duckdb"))
    assert back.discovered == batch.discovered and back.walks == batch.walks and back.runs == batch.runs
    assert back.pages == batch.pages
    assert [o.kind for o in back.outcomes] == [o.kind for o in batch.outcomes]
    for mine, theirs in zip(batch.outcomes, back.outcomes, strict=True):
        # loaded threads are parsed again from their pages: the same pages, the same rows
        assert theirs.pages == mine.pages
        assert (theirs.url, theirs.url_title, theirs.signature, theirs.page_sha256, theirs.failure,
                theirs.json_missing) == (mine.url, mine.url_title, mine.signature, mine.page_sha256, mine.failure,
                                          mine.json_missing)
        assert theirs.load_item == mine.load_item


def _captured(req) -> ThreadOutcome:
    """A thread a sync took from a web archive (the site refused it): its page says when and where it was captured."""
    html = render.request_page(CORPUS, req, SITE).encode()
    captured = FETCHED - timedelta(days=40, seconds=7)
    raw = RawThread(url=_url(req.url_title), site=SITE, origin="archive", fetched_at=FETCHED,
                    html=RawPage(url=_url(req.url_title), body=html, status=200,
                                 headers={"Content-Type": "text/html; charset=utf-8"}, captured_at=captured,
                                 capture_source=f"https://archive.example/web/20240323/{_url(req.url_title)}",
                                 record_id="sha1:ABCDEF"),
                    url_title=req.url_title, provenance="archive", provenance_name="https://archive.example",
                    queued=True)
    out = outcome_of(raw)
    assert out.kind == "loaded" and out.as_of == captured
    return out


def test_an_archive_capture_comes_back_with_its_provenance():
    mine = _captured(PUBLIC[2])
    (theirs,) = decode(encode(Batch(outcomes=[mine])), spool_path("x.duckdb")).outcomes
    assert theirs.pages == mine.pages and theirs.pages[0].captured_at == mine.pages[0].captured_at
    assert (theirs.origin, theirs.provenance, theirs.as_of, theirs.queued) == ("archive", "archive", mine.as_of, True)
    assert theirs.load_item == mine.load_item and theirs.load_item.provenance_name == "https://archive.example"


def test_a_spool_file_is_complete_or_absent(tmp_path, monkeypatch):
    spool = Spool(tmp_path / "c.duckdb")
    path = spool.write(_batch(), run_id="run1", site=SITE)
    assert spool.files() == [path] and path.name == "00000001-run1.arrow"
    assert spool.threads() == 5
    meta = pa.ipc.open_file(str(path)).schema.metadata
    assert meta[b"spool_format"] == b"1" and meta[b"run_id"] == b"run1"

    def torn(*a, **kw):  # the process dies in the middle of writing the next file
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", torn)
    with pytest.raises(KeyboardInterrupt):
        spool.write(_batch(), run_id="run1", site=SITE)
    monkeypatch.undo()
    assert spool.files() == [path]  # the torn file is not taken for a spool file
    (spool.path / ".00000002-run1.arrow.tmp").write_bytes(b"half a file")  # as a SIGKILL would leave it
    assert spool.files() == [path] and spool.threads() == 5


def _locked(monkeypatch, pid=4242):
    from corpus import db as corpus_db

    def locked(*a, **kw):
        raise DatabaseLocked("w.duckdb is open in process 4242", pid=pid)

    monkeypatch.setattr(corpus_db, "connect_when_free", locked)


def _queue(writer: Writer, slugs) -> None:
    writer.call(lambda con: frontier.enqueue(con, SITE, [FrontierItem(url=_url(s), url_title=s) for s in slugs]))


def _held_writer(dbp, monkeypatch, memory_threads: int) -> Writer:
    """A sync's writer (run ``run1``, recorded, every public thread queued), and then a reader takes the file."""
    writer = Writer(dbp, site=SITE, hold=Hold("run1", memory_threads=memory_threads))
    writer.call(lambda con: con.execute("INSERT INTO sync_runs (run_id, site, outcome) VALUES ('run1', ?, 'running')",
                                        [SITE]))
    _queue(writer, [r.url_title for r in PUBLIC])
    _locked(monkeypatch)
    return writer


def test_a_holding_writer_keeps_batches_in_memory_then_in_the_spool_and_writes_them_when_free(tmp_path, monkeypatch):
    dbp = tmp_path / "held.duckdb"
    writer = _held_writer(dbp, monkeypatch, 3)
    try:
        for req in PUBLIC[:3]:
            writer.add(_fetched(req))
        got = writer.write(Take(SITE, 10))
        assert got.held and got.held_by == 4242 and not got.outcomes and not got.taken
        assert len(writer.pending.outcomes) == 3 and not writer.spool.files()  # within the memory bound
        writer.add(_fetched(PUBLIC[3]))
        writer.discover([FrontierItem(url=_url("late_one"), url_title="late_one")])
        assert writer.write().held
        assert not writer.pending and writer.spooled == 4 and len(writer.spool.files()) == 1  # past it: spooled
        writer.add(_fetched(PUBLIC[4]))
        assert writer.write().held and len(writer.pending.outcomes) == 1
        monkeypatch.undo()  # the reader lets go
        done = writer.write(Take(SITE, 50))
        assert not done.held and [o.url_title for o in done.outcomes] == [PUBLIC[4].url_title]
        assert done.spool is not None and sorted(o.url_title for o in done.spool.outcomes) == sorted(
            r.url_title for r in PUBLIC[:4])
        assert done.spool.enqueued_new == 1
        # the threads written are taken no more: only the rest of the queue and the late discovery
        assert {q.url_title for q in done.taken} == {r.url_title for r in PUBLIC[5:]} | {"late_one"}
        assert not writer.spool.files() and not writer.spool.path.exists() and writer.spooled == 0
    finally:
        writer.close()
    assert sorted(r[0] for r in rows(dbp, "SELECT url_title FROM requests")) == sorted(r.url_title
                                                                                         for r in PUBLIC[:5])
    assert rows(dbp, "SELECT count(*) FROM pages WHERE kind = 'request_html'") == [(5,)]


def test_the_next_writer_writes_a_spool_first_and_only_once(tmp_path, monkeypatch):
    dbp = tmp_path / "next.duckdb"
    first = _held_writer(dbp, monkeypatch, 0)
    try:
        for req in PUBLIC[:2]:
            first.add(_fetched(req))
        first.finish_run(FinishedRun("run1", "spooled", FETCHED, {"exit_code": 5}, rebuild_since=FETCHED))
        assert first.write().held and len(first.spool.files()) == 1
    finally:
        first.close()  # the process ends with the threads in the spool
    monkeypatch.undo()
    assert rows(dbp, "SELECT count(*) FROM requests") == [(0,)]
    # any later writer (an import, a reparse, the next sync) writes the spool before anything else
    later = Writer(dbp, site=SITE)
    try:
        taken = later.call(frontier.take, SITE, 50)
        assert {q.url_title for q in taken} == {r.url_title for r in PUBLIC[2:]}  # not fetched again
        assert later.merged_since == FETCHED
        written = later.take_spool_result()
        assert written is not None and len(written.outcomes) == 2
    finally:
        later.close()
    assert rows(dbp, "SELECT outcome, finished_at IS NOT NULL FROM sync_runs") == [("spooled", True)]
    assert rows(dbp, "SELECT count(*) FROM requests") == [(2,)]
    assert not spool_path(dbp).exists()


def test_a_spool_this_database_never_heard_of_is_refused_whole(tmp_path):
    dbp = tmp_path / "other.duckdb"
    Writer(dbp, site=SITE).close()
    Spool(dbp).write(_batch(), run_id="elsewhere", site=SITE)
    writer = Writer(dbp, site=SITE)
    try:
        with pytest.raises(SpoolRefused) as refused:
            writer.call(frontier.pending, SITE)
    finally:
        writer.close()
    message = str(refused.value)
    assert "5 threads" in message and "run elsewhere" in message and "move that folder away" in message
    assert rows(dbp, "SELECT count(*) FROM requests") == [(0,)]
    assert len(Spool(dbp).files()) == 1  # left where it was


def test_a_spool_file_written_by_a_newer_version_is_refused(tmp_path):
    dbp = tmp_path / "newer.duckdb"
    path = Spool(dbp).write(_batch(), run_id="run1", site=SITE)
    table = pa.ipc.open_file(str(path)).read_all()
    meta = dict(table.schema.metadata)
    meta[b"spool_format"] = b"99"
    with pa.OSFile(str(path), "wb") as fh, pa.ipc.new_file(fh, table.schema.with_metadata(meta)) as out:
        out.write_table(table.replace_schema_metadata(meta))
    with pytest.raises(SpoolRefused, match="newer foi-corpus"):
        Spool(dbp).read(path)
