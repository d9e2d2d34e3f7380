-- overdue_now: Requests still unanswered long after their deadline.
--
-- What it answers:
--   Which requests are long overdue today (past 40 working days, 60 for
--   schools, with no substantive response), oldest first. With
--   level = 'overdue', every request past its 20-working-day due date.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   authority  VARCHAR  NULL           only this authority (url_name)
--   regime     VARCHAR  NULL           only requests under this regime: FOIA, EIR, FOISA, EISR or another with a deadline
--   site       VARCHAR  NULL           only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--   since      DATE     NULL           only requests sent on or after this date (Europe/London)
--   level      ENUM(long_overdue,overdue)  long_overdue   'long_overdue' (past the long-overdue date) or 'overdue' (past the due date)
--   provenance  ENUM(live,archive,file) NULL  only threads from the live site, an archive or a file (see `sources`)
--
-- Columns:
--   authority_url_name  the authority's slug
--   authority_name      its display name
--   request_id          the site's numeric request id (NULL when unknown)
--   url_title           the request's slug: <site>/request/<url_title>
--   title               the request's title
--   sent_at             when the request was sent
--   due_date            the statutory due date under the request's regime (e.g. working day 20 for FOIA)
--   long_overdue_date   the date it became long overdue
--   days_past_due       calendar days from the due date to today
--   described_state     the state the requester last set
--
-- Caveats:
--   "Today" is the day the query runs (current_date). Requests the requester
--   never classified can look overdue when an answer arrived by post.
--   Requests with no known deadline (regime unknown) are never listed: their
--   overdue columns are NULL rather than judged by UK rules.
SELECT
    t.authority_url_name,
    t.authority_name,
    t.request_id,
    t.url_title,
    t.title,
    t.sent_at,
    t.due_date,
    t.long_overdue_date,
    current_date - t.due_date AS days_past_due,
    t.described_state
FROM request_timeline AS t
WHERE (getvariable('provenance') IS NULL OR EXISTS (
         SELECT 1 FROM requests AS r WHERE r.site = t.site AND r.request_key = t.request_key
           AND coalesce(r.provenance, 'live') = getvariable('provenance')))
  AND CASE coalesce(getvariable('level'), 'long_overdue')
          WHEN 'overdue' THEN t.overdue_now
          ELSE t.long_overdue_now
      END
  AND (getvariable('authority') IS NULL OR t.authority_url_name = getvariable('authority'))
  AND (getvariable('regime') IS NULL OR lower(t.regime) = lower(getvariable('regime')))
  AND (getvariable('site') IS NULL OR t.site = getvariable('site'))
  AND (getvariable('since') IS NULL OR timezone('Europe/London', t.sent_at)::DATE >= CAST(getvariable('since') AS DATE))
ORDER BY t.sent_at, t.url_title;
