"""Benchmark: loading parsed threads into DuckDB.

Builds synthetic ``ParsedRequest`` records (default 50,000 threads, six messages
each, ~300,000 messages) and measures

1. a row-at-a-time baseline: one parameterised INSERT per row, measured on a
   sample of threads and expressed as a rate;
2. ``corpus.load.load_threads`` (one set-based upsert per table per batch) into
   an empty database;
3. a re-load of the same threads, which writes nothing new.

The last line is the headline: bulk-load speed-up over the baseline.

    python bench/load.py            # 50,000 threads
    python bench/load.py --quick    # 2,000 threads, for a smoke test
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.db import connect  # noqa: E402
from corpus.load import LoadItem, LoadStats, load_threads, size_bytes_approx  # noqa: E402
from scraper.records import Annotation, Attachment, Direction, Event, Message, ParsedRequest, Person  # noqa: E402

SITE = "https://www.whatdotheyknow.com"
T0 = datetime(2023, 1, 9, 9, 0, tzinfo=timezone.utc)
PARAGRAPH = ("Please provide the number of requests received in each of the last three financial years, "
             "broken down by department and outcome. ")


def synthetic_thread(n: int, messages: int = 6) -> ParsedRequest:
    msgs, events = [], []
    for i in range(messages):
        direction: Direction = "outgoing" if i % 2 == 0 else "incoming"
        mid = n * 10 + i
        sent = T0 + timedelta(minutes=n, days=i * 7)
        atts = []
        if direction == "incoming" and i % 4 == 1:
            atts = [Attachment(part=2, filename=f"response_{mid}.pdf", size_text="120K", content_icon="pdf",
                               download_url=f"/request/thread_{n}/response/{mid}/attach/2/response_{mid}.pdf")]
        msgs.append(Message(message_id=mid, direction=direction, position=i,
                            sender="Requester" if direction == "outgoing" else "FOI Officer",
                            sent_at=sent, sent_at_text=sent.isoformat(), body=PARAGRAPH * (2 + i % 3),
                            delivery_status="delivered" if direction == "outgoing" else None, attachments=atts))
        events.append(Event(event_id=n * 20 + i, event_type="sent" if i == 0 else (
            "response" if direction == "incoming" else "followup_sent"), created_at=sent,
            created_at_text=sent.isoformat(),
            incoming_message_id=mid if direction == "incoming" else None,
            outgoing_message_id=mid if direction == "outgoing" else None))
    anns = []
    if n % 10 == 0:
        anns.append(Annotation(comment_id=n, position=messages, author=Person(f"annotator_{n % 50}", "Annotator"),
                               created_at=T0 + timedelta(days=60), created_at_text=None, text="Useful reply."))
    return ParsedRequest(
        url_title=f"thread_{n}", title=f"Synthetic request {n}", request_id=n,
        requester=Person(f"user_{n % 997}", f"User {n % 997}"),
        authority=Person(f"authority_{n % 431}", f"Authority {n % 431}"),
        law="foi", described_state="successful", calculated_status="successful", display_status="Successful",
        created_at=T0, updated_at=T0 + timedelta(days=40), tags=[("foi", None)],
        messages=msgs, annotations=anns, events=events, has_json=True,
    )


def make_items(count: int, fetched_at: datetime) -> list[LoadItem]:
    return [LoadItem(parsed=synthetic_thread(n), site=SITE, source="sync", source_url=f"{SITE}/request/thread_{n}",
                     page_sha256=None, fetched_at=fetched_at) for n in range(count)]


def row_at_a_time(con, items: list[LoadItem]) -> None:
    """The naive loader: one INSERT per row, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    authorities_met: set[tuple[str, str | None]] = set()
    users_met: set[tuple[str, str | None]] = set()
    for it in items:
        p = it.parsed
        assert p.authority is not None and p.requester is not None  # every synthetic thread has both
        key = f"id:{p.request_id}"
        # the core tables have no key index (schema 7): each authority and user is inserted when first met
        if (it.site, p.authority.url_name) not in authorities_met:
            authorities_met.add((it.site, p.authority.url_name))
            con.execute("INSERT INTO authorities (site, url_name, name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
                        [it.site, p.authority.url_name, p.authority.name, it.fetched_at, it.fetched_at])
        if (it.site, p.requester.url_name) not in users_met:
            users_met.add((it.site, p.requester.url_name))
            con.execute("INSERT INTO users (site, url_name, name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
                        [it.site, p.requester.url_name, p.requester.name, it.fetched_at, it.fetched_at])
        con.execute(
            "INSERT INTO requests (site, request_key, request_id, url_title, title, authority_url_name, authority_name,"
            " requester_url_name, requester_name, law, described_state, calculated_status, display_status,"
            " created_at, updated_at, tags, has_json, source, source_url, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [it.site, key, p.request_id, p.url_title, p.title, p.authority.url_name, p.authority.name,
             p.requester.url_name, p.requester.name, p.law, p.described_state, p.calculated_status,
             p.display_status, p.created_at, p.updated_at, [t for t, _ in p.tags], p.has_json, it.source,
             it.source_url, it.fetched_at, it.fetched_at])
        types = {(("incoming", e.incoming_message_id) if e.incoming_message_id else ("outgoing", e.outgoing_message_id)):
                 e.event_type for e in p.events}
        for m in p.messages:
            con.execute(
                "INSERT INTO messages (site, request_key, message_id, direction, position, event_type, sender,"
                " sent_at, sent_at_text, body, delivery_status, prominence, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [it.site, key, m.message_id, m.direction, m.position, types.get((m.direction, m.message_id)),
                 m.sender, m.sent_at, m.sent_at_text, m.body, m.delivery_status, m.prominence,
                 it.fetched_at, it.fetched_at])
            for a in m.attachments:
                con.execute(
                    "INSERT INTO attachments (site, request_key, incoming_message_id, part, filename, size_text,"
                    " size_bytes_approx, content_icon, download_url, first_seen, last_seen)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [it.site, key, m.message_id, a.part, a.filename, a.size_text, size_bytes_approx(a.size_text),
                     a.content_icon, a.download_url, it.fetched_at, it.fetched_at])
        for an in p.annotations:
            con.execute("INSERT INTO annotations (site, request_key, comment_id, position, author_url_name,"
                        " author_name, text, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [it.site, key, an.comment_id, an.position, an.author.url_name, an.author.name, an.text,
                         it.fetched_at, it.fetched_at])
        for e in p.events:
            con.execute("INSERT INTO events (site, request_key, event_id, event_type, created_at, created_at_text,"
                        " incoming_message_id, outgoing_message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [it.site, key, e.event_id, e.event_type, e.created_at, e.created_at_text,
                         e.incoming_message_id, e.outgoing_message_id])
    con.execute("COMMIT")


def bulk(con, items: list[LoadItem], batch_size: int) -> LoadStats:
    """The loader, one transaction per batch."""
    total = LoadStats()
    for i in range(0, len(items), batch_size):
        con.execute("BEGIN TRANSACTION")
        total.add(load_threads(con, items[i:i + batch_size]))
        con.execute("COMMIT")
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=50_000)
    ap.add_argument("--baseline-threads", type=int, default=500)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--quick", action="store_true", help="2,000 threads, baseline on 100")
    args = ap.parse_args(argv)
    if args.quick:
        args.threads, args.baseline_threads, args.batch = 2_000, 100, 1_000

    fetched = datetime(2024, 6, 1, tzinfo=timezone.utc)
    t = time.perf_counter()
    items = make_items(args.threads, fetched)
    n_msgs = sum(len(it.parsed.messages) for it in items)
    print(f"built {len(items):,} synthetic threads, {n_msgs:,} messages in {time.perf_counter() - t:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        base_con = connect(Path(tmp) / "baseline.duckdb")
        sample = items[: args.baseline_threads]
        t = time.perf_counter()
        row_at_a_time(base_con, sample)
        base_s = time.perf_counter() - t
        base_con.close()
        base_rate = len(sample) / base_s
        base_msg_rate = sum(len(it.parsed.messages) for it in sample) / base_s
        print(f"baseline (row-at-a-time INSERT, {len(sample):,} threads): {base_rate:,.0f} threads/s, "
              f"{base_msg_rate:,.0f} messages/s; would take {len(items) / base_rate:,.0f} s for {len(items):,}")

        con = connect(Path(tmp) / "bulk.duckdb")
        t = time.perf_counter()
        first = bulk(con, items, args.batch)
        first_s = time.perf_counter() - t
        rate = len(items) / first_s
        print(f"bulk load ({len(items):,} threads, batches of {args.batch:,}): {first_s:.1f} s, "
              f"{rate:,.0f} threads/s, {n_msgs / first_s:,.0f} messages/s [{first.describe()}]")

        again = make_items(args.threads, fetched + timedelta(days=1))
        t = time.perf_counter()
        second = bulk(con, again, args.batch)
        second_s = time.perf_counter() - t
        rate2 = len(items) / second_s
        print(f"re-load of the same threads (nothing new): {second_s:.1f} s, {rate2:,.0f} threads/s, "
              f"{n_msgs / second_s:,.0f} messages/s [{second.describe()}]")
        print(f"re-load / first load speed: {rate2 / rate:.2f}x")
        con.close()
        if second.requests_new or second.messages_new or second.unchanged != len(items):
            print("ERROR: the re-load was not idempotent", file=sys.stderr)
            return 1

    print(f"headline: bulk load is {rate / base_rate:.1f}x the row-at-a-time baseline (target >= 30x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
