-- refusal_grounds: Which exemptions and grounds refusals cite, per regime (or by authority and year).
--
-- What it answers:
--   How many requests cite each provision (FOIA s12, s40(2), EIR reg12(4)(b),
--   FOISA s38(1)(b), ...) in the authority's letters or attachments, and what
--   share of the refusing requests in the same group cite it. By default one
--   table per regime (a few dozen rows); group_by=authority,year,regime gives
--   every authority-year (on a large corpus, hundreds of thousands of rows:
--   narrow it with authority, since or until, or write it to a file).
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   authority  VARCHAR  NULL                   only this authority (url_name)
--   since      DATE     NULL                   only citations in messages sent on or after this date (Europe/London)
--   until      DATE     NULL                   only citations in messages sent on or before this date (Europe/London)
--   regime     VARCHAR  NULL                   only citations under this regime (FOIA, EIR, FOISA, EISR, ...)
--   site       VARCHAR  NULL                   only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--   group_by   LIST(authority,year,regime,none)  regime                 comma-separated grouping: any of authority, year, regime (or 'none' for one overall table)
--   detail     ENUM(provision,section)  provision              'provision' (s40(2) apart from s40(5)) or 'section' (all of s40 together)
--   roles      LIST(counted,all,relied_on,upheld,overturned,considering,not_relied_on,earlier_decision,quoted_request,boilerplate,other_law)  counted  which citations count: 'counted' (relied on now, or upheld at review), 'all' (every role, one row per role), or a comma-separated list of roles
--
-- Columns:
--   authority_url_name  the authority's slug (NULL when not grouped by authority)
--   year                year of the citing message (NULL when not grouped by year)
--   regime              FOIA, EIR, FOISA or EISR (NULL when not grouped by regime)
--   provision           the provision, or the section when detail = 'section'
--   ground              its short name, e.g. 'cost limit', 'personal information'
--   role                the citation's role (NULL with roles = counted, where relied_on and upheld count together)
--   requests            distinct requests citing it
--   citations           citing sentences (a letter can cite a ground several times)
--   refusing_requests   distinct requests citing any ground in the group
--   share_of_refusals   requests / refusing_requests
--
-- Caveats:
--   Citations are found in message text and extracted attachment text by a
--   classifier that also gives each its role; by default only grounds relied
--   on (or upheld at review) count, so a section the letter only quotes from
--   the request, rules out, is still considering or describes from an earlier
--   decision is left out (roles=all shows them). Section numbers mean
--   different things under FOISA: group by regime (the default) before
--   comparing numbers.
WITH dims AS (
    SELECT string_split(replace(lower(coalesce(getvariable('group_by'), 'regime')), ' ', ''), ',') AS d
),
c AS (
    SELECT
        rc.site,
        rc.request_key,
        CASE WHEN list_contains(dims.d, 'authority') THEN rc.authority_url_name END AS g_authority,
        CASE WHEN list_contains(dims.d, 'year') THEN rc.year END AS g_year,
        CASE WHEN list_contains(dims.d, 'regime') THEN rc.regime END AS g_regime,
        CASE WHEN coalesce(getvariable('detail'), 'provision') = 'section'
             THEN coalesce(rc.section, rc.provision) ELSE rc.provision END AS g_provision,
        rc.ground,
        CASE WHEN coalesce(getvariable('roles'), 'counted') <> 'counted' THEN rc.role END AS g_role
    FROM refusal_citations AS rc, dims
    WHERE list_has_any(string_split(coalesce(getvariable('roles'), 'counted'), ','),
                   ['all', rc.role, CASE WHEN rc.role IN ('relied_on', 'upheld') THEN 'counted' ELSE '-' END])
      AND (getvariable('authority') IS NULL OR rc.authority_url_name = getvariable('authority'))
      AND (getvariable('regime') IS NULL OR lower(rc.regime) = lower(getvariable('regime')))
      AND (getvariable('site') IS NULL OR rc.site = getvariable('site'))
      AND (getvariable('since') IS NULL OR timezone('Europe/London', rc.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
      AND (getvariable('until') IS NULL OR timezone('Europe/London', rc.sent_at)::DATE <= CAST(getvariable('until') AS DATE))
),
per_ground AS (
    SELECT g_authority, g_year, g_regime, g_provision, g_role,
           mode(ground) AS ground,
           count(DISTINCT (site, request_key)) AS requests,
           count(*) AS citations
    FROM c
    GROUP BY g_authority, g_year, g_regime, g_provision, g_role
),
per_group AS (
    SELECT g_authority, g_year, g_regime,
           count(DISTINCT (site, request_key)) AS refusing_requests
    FROM c
    GROUP BY g_authority, g_year, g_regime
)
SELECT
    p.g_authority AS authority_url_name,
    p.g_year AS year,
    p.g_regime AS regime,
    p.g_provision AS provision,
    p.ground,
    p.g_role AS role,
    p.requests,
    p.citations,
    g.refusing_requests,
    round(p.requests / g.refusing_requests, 4) AS share_of_refusals
FROM per_ground AS p
JOIN per_group AS g
  ON p.g_authority IS NOT DISTINCT FROM g.g_authority
 AND p.g_year IS NOT DISTINCT FROM g.g_year
 AND p.g_regime IS NOT DISTINCT FROM g.g_regime
ORDER BY authority_url_name NULLS FIRST, year NULLS FIRST, regime NULLS FIRST, p.requests DESC, provision, role NULLS FIRST;
