"""Benchmark: ``corpus reparse`` — stored raw pages re-parsed and re-loaded per second.

Renders current-markup request pages and their JSON with the bundled sample
site (``corpus.sample_site``), stores them zlib-compressed in ``pages`` as a
sync would, then times ``corpus.load.reparse`` (parse in a process pool, load in
batches; derived tables excluded, they are timed by their own benchmark).

Projection for a million threads: measured pages per second, taken as linear
in the number of pages (parsing is per page; each batch's upsert touches only
that batch's keys through the primary-key indexes), so
``hours = 1,000,000 / rate / 3600``.  The target is under one hour on 2 cores.

    python bench/reparse.py            # 10,000 threads
    python bench/reparse.py --quick    # 300 threads, for a smoke test
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.db import connect  # noqa: E402
from corpus.load import LoadItem, load_threads  # noqa: E402
from corpus.pagestore import make_page, store_pages  # noqa: E402
from corpus.pipeline import stored_outcome  # noqa: E402

# corpus.reparse and the sample site are imported where used: the reparse's process pool starts from a
# server that imports this script first, and the CLI's own pool starts from the light corpus.cli.

SITE = "https://www.whatdotheyknow.com"
TARGET_HOURS = 1.0


def build_pages(db: Path, n: int) -> tuple[int, int]:
    from corpus.sample_site import generate_corpus
    from corpus.sample_site.render import request_json, request_page

    corpus = generate_corpus(n)
    fetched = datetime(2024, 6, 1, tzinfo=timezone.utc)
    con = connect(db)
    stored = raw = 0
    try:
        batch = []
        for req in corpus.requests:
            url = f"{SITE}/request/{req.url_title}"
            json_url = url + ".json"
            html = request_page(corpus, req, SITE).encode()
            js = request_json(corpus, req)
            raw += len(html) + len(js)
            batch.append(make_page(url=url, site=SITE, kind="request_html", status=200, final_url=url,
                                   headers={"content-type": "text/html; charset=utf-8"}, body=html,
                                   fetched_at=fetched, companion_url=json_url))
            batch.append(make_page(url=json_url, site=SITE, kind="request_json", status=200, final_url=json_url,
                                   headers={"content-type": "application/json"}, body=js, fetched_at=fetched))
            if len(batch) >= 4000:
                stored += store_pages(con, batch)
                batch = []
        stored += store_pages(con, batch)
    finally:
        con.close()
    return stored, raw


def cpu_per_page(db: Path, n: int) -> tuple[float, float, int]:
    """Process CPU seconds per page to parse, and to load, measured serially on ``n`` stored pages.

    Unlike wall time this does not depend on what else the machine is running.
    """
    from corpus.reparse import read_page_rows

    con = connect(db)
    try:
        urls = [r[0] for r in con.execute(
            "SELECT url FROM pages WHERE kind = 'request_html' ORDER BY url LIMIT ?", [n]).fetchall()]
        rows = read_page_rows(con, urls)
        t = time.process_time()
        results = [stored_outcome(r) for r in rows]
        parse = (time.process_time() - t) / len(rows)
        items = [o.load_item for o in results if o is not None and o.load_item is not None]
        t = time.process_time()
        con.execute("BEGIN TRANSACTION")
        load_threads(con, [LoadItem(i.parsed, "https://cpu.example", i.source, i.source_url, i.page_sha256,
                                    i.fetched_at) for i in items])
        con.execute("COMMIT")
        load = (time.process_time() - t) / len(items)
        for table in ("events", "attachments", "annotations", "messages", "requests", "users", "authorities"):
            con.execute(f"DELETE FROM {table} WHERE site = 'https://cpu.example'")
    finally:
        con.close()
    return parse, load, len(rows)


def main(argv: list[str] | None = None) -> int:
    from corpus.reparse import reparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch", type=int, default=2_000)
    ap.add_argument("--quick", action="store_true", help="300 threads")
    args = ap.parse_args(argv)
    if args.quick:
        args.threads, args.batch = 300, 100

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        t = time.perf_counter()
        stored, raw = build_pages(db, args.threads)
        print(f"stored {stored:,} pages ({args.threads:,} request pages + their JSON, {raw / 1e6:,.1f} MB raw) "
              f"in {time.perf_counter() - t:.1f} s")

        parse_cpu, load_cpu, n_sample = cpu_per_page(db, min(args.threads, 300))
        print(f"CPU per page, one process ({n_sample} pages): parse {parse_cpu * 1000:.2f} ms, "
              f"load {load_cpu * 1000:.2f} ms")

        first = reparse(db, workers=args.workers, batch_size=args.batch, derive=False)
        print(f"reparse: {first.pages:,} pages in {first.seconds:.1f} s, {first.pages_per_second:,.1f} pages/s "
              f"with {args.workers} workers [{first.threads:,} threads, {first.failures} failures; "
              f"{first.load.describe()}]")
        again = reparse(db, workers=args.workers, batch_size=args.batch, derive=False)
        print(f"second reparse (tables already full): {again.pages:,} pages in {again.seconds:.1f} s, "
              f"{again.pages_per_second:,.1f} pages/s")
        fresh = reparse(db, workers=args.workers, batch_size=args.batch, derive=False, fresh=True)
        print(f"fresh reparse (tables emptied first): {fresh.pages:,} pages in {fresh.seconds:.1f} s, "
              f"{fresh.pages_per_second:,.1f} pages/s")
        if first.failures or first.threads != args.threads:
            print(f"ERROR: expected {args.threads} threads and no failures", file=sys.stderr)
            return 1

    cpu_hours = 1_000_000 * (parse_cpu / args.workers + load_cpu) / 3600
    print(f"CPU-bound projection for a million threads with {args.workers} workers "
          f"(parse spread over the workers, load serial, no overlap counted): {cpu_hours:.2f} h")
    rate = min(first.pages_per_second, again.pages_per_second, fresh.pages_per_second)
    hours = 1_000_000 / rate / 3600
    print(f"headline: a million threads would take {hours:.2f} h to reparse at the slowest measured rate "
          f"({rate:,.0f} pages/s, linear projection); {TARGET_HOURS / hours:.1f}x the speed needed for < 1 h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
