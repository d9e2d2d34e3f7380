-- response_times: How long each authority takes to answer, in UK working days.
--
-- What it answers:
--   For each authority: how many requests, the median and 90th-percentile
--   working days from sending to the first substantive response, and the share
--   answered within the statutory limit (20 working days; 20/60 for schools).
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   authority     VARCHAR  NULL  only this authority (its url_name, as in /body/<url_name>)
--   since         DATE      NULL  only requests sent on or after this date (Europe/London)
--   until         DATE      NULL  only requests sent on or before this date (Europe/London)
--   regime        ENUM(FOIA,EIR,FOISA,EISR) NULL  only FOIA, EIR, FOISA or EISR requests
--   min_requests  INTEGER  1     leave out authorities with fewer requests than this
--
-- Columns:
--   authority_url_name      the authority's slug
--   authority_name          its display name
--   requests                requests sent in the window
--   answered                requests with a substantive response
--   median_working_days     median working days to the substantive response (answered only)
--   p90_working_days        90th percentile of the same (interpolated, quantile_cont)
--   answered_in_time        answered within the limit
--   overdue_now             not answered and past the due date today
--   in_time_share           answered_in_time / (answered + overdue_now): requests still inside their deadline,
--                           and requests with no known deadline (regime unknown), are left out
--   in_time_share_of_answered  answered_in_time / answered
--
-- Caveats:
--   "Substantive" is the derived tables' judgement (an acknowledgement does not
--   count). Clarification requests do not stop the clock here. Withdrawn and
--   pending-but-not-yet-due requests count in `requests` only.
SELECT
    t.authority_url_name,
    any_value(t.authority_name) AS authority_name,
    count(*) AS requests,
    count_if(t.answered) AS answered,
    quantile_cont(t.working_days_to_substantive, 0.5) FILTER (WHERE t.answered) AS median_working_days,
    quantile_cont(t.working_days_to_substantive, 0.9) FILTER (WHERE t.answered) AS p90_working_days,
    count_if(t.answered_in_time) AS answered_in_time,
    count_if(t.overdue_now AND NOT coalesce(t.answered, false)) AS overdue_now,
    round(count_if(t.answered_in_time)
          / nullif(count_if(t.due_date IS NOT NULL AND (t.answered OR (t.overdue_now AND NOT coalesce(t.answered, false)))), 0), 4) AS in_time_share,
    round(count_if(t.answered_in_time) / nullif(count_if(t.answered AND t.due_date IS NOT NULL), 0), 4) AS in_time_share_of_answered
FROM request_timeline AS t
WHERE (getvariable('authority') IS NULL OR t.authority_url_name = getvariable('authority'))
  AND (getvariable('regime') IS NULL OR t.regime = upper(getvariable('regime')))
  AND (getvariable('since') IS NULL OR timezone('Europe/London', t.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
  AND (getvariable('until') IS NULL OR timezone('Europe/London', t.sent_at)::DATE <= CAST(getvariable('until') AS DATE))
GROUP BY t.authority_url_name
HAVING count(*) >= coalesce(CAST(getvariable('min_requests') AS INTEGER), 1)
ORDER BY requests DESC, t.authority_url_name;
