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
--   account for a group, are counted as the site shows them.
SELECT
    t.requester_url_name,
    any_value(t.requester_name) AS requester_name,
    t.authority_url_name,
    any_value(t.authority_name) AS authority_name,
    count(*) AS requests,
    count_if(t.outcome IN ('successful', 'partially_successful')) AS successful,
    count_if(t.outcome = 'refused') AS refused,
    min(t.sent_at) AS first_sent,
    max(t.sent_at) AS last_sent
FROM request_timeline AS t
WHERE (getvariable('requester') IS NULL OR t.requester_url_name = getvariable('requester'))
  AND (getvariable('authority') IS NULL OR t.authority_url_name = getvariable('authority'))
  AND (getvariable('since') IS NULL OR timezone('Europe/London', t.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
  AND (getvariable('until') IS NULL OR timezone('Europe/London', t.sent_at)::DATE <= CAST(getvariable('until') AS DATE))
GROUP BY t.requester_url_name, t.requester_name, t.authority_url_name
HAVING count(*) >= coalesce(CAST(getvariable('min_requests') AS INTEGER), 1)
ORDER BY requests DESC, t.requester_url_name NULLS LAST, t.authority_url_name
LIMIT coalesce(CAST(getvariable('top') AS INTEGER), 100);
