"""The ``search`` canned query: from the index when there is one, by a scan when not.

With the index (``corpus.search.index``) a search reads only the documents
that hold the words:

1. the words of ``q`` are cut as the index cuts them;
2. Tantivy finds the documents (a phrase query on word positions, or all / any
   of the words) within the filters it holds (site, authority, direction, sent
   between since and until), best first by BM25 or newest first;
3. the hits are read back from the database by ``uid`` (``search_docs``, then
   ``messages`` / ``attachment_texts``) and checked against the text with the
   regular expressions of ``corpus.search.words`` and against every filter
   again; a hit that fails (a text changed since it was indexed) is dropped and
   more are fetched;
4. texts loaded after the index was last updated (a sync still running) are
   searched by a scan of those rows alone and merged in, so no result is
   missing while the index catches up.

Without an index (none built yet, or one from another database), or for a word
too long to be indexed, the runner falls back to ``queries/search.sql``, which
finds the same rows by reading every text, and says so in a note.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from corpus.errors import UsageError
from corpus.search.index import (
    KIND,
    LAYOUT_VERSION,
    NO_TIME,
    analyzer,
    database_path,
    index_dir,
    open_index,
    read_meta,
    read_state,
)
from corpus.search.words import Terms

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
    if meta is None or meta.get("index_id") != state["index_id"] or state["layout_version"] != LAYOUT_VERSION:
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


def _engine_query(index, terms: Terms, values: dict[str, Any], bounds: tuple[int | None, int | None]):
    import tantivy as tv

    schema = index.schema
    if terms.match == "phrase" and len(terms.words) > 1:
        text_q = tv.Query.phrase_query(schema, "text", list(terms.words))
    elif len(terms.words) == 1:
        text_q = tv.Query.term_query(schema, "text", terms.words[0])
    else:
        occur = tv.Occur.Must if terms.match in ("all", "phrase") else tv.Occur.Should
        text_q = tv.Query.boolean_query([(occur, tv.Query.term_query(schema, "text", w)) for w in dict.fromkeys(terms.words)])
    must = [text_q]
    if values.get("site"):
        must.append(tv.Query.term_query(schema, "site", values["site"]))
    if values.get("authority"):
        must.append(tv.Query.term_query(schema, "authority", values["authority"]))
    direction = values.get("direction")
    if direction == "outgoing":
        must.append(tv.Query.term_query(schema, "kind", KIND["outgoing"]))
    elif direction == "incoming":
        must.append(tv.Query.term_set_query(schema, "kind", [KIND["incoming"], KIND["attachment"]]))
    lo, hi = bounds
    if lo is not None or hi is not None:
        must.append(tv.Query.range_query(schema, "sent", tv.FieldType.Integer, lower_bound=lo if lo is not None else NO_TIME + 1,
                                         upper_bound=hi, include_upper=hi is None))
    if len(must) == 1:
        return text_q
    return tv.Query.boolean_query([(tv.Occur.Must, q) for q in must])


def _date_bounds(cur, values) -> tuple[int | None, int | None]:
    """since/until (dates in Europe/London) as epoch seconds: [start of since, start of the day after until)."""
    since, until = values.get("since"), values.get("until")
    if since is None and until is None:
        return None, None
    lo, hi = cur.execute(
        "SELECT epoch(timezone('Europe/London', CAST($s AS DATE)::TIMESTAMP))::BIGINT, "
        "epoch(timezone('Europe/London', (CAST($u AS DATE) + 1)::TIMESTAMP))::BIGINT",
        {"s": since, "u": until},
    ).fetchall()[0]
    return lo, hi


# Hits read back from the database: checked against the text and every filter, with the snippet.
_READ_BACK = """
WITH hit AS (
    SELECT unnest($uids::BIGINT[]) AS uid, unnest($scores::DOUBLE[]) AS score, unnest($ranks::BIGINT[]) AS rank
),
doc AS (
    SELECT h.score, h.rank, d.* FROM hit AS h JOIN search_docs AS d USING (uid)
),
texts AS (
    SELECT doc.score, doc.rank, m.site, m.request_key, 'message' AS source, m.direction, m.message_id,
           CAST(NULL AS INTEGER) AS attachment_part, m.sent_at, m.body AS text
    FROM doc JOIN messages AS m ON m.site = doc.site AND m.direction = doc.direction AND m.message_id = doc.message_id
    WHERE doc.source = 'message'
    {attachments}
)
SELECT * FROM texts
"""
_READ_BACK_ATTACHMENTS = """
    UNION ALL
    SELECT doc.score, doc.rank, a.site, a.request_key, 'attachment', 'incoming', a.incoming_message_id, a.part, m.sent_at, a.text
    FROM doc
    JOIN attachment_texts AS a ON a.site = doc.site AND a.incoming_message_id = doc.message_id AND a.part = doc.part
    LEFT JOIN messages AS m ON m.site = a.site AND m.direction = 'incoming' AND m.message_id = a.incoming_message_id
    WHERE doc.source = 'attachment' AND a.status = 'ok'
"""
# Texts loaded or extracted after the index was last updated.
_TAIL = """
    SELECT CAST(NULL AS DOUBLE) AS score, CAST(NULL AS BIGINT) AS rank, m.site, m.request_key, 'message' AS source, m.direction,
           m.message_id, CAST(NULL AS INTEGER) AS attachment_part, m.sent_at, m.body AS text
    FROM messages AS m
    WHERE {newer} AND m.body ILIKE $probe
    {attachments}
"""
_TAIL_ATTACHMENTS = """
    UNION ALL
    SELECT NULL, NULL, a.site, a.request_key, 'attachment', 'incoming', a.incoming_message_id, a.part, m.sent_at, a.text
    FROM attachment_texts AS a
    LEFT JOIN messages AS m ON m.site = a.site AND m.direction = 'incoming' AND m.message_id = a.incoming_message_id
    WHERE a.status = 'ok' AND {newer} AND a.text ILIKE $probe
"""
_CHECK = """
SELECT x.*, r.url_title, r.title, r.authority_url_name
FROM ({inner}) AS x
LEFT JOIN requests AS r ON r.site = x.site AND r.request_key = x.request_key
WHERE regexp_matches(x.text, $pattern) {all_words}
  AND ($site IS NULL OR x.site = $site)
  AND ($direction IS NULL OR x.direction = $direction)
  AND ($authority IS NULL OR r.authority_url_name = $authority)
  AND ($since IS NULL OR timezone('Europe/London', x.sent_at)::DATE >= $since)
  AND ($until IS NULL OR timezone('Europe/London', x.sent_at)::DATE <= $until)
"""
_FINAL = """
WITH one AS (  -- one row per text: an index hit before a tail hit
    SELECT * FROM _search_raw
    QUALIFY row_number() OVER (PARTITION BY site, source, direction, message_id, attachment_part ORDER BY rank NULLS LAST) = 1
),
kept AS (SELECT * FROM one ORDER BY {order} LIMIT $top)
SELECT url_title, title, authority_url_name, source, direction, message_id, attachment_part, sent_at,
       trim(regexp_replace(regexp_extract(text, $snippet), '\\s+', ' ', 'g')) AS snippet,
       site, round(score, 4) AS score
FROM kept
ORDER BY {order}
"""
_ORDER = {
    "relevance": "score DESC NULLS LAST, sent_at DESC NULLS LAST, url_title, source, message_id, attachment_part",
    "date": "sent_at DESC NULLS LAST, url_title, source, message_id, attachment_part",
}


def _check_sql(terms: Terms, inner: str) -> str:
    all_words = ""
    if terms.match == "all" and len(terms.words) > 1:
        all_words = " AND " + " AND ".join(f"regexp_matches(x.text, $w{i})" for i in range(len(terms.words)))
    return _CHECK.format(inner=inner, all_words=all_words)


def _check_params(terms: Terms, values: dict[str, Any]) -> dict[str, Any]:
    params = {"pattern": terms.pattern()}
    if terms.match == "all" and len(terms.words) > 1:
        params.update({f"w{i}": p for i, p in enumerate(terms.word_patterns())})
    for k in ("site", "direction", "authority", "since", "until"):
        params[k] = values.get(k)
    return params


def _probe(terms: Terms) -> str:
    """ILIKE pattern every text with a hit contains (a quick filter before the regular expressions)."""
    if terms.match == "any":
        return "%"
    longest = max(terms.words, key=len)
    return "%" + longest.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(cur, values: dict[str, Any], scan_sql: str, notes: list[str]) -> pa.Table:
    """Run ``search`` with the typed ``values`` on cursor ``cur`` (variables already set)."""
    match = values.get("match") or "phrase"
    order = values.get("order") or "relevance"
    top = values.get("top")
    top = 100 if top is None else top
    terms = _terms(values["q"], match)
    try:
        index, state = _open_reader(cur)
        if not terms.indexable:
            raise NoIndex("a word of q is longer than the index keeps (39 bytes)")
    except NoIndex as why:
        notes.append(f"Note: search read every text ({why}).")
        return cur.sql(scan_sql).to_arrow_table()

    has_attachments = bool(cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'attachment_texts' AND NOT temporary").fetchall()[0][0])
    query = _engine_query(index, terms, values, _date_bounds(cur, values))
    searcher = index.searcher()
    check = _check_sql(terms, _READ_BACK.format(attachments=_READ_BACK_ATTACHMENTS if has_attachments else ""))
    params = _check_params(terms, values)
    kept: list[pa.Table] = []
    n_kept = 0
    offset, want = 0, max(top, 1) + 20
    while True:
        if order == "date":
            result = searcher.search(query, limit=want, offset=offset, order_by_field="sent", count=False)
        else:
            result = searcher.search(query, limit=want, offset=offset, count=False)
        hits = result.hits
        if not hits:
            break
        addresses = [a for _, a in hits]
        uids = searcher.fast_field_values("uid", addresses)
        if order == "date":
            scores = [None] * len(hits)
        else:
            scores = [float(s) for s, _ in hits]
        got = cur.sql(check, params={**params, "uids": uids, "scores": scores, "ranks": list(range(offset, offset + len(hits)))}).to_arrow_table()
        kept.append(got)
        n_kept += got.num_rows
        offset += len(hits)
        if len(hits) < want or n_kept >= top:
            if order == "date" and len(hits) == want:
                # the cut may fall inside a run of texts sent in the same second: take the whole run
                last = searcher.fast_field_values("sent", [addresses[-1]])[0]
                kept.append(_same_second(cur, searcher, index, query, last, offset, check, params))
            break
        want *= 2
    tail = _tail(cur, terms, state, has_attachments, params)
    if tail.num_rows:
        notes.append(f"Note: {tail.num_rows} hit(s) in texts loaded since the search index was last updated were found by a scan of those texts.")
    hits = pa.concat_tables([*kept, tail], promote_options="default") if kept else tail
    return _finish(cur, hits, terms, order, top)


def _same_second(cur, searcher, index, query, sent: int, offset: int, check: str, params: dict) -> pa.Table:
    import tantivy as tv

    tie = tv.Query.boolean_query([
        (tv.Occur.Must, query),
        (tv.Occur.Must, tv.Query.range_query(index.schema, "sent", tv.FieldType.Integer, lower_bound=sent, upper_bound=sent)),
    ])
    hits = searcher.search(tie, limit=10_000, count=False).hits
    uids = searcher.fast_field_values("uid", [a for _, a in hits])
    return cur.sql(check, params={**params, "uids": uids, "scores": [None] * len(uids),
                                  "ranks": list(range(offset, offset + len(uids)))}).to_arrow_table()


def _tail(cur, terms: Terms, state: dict, has_attachments: bool, params: dict) -> pa.Table:
    """Hits among texts newer than the index (none once it is up to date: the time filter reads one column)."""
    tail_params = {**params, "probe": _probe(terms)}
    newer = "(m.last_seen IS NOT NULL OR m.first_seen IS NOT NULL)"  # nothing was loaded when the index was built
    if state["messages_through"] is not None:
        newer = "(m.last_seen > $through OR m.first_seen > $through)"
        tail_params["through"] = state["messages_through"]
    attachments = ""
    if has_attachments:
        newer_texts = "a.extracted_at IS NOT NULL"
        if state["texts_through"] is not None:
            newer_texts = "a.extracted_at > $texts_through"
            tail_params["texts_through"] = state["texts_through"]
        attachments = _TAIL_ATTACHMENTS.format(newer=newer_texts)
    inner = _TAIL.format(newer=newer, attachments=attachments)
    return cur.sql(_check_sql(terms, inner), params=tail_params).to_arrow_table()


def _finish(cur, hits: pa.Table, terms: Terms, order: str, top: int) -> pa.Table:
    """One row per text, ordered, cut at ``top``, with snippets."""
    cur.register("_search_raw", hits)
    try:
        return cur.sql(_FINAL.format(order=_ORDER[order]), params={"snippet": terms.snippet_pattern(), "top": top}).to_arrow_table()
    finally:
        cur.unregister("_search_raw")
