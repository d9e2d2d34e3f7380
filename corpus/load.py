"""Loading parsed threads into the core tables, idempotently and in bulk.

Every batch becomes one Arrow table per target table and one set-based upsert
(``INSERT … ON CONFLICT DO UPDATE``) per table; nothing is written a row at a
time.  The rules (README, "Database schema"):

* a request is keyed ``id:<n>`` once its numeric id is known, else
  ``slug:<url_title>``; when the id becomes known the request and its children
  are re-keyed;
* re-loading an unchanged thread writes nothing but ``last_seen``;
* nothing is deleted: a message that vanished from the page stays, and a message
  the site has since hidden keeps the body stored earlier, with the new
  prominence and ``hidden_since``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from corpus.db import table_exists
from scraper.records import ParsedRequest, Person

HIDDEN_PROMINENCES = ("hidden", "requester_only")

_TS = pa.timestamp("us", tz="UTC")


@dataclass(slots=True)
class LoadItem:
    parsed: ParsedRequest
    site: str
    source: str  # 'sync' | 'import'
    source_url: str
    page_sha256: str | None
    fetched_at: datetime


@dataclass(slots=True)
class LoadStats:
    requests_new: int = 0
    requests_changed: int = 0
    messages_new: int = 0
    annotations_new: int = 0
    attachments_new: int = 0
    events_new: int = 0
    unchanged: int = 0

    def add(self, other: LoadStats) -> LoadStats:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def describe(self) -> str:
        return (
            f"{self.requests_new} new threads, {self.requests_changed} changed, {self.unchanged} unchanged; "
            f"{self.messages_new} new messages, {self.annotations_new} new annotations, "
            f"{self.attachments_new} new attachments, {self.events_new} new events"
        )


# ------------------------------------------------------------------ helpers

_SIZE_RE = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*([A-Za-z]*)\s*$")
_SIZE_UNITS = {
    "": 1, "b": 1, "byte": 1, "bytes": 1,
    "k": 1024, "kb": 1024, "kib": 1024,
    "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1024**3, "gib": 1024**3,
}


def size_bytes_approx(size_text: str | None) -> int | None:
    """Approximate bytes from the size shown on the page: "78K" → 79872, "1.2M", "512 bytes"."""
    if not size_text:
        return None
    m = _SIZE_RE.match(size_text)
    if not m:
        return None
    unit = _SIZE_UNITS.get(m.group(2).lower())
    if unit is None:
        return None
    return round(float(m.group(1).replace(",", ".")) * unit)


def request_key_for(request_id: int | None, url_title: str) -> str:
    return f"id:{request_id}" if request_id is not None else f"slug:{url_title}"


def user_url_name(person: Person) -> str:
    """Site slug of a user; 'external:<name>' for external and anonymous requesters."""
    return person.url_name if person.url_name else f"external:{person.name}"


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        return ts.replace(tzinfo=timezone.utc)
    return ts


# ------------------------------------------------------------------ column layouts

_REQUEST_COLS: list[tuple[str, pa.DataType]] = [
    ("site", pa.string()), ("request_key", pa.string()), ("request_id", pa.int64()),
    ("url_title", pa.string()), ("title", pa.string()),
    ("authority_url_name", pa.string()), ("authority_name", pa.string()),
    ("requester_url_name", pa.string()), ("requester_name", pa.string()), ("requester_external", pa.bool_()),
    ("law", pa.string()), ("described_state", pa.string()), ("calculated_status", pa.string()),
    ("display_status", pa.string()), ("status_sentence", pa.string()), ("due_date", pa.date32()),
    ("awaiting_description", pa.bool_()), ("closed_to_correspondence", pa.bool_()),
    ("restricted_correspondence", pa.bool_()), ("authority_not_subject", pa.bool_()), ("eir_only", pa.bool_()),
    ("hidden", pa.bool_()), ("prominence", pa.string()), ("created_at", _TS), ("updated_at", _TS),
    ("batch_id", pa.int64()), ("batch_size", pa.int32()), ("tags", pa.list_(pa.string())),
    ("markup_era", pa.string()), ("has_json", pa.bool_()), ("removed", pa.bool_()),
    ("source", pa.string()), ("source_url", pa.string()), ("page_sha256", pa.string()),
    ("first_seen", _TS), ("last_seen", _TS),
]
# Known only from the JSON: a later load without JSON must not blank them.
_REQUEST_JSON_ONLY = {"request_id", "described_state", "display_status", "prominence", "created_at",
                      "updated_at", "batch_id", "batch_size", "tags"}
# What "the thread changed" means: content, not provenance or sighting times.
_REQUEST_CONTENT = [c for c, _ in _REQUEST_COLS if c not in {
    "site", "request_key", "source", "source_url", "page_sha256", "first_seen", "last_seen", "has_json"}]

_MESSAGE_COLS: list[tuple[str, pa.DataType]] = [
    ("site", pa.string()), ("request_key", pa.string()), ("message_id", pa.int64()), ("direction", pa.string()),
    ("position", pa.int32()), ("event_type", pa.string()), ("sender", pa.string()),
    ("sent_at", _TS), ("sent_at_text", pa.string()), ("body", pa.string()), ("quoted_text", pa.string()),
    ("quoted_folded", pa.bool_()), ("body_placeholder", pa.bool_()), ("subject_only", pa.bool_()),
    ("resent", pa.bool_()), ("delivery_status", pa.string()), ("prominence", pa.string()),
    ("hidden_since", _TS), ("first_seen", _TS), ("last_seen", _TS),
]
_ATTACHMENT_COLS: list[tuple[str, pa.DataType]] = [
    ("site", pa.string()), ("request_key", pa.string()), ("incoming_message_id", pa.int64()), ("part", pa.int32()),
    ("filename", pa.string()), ("size_text", pa.string()), ("size_bytes_approx", pa.int64()),
    ("content_icon", pa.string()), ("download_url", pa.string()), ("html_url", pa.string()),
    ("erased", pa.bool_()), ("hidden", pa.bool_()), ("first_seen", _TS), ("last_seen", _TS),
    ("database_id", pa.int64()),
]
_ANNOTATION_COLS: list[tuple[str, pa.DataType]] = [
    ("site", pa.string()), ("request_key", pa.string()), ("comment_id", pa.int64()), ("position", pa.int32()),
    ("author_url_name", pa.string()), ("author_name", pa.string()), ("created_at", _TS),
    ("created_at_text", pa.string()), ("text", pa.string()), ("first_seen", _TS), ("last_seen", _TS),
]
_EVENT_COLS: list[tuple[str, pa.DataType]] = [
    ("site", pa.string()), ("request_key", pa.string()), ("event_id", pa.int64()), ("event_type", pa.string()),
    ("created_at", _TS), ("created_at_text", pa.string()), ("described_state", pa.string()),
    ("calculated_state", pa.string()), ("last_described_at", _TS), ("incoming_message_id", pa.int64()),
    ("outgoing_message_id", pa.int64()), ("comment_id", pa.int64()), ("display_status", pa.string()),
]
_AUTHORITY_COLS: list[tuple[str, pa.DataType]] = [
    ("site", pa.string()), ("url_name", pa.string()), ("authority_id", pa.int64()), ("name", pa.string()),
    ("short_name", pa.string()), ("tags", pa.list_(pa.string())), ("jurisdiction", pa.string()),
    ("home_page", pa.string()), ("first_seen", _TS), ("last_seen", _TS),
]

# Tags WhatDoTheyKnow gives Scottish public authorities (e.g. "scotland", "scotland_council");
# their requests fall under FOISA / the Scottish EIR.
SCOTTISH_TAGS = frozenset({"scotland", "scottish", "foisa"})


def tag_strings(tags) -> list[str]:
    """[(name, value)] pairs as the strings the authorities table stores: "name" or "name:value"."""
    return [f"{n}:{v}" if v else n for n, v in tags]


def jurisdiction_from_tags(tags: list[str] | None) -> str | None:
    """'scotland' for an authority tagged as Scottish, 'uk' otherwise; None when its tags are unknown."""
    if tags is None:
        return None
    names = {t.split(":", 1)[0].lower() for t in tags}
    return "scotland" if names & SCOTTISH_TAGS else "uk"
_USER_COLS: list[tuple[str, pa.DataType]] = [
    ("site", pa.string()), ("url_name", pa.string()), ("user_id", pa.int64()), ("name", pa.string()),
    ("external", pa.bool_()), ("first_seen", _TS), ("last_seen", _TS),
]


def _arrow(cols: list[tuple[str, pa.DataType]], rows: list[tuple]) -> pa.Table:
    schema = pa.schema([pa.field(n, t) for n, t in cols])
    if not rows:
        return schema.empty_table()
    columns = list(zip(*rows))
    return pa.table([pa.array(columns[i], type=t) for i, (_, t) in enumerate(cols)], schema=schema)


# ------------------------------------------------------------------ key resolution


def _resolve_keys(con: duckdb.DuckDBPyConnection, items: list[LoadItem]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Request key for each item, and the (site, old_key, new_key) re-keys to apply first."""
    pairs = sorted({(it.site, it.parsed.url_title) for it in items})
    pairs_tbl = pa.table({"site": [p[0] for p in pairs], "url_title": [p[1] for p in pairs]})
    con.register("_load_pairs", pairs_tbl)
    try:
        existing = con.execute(
            "SELECT r.site, r.url_title, r.request_key FROM requests r "
            "JOIN _load_pairs p ON r.site = p.site AND r.url_title = p.url_title"
        ).fetchall()
    finally:
        con.unregister("_load_pairs")
    by_pair: dict[tuple[str, str], list[str]] = {}
    for site, url_title, key in existing:
        by_pair.setdefault((site, url_title), []).append(key)

    keys: list[str] = []
    rekeys: dict[tuple[str, str], str] = {}
    for it in items:
        p = it.parsed
        known = by_pair.get((it.site, p.url_title), [])
        if p.request_id is not None:
            key = request_key_for(p.request_id, p.url_title)
            slug_key = request_key_for(None, p.url_title)
            if slug_key in known:
                rekeys[(it.site, slug_key)] = key
        else:
            id_keys = sorted((k for k in known if k.startswith("id:")), key=lambda k: int(k[3:]))
            key = id_keys[-1] if id_keys else request_key_for(None, p.url_title)
        keys.append(key)
    # A slug key seen earlier in this same batch is also re-keyed to its id key.
    slug_to_id = {(it.site, request_key_for(None, it.parsed.url_title)): k
                  for it, k in zip(items, keys) if k.startswith("id:")}
    keys = [slug_to_id.get((it.site, k), k) if k.startswith("slug:") else k for it, k in zip(items, keys)]
    return keys, [(s, old, new) for (s, old), new in rekeys.items()]


def _apply_rekeys(con: duckdb.DuckDBPyConnection, rekeys: list[tuple[str, str, str]]) -> None:
    if not rekeys:
        return
    tbl = pa.table({"site": [r[0] for r in rekeys], "old_key": [r[1] for r in rekeys], "new_key": [r[2] for r in rekeys]})
    con.register("_load_rekeys", tbl)
    try:
        # Every other table keyed to a request follows it (attachment texts, derived tables...).
        children = [r[0] for r in con.execute(
            "SELECT DISTINCT table_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND column_name = 'request_key' AND table_name <> 'requests' "
            "AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')"
        ).fetchall()]
        for table in children:
            con.execute(
                f"UPDATE {table} SET request_key = k.new_key FROM _load_rekeys k "
                f"WHERE {table}.site = k.site AND {table}.request_key = k.old_key"
            )
        # Where both keys already exist (should not happen) the id row wins.
        con.execute(
            "DELETE FROM requests WHERE (site, request_key) IN ("
            " SELECT k.site, k.old_key FROM _load_rekeys k JOIN requests r ON r.site = k.site AND r.request_key = k.new_key)"
        )
        con.execute(
            "UPDATE requests SET request_key = k.new_key, request_id = CAST(substr(k.new_key, 4) AS BIGINT) "
            "FROM _load_rekeys k WHERE requests.site = k.site AND requests.request_key = k.old_key"
        )
    finally:
        con.unregister("_load_rekeys")


# ------------------------------------------------------------------ staging


def _stage(items: list[LoadItem], keys: list[str]) -> dict[str, pa.Table]:
    # Dicts keyed by primary key: the last sighting in a batch wins, so the
    # upsert never meets the same key twice.
    requests: dict[tuple, tuple] = {}
    messages: dict[tuple, tuple] = {}
    attachments: dict[tuple, tuple] = {}
    annotations: dict[tuple, tuple] = {}
    events: dict[tuple, tuple] = {}
    authorities: dict[tuple, tuple] = {}
    users: dict[tuple, tuple] = {}

    for it, key in zip(items, keys):
        p = it.parsed
        site = it.site
        seen = _utc(it.fetched_at)
        auth = p.authority
        req = p.requester
        req_url = user_url_name(req) if req else None
        if auth is not None and auth.url_name:
            tags = tag_strings(p.authority_tags) if p.authority_tags is not None else None
            authorities[(site, auth.url_name)] = (
                site, auth.url_name, auth.site_id, auth.name, p.authority_short_name, tags,
                jurisdiction_from_tags(tags), p.authority_home_page, seen, seen,
            )
        if req is not None:
            users[(site, req_url)] = (site, req_url, req.site_id, req.name,
                                      bool(p.requester_external or not req.url_name), seen, seen)
        requests[(site, key)] = (
            site, key, p.request_id, p.url_title, p.title,
            auth.url_name if auth else None, auth.name if auth else None,
            req_url, req.name if req else None, p.requester_external,
            p.law, p.described_state, p.calculated_status, p.display_status, p.status_sentence, p.due_date,
            p.awaiting_description, p.closed_to_correspondence, p.restricted_correspondence,
            p.authority_not_subject, p.eir_only, p.hidden, p.prominence,
            _utc(p.created_at), _utc(p.updated_at), p.batch_id, p.batch_size,
            [f"{n}:{v}" if v not in (None, "") else n for n, v in p.tags] if p.tags or p.has_json else None,
            p.markup_era, p.has_json, False, it.source, it.source_url, it.page_sha256, seen, seen,
        )
        event_types: dict[tuple[str, int], str] = {}
        for ev in sorted(p.events, key=lambda e: e.event_id):
            events[(site, ev.event_id)] = (
                site, key, ev.event_id, ev.event_type, _utc(ev.created_at), ev.created_at_text,
                ev.described_state, ev.calculated_state, _utc(ev.last_described_at),
                ev.incoming_message_id, ev.outgoing_message_id, ev.comment_id, ev.display_status,
            )
            if ev.incoming_message_id is not None:
                event_types.setdefault(("incoming", ev.incoming_message_id), ev.event_type)
            if ev.outgoing_message_id is not None:
                event_types.setdefault(("outgoing", ev.outgoing_message_id), ev.event_type)
        for m in p.messages:
            hidden_since = seen if m.prominence in HIDDEN_PROMINENCES else None
            messages[(site, m.direction, m.message_id)] = (
                site, key, m.message_id, m.direction, m.position,
                event_types.get((m.direction, m.message_id)), m.sender, _utc(m.sent_at), m.sent_at_text,
                m.body, m.quoted_text, m.quoted_folded, m.body_placeholder, m.subject_only, m.resent,
                m.delivery_status, m.prominence, hidden_since, seen, seen,
            )
            if m.direction != "incoming":
                continue  # only responses carry attachments on Alaveteli
            for a in m.attachments:
                # key_part: the part, or -(list position + 1) when the page gives none (erased, hidden)
                attachments[(site, m.message_id, a.key_part)] = (
                    site, key, m.message_id, a.key_part, a.filename, a.size_text, size_bytes_approx(a.size_text),
                    a.content_icon, a.download_url, a.html_url, a.erased, a.hidden, seen, seen, a.database_id,
                )
        for an in p.annotations:
            author = an.author
            author_url = user_url_name(author) if author else None
            if author is not None and author.url_name:
                users.setdefault((site, author_url), (site, author_url, author.site_id, author.name, False, seen, seen))
            annotations[(site, an.comment_id)] = (
                site, key, an.comment_id, an.position, author_url, author.name if author else None,
                _utc(an.created_at), an.created_at_text, an.text, seen, seen,
            )

    return {
        "requests": _arrow(_REQUEST_COLS, list(requests.values())),
        "messages": _arrow(_MESSAGE_COLS, list(messages.values())),
        "attachments": _arrow(_ATTACHMENT_COLS, list(attachments.values())),
        "annotations": _arrow(_ANNOTATION_COLS, list(annotations.values())),
        "events": _arrow(_EVENT_COLS, list(events.values())),
        "authorities": _arrow(_AUTHORITY_COLS, list(authorities.values())),
        "users": _arrow(_USER_COLS, list(users.values())),
    }


# ------------------------------------------------------------------ upserts


def _cols(layout):
    return [c for c, _ in layout]


def _upsert_sql(table: str, layout, pk: list[str], set_exprs: dict[str, str], compare: list[str]) -> list[str]:
    """Statements that upsert ``_stage_<table>`` into ``table``.

    Only new rows and rows whose content differs go through ``ON CONFLICT DO
    UPDATE`` (costly in DuckDB); rows that were merely seen again get a cheap
    ``last_seen`` update, and rows already up to date are not written at all.
    """
    cols = _cols(layout)
    col_list = ", ".join(cols)
    sets = ", ".join(f"{c} = {e}" for c, e in set_exprs.items())
    on = " AND ".join(f"t.{c} = s.{c}" for c in pk)
    differs = " OR ".join(f"s.{c} IS DISTINCT FROM t.{c}" for c in compare)
    statements = [
        f"INSERT INTO {table} ({col_list}) SELECT {', '.join('s.' + c for c in cols)} "
        f"FROM _stage_{table} s LEFT JOIN {table} t ON {on} WHERE t.{pk[0]} IS NULL OR {differs} "
        f"ON CONFLICT ({', '.join(pk)}) DO UPDATE SET {sets}"
    ]
    if "last_seen" in cols:
        where = " AND ".join(f"{table}.{c} = s.{c}" for c in pk)
        statements.append(
            f"UPDATE {table} SET last_seen = s.last_seen FROM _stage_{table} s "
            f"WHERE {where} AND (s.last_seen > {table}.last_seen OR {table}.last_seen IS NULL)"
        )
    return statements


def _plain_sets(layout, pk, *, skip=()) -> dict[str, str]:
    out = {}
    for c in _cols(layout):
        if c in pk or c in skip or c == "first_seen":
            continue
        out[c] = f"excluded.{c}"
    return out


def _last_seen(table: str) -> str:
    return f"greatest(excluded.last_seen, {table}.last_seen)"


def _build_sql() -> dict[str, str]:
    sql = {}
    # requests
    pk = ["site", "request_key"]
    sets = _plain_sets(_REQUEST_COLS, pk)
    for c in _REQUEST_JSON_ONLY:
        sets[c] = f"CASE WHEN excluded.has_json THEN excluded.{c} ELSE coalesce(excluded.{c}, requests.{c}) END"
    sets["has_json"] = "excluded.has_json OR requests.has_json"
    sets["last_seen"] = _last_seen("requests")
    compare = [c for c in _cols(_REQUEST_COLS) if c not in pk and c not in ("first_seen", "last_seen")]
    sql["requests"] = _upsert_sql("requests", _REQUEST_COLS, pk, sets, compare)

    # messages: a hidden message keeps the body stored before it was hidden
    pk = ["site", "direction", "message_id"]
    sets = _plain_sets(_MESSAGE_COLS, pk)
    now_hidden = "excluded.prominence IN ('hidden', 'requester_only')"
    for c in ("body", "quoted_text"):
        sets[c] = f"CASE WHEN {now_hidden} AND coalesce(messages.{c}, '') <> '' THEN messages.{c} ELSE excluded.{c} END"
    for c in ("sender", "sent_at", "sent_at_text", "event_type"):
        sets[c] = f"coalesce(excluded.{c}, messages.{c})"
    sets["hidden_since"] = f"CASE WHEN {now_hidden} THEN coalesce(messages.hidden_since, excluded.hidden_since) ELSE NULL END"
    sets["last_seen"] = _last_seen("messages")
    compare = [c for c in _cols(_MESSAGE_COLS) if c not in pk and c not in ("first_seen", "last_seen", "hidden_since")]
    sql["messages"] = _upsert_sql("messages", _MESSAGE_COLS, pk, sets, compare)

    pk = ["site", "incoming_message_id", "part"]
    sets = _plain_sets(_ATTACHMENT_COLS, pk)
    sets["last_seen"] = _last_seen("attachments")
    compare = [c for c in _cols(_ATTACHMENT_COLS) if c not in pk and c not in ("first_seen", "last_seen")]
    sql["attachments"] = _upsert_sql("attachments", _ATTACHMENT_COLS, pk, sets, compare)

    pk = ["site", "comment_id"]
    sets = _plain_sets(_ANNOTATION_COLS, pk)
    sets["last_seen"] = _last_seen("annotations")
    compare = [c for c in _cols(_ANNOTATION_COLS) if c not in pk and c not in ("first_seen", "last_seen")]
    sql["annotations"] = _upsert_sql("annotations", _ANNOTATION_COLS, pk, sets, compare)

    pk = ["site", "event_id"]
    sets = _plain_sets(_EVENT_COLS, pk)
    compare = [c for c in _cols(_EVENT_COLS) if c not in pk]
    sql["events"] = _upsert_sql("events", _EVENT_COLS, pk, sets, compare)

    pk = ["site", "url_name"]
    known = ["authority_id", "name", "short_name", "tags", "jurisdiction", "home_page"]
    sets = {c: f"coalesce(excluded.{c}, authorities.{c})" for c in known}
    sets["last_seen"] = _last_seen("authorities")
    sql["authorities"] = _upsert_sql("authorities", _AUTHORITY_COLS, pk, sets, known)

    sets = {"user_id": "coalesce(excluded.user_id, users.user_id)",
            "name": "coalesce(excluded.name, users.name)",
            "external": "excluded.external",
            "last_seen": _last_seen("users")}
    sql["users"] = _upsert_sql("users", _USER_COLS, pk, sets, ["user_id", "name", "external"])
    return sql


_UPSERT_SQL = _build_sql()
_PKS = {
    "requests": ["site", "request_key"],
    "messages": ["site", "direction", "message_id"],
    "attachments": ["site", "incoming_message_id", "part"],
    "annotations": ["site", "comment_id"],
    "events": ["site", "event_id"],
}
_ORDER = ["authorities", "users", "requests", "messages", "attachments", "annotations", "events"]


def _count_new(con, table: str) -> int:
    pk = _PKS[table]
    on = " AND ".join(f"t.{c} = s.{c}" for c in pk)
    return con.execute(
        f"SELECT count(*) FROM _stage_{table} s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})"
    ).fetchall()[0][0]


def load_threads(con: duckdb.DuckDBPyConnection, items: list[LoadItem]) -> LoadStats:
    """Upsert a batch of parsed threads; runs inside the caller's transaction."""
    stats = LoadStats()
    if not items:
        return stats
    keys, rekeys = _resolve_keys(con, items)
    _apply_rekeys(con, rekeys)
    staged = _stage(items, keys)
    for name, tbl in staged.items():
        con.register(f"_stage_{name}", tbl)
    try:
        content = " OR ".join(f"s.{c} IS DISTINCT FROM r.{c}" for c in _REQUEST_CONTENT)
        counts = con.execute(
            f"""
            WITH touched AS (
                SELECT site, request_key FROM _stage_messages s
                 WHERE NOT EXISTS (SELECT 1 FROM messages t WHERE t.site = s.site AND t.direction = s.direction AND t.message_id = s.message_id)
                UNION SELECT site, request_key FROM _stage_attachments s
                 WHERE NOT EXISTS (SELECT 1 FROM attachments t WHERE t.site = s.site AND t.incoming_message_id = s.incoming_message_id AND t.part = s.part)
                UNION SELECT site, request_key FROM _stage_annotations s
                 WHERE NOT EXISTS (SELECT 1 FROM annotations t WHERE t.site = s.site AND t.comment_id = s.comment_id)
                UNION SELECT site, request_key FROM _stage_events s
                 WHERE NOT EXISTS (SELECT 1 FROM events t WHERE t.site = s.site AND t.event_id = s.event_id)
            )
            SELECT
                count(*) FILTER (WHERE r.request_key IS NULL),
                count(*) FILTER (WHERE r.request_key IS NOT NULL AND ({content})),
                count(*) FILTER (WHERE r.request_key IS NOT NULL AND NOT ({content})
                                   AND (s.site, s.request_key) NOT IN (SELECT site, request_key FROM touched))
            FROM _stage_requests s LEFT JOIN requests r ON r.site = s.site AND r.request_key = s.request_key
            """
        ).fetchall()[0]
        stats.requests_new, stats.requests_changed, stats.unchanged = (int(x) for x in counts)
        stats.messages_new = _count_new(con, "messages")
        stats.attachments_new = _count_new(con, "attachments")
        stats.annotations_new = _count_new(con, "annotations")
        stats.events_new = _count_new(con, "events")
        for name in _ORDER:
            if staged[name].num_rows:
                for statement in _UPSERT_SQL[name]:
                    con.execute(statement)
    finally:
        for name in staged:
            con.unregister(f"_stage_{name}")
    return stats


def load_threads_tx(con: duckdb.DuckDBPyConnection, items: list[LoadItem]) -> LoadStats:
    """:func:`load_threads` in its own transaction (committed, or rolled back on error)."""
    con.execute("BEGIN TRANSACTION")
    try:
        stats = load_threads(con, items)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return stats


def mark_removed(con: duckdb.DuckDBPyConnection, site: str, url_title: str) -> None:
    """The site answered 404/410 for this request: keep every row, flag it removed."""
    con.execute("UPDATE requests SET removed = true WHERE site = ? AND url_title = ?", [site, url_title])


# ------------------------------------------------------------------ reparse

REQUEST_PAGE_KINDS = ("request_html", "imported_html")
_CORE_TABLES = ("events", "attachments", "annotations", "messages", "requests", "users", "authorities")
_URL_TITLE_RE = re.compile(r"/request/([^/?#]+)")


@dataclass(slots=True)
class ReparseStats:
    pages: int = 0  # stored request pages read
    threads: int = 0  # parsed and loaded
    failures: int = 0  # recorded in parse_failures
    removed: int = 0  # stored as 404/410: request flagged removed
    skipped: int = 0  # no body, or an HTTP status that is not a page
    seconds: float = 0.0
    derived: bool = False  # corpus.derive.rebuild ran
    attachments: str | None = None  # what re-extraction from kept files did
    load: LoadStats = field(default_factory=LoadStats)

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        lines = [
            f"Re-parsed {self.pages} stored request pages in {self.seconds:.1f} s "
            f"({self.pages_per_second:.0f} pages/s): {self.threads} threads loaded, "
            f"{self.failures} parse failures, {self.removed} removed, {self.skipped} skipped.",
            f"Tables: {self.load.describe()}.",
        ]
        if self.failures:
            lines.append("See `corpus status` for the parse failures.")
        if self.attachments:
            lines.append(self.attachments)
        if self.derived:
            lines.append("Derived tables rebuilt.")
        return "\n".join(lines)


def _url_title_from(url: str) -> str | None:
    m = _URL_TITLE_RE.search(url)
    return m.group(1) if m else None


def _parse_stored(row: tuple):
    """Worker: one stored page row → ('ok', LoadItem) | ('fail', …) | ('removed', …) | ('skip', …).

    Pure apart from decompression; runs in a pool process.
    """
    from corpus.pagestore import decode_body
    from scraper.pages.request import parse_request
    from scraper.records import ParseFailure

    url, site, kind, status, enc, body, fetched_at, sha, j_status, j_enc, j_body = row
    if status in (404, 410):
        return ("removed", site, _url_title_from(url))
    if body is None or (status is not None and not 200 <= status < 300):
        return ("skip", url)
    try:
        html = decode_body(body, enc)
        json_bytes = None
        if j_body is not None and (j_status is None or 200 <= j_status < 300):
            json_bytes = decode_body(j_body, j_enc)
    except Exception as exc:  # zlib.error, unknown encoding
        return ("fail", url, site, ParseFailure("encoding", f"stored body could not be decoded ({exc})",
                                                 _url_title_from(url)), sha)
    parsed = parse_request(html, json_bytes, url=url)
    if isinstance(parsed, ParseFailure) and parsed.kind == "bad_json" and json_bytes is not None:
        parsed = parse_request(html, None, url=url)  # unusable JSON: the page alone, as sync and import do
    if isinstance(parsed, ParseFailure):
        return ("fail", url, site, parsed, sha)
    source = "import" if kind == "imported_html" else "sync"
    return ("ok", LoadItem(parsed=parsed, site=site, source=source, source_url=url, page_sha256=sha,
                           fetched_at=fetched_at))


def _read_page_rows(con, urls: list[str]) -> list[tuple]:
    return con.execute(
        "SELECT p.url, p.site, p.kind, p.status, p.encoding, p.body, p.fetched_at, p.sha256, "
        "       j.status, j.encoding, j.body "
        "FROM pages p LEFT JOIN pages j ON j.url = p.companion_url "
        "WHERE p.url IN (SELECT unnest(?::VARCHAR[])) ORDER BY p.url",
        [urls],
    ).fetchall()


def _write_results(con, results: list[tuple], stats: ReparseStats) -> None:
    items = [r[1] for r in results if r[0] == "ok"]
    failures = [r for r in results if r[0] == "fail"]
    removed = [(r[1], r[2]) for r in results if r[0] == "removed" and r[2]]
    stats.skipped += sum(1 for r in results if r[0] == "skip")
    if items:
        stats.load.add(load_threads(con, items))
        stats.threads += len(items)
        ok = pa.table({"url": [it.source_url for it in items]})
        con.register("_reparse_ok", ok)
        try:
            con.execute("DELETE FROM parse_failures WHERE url IN (SELECT url FROM _reparse_ok)")
        finally:
            con.unregister("_reparse_ok")
    if failures:
        now = datetime.now(timezone.utc)
        tbl = pa.table({
            "url": [f[1] for f in failures],
            "site": [f[2] for f in failures],
            "kind": [f[3].kind for f in failures],
            "message": [f[3].message for f in failures],
            "page_sha256": [f[4] for f in failures],
            "failed_at": pa.array([now] * len(failures), type=_TS),
        })
        con.register("_reparse_fail", tbl)
        try:
            con.execute(
                "INSERT INTO parse_failures (url, site, kind, message, page_sha256, failed_at) "
                "SELECT url, site, kind, message, page_sha256, failed_at FROM _reparse_fail "
                "ON CONFLICT (url) DO UPDATE SET site = excluded.site, kind = excluded.kind, "
                "message = excluded.message, page_sha256 = excluded.page_sha256, failed_at = excluded.failed_at"
            )
        finally:
            con.unregister("_reparse_fail")
        stats.failures += len(failures)
    if removed:
        tbl = pa.table({"site": [r[0] for r in removed], "url_title": [r[1] for r in removed]})
        con.register("_reparse_removed", tbl)
        try:
            con.execute(
                "UPDATE requests SET removed = true FROM _reparse_removed r "
                "WHERE requests.site = r.site AND requests.url_title = r.url_title"
            )
        finally:
            con.unregister("_reparse_removed")
        stats.removed += len(removed)


def _reextract_attachments(con, db_path) -> str | None:
    """Redo attachment text from the files kept beside the database, if any were kept."""
    if not table_exists(con, "attachment_texts") or not con.execute(
        "SELECT count(*) FROM attachment_texts WHERE stored_path IS NOT NULL"
    ).fetchall()[0][0]:
        return None
    from corpus.attachments import reextract_all

    return reextract_all(con, db_path).describe()


def _rebuild_derived(con) -> bool:
    try:
        from corpus.derive import rebuild
    except ImportError:
        return False
    rebuild(con)
    return True


def reparse(
    db_path: str | Path,
    *,
    fresh: bool = False,
    batch_size: int = 2000,
    workers: int | None = None,
    progress=None,
    derive: bool = True,
) -> ReparseStats:
    """Rebuild the core tables from the stored raw pages with the current parser; no network.

    Loads with the same upserts as a sync, so history the pages no longer show
    (bodies of messages hidden later, messages gone from the page, ``first_seen``)
    is kept.  ``fresh=True`` empties the core tables first: the result is then
    exactly what the stored pages say, and that history is lost.

    Holds the sync lock for the whole run and opens the database once per batch,
    so readers can open the file between batches.  Parsing runs in a process
    pool of ``workers`` (default: all CPUs).  ``progress(done, total)`` is called
    after each batch when given.  ``derive=False`` skips rebuilding the derived
    tables (``corpus.derive``) at the end.
    """
    import multiprocessing
    import os
    import time

    from corpus.db import SyncLock, batch, connect, connect_when_free

    started = time.monotonic()
    if not Path(db_path).exists():
        from corpus.errors import CorpusError

        raise CorpusError(f"no corpus database at {db_path}; nothing to reparse (check --db)")
    connect(db_path).close()  # clear errors (missing, locked, newer schema) before any work
    stats = ReparseStats()
    workers = workers or os.cpu_count() or 1
    with SyncLock(db_path):
        with batch(db_path) as con:
            urls = [r[0] for r in con.execute(
                "SELECT url FROM pages WHERE kind IN (SELECT unnest(?::VARCHAR[])) ORDER BY url",
                [list(REQUEST_PAGE_KINDS)],
            ).fetchall()]
            if fresh:
                for table in _CORE_TABLES:
                    con.execute(f"DELETE FROM {table}")
        stats.pages = len(urls)
        chunks = [urls[i:i + batch_size] for i in range(0, len(urls), batch_size)]
        pool = None
        if workers > 1 and len(urls) > workers:
            pool = multiprocessing.get_context("forkserver").Pool(workers)
        try:
            # Two chunks in flight: the pool parses chunk k+1 while this process
            # writes chunk k.  The file is open only to read a chunk or write one.
            pending = None
            done = 0
            for idx in range(len(chunks) + 1):
                submitted = None
                if idx < len(chunks):
                    with batch(db_path) as con:
                        rows = _read_page_rows(con, chunks[idx])
                    if pool is not None:
                        submitted = pool.map_async(_parse_stored, rows, chunksize=max(1, len(rows) // (workers * 4)))
                    else:
                        submitted = [_parse_stored(r) for r in rows]
                    del rows
                if pending is not None:
                    results = pending.get() if pool is not None else pending
                    with batch(db_path) as con:
                        _write_results(con, results, stats)
                    done += len(results)
                    if progress is not None:
                        progress(done, stats.pages)
                pending = submitted
        finally:
            if pool is not None:
                pool.close()
                pool.join()
        # Attachment text is re-extracted from kept files (``--attachments files``).
        con = connect_when_free(db_path)
        try:
            stats.attachments = _reextract_attachments(con, db_path)
            if derive:
                # Derived tables manage their own statements: give them a plain connection.
                stats.derived = _rebuild_derived(con)
        finally:
            con.close()
    stats.seconds = time.monotonic() - started
    return stats
