"""Where attachment text and (optionally) the original files are kept.

* ``attachment_texts`` rows are written a batch at a time: one Arrow table, one
  ``INSERT OR REPLACE`` (the key is ``site, incoming_message_id, part``, as in
  ``attachments``).
* With ``--attachments files`` the original bytes go to a content-addressed
  folder beside the database::

      <db>.files/<sha256[:2]>/<sha256>-<sanitised file name>

  The name is only a convenience for people browsing the folder; the hash
  decides identity, so the same letter attached to ten requests is stored once.
  Nothing is ever written outside ``<db>.files``: file names from the site are
  reduced to one safe path component, and the final path is checked to lie
  inside the folder after resolving symlinks.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from corpus.attachments.result import Extraction
from corpus.errors import CorpusError

#: Files bigger than this are not kept (their text is still extracted when under the extract cap).
DEFAULT_KEEP_MAX_BYTES = 100 * 1024 * 1024
_NAME_MAX = 100

COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("site", pa.string()),
    ("request_key", pa.string()),
    ("incoming_message_id", pa.int64()),
    ("part", pa.int32()),
    ("filename", pa.string()),
    ("content_type", pa.string()),
    ("text", pa.string()),
    ("characters", pa.int32()),
    ("pages", pa.int32()),
    ("method", pa.string()),
    ("library_version", pa.string()),
    ("status", pa.string()),
    ("reason", pa.string()),
    ("text_source", pa.string()),
    ("ocr_confidence", pa.float64()),
    ("size", pa.int64()),
    ("sha256", pa.string()),
    ("stored_path", pa.string()),
    ("source_url", pa.string()),
    ("final_url", pa.string()),
    ("etag", pa.string()),
    ("last_modified", pa.string()),
    ("attempts", pa.int32()),
    ("fetched_at", pa.timestamp("us", tz="UTC")),
    ("extracted_at", pa.timestamp("us", tz="UTC")),
)
_SCHEMA = pa.schema(list(COLUMNS))
_NAMES = [name for name, _ in COLUMNS]


class UnsafePath(CorpusError):
    """A kept-file path that would leave the files folder."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_root(db_path: str | os.PathLike) -> Path:
    """``<db>.files`` beside the database file."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".files")


def safe_name(filename: str | None) -> str:
    """One harmless path component derived from a file name given by the site.

    Directory parts (``/`` and ``\\``), drive letters, control characters and
    leading dots are dropped; anything outside letters, digits, ``. _ - ( )``
    and space becomes ``_``; the result is at most 100 characters with the
    extension kept.  Never empty, never ``.`` or ``..``.
    """
    name = unicodedata.normalize("NFKC", filename or "")
    name = re.split(r"[\\/]", name)[-1]
    name = re.sub(r"^[A-Za-z]:", "", name)
    name = "".join(ch for ch in name if ch.isprintable())
    name = re.sub(r"[^\w.() -]", "_", name, flags=re.ASCII)
    name = name.strip(" .")
    if len(name) > _NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: _NAME_MAX - len(ext) - 1] + "." + ext
        else:
            name = name[:_NAME_MAX]
    return name or "file"


def _inside(root: Path, candidate: Path) -> bool:
    try:
        candidate.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def kept_path(root: Path, sha256: str, filename: str | None) -> Path:
    """The path a file with this hash and name is kept at (checked to lie inside ``root``)."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise UnsafePath(f"{sha256!r} is not a sha256 hex digest; kept files are named by their hash")
    path = root / sha256[:2] / f"{sha256}-{safe_name(filename)}"
    if not _inside(root, path):
        raise UnsafePath(f"refusing to write {path}: it resolves outside {root}; remove the symlink there")
    return path


def keep_file(root: Path, data: bytes, filename: str | None, *, max_bytes: int = DEFAULT_KEEP_MAX_BYTES) -> str | None:
    """Keep ``data`` under ``root``; return its path relative to ``root``, or None when over ``max_bytes``.

    A file whose hash is already present is not written again (whatever its name).
    """
    if len(data) > max_bytes:
        return None
    sha = sha256_hex(data)
    folder = root / sha[:2]
    if folder.is_dir():
        for existing in folder.glob(f"{sha}-*"):
            if existing.is_file() and _inside(root, existing):
                return existing.relative_to(root).as_posix()
    path = kept_path(root, sha, filename)
    folder.mkdir(parents=True, exist_ok=True)
    if not _inside(root, folder):
        raise UnsafePath(f"refusing to write into {folder}: it resolves outside {root}; remove the symlink there")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path.relative_to(root).as_posix()


def read_kept(root: Path, stored_path: str, sha256: str | None = None) -> bytes:
    """The bytes of a kept file; ``UnsafePath`` if the recorded path leaves ``root``, ``OSError`` if gone.

    When ``sha256`` is given and the file no longer matches it, ``CorpusError`` is raised.
    """
    path = root / stored_path
    if Path(stored_path).is_absolute() or not _inside(root, path):
        raise UnsafePath(f"stored path {stored_path!r} lies outside {root}; the row is not trusted")
    data = path.read_bytes()
    if sha256 and sha256_hex(data) != sha256:
        raise CorpusError(f"{path} no longer matches its sha256; delete it and sync with --attachments files again")
    return data


# ------------------------------------------------------------------ database


def extraction_columns(extraction: Extraction) -> dict[str, object]:
    """The ``attachment_texts`` columns an extraction fills."""
    version = None
    if extraction.method:
        last = extraction.method.rsplit(" ", 1)[-1]
        version = last if re.fullmatch(r"\d[\w.+-]*", last) else None
    return {
        "text": extraction.text,
        "characters": extraction.characters,
        "pages": extraction.pages,
        "method": extraction.method,
        "library_version": version,
        "status": extraction.status,
        "reason": extraction.reason,
        "text_source": extraction.text_source,
        "ocr_confidence": extraction.ocr_confidence,
    }



@contextmanager
def _registered(con, name: str, table: pa.Table):
    con.register(name, table)
    try:
        yield
    finally:
        con.unregister(name)


def write_rows(con, rows: Iterable[Mapping[str, object]]) -> int:
    """Upsert ``attachment_texts`` rows (dicts keyed by column name) in one statement."""
    rows = list(rows)
    if not rows:
        return 0
    columns = {name: [row.get(name) for row in rows] for name in _NAMES}
    table = pa.Table.from_pydict(columns, schema=_SCHEMA)
    with _registered(con, "_attachment_texts_batch", table):
        con.execute(
            f"INSERT OR REPLACE INTO attachment_texts ({', '.join(_NAMES)}) "
            f"SELECT {', '.join(_NAMES)} FROM _attachment_texts_batch"
        )
    return len(rows)


@dataclass(slots=True, frozen=True)
class AttachmentJob:
    """One incoming attachment whose text is still wanted."""

    site: str
    request_key: str
    incoming_message_id: int
    part: int
    filename: str | None
    download_url: str | None
    url_title: str | None
    attempts: int  # earlier tries (pending / failed)
    etag: str | None
    last_modified: str | None


#: Statuses that end the work on an attachment: its file is not asked for again.
FINAL_STATUSES = ("ok", "no_text_layer", "encrypted", "corrupt", "unsupported", "too_large", "timeout")


def attachments_to_fetch(
    con, site: str, request_keys: Iterable[str] | None = None, *, max_attempts: int = 5, retry_scans: bool = False
) -> list[AttachmentJob]:
    """Incoming attachments of these requests (all when None) with no final ``attachment_texts`` row.

    Erased and hidden attachments are left out (the site serves a notice, not
    the file); so are those that failed ``max_attempts`` times.  With
    ``retry_scans`` (OCR can run now), scans and images recorded when it could
    not (``no_text_layer`` with no ``text_source``) are asked for again.
    """
    keys = None if request_keys is None else sorted(set(request_keys))
    if keys is not None and not keys:
        return []
    final = ", ".join("'" + s + "'" for s in FINAL_STATUSES)
    scans = "OR (t.status = 'no_text_layer' AND t.text_source IS NULL)" if retry_scans else ""
    sql = f"""
        SELECT a.site, a.request_key, a.incoming_message_id, a.part, a.filename, a.download_url,
               r.url_title, coalesce(t.attempts, 0), t.etag, t.last_modified
        FROM attachments a
        LEFT JOIN requests r ON r.site = a.site AND r.request_key = a.request_key
        LEFT JOIN attachment_texts t
               ON t.site = a.site AND t.incoming_message_id = a.incoming_message_id AND t.part = a.part
        WHERE a.site = ?
          AND NOT coalesce(a.erased, false) AND NOT coalesce(a.hidden, false)
          AND (t.status IS NULL OR t.status NOT IN ({final}) {scans})
          AND coalesce(t.attempts, 0) < ?
          {"AND list_contains(?, a.request_key)" if keys is not None else ""}
        ORDER BY a.request_key, a.incoming_message_id, a.part
    """
    params: list[object] = [site, max_attempts]
    if keys is not None:
        params.append(keys)
    return [AttachmentJob(*row) for row in con.execute(sql, params).fetchall()]


def refresh_request_keys(con, site: str) -> None:
    """Follow the loader's re-keying of requests (slug: -> id:) into ``attachment_texts``."""
    con.execute(
        """
        UPDATE attachment_texts AS t SET request_key = a.request_key
        FROM attachments a
        WHERE a.site = t.site AND a.incoming_message_id = t.incoming_message_id AND a.part = t.part
          AND t.site = ? AND t.request_key <> a.request_key
        """,
        [site],
    )


def utc_now() -> datetime:

    return datetime.now(UTC)
