"""Readers of a corpus file in their own processes, as a notebook or a DuckDB shell would open it.

    python -m tests.reliability.readers hold DB SECONDS OUT [MIN_REQUESTS MIN_QUEUED [RELEASE_FILE]]
    python -m tests.reliability.readers loop DB OUT STOP_FILE PAUSE

``hold`` waits until the sync has written ``MIN_REQUESTS`` threads and queued
``MIN_QUEUED`` URLs, then keeps one read-only connection open for ``SECONDS``,
or until ``RELEASE_FILE`` exists if one is named (querying every second).
``loop`` opens, queries and closes again and again, pausing about ``PAUSE``
seconds in between, until ``STOP_FILE`` exists.  Each writes one JSON line per
look at the data (:func:`observe`) to ``OUT``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

import duckdb

LOOK_EVERY = 1.0  # seconds between looks at the data while a hold lasts

# Every look at the data counts these; none may ever go down for one reader.
COUNTS = {
    "requests": "SELECT count(*) FROM requests",
    "messages": "SELECT count(*) FROM messages",
    "annotations": "SELECT count(*) FROM annotations",
    "pages": "SELECT count(*) FROM pages",
    "done": "SELECT count(*) FROM frontier WHERE state = 'done'",
}
# ... and these half-written states must never be seen (each counts offending rows).
HALF_WRITTEN = {
    "request without messages": "SELECT count(*) FROM requests r WHERE NOT EXISTS "
                                "(SELECT 1 FROM messages m WHERE m.site = r.site AND m.request_key = r.request_key)",
    "messages without request": "SELECT count(*) FROM messages m WHERE NOT EXISTS "
                                "(SELECT 1 FROM requests r WHERE r.site = m.site AND r.request_key = m.request_key)",
    "request without its page": "SELECT count(*) FROM requests r WHERE NOT EXISTS "
                                "(SELECT 1 FROM pages p WHERE p.url = r.source_url AND p.body IS NOT NULL)",
    "done in the frontier, not in requests": "SELECT count(*) FROM frontier f WHERE f.state = 'done' AND NOT EXISTS "
                                             "(SELECT 1 FROM requests r WHERE r.url_title = f.url_title)",
}


def observe(con: duckdb.DuckDBPyConnection) -> dict:
    tables = {t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    if "requests" not in tables:
        return {"empty": True}
    got: dict = {name: con.execute(sql).fetchall()[0][0] for name, sql in COUNTS.items()}
    got["half"] = {name: n for name, sql in HALF_WRITTEN.items() if (n := con.execute(sql).fetchall()[0][0])}
    # the derived tables exist as soon as any thread does, so canned queries work during a first sync
    got["timeline"] = con.execute("SELECT count(*) FROM request_timeline").fetchall()[0][0] \
        if "request_timeline" in tables else None
    got["t"] = time.time()
    return got


def hold(db: str, seconds: float, out: str, min_requests: int = 1, min_queued: int = 0,
         release_file: str | None = None) -> None:
    with open(out, "w") as fh:
        while True:
            try:
                con = duckdb.connect(db, read_only=True)
            except duckdb.Error:
                time.sleep(0.02)
                continue
            seen = observe(con)
            if not seen.get("empty") and seen["requests"] >= min_requests and \
                    con.execute("SELECT count(*) FROM frontier").fetchall()[0][0] >= min_queued:
                break
            con.close()
            time.sleep(0.05)
        fh.write(json.dumps({"holding": True, **seen}) + "\n")
        fh.flush()
        until = time.monotonic() + seconds
        look = time.monotonic() + LOOK_EVERY
        while time.monotonic() < until and not (release_file and os.path.exists(release_file)):
            time.sleep(max(0.0, min(0.05, until - time.monotonic())))
            if time.monotonic() >= look:
                look += LOOK_EVERY
                fh.write(json.dumps(observe(con)) + "\n")
                fh.flush()
        fh.write(json.dumps(observe(con)) + "\n")
        con.close()
        fh.write(json.dumps({"released": True, "t": time.time()}) + "\n")


def loop(db: str, out: str, stop_file: str, pause: float) -> None:
    rng = random.Random(os.getpid())
    refused = 0
    with open(out, "w") as fh:
        while not os.path.exists(stop_file):
            try:
                con = duckdb.connect(db, read_only=True)
            except duckdb.Error:
                refused += 1
                time.sleep(rng.uniform(0, pause))
                continue
            try:
                seen = observe(con)
            finally:
                con.close()
            fh.write(json.dumps(seen) + "\n")
            fh.flush()
            time.sleep(rng.uniform(pause / 2, pause * 1.5))
        fh.write(json.dumps({"refused": refused}) + "\n")


if __name__ == "__main__":
    what, *args = sys.argv[1:]
    if what == "hold":
        min_requests, min_queued = (int(a) for a in (args[3:5] or ["1", "0"]))
        hold(args[0], float(args[1]), args[2], min_requests, min_queued, args[5] if len(args) > 5 else None)
    elif what == "loop":
        loop(args[0], args[1], args[2], float(args[3]))
    else:
        raise SystemExit(f"unknown reader {what!r}: hold or loop")
