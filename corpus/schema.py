"""The corpus schema: versioned DDL and forward migrations.

Every table carries ``site`` (the Alaveteli base URL, e.g.
``https://www.whatdotheyknow.com``) so one database can hold several sites.
Requests are keyed by ``request_key``: ``'id:<numeric id>'`` once the site's
numeric id is known (from JSON, or the 2019 attachment URLs), otherwise
``'slug:<url_title>'``; the loader re-keys a request when its id becomes known.

``MIGRATIONS[i]`` upgrades a database from version ``i`` to ``i + 1``.  The
README documents every table and column; keep the two in step.
"""

from __future__ import annotations

SCHEMA_V1 = r"""
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- core entities
CREATE TABLE IF NOT EXISTS authorities (
    site          VARCHAR NOT NULL,
    url_name      VARCHAR NOT NULL,
    authority_id  BIGINT,             -- site's numeric id (JSON), when known
    name          VARCHAR,
    short_name    VARCHAR,
    tags          VARCHAR[],          -- tag strings, "name" or "name:value"
    jurisdiction  VARCHAR,            -- 'scotland' | 'uk' (how decided: README)
    home_page     VARCHAR,
    first_seen    TIMESTAMPTZ,
    last_seen     TIMESTAMPTZ,
    PRIMARY KEY (site, url_name)
);

CREATE TABLE IF NOT EXISTS users (
    site        VARCHAR NOT NULL,
    url_name    VARCHAR NOT NULL,     -- 'external:<name>' for external requesters
    user_id     BIGINT,
    name        VARCHAR,
    external    BOOLEAN NOT NULL DEFAULT false,
    first_seen  TIMESTAMPTZ,
    last_seen   TIMESTAMPTZ,
    PRIMARY KEY (site, url_name)
);

CREATE TABLE IF NOT EXISTS requests (
    site                      VARCHAR NOT NULL,
    request_key               VARCHAR NOT NULL,
    request_id                BIGINT,
    url_title                 VARCHAR NOT NULL,
    title                     VARCHAR,
    authority_url_name        VARCHAR,
    authority_name            VARCHAR,
    requester_url_name        VARCHAR,
    requester_name            VARCHAR,
    requester_external        BOOLEAN,
    law                       VARCHAR,      -- 'foi' | 'eir'
    described_state           VARCHAR,
    calculated_status         VARCHAR,
    display_status            VARCHAR,
    status_sentence           VARCHAR,
    due_date                  DATE,         -- as printed in the status sentence
    awaiting_description      BOOLEAN,
    closed_to_correspondence  BOOLEAN,
    restricted_correspondence BOOLEAN,
    authority_not_subject     BOOLEAN,
    eir_only                  BOOLEAN,
    hidden                    BOOLEAN,
    prominence                VARCHAR,
    created_at                TIMESTAMPTZ,
    updated_at                TIMESTAMPTZ,
    batch_id                  BIGINT,
    batch_size                INTEGER,
    tags                      VARCHAR[],
    markup_era                VARCHAR,      -- 'current' | '2019'
    has_json                  BOOLEAN,
    removed                   BOOLEAN NOT NULL DEFAULT false,  -- 404/410 at last fetch
    source                    VARCHAR,      -- 'sync' | 'import'
    source_url                VARCHAR,      -- page URL or imported file path
    page_sha256               VARCHAR,      -- hash of the raw page parsed
    first_seen                TIMESTAMPTZ,
    last_seen                 TIMESTAMPTZ,
    PRIMARY KEY (site, request_key)
);

CREATE TABLE IF NOT EXISTS messages (
    site               VARCHAR NOT NULL,
    request_key        VARCHAR NOT NULL,
    message_id         BIGINT NOT NULL,     -- N of incoming-N / outgoing-N
    direction          VARCHAR NOT NULL,    -- 'incoming' | 'outgoing'
    position           INTEGER,             -- order on the page (with annotations)
    event_type         VARCHAR,             -- from JSON: sent, followup_sent, response, ...
    sender             VARCHAR,
    sent_at            TIMESTAMPTZ,
    sent_at_text       VARCHAR,             -- ISO text as shown, UTC offset kept
    body               VARCHAR,
    quoted_text        VARCHAR,
    quoted_folded      BOOLEAN,
    body_placeholder   BOOLEAN,
    subject_only       BOOLEAN,
    resent             BOOLEAN,
    delivery_status    VARCHAR,
    prominence         VARCHAR,             -- normal | hidden | requester_only
    hidden_since       TIMESTAMPTZ,         -- set when a later fetch showed it hidden
    first_seen         TIMESTAMPTZ,
    last_seen          TIMESTAMPTZ,
    PRIMARY KEY (site, direction, message_id)
);

CREATE TABLE IF NOT EXISTS attachments (
    site                 VARCHAR NOT NULL,
    request_key          VARCHAR NOT NULL,
    incoming_message_id  BIGINT NOT NULL,
    part                 INTEGER NOT NULL,
    filename             VARCHAR,
    size_text            VARCHAR,
    size_bytes_approx    BIGINT,            -- from size_text ("78K" -> 79872)
    content_icon         VARCHAR,
    download_url         VARCHAR,
    html_url             VARCHAR,
    erased               BOOLEAN,
    hidden               BOOLEAN,
    first_seen           TIMESTAMPTZ,
    last_seen            TIMESTAMPTZ,
    PRIMARY KEY (site, incoming_message_id, part)
);

CREATE TABLE IF NOT EXISTS annotations (
    site                VARCHAR NOT NULL,
    request_key         VARCHAR NOT NULL,
    comment_id          BIGINT NOT NULL,
    position            INTEGER,
    author_url_name     VARCHAR,
    author_name         VARCHAR,
    created_at          TIMESTAMPTZ,
    created_at_text     VARCHAR,
    text                VARCHAR,
    first_seen          TIMESTAMPTZ,
    last_seen           TIMESTAMPTZ,
    PRIMARY KEY (site, comment_id)
);

CREATE TABLE IF NOT EXISTS events (
    site                 VARCHAR NOT NULL,
    request_key          VARCHAR NOT NULL,
    event_id             BIGINT NOT NULL,
    event_type           VARCHAR,
    created_at           TIMESTAMPTZ,
    created_at_text      VARCHAR,
    described_state      VARCHAR,
    calculated_state     VARCHAR,
    last_described_at    TIMESTAMPTZ,
    incoming_message_id  BIGINT,
    outgoing_message_id  BIGINT,
    comment_id           BIGINT,
    display_status       VARCHAR,
    PRIMARY KEY (site, event_id)
);

-- ---------------------------------------------------------------- crawl state
CREATE TABLE IF NOT EXISTS pages (
    url            VARCHAR PRIMARY KEY,   -- absolute URL fetched (after redirects: final_url)
    site           VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,      -- request_html | request_json | listing | robots | authorities_csv | attachment | imported_html | imported_json
    status         INTEGER,
    final_url      VARCHAR,
    fetched_at     TIMESTAMPTZ,
    etag           VARCHAR,
    last_modified  VARCHAR,
    content_type   VARCHAR,
    sha256         VARCHAR,               -- of the uncompressed body
    size           BIGINT,                -- uncompressed bytes
    encoding       VARCHAR,               -- 'zlib' | 'identity'
    companion_url  VARCHAR,               -- for a request page: the url of its JSON page row
    body           BLOB
);

CREATE TABLE IF NOT EXISTS frontier (
    url                VARCHAR PRIMARY KEY,
    site               VARCHAR NOT NULL,
    kind               VARCHAR NOT NULL,   -- request | listing | attachment
    url_title          VARCHAR,
    state              VARCHAR NOT NULL,   -- queued | done | failed | removed | blocked
    priority           INTEGER NOT NULL DEFAULT 0,
    discovered_at      TIMESTAMPTZ,
    discovered_from    VARCHAR,
    listing_signature  VARCHAR,            -- latest event/status seen in a listing
    fetched_signature  VARCHAR,            -- signature when last fetched
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         VARCHAR,
    last_attempt_at    TIMESTAMPTZ,
    done_at            TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS parse_failures (
    url          VARCHAR PRIMARY KEY,
    site         VARCHAR,
    kind         VARCHAR,     -- ParseFailure.kind
    message      VARCHAR,
    page_sha256  VARCHAR,
    failed_at    TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS sync_runs (
    run_id       VARCHAR PRIMARY KEY,
    site         VARCHAR,
    command      VARCHAR,
    started_at   TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ,
    outcome      VARCHAR,     -- complete | interrupted | blocked | failed
    summary      JSON
);

-- ---------------------------------------------------------------- attachment text
-- One row per incoming attachment that `corpus sync --attachments text|files` tried.
CREATE TABLE IF NOT EXISTS attachment_texts (
    site                 VARCHAR NOT NULL,
    request_key          VARCHAR NOT NULL,
    incoming_message_id  BIGINT NOT NULL,
    part                 INTEGER NOT NULL,
    filename             VARCHAR,
    content_type         VARCHAR,      -- as served
    text                 VARCHAR,      -- '' unless status = 'ok'
    characters           INTEGER,
    pages                INTEGER,      -- PDF pages, when known
    method               VARCHAR,      -- extractor and version, e.g. 'pypdf 7.1.1'
    library_version      VARCHAR,
    status               VARCHAR NOT NULL,  -- ok | no_text_layer | encrypted | corrupt | unsupported | too_large | failed | pending
    reason               VARCHAR,      -- one sentence for anything but a plain 'ok'
    size                 BIGINT,       -- bytes downloaded
    sha256               VARCHAR,      -- of the original file
    stored_path          VARCHAR,      -- kept file, relative to <db>.files/ (--attachments files)
    source_url           VARCHAR,      -- the download URL asked for
    final_url            VARCHAR,      -- after redirects
    etag                 VARCHAR,
    last_modified        VARCHAR,
    attempts             INTEGER NOT NULL DEFAULT 0,
    fetched_at           TIMESTAMPTZ,
    extracted_at         TIMESTAMPTZ,
    PRIMARY KEY (site, incoming_message_id, part)
);
"""

# Version 2: remember which listing walks finished, and when each frontier row's
# listing signature last changed, so a re-sync can stop walking a listing early.
SCHEMA_V2 = r"""
CREATE TABLE IF NOT EXISTS listing_walks (
    site           VARCHAR NOT NULL,
    target_kind    VARCHAR NOT NULL,   -- authority | user | query
    target_value   VARCHAR NOT NULL,   -- slug or query text
    since          DATE,               -- --since of the walk (NULL: none)
    until          DATE,               -- --until of the walk (NULL: none)
    started_at     TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ NOT NULL,  -- when the walk's last discoveries were committed
    pages          INTEGER,            -- listing pages read
    stopped_early  BOOLEAN NOT NULL DEFAULT false
);

ALTER TABLE frontier ADD COLUMN listing_changed_at TIMESTAMPTZ;  -- when listing_signature last changed
"""

# Version 3: say where attachment text came from (the file's own text or OCR) and
# how sure OCR was.  Rows from before were all read from the file.
SCHEMA_V3 = r"""
ALTER TABLE attachment_texts ADD COLUMN text_source VARCHAR;    -- text_layer | ocr (NULL: neither was read)
ALTER TABLE attachment_texts ADD COLUMN ocr_confidence DOUBLE;  -- Tesseract's mean word confidence, 0-100
UPDATE attachment_texts SET text_source = 'text_layer' WHERE status = 'ok';
"""

# Version 4: the attachment's database id (li#attachment-<id> on pages since 2022),
# kept beside its part number, which only the /attach/<part>/ links give.
SCHEMA_V4 = r"""
ALTER TABLE attachments ADD COLUMN database_id BIGINT;  -- Alaveteli's id of the attachment (NULL: not shown)
"""

# Version 5: provenance.  Pages can come from a web archive (a WARC/WACZ file, or a
# Wayback-compatible server) as well as the live site: each page says where and when it
# was captured, earlier captures of a URL are kept in page_history, and each request says
# where the pages it was built from came from and as of when.  Rows from before were all
# fetched live (or imported from saved files, source = 'import').
SCHEMA_V5 = r"""
ALTER TABLE pages ADD COLUMN origin VARCHAR;          -- live | archive | file
ALTER TABLE pages ADD COLUMN captured_at TIMESTAMPTZ; -- when the page was captured (live: when fetched)
ALTER TABLE pages ADD COLUMN capture_source VARCHAR;  -- the archive's replay URL or the file read (NULL: live)
ALTER TABLE pages ADD COLUMN record_id VARCHAR;       -- WARC-Record-ID, or the archive's CDX digest

CREATE TABLE IF NOT EXISTS page_history (
    url             VARCHAR NOT NULL,      -- the page's URL on the site
    site            VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    status          INTEGER,
    origin          VARCHAR,               -- live | archive | file
    captured_at     TIMESTAMPTZ NOT NULL,
    capture_source  VARCHAR,
    record_id       VARCHAR,
    content_type    VARCHAR,
    sha256          VARCHAR,
    size            BIGINT,
    encoding        VARCHAR,
    body            BLOB,
    superseded_at   TIMESTAMPTZ,           -- when a later capture took its place in pages
    PRIMARY KEY (url, captured_at)
);

ALTER TABLE requests ADD COLUMN provenance VARCHAR;       -- live | archive | file
ALTER TABLE requests ADD COLUMN provenance_name VARCHAR;  -- the archive (its base URL) or the file read
ALTER TABLE requests ADD COLUMN as_of TIMESTAMPTZ;        -- capture time of the page it was built from (NULL: live)

UPDATE pages SET origin = CASE WHEN kind LIKE 'imported_%' THEN 'file' ELSE 'live' END, captured_at = fetched_at;
UPDATE requests SET provenance = CASE WHEN source = 'import' THEN 'file' ELSE 'live' END,
    provenance_name = CASE WHEN source = 'import' THEN source_url END;
"""

# Version 6: ``pages`` without its primary-key index.  With the index, every checkpoint (a sync
# makes one after each batch, when it closes the file) took memory in proportion to the pages
# already stored (measured, 25 pages inserted and checkpointed, peak over the open file: 35 MB
# at 2,000 threads, 72 MB at 6,000; 21 MB at 6,000 without the index): a sync grew with its pages.  ``pagestore.store_pages`` is the one writer
# of ``pages`` and keeps one row per URL itself (it deletes the row a page replaces).
SCHEMA_V6 = r"""
CREATE TABLE pages_v6 (
    url            VARCHAR NOT NULL,
    site           VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    status         INTEGER,
    final_url      VARCHAR,
    fetched_at     TIMESTAMPTZ,
    etag           VARCHAR,
    last_modified  VARCHAR,
    content_type   VARCHAR,
    sha256         VARCHAR,
    size           BIGINT,
    encoding       VARCHAR,
    companion_url  VARCHAR,
    body           BLOB,
    origin         VARCHAR,
    captured_at    TIMESTAMPTZ,
    capture_source VARCHAR,
    record_id      VARCHAR
);
INSERT INTO pages_v6 SELECT url, site, kind, status, final_url, fetched_at, etag, last_modified, content_type,
    sha256, size, encoding, companion_url, body, origin, captured_at, capture_source, record_id FROM pages;
DROP TABLE pages;
ALTER TABLE pages_v6 RENAME TO pages;
"""

# Version 7: the seven core tables (authorities, users, requests and a thread's rows) without
# their primary-key indexes, as ``pages`` at version 6.  DuckDB loads a table's key index to
# check every inserted row and writes it whole at every checkpoint, so each batch of a sync
# took memory and time in proportion to the rows already stored (measured, one batch of 50
# threads written and checkpointed: peak 191 MB over a file of 2,000 threads, 203 MB over
# 20,000; with the indexes dropped from copies of the same files, 184 and 185 MB, and the
# checkpoint 0.05 s instead of 0.10-0.15 s).
# ``corpus.load`` is the one writer of these tables and keeps one row per key itself: it
# updates the rows it finds and inserts the others, in one transaction per batch.
SCHEMA_V7 = r"""
CREATE TABLE authorities_v7 (
    site          VARCHAR NOT NULL,
    url_name      VARCHAR NOT NULL,
    authority_id  BIGINT,             -- site's numeric id (JSON), when known
    name          VARCHAR,
    short_name    VARCHAR,
    tags          VARCHAR[],          -- tag strings, "name" or "name:value"
    jurisdiction  VARCHAR,            -- 'scotland' | 'uk' (how decided: README)
    home_page     VARCHAR,
    first_seen    TIMESTAMPTZ,
    last_seen     TIMESTAMPTZ
);
INSERT INTO authorities_v7 SELECT site, url_name, authority_id, name, short_name, tags, jurisdiction, home_page, first_seen, last_seen FROM authorities;
DROP TABLE authorities;
ALTER TABLE authorities_v7 RENAME TO authorities;

CREATE TABLE users_v7 (
    site        VARCHAR NOT NULL,
    url_name    VARCHAR NOT NULL,     -- 'external:<name>' for external requesters
    user_id     BIGINT,
    name        VARCHAR,
    external    BOOLEAN NOT NULL DEFAULT false,
    first_seen  TIMESTAMPTZ,
    last_seen   TIMESTAMPTZ
);
INSERT INTO users_v7 SELECT site, url_name, user_id, name, external, first_seen, last_seen FROM users;
DROP TABLE users;
ALTER TABLE users_v7 RENAME TO users;

CREATE TABLE requests_v7 (
    site                      VARCHAR NOT NULL,
    request_key               VARCHAR NOT NULL,
    request_id                BIGINT,
    url_title                 VARCHAR NOT NULL,
    title                     VARCHAR,
    authority_url_name        VARCHAR,
    authority_name            VARCHAR,
    requester_url_name        VARCHAR,
    requester_name            VARCHAR,
    requester_external        BOOLEAN,
    law                       VARCHAR,      -- 'foi' | 'eir'
    described_state           VARCHAR,
    calculated_status         VARCHAR,
    display_status            VARCHAR,
    status_sentence           VARCHAR,
    due_date                  DATE,         -- as printed in the status sentence
    awaiting_description      BOOLEAN,
    closed_to_correspondence  BOOLEAN,
    restricted_correspondence BOOLEAN,
    authority_not_subject     BOOLEAN,
    eir_only                  BOOLEAN,
    hidden                    BOOLEAN,
    prominence                VARCHAR,
    created_at                TIMESTAMPTZ,
    updated_at                TIMESTAMPTZ,
    batch_id                  BIGINT,
    batch_size                INTEGER,
    tags                      VARCHAR[],
    markup_era                VARCHAR,      -- 'current' | '2019'
    has_json                  BOOLEAN,
    removed                   BOOLEAN NOT NULL DEFAULT false,  -- 404/410 at last fetch
    source                    VARCHAR,      -- 'sync' | 'import'
    source_url                VARCHAR,      -- page URL or imported file path
    page_sha256               VARCHAR,      -- hash of the raw page parsed
    first_seen                TIMESTAMPTZ,
    last_seen                 TIMESTAMPTZ,
    provenance                VARCHAR,      -- live | archive | file
    provenance_name           VARCHAR,      -- the archive (its base URL) or the file read
    as_of                     TIMESTAMPTZ   -- capture time of the page it was built from (NULL: live)
);
INSERT INTO requests_v7 SELECT site, request_key, request_id, url_title, title, authority_url_name, authority_name, requester_url_name, requester_name, requester_external, law, described_state, calculated_status, display_status, status_sentence, due_date, awaiting_description, closed_to_correspondence, restricted_correspondence, authority_not_subject, eir_only, hidden, prominence, created_at, updated_at, batch_id, batch_size, tags, markup_era, has_json, removed, source, source_url, page_sha256, first_seen, last_seen, provenance, provenance_name, as_of FROM requests;
DROP TABLE requests;
ALTER TABLE requests_v7 RENAME TO requests;

CREATE TABLE messages_v7 (
    site               VARCHAR NOT NULL,
    request_key        VARCHAR NOT NULL,
    message_id         BIGINT NOT NULL,     -- N of incoming-N / outgoing-N
    direction          VARCHAR NOT NULL,    -- 'incoming' | 'outgoing'
    position           INTEGER,             -- order on the page (with annotations)
    event_type         VARCHAR,             -- from JSON: sent, followup_sent, response, ...
    sender             VARCHAR,
    sent_at            TIMESTAMPTZ,
    sent_at_text       VARCHAR,             -- ISO text as shown, UTC offset kept
    body               VARCHAR,
    quoted_text        VARCHAR,
    quoted_folded      BOOLEAN,
    body_placeholder   BOOLEAN,
    subject_only       BOOLEAN,
    resent             BOOLEAN,
    delivery_status    VARCHAR,
    prominence         VARCHAR,             -- normal | hidden | requester_only
    hidden_since       TIMESTAMPTZ,         -- set when a later fetch showed it hidden
    first_seen         TIMESTAMPTZ,
    last_seen          TIMESTAMPTZ
);
INSERT INTO messages_v7 SELECT site, request_key, message_id, direction, position, event_type, sender, sent_at, sent_at_text, body, quoted_text, quoted_folded, body_placeholder, subject_only, resent, delivery_status, prominence, hidden_since, first_seen, last_seen FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v7 RENAME TO messages;

CREATE TABLE attachments_v7 (
    site                 VARCHAR NOT NULL,
    request_key          VARCHAR NOT NULL,
    incoming_message_id  BIGINT NOT NULL,
    part                 INTEGER NOT NULL,
    filename             VARCHAR,
    size_text            VARCHAR,
    size_bytes_approx    BIGINT,            -- from size_text ("78K" -> 79872)
    content_icon         VARCHAR,
    download_url         VARCHAR,
    html_url             VARCHAR,
    erased               BOOLEAN,
    hidden               BOOLEAN,
    first_seen           TIMESTAMPTZ,
    last_seen            TIMESTAMPTZ,
    database_id          BIGINT             -- Alaveteli's id of the attachment (NULL: not shown)
);
INSERT INTO attachments_v7 SELECT site, request_key, incoming_message_id, part, filename, size_text, size_bytes_approx, content_icon, download_url, html_url, erased, hidden, first_seen, last_seen, database_id FROM attachments;
DROP TABLE attachments;
ALTER TABLE attachments_v7 RENAME TO attachments;

CREATE TABLE annotations_v7 (
    site                VARCHAR NOT NULL,
    request_key         VARCHAR NOT NULL,
    comment_id          BIGINT NOT NULL,
    position            INTEGER,
    author_url_name     VARCHAR,
    author_name         VARCHAR,
    created_at          TIMESTAMPTZ,
    created_at_text     VARCHAR,
    text                VARCHAR,
    first_seen          TIMESTAMPTZ,
    last_seen           TIMESTAMPTZ
);
INSERT INTO annotations_v7 SELECT site, request_key, comment_id, position, author_url_name, author_name, created_at, created_at_text, text, first_seen, last_seen FROM annotations;
DROP TABLE annotations;
ALTER TABLE annotations_v7 RENAME TO annotations;

CREATE TABLE events_v7 (
    site                 VARCHAR NOT NULL,
    request_key          VARCHAR NOT NULL,
    event_id             BIGINT NOT NULL,
    event_type           VARCHAR,
    created_at           TIMESTAMPTZ,
    created_at_text      VARCHAR,
    described_state      VARCHAR,
    calculated_state     VARCHAR,
    last_described_at    TIMESTAMPTZ,
    incoming_message_id  BIGINT,
    outgoing_message_id  BIGINT,
    comment_id           BIGINT,
    display_status       VARCHAR
);
INSERT INTO events_v7 SELECT site, request_key, event_id, event_type, created_at, created_at_text, described_state, calculated_state, last_described_at, incoming_message_id, outgoing_message_id, comment_id, display_status FROM events;
DROP TABLE events;
ALTER TABLE events_v7 RENAME TO events;
"""

# Index 0 builds version 1 from nothing.  Append a migration; never edit one that shipped.
MIGRATIONS: list[str] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6, SCHEMA_V7]

CURRENT_VERSION = len(MIGRATIONS)
