"""``corpus demo``: the whole pipeline against the bundled sample site, offline.

Starts the sample Alaveteli site on 127.0.0.1, runs a real ``corpus sync`` of
every request it holds at a fast local rate, prints the summary and a few
canned query results, and stops the server.

The demo writes to its own file (``./foi-demo.duckdb`` by default), never to
the user's corpus, and stores the sample site under one stable address,
:data:`DEMO_SITE`, whatever port the server had: it syncs into a new file
beside the target, moves the site address over, and renames the new file over
the old.  Running it again therefore gives the same database, not a second
copy of every thread.  A file that holds threads of any other site is refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import duckdb

from corpus.db import SyncLock, batch, connect
from corpus.errors import CorpusError, UsageError
from corpus.progress import Reporter
from corpus.queries import format_table, run_query
from corpus.sample_site import FakeSite, sample_corpus
from corpus.search.index import index_dir, update_search_index
from corpus.sync import SyncOptions, run_sync

DEMO_DB = "foi-demo.duckdb"
# The sample site's address in the demo database.  ".invalid" is reserved
# (RFC 2606): it can never be a real site, and no request is ever sent to it.
DEMO_SITE = "https://sample-site.invalid"
DEMO_RATE = 100.0  # requests per second: the sample site is local
DEMO_QUERIES = ("outcomes", "response_times", "refusal_grounds")


def run_demo(*, db_path: str | Path = DEMO_DB, quiet: bool = True) -> int:
    """Build the demo corpus at ``db_path`` from the sample site and show some results; returns the sync's exit code."""
    path = Path(db_path)
    _check_target(path)
    with SyncLock(path, command="corpus demo"):
        _check_target(path)  # again, now that no other demo can be writing it
        building = path.with_name(path.name + ".building")
        _remove_db_files(building)
        try:
            summary, served_at = _sync_sample_site(building, quiet=quiet)
            if summary.exit_code != 0:
                print(f"\nThe demo sync did not finish cleanly (exit code {summary.exit_code}); {path} was left as it was.")
                return summary.exit_code
            _move_site(building, served_at, DEMO_SITE)
            shutil.rmtree(index_dir(path), ignore_errors=True)
            os.replace(building, path)
            with batch(path) as con:  # the search index, made for the final file and the stable address
                update_search_index(con)
        finally:
            _remove_db_files(building)
    _show_results(path)
    print(f"\nThe demo corpus is in {path} (site {DEMO_SITE}); try `corpus queries`, "
          f"`corpus query outcomes --db {path}`, `corpus report --db {path} --output report.html` "
          f"or `duckdb -readonly {path}`.")
    return summary.exit_code


def _check_target(path: Path) -> None:
    """Refuse a target that is not a corpus, or holds another site's threads (it would be replaced)."""
    if path.is_file() and not path.is_symlink() and path.stat().st_size == 0:
        return  # an empty file: nothing to lose
    if not path.exists() and not path.is_symlink():
        connect_check = path.parent if str(path.parent) else Path(".")
        if not connect_check.is_dir():
            raise UsageError(f"cannot create {path}: folder {connect_check} does not exist; create it or use another --db")
        return
    con = connect(path, read_only=True)  # refuses special files and files that are not corpus databases
    try:
        sites = [r[0] for r in con.execute(
            "SELECT site FROM requests UNION SELECT site FROM frontier UNION SELECT site FROM pages ORDER BY 1"
        ).fetchall()]
    finally:
        con.close()
    others = [s for s in sites if s != DEMO_SITE]
    if others:
        raise UsageError(
            f"{path} holds threads from {others[0]}" + (f" and {len(others) - 1} other site(s)" if len(others) > 1 else "")
            + f"; the demo writes only to a file of its own and would replace this one: run `corpus demo` "
            f"(it writes {DEMO_DB}) or give --db a new file"
        )


def _remove_db_files(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal"), path.with_name(path.name + ".sync.lock")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    shutil.rmtree(index_dir(path), ignore_errors=True)


def _sync_sample_site(db_path: Path, *, quiet: bool):
    corpus = sample_corpus()
    site = FakeSite(corpus).start()
    try:
        print(f"Sample Alaveteli site serving {len(corpus.requests)} requests at {site.url} (stored as {DEMO_SITE})")
        options = SyncOptions.build(db_path=db_path, site=site.url, authorities=sorted(corpus.authorities),
                                    rate=DEMO_RATE)
        summary = run_sync(options, reporter=Reporter(quiet=quiet))
    finally:
        site.stop()
    print(summary.describe())
    return summary, site.url


def _move_site(db_path: Path, old: str, new: str) -> None:
    """Replace the address ``old`` by ``new`` in every text column of every table (site, URLs, commands).

    The raw pages themselves (``pages.body``) keep the links they were served with.
    The search index, built under the old address and file, is dropped here and
    built again for the final file.
    """
    with batch(db_path) as con:
        con.execute("DROP TABLE IF EXISTS search_docs")
        con.execute("DROP TABLE IF EXISTS search_index_state")
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND data_type IN ('VARCHAR', 'JSON') ORDER BY table_name, ordinal_position"
        ).fetchall()
        for table, column, data_type in columns:
            value = f'"{column}"::VARCHAR' if data_type == "JSON" else f'"{column}"'
            con.execute(
                f'UPDATE "{table}" SET "{column}" = replace({value}, $old, $new) WHERE contains({value}, $old)',
                {"old": old, "new": new},
            )


def _show_results(db_path: str | Path) -> None:
    for name in DEMO_QUERIES:
        try:
            table = run_query(db_path, name, {})
        except (duckdb.Error, CorpusError) as exc:  # a query needing parameters or tables this database lacks
            print(f"\n{name}: not shown ({str(exc).splitlines()[0]})")
            continue
        print(f"\n== corpus query {name} ({table.num_rows} rows) ==")
        print(format_table(table.slice(0, 10)))
