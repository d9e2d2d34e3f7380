"""``corpus report``: one self-contained HTML file with charts.

The charts are SVG drawn here in Python and written inline, with a few lines
of inline JavaScript for the table filter; the file needs no network to view
and loads nothing from anywhere.  Every piece of text that comes from the site
(titles, names, slugs) or from the command line goes through ``html.escape``,
and links to the site are built only from an http(s) site address and
percent-encoded slugs.

Nothing is cut silently: where a chart or table shows only the first N rows it
says "top N of M".  The SVGs carry a viewBox and scale down with the page, so
the report reads on a phone as well as on a desktop.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

from corpus.errors import UsageError
from corpus.provenance import describe as describe_sources
from corpus.provenance import sources as sources_of

OUTCOMES = ["successful", "partially_successful", "not_held", "refused", "withdrawn", "pending", "other"]
OUTCOME_COLOURS = {
    "successful": "#1b7837",
    "partially_successful": "#7fbf7b",
    "not_held": "#c2a5cf",
    "refused": "#d6604d",
    "withdrawn": "#bababa",
    "pending": "#92c5de",
    "other": "#636363",
}
BINS = [(0, 5), (6, 10), (11, 15), (16, 20), (21, 30), (31, 40), (41, 60), (61, None)]
DEFAULT_TOP = 15  # authorities in the charts and the table, unless --top says otherwise
TOP_GROUNDS = 12
TOP_LONGEST = 10
LABEL_CHARS = 60  # longer chart labels end in an ellipsis; the full text is in the tooltip

# Names of well-known Alaveteli sites, for the attribution line; others are named by their host.
SITE_NAMES = {
    "www.whatdotheyknow.com": "WhatDoTheyKnow",
    "whatdotheyknow.com": "WhatDoTheyKnow",
    "www.asktheeu.org": "AskTheEU",
    "www.righttoknow.org.au": "Right to Know",
    "fyi.org.nz": "FYI",
    "www.informatazyrtare.org": "Informata Zyrtare",
    "sample-site.invalid": "the bundled sample site",
}


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def site_name(site: str | None) -> str:
    """A human name for an Alaveteli site address ("WhatDoTheyKnow"), else its host."""
    host = urlsplit(site or "").hostname or (site or "unknown site")
    return SITE_NAMES.get(host, host)


def site_link(site: str | None, kind: str, slug: str | None) -> str | None:
    """``<site>/<kind>/<slug>`` for an http(s) site, with the slug percent-encoded; None otherwise."""
    if not site or not slug or urlsplit(site).scheme not in ("http", "https"):
        return None
    return f"{site.rstrip('/')}/{kind}/{quote(str(slug), safe='')}"


def _a(href: str | None, inner: str, title: str | None = None) -> str:
    """An HTML link (inner is already escaped), or just the text without an address."""
    if not href:
        return inner
    tip = f' title="{esc(title)}"' if title else ""
    return f'<a href="{esc(href)}"{tip}>{inner}</a>'


def shorten(text, limit: int = LABEL_CHARS) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- data
@dataclass
class Filters:
    authorities: list[str] = field(default_factory=list)
    query: str | None = None
    since: date | None = None
    until: date | None = None
    site: str | None = None

    def params(self) -> dict:
        return {"authorities": list(self.authorities), "query": self.query, "since": self.since,
                "until": self.until, "site": self.site}

    def describe(self) -> list[str]:
        out = []
        if self.site:
            out.append(f"site {self.site}")
        if self.authorities:
            out.append("authorities: " + ", ".join(self.authorities))
        if self.query:
            out.append(f"titles containing “{self.query}”")
        if self.since or self.until:
            out.append(f"sent {'from ' + self.since.isoformat() if self.since else ''}"
                       f"{' ' if self.since and self.until else ''}{'until ' + self.until.isoformat() if self.until else ''}")
        return out


@dataclass
class SiteSource:
    site: str
    threads: int
    first_fetched: datetime | None
    last_fetched: datetime | None


@dataclass
class ReportData:
    requests: int
    authorities: int  # M: every authority in the selection
    first_sent: datetime | None
    last_sent: datetime | None
    sources: list[SiteSource]
    histogram: list[tuple[str, int, bool]]  # label, count, within 20 days
    by_authority: list[dict]  # the top N
    top: int
    outcomes_by_year: dict[int, dict[str, int]]
    grounds: list[tuple[str, str, int]]  # provision, ground, requests
    grounds_total: int
    longest: list[dict]
    longest_total: int
    provenance: str = ""  # where the selected threads came from (live site, web archives, files) and how old


_FILTER = """
    WITH sel AS (
        SELECT * FROM request_timeline
        WHERE (len($authorities) = 0 OR list_contains($authorities, authority_url_name))
          AND ($query IS NULL OR title ILIKE '%' || replace(replace(replace($query, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' ESCAPE '\\')
          AND ($site IS NULL OR site = $site)
          AND ($since IS NULL OR timezone('Europe/London', sent_at)::DATE >= $since)
          AND ($until IS NULL OR timezone('Europe/London', sent_at)::DATE <= $until)
    )
"""


def _dicts(con, sql: str, params: dict) -> list[dict]:
    cur = con.execute(_FILTER + sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def collect(con, filters: Filters | list[str], query: str | None = None, *, top: int = DEFAULT_TOP) -> ReportData:
    """Every figure of the report, for the requests ``filters`` select.  ``top``: authorities shown (0: all).

    ``collect(con, authorities, query)`` (a list of slugs and a title search) still works.
    """
    if not isinstance(filters, Filters):
        filters = Filters(authorities=list(filters or []), query=query)
    params = filters.params()
    head = _dicts(con, "SELECT count(*) AS n, count(DISTINCT (site, authority_url_name)) AS a, min(sent_at) AS lo, max(sent_at) AS hi FROM sel", params)[0]
    sources = [
        SiteSource(r["site"], r["n"], r["lo"], r["hi"])
        for r in _dicts(
            con,
            """SELECT sel.site, count(*) AS n, min(coalesce(q.last_seen, q.first_seen)) AS lo,
                      max(coalesce(q.last_seen, q.first_seen)) AS hi
               FROM sel LEFT JOIN requests AS q ON q.site = sel.site AND q.request_key = sel.request_key
               GROUP BY sel.site ORDER BY n DESC, sel.site""",
            params,
        )
    ]
    hist_rows = _dicts(con, "SELECT working_days_to_substantive AS d FROM sel WHERE answered AND working_days_to_substantive IS NOT NULL", params)
    histogram = []
    for lo, hi in BINS:
        n = sum(1 for r in hist_rows if r["d"] >= lo and (hi is None or r["d"] <= hi))
        histogram.append((f"{lo}–{hi}" if hi is not None else f"{lo}+", n, hi is not None and hi <= 20))
    # count(*) FILTER, not count_if: count_if is NULL over all-NULL input (an
    # authority that answered nothing in time would vanish), and HUGEINT.
    limit = top if top and top > 0 else None
    by_authority = _dicts(
        con,
        """SELECT site, authority_url_name, any_value(authority_name) AS authority_name, count(*) AS requests,
                  count(*) FILTER (WHERE answered) AS answered,
                  quantile_cont(working_days_to_substantive, 0.5) FILTER (WHERE answered) AS median,
                  quantile_cont(working_days_to_substantive, 0.9) FILTER (WHERE answered) AS p90,
                  count(*) FILTER (WHERE answered_in_time) AS in_time,
                  count(*) FILTER (WHERE answered_in_time IS NOT NULL
                                      OR (overdue_now AND NOT coalesce(answered, false))) AS judged,
                  count(*) FILTER (WHERE outcome = 'refused') AS refused
           FROM sel GROUP BY site, authority_url_name
           ORDER BY requests DESC, authority_url_name, site LIMIT $limit""",
        {**params, "limit": limit},
    )
    for r in by_authority:
        r["in_time_share"] = r["in_time"] / r["judged"] if r["judged"] else None
    outcomes: dict[int, dict[str, int]] = {}
    for r in _dicts(con, "SELECT year, coalesce(outcome, 'other') AS outcome, count(*) AS n FROM sel WHERE year IS NOT NULL GROUP BY ALL ORDER BY year", params):
        bucket = r["outcome"] if r["outcome"] in OUTCOMES else "other"
        outcomes.setdefault(r["year"], {o: 0 for o in OUTCOMES})[bucket] += r["n"]
    ground_rows = _dicts(
        con,
        """SELECT rc.provision, mode(rc.ground) AS ground, count(DISTINCT (rc.site, rc.request_key)) AS n
           FROM refusal_citations AS rc JOIN sel ON sel.site = rc.site AND sel.request_key = rc.request_key
           WHERE rc.role IN ('relied_on', 'upheld')  -- grounds relied on, or upheld at review
           GROUP BY rc.provision ORDER BY n DESC, rc.provision""",
        params,
    )
    grounds = [(r["provision"], r["ground"], r["n"]) for r in ground_rows[:TOP_GROUNDS]]
    waits = """FROM sel WHERE working_days_to_substantive IS NOT NULL OR long_overdue_now"""
    longest_total = _dicts(con, "SELECT count(*) AS n " + waits, params)[0]["n"]
    longest = _dicts(
        con,
        """SELECT site, title, url_title, authority_url_name, authority_name, sent_at,
                  working_days_to_substantive AS days, outcome, long_overdue_now """ + waits + """
           ORDER BY long_overdue_now DESC NULLS LAST, working_days_to_substantive DESC NULLS LAST, url_title
           LIMIT $limit""",
        {**params, "limit": TOP_LONGEST},
    )
    return ReportData(
        requests=head["n"], authorities=head["a"], first_sent=head["lo"], last_sent=head["hi"], sources=sources,
        histogram=histogram, by_authority=by_authority, top=len(by_authority), outcomes_by_year=outcomes,
        grounds=grounds, grounds_total=len(ground_rows), longest=longest, longest_total=longest_total,
        provenance=describe_sources(sources_of(con, "sel JOIN requests r USING (site, request_key)",
                                               with_sql=_FILTER, params=params)),
    )


# ---------------------------------------------------------------- SVG charts
# Every chart is drawn on a 480-unit-wide viewBox and scaled to the page width
# (at most 600 px): text stays legible on a 390 px phone.  Bar charts put each
# label above its bar, so the label never squeezes the bar.
WIDTH = 480
ROW = 38  # height of one labelled bar row


def _svg(chart: str, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{chart}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def _empty(chart: str, label: str) -> str:
    return _svg(chart, 50, label, ['<text x="4" y="30" class="muted">No data for this selection.</text>'])


def _label(x: float, y: float, text: str, href: str | None, *, anchor: str = "start", limit: int = LABEL_CHARS) -> str:
    """A chart label: shortened with an ellipsis, the full text on hover, a link to the site when known."""
    inner = (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="label"><title>{esc(text)}</title>'
             f'{esc(shorten(text, limit))}</text>')
    return f'<a href="{esc(href)}">{inner}</a>' if href else inner


def _nice_step(top: float) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000):
        if top / step <= 6:
            return step
    return int(top // 5) or 1


def histogram_svg(bins: list[tuple[str, int, bool]]) -> str:
    if not any(n for _, n, _ in bins):
        return _empty("histogram", "Working days to a substantive answer")
    height, left, bottom, top = 240, 6, 44, 20
    top_n = max(n for _, n, _ in bins)
    bw = (WIDTH - left - 6) / len(bins)
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH - 6}" y2="{height - bottom}" class="axis"/>']
    for i, (label, n, in_time) in enumerate(bins):
        h = (height - top - bottom) * n / top_n
        x = left + i * bw + 3
        y = height - bottom - h
        cls = "bar ok" if in_time else "bar late"
        body.append(f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{bw - 6:.1f}" height="{h:.1f}" data-value="{n}"><title>{esc(label)} working days: {n}</title></rect>')
        body.append(f'<text x="{x + (bw - 6) / 2:.1f}" y="{y - 4:.1f}" class="num" text-anchor="middle">{n}</text>')
        body.append(f'<text x="{x + (bw - 6) / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="tick">{esc(label)}</text>')
    body.append(f'<text x="{left}" y="{height - 6}" class="muted">working days (green: within the 20-day limit)</text>')
    return _svg("histogram", height, "Working days to a substantive answer", body)


def _authority_name(r: dict) -> str:
    return str(r["authority_name"] or r["authority_url_name"])


_BarRow = tuple[str, str | None, float | None, float, str, str]


def _bar_rows(chart: str, label: str, rows: Sequence[_BarRow]) -> str:
    """Labelled horizontal bars: (label, link, value or None, bar fraction 0..1, value text, tooltip)."""
    if not rows:
        return _empty(chart, label)
    span = WIDTH - 60
    body = []
    for i, (name, href, value, fraction, text, tip) in enumerate(rows):
        y = i * ROW
        body.append(_label(0, y + 14, name, href))
        if value is None:
            body.append(f'<text x="0" y="{y + 30}" class="muted"><title>{esc(tip)}</title>{esc(text)}</text>')
            continue
        w = max(fraction, 0) * span
        body.append(f'<rect class="bar" x="0" y="{y + 19}" width="{w:.1f}" height="13" data-value="{value}"><title>{esc(tip)}</title></rect>')
        body.append(f'<text x="{w + 5:.1f}" y="{y + 30}" class="num">{esc(text)}</text>')
    return _svg(chart, ROW * len(rows) + 4, label, body)


def in_time_svg(by_authority: list[dict]) -> str:
    """Share answered in time, one row per authority shown; an authority with nothing judged yet keeps its row."""
    rows: list[_BarRow] = []
    for r in by_authority:
        name, share = _authority_name(r), r["in_time_share"]
        href = site_link(r["site"], "body", r["authority_url_name"])
        if share is None:
            rows.append((name, href, None, 0, "nothing answered or overdue yet", f"{name}: no request answered or overdue yet"))
        else:
            rows.append((name, href, share, share, _fmt_share(share),
                         f"{name}: {r['in_time']} of {r['judged']} answered in time ({_fmt_share(share)})"))
    return _bar_rows("in_time", "Share answered in time by authority", rows)


def grounds_svg(grounds: list[tuple[str, str, int]]) -> str:
    top_n = max((n for _, _, n in grounds), default=1)
    rows: list[_BarRow] = [
        (f"{p} {g or ''}".strip(), None, n, n / top_n, str(n), f"{p} ({g}): {n} requests") for p, g, n in grounds
    ]
    return _bar_rows("grounds", "Refusal grounds cited", rows)


def response_range_svg(by_authority: list[dict]) -> str:
    label = "Median and 90th percentile working days by authority"
    rows = [r for r in by_authority if r["median"] is not None]
    if not rows:
        return _empty("response_times", label)
    height = ROW * len(rows) + 22
    top_value = max(max(r["p90"] or 0, 20) for r in rows)
    scale = (WIDTH - 80) / top_value
    limit_x = 20 * scale
    body = [f'<line x1="{limit_x:.1f}" y1="16" x2="{limit_x:.1f}" y2="{height - 18}" class="limit"/>',
            f'<text x="{limit_x + 3:.1f}" y="{height - 5}" class="muted">20 working days</text>']
    for i, r in enumerate(rows):
        y = i * ROW
        p90 = r["p90"] if r["p90"] is not None else r["median"]
        x0, x1 = r["median"] * scale, p90 * scale
        name = _authority_name(r)
        tip = f"{name}: median {r['median']:g}, 90th percentile {p90:g} working days ({r['answered']} answered)"
        body.append(_label(0, y + 14, name, site_link(r["site"], "body", r["authority_url_name"])))
        body.append(f'<rect class="bar range" x="0" y="{y + 22}" width="{max(x1, 1):.1f}" height="7" data-value="{p90}"><title>{esc(tip)}</title></rect>')
        body.append(f'<circle class="median" cx="{max(x0, 5):.1f}" cy="{y + 25.5}" r="5.5"><title>{esc(tip)}</title></circle>')
        body.append(f'<text x="{max(x1, x0 + 5) + 8:.1f}" y="{y + 30}" class="num">{r["median"]:g} / {p90:g}</text>')
    return _svg("response_times", height, label, body)


def outcomes_svg(by_year: dict[int, dict[str, int]]) -> str:
    """Stacked bars per year with a labelled count axis, each bar's total above it and segment counts inside."""
    label = "Outcomes by year"
    if not by_year:
        return _empty("outcomes", label)
    left, top = 46, 22
    years = sorted(by_year)
    bw = min(70, (WIDTH - left - 6) / len(years))
    rotate = bw < 34
    bottom = (44 if rotate else 26) + 18 * ((len(OUTCOMES) + 2) // 3) + 8
    height = 200 + top + bottom
    top_n = max(sum(v.values()) for v in by_year.values())
    step = _nice_step(top_n)
    axis_top = ((top_n + step - 1) // step) * step
    plot_h = height - bottom - top
    base = height - bottom
    body = [f'<line x1="{left}" y1="{base}" x2="{WIDTH - 6}" y2="{base}" class="axis"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" class="axis"/>',
            f'<text x="12" y="{top + plot_h / 2:.1f}" class="muted" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">requests</text>']
    for tick in range(0, axis_top + 1, step):
        ty = base - plot_h * tick / axis_top
        body.append(f'<line x1="{left - 4}" y1="{ty:.1f}" x2="{WIDTH - 6}" y2="{ty:.1f}" class="grid"/>')
        body.append(f'<text x="{left - 7}" y="{ty + 4:.1f}" text-anchor="end" class="tick">{tick}</text>')
    for i, year in enumerate(years):
        x = left + i * bw + max(2, bw * 0.12)
        w = bw - 2 * max(2, bw * 0.12)
        y: float = base
        for outcome in OUTCOMES:
            n = by_year[year][outcome]
            if not n:
                continue
            h = plot_h * n / axis_top
            y -= h
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" style="fill:{OUTCOME_COLOURS[outcome]}" data-value="{n}"><title>{year} {esc(outcome.replace("_", " "))}: {n}</title></rect>')
            if h >= 15 and w >= 20:
                body.append(f'<text x="{x + w / 2:.1f}" y="{y + h / 2 + 4:.1f}" text-anchor="middle" class="inbar">{n}</text>')
        total = sum(by_year[year].values())
        body.append(f'<text x="{x + w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" class="num total">{total}</text>')
        if rotate:
            body.append(f'<text x="{x + w / 2:.1f}" y="{base + 12}" text-anchor="end" class="tick" '
                        f'transform="rotate(-50 {x + w / 2:.1f} {base + 12})">{year}</text>')
        else:
            body.append(f'<text x="{x + w / 2:.1f}" y="{base + 16}" text-anchor="middle" class="tick">{year}</text>')
    legend_top = base + (44 if rotate else 26) + 10
    for j, outcome in enumerate(OUTCOMES):
        lx = 4 + (j % 3) * 158
        ly = legend_top + (j // 3) * 18
        body.append(f'<rect x="{lx}" y="{ly - 10}" width="11" height="11" fill="{OUTCOME_COLOURS[outcome]}"/><text x="{lx + 15}" y="{ly}">{esc(outcome.replace("_", " "))}</text>')
    return _svg("outcomes", height, label, body)


# ---------------------------------------------------------------- page
_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:980px;padding:0 1rem;color:#222}
h1{font-size:1.5rem;margin-bottom:.2rem;line-height:1.25} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
a{color:#1f5fa8} .muted{fill:#666;color:#666} .source{font-size:.95em}
svg.chart{display:block;width:100%;max-width:600px;height:auto;margin:.4rem 0} svg text{font-size:13px}
svg a text{fill:#1f5fa8} svg a:hover text{text-decoration:underline}
svg .num{fill:#333} svg .inbar{fill:#fff;font-size:11px} svg .tick{fill:#555;font-size:12px} svg .total{font-weight:600}
.bar{fill:#4575b4} .bar.ok{fill:#1b7837} .bar.late{fill:#e08214} .bar.range{fill:#abd9e9} .median{fill:#2c7bb6}
.axis{stroke:#999} .grid{stroke:#eee} .limit{stroke:#d6604d;stroke-dasharray:4 3}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;margin-top:.5rem} th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td{overflow-wrap:break-word} td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
input{padding:.3rem;width:16rem;max-width:100%;box-sizing:border-box}
.note{background:#f6f6f2;border-left:3px solid #bbb;padding:.5rem .9rem}
.warn{background:#fff4e5;border-left:3px solid #e08214;padding:.5rem .9rem}
.cap{font-size:.9em;color:#555}
@media (max-width:600px){body{margin:1rem auto;padding:0 .6rem;font-size:14px} h1{font-size:1.25rem}
 th,td{padding:.2rem .3rem} .wide{display:none} td small{display:none}}
"""

_JS = """
(function () {
  var total = 0;
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var n = svg.querySelectorAll('.bar').length;
    svg.setAttribute('data-bars', String(n));
    total += n;
  });
  document.documentElement.setAttribute('data-rendered', total > 0 ? 'charts' : 'empty');
  var box = document.getElementById('authority-filter');
  if (box) {
    box.addEventListener('input', function () {
      var q = box.value.toLowerCase();
      document.querySelectorAll('#authority-table tbody tr').forEach(function (tr) {
        tr.style.display = tr.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
      });
    });
  }
})();
"""


def _num(v) -> str:
    return "" if v is None else f"{v:g}"


def _fmt_share(v) -> str:
    return "" if v is None else f"{100 * v:.0f}%"


def _day(ts) -> str:
    return f"{ts.day} {ts:%b %Y}" if ts is not None else "?"


def _span(lo, hi) -> str:
    if lo is None:
        return "fetch dates unknown"
    return f"fetched {_day(lo)}" if _day(lo) == _day(hi) else f"fetched {_day(lo)} to {_day(hi)}"


def _attribution(sources: list[SiteSource]) -> str:
    if not sources:
        return "Data: none selected."
    parts = [f"{_a(s.site if urlsplit(s.site).scheme in ('http', 'https') else None, esc(site_name(s.site)))}, "
             f"{_span(s.first_fetched, s.last_fetched)}, {s.threads} thread{'s' if s.threads != 1 else ''}"
             for s in sources]
    return "Data: " + "; ".join(parts) + "."


def _top_caption(shown: int, total: int, what: str, how: str) -> str:
    if shown >= total:
        return f'<p class="cap">All {total} {what}.</p>'
    return f'<p class="cap">Top {shown} of {total} {what} {how}.</p>'


def _method_note() -> str:
    return """<div class="note">
<p><strong>Regimes.</strong> Each request is judged under the law it falls under: the Freedom of Information Act 2000
(FOIA), the Environmental Information Regulations 2004 (EIR), the Freedom of Information (Scotland) Act 2002 (FOISA) or
the Environmental Information (Scotland) Regulations 2004 (EISR), decided from the law the site records for the
request, the authority's tags (EIR-only bodies) and whether it is a Scottish authority. A request whose regime cannot be
decided has no deadline: it counts among the requests and outcomes, but not in the "in time" figures.</p>
<p><strong>Working days.</strong> UK working days under the request's regime: weekends, Christmas Day, Good Friday and the
bank holidays of every UK nation (FOIA, EIR), or of Scotland only (FOISA, EISR), are not counted. The day the request is
received is day 0. A request for clarification restarts the clock when the requester answers it. The limit is 20
working days; a school's or academy's request is called long overdue only after 60 (not 40), because regulations let
schools leave school holidays out of the count. Extensions claimed for a public-interest test are not taken into
account.</p>
<p><strong>A substantive answer</strong> is the authority's first message after the clock starts that is more than an
acknowledgement, an automatic reply, a notice of delay or extension, or a request for clarification: the site's own status
for that message decides where it has one, otherwise its wording and whether it carries a document. Working days to an
answer count only answered requests. "In time" is the share of requests answered by their due date, out of those
answered or now overdue; requests still within their deadline are left out.</p>
<p><strong>Outcomes</strong> are what the requester (or the site's volunteers) recorded on the site; many are never
updated, so read them as indicative.</p>
<p><strong>Refusal grounds</strong> are the exemptions and exceptions an authority's messages cite — by number
("section 40(2)", "regulation 12(4)(b)") or by their characteristic wording ("exceeds the appropriate limit") — in message
bodies and, where attachments were fetched, in the text of attached letters. Only grounds the authority relies on, or
that an internal review upholds, count: a ground it is still considering, says it does not rely on, dropped at review,
or that is merely quoted back from the request, described from an earlier decision or part of a standard paragraph is
left out, as are sections that are only procedure (such as FOIA section 1, 10, 17 or 50) and other Acts' sections.
Each request counts once per provision, however often it is cited.</p>
</div>"""


def render(data: ReportData, *, db_name: str, filters: Filters) -> str:
    described = filters.describe()
    span = ""
    if data.first_sent and data.last_sent:
        span = f", sent {_day(data.first_sent)} to {_day(data.last_sent)}"
    several = ""
    if len(data.sources) > 1:
        several = (f'<p class="warn">This report counts {len(data.sources)} sites together ('
                   + ", ".join(esc(s.site) for s in data.sources)
                   + '). Make one report per site with <code>corpus report --site URL</code>.</p>')
    authority_caption = _top_caption(data.top, data.authorities, "authorities",
                                     "by number of requests (<code>corpus report --top 0</code> shows all)")
    table_rows = "".join(
        "<tr>"
        f"<td>{_a(site_link(r['site'], 'body', r['authority_url_name']), esc(_authority_name(r)))}"
        f"<br><small class=\"muted\">{esc(r['authority_url_name'])}</small></td>"
        f"<td class=\"n\">{r['requests']}</td><td class=\"n wide\">{r['answered']}</td>"
        f"<td class=\"n\">{_num(r['median'])}</td><td class=\"n wide\">{_num(r['p90'])}</td>"
        f"<td class=\"n\">{_fmt_share(r['in_time_share'])}</td><td class=\"n wide\">{r['refused']}</td>"
        "</tr>"
        for r in data.by_authority
    )
    longest_rows = "".join(
        "<tr>"
        f"<td>{_a(site_link(r['site'], 'request', r['url_title']), esc(r['title'] or r['url_title']))}</td>"
        f"<td>{_a(site_link(r['site'], 'body', r['authority_url_name']), esc(r['authority_name'] or r['authority_url_name']))}</td>"
        f"<td class=\"n\">{'long overdue' if r['long_overdue_now'] else esc(r['days'])}</td>"
        f"<td class=\"wide\">{esc(r['outcome'])}</td></tr>"
        for r in data.longest
    )
    unanswered = sum(1 for r in data.by_authority if r["median"] is None)
    unanswered_note = (f'\n<p class="cap">{unanswered} of them answered no request yet and have no bar here.</p>'
                       if unanswered else "")
    grounds_caption = _top_caption(len(data.grounds), data.grounds_total, "provisions cited", "by number of requests")
    longest_caption = _top_caption(len(data.longest), data.longest_total, "answered or long-overdue requests",
                                   "by working days (long overdue first)")
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="referrer" content="no-referrer">
<title>FOI corpus report</title><style>{_CSS}</style></head>
<body>
<h1>Freedom of Information requests: how they were answered</h1>
<p class="muted">{data.requests} requests to {data.authorities} authorities{span}{(" · " + "; ".join(esc(d) for d in described)) if described else ""}.
From {esc(db_name)}, generated {generated}.</p>
<p class="source">{_attribution(data.sources)}</p>
{f'<p class="muted" id="provenance">{esc(data.provenance)} A thread from an archive is shown as of its capture.</p>' if data.provenance else ""}
{several}
<h2>How long answers took</h2>
<p>Working days from the request to the first substantive answer, for answered requests.</p>
{histogram_svg(data.histogram)}
<p>Median (dot) and 90th percentile (bar end) by authority; the dashed line is the 20-working-day limit.</p>
{authority_caption}{unanswered_note}
{response_range_svg(data.by_authority)}

<h2>Answered in time</h2>
<p>Share answered within the limit, of requests answered or now overdue.</p>
{authority_caption}
{in_time_svg(data.by_authority)}

<h2>Outcomes over time</h2>
<p>Requests per year (of the request) by the outcome recorded on the site.</p>
{outcomes_svg(data.outcomes_by_year)}

<h2>Refusal grounds cited</h2>
<p>Requests whose correspondence cites each provision.</p>
{grounds_caption}
{grounds_svg(data.grounds)}

<h2>By authority</h2>
{authority_caption}
<p><label>Filter: <input id="authority-filter" type="search" placeholder="authority name or slug"></label></p>
<div class="scroll"><table id="authority-table"><thead><tr><th>authority</th><th class="n">requests</th><th class="n wide">answered</th>
<th class="n">median days</th><th class="n wide">p90 days</th><th class="n">in time</th><th class="n wide">refused</th></tr></thead>
<tbody>{table_rows}</tbody></table></div>

<h2>Longest waits</h2>
{longest_caption}
<div class="scroll"><table id="longest-table"><thead><tr><th>request</th><th>authority</th><th class="n">working days</th><th class="wide">outcome</th></tr></thead>
<tbody>{longest_rows}</tbody></table></div>

<h2>How these numbers are made</h2>
{_method_note()}
<script>{_JS}</script>
</body></html>
"""


def build_report(
    *,
    db_path: str,
    output: str,
    authorities: Sequence[str] = (),
    query: str | None = None,
    since: date | None = None,
    until: date | None = None,
    site: str | None = None,
    top: int = DEFAULT_TOP,
    notify: bool | Callable[[str], None] = True,
) -> str:
    """Write the HTML report for the corpus at ``db_path`` to ``output``; return a summary line.

    ``authorities`` (slugs), ``query`` (title contains), ``since``/``until``
    (UK date the request was sent) and ``site`` select requests; ``top`` is how
    many authorities the charts and table show (0: all).
    """
    from corpus.outputs import check_output, write_text_atomic
    from corpus.reader import Reader

    if top is not None and top < 0:
        raise UsageError(f"--top {top}: give a number of authorities, or 0 for all")
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}; swap them")
    filters = Filters(
        authorities=[a.strip() for a in authorities if a and a.strip()],
        query=query if query and query.strip() else None,
        since=since, until=until,
        site=site.strip().rstrip("/") if site and site.strip() else None,
    )
    check_output(output, db_path=db_path)  # refuse a harmful --output before any work
    with Reader(db_path, notify=notify).session() as con:
        has = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
        missing = {"request_timeline", "refusal_citations"} - has
        if missing:
            raise UsageError(f"the database has no {', '.join(sorted(missing))} table; rebuild the derived tables (corpus reparse) first")
        if filters.site:
            sites = [r[0] for r in con.execute("SELECT DISTINCT site FROM request_timeline ORDER BY 1").fetchall()]
            if filters.site not in sites:
                raise UsageError(f"no requests from site {filters.site!r} in the database; it holds {', '.join(sites) or 'none'}")
        if filters.authorities:
            known = {r[0] for r in con.execute(
                "SELECT DISTINCT authority_url_name FROM request_timeline WHERE list_contains($a, authority_url_name)", {"a": filters.authorities}
            ).fetchall()}
            unknown = [a for a in filters.authorities if a not in known]
            if unknown:
                raise UsageError(f"no requests to authority {unknown[0]!r} in the database; give --authority the /body/<slug> of one it holds (see `corpus query response_times`)")
        data = collect(con, filters, top=top)
    page = render(data, db_name=Path(db_path).name, filters=filters)
    write_text_atomic(output, page, db_path=db_path)
    shown = f", top {data.top} of {data.authorities} authorities shown" if data.top < data.authorities else ""
    return (f"Wrote {output}: {data.requests} requests, {data.authorities} authorities{shown}, "
            f"{len(page) // 1024 + 1} KB, no network needed to view")
