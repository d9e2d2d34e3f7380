"""``corpus import``: load request pages saved from a browser (or by another tool).

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
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from corpus import DEFAULT_SITE, db, pagestore
from corpus.errors import EXIT_FAILURES, EXIT_OK, UsageError

BATCH_FILES = 200
HTML_SUFFIXES = {".html", ".htm", ".xhtml", ""}
# Parse failures that mean "this is not a request page at all": skip the file.
NOT_A_REQUEST = {"empty", "encoding", "not_request", "error_page", "challenge"}


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
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason): not loaded
    exit_code: int = EXIT_OK

    def describe(self) -> str:
        parts = [
            f"Imported {self.imported} request pages ({self.with_json} with JSON) from {self.files_seen} files: "
            f"{self.new_threads} new threads, {self.updated_threads} updated, {self.unchanged} unchanged, "
            f"{self.new_messages} new messages."
        ]
        if self.parse_failures:
            shown = "; ".join(f"{name} ({why})" for name, why in self.parse_failures[:10])
            more = f" and {len(self.parse_failures) - 10} more" if len(self.parse_failures) > 10 else ""
            parts.append(f"{len(self.parse_failures)} looked like request pages but could not be read (kept for "
                         f"`corpus reparse`): {shown}{more}.")
        if self.skipped:
            shown = "; ".join(f"{name} ({why})" for name, why in self.skipped[:10])
            more = f" and {len(self.skipped) - 10} more" if len(self.skipped) > 10 else ""
            parts.append(f"Skipped {len(self.skipped)} files that are not request pages: {shown}{more}.")
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
        if f.suffix.lower() == ".json":
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


def import_paths(*, db_path: str | Path, site: str = DEFAULT_SITE, paths: list[str | Path]) -> ImportSummary:
    """Import saved request pages from ``paths`` (files or folders) into ``db_path``."""
    from corpus.load import LoadItem, load_threads
    from scraper.pages.request import parse_request
    from scraper.records import ParseFailure
    from scraper.urls import normalise_site

    site = normalise_site(site or DEFAULT_SITE)
    if not paths:
        raise UsageError("nothing to import; give saved request pages (.html) or folders holding them")
    pairs, skipped = collect(list(paths))
    summary = ImportSummary(files_seen=len(pairs) + len(skipped), skipped=list(skipped))
    run_id = uuid.uuid4().hex[:12]
    started = datetime.now(timezone.utc)
    with db.SyncLock(db_path):
        for start in range(0, len(pairs), BATCH_FILES):
            chunk = pairs[start : start + BATCH_FILES]
            pages, items, failures = [], [], []
            now = datetime.now(timezone.utc)
            for html_path, json_path in chunk:
                try:
                    html = html_path.read_bytes()
                    json_bytes = json_path.read_bytes() if json_path else None
                except OSError as exc:
                    summary.skipped.append((str(html_path), f"cannot read: {exc.strerror}"))
                    continue
                parsed = parse_request(html, json_bytes, url=None)
                if isinstance(parsed, ParseFailure) and parsed.kind == "bad_json" and json_bytes is not None:
                    parsed = parse_request(html, None, url=None)
                    json_path, json_bytes = None, None
                if isinstance(parsed, ParseFailure) and parsed.kind in NOT_A_REQUEST:
                    summary.skipped.append((str(html_path), parsed.message))
                    continue
                html_url = "file://" + str(html_path)
                json_url = "file://" + str(json_path) if json_path else None
                html_page = pagestore.make_page(
                    url=html_url, site=site, kind="imported_html", status=None, final_url=html_url,
                    headers=None, body=html, fetched_at=now, companion_url=json_url,
                )
                pages.append(html_page)
                if json_path is not None:
                    pages.append(pagestore.make_page(
                        url=json_url, site=site, kind="imported_json", status=None, final_url=json_url,
                        headers=None, body=json_bytes, fetched_at=now,
                    ))
                if isinstance(parsed, ParseFailure):
                    failures.append((html_url, site, parsed.kind, parsed.message, html_page.sha256, now))
                    summary.parse_failures.append((str(html_path), f"{parsed.kind}: {parsed.message}"))
                    continue
                items.append(LoadItem(parsed=parsed, site=site, source="import", source_url=html_url,
                                      page_sha256=html_page.sha256, fetched_at=now))
                summary.imported += 1
                summary.with_json += json_path is not None
            if not pages:
                continue
            with db.batch(db_path) as con:
                pagestore.store_pages(con, pages)
                if items:
                    stats = load_threads(con, items)
                    summary.new_threads += stats.requests_new
                    summary.updated_threads += stats.requests_changed
                    summary.unchanged += stats.unchanged
                    summary.new_messages += stats.messages_new
                    ok = [i.source_url for i in items]
                    con.execute("DELETE FROM parse_failures WHERE url IN (SELECT unnest(?::VARCHAR[]))", [ok])
                for f in failures:
                    con.execute("INSERT OR REPLACE INTO parse_failures VALUES (?, ?, ?, ?, ?, ?)", list(f))
        summary.exit_code = EXIT_FAILURES if summary.parse_failures or (summary.skipped and not summary.imported) else EXIT_OK
        if summary.imported or summary.parse_failures:
            derive_error = None
            try:
                with db.batch(db_path) as con:
                    _derive(con)
            except Exception as exc:  # the loaded threads are committed; derived tables can be rebuilt
                derive_error = str(exc).splitlines()[0]
                print(f"warning: derived tables were not rebuilt ({derive_error}); run `corpus reparse`", file=sys.stderr)
            with db.batch(db_path) as con:
                con.execute(
                    "INSERT INTO sync_runs (run_id, site, command, started_at, finished_at, outcome, summary) "
                    "VALUES (?, ?, 'corpus import', ?, ?, 'complete', ?)",
                    [run_id, site, started, datetime.now(timezone.utc), json.dumps({
                        "files_seen": summary.files_seen, "imported": summary.imported,
                        "new_threads": summary.new_threads, "updated_threads": summary.updated_threads,
                        "parse_failures": len(summary.parse_failures), "skipped": len(summary.skipped),
                    })],
                )
    print(summary.describe(), flush=True)
    return summary


def _derive(con) -> None:
    import importlib

    try:
        derive = importlib.import_module("corpus.derive")
    except ImportError:
        return
    rebuild = getattr(derive, "rebuild", None)
    if rebuild is not None:
        rebuild(con)
