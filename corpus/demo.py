"""``corpus demo``: the whole pipeline against the bundled sample site, offline.

Starts the sample Alaveteli site on 127.0.0.1, runs a real ``corpus sync`` of
every request it holds at a fast local rate, prints the summary, then a few
canned query results, and stops the server.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from corpus.errors import CorpusError
from corpus.progress import Reporter
from corpus.queries import format_table, run_query
from corpus.sample_site import FakeSite, sample_corpus
from corpus.sync import SyncOptions, run_sync

DEMO_RATE = 100.0  # requests per second: the sample site is local
DEMO_QUERIES = ("outcomes", "response_times", "refusal_grounds")


def run_demo(*, db_path: str | Path, quiet: bool = True) -> int:
    """Sync the sample site into ``db_path`` and show some results; returns the sync's exit code."""
    corpus = sample_corpus()
    site = FakeSite(corpus).start()
    try:
        print(f"Sample Alaveteli site serving {len(corpus.requests)} requests at {site.url}")
        options = SyncOptions.build(db_path=db_path, site=site.url, authorities=sorted(corpus.authorities),
                                    rate=DEMO_RATE)
        summary = run_sync(options, reporter=Reporter(quiet=quiet))
    finally:
        site.stop()
    print(summary.describe())
    _show_results(db_path)
    print(f"\nThe corpus is in {db_path}; try `corpus queries`, `corpus query outcomes --db {db_path}` "
          f"or `duckdb -readonly {db_path}`.")
    return summary.exit_code


def _show_results(db_path: str | Path) -> None:
    for name in DEMO_QUERIES:
        try:
            table = run_query(db_path, name, {})
        except (duckdb.Error, CorpusError) as exc:  # a query needing parameters or tables this database lacks
            print(f"\n{name}: not shown ({str(exc).splitlines()[0]})")
            continue
        print(f"\n== corpus query {name} ({table.num_rows} rows) ==")
        print(format_table(table.slice(0, 10)))
