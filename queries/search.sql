-- search: Find a word or phrase in the correspondence.
--
-- What it answers:
--   Which messages (and, when extracted, attachment texts) contain the text
--   `q`, case-insensitively, with the thread, the message and a snippet of
--   about 160 characters around the first hit. Newest first.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   q          VARCHAR  required  text to find (literal: % and _ are not wildcards)
--   authority  VARCHAR  NULL      only requests to this authority (url_name)
--   direction  ENUM(incoming,outgoing)  NULL      only 'incoming' (from the authority) or 'outgoing' (from the requester)
--   since      DATE     NULL      only messages sent on or after this date (Europe/London)
--   until      DATE     NULL      only messages sent on or before this date (Europe/London)
--   top        INTEGER  100       at most this many rows
--
-- Columns:
--   url_title           the request's slug: <site>/request/<url_title>
--   title               the request's title
--   authority_url_name  the authority's slug
--   source              'message', or 'attachment' for extracted attachment text
--   direction           'incoming' or 'outgoing'
--   message_id          N of incoming-N / outgoing-N: <site>/request/<url_title>#incoming-N
--   attachment_part     the attachment's part number (attachments only)
--   sent_at             when the message was sent
--   snippet             the text around the first hit, whitespace collapsed
--   site                the site the thread is from
--
-- Caveats:
--   A plain scan (ILIKE), no stemming or ranking: the DuckDB full-text
--   extension is not bundled and cannot be assumed. Quoted earlier messages
--   are not searched. The lines ending "-- needs attachment_texts" search
--   extracted attachment text; the runner leaves them out for a database
--   without that table (in the duckdb shell, delete them yourself).
WITH hits AS (
    SELECT m.site, m.request_key, 'message' AS source, m.direction, m.message_id,
           CAST(NULL AS INTEGER) AS attachment_part, m.sent_at, m.body AS text
    FROM messages AS m
    WHERE CASE WHEN regexp_matches(getvariable('q'), '[%_\\]')  -- constant: DuckDB picks one branch before the scan
               THEN m.body ILIKE '%' || replace(replace(replace(getvariable('q'), '\', '\\'), '%', '\%'), '_', '\_') || '%' ESCAPE '\'
               ELSE m.body ILIKE '%' || getvariable('q') || '%' END  -- the fast path: no wildcard characters in q
      AND (getvariable('direction') IS NULL OR m.direction = getvariable('direction'))
    UNION ALL  -- without q, stop with a message instead of returning nothing
    SELECT NULL, NULL, CAST(error('search needs q: SET VARIABLE q = ''some words'';') AS VARCHAR),
           NULL, NULL, NULL, NULL, NULL
    WHERE getvariable('q') IS NULL
    UNION ALL                                                                                     -- needs attachment_texts
    SELECT a.site, a.request_key, 'attachment' AS source, 'incoming' AS direction,                -- needs attachment_texts
           a.incoming_message_id, a.part, m.sent_at, a.text                                       -- needs attachment_texts
    FROM attachment_texts AS a                                                                    -- needs attachment_texts
    LEFT JOIN messages AS m                                                                       -- needs attachment_texts
      ON m.site = a.site AND m.direction = 'incoming' AND m.message_id = a.incoming_message_id   -- needs attachment_texts
    WHERE CASE WHEN regexp_matches(getvariable('q'), '[%_\\]')                                   -- needs attachment_texts
               THEN a.text ILIKE '%' || replace(replace(replace(getvariable('q'), '\', '\\'), '%', '\%'), '_', '\_') || '%' ESCAPE '\'  -- needs attachment_texts
               ELSE a.text ILIKE '%' || getvariable('q') || '%' END                                  -- needs attachment_texts
      AND coalesce(getvariable('direction'), 'incoming') = 'incoming'                            -- needs attachment_texts
)
, top_hits AS (
    SELECT h.*, r.url_title, r.title, r.authority_url_name
    FROM hits AS h
    LEFT JOIN requests AS r ON r.site = h.site AND r.request_key = h.request_key
    WHERE (getvariable('authority') IS NULL OR r.authority_url_name = getvariable('authority'))
      AND (getvariable('since') IS NULL OR timezone('Europe/London', h.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
      AND (getvariable('until') IS NULL OR timezone('Europe/London', h.sent_at)::DATE <= CAST(getvariable('until') AS DATE))
    ORDER BY h.sent_at DESC NULLS LAST, r.url_title, h.source, h.message_id, h.attachment_part
    LIMIT coalesce(CAST(getvariable('top') AS INTEGER), 100)
)
SELECT  -- snippets only for the rows kept
    url_title,
    title,
    authority_url_name,
    source,
    direction,
    message_id,
    attachment_part,
    sent_at,
    trim(regexp_replace(
        substr(text,
               greatest(strpos(lower(text), lower(getvariable('q'))) - 80, 1),
               length(getvariable('q')) + 160),
        '\s+', ' ', 'g')) AS snippet,
    site
FROM top_hits
ORDER BY sent_at DESC NULLS LAST, url_title, source, message_id, attachment_part;
