"""Re-extraction from kept files, and refusal grounds found in attachment text."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from corpus.attachments.extract import extract_text
from corpus.attachments.reextract import reextract_all
from corpus.attachments.store import (
    extraction_columns,
    files_root,
    keep_file,
    write_rows,
)
from corpus.db import connect

from . import samples

SITE = "http://127.0.0.1:9"
NOW = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)


def seed(con, *, law="foi", jurisdiction=None, hidden=False):
    con.execute("INSERT INTO authorities (site, url_name, name, jurisdiction) VALUES (?, 'some_council', 'Some Council', ?)", [SITE, jurisdiction])
    con.execute(
        "INSERT INTO requests (site, request_key, url_title, title, law, authority_url_name) VALUES (?, 'id:7', 'costs', 'Costs', ?, 'some_council')",
        [SITE, law],
    )
    con.execute(
        "INSERT INTO messages (site, request_key, message_id, direction, sent_at, body, body_placeholder) "
        "VALUES (?, 'id:7', 900, 'incoming', ?, '[Email has no body, please see attachments]', true)",
        [SITE, NOW],
    )
    con.execute(
        "INSERT INTO attachments (site, request_key, incoming_message_id, part, filename, hidden) VALUES (?, 'id:7', 900, 2, 'letter.pdf', ?)",
        [SITE, hidden],
    )


def text_row(data: bytes, name: str, stored: str | None = None, **over):
    row = {
        "site": SITE, "request_key": "id:7", "incoming_message_id": 900, "part": 2, "filename": name,
        "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "stored_path": stored,
        "attempts": 1, "fetched_at": NOW, "extracted_at": NOW,
    }
    row.update(extraction_columns(extract_text(data, name)))
    row.update(over)
    return row


def test_reextract_redoes_kept_files_and_skips_missing(tmp_path):
    db = tmp_path / "foi.duckdb"
    con = connect(db)
    seed(con)
    pdf = samples.pdf_with_text()
    rel = keep_file(files_root(db), pdf, "letter.pdf")
    # as if an older extractor had failed on it
    write_rows(con, [text_row(pdf, "letter.pdf", rel, text="", characters=0, status="failed", reason="old extractor broke", method="old 0.1")])
    con.execute("INSERT INTO attachments (site, request_key, incoming_message_id, part, filename) VALUES (?, 'id:7', 900, 3, 'gone.pdf')", [SITE])
    write_rows(con, [text_row(pdf, "gone.pdf", "ab/" + "a" * 64 + "-gone.pdf", part=3)])
    stats = reextract_all(con, db)
    assert (stats.files, stats.redone, stats.missing, stats.changed) == (2, 1, 1, 1)
    status, method, text, version, fetched = con.execute(
        "SELECT status, method, text, library_version, fetched_at FROM attachment_texts WHERE part = 2"
    ).fetchone()
    assert status == "ok" and method.startswith("pypdf ") and version == method.split()[-1]
    assert "section 40(2)" in text
    assert fetched == NOW  # when it was downloaded does not change
    assert "1 of 2 kept files re-extracted" in stats.describe()
    con.close()



@pytest.fixture
def db(tmp_path):
    con = connect(tmp_path / "foi.duckdb")
    yield con
    con.close()


def attachment_citations(con):
    """refusal_citations rows from attachment text, after a rebuild of the derived tables."""
    from corpus.derive import rebuild

    rebuild(con)
    cur = con.execute("SELECT * FROM refusal_citations WHERE source = 'attachment' ORDER BY provision")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def test_citations_found_in_a_pdf_refusal_letter(db):
    seed(db)
    write_rows(db, [text_row(samples.pdf_with_text(), "letter.pdf")])
    rows = attachment_citations(db)
    found = {(r["regime"], r["provision"]) for r in rows}
    assert ("FOIA", "s12") in found and ("FOIA", "s40(2)") in found
    for r in rows:
        assert r["attachment_part"] == 2 and r["message_id"] == 900
        assert r["request_key"] == "id:7" and r["authority_url_name"] == "some_council"
        assert r["sent_at"] == NOW
        assert r["sentence"]
    s12 = next(r for r in rows if r["provision"] == "s12")
    assert s12["ground"] == "cost limit"


def test_no_citations_from_hidden_or_failed_attachments(db):
    seed(db, hidden=True)
    write_rows(db, [text_row(samples.pdf_with_text(), "letter.pdf")])
    assert attachment_citations(db) == []
    db.execute("UPDATE attachments SET hidden = false")
    db.execute("UPDATE attachment_texts SET status = 'no_text_layer'")
    assert attachment_citations(db) == []
    db.execute("UPDATE attachment_texts SET status = 'ok'")
    assert attachment_citations(db)  # the same letter, readable and shown, does count


def test_scottish_eir_request_is_read_as_eisr(db):
    seed(db, law="eir", jurisdiction="scotland")
    letter = ["We refuse this request as manifestly unreasonable under regulation 10(4)(b)."]
    write_rows(db, [text_row(samples.docx_letter(letter), "letter.docx")])
    rows = attachment_citations(db)
    assert rows and {r["regime"] for r in rows} == {"EISR"}


def test_rebuild_puts_attachment_grounds_into_refusal_citations(db):
    from corpus.derive import rebuild

    seed(db)
    write_rows(db, [text_row(samples.pdf_with_text(), "letter.pdf")])
    rebuild(db)
    rows = db.execute(
        "SELECT source, attachment_part, message_id, provision, request_key, authority_url_name "
        "FROM refusal_citations ORDER BY provision"
    ).fetchall()
    provisions = {r[3] for r in rows}
    assert {"s12", "s40(2)"} <= provisions
    assert all(r[:3] == ("attachment", 2, 900) for r in rows)
    assert all(r[4:] == ("id:7", "some_council") for r in rows)
    # the placeholder e-mail body itself cites nothing
    assert not any(r[0] == "message" for r in rows)


def test_rebuild_scans_only_new_or_changed_texts(db, monkeypatch):
    from corpus.derive import rebuild, refusals

    seed(db)
    write_rows(db, [text_row(samples.pdf_with_text(), "letter.pdf")])
    scanned = []
    real = refusals.extract_citations

    def counting(text, regime="FOIA", **context):
        scanned.append(text[:30])
        return real(text, regime, **context)

    monkeypatch.setattr(refusals, "extract_citations", counting)
    rebuild(db)
    first = db.execute("SELECT count(*) FROM refusal_citations").fetchall()[0][0]
    assert len(scanned) == 1 and first >= 2
    rebuild(db)  # nothing changed: served from the cache
    assert len(scanned) == 1
    assert db.execute("SELECT count(*) FROM refusal_citations").fetchall()[0][0] == first
    db.execute(
        "UPDATE messages SET body = 'We refuse this under section 43(2) of the Act.', body_placeholder = false "
        "WHERE message_id = 900"
    )
    rebuild(db)  # the changed body is scanned, the unchanged attachment is not
    assert len(scanned) == 2
    provisions = db.execute("SELECT source, provision FROM refusal_citations ORDER BY ALL").fetchall()
    assert ("message", "s43(2)") in provisions and ("attachment", "s12") in provisions


def test_corpus_reparse_reextracts_kept_files(tmp_path):
    from corpus.reparse import reparse

    path = tmp_path / "foi.duckdb"
    con = connect(path)
    seed(con)
    pdf = samples.pdf_with_text()
    rel = keep_file(files_root(path), pdf, "letter.pdf")
    write_rows(con, [text_row(pdf, "letter.pdf", rel, text="", characters=0, status="failed", reason="old extractor broke", method="old 0.1")])
    con.close()
    stats = reparse(path)
    assert "1 of 1 kept files re-extracted" in stats.describe()
    con = connect(path, read_only=True)
    status, text = con.execute("SELECT status, text FROM attachment_texts").fetchall()[0]
    provisions = {p for (p,) in con.execute("SELECT provision FROM refusal_citations WHERE source = 'attachment'").fetchall()}
    con.close()
    assert status == "ok" and "section 40(2)" in text
    assert {"s12", "s40(2)"} <= provisions
