"""Batches a sync could not write yet, kept on disk beside the database in ``<db>.spool/``.

While a reader (a notebook, a DuckDB shell) holds the database file, a sync
goes on fetching and holds finished threads: first in memory, then, past a
bound, here.  The next time the file can be opened for writing, by this sync
or by the next command that writes (``sync``, ``import``, ``reparse``), the
spool is written first, one file per transaction, oldest first, and each file
is deleted once its transaction has committed.

Format (``SPOOL_FORMAT`` 1).  Each file, ``<seq:08d>-<run_id>.arrow``, is an
Arrow IPC file (readable by any Arrow library) holding one table of three
columns:

``record``  what the row is: ``thread``, ``page``, ``discovered``, ``walk`` or ``run``;
``meta``    a JSON object with the record's fields (below);
``body``    a page's body exactly as ``pages.body`` stores it (zlib); null for other records.

* ``thread``: a thread outcome (``corpus.pipeline.ThreadOutcome``): ``kind``,
  ``url``, ``site``, ``origin``, ``url_title``, ``signature``, ``page_url``,
  ``page_sha256``, ``failure`` (``[kind, message]`` or null), ``json_problem``,
  ``json_missing``, ``source``, and where a capture came from: ``provenance``
  (``live``, ``archive`` or ``file``), ``provenance_name``, ``as_of`` and
  ``queued`` (absent in older files: a live page).  A ``loaded`` thread's rows are not stored:
  they are parsed again from its pages when the file is written, by the same
  pure step a sync uses (``corpus.pipeline.outcome_of``), and the page's
  SHA-256 must come out the same;
* ``page``: a row of ``pages`` but its body (times in ISO 8601), plus
  ``thread`` (the thread's URL, or null for a listing page) and ``n`` (its
  place among the thread's pages: 0 the HTML, 1 the JSON);
* ``discovered``: a URL offered to the frontier (``corpus.frontier.FrontierItem``);
* ``walk``: a listing walk read to its end (``corpus.batch.FinishedWalk``);
* ``run``: the end of a sync run (``corpus.batch.FinishedRun``).

The table's schema metadata holds ``spool_format``, ``run_id`` (the sync run
that wrote it), ``site``, ``database`` (its path when written),
``schema_version`` and ``threads`` (how many thread records).

A file is written under a temporary name, flushed to disk (fsync), renamed
into place and the folder fsynced: after a crash or a kill at any moment each
file is complete or absent.  Writing a file twice (a crash after its
transaction committed but before it was deleted) writes the same rows again,
which the loader's upserts absorb.

A spool whose ``run_id`` the database has no record of came from another
database (or an older copy of this one) and is refused with one line; so is
one written in a newer format.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpus.batch import Batch, FinishedRun, FinishedWalk
from corpus.errors import SpoolRefused
from corpus.frontier import FrontierItem
from corpus.pagestore import StoredPage
from corpus.pipeline import Failure, RawPage, RawThread, ThreadOutcome, outcome_of
from corpus.schema import CURRENT_VERSION

SPOOL_FORMAT = 1
_SCHEMA = pa.schema([("record", pa.string()), ("meta", pa.string()), ("body", pa.binary())])
_NAME = re.compile(r"^(\d{8})-([0-9A-Za-z_-]+)\.arrow$")
_PAGE_FIELDS = [f.name for f in fields(StoredPage) if f.name != "body"]


def spool_path(db_path: str | Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".spool")


@dataclass(slots=True)
class SpoolFile:
    """One spool file read back: who wrote it, and the batch it holds."""

    path: Path
    run_id: str
    site: str | None
    database: str | None
    schema_version: int
    threads: int
    batch: Batch


# ---------------------------------------------------------------- encoding


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _page_meta(page: StoredPage, thread: str | None, n: int) -> dict[str, Any]:
    meta = {f: getattr(page, f) for f in _PAGE_FIELDS}
    meta["fetched_at"] = _iso(page.fetched_at)
    meta["captured_at"] = _iso(page.captured_at)
    meta["thread"] = thread
    meta["n"] = n
    return meta


def _thread_meta(o: ThreadOutcome) -> dict[str, Any]:
    if o.origin == "store" and o.kind == "loaded":
        raise ValueError("an outcome read back from the page store has no pages to keep in a spool")
    return {
        "kind": o.kind, "url": o.url, "site": o.site, "origin": o.origin, "url_title": o.url_title,
        "signature": o.signature, "page_url": o.page_url, "page_sha256": o.page_sha256,
        "failure": [o.failure.kind, o.failure.message] if o.failure is not None else None,
        "json_problem": o.json_problem, "json_missing": o.json_missing,
        "source": o.load_item.source if o.load_item is not None else None,
        # where a capture came from (an archive), and whether it answers a queued URL
        "provenance": o.provenance, "as_of": _iso(o.as_of), "queued": o.queued,
        "provenance_name": o.load_item.provenance_name if o.load_item is not None else None,
    }


def encode(batch: Batch) -> pa.Table:
    """The spool table of a batch."""
    records: list[str] = []
    metas: list[str] = []
    bodies: list[bytes | None] = []

    def add(record: str, meta: dict[str, Any], body: bytes | None = None) -> None:
        records.append(record)
        metas.append(json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
        bodies.append(body)

    for o in batch.outcomes:
        add("thread", _thread_meta(o))
        for n, page in enumerate(o.pages):
            add("page", _page_meta(page, o.url, n), page.body)
    for page in batch.pages:
        add("page", _page_meta(page, None, 0), page.body)
    for item in batch.discovered:
        add("discovered", asdict(item))
    for w in batch.walks:
        meta = asdict(w)
        meta.update(since=_iso(w.since), until=_iso(w.until), started_at=_iso(w.started_at))
        add("walk", meta)
    for r in batch.runs:
        add("run", {"run_id": r.run_id, "outcome": r.outcome, "finished_at": _iso(r.finished_at),
                    "summary": r.summary, "rebuild_since": _iso(r.rebuild_since)})
    return pa.table([pa.array(records, pa.string()), pa.array(metas, pa.string()), pa.array(bodies, pa.binary())],
                    schema=_SCHEMA)


def _page(meta: dict[str, Any], body: bytes | None) -> StoredPage:
    values: dict[str, Any] = {f: meta.get(f) for f in _PAGE_FIELDS}
    values["fetched_at"] = _when(meta.get("fetched_at"))
    values["captured_at"] = _when(meta.get("captured_at"))
    return StoredPage(body=body, **values)


def _raw_page(page: StoredPage | None) -> RawPage | None:
    if page is None:
        return None
    headers = {k: v for k, v in (("etag", page.etag), ("last-modified", page.last_modified),
                                 ("content-type", page.content_type)) if v is not None}
    body = zlib.decompress(page.body) if page.body is not None and page.encoding == "zlib" else page.body
    return RawPage(url=page.url, body=body, status=page.status, headers=headers, captured_at=page.captured_at,
                   capture_source=page.capture_source, record_id=page.record_id)


def _outcome(meta: dict[str, Any], pages: list[StoredPage], where: Path) -> ThreadOutcome:
    failure = Failure(*meta["failure"]) if meta.get("failure") else None
    if meta["kind"] != "loaded":
        return ThreadOutcome(kind=meta["kind"], url=meta["url"], site=meta["site"], origin=meta["origin"],
                             url_title=meta.get("url_title"), signature=meta.get("signature"),
                             page_url=meta.get("page_url"), page_sha256=meta.get("page_sha256"), pages=pages,
                             failure=failure, json_problem=meta.get("json_problem"),
                             json_missing=bool(meta.get("json_missing")), provenance=meta.get("provenance", "live"),
                             as_of=_when(meta.get("as_of")), queued=bool(meta.get("queued")))
    if not pages or pages[0].fetched_at is None:
        raise SpoolRefused(f"{where} is damaged: the loaded thread {meta['url']} has no page; move the file away")
    raw = RawThread(url=meta["url"], site=meta["site"], origin=meta["origin"], fetched_at=pages[0].fetched_at,
                    html=_raw_page(pages[0]), json=_raw_page(pages[1] if len(pages) > 1 else None),
                    source=meta.get("source"), url_title=meta.get("url_title"), signature=meta.get("signature"),
                    provenance=meta.get("provenance", "live"), provenance_name=meta.get("provenance_name"),
                    queued=bool(meta.get("queued")))
    outcome = outcome_of(raw)
    if outcome.page_sha256 != meta.get("page_sha256"):
        raise SpoolRefused(f"{where} is damaged: the page of {meta['url']} does not match its SHA-256; "
                           "move the file away")
    return outcome


def decode(table: pa.Table, where: Path) -> Batch:
    """The batch a spool table holds (loaded threads parsed again from their pages)."""
    batch = Batch()
    threads: list[dict[str, Any]] = []
    pages_of: dict[str, list[tuple[int, StoredPage]]] = {}
    for record, meta_text, body in zip(table.column("record").to_pylist(), table.column("meta").to_pylist(),
                                       table.column("body").to_pylist(), strict=True):
        meta = json.loads(meta_text)
        if record == "thread":
            threads.append(meta)
        elif record == "page":
            page = _page(meta, body)
            if meta.get("thread") is None:
                batch.pages.append(page)
            else:
                pages_of.setdefault(meta["thread"], []).append((int(meta.get("n") or 0), page))
        elif record == "discovered":
            batch.discovered.append(FrontierItem(**meta))
        elif record == "walk":
            batch.walks.append(FinishedWalk(
                kind=meta["kind"], value=meta["value"], since=_day(meta.get("since")), until=_day(meta.get("until")),
                started_at=_when(meta["started_at"]), pages=int(meta["pages"]),  # type: ignore[arg-type]
                stopped_early=bool(meta["stopped_early"])))
        elif record == "run":
            batch.runs.append(FinishedRun(run_id=meta["run_id"], outcome=meta["outcome"],
                                          finished_at=_when(meta["finished_at"]),  # type: ignore[arg-type]
                                          summary=meta.get("summary") or {},
                                          rebuild_since=_when(meta.get("rebuild_since"))))
        else:
            raise SpoolRefused(f"{where} holds a record this version does not know ({record!r}); "
                               "upgrade foi-corpus to write it")
    for meta in threads:
        pages = [p for _, p in sorted(pages_of.get(meta["url"], []), key=lambda x: x[0])]
        batch.outcomes.append(_outcome(meta, pages, where))
    return batch


# ---------------------------------------------------------------- the folder


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform (Windows): the rename is what counts
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Spool:
    """The spool folder of one database."""

    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        self.path = spool_path(self.db_path)

    def files(self) -> list[Path]:
        """Complete spool files, oldest first (temporary files of an interrupted write are not listed)."""
        try:
            names = [e.name for e in os.scandir(self.path) if e.is_file() and _NAME.match(e.name)]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [self.path / n for n in sorted(names)]

    def __bool__(self) -> bool:
        return bool(self.files())

    def threads(self) -> int:
        """How many threads wait in the spool (read from each file's metadata)."""
        total = 0
        for f in self.files():
            try:
                meta = pa.ipc.open_file(str(f)).schema.metadata or {}
                total += int(meta.get(b"threads", b"0"))
            except (OSError, pa.ArrowInvalid, ValueError):
                continue
        return total

    def write(self, batch: Batch, *, run_id: str, site: str | None) -> Path:
        """Keep ``batch`` in a new spool file, written atomically; returns its path."""
        self.path.mkdir(exist_ok=True)
        existing = self.files()
        seq = int(_NAME.match(existing[-1].name).group(1)) + 1 if existing else 1  # type: ignore[union-attr]
        final = self.path / f"{seq:08d}-{run_id}.arrow"
        tmp = self.path / f".{final.name}.tmp"
        table = encode(batch)
        metadata = {
            "spool_format": str(SPOOL_FORMAT), "run_id": run_id, "site": site or "",
            "database": str(self.db_path.resolve()), "schema_version": str(CURRENT_VERSION),
            "threads": str(len(batch.outcomes)), "created_at": datetime.now(timezone.utc).isoformat(),
        }
        table = table.replace_schema_metadata(metadata)
        try:
            with open(tmp, "wb") as fh:
                with pa.ipc.new_file(fh, table.schema) as out:
                    out.write_table(table)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.path)
        return final

    def read(self, path: Path) -> SpoolFile:
        """One spool file, decoded; ``SpoolRefused`` for a file this version cannot take."""
        try:
            table = pa.ipc.open_file(str(path)).read_all()
        except (OSError, pa.ArrowInvalid) as exc:
            raise SpoolRefused(f"{path} cannot be read ({str(exc).splitlines()[0]}); move it out of "
                               f"{self.path.name} and run the command again") from None
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        fmt = int(meta.get("spool_format", "0") or 0)
        if fmt > SPOOL_FORMAT or int(meta.get("schema_version", "0") or 0) > CURRENT_VERSION:
            raise SpoolRefused(f"{path} was written by a newer foi-corpus (spool format {fmt}); "
                               "upgrade foi-corpus (pip install -U foi-corpus) to write it")
        if fmt < 1 or not meta.get("run_id"):
            raise SpoolRefused(f"{path} is not a corpus spool file; move it out of {self.path.name} "
                               "and run the command again")
        return SpoolFile(path=path, run_id=meta["run_id"], site=meta.get("site") or None,
                         database=meta.get("database"), schema_version=int(meta.get("schema_version") or 0),
                         threads=int(meta.get("threads") or 0), batch=decode(table, path))

    def remove(self, path: Path) -> None:
        """Delete a file whose batch is written; the folder goes with its last file."""
        path.unlink(missing_ok=True)
        _fsync_dir(self.path)
        if not self.files():
            for leftover in self.path.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)
            try:
                self.path.rmdir()
            except OSError:
                pass  # something else was put there: leave it


def refused_message(spool: SpoolFile, db_path: Path, total_threads: int) -> str:
    """The one line for a spool this database has no record of."""
    written = f" of {spool.database}" if spool.database and spool.database != str(db_path.resolve()) else ""
    return (f"{spool_path(db_path)} holds {total_threads} threads fetched by sync run {spool.run_id}{written}, which "
            f"{db_path.name} has no record of: it belongs to another database or to an older copy of this one, "
            "so nothing was written; move that folder away (or delete it if those threads are not needed) and "
            "run the command again")
