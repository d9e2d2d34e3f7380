-- search: Find words or a phrase in the correspondence, ranked by relevance or by date.
--
-- What it answers:
--   Which messages (and, when extracted, attachment texts) contain the words
--   of `q` -- as a phrase (the default), all of them anywhere, or any of them --
--   with the thread, the message, a relevance score and a snippet of about
--   160 characters around the first hit. Most relevant first, or newest first.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   q          VARCHAR  required  words to find: letters and digits count, case is ignored, the rest separates words
--   match      ENUM(phrase,all,any)  phrase    'phrase' (the words in this order, next to each other), 'all' (every word, anywhere) or 'any'
--   order      ENUM(relevance,date)  relevance  'relevance' (best first, then newest) or 'date' (newest first)
--   authority  VARCHAR  NULL      only requests to this authority (url_name)
--   direction  ENUM(incoming,outgoing)  NULL      only 'incoming' (from the authority) or 'outgoing' (from the requester)
--   since      DATE     NULL      only messages sent on or after this date (Europe/London)
--   until      DATE     NULL      only messages sent on or before this date (Europe/London)
--   site       VARCHAR  NULL      only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
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
--   score               relevance: BM25 from the search index (corpus query, run_query); in this
--                       file, run as plain SQL, the number of times the words occur
--
-- Caveats:
--   Words match whole words: 'review' does not find 'reviews'. Quoted earlier
--   messages are not searched. `corpus query search` and run_query use the
--   search index kept beside the database (foi.duckdb.search/) and answer in
--   milliseconds; this file, run as plain SQL, reads every message (about 2x
--   a full scan), finds the same rows and scores them by counting the words.
--   The lines ending "-- needs attachment_texts" search extracted attachment
--   text; the runner leaves them out for a database without that table (in
--   the duckdb shell, delete them yourself).
-- The words of q are the runs of letters and digits in lower(q); the text matches when a regular
-- expression finds them with non-letters around them. Every expression below is built from
-- getvariable() alone, so DuckDB evaluates it once, before the scan.
WITH texts AS (
    SELECT m.site, m.request_key, 'message' AS source, m.direction, m.message_id,
           CAST(NULL AS INTEGER) AS attachment_part, m.sent_at, m.body AS text
    FROM messages AS m
    WHERE (getvariable('direction') IS NULL OR m.direction = getvariable('direction'))
      AND (getvariable('site') IS NULL OR m.site = getvariable('site'))
    UNION ALL                                                                                     -- needs attachment_texts
    SELECT a.site, a.request_key, 'attachment' AS source, 'incoming' AS direction,                -- needs attachment_texts
           a.incoming_message_id, a.part, m.sent_at, a.text                                       -- needs attachment_texts
    FROM attachment_texts AS a                                                                    -- needs attachment_texts
    LEFT JOIN messages AS m                                                                       -- needs attachment_texts
      ON m.site = a.site AND m.direction = 'incoming' AND m.message_id = a.incoming_message_id   -- needs attachment_texts
    WHERE coalesce(getvariable('direction'), 'incoming') = 'incoming'                            -- needs attachment_texts
      AND (getvariable('site') IS NULL OR a.site = getvariable('site'))                          -- needs attachment_texts
),
hits AS (
    SELECT x.*
    FROM texts AS x
    WHERE len(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+')) > 0
      -- cheap first: skip texts without the longest word (not for 'any', where no one word must be there)
      AND (coalesce(getvariable('match'), 'phrase') = 'any'
           OR x.text ILIKE '%' || list_reduce(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'), lambda a, b: CASE WHEN length(b) > length(a) THEN b ELSE a END) || '%')
      AND CASE coalesce(getvariable('match'), 'phrase')
              WHEN 'phrase' THEN regexp_matches(x.text, '(?i)(?:^|[^\pL\pN])' || array_to_string(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'), '[^\pL\pN]+') || '(?:[^\pL\pN]|$)')
              WHEN 'any' THEN regexp_matches(x.text, '(?i)(?:^|[^\pL\pN])(?:' || array_to_string(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'), '|') || ')(?:[^\pL\pN]|$)')
              ELSE list_bool_and(list_transform(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'), lambda w: regexp_matches(x.text, '(?i)(?:^|[^\pL\pN])' || w || '(?:[^\pL\pN]|$)')))
          END
),
top_hits AS (
    SELECT h.*, r.url_title, r.title, r.authority_url_name,
           CAST(CASE coalesce(getvariable('match'), 'phrase')
                    WHEN 'phrase' THEN len(regexp_extract_all(h.text, '(?i)(?:^|[^\pL\pN])' || array_to_string(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'), '[^\pL\pN]+') || '(?:[^\pL\pN]|$)'))
                    ELSE list_sum(list_transform(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'),
                             lambda w: len(regexp_extract_all(h.text, '(?i)(?:^|[^\pL\pN])' || w || '(?:[^\pL\pN]|$)'))))
                END AS DOUBLE) AS score  -- how often the phrase, or each word, occurs
    FROM hits AS h
    LEFT JOIN requests AS r ON r.site = h.site AND r.request_key = h.request_key
    WHERE (getvariable('authority') IS NULL OR r.authority_url_name = getvariable('authority'))
      AND (getvariable('since') IS NULL OR timezone('Europe/London', h.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
      AND (getvariable('until') IS NULL OR timezone('Europe/London', h.sent_at)::DATE <= CAST(getvariable('until') AS DATE))
    ORDER BY CASE WHEN coalesce(getvariable('order'), 'relevance') = 'relevance' THEN score END DESC NULLS LAST,
             h.sent_at DESC NULLS LAST, r.url_title, h.source, h.message_id, h.attachment_part
    LIMIT coalesce(CAST(getvariable('top') AS INTEGER), 100)
)
SELECT * FROM (
    SELECT  -- snippets only for the rows kept: from 80 characters before the first hit to 80 after
        url_title,
        title,
        authority_url_name,
        source,
        direction,
        message_id,
        attachment_part,
        sent_at,
        trim(regexp_replace(substr(text, greatest(length(before_hit) - 80, 0) + 1,
                                   least(length(before_hit), 80) + length(hit) + 80), '\s+', ' ', 'g'), ' ') AS snippet,
        site,
        score
    FROM (SELECT *,  -- the first hit and the text before it
                 regexp_extract(text, '(?s)^(.*?)' || (CASE coalesce(getvariable('match'), 'phrase') WHEN 'phrase' THEN '(?i)(?:^|[^\pL\pN])' || array_to_string(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'), '[^\pL\pN]+') || '(?:[^\pL\pN]|$)' ELSE '(?i)(?:^|[^\pL\pN])(?:' || array_to_string(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'), '|') || ')(?:[^\pL\pN]|$)' END), 1) AS before_hit,
                 regexp_extract(text, CASE coalesce(getvariable('match'), 'phrase') WHEN 'phrase' THEN '(?i)(?:^|[^\pL\pN])' || array_to_string(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'), '[^\pL\pN]+') || '(?:[^\pL\pN]|$)' ELSE '(?i)(?:^|[^\pL\pN])(?:' || array_to_string(regexp_extract_all(lower(getvariable('q')), '[\pL\pN]+'), '|') || ')(?:[^\pL\pN]|$)' END) AS hit
          FROM top_hits)
    UNION ALL  -- without q, stop with a message instead of returning nothing
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           CAST(error('search needs q: SET VARIABLE q = ''some words'';') AS VARCHAR), NULL, NULL
    WHERE getvariable('q') IS NULL
)
ORDER BY CASE WHEN coalesce(getvariable('order'), 'relevance') = 'relevance' THEN score END DESC NULLS LAST,
         sent_at DESC NULLS LAST, url_title, source, message_id, attachment_part;
