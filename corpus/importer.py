"""``corpus import``: load request pages saved from a browser (or by another tool), or web-archive files.

Web-archive files (``.warc``, ``.warc.gz``, ``.wacz``, given or found in the
folders) are read by ``corpus.archive_import``: every capture of the site's
pages in them is loaded, each thread from its latest capture.

For each HTML file the JSON companion is looked for beside it: for
``thread.html`` (or ``thread`` with no extension) that is ``thread.json``, or
``thread.html.json``.  Folders are read recursively.  Pages go through the
same parser and loader as ``corpus sync``; the raw files are kept in ``pages``
(kind ``imported_html`` / ``imported_json``, url ``file://<absolute path>``),
so ``corpus reparse`` works on them too.  A file that is not a request page is
named in the summary and skipped; the import goes on.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from corpus import DEFAULT_SITE, db
from corpus.archive_import import ArchiveFileSummary, ThreadCaptures, read_file, thread_outcomes
from corpus.derive import rebuild
from corpus.errors import EXIT_FAILURES, EXIT_OK, UsageError
from corpus.pipeline import RawPage, RawThread, ThreadOutcome, outcome_of
from corpus.writer import Writer
from scraper.archive.warc import is_archive_file
from scraper.urls import normalise_site

BATCH_FILES = 200
HTML_SUFFIXES = {".html", ".htm", ".xhtml", ""}
# Parse failures that mean "this is not a request page at all": skip the file.
NOT_A_REQUEST = {"empty", "encoding", "not_request", "error_page", "challenge"}


def _listed(what: list[tuple[str, str]], limit: int = 10) -> str:
    shown = "; ".join(f"{name} ({why})" for name, why in what[:limit])
    more = f" and {len(what) - limit} more" if len(what) > limit else ""
    return shown + more


@dataclass
class ImportSummary:
    files_seen: int = 0
    imported: int = 0  # request pages loaded
    with_json: int = 0
    new_threads: int = 0
    updated_threads: int = 0
    unchanged: int = 0
    new_messages: int = 0
    parse_failures: list[tuple[str, str]] = field(default_factory=list)  # (file, reason): page kept
    bad_json: list[tuple[str, str]] = field(default_factory=list)  # (file, problem): loaded from the HTML alone
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason): not loaded
    warnings: list[str] = field(default_factory=list)
    exit_code: int = EXIT_OK
    archives: ArchiveFileSummary | None = None  # what the WARC/WACZ files held, when there were any
    withheld: int = 0  # copies of requests the live site reported removed: not used
    stale: int = 0  # captures older than what the corpus holds: kept as history only

    def describe(self) -> str:
        parts = [
            f"Imported {self.imported} request pages ({self.with_json} with JSON) from {self.files_seen} files: "
            f"{self.new_threads} new threads, {self.updated_threads} updated, {self.unchanged} unchanged, "
            f"{self.new_messages} new messages."
        ]
        if self.bad_json:
            parts.append(f"{len(self.bad_json)} JSON files could not be read, so those pages were loaded from their "
                         f"HTML alone: {_listed(self.bad_json)}.")
        if self.parse_failures:
            parts.append(f"{len(self.parse_failures)} looked like request pages but could not be read (kept for "
                         f"`corpus reparse`): {_listed(self.parse_failures)}.")
        if self.skipped:
            parts.append(f"Skipped {len(self.skipped)} files that are not request pages: {_listed(self.skipped)}.")
        if self.archives is not None:
            parts.append(self.archives.describe())
        if self.withheld:
            parts.append(f"{self.withheld} threads were not used: the live site had reported them removed or "
                         "hidden.")
        if self.stale:
            parts.append(f"{self.stale} threads were captured before the copies already held: kept as history only.")
        return " ".join(parts)


def _json_beside(html: Path) -> Path | None:
    candidates = [html.with_suffix(".json")] if html.suffix else [html.with_name(html.name + ".json")]
    candidates.append(html.with_name(html.name + ".json"))
    for c in candidates:
        if c != html and c.is_file():
            return c
    return None


def collect(paths: list[str | Path]) -> tuple[list[tuple[Path, Path | None]], list[tuple[str, str]]]:
    """Pair HTML files with their JSON; return (pairs, skipped files with reasons)."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        elif p.is_file():
            files.append(p)
        else:
            raise UsageError(f"{raw} does not exist; give saved request pages (.html) or folders holding them")
    files = list(dict.fromkeys(f.resolve() for f in files))
    pairs: list[tuple[Path, Path | None]] = []
    used_json: set[Path] = set()
    skipped: list[tuple[str, str]] = []
    for f in files:
        if f.suffix.lower() == ".json" or is_archive_file(f):
            continue
        if f.suffix.lower() not in HTML_SUFFIXES:
            skipped.append((str(f), f"not an HTML file ({f.suffix})"))
            continue
        companion = _json_beside(f)
        if companion is not None:
            used_json.add(companion.resolve())
        pairs.append((f, companion))
    for f in files:
        if f.suffix.lower() == ".json" and f not in used_json:
            skipped.append((str(f), "a JSON file with no saved HTML page beside it"))
    return pairs, skipped


def archive_files(paths: list[str | Path]) -> list[Path]:
    """The WARC/WACZ files among ``paths`` (folders searched recursively)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and is_archive_file(f)))
        elif p.is_file() and is_archive_file(p):
            found.append(p)
    return list(dict.fromkeys(f.resolve() for f in found))


def _read(html_path: Path, json_path: Path | None, site: str, now: datetime) -> RawThread:
    html_url = "file://" + str(html_path)
    raw = RawThread(url=html_url, site=site, origin="files", source="import", fetched_at=now,
                    html=RawPage(url=html_url, body=html_path.read_bytes()))
    if json_path is not None:
        raw.json = RawPage(url="file://" + str(json_path), body=json_path.read_bytes())
    return raw


def import_paths(*, db_path: str | Path, site: str = DEFAULT_SITE, paths: list[str | Path]) -> ImportSummary:
    """Import saved request pages from ``paths`` (files or folders) into ``db_path``; returns the summary."""
    site = normalise_site(site or DEFAULT_SITE)
    if not paths:
        raise UsageError("nothing to import; give saved request pages (.html) or folders holding them")
    pairs, skipped = collect(list(paths))
    archives = archive_files(list(paths))
    summary = ImportSummary(files_seen=len(pairs) + len(skipped) + len(archives), skipped=list(skipped))
    run_id = uuid.uuid4().hex[:12]
    started = datetime.now(timezone.utc)
    with db.SyncLock(db_path):
        writer = Writer(db_path, site=site)
        try:
            for start in range(0, len(pairs), BATCH_FILES):
                _import_batch(writer, pairs[start : start + BATCH_FILES], site, summary)
            if archives:
                _import_archives(writer, archives, site, summary)
            failed = bool(summary.parse_failures or (summary.skipped and not summary.imported))
            if summary.archives is not None and (summary.archives.damaged or (
                    not summary.imported and not summary.unchanged and not summary.withheld and not summary.stale
                    and not summary.archives.removed_in_archive)):
                failed = True  # an archive file was cut short or damaged, or held nothing usable
            summary.exit_code = EXIT_FAILURES if failed else EXIT_OK
            if summary.imported or summary.parse_failures:
                try:
                    writer.call(rebuild)
                except Exception as exc:  # the loaded threads are committed; derived tables can be rebuilt
                    summary.warnings.append(f"derived tables were not rebuilt ({str(exc).splitlines()[0]}); "
                                            "run `corpus reparse`")
                writer.call(_record_run, run_id, site, started, summary)
        finally:
            writer.close()
    return summary


def _import_batch(writer: Writer, pairs: list[tuple[Path, Path | None]], site: str, summary: ImportSummary) -> None:
    now = datetime.now(timezone.utc)
    files: dict[str, Path] = {}
    outcomes: list[ThreadOutcome] = []
    for html_path, json_path in pairs:
        try:
            raw = _read(html_path, json_path, site, now)
        except OSError as exc:
            summary.skipped.append((str(html_path), f"cannot read: {exc.strerror}"))
            continue
        outcome = outcome_of(raw)
        if outcome.kind == "parse_failed" and outcome.failure and outcome.failure.kind in NOT_A_REQUEST:
            summary.skipped.append((str(html_path), outcome.failure.message))
            continue
        files[outcome.url] = html_path
        outcomes.append(outcome)
        writer.add(outcome)
    if not outcomes:
        return
    result = writer.write()
    isolated = {o.url: o for o in result.isolated}
    for o in outcomes:
        o = isolated.get(o.url, o)
        name = str(files[o.url])
        if o.kind == "parse_failed" and o.failure is not None:
            summary.parse_failures.append((name, f"{o.failure.kind}: {o.failure.message}"))
            continue
        if o.kind == "withheld":  # the live site reported it removed: the saved copy is not used
            summary.withheld += 1
            continue
        summary.imported += 1
        summary.with_json += not o.json_missing
        if o.json_problem:
            summary.bad_json.append((name, o.json_problem))
    summary.new_threads += result.load.requests_new
    summary.updated_threads += result.load.requests_changed
    summary.unchanged += result.load.unchanged
    summary.new_messages += result.load.messages_new


def _import_archives(writer: Writer, paths: list[Path], site: str, summary: ImportSummary) -> None:
    """WARC/WACZ files: their listings and attachments as pages, their threads through the pipeline.

    The files are read first (each thread from its latest capture in any of them), then the threads written.
    """
    summary.archives = ArchiveFileSummary()

    def keep(pages) -> None:
        writer.keep_pages(pages)
        writer.write()

    threads: dict[str, ThreadCaptures] = {}
    for path in paths:
        read_file(path, site, summary.archives, keep, threads)
    outcomes = thread_outcomes(site, threads, summary.archives)
    for start in range(0, len(outcomes), BATCH_FILES):
        for o in outcomes[start : start + BATCH_FILES]:
            writer.add(o)
        result = writer.write()
        isolated = {o.url: o for o in result.isolated}
        for o in result.outcomes:
            o = isolated.get(o.url, o)
            if o.kind == "withheld":
                summary.withheld += 1
            elif o.kind == "stale":
                summary.stale += 1
            elif o.kind == "unchanged":
                summary.unchanged += 1
            elif o.kind == "parse_failed" and o.failure is not None:
                summary.parse_failures.append((o.page_url or o.url, f"{o.failure.kind}: {o.failure.message}"))
            elif o.kind == "loaded":
                summary.imported += 1
                summary.with_json += not o.json_missing
        summary.new_threads += result.load.requests_new
        summary.updated_threads += result.load.requests_changed
        summary.unchanged += result.load.unchanged
        summary.new_messages += result.load.messages_new


def _record_run(con, run_id: str, site: str, started: datetime, summary: ImportSummary) -> None:
    con.execute(
        "INSERT INTO sync_runs (run_id, site, command, started_at, finished_at, outcome, summary) "
        "VALUES (?, ?, 'corpus import', ?, ?, 'complete', ?)",
        [run_id, site, started, datetime.now(timezone.utc), json.dumps({
            "files_seen": summary.files_seen, "imported": summary.imported,
            "new_threads": summary.new_threads, "updated_threads": summary.updated_threads,
            "parse_failures": len(summary.parse_failures), "bad_json": len(summary.bad_json),
            "skipped": len(summary.skipped), "withheld": summary.withheld, "stale": summary.stale,
            "archives": summary.archives.as_json() if summary.archives is not None else None,
        })],
    )
