-- annotations: Who annotates requests, how much, and when.
--
-- What it answers:
--   Annotation activity per annotator: how many annotations, on how many
--   requests and authorities, first and last. Most active first.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   author     VARCHAR  NULL  only this annotator (user url_name)
--   authority  VARCHAR  NULL  only annotations on requests to this authority (url_name)
--   since      DATE     NULL  only annotations made on or after this date (Europe/London)
--   until      DATE     NULL  only annotations made on or before this date (Europe/London)
--   site       VARCHAR  NULL  only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--   top        INTEGER  50    at most this many rows
--
-- Columns:
--   author_url_name     the annotator's slug
--   author_name         the name shown on the site
--   annotations         annotations made
--   requests            distinct requests annotated
--   authorities         distinct authorities those requests went to
--   own_requests        annotations on the annotator's own requests
--   first_at            first annotation
--   last_at             last annotation
--
-- Caveats:
--   Hidden annotations are not on the pages and so not in the corpus.
SELECT
    a.author_url_name,
    any_value(a.author_name) AS author_name,
    count(*) AS annotations,
    count(DISTINCT a.request_key) AS requests,
    count(DISTINCT r.authority_url_name) AS authorities,
    count(*) FILTER (WHERE r.requester_url_name = a.author_url_name) AS own_requests,
    min(a.created_at) AS first_at,
    max(a.created_at) AS last_at
FROM annotations AS a
LEFT JOIN requests AS r ON r.site = a.site AND r.request_key = a.request_key
WHERE (getvariable('author') IS NULL OR a.author_url_name = getvariable('author'))
  AND (getvariable('authority') IS NULL OR r.authority_url_name = getvariable('authority'))
  AND (getvariable('site') IS NULL OR a.site = getvariable('site'))
  AND (getvariable('since') IS NULL OR timezone('Europe/London', a.created_at)::DATE >= CAST(getvariable('since') AS DATE))
  AND (getvariable('until') IS NULL OR timezone('Europe/London', a.created_at)::DATE <= CAST(getvariable('until') AS DATE))
GROUP BY a.author_url_name
ORDER BY annotations DESC, a.author_url_name NULLS LAST
LIMIT coalesce(CAST(getvariable('top') AS INTEGER), 50);
