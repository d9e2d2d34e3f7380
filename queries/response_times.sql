-- response_times: How long each authority takes to answer, in working days.
--
-- What it answers:
--   For each authority: how many requests, the median and 90th-percentile
--   working days from sending to the first substantive response, and the share
--   answered within the statutory limit (20 working days; 20/60 for schools).
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   authority     VARCHAR  NULL  only this authority (its url_name, as in /body/<url_name>)
--   since         DATE     NULL  only requests sent on or after this date (Europe/London)
--   until         DATE     NULL  only requests sent on or before this date (Europe/London)
--   regime        VARCHAR  NULL  only requests under this regime (FOIA, EIR, FOISA, EISR; another site's, e.g. OIA; or unknown)
--   site          VARCHAR  NULL  only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--   min_requests  INTEGER  1     leave out authorities with fewer requests than this
--   provenance    ENUM(live,archive,file) NULL  only threads from the live site, an archive or a file (see `sources`)
--
-- Columns:
--   authority_url_name      the authority's slug
--   authority_name          its display name
--   regimes                 the regimes of those requests, e.g. 'EIR, FOIA'
--   requests                requests sent in the window
--   answered                requests with a substantive response
--   median_working_days     median working days to the substantive response (answered only)
--   p90_working_days        90th percentile of the same (interpolated, quantile_cont)
--   answered_in_time        answered within the limit (0, never blank, when none was)
--   overdue_now             not answered and past the due date today
--   in_time_share           answered_in_time / (answered + overdue_now), both counted among requests with a
--                           deadline: requests still inside their deadline are left out
--   in_time_share_of_answered  answered_in_time / answered requests with a deadline
--   no_deadline             requests with no known statutory deadline (regime unknown or without one):
--                           counted in requests and the working days, left out of every lateness figure
--
-- Caveats:
--   "Substantive" is the derived tables' judgement (an acknowledgement does not
--   count). Clarification requests do not stop the clock here. Withdrawn and
--   pending-but-not-yet-due requests count in `requests` only. Lateness is
--   judged only where the regime gives a deadline: a site or authority whose
--   regime is unknown shows no_deadline instead of a UK figure.
SELECT
    t.authority_url_name,
    any_value(t.authority_name) AS authority_name,
    string_agg(DISTINCT t.regime, ', ' ORDER BY t.regime) AS regimes,
    count(*) AS requests,
    count(*) FILTER (WHERE t.answered) AS answered,
    round(quantile_cont(t.working_days_to_substantive, 0.5) FILTER (WHERE t.answered), 2) AS median_working_days,
    round(quantile_cont(t.working_days_to_substantive, 0.9) FILTER (WHERE t.answered), 2) AS p90_working_days,
    count(*) FILTER (WHERE t.answered_in_time) AS answered_in_time,
    count(*) FILTER (WHERE t.overdue_now AND NOT coalesce(t.answered, false)) AS overdue_now,
    round(count(*) FILTER (WHERE t.answered_in_time)
          / nullif(count(*) FILTER (WHERE (t.answered AND t.answered_in_time IS NOT NULL)
                                       OR (t.overdue_now AND NOT coalesce(t.answered, false))), 0), 4) AS in_time_share,
    round(count(*) FILTER (WHERE t.answered_in_time)
          / nullif(count(*) FILTER (WHERE t.answered AND t.answered_in_time IS NOT NULL), 0), 4) AS in_time_share_of_answered,
    count(*) FILTER (WHERE t.due_date IS NULL) AS no_deadline
FROM request_timeline AS t
WHERE (getvariable('provenance') IS NULL OR EXISTS (
         SELECT 1 FROM requests AS r WHERE r.site = t.site AND r.request_key = t.request_key
           AND coalesce(r.provenance, 'live') = getvariable('provenance')))
  AND (getvariable('authority') IS NULL OR t.authority_url_name = getvariable('authority'))
  AND (getvariable('regime') IS NULL OR lower(t.regime) = lower(getvariable('regime')))
  AND (getvariable('site') IS NULL OR t.site = getvariable('site'))
  AND (getvariable('since') IS NULL OR timezone('Europe/London', t.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
  AND (getvariable('until') IS NULL OR timezone('Europe/London', t.sent_at)::DATE <= CAST(getvariable('until') AS DATE))
GROUP BY t.authority_url_name
HAVING count(*) >= coalesce(CAST(getvariable('min_requests') AS INTEGER), 1)
ORDER BY requests DESC, t.authority_url_name;
