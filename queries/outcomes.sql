-- outcomes: What requests got, by authority and year.
--
-- What it answers:
--   For each authority and year the request was sent: how many requests ended
--   successful, partially successful, not held, refused, withdrawn, still
--   pending, or other, and the shares of those with a final outcome.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   authority     VARCHAR  NULL  only this authority (url_name)
--   since         DATE     NULL  only requests sent on or after this date (Europe/London)
--   until         DATE     NULL  only requests sent on or before this date (Europe/London)
--   regime        VARCHAR  NULL  only requests under this regime: FOIA, EIR, FOISA, EISR, another site's (e.g. OIA) or unknown
--   site          VARCHAR  NULL  only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--   min_requests  INTEGER  1     leave out authority-years with fewer requests than this
--
-- Columns:
--   authority_url_name    the authority's slug
--   authority_name        its display name
--   year                  year the request was sent
--   requests              requests in that authority-year
--   successful            outcome counts, one column per outcome
--   partially_successful
--   not_held
--   refused
--   withdrawn
--   pending
--   other
--   decided               requests with an outcome other than pending
--   success_share         (successful + partially_successful) / decided
--   refused_share         refused / decided
--   not_held_share        not_held / decided
--
-- Caveats:
--   Outcomes come from the state the requester chose (described_state), which
--   many leave unset: those count as pending. Use refusal_grounds for what the
--   letters actually cite.
SELECT
    t.authority_url_name,
    any_value(t.authority_name) AS authority_name,
    t.year,
    count(*) AS requests,
    count(*) FILTER (WHERE t.outcome = 'successful') AS successful,
    count(*) FILTER (WHERE t.outcome = 'partially_successful') AS partially_successful,
    count(*) FILTER (WHERE t.outcome = 'not_held') AS not_held,
    count(*) FILTER (WHERE t.outcome = 'refused') AS refused,
    count(*) FILTER (WHERE t.outcome = 'withdrawn') AS withdrawn,
    count(*) FILTER (WHERE t.outcome = 'pending') AS pending,
    count(*) FILTER (WHERE t.outcome NOT IN ('successful', 'partially_successful', 'not_held', 'refused', 'withdrawn', 'pending')
             OR t.outcome IS NULL) AS other,
    count(*) FILTER (WHERE t.outcome IS DISTINCT FROM 'pending') AS decided,
    round(count(*) FILTER (WHERE t.outcome IN ('successful', 'partially_successful'))
          / nullif(count(*) FILTER (WHERE t.outcome IS DISTINCT FROM 'pending'), 0), 4) AS success_share,
    round(count(*) FILTER (WHERE t.outcome = 'refused') / nullif(count(*) FILTER (WHERE t.outcome IS DISTINCT FROM 'pending'), 0), 4) AS refused_share,
    round(count(*) FILTER (WHERE t.outcome = 'not_held') / nullif(count(*) FILTER (WHERE t.outcome IS DISTINCT FROM 'pending'), 0), 4) AS not_held_share
FROM request_timeline AS t
WHERE (getvariable('authority') IS NULL OR t.authority_url_name = getvariable('authority'))
  AND (getvariable('regime') IS NULL OR lower(t.regime) = lower(getvariable('regime')))
  AND (getvariable('site') IS NULL OR t.site = getvariable('site'))
  AND (getvariable('since') IS NULL OR timezone('Europe/London', t.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
  AND (getvariable('until') IS NULL OR timezone('Europe/London', t.sent_at)::DATE <= CAST(getvariable('until') AS DATE))
GROUP BY t.authority_url_name, t.year
HAVING count(*) >= coalesce(CAST(getvariable('min_requests') AS INTEGER), 1)
ORDER BY t.authority_url_name, t.year;
