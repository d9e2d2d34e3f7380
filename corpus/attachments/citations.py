"""Refusal grounds cited in attachment text, for ``refusal_citations``.

The derived-tables rebuild finds citations in message bodies; the letters many
authorities attach instead of writing in the e-mail are covered here.  Two ways
in, whichever suits the rebuild:

* :data:`ATTACHMENT_TEXT_SOURCES` -- a SELECT with one row per attachment whose
  text was extracted (``status = 'ok'``), shaped like a message-body source:
  ``site, request_key, message_id, direction, sent_at, authority_url_name, law,
  jurisdiction, source ('attachment'), attachment_part, text``;
* :func:`attachment_citation_rows` -- the citations themselves, as dicts with
  ``source = 'attachment'`` and ``attachment_part`` set.
"""

from __future__ import annotations

ATTACHMENT_TEXT_SOURCES = """
SELECT t.site,
       coalesce(a.request_key, t.request_key)      AS request_key,
       t.incoming_message_id                       AS message_id,
       'incoming'                                  AS direction,
       m.sent_at                                   AS sent_at,
       r.authority_url_name                        AS authority_url_name,
       r.law                                       AS law,
       b.jurisdiction                              AS jurisdiction,
       'attachment'                                AS source,
       t.part                                      AS attachment_part,
       t.filename                                  AS filename,
       t.text                                      AS text
FROM attachment_texts t
LEFT JOIN attachments a
       ON a.site = t.site AND a.incoming_message_id = t.incoming_message_id AND a.part = t.part
LEFT JOIN requests r
       ON r.site = t.site AND r.request_key = coalesce(a.request_key, t.request_key)
LEFT JOIN messages m
       ON m.site = t.site AND m.direction = 'incoming' AND m.message_id = t.incoming_message_id
LEFT JOIN authorities b
       ON b.site = t.site AND b.url_name = r.authority_url_name
WHERE t.status = 'ok' AND t.characters > 0
  AND NOT coalesce(a.hidden, false) AND NOT coalesce(a.erased, false)
"""


def regime_for(law: str | None, jurisdiction: str | None) -> str:
    """FOIA, EIR, FOISA or EISR from a request's law and its authority's jurisdiction."""
    scottish = (jurisdiction or "").lower() == "scotland"
    if (law or "").lower() == "eir":
        return "EISR" if scottish else "EIR"
    return "FOISA" if scottish else "FOIA"


def attachment_citation_rows(con, *, site: str | None = None, extract=None) -> list[dict[str, object]]:
    """Every ground cited in extracted attachment text, one dict per (attachment, ground).

    ``extract(text, regime)`` defaults to ``corpus.derive.refusals.extract_citations``.
    Keys: the :data:`ATTACHMENT_TEXT_SOURCES` columns (less ``text``) plus
    ``regime, provision, section, subsection, ground, cited_by, sentence``.
    """
    if extract is None:
        from corpus.derive.refusals import extract_citations as extract
    sql = f"SELECT * FROM ({ATTACHMENT_TEXT_SOURCES}) s"
    params: list[object] = []
    if site is not None:
        sql += " WHERE s.site = ?"
        params.append(site)
    sql += " ORDER BY s.site, s.request_key, s.message_id, s.attachment_part"
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    out: list[dict[str, object]] = []
    for values in cur.fetchall():
        source = dict(zip(names, values))
        text = source.pop("text")
        regime = regime_for(source["law"], source["jurisdiction"])
        for c in extract(text, regime):
            row = dict(source)
            row.update(
                regime=c.regime,
                provision=c.provision,
                section=c.section,
                subsection=c.subsection,
                ground=c.ground,
                cited_by=c.cited_by,
                sentence=c.sentence,
            )
            out.append(row)
    return out
