"""The per-request timeline: when a request started, when it was answered, against its own law's clock.

Everything here is set-based SQL over the base tables plus three small tables
the rebuild writes first: ``workday_calendar`` (``corpus.workdays``) and
``regimes`` / ``sites`` / ``site_rules`` (``corpus.sites``).  Each request gets
a regime from its site (the site's default, its rules on the authority's tags
or url_name, or WhatDoTheyKnow's FOIA/EIR/FOISA/EISR rule); a site not listed
gets ``unknown`` and no deadline.  Dates are taken in the site's time zone.  A
working-day count is a difference of two ``working_day_index`` values and a
due date is one equality join, so the cost grows with the number of rows, not
with days per row.

The acknowledgement rules live in ``ACK_RULES`` / ``SUBSTANTIVE_RULES`` as
regular expressions understood both by Python's ``re`` and DuckDB's RE2, so the
pure ``classify_response`` and the SQL agree.
"""

from __future__ import annotations

import re
from datetime import date

from corpus.sites import UK_FAMILY, UNKNOWN, host_key_sql, scottish_sql

# An incoming message is a holding reply, not an answer, when one of these matches ...
HOLDING_RULES: dict[str, str] = {
    "auto-reply": r"automatic reply|auto-?reply|automated (?:response|reply|message)|this is an automated|do not reply to this (?:e-?mail|message)",
    "out of office": r"out of (?:the )?office|i am (?:currently )?(?:away|on (?:annual )?leave|out of the office)|limited access to (?:my )?e-?mail",
    "extension": r"need (?:more|further|additional) time|extend(?:ing|ed)? the (?:time|deadline|response)|(?:complex and voluminous)|section 10\(3\)|regulation 7\(1\)",
    "delay apology": r"apologi[sz]e for the delay|apologies for the delay|hope to (?:send|provide) (?:you )?(?:a|our) response (?:shortly|soon)",
    "clarification request": r"(?:could|can|would) you (?:please )?(?:clarify|confirm what|provide more detail)|please clarify|further clarification",
}
# ... or when one of these matches and nothing in SUBSTANTIVE_RULES does and no document is attached.
ACK_RULES: dict[str, str] = {
    "acknowledgement": r"acknowledge?(?:s|d|ing|ment)? (?:receipt|your (?:request|e-?mail))|we have received your (?:request|e-?mail)|(?:thank you for|thanks for) your (?:e-?mail|request)[^.]{0,40}(?:which|that) (?:we|was) received",
    "being processed": r"currently processing your request|(?:is|are) being (?:processed|dealt with|considered)|(?:has|have) been (?:logged|passed to|forwarded to|allocated)|passed (?:this|your) request (?:on)?to",
    "will respond by": r"(?:aim|expect|will|should) (?:to )?(?:send you a |send a |provide a |)(?:respon(?:d|se)|reply)[^.]{0,40}(?:by|within|no later than)|dealing with your request under",
    "reference only": r"^\s*(?:our |your )?ref(?:erence)?(?: number| no\.?)?:?\s*[\w/-]+\s*$",
}
SUBSTANTIVE_RULES: dict[str, str] = {
    "response given": r"(?:attached|enclosed) (?:is )?(?:our|my|the) (?:formal |full )?(?:response|reply|answer)|please find (?:attached|enclosed|below)|(?:our|my) response (?:is|to your request)|in response to your request|the answers? (?:to your|are|is)|i can confirm|information (?:you )?requested (?:is|are)|do(?:es)? not hold|not held|we do not have|exempt|exception|refus|withh[eo]ld|redact",
}
# Response-event states that settle the question, when the JSON is available.
FINAL_STATES = ("successful", "partially_successful", "not_held", "rejected", "vexatious", "not_foi")
HOLDING_STATES = ("waiting_response", "waiting_clarification", "error_message")

SHORT_MESSAGE_CHARS = 40  # bodies shorter than this, with no document attached, are not answers


def _rx(rules: dict[str, str]) -> str:
    return "(?i)(?:" + "|".join(f"(?:{v})" for v in rules.values()) + ")"


HOLDING_RX = _rx(HOLDING_RULES)
# Auto-replies and out-of-office notices never count, whatever state the requester later set.
AUTOMATIC_RX = _rx({k: HOLDING_RULES[k] for k in ("auto-reply", "out of office")})
ACK_RX = _rx(ACK_RULES)
SUBSTANTIVE_RX = _rx(SUBSTANTIVE_RULES)
# Outgoing follow-ups asking for an internal review (WDTK's template says "conducts Freedom of Information reviews").
REVIEW_RX = r"(?i)(?:request(?:ing)?|ask(?:ing)? for|want|like|seek(?:ing)?) (?:an |a |for an )?internal review|conducts? Freedom of Information reviews"


def classify_response(
    body: str | None,
    documents: int = 0,
    calculated_state: str | None = None,
    *,
    attachments: int | None = None,
    placeholder: bool = False,
) -> tuple[bool, str]:
    """Is an incoming message a substantive response?  Returns (substantive, reason).

    ``documents`` counts attachments that are not images (signatures and logos
    do not make an answer); ``attachments`` counts all of them (default:
    ``documents``).  ``placeholder``: the body is only the site's "[Email has no
    body, please see attachments]".  ``calculated_state`` is the JSON response
    event's state: a final outcome settles it as substantive, a waiting state as
    not, except that an auto-reply or out-of-office notice with no document
    attached is never an answer.
    """
    text = (body or "")[:3000]
    attachments = documents if attachments is None else attachments
    if documents == 0 and re.search(AUTOMATIC_RX, text):
        return False, "automatic reply"
    if calculated_state in FINAL_STATES:
        return True, f"event state {calculated_state}"
    if calculated_state in HOLDING_STATES:
        return False, f"event state {calculated_state}"
    for name, rx in HOLDING_RULES.items():
        if re.search(rx, text, re.I):
            return False, name
    if documents > 0:
        return True, "document attached"
    if placeholder or not text.strip():
        return (True, "attachments only") if attachments > 0 else (False, "empty message")
    if re.search(SUBSTANTIVE_RX, text):
        return True, "answer wording"
    for name, rx in ACK_RULES.items():
        if re.search(rx, text, re.I | re.M):
            return False, name
    if len(text.strip()) < SHORT_MESSAGE_CHARS:
        return False, "short message"
    return True, "text"


# Titles that differ only in case, spaces and ASCII punctuation are the same request sent to several
# authorities (queries/same_request.sql groups by this key, precomputed here once per rebuild).
TITLE_KEY_DROP = " .,:;!?'\"’‘“”()[]{}<>-–—/\\&_*#+=|~"


def title_key_sql(column: str) -> str:
    """SQL for the normalised title key of ``column``: lower case, spaces and punctuation dropped."""
    return f"translate(lower({column}), {_sql_str(TITLE_KEY_DROP)}, '')"


def title_key(title: str | None) -> str | None:
    """The same key in Python (for tests and tools): ``title_key('Serious case reviews (2018)!')`` -> 'seriouscasereviews2018'."""
    if title is None:
        return None
    return title.lower().translate({ord(c): None for c in TITLE_KEY_DROP})


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# A page's date with no time (``messages.sent_at_text`` of pages from before 2014 read without their JSON).
DAY_ONLY_RX = r"\d{4}-\d{2}-\d{2}"

# Orders messages by time, then page position, then id, with missing times and positions last.
_FIRST_KEY = ("(sent_at IS NULL, coalesce(sent_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'), "
              "position IS NULL, coalesce(position, 0), message_id)")


def _scoped(table: str, scoped: bool) -> str:
    """``table``, or only its rows of the requests listed in ``_derive_scope``."""
    if not scoped:
        return table
    return f"(SELECT * FROM {table} SEMI JOIN _derive_scope USING (site, request_key))"


def build_sql(today: date, *, scoped: bool = False, capture_dates: bool = False) -> str:
    """The statement that builds request_timeline.

    Whole: ``CREATE OR REPLACE TABLE request_timeline AS …``.  ``scoped``: an
    ``INSERT … BY NAME`` of the rows of the requests in the temporary table
    ``_derive_scope(site, request_key)`` only (the caller deletes their old rows
    first and refreshes ``title_key_requests``, which counts across requests).
    ``capture_dates``: ``requests.as_of`` exists; a thread built from an
    archive's capture is judged overdue or not as of that capture, not today.
    Needs ``workday_calendar``, ``regimes``, ``sites`` and ``site_rules``.
    """
    judged = (f"coalesce(least(CAST(timezone(q.site_tz, q.as_of) AS DATE), DATE '{today.isoformat()}'), "
              f"DATE '{today.isoformat()}')" if capture_dates else f"DATE '{today.isoformat()}'")
    requests_t, messages_t, events_t, attachments_t = (
        _scoped(t, scoped) for t in ("requests", "messages", "events", "attachments")
    )
    head = "INSERT INTO request_timeline BY NAME" if scoped else "CREATE OR REPLACE TABLE request_timeline AS"
    final_states = ", ".join(_sql_str(s) for s in FINAL_STATES)
    holding_states = ", ".join(_sql_str(s) for s in HOLDING_STATES)
    body = "substr(coalesce(m.body, ''), 1, 3000)"

    def local_date(ts: str) -> str:
        return f"CAST(timezone(site_tz, {ts}) AS DATE)"

    def first_working_index(cal: str) -> str:  # index of the first working day on or after cal.date
        return f"{cal}.working_day_index + CASE WHEN {cal}.is_working_day THEN 0 ELSE 1 END"

    return f"""
{head}
WITH
auth AS (
    SELECT site, url_name,
           list_transform(coalesce(tags, []), lambda t: lower(split_part(t, ':', 1))) AS tag_names,
           list_transform(coalesce(tags, []), lambda t: lower(t)) AS tag_strings,
           lower(coalesce(jurisdiction, '')) AS jurisdiction
    FROM authorities
),
req AS (
    SELECT r.*, {host_key_sql("r.site")} AS site_host, a.tag_names, a.tag_strings,
        {scottish_sql("a.tag_names", "a.jurisdiction")} AS scottish,
        coalesce(list_has_any(a.tag_names, ['school', 'academy_trust']), false) AS is_school,
        lower(coalesce(r.law, '')) = 'eir' OR coalesce(r.eir_only, false) AS eir
    FROM {requests_t} r
    LEFT JOIN auth a ON a.site = r.site AND a.url_name = r.authority_url_name
),
rule_hit AS (   -- the first of the site's rules the request's authority matches
    SELECT q.site, q.request_key, arg_min(sr.regime, sr.position) AS rule_regime, arg_min(sr.basis, sr.position) AS rule_basis
    FROM req q
    JOIN site_rules sr ON sr.host = q.site_host
     AND ((sr.match = 'tag' AND (list_contains(q.tag_names, sr.value) OR list_contains(q.tag_strings, sr.value)))
       OR (sr.match = 'authority' AND lower(q.authority_url_name) = sr.value))
    GROUP BY ALL
),
req2 AS (
    SELECT q.*,
        coalesce(s.timezone, 'UTC') AS site_tz,
        CASE WHEN h.rule_regime IS NOT NULL THEN h.rule_regime
             WHEN s.regime = '{UK_FAMILY}' THEN
                 CASE WHEN q.eir AND q.scottish THEN 'EISR' WHEN q.eir THEN 'EIR' WHEN q.scottish THEN 'FOISA' ELSE 'FOIA' END
             ELSE coalesce(s.regime, '{UNKNOWN}') END AS regime,
        CASE WHEN h.rule_regime IS NOT NULL THEN h.rule_basis
             WHEN s.regime = '{UK_FAMILY}' THEN
                 CASE WHEN q.eir AND q.scottish THEN 'law_used=eir; authority in Scotland'
                      WHEN q.eir THEN CASE WHEN coalesce(q.eir_only, false) AND lower(coalesce(q.law, '')) <> 'eir'
                                           THEN 'authority EIR only' ELSE 'law_used=eir' END
                      WHEN q.scottish THEN 'authority in Scotland'
                      ELSE 'default FOIA' END
             WHEN s.host IS NULL THEN 'site not in the sites table'
             ELSE coalesce(s.default_basis, 'site default') END AS regime_basis
    FROM req q
    LEFT JOIN sites s ON s.host = q.site_host
    LEFT JOIN rule_hit h USING (site, request_key)
),
msg_day AS (   -- the date a page shows when it shows no time (pages before 2014 without their JSON)
    SELECT m.*, CASE WHEN m.sent_at IS NULL AND regexp_full_match(coalesce(m.sent_at_text, ''), '{DAY_ONLY_RX}')
                     THEN try_cast(m.sent_at_text AS DATE) END AS shown_day
    FROM {messages_t} m
),
msg AS (   -- sent_at: the time shown, else the start of the day shown, in the site's time zone
    SELECT m.site, m.request_key, m.message_id, m.direction,
           coalesce(m.sent_at, timezone(q.site_tz, CAST(m.shown_day AS TIMESTAMP))) AS sent_at,
           m.shown_day IS NOT NULL AS day_only,
           m.body, m.event_type, m.position,
           coalesce(m.body_placeholder, false) OR trim(coalesce(m.body, '')) = '' AS empty_body
    FROM msg_day m
    LEFT JOIN (SELECT site, request_key, site_tz FROM req2) q USING (site, request_key)
),
first_out AS (   -- the initial request: the first outgoing message by time, then page position, then id
    SELECT site, request_key,
           arg_min(message_id, {_FIRST_KEY}) AS first_out_id,
           arg_min(sent_at, {_FIRST_KEY}) AS first_out_at
    FROM msg WHERE direction = 'outgoing'
    GROUP BY ALL
),
ev_in AS (   -- the JSON state of each response event
    SELECT site, incoming_message_id AS message_id, max(calculated_state) AS calculated_state
    FROM {events_t} WHERE incoming_message_id IS NOT NULL AND event_type = 'response'
    GROUP BY ALL
),
ev_out AS (
    SELECT site, outgoing_message_id AS message_id,
           bool_or(calculated_state = 'internal_review' OR display_status ILIKE '%internal review%') AS review
    FROM {events_t} WHERE outgoing_message_id IS NOT NULL
    GROUP BY ALL
),
docs AS (   -- documents: attachments that are not images; attachments: all of them
    SELECT site, incoming_message_id AS message_id,
           count(*) FILTER (WHERE NOT regexp_matches(lower(coalesce(filename, '')), '\\.(png|jpe?g|gif|bmp|emz|wmz)$')
                              AND coalesce(content_icon, '') NOT IN ('image', 'png', 'jpg', 'gif')) AS documents,
           count(*) AS attachments
    FROM {attachments_t}
    GROUP BY ALL
),
incoming AS (
    SELECT m.*, e.calculated_state, coalesce(d.documents, 0) AS documents,
        CASE
          WHEN coalesce(d.documents, 0) = 0 AND regexp_matches({body}, {_sql_str(AUTOMATIC_RX)}) THEN false
          WHEN e.calculated_state IN ({final_states}) THEN true
          WHEN e.calculated_state IN ({holding_states}) THEN false
          WHEN regexp_matches({body}, {_sql_str(HOLDING_RX)}) THEN false
          WHEN coalesce(d.documents, 0) > 0 THEN true
          WHEN m.empty_body THEN coalesce(d.attachments, 0) > 0
          WHEN regexp_matches({body}, {_sql_str(SUBSTANTIVE_RX)}) THEN true
          WHEN regexp_matches({body}, {_sql_str("(?m)" + ACK_RX)}) THEN false
          WHEN length(trim(coalesce(m.body, ''))) < {SHORT_MESSAGE_CHARS} THEN false
          ELSE true
        END AS substantive
    FROM msg m
    LEFT JOIN ev_in e USING (site, message_id)
    LEFT JOIN docs d USING (site, message_id)
    WHERE m.direction = 'incoming'
),
outgoing AS (   -- is_first: the initial request; the others are follow-ups
    SELECT m.*, coalesce(o.review, false) OR regexp_matches({body}, {_sql_str(REVIEW_RX)}) AS review,
           m.message_id = f.first_out_id AS is_first
    FROM msg m LEFT JOIN ev_out o USING (site, message_id)
    JOIN first_out f USING (site, request_key)
    WHERE m.direction = 'outgoing'
),
sent_ev AS (
    SELECT site, request_key, min(created_at) AS sent_event_at
    FROM {events_t} WHERE event_type = 'sent' GROUP BY ALL
),
start AS (
    SELECT q.site, q.request_key,
        coalesce(s.sent_event_at, f.first_out_at, q.created_at) AS sent_at
    FROM req2 q LEFT JOIN sent_ev s USING (site, request_key) LEFT JOIN first_out f USING (site, request_key)
),
clar_states AS (   -- moments the request was classified as waiting for clarification
    SELECT site, request_key, created_at AS clar_at FROM {events_t}
    WHERE described_state = 'waiting_clarification'
       OR (event_type = 'response' AND calculated_state = 'waiting_clarification')
),
clarified AS (     -- the first follow-up after each such moment restarts the clock; the last restart wins
    SELECT c.site, c.request_key, max(f.first_followup) AS clock_reset_at
    FROM (
        SELECT c.site, c.request_key, c.clar_at, min(o.sent_at) AS first_followup
        FROM clar_states c
        JOIN outgoing o ON o.site = c.site AND o.request_key = c.request_key
                       AND o.sent_at > c.clar_at AND NOT o.is_first
        GROUP BY ALL
    ) f JOIN clar_states c USING (site, request_key)
    GROUP BY ALL
),
clock AS (
    SELECT st.site, st.request_key, st.sent_at,
           greatest(st.sent_at, cl.clock_reset_at) AS clock_at,
           cl.clock_reset_at
    FROM start st LEFT JOIN clarified cl USING (site, request_key)
),
first_in AS (
    SELECT i.site, i.request_key,
           min(i.sent_at) AS first_incoming_at,
           arg_min(i.message_id, (i.sent_at, i.message_id)) AS first_incoming_message_id  -- ties: the lower id
    FROM incoming i JOIN clock c USING (site, request_key)
    WHERE i.sent_at >= c.sent_at
    GROUP BY ALL
),
first_sub AS (
    SELECT i.site, i.request_key,
           min(i.sent_at) AS first_substantive_at,
           arg_min(i.message_id, (i.sent_at, i.message_id)) AS first_substantive_message_id
    FROM incoming i JOIN clock c USING (site, request_key)
    WHERE i.substantive AND i.sent_at >= c.clock_at
    GROUP BY ALL
),
review AS (
    SELECT o.site, o.request_key, min(o.sent_at) AS internal_review_requested_at
    FROM outgoing o WHERE o.review AND NOT o.is_first GROUP BY ALL
),
review_answer AS (
    SELECT r.site, r.request_key, min(i.sent_at) AS internal_review_answered_at
    FROM review r JOIN incoming i ON i.site = r.site AND i.request_key = r.request_key
        AND i.sent_at > r.internal_review_requested_at AND i.substantive
    GROUP BY ALL
),
counts AS (
    SELECT site, request_key, count(*) AS message_count,
           count(*) FILTER (WHERE direction = 'incoming') AS incoming_count,
           bool_or(day_only) AS day_only_times
    FROM msg GROUP BY ALL
),
base AS (
    SELECT q.site, q.request_key, q.request_id, q.url_title, q.title, q.batch_id,
        q.authority_url_name, q.authority_name, q.requester_url_name, q.requester_name,
        q.regime, q.regime_basis, q.is_school, q.site_tz,
        g.response_days, g.day_unit,
        CASE WHEN q.is_school AND g.long_overdue_days_school IS NOT NULL THEN g.long_overdue_days_school
             ELSE g.long_overdue_days END AS long_overdue_days,
        c.sent_at,
        fi.first_incoming_at, fi.first_incoming_message_id,
        fs.first_substantive_at, fs.first_substantive_message_id,
        rv.internal_review_requested_at, ra.internal_review_answered_at,
        q.described_state, q.calculated_status,
        coalesce(q.described_state,
                 CASE WHEN q.calculated_status LIKE 'waiting_response%' THEN 'waiting_response' ELSE q.calculated_status END) AS state,
        coalesce(q.closed_to_correspondence, false) AS closed,
        coalesce(n.message_count, 0) AS message_count, coalesce(n.incoming_count, 0) AS incoming_count,
        coalesce(n.day_only_times, false) AS day_only_times,
        c.clock_at, c.clock_reset_at,
        {judged} AS judged_on
    FROM req2 q
    LEFT JOIN regimes g ON g.regime = q.regime
    LEFT JOIN clock c USING (site, request_key)
    LEFT JOIN first_in fi USING (site, request_key)
    LEFT JOIN first_sub fs USING (site, request_key)
    LEFT JOIN review rv USING (site, request_key)
    LEFT JOIN review_answer ra USING (site, request_key)
    LEFT JOIN counts n USING (site, request_key)
),
dated AS (   -- calendar dates in the site's time zone
    SELECT b.*,
        {local_date("b.clock_at")} AS received_date,
        {local_date("b.sent_at")} AS sent_date,
        {local_date("b.first_incoming_at")} AS first_incoming_date,
        {local_date("b.first_substantive_at")} AS first_substantive_date,
        {local_date("b.internal_review_requested_at")} AS review_date,
        {local_date("b.internal_review_answered_at")} AS review_answer_date,
        CASE b.state
            WHEN 'successful' THEN 'successful'
            WHEN 'partially_successful' THEN 'partially_successful'
            WHEN 'not_held' THEN 'not_held'
            WHEN 'rejected' THEN 'refused'
            WHEN 'user_withdrawn' THEN 'withdrawn'
            WHEN 'waiting_response' THEN 'pending'
            WHEN 'waiting_clarification' THEN 'pending'
            WHEN 'waiting_classification' THEN 'pending'
            WHEN 'internal_review' THEN 'pending'
            ELSE 'other'
        END AS outcome
    FROM base b
),
cal_days AS (   -- the calendar days this build looks up, found in one pass over the calendar: joined
                -- once per date column, the whole calendar was held in memory ten times over
    SELECT c.regime, c.date, c.working_day_index, c.is_working_day
    FROM workday_calendar c
    SEMI JOIN (
        SELECT regime, received_date AS day FROM dated
        UNION ALL SELECT regime, sent_date FROM dated
        UNION ALL SELECT regime, first_incoming_date FROM dated
        UNION ALL SELECT regime, first_substantive_date FROM dated
        UNION ALL SELECT regime, review_date FROM dated
        UNION ALL SELECT regime, review_answer_date FROM dated
        UNION ALL SELECT regime, received_date + response_days FROM dated WHERE day_unit = 'calendar'
        UNION ALL SELECT regime, received_date + long_overdue_days FROM dated WHERE day_unit = 'calendar'
    ) AS n ON n.regime = c.regime AND n.day = c.date
),
idx AS (
    SELECT d.*,
        c0.working_day_index AS idx_received,
        c_sent.working_day_index AS idx_sent,
        c1.working_day_index AS idx_first_in,
        c2.working_day_index AS idx_first_sub,
        c3.working_day_index AS idx_review,
        c4.working_day_index AS idx_review_answer,
        CASE d.day_unit WHEN 'working' THEN c0.working_day_index + d.response_days
                        WHEN 'calendar' THEN {first_working_index("c_due")} END AS due_index,
        CASE d.day_unit WHEN 'working' THEN c0.working_day_index + d.long_overdue_days
                        WHEN 'calendar' THEN {first_working_index("c_long")} END AS long_overdue_index
    FROM dated d
    LEFT JOIN cal_days c0 ON c0.regime = d.regime AND c0.date = d.received_date
    LEFT JOIN cal_days c_sent ON c_sent.regime = d.regime AND c_sent.date = d.sent_date
    LEFT JOIN cal_days c1 ON c1.regime = d.regime AND c1.date = d.first_incoming_date
    LEFT JOIN cal_days c2 ON c2.regime = d.regime AND c2.date = d.first_substantive_date
    LEFT JOIN cal_days c3 ON c3.regime = d.regime AND c3.date = d.review_date
    LEFT JOIN cal_days c4 ON c4.regime = d.regime AND c4.date = d.review_answer_date
    LEFT JOIN cal_days c_due ON c_due.regime = d.regime
         AND c_due.date = CASE WHEN d.day_unit = 'calendar' THEN d.received_date + d.response_days END
    LEFT JOIN cal_days c_long ON c_long.regime = d.regime
         AND c_long.date = CASE WHEN d.day_unit = 'calendar' THEN d.received_date + d.long_overdue_days END
),
workdays AS (   -- the working days the deadlines fall on, found in one pass over the calendar
    SELECT c.regime, c.working_day_index, c.date
    FROM workday_calendar c
    SEMI JOIN (SELECT regime, due_index AS k FROM idx UNION ALL SELECT regime, long_overdue_index FROM idx) AS n
      ON n.regime = c.regime AND n.k = c.working_day_index
    WHERE c.is_working_day
),
due AS (
    SELECT i.*, w_due.date AS due_date, w_long.date AS long_overdue_date,
           i.day_unit = 'working' AS counts_working_days
    FROM idx i
    LEFT JOIN workdays w_due ON w_due.regime = i.regime AND w_due.working_day_index = i.due_index
    LEFT JOIN workdays w_long ON w_long.regime = i.regime AND w_long.working_day_index = i.long_overdue_index
),
title_keys AS (   -- requests per title key (scoped builds count within the scope; the caller recounts)
    SELECT site, {title_key_sql("title")} AS title_key, CAST(count(*) AS INTEGER) AS title_key_requests
    FROM {requests_t} GROUP BY ALL
)
SELECT
    site, request_key, request_id, url_title, title, authority_url_name, authority_name,
    requester_url_name, requester_name,
    regime, regime_basis, is_school,
    CAST(response_days AS INTEGER) AS response_days, day_unit,
    sent_at, sent_date, received_date, due_date, long_overdue_date,
    first_incoming_at, first_incoming_message_id,
    CAST(CASE WHEN counts_working_days THEN idx_first_in - idx_sent END AS INTEGER) AS working_days_to_first_incoming,
    first_substantive_at, first_substantive_message_id,
    CAST(CASE WHEN counts_working_days THEN idx_first_sub - idx_received END AS INTEGER) AS working_days_to_substantive,
    CAST(first_substantive_date - received_date AS INTEGER) AS days_to_substantive,
    first_substantive_at IS NOT NULL AS answered,
    CASE WHEN first_substantive_at IS NULL THEN NULL ELSE first_substantive_date <= due_date END AS answered_in_time,
    CASE WHEN response_days IS NULL THEN NULL ELSE
        (first_substantive_at IS NULL AND NOT closed AND state = 'waiting_response' AND judged_on > due_date) END AS overdue_now,
    CASE WHEN long_overdue_days IS NULL THEN NULL ELSE
        (first_substantive_at IS NULL AND NOT closed AND state = 'waiting_response' AND judged_on > long_overdue_date) END
        AS long_overdue_now,
    internal_review_requested_at, internal_review_answered_at,
    CAST(CASE WHEN counts_working_days THEN idx_review_answer - idx_review END AS INTEGER) AS working_days_internal_review,
    described_state, calculated_status, outcome,
    CAST(year(received_date) AS INTEGER) AS year,
    CAST(message_count AS INTEGER) AS message_count,
    CAST(incoming_count AS INTEGER) AS incoming_count,
    day_only_times,
    clock_reset_at,
    judged_on AS as_of_date,
    batch_id,
    title_key,
    title_key_requests
FROM (
    SELECT d.*, k.title_key_requests
    FROM (SELECT *, {title_key_sql("title")} AS title_key FROM due) d
    LEFT JOIN title_keys k ON k.site = d.site AND k.title_key IS NOT DISTINCT FROM d.title_key
)
ORDER BY site, request_key
"""


def timeline_columns(con, today: date) -> set[str]:
    """The columns the current build of request_timeline writes (asks DuckDB, reads no rows)."""
    select = build_sql(today).split("\n", 2)[2]  # drop the CREATE line: the query itself
    return {d[0] for d in con.execute(f"SELECT * FROM ({select}) LIMIT 0").description}
