-- cost_limit: Refusals on grounds of cost, over time.
--
-- What it answers:
--   Per year and regime: how many requests were refused (wholly or in part)
--   because answering would cost too much -- FOIA s12, FOISA s12, and for
--   environmental information EIR reg 12(4)(b) / EISR reg 10(4)(b) "manifestly
--   unreasonable" -- and what share of all requests sent that year that is.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   authority  VARCHAR  NULL  only this authority (url_name)
--   since      DATE     NULL  only requests sent on or after this date (Europe/London)
--   until      DATE     NULL  only requests sent on or before this date (Europe/London)
--   regime     VARCHAR  NULL  only requests under this regime (FOIA, EIR, FOISA, EISR, or another site's)
--   site       VARCHAR  NULL  only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--   roles      LIST(counted,all,relied_on,upheld,overturned,considering,not_relied_on,earlier_decision,quoted_request,boilerplate,other_law)  counted  which citations of the cost ground count: 'counted' (relied on now, or upheld at review), 'all', or a comma-separated list of roles
--
-- Columns:
--   year                 year the request was sent
--   regime               FOIA, EIR, FOISA, EISR, or the regime of another site's requests (or unknown)
--   requests             requests sent that year under that regime
--   cost_refusals        of those, requests whose correspondence cites the cost ground
--                        (NULL for a regime with no cost ground known here, e.g. another country's)
--   cost_refusal_share   cost_refusals / requests
--   authorities_citing   distinct authorities citing the cost ground that year
--
-- Caveats:
--   EIR reg 12(4)(b) / EISR reg 10(4)(b) also covers vexatious requests: for
--   those regimes the count is an upper bound on cost refusals. By default a
--   letter only advising how to stay within the limit, quoting the request or
--   describing an earlier refusal does not count (roles=all counts every
--   mention).
WITH t AS (
    SELECT site, request_key, year, regime
    FROM request_timeline
    WHERE (getvariable('authority') IS NULL OR authority_url_name = getvariable('authority'))
      AND (getvariable('regime') IS NULL OR lower(regime) = lower(getvariable('regime')))
      AND (getvariable('site') IS NULL OR site = getvariable('site'))
      AND (getvariable('since') IS NULL OR timezone('Europe/London', sent_at)::DATE >= CAST(getvariable('since') AS DATE))
      AND (getvariable('until') IS NULL OR timezone('Europe/London', sent_at)::DATE <= CAST(getvariable('until') AS DATE))
),
cost AS (
    SELECT DISTINCT rc.site, rc.request_key, rc.authority_url_name
    FROM refusal_citations AS rc
    WHERE ((rc.regime IN ('FOIA', 'FOISA') AND (rc.provision = 's12' OR rc.provision LIKE 's12(%'))
       OR (rc.regime = 'EIR' AND rc.provision LIKE 'reg12(4)(b)%')
       OR (rc.regime = 'EISR' AND rc.provision LIKE 'reg10(4)(b)%'))
      AND list_has_any(string_split(coalesce(getvariable('roles'), 'counted'), ','),
                   ['all', rc.role, CASE WHEN rc.role IN ('relied_on', 'upheld') THEN 'counted' ELSE '-' END])
)
SELECT
    t.year,
    t.regime,
    count(*) AS requests,
    CASE WHEN t.regime IN ('FOIA', 'EIR', 'FOISA', 'EISR') THEN count(cost.request_key) END AS cost_refusals,
    CASE WHEN t.regime IN ('FOIA', 'EIR', 'FOISA', 'EISR') THEN round(count(cost.request_key) / count(*), 4) END AS cost_refusal_share,
    count(DISTINCT cost.authority_url_name) AS authorities_citing
FROM t
LEFT JOIN cost ON cost.site = t.site AND cost.request_key = t.request_key
GROUP BY t.year, t.regime
ORDER BY t.year, t.regime;
