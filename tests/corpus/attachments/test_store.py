"""The files folder: safe names, content addressing, and no way out of <db>.files."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.attachments.store import (
    UnsafePath,
    files_root,
    keep_file,
    kept_path,
    read_kept,
    safe_name,
)


@pytest.mark.parametrize(
    "given_name, expected",
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\Windows\\boot.ini", "boot.ini"),
        ("C:evil.exe", "evil.exe"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("FOI 0193 response (final).pdf", "FOI 0193 response (final).pdf"),
        ("re\x00port\n.pdf", "report.pdf"),
        ("rapport d'activité.docx", "rapport d_activit_.docx"),
        (".hidden", "hidden"),
    ],
)
def test_safe_name(given_name, expected):
    assert safe_name(given_name) == expected


def test_long_names_keep_their_extension():
    name = safe_name("a" * 300 + ".pdf")
    assert len(name) == 100 and name.endswith(".pdf")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_name_stays_one_component_inside_the_root(tmp_path_factory, name):
    root = tmp_path_factory.mktemp("files")
    sha = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    path = kept_path(root, sha, name)
    assert path.parent == root / sha[:2]
    assert path.resolve().is_relative_to(root.resolve())
    assert safe_name(name) not in ("", ".", "..")


def test_files_root_is_beside_the_database(tmp_path):
    assert files_root(tmp_path / "foi.duckdb") == tmp_path / "foi.duckdb.files"


def test_keep_file_is_content_addressed(tmp_path):
    root = tmp_path / "foi.duckdb.files"
    data = b"%PDF-1.4 letter"
    sha = hashlib.sha256(data).hexdigest()
    first = keep_file(root, data, "../../letter one.pdf")
    second = keep_file(root, data, "another name.pdf")
    assert first == second == f"{sha[:2]}/{sha}-letter one.pdf"
    assert (root / first).read_bytes() == data
    assert [p.name for p in root.rglob("*") if p.is_file()] == [f"{sha}-letter one.pdf"]
    assert read_kept(root, first, sha) == data


def test_keep_file_size_cap(tmp_path):
    assert keep_file(tmp_path, b"x" * 11, "a.txt", max_bytes=10) is None
    assert list(tmp_path.iterdir()) == []


def test_symlinked_shard_pointing_outside_is_refused(tmp_path):
    root = tmp_path / "db.files"
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    data = b"some bytes"
    sha = hashlib.sha256(data).hexdigest()
    os.symlink(outside, root / sha[:2])
    with pytest.raises(UnsafePath, match="outside"):
        keep_file(root, data, "a.pdf")
    assert list(outside.iterdir()) == []


def test_bad_hash_is_refused(tmp_path):
    with pytest.raises(UnsafePath, match="not a sha256"):
        kept_path(tmp_path, "../../x", "a.pdf")


@pytest.mark.parametrize("stored", ["../outside.pdf", "/etc/passwd", "ab/../../x"])
def test_read_kept_refuses_paths_outside(tmp_path, stored):
    (tmp_path / "outside.pdf").write_bytes(b"x")
    root = tmp_path / "db.files"
    root.mkdir()
    with pytest.raises(UnsafePath):
        read_kept(root, stored)


def test_read_kept_detects_altered_file(tmp_path):
    from corpus.errors import CorpusError

    rel = keep_file(tmp_path, b"original", "a.txt")
    (tmp_path / rel).write_bytes(b"altered!")
    with pytest.raises(CorpusError, match="no longer matches its sha256"):
        read_kept(tmp_path, rel, hashlib.sha256(b"original").hexdigest())


def test_schema_upgrade_marks_earlier_text_as_read_from_the_file(tmp_path, monkeypatch):
    """A corpus written before OCR: its 'ok' rows were read from the file; its scans await OCR."""
    import corpus.db as corpus_db
    from corpus import schema
    from corpus.db import connect

    index = next(i for i, step in enumerate(schema.MIGRATIONS) if "ocr_confidence" in str(step))
    path = tmp_path / "foi.duckdb"
    monkeypatch.setattr(corpus_db, "MIGRATIONS", schema.MIGRATIONS[:index])
    monkeypatch.setattr(corpus_db, "CURRENT_VERSION", index)
    con = connect(path)
    for part, status in ((2, "ok"), (3, "no_text_layer"), (4, "failed")):
        con.execute(
            "INSERT INTO attachment_texts (site, request_key, incoming_message_id, part, text, status) VALUES ('s', 'id:1', 9, ?, 'x', ?)",
            [part, status],
        )
    con.close()
    monkeypatch.undo()
    con = connect(path)
    try:
        got = con.execute("SELECT part, text_source, ocr_confidence FROM attachment_texts ORDER BY part").fetchall()
    finally:
        con.close()
    assert got == [(2, "text_layer", None), (3, None, None), (4, None, None)]
