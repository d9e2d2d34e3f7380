"""Benchmark: building ``request_timeline`` (the timeline step of ``corpus.derive.rebuild``).

    python bench/timeline.py            # 1,000,000 requests, 6,000,000 messages
    python bench/timeline.py --quick    # 20,000 requests

Builds the base tables straight into a DuckDB file with SQL (range + hash, so
every run builds the same data): requests to WhatDoTheyKnow authorities (one in
ten Scottish, one in twenty-five a school, one in twelve under the EIR) and, with
``--sites``, a share on the other built-in sites and on one unknown site; six
messages per request with JSON events, acknowledgements, out-of-office replies,
attachment-only replies and clarification restarts.  Then it times the calendar
and site tables and the whole ``request_timeline`` statement, against a
baseline measured in the same run: one grouped pass over the messages table
(``count``, ``min``/``max`` of ``sent_at`` per request).

Target: the timeline for a million requests in under 5 minutes on 2 cores (a
quarter of the 20-minute budget for rebuilding every derived table), projected
linearly from the measured rate.  The last line says what was missed, if anything.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb  # noqa: E402

from corpus.derive.timeline import build_sql  # noqa: E402
from corpus.schema import MIGRATIONS  # noqa: E402
from corpus.sites import write_sites  # noqa: E402
from corpus.workdays import write_calendar  # noqa: E402

TARGET_MINUTES = 5.0
TODAY = date(2025, 6, 2)
WDTK = "https://www.whatdotheyknow.com"
OTHER_SITES = ["https://fyi.org.nz", "https://www.asktheeu.org", "https://www.righttoknow.org.au",
               "https://dostup.org.ua", "https://foi.example.org"]
BODIES = [
    "Thank you for your email. We are currently processing your request. Our reference: FOI-{n}.",
    "Automatic reply: I am out of the office until Monday with limited access to email.",
    "Please find attached our response to your request for information.",
    "We do not hold the information you asked for. Under section 1(1)(a) we confirm this.",
    "We need more time to consider the public interest and will reply by the date below.",
    "[Email has no body, please see attachments]",
    "Could you please clarify which financial years you are interested in?",
    "The answers are: 14 in 2021, 16 in 2022 and 11 in 2023, as set out in the table below.",
]


def build(con, n: int, authorities: int, other_sites: bool) -> None:
    for ddl in MIGRATIONS:
        con.execute(ddl)
    con.execute("CREATE TEMP MACRO h(a, b) AS CAST(hash(a, b) % 1000000007 AS BIGINT)")
    sites = "[" + ", ".join(f"'{s}'" for s in OTHER_SITES) + "]"
    site_of = (f"CASE WHEN h(i, 40) % 10 = 0 THEN {sites}[1 + h(i, 41) % {len(OTHER_SITES)}] ELSE '{WDTK}' END"
               if other_sites else f"'{WDTK}'")
    con.execute(f"""
        INSERT INTO authorities (site, url_name, name, jurisdiction, tags)
        SELECT s, 'body_' || i, 'Public Body ' || i, CASE WHEN i % 10 = 0 THEN 'scotland' ELSE 'uk' END,
               CASE WHEN i % 10 = 0 THEN ['scotland'] WHEN i % 25 = 1 THEN ['school'] WHEN i % 3 = 0 THEN ['federal', 'ministry']
                    WHEN i % 3 = 1 THEN ['district_council', 'NSW'] ELSE ['council'] END
        FROM range({authorities}) t(i), (SELECT unnest([{"'" + WDTK + "'"}] || {sites if other_sites else '[]'}) AS s)""")
    con.execute(f"""
        INSERT INTO requests (site, request_key, request_id, url_title, title, authority_url_name, authority_name,
                              requester_url_name, requester_name, law, described_state, calculated_status, created_at,
                              closed_to_correspondence)
        SELECT {site_of}, 'id:' || i, i, 'request_' || i, 'Request number ' || (i % 50000),
               'body_' || (h(i, 5) % {authorities}), 'Public Body ' || (h(i, 5) % {authorities}),
               'user_' || (h(i, 6) % 5000), 'User ' || (h(i, 6) % 5000),
               CASE WHEN h(i, 7) % 12 = 0 THEN 'eir' ELSE 'foi' END,
               (['successful', 'partially_successful', 'not_held', 'rejected', 'waiting_response', 'user_withdrawn',
                 'waiting_clarification', 'internal_review'])[1 + h(i, 8) % 8],
               CASE WHEN h(i, 8) % 8 = 4 THEN 'waiting_response_overdue' END,
               TIMESTAMPTZ '2010-01-01 09:00:00+00' + to_days(CAST(h(i, 9) % 5400 AS INTEGER)) + to_minutes(CAST(h(i, 10) % 1440 AS INTEGER)),
               h(i, 11) % 50 = 0
        FROM range({n}) t(i)""")
    con.execute(f"""
        INSERT INTO messages (site, request_key, message_id, direction, position, sent_at, body, body_placeholder, event_type)
        SELECT r.site, r.request_key, m, CASE WHEN m % 2 = 0 THEN 'outgoing' ELSE 'incoming' END, CAST(m % 6 AS INTEGER),
               r.created_at + to_days(CAST((m % 6) * (1 + h(m, 1) % 9) AS INTEGER)) + to_minutes(CAST(h(m, 2) % 600 AS INTEGER)),
               CASE WHEN m % 2 = 0 THEN CASE WHEN m % 6 = 4 AND h(m, 3) % 5 = 0
                                             THEN 'I would like to request an internal review of the handling of my request.'
                                             ELSE 'Dear Public Body, please send me the figures for ' || (m % 97) || '.' END
                    ELSE replace(b[1 + h(m, 4) % {len(BODIES)}], '{{n}}', CAST(m AS VARCHAR)) END,
               m % 2 = 1 AND h(m, 4) % {len(BODIES)} = 5,
               CASE WHEN m % 6 = 0 THEN 'sent' WHEN m % 2 = 0 THEN 'followup_sent' ELSE 'response' END
        FROM range({n * 6}) t(m)
        JOIN requests r ON r.request_id = m // 6,
             (SELECT [{", ".join("'" + b.replace("'", "''") + "'" for b in BODIES)}] AS b)""")
    con.execute("""
        INSERT INTO events (site, request_key, event_id, event_type, created_at, calculated_state, described_state,
                            incoming_message_id, outgoing_message_id)
        SELECT site, request_key, message_id, event_type, sent_at,
               CASE WHEN direction = 'incoming' AND h(message_id, 20) % 4 = 0
                    THEN (['successful', 'waiting_response', 'not_held', 'waiting_clarification'])[1 + h(message_id, 21) % 4] END,
               NULL,
               CASE WHEN direction = 'incoming' THEN message_id END, CASE WHEN direction = 'outgoing' THEN message_id END
        FROM messages WHERE h(message_id, 22) % 3 > 0""")
    con.execute("""
        INSERT INTO attachments (site, request_key, incoming_message_id, part, filename, content_icon)
        SELECT site, request_key, message_id, 2,
               CASE WHEN h(message_id, 30) % 3 = 0 THEN 'scan.jpg' ELSE 'response.pdf' END,
               CASE WHEN h(message_id, 30) % 3 = 0 THEN 'image' ELSE 'pdf' END
        FROM messages WHERE direction = 'incoming' AND (body_placeholder OR h(message_id, 31) % 4 = 0)""")


def _cpu() -> float:
    """CPU seconds of this process, DuckDB's threads included (steadier than wall time on a busy machine)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20,000 requests instead of 1,000,000")
    ap.add_argument("--requests", type=int, help="number of requests (overrides --quick)")
    ap.add_argument("--sites", action="store_true", help="put one request in ten on the other built-in sites")
    ap.add_argument("--keep", metavar="PARQUET", help="write the built request_timeline to this Parquet file")
    ap.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit (the machine may be shared)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run still removes its database
    n = args.requests or (20_000 if args.quick else 1_000_000)
    authorities = max(min(n // 200, 5000), 20)
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(os.path.join(tmp, "bench.duckdb"), config={"memory_limit": args.memory_limit})
        con.execute("SET TimeZone = 'UTC'")
        start = time.perf_counter()
        build(con, n, authorities, args.sites)
        con.execute("CHECKPOINT")
        (n_msgs,) = con.execute("SELECT count(*) FROM messages").fetchall()[0]
        print(f"built {n:,} requests, {n_msgs:,} messages in {time.perf_counter() - start:.1f} s", flush=True)

        start = time.perf_counter()
        con.execute("CREATE TEMP TABLE _baseline AS SELECT site, request_key, count(*) AS n, min(sent_at), max(sent_at) "
                    "FROM messages GROUP BY ALL")
        baseline = time.perf_counter() - start

        start = time.perf_counter()
        write_sites(con)
        write_calendar(con, last_year=TODAY.year + 2)
        tables = time.perf_counter() - start
        start, cpu = time.perf_counter(), _cpu()
        con.execute(build_sql(TODAY))
        timeline, timeline_cpu = time.perf_counter() - start, _cpu() - cpu
        (rows,) = con.execute("SELECT count(*) FROM request_timeline").fetchall()[0]
        if args.keep:
            con.execute(f"COPY (SELECT * FROM request_timeline ORDER BY site, request_key) TO '{args.keep}' (FORMAT parquet)")
        con.close()
    rate = rows / timeline
    projected = 1_000_000 / rate / 60 + tables / 60
    print(f"baseline (one grouped pass over messages): {baseline:.2f} s")
    print(f"calendar and site tables: {tables:.2f} s")
    print(f"request_timeline: {rows:,} rows in {timeline:.2f} s, {rate:,.0f} requests/s, {timeline / baseline:.1f}x the baseline "
          f"(CPU {timeline_cpu:.1f} s, all threads)")
    ok = projected < TARGET_MINUTES
    print(f"headline: a million requests would take {projected:.1f} min for the timeline (target < {TARGET_MINUTES:.0f} min)")
    print(f"MISSED: {'none' if ok else f'timeline projection {projected:.1f} min >= {TARGET_MINUTES:.0f} min'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
