"""Loading parsed threads into the core tables, idempotently and in bulk.

Every batch becomes one Arrow table per target table and one set-based upsert
per table (an ``UPDATE … FROM`` of the stored rows that differ, then an
``INSERT`` of the rows not stored yet); nothing is written a row at a time.
The core tables have no key index (schema 7): this module is their one writer
and keeps one row per key.  The rules (README, "Database schema"):

* a request is keyed ``id:<n>`` once its numeric id is known, else
  ``slug:<url_title>``; when the id becomes known the request and its children
  are re-keyed;
* re-loading an unchanged thread writes nothing but ``last_seen``;
* nothing is deleted: a message that vanished from the page stays, and a message
  the site has since hidden keeps the body stored earlier, with the new
  prominence and ``hidden_since``;
* ``requests.removed`` is never written by a load: it is what the live site
  last said (:func:`mark_removed`), so re-reading stored or saved pages cannot
  change it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timezone

import duckdb
import pyarrow as pa

from corpus.sites import is_scottish
from corpus.staging import TIMESTAMP, arrow_rows, arrow_schema, registered
from scraper.records import ParsedRequest, Person

HIDDEN_PROMINENCES = ("hidden", "requester_only")


@dataclass(slots=True)
class LoadItem:
    parsed: ParsedRequest
    site: str
    source: str  # 'sync' | 'import' | 'archive'
    source_url: str
    page_sha256: str | None
    fetched_at: datetime  # when the page was fetched, or captured when it came from an archive
    provenance: str = "live"  # live | archive | file
    provenance_name: str | None = None  # the archive (base URL) or the file read
    as_of: datetime | None = None  # capture time of a page from an archive or file (None: live)

    @property
    def seen_at(self) -> datetime:
        """What its rows' ``first_seen``/``last_seen`` say: ``fetched_at``, in UTC when it has no zone."""
        return self.fetched_at if self.fetched_at.tzinfo else self.fetched_at.replace(tzinfo=timezone.utc)


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

# Staged tables take their columns from the DDL (``corpus.staging``).  ``removed`` is never
# staged: it is what the live site last said, set only by ``mark_removed`` (a load of
# stored or saved pages must not change it), and a new row starts ``false``.
_REQUESTS = arrow_schema("requests", without=("removed",))
_MESSAGES = arrow_schema("messages")
_ATTACHMENTS = arrow_schema("attachments")
_ANNOTATIONS = arrow_schema("annotations")
_EVENTS = arrow_schema("events")
_AUTHORITIES = arrow_schema("authorities")
_USERS = arrow_schema("users")
_LAYOUTS = {"requests": _REQUESTS, "messages": _MESSAGES, "attachments": _ATTACHMENTS, "annotations": _ANNOTATIONS,
            "events": _EVENTS, "authorities": _AUTHORITIES, "users": _USERS}
# Rows staged apart (``corpus reparse``) end with their page's fetch time and store position: where two
# stored pages give the same row, the one fetched last (then stored last) wins.
ORDER_COLUMNS = (pa.field("_fetched", TIMESTAMP), pa.field("_seq", pa.int64()))
_ORDERED_LAYOUTS = {name: pa.schema(list(layout) + list(ORDER_COLUMNS)) for name, layout in _LAYOUTS.items()}

# Known only from the JSON: a later load without JSON must not blank them.
_REQUEST_JSON_ONLY = {"request_id", "described_state", "display_status", "prominence", "created_at",
                      "updated_at", "batch_id", "batch_size", "tags"}
# What "the thread changed" means: content, not provenance or sighting times.
_REQUEST_CONTENT = [c for c in _REQUESTS.names if c not in {
    "site", "request_key", "source", "source_url", "page_sha256", "first_seen", "last_seen", "has_json",
    "provenance", "provenance_name", "as_of"}]



def tag_strings(tags) -> list[str]:
    """[(name, value)] pairs as the strings the tables store: "name" or "name:value"."""
    return [f"{n}:{v}" if v not in (None, "") else n for n, v in tags]


def jurisdiction_from_tags(tags: list[str] | None) -> str | None:
    """'scotland' for an authority tagged as Scottish (``corpus.sites.is_scottish``), 'uk' otherwise; None when its
    tags are unknown."""
    scottish = is_scottish(tags)
    return None if scottish is None else "scotland" if scottish else "uk"


def authority_row(site: str, url_name: str, *, authority_id: int | None, name: str | None,
                  short_name: str | None, tags: list[str] | None, home_page: str | None, seen: datetime) -> tuple:
    """One staged ``authorities`` row; ``None`` means "not known here" and never blanks a stored value."""
    return (site, url_name, authority_id, name, short_name, tags, jurisdiction_from_tags(tags), home_page, seen, seen)


# ------------------------------------------------------------------ key resolution


def _resolve_keys(con: duckdb.DuckDBPyConnection, items: list[LoadItem]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Request key for each item, and the (site, old_key, new_key) re-keys to apply first."""
    pairs = sorted({(it.site, it.parsed.url_title) for it in items})
    pairs_tbl = pa.table({"site": [p[0] for p in pairs], "url_title": [p[1] for p in pairs]})
    with registered(con, "_load_pairs", pairs_tbl):
        existing = con.execute(
            "SELECT r.site, r.url_title, r.request_key FROM requests r "
            "JOIN _load_pairs p ON r.site = p.site AND r.url_title = p.url_title"
        ).fetchall()
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
    with registered(con, "_load_rekeys", tbl):
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


# ------------------------------------------------------------------ staging


def _stage(items: list[LoadItem], keys: list[str], order: list[tuple] | None = None) -> dict[str, pa.Table]:
    """One Arrow table per core table from parsed threads, keyed ``keys``.

    Dicts keyed by primary key: the last sighting in a batch wins, so the
    upsert never meets the same key twice.  With ``order`` (one tuple per item:
    its page's fetch time and store position, see ``ORDER_COLUMNS``), every row
    ends with its item's order and only rows of the same page replace each
    other: :func:`merge_staged` merges the pages later, in order, by the rules of
    successive loads.
    """
    requests: dict[tuple, tuple] = {}
    messages: dict[tuple, tuple] = {}
    attachments: dict[tuple, tuple] = {}
    annotations: dict[tuple, tuple] = {}
    events: dict[tuple, tuple] = {}
    authorities: dict[tuple, tuple] = {}
    users: dict[tuple, tuple] = {}

    for i, (it, key) in enumerate(zip(items, keys)):
        x = order[i] if order is not None else ()
        p = it.parsed
        site = it.site
        seen = it.seen_at
        auth = p.authority
        req = p.requester
        req_url = user_url_name(req) if req else None
        if auth is not None and auth.url_name:
            authorities[(site, auth.url_name, *x)] = authority_row(
                site, auth.url_name, authority_id=auth.site_id, name=auth.name, short_name=p.authority_short_name,
                tags=tag_strings(p.authority_tags) if p.authority_tags is not None else None,
                home_page=p.authority_home_page, seen=seen,
            ) + x
        if req is not None:
            users[(site, req_url, *x)] = (site, req_url, req.site_id, req.name,
                                      bool(p.requester_external or not req.url_name), seen, seen) + x
        requests[(site, key, *x)] = (
            site, key, p.request_id, p.url_title, p.title,
            auth.url_name if auth else None, auth.name if auth else None,
            req_url, req.name if req else None, p.requester_external,
            p.law, p.described_state, p.calculated_status, p.display_status, p.status_sentence, p.due_date,
            p.awaiting_description, p.closed_to_correspondence, p.restricted_correspondence,
            p.authority_not_subject, p.eir_only, p.hidden, p.prominence,
            _utc(p.created_at), _utc(p.updated_at), p.batch_id, p.batch_size,
            tag_strings(p.tags) if p.tags or p.has_json else None,
            p.markup_era, p.has_json, it.source, it.source_url, it.page_sha256, seen, seen,
            it.provenance, it.provenance_name, _utc(it.as_of),
        ) + x
        event_types: dict[tuple[str, int], str] = {}
        for ev in sorted(p.events, key=lambda e: e.event_id):
            events[(site, ev.event_id, *x)] = (
                site, key, ev.event_id, ev.event_type, _utc(ev.created_at), ev.created_at_text,
                ev.described_state, ev.calculated_state, _utc(ev.last_described_at),
                ev.incoming_message_id, ev.outgoing_message_id, ev.comment_id, ev.display_status,
            ) + x
            if ev.incoming_message_id is not None:
                event_types.setdefault(("incoming", ev.incoming_message_id), ev.event_type)
            if ev.outgoing_message_id is not None:
                event_types.setdefault(("outgoing", ev.outgoing_message_id), ev.event_type)
        for m in p.messages:
            hidden_since = seen if m.prominence in HIDDEN_PROMINENCES else None
            messages[(site, m.direction, m.message_id, *x)] = (
                site, key, m.message_id, m.direction, m.position,
                event_types.get((m.direction, m.message_id)), m.sender, _utc(m.sent_at), m.sent_at_text,
                m.body, m.quoted_text, m.quoted_folded, m.body_placeholder, m.subject_only, m.resent,
                m.delivery_status, m.prominence, hidden_since, seen, seen,
            ) + x
            if m.direction != "incoming":
                continue  # only responses carry attachments on Alaveteli
            for a in m.attachments:
                # key_part: the part, or -(list position + 1) when the page gives none (erased, hidden)
                attachments[(site, m.message_id, a.key_part, *x)] = (
                    site, key, m.message_id, a.key_part, a.filename, a.size_text, size_bytes_approx(a.size_text),
                    a.content_icon, a.download_url, a.html_url, a.erased, a.hidden, seen, seen, a.database_id,
                ) + x
        for an in p.annotations:
            author = an.author
            author_url = user_url_name(author) if author else None
            if author is not None and author.url_name:
                users.setdefault((site, author_url, *x), (site, author_url, author.site_id, author.name, False, seen, seen) + x)
            annotations[(site, an.comment_id, *x)] = (
                site, key, an.comment_id, an.position, author_url, author.name if author else None,
                _utc(an.created_at), an.created_at_text, an.text, seen, seen,
            ) + x

    rows = {"requests": requests, "messages": messages, "attachments": attachments, "annotations": annotations,
            "events": events, "authorities": authorities, "users": users}
    layouts = _ORDERED_LAYOUTS if order is not None else _LAYOUTS
    return {name: arrow_rows(layouts[name], list(table.values())) for name, table in rows.items()}


# ------------------------------------------------------------------ upserts


def _same_key(pk: list[str], stored: str = "t") -> str:
    """SQL matching a staged row ``s`` with the stored row named ``stored`` on the key ``pk``."""
    return " AND ".join(f"{stored}.{c} = s.{c}" for c in pk)


def _upsert_sql(table: str, layout: pa.Schema, pk: list[str], set_exprs: dict[str, str],
                compare: list[str]) -> list[str]:
    """Statements that upsert ``_stage_<table>`` into ``table``, which has no key index (schema 7).

    ``set_exprs`` gives each column a stored row takes when its staged row
    differs, in terms of ``s`` (the staged row) and ``<table>`` (the stored
    one); columns not named (``first_seen``) keep what is stored.  Stored rows
    whose content differs are updated in place, rows not stored yet are
    inserted, and rows that were merely seen again get a cheap ``last_seen``
    update; rows already up to date are not written at all.  The staged rows
    are unique by key (:func:`_stage`), so each stored row meets at most one.
    """
    cols = layout.names
    sets = ", ".join(f"{c} = {e}" for c, e in set_exprs.items())
    stored = _same_key(pk, table)
    differs = " OR ".join(f"s.{c} IS DISTINCT FROM {table}.{c}" for c in compare)
    statements = [
        f"UPDATE {table} SET {sets} FROM _stage_{table} s WHERE {stored} AND ({differs})",
        f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join('s.' + c for c in cols)} "
        f"FROM _stage_{table} s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {_same_key(pk)})",
    ]
    if "last_seen" in cols:
        statements.append(
            f"UPDATE {table} SET last_seen = s.last_seen FROM _stage_{table} s "
            f"WHERE {stored} AND (s.last_seen > {table}.last_seen OR {table}.last_seen IS NULL)"
        )
    return statements


def _plain_sets(layout: pa.Schema, pk: list[str]) -> dict[str, str]:
    return {c: f"s.{c}" for c in layout.names if c not in pk and c != "first_seen"}


def _last_seen(table: str) -> str:
    return f"greatest(s.last_seen, {table}.last_seen)"


def _compared(layout: pa.Schema, pk: list[str], *ignored: str) -> list[str]:
    return [c for c in layout.names if c not in pk and c not in ("first_seen", "last_seen", *ignored)]


_PKS = {
    "requests": ["site", "request_key"],
    "messages": ["site", "direction", "message_id"],
    "attachments": ["site", "incoming_message_id", "part"],
    "annotations": ["site", "comment_id"],
    "events": ["site", "event_id"],
    "authorities": ["site", "url_name"],
    "users": ["site", "url_name"],
}
_ORDER = ["authorities", "users", "requests", "messages", "attachments", "annotations", "events"]
_CHILDREN = ("messages", "attachments", "annotations", "events")  # rows of a request's thread, each with its key
_COUNTED = ("requests", *_CHILDREN)  # what a load's stats count


def _build_sql() -> dict[str, list[str]]:
    sql = {}
    # requests
    pk = _PKS["requests"]
    sets = _plain_sets(_REQUESTS, pk)
    for c in _REQUEST_JSON_ONLY:
        sets[c] = f"CASE WHEN s.has_json THEN s.{c} ELSE coalesce(s.{c}, requests.{c}) END"
    sets["has_json"] = "s.has_json OR requests.has_json"
    sets["last_seen"] = _last_seen("requests")
    sql["requests"] = _upsert_sql("requests", _REQUESTS, pk, sets, _compared(_REQUESTS, pk))

    # messages: a hidden message keeps the body stored before it was hidden
    pk = _PKS["messages"]
    sets = _plain_sets(_MESSAGES, pk)
    now_hidden = "s.prominence IN ('hidden', 'requester_only')"
    for c in ("body", "quoted_text"):
        sets[c] = f"CASE WHEN {now_hidden} AND coalesce(messages.{c}, '') <> '' THEN messages.{c} ELSE s.{c} END"
    for c in ("sender", "sent_at", "sent_at_text", "event_type"):
        sets[c] = f"coalesce(s.{c}, messages.{c})"
    sets["hidden_since"] = f"CASE WHEN {now_hidden} THEN coalesce(messages.hidden_since, s.hidden_since) ELSE NULL END"
    sets["last_seen"] = _last_seen("messages")
    sql["messages"] = _upsert_sql("messages", _MESSAGES, pk, sets, _compared(_MESSAGES, pk, "hidden_since"))

    for table, layout in (("attachments", _ATTACHMENTS), ("annotations", _ANNOTATIONS)):
        pk = _PKS[table]
        sets = _plain_sets(layout, pk)
        sets["last_seen"] = _last_seen(table)
        sql[table] = _upsert_sql(table, layout, pk, sets, _compared(layout, pk))

    pk = _PKS["events"]
    sql["events"] = _upsert_sql("events", _EVENTS, pk, _plain_sets(_EVENTS, pk), _compared(_EVENTS, pk))

    # authorities: what is not known here (None) never blanks what is stored
    pk = _PKS["authorities"]
    known = _compared(_AUTHORITIES, pk)
    sets = {c: f"coalesce(s.{c}, authorities.{c})" for c in known}
    sets["last_seen"] = _last_seen("authorities")
    sql["authorities"] = _upsert_sql("authorities", _AUTHORITIES, pk, sets, known)

    pk = _PKS["users"]
    sets = {"user_id": "coalesce(s.user_id, users.user_id)",
            "name": "coalesce(s.name, users.name)",
            "external": "s.external",
            "last_seen": _last_seen("users")}
    sql["users"] = _upsert_sql("users", _USERS, pk, sets, ["user_id", "name", "external"])
    return sql


_UPSERT_SQL = _build_sql()
# rows none of which is stored yet, inserted as they are
_INSERT_NEW_SQL = {
    table: f"INSERT INTO {table} ({', '.join(layout.names)}) SELECT {', '.join(layout.names)} FROM _stage_{table}"
    for table, layout in _LAYOUTS.items()
}


def _all_new(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether no row of ``_stage_<table>`` is stored yet (only the key columns of ``table`` are read)."""
    on = _same_key(_PKS[table])
    return not con.execute(f"SELECT EXISTS (SELECT 1 FROM _stage_{table} s SEMI JOIN {table} t ON {on})").fetchall()[0][0]


def _fresh(con: duckdb.DuckDBPyConnection, staged: dict[str, int]) -> set[str]:
    """The staged tables holding rows none of which is stored yet."""
    return {name for name in _ORDER if staged.get(name) and _all_new(con, name)}


def _upsert(con: duckdb.DuckDBPyConnection, staged: dict[str, int], fresh: set[str] | None = None) -> None:
    """Upsert every ``_stage_<table>`` holding rows (``staged``: rows per table; ``fresh``: see :func:`_fresh`).

    Rows none of which is stored yet (a first sync's threads) are inserted as
    they are: comparing them with the stored rows would read every stored
    row's content (bodies included) for nothing, and the batch's memory would
    follow the size of the table.
    """
    if fresh is None:
        fresh = _fresh(con, staged)
    for name in _ORDER:
        if staged.get(name):
            if name in fresh:
                con.execute(_INSERT_NEW_SQL[name])
                continue
            for statement in _UPSERT_SQL[name]:
                con.execute(statement)


def _count_load(con: duckdb.DuckDBPyConnection) -> LoadStats:
    """What upserting the ``_stage_<table>`` tables will change, counted before it is done.

    A statement at a time, each with one or two joins: one statement joining
    them all needed about 40 MB of DuckDB memory, more than a batch's cap holds
    besides what the batch reads.
    """
    stats = LoadStats()
    # requests gaining a row (a message, attachment, annotation or event not stored yet)
    con.execute("CREATE OR REPLACE TEMP TABLE _load_touched (site VARCHAR, request_key VARCHAR)")
    for table in _CHILDREN:
        on = _same_key(_PKS[table])
        added = con.execute(
            f"INSERT INTO _load_touched SELECT site, request_key FROM _stage_{table} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})").fetchall()[0][0]
        setattr(stats, f"{table}_new", int(added))
    content = " OR ".join(f"s.{c} IS DISTINCT FROM r.{c}" for c in _REQUEST_CONTENT)
    counts = con.execute(
        f"""
        SELECT
            count(*) FILTER (WHERE r.request_key IS NULL),
            count(*) FILTER (WHERE r.request_key IS NOT NULL AND ({content})),
            count(*) FILTER (WHERE r.request_key IS NOT NULL AND NOT ({content}) AND NOT EXISTS (
                SELECT 1 FROM _load_touched u WHERE u.site = s.site AND u.request_key = s.request_key))
        FROM _stage_requests s LEFT JOIN requests r ON r.site = s.site AND r.request_key = s.request_key
        """
    ).fetchall()[0]
    stats.requests_new, stats.requests_changed, stats.unchanged = (int(x) for x in counts)
    con.execute("DROP TABLE _load_touched")
    return stats


def load_threads(con: duckdb.DuckDBPyConnection, items: list[LoadItem]) -> LoadStats:
    """Upsert a batch of parsed threads; runs inside the caller's transaction."""
    if not items:
        return LoadStats()
    keys, rekeys = _resolve_keys(con, items)
    _apply_rekeys(con, rekeys)
    staged = _stage(items, keys)
    with contextlib.ExitStack() as stack:
        for name, tbl in staged.items():
            stack.enter_context(registered(con, f"_stage_{name}", tbl))
        rows = {name: tbl.num_rows for name, tbl in staged.items()}
        fresh = _fresh(con, rows)
        if all(name in fresh for name in _COUNTED if rows.get(name)):
            # nothing stored yet: every staged row is new (and the counting query's many joins are spared)
            stats = LoadStats(requests_new=rows.get("requests", 0), messages_new=rows.get("messages", 0),
                              attachments_new=rows.get("attachments", 0), annotations_new=rows.get("annotations", 0),
                              events_new=rows.get("events", 0))
        else:
            stats = _count_load(con)
        _upsert(con, rows, fresh)
    return stats


# ------------------------------------------------------------------ merging batches staged apart


def stage_items(items: list[LoadItem], order: list[tuple]) -> dict[str, pa.Table]:
    """Parsed threads as rows for :func:`merge_staged`, keyed as their pages alone say (``id:<n>`` or ``slug:<title>``).

    ``order`` gives each item's page fetch time and store position (``ORDER_COLUMNS``).
    Pure: worker processes stage their threads and the writer only appends the tables.
    """
    return _stage(items, [request_key_for(it.parsed.request_id, it.parsed.url_title) for it in items], order)


def staged_layout(table: str) -> pa.Schema:
    """The columns of a staged ``table`` (its own, then ``ORDER_COLUMNS``)."""
    return _ORDERED_LAYOUTS[table]


def _fold(pk: list[str], latest: tuple[str, ...] = ()) -> Callable[[str], str]:
    """One staged column folded over its sightings (``_o``: oldest first) as successive upserts fold it:
    the last value not NULL, or for the ``latest`` columns the last value."""
    def column(c: str) -> str:
        if c in pk:
            return c
        if c == "first_seen":
            return "min(first_seen) AS first_seen"
        if c == "last_seen":
            return "max(last_seen) AS last_seen"
        if c in latest:
            return f"arg_max({c}, _o) AS {c}"
        return f"arg_max({c}, _o) FILTER (WHERE {c} IS NOT NULL) AS {c}"
    return column


# Authors and authorities appear on many pages: their sightings are folded in one
# aggregate (the upsert only ever keeps the last known value of a column), where
# a thread's own rows are merged round by round.
_FOLDED = {"authorities": _fold(_PKS["authorities"]), "users": _fold(_PKS["users"], ("external",))}


def merge_staged(con: duckdb.DuckDBPyConnection, source: str, *, fresh: bool = False) -> LoadStats:
    """Load the rows staged in the tables ``<source>.<table>`` by the rules of :func:`load_threads`, set-based, once.

    Runs inside the caller's transaction.  Keys are resolved as a load resolves
    them (a thread known by its numeric id takes the ``id:`` key, and its
    ``slug:`` rows are re-keyed; a thread whose page shows no id takes the
    highest id known for its url_title), then every table is upserted in one
    statement per round: round r holds each key's r-th sighting, oldest first
    (``ORDER_COLUMNS``), so a key seen on several pages is merged by the same
    rules as successive loads (one round when every key is seen once).
    With ``fresh`` the core tables are emptied first and the rows inserted;
    ``requests.removed`` is kept either way (only the live site sets it).
    """
    known = "" if fresh else (
        "UNION ALL SELECT r.site, r.url_title, r.request_key FROM requests r "
        "SEMI JOIN staged s ON s.site = r.site AND s.url_title = r.url_title WHERE r.request_key LIKE 'id:%'"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _merge_keys AS
        WITH staged AS (SELECT DISTINCT site, url_title, request_key FROM {source}.requests),
        ids AS (
            SELECT site, url_title, max(CAST(substr(request_key, 4) AS BIGINT)) AS id
            FROM (SELECT site, url_title, request_key FROM staged WHERE request_key LIKE 'id:%' {known})
            GROUP BY ALL
        )
        SELECT s.site, s.url_title, s.request_key AS natural,
               CASE WHEN s.request_key LIKE 'slug:%' AND i.id IS NOT NULL THEN 'id:' || i.id ELSE s.request_key END AS final
        FROM staged s LEFT JOIN ids i ON i.site = s.site AND i.url_title = s.url_title
    """)
    if not fresh:
        rekeys = con.execute(
            """SELECT DISTINCT r.site, r.request_key, k.final FROM _merge_keys k
               JOIN requests r ON r.site = k.site AND r.request_key = 'slug:' || k.url_title
               WHERE k.natural LIKE 'id:%'"""
        ).fetchall()
        _apply_rekeys(con, [tuple(r) for r in rekeys])
    rounds = 0
    for table, layout in _LAYOUTS.items():
        cols = []
        for c in layout.names:
            cols.append("coalesce(k.final, s.request_key) AS request_key" if c == "request_key" else f"s.{c}")
        keyed = "LEFT JOIN _merge_keys k ON k.site = s.site AND k.natural = s.request_key" if "request_key" in layout.names else ""
        pk = ", ".join("coalesce(k.final, s.request_key)" if c == "request_key" else f"s.{c}" for c in _PKS[table])
        if table in _FOLDED:
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE _merge_{table} AS
                SELECT {', '.join(_FOLDED[table](c) for c in layout.names)}, 1 AS _round
                FROM (SELECT *, row_number() OVER (ORDER BY _fetched ASC NULLS FIRST, _seq ASC) AS _o
                      FROM {source}.{table}) s
                GROUP BY {', '.join(_PKS[table])}
            """)
            rounds = max(rounds, 1)
            continue
        # Each key's sightings numbered oldest first: round r upserts every key's r-th sighting, so
        # the rules that merge a sighting with what is stored (kept bodies, JSON-only columns, ids
        # a page without JSON lacks) apply between pages exactly as successive loads apply them.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _merge_{table} AS
            SELECT {', '.join(cols)},
                   row_number() OVER (PARTITION BY {pk} ORDER BY s._fetched ASC NULLS FIRST, s._seq ASC) AS _round
            FROM {source}.{table} s {keyed}
        """)
        rounds = max(rounds, con.execute(f"SELECT coalesce(max(_round), 0) FROM _merge_{table}").fetchall()[0][0])
    stats = LoadStats()
    if fresh:
        con.execute("CREATE OR REPLACE TEMP TABLE _merge_removed AS SELECT site, url_title FROM requests WHERE removed")
        for table in reversed(_ORDER):
            con.execute(f"DELETE FROM {table}")
    for r in range(1, rounds + 1):
        staged: dict[str, int] = {}
        for table, layout in _LAYOUTS.items():
            names = ", ".join(layout.names)
            con.execute(f"CREATE OR REPLACE TEMP VIEW _stage_{table} AS SELECT {names} FROM _merge_{table} WHERE _round = {r}")
            staged[table] = con.execute(f"SELECT count(*) FROM _stage_{table}").fetchall()[0][0]
        if fresh and r == 1:  # the tables are empty: plain inserts
            stats.add(LoadStats(requests_new=staged["requests"], messages_new=staged["messages"],
                                annotations_new=staged["annotations"], attachments_new=staged["attachments"],
                                events_new=staged["events"]))
            for table in _ORDER:
                con.execute(_INSERT_NEW_SQL[table])
        else:
            round_stats = _count_load(con)
            if r > 1:  # a later sighting of a thread already counted
                round_stats.requests_changed += round_stats.requests_new
                round_stats.requests_new = 0
            stats.add(round_stats)
            _upsert(con, staged)
    if fresh:
        con.execute("UPDATE requests SET removed = true FROM _merge_removed m "
                    "WHERE requests.site = m.site AND requests.url_title = m.url_title")
        con.execute("DROP TABLE _merge_removed")
    for table in _LAYOUTS:
        con.execute(f"DROP VIEW IF EXISTS _stage_{table}")
        con.execute(f"DROP TABLE _merge_{table}")
    con.execute("DROP TABLE _merge_keys")
    return stats


def upsert_authorities(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> int:
    """Upsert :func:`authority_row` rows (the last of a repeated slug wins), by the same rules as a load."""
    latest = {(r[0], r[1]): r for r in rows}
    if not latest:
        return 0
    table = arrow_rows(_AUTHORITIES, list(latest.values()))
    with registered(con, "_stage_authorities", table):
        _upsert(con, {"authorities": table})
    return len(latest)


def mark_removed(con: duckdb.DuckDBPyConnection, site: str, *url_titles: str, removed: bool = True) -> None:
    """What the live site last said of these requests: gone (404/410, hidden), or there again.  No row is deleted."""
    titles = sorted(set(url_titles))
    if titles:
        con.execute(
            "UPDATE requests SET removed = ? WHERE site = ? AND removed <> ? AND url_title IN (SELECT unnest(?::VARCHAR[]))",
            [removed, site, removed, titles],
        )
