-- who_asks_whom: Requests per requester and authority.
--
-- What it answers:
--   Who sends requests to whom: for each requester-authority pair, how many
--   requests, over what period, and how they turned out. Busiest pairs first.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   requester     VARCHAR  NULL  only this requester (user url_name)
--   authority     VARCHAR  NULL  only this authority (url_name)
--   since         DATE     NULL  only requests sent on or after this date (Europe/London)
--   until         DATE     NULL  only requests sent on or before this date (Europe/London)
--   site          VARCHAR  NULL  only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--   min_requests  INTEGER  1     leave out pairs with fewer requests than this
--   top           INTEGER  100   at most this many rows
--
-- Columns:
--   requester_url_name  the requester's slug (NULL for external or anonymous requesters)
--   requester_name      the name shown on the site
--   authority_url_name  the authority's slug
--   authority_name      its display name
--   requests            requests from this requester to this authority
--   successful          of those, successful or partially successful
--   refused             of those, refused
--   first_sent          earliest request
--   last_sent           latest request
--
-- Caveats:
--   Requesters who use several accounts, or batch requests sent by one
--   account for a group, are counted as the site shows them. A requester is
--   their account (url_name); one without an account, by the name shown.
WITH base AS NOT MATERIALIZED (  -- read twice: two scans cost less than keeping a million rows
    SELECT t.requester_url_name, t.requester_name, t.authority_url_name, t.authority_name, t.outcome, t.sent_at,
           coalesce(t.requester_url_name, chr(1) || t.requester_name) AS requester_key  -- an account, or a name
    FROM request_timeline AS t
    WHERE (getvariable('requester') IS NULL OR t.requester_url_name = getvariable('requester'))
      AND (getvariable('authority') IS NULL OR t.authority_url_name = getvariable('authority'))
      AND (getvariable('site') IS NULL OR t.site = getvariable('site'))
      AND (getvariable('since') IS NULL OR timezone('Europe/London', t.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
      AND (getvariable('until') IS NULL OR timezone('Europe/London', t.sent_at)::DATE <= CAST(getvariable('until') AS DATE))
),
pairs AS (  -- first the busiest pairs, counting only (cheap); then the other columns for those alone
    SELECT requester_key, authority_url_name, count(*) AS requests
    FROM base
    GROUP BY requester_key, authority_url_name
    HAVING count(*) >= coalesce(CAST(getvariable('min_requests') AS INTEGER), 1)
    ORDER BY requests DESC, starts_with(requester_key, chr(1)), requester_key, authority_url_name  -- accounts first
    LIMIT coalesce(CAST(getvariable('top') AS INTEGER), 100)
)
SELECT
    any_value(b.requester_url_name) AS requester_url_name,
    any_value(b.requester_name) AS requester_name,
    p.authority_url_name,
    any_value(b.authority_name) AS authority_name,
    p.requests,
    count(*) FILTER (WHERE b.outcome IN ('successful', 'partially_successful')) AS successful,
    count(*) FILTER (WHERE b.outcome = 'refused') AS refused,
    min(b.sent_at) AS first_sent,
    max(b.sent_at) AS last_sent
FROM pairs AS p
JOIN (SELECT * FROM base WHERE authority_url_name IN (SELECT authority_url_name FROM pairs)) AS b
  ON b.requester_key = p.requester_key AND b.authority_url_name = p.authority_url_name
GROUP BY p.requester_key, p.authority_url_name, p.requests
ORDER BY p.requests DESC, starts_with(p.requester_key, chr(1)), p.requester_key, p.authority_url_name;
