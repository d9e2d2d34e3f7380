"""The ``search`` canned query: from the index when there is one, by a scan when not.

With the index (``corpus.search.index``) a search reads only the documents
that hold the words:

1. the words of ``q`` are cut as the index cuts them;
2. Tantivy finds the documents (a phrase query on word positions, or all / any
   of the words) within the filters it holds (site, authority, direction, sent
   between since and until), best first by BM25 or newest first;
3. each hit's stored text is checked against the query with the regular
   expressions of ``corpus.search.words`` (a phrase must be a phrase in the
   text) and cut into a snippet; the rest of the row is stored with it;
4. texts loaded after the index was last updated (a sync still running, or one
   whose derived tables are not rebuilt yet) are searched by a scan of those
   rows alone, and replace any older version the index holds, so no result is
   missing or stale while the index catches up.

Without an index (none built yet, or one from another database), or for a word
too long to be indexed, the runner falls back to ``queries/search.sql``, which
finds the same rows by reading every text, and says so in a note.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from corpus.errors import UsageError
from corpus.search.index import (
    KIND,
    LAYOUT_VERSION,
    NO_TIME,
    analyzer,
    database_path,
    epoch_us,
    from_epoch_us,
    index_dir,
    open_index,
    read_meta,
    read_state,
)
from corpus.search.words import Terms

LONDON = ZoneInfo("Europe/London")
COLUMNS = ["url_title", "title", "authority_url_name", "source", "direction", "message_id", "attachment_part",
           "sent_at", "snippet", "site", "score"]
SCHEMA = pa.schema([
    ("url_title", pa.string()), ("title", pa.string()), ("authority_url_name", pa.string()), ("source", pa.string()),
    ("direction", pa.string()), ("message_id", pa.int64()), ("attachment_part", pa.int32()),
    ("sent_at", pa.timestamp("us", tz="UTC")), ("snippet", pa.string()), ("site", pa.string()), ("score", pa.float64()),
])
_DIRECTION = {KIND["outgoing"]: ("message", "outgoing"), KIND["incoming"]: ("message", "incoming"),
              KIND["attachment"]: ("attachment", "incoming")}
_OPEN: dict[str, Any] = {}  # index folder -> (index_id, tantivy.Index): opened once per process


class NoIndex(Exception):
    """Why the index cannot answer (the scan will)."""


def _open_reader(cur):
    db = database_path(cur)
    if db is None:
        raise NoIndex("an in-memory database has no search index")
    state = read_state(cur)
    path = index_dir(db)
    if state is None:
        raise NoIndex("the database has no search index yet; a sync, `corpus import` or `corpus reparse` builds it")
    meta = read_meta(path)
    if state.get("layout_version") != LAYOUT_VERSION or "max_uid" not in state:
        raise NoIndex("the search index was built by another version; the next sync or `corpus reparse` rebuilds it")
    if meta is None or meta.get("index_id") != state["index_id"]:
        raise NoIndex(f"the search index ({path.name}/) is missing or belongs to another database; "
                      "the next sync or `corpus reparse` rebuilds it")
    cached = _OPEN.get(str(path))
    if cached is None or cached[0] != state["index_id"]:
        try:
            index = open_index(path)
        except Exception as exc:
            raise NoIndex(f"the search index could not be opened ({str(exc).splitlines()[0][:100]})") from None
        cached = (state["index_id"], index)
        _OPEN[str(path)] = cached
    index = cached[1]
    index.reload()
    return index, state


def _terms(q: str, match: str) -> Terms:
    words = tuple(analyzer(drop_long=False).analyze(q))
    if not words:
        raise UsageError(f"q={q[:40]!r} has no words to search for (letters or digits); give e.g. q=school meals")
    return Terms(words=words, match=match or "phrase")


def _london_day_start(day: date) -> int:
    return epoch_us(datetime(day.year, day.month, day.day, tzinfo=LONDON))


def _engine_queries(index, terms: Terms, values: dict[str, Any]):
    """(scored, exact): Tantivy queries for ``terms`` within the filters.

    Scores are BM25 over the words of q, as Xapian (Alaveteli's engine) weighs a
    phrase: ``scored`` finds every text with all the words (any, for
    match='any'); ``exact`` is the same with the phrase, on word positions, as a
    filter that adds nothing to the score.  For a phrase of common words,
    ``scored`` best-first and checked against the text is much cheaper than
    ``exact``, and gives the same rows in the same order.
    """
    import tantivy as tv

    schema = index.schema
    words = list(dict.fromkeys(terms.words))
    if len(words) == 1:
        text_q = tv.Query.term_query(schema, "text", words[0])
    else:
        occur = tv.Occur.Should if terms.match == "any" else tv.Occur.Must
        text_q = tv.Query.boolean_query([(occur, tv.Query.term_query(schema, "text", w)) for w in words])
    filters = []
    if values.get("site"):
        filters.append(tv.Query.term_query(schema, "site", values["site"]))
    if values.get("authority"):
        filters.append(tv.Query.term_query(schema, "authority", values["authority"]))
    direction = values.get("direction")
    if direction == "outgoing":
        filters.append(tv.Query.term_query(schema, "kind", KIND["outgoing"]))
    elif direction == "incoming":
        filters.append(tv.Query.term_set_query(schema, "kind", [KIND["incoming"], KIND["attachment"]]))
    since, until = values.get("since"), values.get("until")
    if since is not None or until is not None:  # dates in Europe/London: [start of since, start of the day after until)
        lo = _london_day_start(since) if since is not None else NO_TIME + 1
        hi = _london_day_start(until + timedelta(days=1)) - 1 if until is not None else None
        filters.append(tv.Query.range_query(schema, "sent", tv.FieldType.Integer, lower_bound=lo, upper_bound=hi))

    def combine(parts):
        if not parts:
            return text_q
        return tv.Query.boolean_query([(tv.Occur.Must, text_q)] + [(tv.Occur.Must, tv.Query.const_score_query(q, 0.0)) for q in parts])

    scored = combine(filters)
    if terms.match != "phrase" or len(terms.words) == 1:
        return scored, scored
    return scored, combine([tv.Query.phrase_query(schema, "text", list(terms.words)), *filters])


def _hit_row(doc: dict, terms: Terms, score: float | None, max_uid: int) -> dict | None:
    """A result row from a stored index document; None when its text does not hold the words as asked.

    A document above the highest uid the database knows comes from an update
    whose database commit was lost: it is not there (the next update removes it).
    """
    def one(name):
        got = doc.get(name)
        return got[0] if got else None

    if one("uid") > max_uid:
        return None
    text = one("text")
    hit = terms.first_hit(text)
    if hit is None:
        return None
    source, direction = _DIRECTION[one("kind")]
    return {
        "url_title": one("url_title"), "title": one("title"), "authority_url_name": one("authority"),
        "source": source, "direction": direction, "message_id": one("message_id"),
        "attachment_part": one("part") if source == "attachment" else None,
        "sent_at": from_epoch_us(one("sent")), "snippet": terms.snippet(text, hit), "site": one("site"),
        "score": round(score, 4) if score is not None else None, "request_key": one("request_key"),
    }


# Texts loaded or extracted after the index was last updated: the keys of all of them (their index
# documents may be stale) and, for those that may hold the words, the row to check.
_NEWER = """
    SELECT 'message' AS source, m.site, m.direction, m.message_id, CAST(NULL AS INTEGER) AS attachment_part,
           m.request_key, m.sent_at, CASE WHEN m.body ILIKE $probe THEN m.body END AS text
    FROM messages AS m
    WHERE {newer}
    {attachments}
"""
_NEWER_ATTACHMENTS = """
    UNION ALL
    SELECT 'attachment', a.site, 'incoming', a.incoming_message_id, a.part, a.request_key, m.sent_at,
           CASE WHEN a.status = 'ok' AND a.text ILIKE $probe THEN a.text END
    FROM attachment_texts AS a
    LEFT JOIN messages AS m ON m.site = a.site AND m.direction = 'incoming' AND m.message_id = a.incoming_message_id
    WHERE {newer}
"""
_NEWER_REQUESTS = """
    SELECT site, request_key, url_title, title, authority_url_name
    FROM requests WHERE request_key IN (SELECT unnest($keys::VARCHAR[]))
"""


def _probe(terms: Terms) -> str:
    """ILIKE pattern every text with a hit contains (a quick filter before the regular expressions)."""
    if terms.match == "any":
        return "%"
    longest = max(terms.words, key=len)
    return "%" + longest.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _newer(cur, terms: Terms, state: dict, values: dict) -> tuple[set[tuple], list[dict]]:
    """Keys of the texts newer than the index, and the rows among them that match (filters applied)."""
    has_attachments = bool(cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'attachment_texts' AND NOT temporary").fetchall()[0][0])
    params: dict[str, Any] = {"probe": _probe(terms)}
    newer = "m.last_seen IS NOT NULL"  # nothing had been loaded when the index was last updated
    if state["messages_through"] is not None:
        newer = "m.last_seen > $through"  # the loader moves last_seen on every load (never below first_seen)
        params["through"] = state["messages_through"]
    attachments = ""
    if has_attachments:
        newer_texts = "a.extracted_at IS NOT NULL"
        if state["texts_through"] is not None:
            newer_texts = "a.extracted_at > $texts_through"
            params["texts_through"] = state["texts_through"]
        attachments = _NEWER_ATTACHMENTS.format(newer=newer_texts)
    got = cur.sql(_NEWER.format(newer=newer, attachments=attachments), params=params).fetchall()
    keys = {(src, site, direction, mid, part) for src, site, direction, mid, part, *_ in got}
    candidates = [r for r in got if r[-1] is not None and terms.found_in(r[-1])]
    if not candidates:
        return keys, []
    requests = {(r[0], r[1]): r[2:] for r in cur.sql(
        _NEWER_REQUESTS, params={"keys": sorted({r[5] for r in candidates})}).fetchall()}
    rows = []
    for source, site, direction, mid, part, request_key, sent_at, text in candidates:
        url_title, title, authority = requests.get((site, request_key), (None, None, None))
        row = {"url_title": url_title, "title": title, "authority_url_name": authority, "source": source,
               "direction": direction, "message_id": mid, "attachment_part": part, "sent_at": sent_at,
               "snippet": terms.snippet(text), "site": site, "score": None, "request_key": request_key}
        if _passes(row, values):
            rows.append(row)
    return keys, rows


def _passes(row: dict, values: dict) -> bool:
    if values.get("site") and row["site"] != values["site"]:
        return False
    if values.get("authority") and row["authority_url_name"] != values["authority"]:
        return False
    if values.get("direction") and row["direction"] != values["direction"]:
        return False
    since, until = values.get("since"), values.get("until")
    if since is not None or until is not None:
        if row["sent_at"] is None:
            return False
        day = row["sent_at"].astimezone(LONDON).date()
        if (since is not None and day < since) or (until is not None and day > until):
            return False
    return True


def _key(row: dict) -> tuple:
    return (row["source"], row["site"], row["direction"], row["message_id"], row["attachment_part"])


def _order_key(order: str):
    """Sort key: score (relevance only) and time sent, highest first, unknown last; then url_title, source, ids."""
    def key(r):
        sent = r["sent_at"].timestamp() if r["sent_at"] is not None else None
        parts = []
        if order == "relevance":
            parts += [r["score"] is None, -(r["score"] or 0.0)]
        parts += [sent is None, -(sent or 0.0), r["url_title"] is None, r["url_title"] or "",
                  r["source"], r["message_id"], r["attachment_part"] or 0]
        return parts
    return key


WINDOW_US = 30 * 86_400 * 10**6  # the first window of a newest-first search: the last 30 days of the index


def _collect(searcher, index, query, terms: Terms, stale: set, max_uid: int, top: int, order: str,
             budget: int | None = None) -> list[dict] | None:
    """The first ``top`` checked rows of ``query`` (fetching more hits while checks drop some).

    With ``budget``: None once that many hits were read without ``top`` rows
    passing (the caller then asks a more exact query).
    """
    import tantivy as tv

    rows: list[dict] = []
    offset, want = 0, max(top, 1) + 20
    while True:
        if budget is not None and offset >= budget:
            return None
        if order == "date":
            hits = searcher.search(query, limit=want, offset=offset, order_by_field="sent", count=False).hits
        else:
            hits = searcher.search(query, limit=want, offset=offset, count=False).hits
        for score, address in hits:
            row = _hit_row(searcher.doc(address).to_dict(), terms, None if order == "date" else float(score), max_uid)
            if row is not None and _key(row) not in stale:
                rows.append(row)
        offset += len(hits)
        if len(hits) < want or len(rows) >= top:
            if order == "date" and len(hits) == want:
                # the cut may fall inside a run of texts sent at the same moment: take the whole run
                sent = searcher.fast_field_values("sent", [hits[-1][1]])[0]
                tie = tv.Query.boolean_query([
                    (tv.Occur.Must, query),
                    (tv.Occur.Must, tv.Query.range_query(index.schema, "sent", tv.FieldType.Integer, lower_bound=sent, upper_bound=sent)),
                ])
                for _, address in searcher.search(tie, limit=10_000, count=False).hits:
                    row = _hit_row(searcher.doc(address).to_dict(), terms, None, max_uid)
                    if row is not None and _key(row) not in stale:
                        rows.append(row)
            return rows
        want *= 2


def _newest(searcher, index, query, terms: Terms, stale: set, max_uid: int, top: int) -> list[dict]:
    """The newest ``top`` checked rows, looking back from the newest text in windows four times longer each time.

    Sorting every hit of a common word by date costs a pass over all of them; the
    newest hundred of a word in a quarter of the corpus are in its last weeks.
    Everything before a window is older than everything in it, so a window that
    holds ``top`` rows holds the newest ``top``.
    """
    import tantivy as tv

    newest = searcher.search(tv.Query.all_query(), limit=1, order_by_field="sent", count=False).hits
    if not newest:
        return []
    lo, width = newest[0][0] - WINDOW_US, WINDOW_US
    while lo > NO_TIME + 1:
        window = tv.Query.range_query(index.schema, "sent", tv.FieldType.Integer, lower_bound=lo)
        rows = _collect(searcher, index, tv.Query.boolean_query([(tv.Occur.Must, query), (tv.Occur.Must, window)]),
                        terms, stale, max_uid, top, "date") or []
        if len(rows) >= top:
            return rows
        width *= 4
        lo = newest[0][0] - width if width < 2**61 else NO_TIME + 1
    return _collect(searcher, index, query, terms, stale, max_uid, top, "date") or []  # the whole index, undated texts too


def search(cur, values: dict[str, Any], scan_sql: str, notes: list[str]) -> pa.Table:
    """Run ``search`` with the typed ``values`` on cursor ``cur`` (variables already set)."""

    order = values.get("order") or "relevance"
    top = values.get("top")
    top = 100 if top is None else top
    terms = _terms(values["q"], values.get("match") or "phrase")
    try:
        index, state = _open_reader(cur)
        if not terms.indexable:
            raise NoIndex("a word of q is longer than the index keeps (39 bytes)")
    except NoIndex as why:
        notes.append(f"Note: search read every text ({why}).")
        return cur.sql(scan_sql).to_arrow_table()

    stale, fresh = _newer(cur, terms, state, values)
    searcher = index.searcher()
    scored, exact = _engine_queries(index, terms, values)
    rows: list[dict] | None = None
    if order == "date":
        rows = _newest(searcher, index, exact, terms, stale, state["max_uid"], top)
    elif scored is not exact:  # a phrase: its words best first, checked against the text, while that finds enough
        rows = _collect(searcher, index, scored, terms, stale, state["max_uid"], top, order, budget=4 * (top + 20))
    if rows is None:
        rows = _collect(searcher, index, exact, terms, stale, state["max_uid"], top, order) or []
    if fresh:
        notes.append(f"Note: {len(fresh)} hit(s) in texts loaded since the search index was last updated were found by a scan of those texts.")
    unique = {_key(r): r for r in rows}
    unique.update({_key(r): r for r in fresh})
    ordered = sorted(unique.values(), key=_order_key(order))[:top]
    return pa.Table.from_pylist([{c: r[c] for c in COLUMNS} for r in ordered], schema=SCHEMA)
