-- same_request: The same request sent to many authorities, and how each answered.
--
-- What it answers:
--   Groups of requests that are one request sent to several authorities --
--   a batch request, or requests whose titles are identical once case and
--   punctuation are ignored -- with each authority's outcome and working days,
--   so answers to the same question can be compared side by side.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   q                VARCHAR  NULL  only groups whose title contains this text
--   match            ENUM(batch,title,both)  both  'batch' (batch requests only), 'title' (same title only) or 'both'
--   min_authorities  INTEGER  3     only groups sent to at least this many authorities
--   since            DATE     NULL  only requests sent on or after this date (Europe/London)
--   until            DATE     NULL  only requests sent on or before this date (Europe/London)
--   site             VARCHAR  NULL  only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--   top              INTEGER  1000  at most this many rows
--
-- Columns:
--   group_kind                   'batch' or 'title'
--   group_key                    the batch id, or the normalised title (lower case, no spaces or punctuation)
--   group_title                  a title from the group
--   authorities_in_group         distinct authorities the group went to
--   requesters_in_group          distinct requesters in the group
--   group_median_working_days    median working days to a substantive answer across the group
--   authority_url_name           this request's authority
--   authority_name               its display name
--   url_title                    this request's slug
--   requester_url_name           who sent it
--   sent_at                      when
--   outcome                      successful, partially_successful, not_held, refused, withdrawn, pending or other
--   working_days_to_substantive  working days to its substantive answer (NULL when none)
--   answered_in_time             answered within the limit (NULL when not answered, or no deadline is known)
--
-- Caveats:
--   Title matching is exact after normalising (lower case, spaces and ASCII
--   punctuation dropped): reworded copies are missed, and short generic titles
--   ("Information request") can group unrelated requests -- check
--   requesters_in_group. A batch request is grouped by batch even when it
--   also matches other requests by title.
WITH base AS (
    SELECT  -- only the columns needed: this CTE is read twice
        t.site, t.title, t.authority_url_name, t.authority_name, t.url_title, t.requester_url_name,
        t.requester_name, t.sent_at, t.outcome, t.working_days_to_substantive, t.answered_in_time,
        t.batch_id, t.title_key, t.title_key_requests
    FROM request_timeline AS t
    WHERE (getvariable('site') IS NULL OR t.site = getvariable('site'))
      AND (getvariable('since') IS NULL OR timezone('Europe/London', t.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
      AND (getvariable('until') IS NULL OR timezone('Europe/London', t.sent_at)::DATE <= CAST(getvariable('until') AS DATE))
      AND (getvariable('q') IS NULL OR t.title ILIKE '%' || replace(replace(replace(getvariable('q'), '\', '\\'), '%', '\%'), '_', '\_') || '%' ESCAPE '\')
),
keyed AS (
    SELECT
        *,
        CASE coalesce(getvariable('match'), 'both')
            WHEN 'batch' THEN CASE WHEN batch_id IS NOT NULL THEN 'batch' END
            WHEN 'title' THEN CASE WHEN title_key <> '' THEN 'title' END
            ELSE CASE WHEN batch_id IS NOT NULL THEN 'batch' WHEN title_key <> '' THEN 'title' END
        END AS group_kind
    FROM base
),
grouped AS (
    SELECT *, CASE group_kind WHEN 'batch' THEN CAST(batch_id AS VARCHAR) ELSE title_key END AS group_key
    FROM keyed
    WHERE group_kind = 'batch'
       -- a title group has at most as many authorities as the corpus has requests with that title
       -- (title_key_requests, counted at rebuild): most titles are unique and drop out here
       OR (group_kind = 'title' AND title_key_requests >= coalesce(CAST(getvariable('min_authorities') AS INTEGER), 3))
),
candidates AS (  -- cheap first pass: groups with enough requests to possibly reach min_authorities
    SELECT site, group_kind, group_key
    FROM grouped
    GROUP BY site, group_kind, group_key
    HAVING count(*) >= coalesce(CAST(getvariable('min_authorities') AS INTEGER), 3)
),
members AS (
    SELECT x.*
    FROM grouped AS x
    SEMI JOIN candidates AS c
      ON x.site = c.site AND x.group_kind = c.group_kind AND x.group_key = c.group_key
),
groups AS (
    SELECT site, group_kind, group_key,
           min(title) AS group_title,
           count(DISTINCT authority_url_name) AS authorities_in_group,
           count(DISTINCT coalesce(requester_url_name, requester_name)) AS requesters_in_group,
           round(quantile_cont(working_days_to_substantive, 0.5), 2) AS group_median_working_days
    FROM members
    GROUP BY site, group_kind, group_key
    HAVING count(DISTINCT authority_url_name) >= coalesce(CAST(getvariable('min_authorities') AS INTEGER), 3)
)
SELECT
    g.group_kind,
    g.group_key,
    g.group_title,
    g.authorities_in_group,
    g.requesters_in_group,
    g.group_median_working_days,
    x.authority_url_name,
    x.authority_name,
    x.url_title,
    x.requester_url_name,
    x.sent_at,
    x.outcome,
    x.working_days_to_substantive,
    x.answered_in_time
FROM groups AS g
JOIN members AS x
  ON x.site = g.site AND x.group_kind = g.group_kind AND x.group_key = g.group_key
ORDER BY g.authorities_in_group DESC, g.group_kind, g.group_key, x.authority_url_name, x.sent_at
LIMIT coalesce(CAST(getvariable('top') AS INTEGER), 1000);
