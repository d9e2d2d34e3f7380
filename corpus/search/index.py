"""The search index beside the database: Tantivy in ``<db>.search/``, ``search_docs`` in the database.

One index document per message body and per extracted attachment text.  The
index holds the words with their positions (so phrases are found from the
index alone); as fast fields, what a search filters or sorts on (site,
authority, kind: outgoing message, incoming message or attachment, and the time
sent); and, stored (compressed), what a result shows: the text (checked
against the query and cut into a snippet), the message's key and its request's
key, slug, title and authority.  So a search reads nothing from the database
but the few texts loaded since the index was last updated: reading a hundred
scattered texts back from DuckDB costs more than the whole search.

``search_docs`` (in the database) lists every document the index holds: its
``uid`` and key (site, source, direction, message_id, part) and a fingerprint
of what was indexed (the text, the time sent and the request's key, slug, title
and authority).  An update
compares the texts with it and touches only what changed, so

* a sync (``since`` = its start) indexes only the messages and texts it loaded
  or extracted, and only those whose fingerprint changed;
* a full rebuild (``corpus reparse``) fingerprints every text but re-indexes
  only those whose text changed: a parser change that leaves the texts alone
  costs one read of the texts, not a new index.

Crash safety: ``search_docs`` changes in the same database transaction as the
index commit, written just before it.  If the database commit is lost after
the index committed, the next update finds index documents above the highest
``uid`` the database knows, or a count that differs, and repairs the index
(removing the extra documents, or rebuilding it).  An index that belongs to
another database (``index_id`` differs), or to an older layout, is rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from corpus.db import table_columns
from corpus.errors import CorpusError

LAYOUT_VERSION = 2  # bump when the fields or the tokenizer change: indexes of another version are rebuilt
META_FILE = "corpus-search.json"
TOKENIZER = "corpus_words"
NO_TIME = -(2**62)  # "sent" of a text whose time is unknown: sorts last, outside every date range
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_us(value: datetime | None) -> int:
    """Microseconds since 1970 (UTC) as the index stores a time sent; NO_TIME when unknown."""
    if value is None:
        return NO_TIME
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_epoch_us(value: int | None) -> datetime | None:
    if value is None or value == NO_TIME:
        return None
    return _EPOCH + timedelta(microseconds=value)
KIND = {"outgoing": 0, "incoming": 1, "attachment": 2}

DOCS_DDL = """
CREATE TABLE IF NOT EXISTS search_docs (
    uid          BIGINT NOT NULL,     -- the index document's id
    site         VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,    -- 'message' | 'attachment'
    direction    VARCHAR NOT NULL,    -- 'incoming' | 'outgoing' (attachments: 'incoming')
    message_id   BIGINT NOT NULL,     -- N of incoming-N / outgoing-N
    part         INTEGER NOT NULL,    -- attachment part; 0 for a message body
    fingerprint  UBIGINT NOT NULL     -- md5 of what was indexed: the text, time sent, request key, slug, title, authority
)
"""
STATE_DDL = """
CREATE TABLE IF NOT EXISTS search_index_state (
    index_id             VARCHAR NOT NULL,   -- matches <db>.search/corpus-search.json
    layout_version       INTEGER NOT NULL,
    docs                 BIGINT NOT NULL,
    max_uid              BIGINT NOT NULL,    -- readers ignore index documents above it (a lost database commit)
    messages_through     TIMESTAMPTZ,        -- highest messages.last_seen indexed
    texts_through        TIMESTAMPTZ,        -- highest attachment_texts.extracted_at indexed
    updated_at           TIMESTAMPTZ NOT NULL
)
"""
STATE_COLUMNS = ("index_id", "layout_version", "docs", "max_uid", "messages_through", "texts_through", "updated_at")
_KEY = ("site", "source", "direction", "message_id", "part")
_ON_KEY = " AND ".join(f"d.{c} = n.{c}" for c in _KEY)


@dataclass
class UpdateStats:
    """What one update did."""

    added: int = 0
    removed: int = 0
    docs: int = 0
    rebuilt: bool = False
    reason: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        how = f"rebuilt ({self.reason})" if self.rebuilt else "updated"
        return f"search index {how}: {self.added:,} texts added, {self.removed:,} removed, {self.docs:,} in all ({self.seconds:.1f} s)"


# ---------------------------------------------------------------- location and layout
def index_dir(db_path: str | os.PathLike) -> Path:
    """Where the index of the database at ``db_path`` lives: ``<db>.search/``."""
    return Path(os.fspath(db_path) + ".search")


def database_path(con) -> Path | None:
    """The file behind ``con`` (None for an in-memory database)."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return Path(rows[0][0]) if rows and rows[0][0] else None


def _tantivy():
    import tantivy

    return tantivy


def analyzer(*, drop_long: bool = True):
    """Words as the index sees them: runs of letters and digits, lower case (tokens of 40 bytes or more dropped)."""
    tv = _tantivy()
    builder = tv.TextAnalyzerBuilder(tv.Tokenizer.simple())
    if drop_long:
        builder = builder.filter(tv.Filter.remove_long(40))
    return builder.filter(tv.Filter.lowercase()).build()


def schema():
    tv = _tantivy()
    sb = tv.SchemaBuilder()
    sb.add_text_field("text", stored=True, tokenizer_name=TOKENIZER, index_option="position")
    sb.add_unsigned_field("uid", indexed=True, fast=True, stored=True)
    sb.add_unsigned_field("kind", indexed=True, fast=True, stored=True)
    sb.add_integer_field("sent", indexed=True, fast=True, stored=True)
    sb.add_text_field("site", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("authority", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("message_id", stored=True)
    sb.add_integer_field("part", stored=True)
    sb.add_text_field("request_key", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("url_title", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("title", stored=True, tokenizer_name="raw", index_option="basic")
    return sb.build()


def read_meta(path: Path) -> dict | None:
    try:
        return json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def open_index(path: Path):
    """The Tantivy index at ``path``, with the corpus tokenizer registered."""
    tv = _tantivy()
    index = tv.Index.open(str(path))
    index.register_tokenizer(TOKENIZER, analyzer())
    return index


def _create_index(path: Path, index_id: str):
    tv = _tantivy()
    if path.exists():
        ours = (path / META_FILE).exists() or (path / "meta.json").exists() or (path.is_dir() and not any(path.iterdir()))
        if not ours:
            raise CorpusError(f"{path} exists and is not a search index; move it away so the index can be built there")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    index = tv.Index(schema(), str(path), reuse=False)
    index.register_tokenizer(TOKENIZER, analyzer())
    meta = {"index_id": index_id, "layout_version": LAYOUT_VERSION, "engine": "tantivy",
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    tmp = path / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path / META_FILE)
    return index


def read_state(con) -> dict | None:
    """The ``search_index_state`` row (None when the database has never been indexed)."""
    has = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'search_index_state' AND NOT temporary"
    ).fetchall()[0][0]
    if not has:
        return None
    cur = con.execute("SELECT * FROM search_index_state LIMIT 1")
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return dict(zip(names, rows[0])) if rows else None


def index_size(path: Path) -> int:
    """Bytes on disk."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


# ---------------------------------------------------------------- what changed
def _now_sql(con, since, table: str) -> str:
    """Every text to index now, with its key and fingerprint: of ``table`` ('messages' or 'attachment_texts')."""
    if table == "messages":
        scope = " AND (m.last_seen >= $since OR m.first_seen >= $since)" if since is not None else ""
        return f"""
            SELECT m.site, 'message' AS source, m.direction, m.message_id, 0 AS part,
                   xor(md5_number_lower(m.body), md5_number_lower(
                       concat_ws('|', CAST(epoch_us(m.sent_at) AS VARCHAR), m.request_key, r.url_title, r.title, r.authority_url_name))) AS fingerprint
            FROM messages AS m
            LEFT JOIN requests AS r ON r.site = m.site AND r.request_key = m.request_key
            WHERE m.body IS NOT NULL AND m.body <> ''{scope}"""
    scope = " AND a.extracted_at >= $since" if since is not None else ""
    return f"""
            SELECT a.site, 'attachment' AS source, 'incoming' AS direction, a.incoming_message_id AS message_id, a.part,
                   xor(md5_number_lower(a.text), md5_number_lower(
                       concat_ws('|', CAST(epoch_us(m.sent_at) AS VARCHAR), a.request_key, r.url_title, r.title, r.authority_url_name))) AS fingerprint
            FROM attachment_texts AS a
            LEFT JOIN messages AS m ON m.site = a.site AND m.direction = 'incoming' AND m.message_id = a.incoming_message_id
            LEFT JOIN requests AS r ON r.site = a.site AND r.request_key = a.request_key
            WHERE a.status = 'ok' AND a.text IS NOT NULL AND a.text <> ''{scope}"""


def _has_table(con, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [name]
    ).fetchall()[0][0])


def _plan(con, since) -> None:
    """Temp tables ``_search_drop(uid)`` and ``_search_add(uid, key...)``: the index changes to make."""
    parts = [_now_sql(con, since, "messages")]
    if _has_table(con, "attachment_texts"):
        parts.append(_now_sql(con, since, "attachment_texts"))
    params = {"since": since} if since is not None else {}
    con.execute("CREATE OR REPLACE TEMP TABLE _search_now AS " + "\nUNION ALL\n".join(parts), params)
    gone = ""
    if since is None:  # a whole comparison: documents whose text is no longer there go too
        gone = f"UNION ALL SELECT d.uid FROM search_docs AS d ANTI JOIN _search_now AS n ON {_ON_KEY}"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _search_drop AS
        SELECT d.uid FROM search_docs AS d JOIN _search_now AS n ON {_ON_KEY}
        WHERE d.fingerprint <> n.fingerprint
        {gone}""")
    start = con.execute("SELECT coalesce(max(uid), 0) FROM search_docs").fetchall()[0][0]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _search_add AS
        SELECT {start} + row_number() OVER () AS uid, n.*
        FROM _search_now AS n
        ANTI JOIN (SELECT * FROM search_docs ANTI JOIN _search_drop USING (uid)) AS d ON {_ON_KEY}""")
    con.execute("DROP TABLE _search_now")


_SENT = f"coalesce(epoch_us(m.sent_at), {NO_TIME})"
_TEXTS_SQL = f"""
    SELECT x.uid, CASE x.direction WHEN 'outgoing' THEN {KIND['outgoing']} ELSE {KIND['incoming']} END AS kind,
           x.message_id, x.part, {_SENT} AS sent, x.site, m.request_key,
           r.url_title, r.title, r.authority_url_name, m.body AS text
    FROM _search_add AS x
    JOIN messages AS m ON m.site = x.site AND m.direction = x.direction AND m.message_id = x.message_id
    LEFT JOIN requests AS r ON r.site = m.site AND r.request_key = m.request_key
    WHERE x.source = 'message'
"""
_ATTACHMENT_TEXTS_SQL = f"""
    UNION ALL
    SELECT x.uid, {KIND['attachment']}, x.message_id, x.part, {_SENT}, x.site, a.request_key,
           r.url_title, r.title, r.authority_url_name, a.text
    FROM _search_add AS x
    JOIN attachment_texts AS a ON a.site = x.site AND a.incoming_message_id = x.message_id AND a.part = x.part
    LEFT JOIN messages AS m ON m.site = a.site AND m.direction = 'incoming' AND m.message_id = a.incoming_message_id
    LEFT JOIN requests AS r ON r.site = a.site AND r.request_key = a.request_key
    WHERE x.source = 'attachment'
"""


def _writer(index, n_docs: int, lean: bool = False):
    """A writer sized to the work: one thread and a small heap for a sync's few texts, all cores for a build.

    ``lean``: the small writer whatever the number (a sync keeps its memory flat; tantivy writes more segments).
    """
    if lean or n_docs < 20_000:
        return index.writer(heap_size=30_000_000, num_threads=1)
    threads = max(1, min(os.cpu_count() or 1, 4))
    return index.writer(heap_size=min(threads * 120_000_000, 480_000_000), num_threads=threads)


def _add_documents(con, writer, has_attachments: bool, progress=None, batch_rows: int = 20_000) -> int:
    tv = _tantivy()
    sql = _TEXTS_SQL + (_ATTACHMENT_TEXTS_SQL if has_attachments else "")
    reader = con.sql(sql).to_arrow_reader(batch_rows)
    added = 0
    new_doc = tv.Document
    for batch in reader:  # the times and kinds come as integers: no Python datetimes on this path
        c = batch.to_pydict()
        for uid, kind, message_id, part, sent, site, request_key, url_title, title, authority, text in zip(
            c["uid"], c["kind"], c["message_id"], c["part"], c["sent"], c["site"], c["request_key"],
            c["url_title"], c["title"], c["authority_url_name"], c["text"],
        ):
            doc = new_doc()
            doc.add_unsigned("uid", uid)
            doc.add_unsigned("kind", kind)
            doc.add_integer("sent", sent)
            doc.add_text("site", site)
            doc.add_integer("message_id", message_id)
            doc.add_integer("part", part)
            if request_key is not None:
                doc.add_text("request_key", request_key)
            if url_title is not None:
                doc.add_text("url_title", url_title)
            if title is not None:
                doc.add_text("title", title)
            if authority is not None:
                doc.add_text("authority", authority)
            doc.add_text("text", text)
            writer.add_document(doc)
        added += batch.num_rows
        if progress is not None:
            progress(added)
    return added


def _index_max_uid(index) -> int:
    tv = _tantivy()
    searcher = index.searcher()
    if searcher.num_docs == 0:
        return 0
    hits = searcher.search(tv.Query.all_query(), limit=1, order_by_field="uid", order=tv.Order.Desc).hits
    return int(hits[0][0]) if hits else 0


# ---------------------------------------------------------------- the update
def _in_transaction(con) -> bool:
    """Whether ``con`` is inside an explicit transaction (in autocommit every statement gets a new id)."""
    first = con.execute("SELECT current_transaction_id()").fetchall()[0][0]
    return con.execute("SELECT current_transaction_id()").fetchall()[0][0] == first


def update_search_index(con, *, since: datetime | None = None, progress=None, lean: bool = False) -> UpdateStats | None:
    """Bring the index beside the database behind ``con`` up to date; None for an in-memory database.

    With ``since``, only texts loaded (``last_seen``/``first_seen``) or
    extracted (``extracted_at``) since then are compared; without it, all.
    ``progress(n)`` is called with the number of texts added so far.
    ``lean``: index with one thread and a small heap however many texts there
    are (a sync's memory must not grow with what it fetched).
    """
    db = database_path(con)
    if db is None:
        return None
    started = time.monotonic()
    stats = UpdateStats()
    path = index_dir(db)
    if set(table_columns(con, "search_index_state")) not in (set(), set(STATE_COLUMNS)):
        con.execute("DROP TABLE search_index_state")  # written by another version: start again
    con.execute(DOCS_DDL)
    con.execute(STATE_DDL)
    state = read_state(con)
    meta = read_meta(path)
    index = None
    reason = ""
    if state is None or meta is None:
        reason = "no index yet" if state is None else "index folder missing"
    elif meta.get("index_id") != state["index_id"]:
        reason = "the index folder belongs to another database"
    elif meta.get("layout_version") != LAYOUT_VERSION or state["layout_version"] != LAYOUT_VERSION:
        reason = "index layout changed"
    else:
        try:
            index = open_index(path)
        except Exception as exc:  # a damaged folder: rebuild it
            reason = f"index unreadable ({str(exc).splitlines()[0][:80]})"
    if index is not None:
        reason = _repair(con, index)
        if reason:
            index = None
    if index is None:
        stats.rebuilt, stats.reason = True, reason
        since = None
        index_id = uuid.uuid4().hex
        con.execute("DELETE FROM search_docs")
        con.execute("DELETE FROM search_index_state")
        con.execute(
            "INSERT INTO search_index_state VALUES (?, ?, 0, 0, NULL, NULL, ?)",
            [index_id, LAYOUT_VERSION, datetime.now(timezone.utc)],
        )
        index = _create_index(path, index_id)

    has_attachments = _has_table(con, "attachment_texts")
    own_txn = not _in_transaction(con)
    if own_txn:
        con.execute("BEGIN TRANSACTION")
    try:
        _plan(con, since)
        drop = [r[0] for r in con.execute("SELECT uid FROM _search_drop").fetchall()]
        n_add = con.execute("SELECT count(*) FROM _search_add").fetchall()[0][0]
        through = con.execute(
            "SELECT (SELECT max(greatest(last_seen, first_seen)) FROM messages)"
            + (", (SELECT max(extracted_at) FROM attachment_texts)" if has_attachments else ", NULL")
        ).fetchall()[0]
        if drop or n_add:
            writer = _writer(index, n_add, lean)
            try:
                tv = _tantivy()
                for i in range(0, len(drop), 10_000):
                    writer.delete_documents_by_query(tv.Query.term_set_query(index.schema, "uid", drop[i:i + 10_000]))
                if n_add:
                    # (lean: a thousand texts in hand at a time rather than 20,000: a sync's memory stays flat)
                    _add_documents(con, writer, has_attachments, progress, batch_rows=1_000 if lean else 20_000)
                con.execute("DELETE FROM search_docs WHERE uid IN (SELECT uid FROM _search_drop)")
                con.execute("INSERT INTO search_docs SELECT uid, site, source, direction, message_id, part, fingerprint FROM _search_add")
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()
        stats.added, stats.removed = n_add, len(drop)
        stats.docs, max_uid = con.execute("SELECT count(*), coalesce(max(uid), 0) FROM search_docs").fetchall()[0]
        con.execute(
            "UPDATE search_index_state SET docs = ?, max_uid = ?, messages_through = ?, texts_through = ?, updated_at = ?",
            [stats.docs, max_uid, through[0], through[1], datetime.now(timezone.utc)],
        )
        con.execute("DROP TABLE IF EXISTS _search_drop")
        con.execute("DROP TABLE IF EXISTS _search_add")
        if own_txn:
            con.execute("COMMIT")
    except BaseException:
        if own_txn:
            con.execute("ROLLBACK")
        raise
    stats.seconds = time.monotonic() - started
    return stats


def _repair(con, index) -> str:
    """Make the index agree with ``search_docs`` after a lost database commit; a reason to rebuild, or ''."""
    tv = _tantivy()
    db_max = con.execute("SELECT coalesce(max(uid), 0) FROM search_docs").fetchall()[0][0]
    if _index_max_uid(index) > db_max:  # documents added by an update whose database commit was lost
        writer = index.writer(heap_size=30_000_000, num_threads=1)
        writer.delete_documents_by_query(
            tv.Query.range_query(index.schema, "uid", tv.FieldType.Unsigned, lower_bound=db_max + 1)
        )
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
    docs = con.execute("SELECT count(*) FROM search_docs").fetchall()[0][0]
    if index.searcher().num_docs != docs:
        return "the index and search_docs disagree"
    return ""
