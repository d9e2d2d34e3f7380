"""``corpus demo``: the whole pipeline against the bundled sample site, offline.

Starts the sample Alaveteli site on 127.0.0.1, runs a real ``corpus sync`` of
every request it holds at a fast local rate, prints the summary, then a few
canned query results, and stops the server.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DEMO_RATE = 100.0  # requests per second: the sample site is local
DEMO_QUERIES = ("outcomes", "response_times", "refusal_grounds")


def run_demo(*, db_path: str | Path, quiet: bool = True) -> int:
    """Sync the sample site into ``db_path`` and show some results; returns the sync's exit code."""
    from corpus.sample_site import FakeSite, sample_corpus
    from corpus.sync import run_sync

    corpus = sample_corpus()
    site = FakeSite(corpus, serve_2019_pages_from=False).start()
    try:
        print(f"Sample Alaveteli site serving {len(corpus.requests)} requests at {site.url}")
        targets = sorted(corpus.authorities)
        if importlib.util.find_spec("scraper.discovery") is not None:
            summary = run_sync(db_path=db_path, site=site.url, authorities=targets, rate=DEMO_RATE, quiet=quiet)
        else:  # no listing walker in this build: ask for each thread by name
            summary = run_sync(
                db_path=db_path, site=site.url, requests=[r.url_title for r in corpus.requests], rate=DEMO_RATE,
                quiet=quiet,
            )
    finally:
        site.stop()
    _show_results(db_path)
    print(f"\nThe corpus is in {db_path}; try `corpus queries`, `corpus query outcomes --db {db_path}` "
          f"or `duckdb -readonly {db_path}`.")
    return summary.exit_code


def _show_results(db_path) -> None:
    try:
        from corpus.queries import format_table, run_query
    except ImportError:
        run_query = None
    if run_query is not None:
        for name in DEMO_QUERIES:
            try:
                table = run_query(db_path, name, {})
            except Exception as exc:  # a query needing parameters or tables this build lacks
                print(f"\n{name}: not shown ({str(exc).splitlines()[0]})")
                continue
            print(f"\n== corpus query {name} ({table.num_rows} rows) ==")
            print(format_table(table.slice(0, 10)))
        return
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for table in ("authorities", "users", "requests", "messages", "annotations"):
            n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            print(f"{table}: {n}")
    finally:
        con.close()
