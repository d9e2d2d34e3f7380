-- internal_reviews: Internal reviews, how long they took, and what they changed.
--
-- What it answers:
--   For each authority: requests that went to internal review, grouped by the
--   outcome the requester recorded before asking for the review and the
--   request's outcome now, with how many reviews were answered and the median
--   working days the review took.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   authority  VARCHAR  NULL  only this authority (url_name)
--   since      DATE     NULL  only reviews requested on or after this date (Europe/London)
--   until      DATE     NULL  only reviews requested on or before this date (Europe/London)
--   regime     VARCHAR  NULL  only requests under this regime: FOIA, EIR, FOISA, EISR, another site's (e.g. OIA) or unknown
--   site       VARCHAR  NULL  only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--
-- Columns:
--   authority_url_name     the authority's slug
--   authority_name         its display name
--   outcome_before         last outcome the requester recorded before the review ('unclassified' when none)
--   outcome_after          the request's outcome now
--   changed                outcome_before differs from outcome_after
--   requests               reviews in this group
--   reviews_answered       reviews with a reply
--   median_working_days    median working days from the review request to its reply
--
-- Caveats:
--   The "before" outcome comes from status updates in the request's event
--   history (the JSON companion); threads loaded without JSON are
--   'unclassified' before. A review still open shows outcome_after 'pending'.
WITH reviewed AS (
    SELECT *
    FROM request_timeline AS t
    WHERE t.internal_review_requested_at IS NOT NULL
      AND (getvariable('authority') IS NULL OR t.authority_url_name = getvariable('authority'))
      AND (getvariable('regime') IS NULL OR lower(t.regime) = lower(getvariable('regime')))
      AND (getvariable('site') IS NULL OR t.site = getvariable('site'))
      AND (getvariable('since') IS NULL OR timezone('Europe/London', t.internal_review_requested_at)::DATE >= CAST(getvariable('since') AS DATE))
      AND (getvariable('until') IS NULL OR timezone('Europe/London', t.internal_review_requested_at)::DATE <= CAST(getvariable('until') AS DATE))
),
before AS (
    SELECT r.site, r.request_key,
           arg_max(e.described_state, e.created_at) AS described_state
    FROM reviewed AS r
    JOIN events AS e
      ON e.site = r.site AND e.request_key = r.request_key
    WHERE e.described_state IS NOT NULL
      AND e.described_state <> 'internal_review'
      AND e.created_at < r.internal_review_requested_at
    GROUP BY r.site, r.request_key
),
labelled AS (
    SELECT
        r.*,
        CASE
            WHEN b.described_state IS NULL THEN 'unclassified'
            WHEN b.described_state IN ('successful', 'partially_successful', 'not_held') THEN b.described_state
            WHEN b.described_state = 'rejected' THEN 'refused'
            WHEN b.described_state = 'user_withdrawn' THEN 'withdrawn'
            WHEN b.described_state IN ('waiting_response', 'waiting_clarification', 'gone_postal',
                                       'waiting_response_overdue', 'waiting_response_very_overdue',
                                       'waiting_classification') THEN 'pending'
            ELSE 'other'
        END AS outcome_before
    FROM reviewed AS r
    LEFT JOIN before AS b ON b.site = r.site AND b.request_key = r.request_key
)
SELECT
    authority_url_name,
    any_value(authority_name) AS authority_name,
    outcome_before,
    coalesce(outcome, 'other') AS outcome_after,
    outcome_before IS DISTINCT FROM coalesce(outcome, 'other') AS changed,
    count(*) AS requests,
    count(internal_review_answered_at) AS reviews_answered,
    round(quantile_cont(working_days_internal_review, 0.5), 2) AS median_working_days
FROM labelled
GROUP BY authority_url_name, outcome_before, coalesce(outcome, 'other')
ORDER BY authority_url_name, requests DESC, outcome_before, outcome_after;
