"""``corpus report``: one self-contained HTML file with charts.

The charts are SVG drawn here in Python and written inline, with a few lines
of inline JavaScript for the table filter; the file needs no network to view
and loads nothing from anywhere.  Every piece of text that comes from the site
(titles, names, slugs) or from the command line goes through ``html.escape``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from corpus.errors import UsageError

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
MAX_AUTHORITIES = 15


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------- data
@dataclass
class ReportData:
    requests: int
    authorities: int
    first_sent: datetime | None
    last_sent: datetime | None
    histogram: list[tuple[str, int, bool]]  # label, count, within 20 days
    by_authority: list[dict]
    outcomes_by_year: dict[int, dict[str, int]]
    grounds: list[tuple[str, str, int]]  # provision, ground, requests
    longest: list[dict]


_FILTER = """
    WITH sel AS (
        SELECT * FROM request_timeline
        WHERE (len($authorities) = 0 OR list_contains($authorities, authority_url_name))
          AND ($query IS NULL OR title ILIKE '%' || replace(replace(replace($query, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' ESCAPE '\\')
    )
"""


def _dicts(con, sql: str, params: dict) -> list[dict]:
    cur = con.execute(_FILTER + sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def collect(con, authorities: list[str], query: str | None) -> ReportData:
    params = {"authorities": list(authorities), "query": query}
    head = _dicts(con, "SELECT count(*) AS n, count(DISTINCT authority_url_name) AS a, min(sent_at) AS lo, max(sent_at) AS hi FROM sel", params)[0]
    hist_rows = _dicts(con, "SELECT working_days_to_substantive AS d FROM sel WHERE answered AND working_days_to_substantive IS NOT NULL", params)
    histogram = []
    for lo, hi in BINS:
        n = sum(1 for r in hist_rows if r["d"] >= lo and (hi is None or r["d"] <= hi))
        histogram.append((f"{lo}–{hi}" if hi is not None else f"{lo}+", n, hi is not None and hi <= 20))
    by_authority = _dicts(
        con,
        """SELECT authority_url_name, any_value(authority_name) AS authority_name, count(*) AS requests,
                  count_if(answered) AS answered,
                  quantile_cont(working_days_to_substantive, 0.5) FILTER (WHERE answered) AS median,
                  quantile_cont(working_days_to_substantive, 0.9) FILTER (WHERE answered) AS p90,
                  count_if(answered_in_time) / nullif(count_if(answered OR (overdue_now AND NOT coalesce(answered, false))), 0) AS in_time_share,
                  count_if(outcome = 'refused') AS refused
           FROM sel GROUP BY authority_url_name ORDER BY requests DESC, authority_url_name LIMIT $limit""",
        {**params, "limit": MAX_AUTHORITIES},
    )
    outcomes: dict[int, dict[str, int]] = {}
    for r in _dicts(con, "SELECT year, coalesce(outcome, 'other') AS outcome, count(*) AS n FROM sel WHERE year IS NOT NULL GROUP BY ALL ORDER BY year", params):
        bucket = r["outcome"] if r["outcome"] in OUTCOMES else "other"
        outcomes.setdefault(r["year"], {o: 0 for o in OUTCOMES})[bucket] += r["n"]
    grounds = [
        (r["provision"], r["ground"], r["n"])
        for r in _dicts(
            con,
            """SELECT rc.provision, mode(rc.ground) AS ground, count(DISTINCT (rc.site, rc.request_key)) AS n
               FROM refusal_citations AS rc JOIN sel ON sel.site = rc.site AND sel.request_key = rc.request_key
               WHERE rc.role IN ('relied_on', 'upheld')  -- grounds relied on, or upheld at review
               GROUP BY rc.provision ORDER BY n DESC, rc.provision LIMIT 12""",
            params,
        )
    ]
    longest = _dicts(
        con,
        """SELECT title, url_title, authority_name, sent_at, working_days_to_substantive AS days, outcome, long_overdue_now
           FROM sel WHERE working_days_to_substantive IS NOT NULL OR long_overdue_now
           ORDER BY long_overdue_now DESC NULLS LAST, working_days_to_substantive DESC NULLS LAST, url_title LIMIT 10""",
        params,
    )
    return ReportData(head["n"], head["a"], head["lo"], head["hi"], histogram, by_authority, outcomes, grounds, longest)


# ---------------------------------------------------------------- SVG charts
def _svg(chart: str, width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{chart}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def _empty(chart: str, label: str) -> str:
    return _svg(chart, 640, 60, label, ['<text x="10" y="35" class="muted">No data for this selection.</text>'])


def histogram_svg(bins: list[tuple[str, int, bool]]) -> str:
    if not any(n for _, n, _ in bins):
        return _empty("histogram", "Working days to a substantive answer")
    width, height, left, bottom, top = 640, 260, 40, 40, 20
    top_n = max(n for _, n, _ in bins)
    bw = (width - left - 10) / len(bins)
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" class="axis"/>']
    for i, (label, n, in_time) in enumerate(bins):
        h = (height - top - bottom) * n / top_n
        x = left + i * bw + 4
        y = height - bottom - h
        cls = "bar ok" if in_time else "bar late"
        body.append(f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{bw - 8:.1f}" height="{h:.1f}" data-value="{n}"><title>{esc(label)} working days: {n}</title></rect>')
        body.append(f'<text x="{x + (bw - 8) / 2:.1f}" y="{y - 4:.1f}" class="num" text-anchor="middle">{n}</text>')
        body.append(f'<text x="{x + (bw - 8) / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">{esc(label)}</text>')
    body.append(f'<text x="{left}" y="{height - 6}" class="muted">working days (green: within the 20-day limit)</text>')
    return _svg("histogram", width, height, "Working days to a substantive answer", body)


def _hbars(chart: str, label: str, rows: list[tuple[str, float, str]], maximum: float, fmt) -> str:
    """Horizontal bars: (label, value, tooltip)."""
    if not rows:
        return _empty(chart, label)
    width, left, row_h = 640, 220, 22
    height = row_h * len(rows) + 10
    scale = (width - left - 60) / (maximum or 1)
    body = []
    for i, (name, value, tip) in enumerate(rows):
        y = 5 + i * row_h
        w = max(value or 0, 0) * scale
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{esc(name[:34])}</text>')
        body.append(f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" data-value="{value}"><title>{esc(tip)}</title></rect>')
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}" class="num">{esc(fmt(value))}</text>')
    return _svg(chart, width, height, label, body)


def response_range_svg(by_authority: list[dict]) -> str:
    rows = [r for r in by_authority if r["median"] is not None]
    if not rows:
        return _empty("response_times", "Median and 90th percentile working days by authority")
    width, left, row_h = 640, 220, 22
    height = row_h * len(rows) + 30
    top_value = max(max(r["p90"] or 0, 20) for r in rows)
    scale = (width - left - 70) / top_value
    limit_x = left + 20 * scale
    body = [f'<line x1="{limit_x:.1f}" y1="0" x2="{limit_x:.1f}" y2="{height - 20}" class="limit"/>',
            f'<text x="{limit_x + 3:.1f}" y="{height - 6}" class="muted">20 working days</text>']
    for i, r in enumerate(rows):
        y = 5 + i * row_h
        x0, x1 = left + r["median"] * scale, left + (r["p90"] or r["median"]) * scale
        name = r["authority_name"] or r["authority_url_name"]
        tip = f"{name}: median {r['median']:g}, 90th percentile {(r['p90'] or r['median']):g} working days ({r['answered']} answered)"
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{esc(str(name)[:34])}</text>')
        body.append(f'<rect class="bar range" x="{left}" y="{y + 8}" width="{max(x1 - left, 1):.1f}" height="6" data-value="{r["p90"]}"><title>{esc(tip)}</title></rect>')
        body.append(f'<circle class="median" cx="{x0:.1f}" cy="{y + 11}" r="5"><title>{esc(tip)}</title></circle>')
        body.append(f'<text x="{x1 + 6:.1f}" y="{y + 15}" class="num">{r["median"]:g} / {(r["p90"] or r["median"]):g}</text>')
    return _svg("response_times", width, height, "Median and 90th percentile working days by authority", body)


def outcomes_svg(by_year: dict[int, dict[str, int]]) -> str:
    if not by_year:
        return _empty("outcomes", "Outcomes by year")
    width, height, left, bottom = 640, 300, 40, 60
    years = sorted(by_year)
    top_n = max(sum(v.values()) for v in by_year.values())
    bw = min(80, (width - left - 10) / len(years))
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" class="axis"/>']
    for i, year in enumerate(years):
        x = left + i * bw + 6
        y = height - bottom
        for outcome in OUTCOMES:
            n = by_year[year][outcome]
            if not n:
                continue
            h = (height - bottom - 20) * n / top_n
            y -= h
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bw - 12:.1f}" height="{h:.1f}" style="fill:{OUTCOME_COLOURS[outcome]}" data-value="{n}"><title>{year} {esc(outcome)}: {n}</title></rect>')
        body.append(f'<text x="{x + (bw - 12) / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">{year}</text>')
    for j, outcome in enumerate(OUTCOMES):
        lx = left + (j % 4) * 150
        ly = height - 28 + (j // 4) * 16
        body.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{OUTCOME_COLOURS[outcome]}"/><text x="{lx + 14}" y="{ly}">{esc(outcome.replace("_", " "))}</text>')
    return _svg("outcomes", width, height, "Outcomes by year", body)


# ---------------------------------------------------------------- page
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:980px;padding:0 1rem;color:#222}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.muted{fill:#777;color:#777} svg text{font-size:12px} .num{fill:#333}
.bar{fill:#4575b4} .bar.ok{fill:#1b7837} .bar.late{fill:#e08214} .bar.range{fill:#abd9e9} .median{fill:#2c7bb6}
.axis{stroke:#999} .limit{stroke:#d6604d;stroke-dasharray:4 3}
table{border-collapse:collapse;width:100%;margin-top:.5rem} th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums} input{padding:.3rem;width:16rem}
.grid{display:grid;grid-template-columns:1fr;gap:1rem}
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


def render(data: ReportData, *, db_name: str, authorities: list[str], query: str | None) -> str:
    filters = []
    if authorities:
        filters.append("authorities: " + ", ".join(esc(a) for a in authorities))
    if query:
        filters.append(f"titles containing “{esc(query)}”")
    span = ""
    if data.first_sent and data.last_sent:
        span = f", sent {data.first_sent:%d %b %Y} to {data.last_sent:%d %b %Y}"
    in_time_rows = [
        (r["authority_name"] or r["authority_url_name"], r["in_time_share"], f"{r['authority_name']}: {_fmt_share(r['in_time_share'])} in time")
        for r in data.by_authority if r["in_time_share"] is not None
    ]
    grounds_rows = [(f"{p} {g or ''}".strip(), n, f"{p} ({g}): {n} requests") for p, g, n in data.grounds]
    table_rows = "".join(
        "<tr>"
        f"<td>{esc(r['authority_name'])}<br><small class=\"muted\">{esc(r['authority_url_name'])}</small></td>"
        f"<td class=\"n\">{r['requests']}</td><td class=\"n\">{r['answered']}</td>"
        f"<td class=\"n\">{_num(r['median'])}</td><td class=\"n\">{_num(r['p90'])}</td>"
        f"<td class=\"n\">{_fmt_share(r['in_time_share'])}</td><td class=\"n\">{r['refused']}</td>"
        "</tr>"
        for r in data.by_authority
    )
    longest_rows = "".join(
        "<tr>"
        f"<td>{esc(r['title'])}<br><small class=\"muted\">/request/{esc(r['url_title'])}</small></td>"
        f"<td>{esc(r['authority_name'])}</td>"
        f"<td class=\"n\">{'long overdue' if r['long_overdue_now'] else esc(r['days'])}</td>"
        f"<td>{esc(r['outcome'])}</td></tr>"
        for r in data.longest
    )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>FOI corpus report</title><style>{_CSS}</style></head>
<body>
<h1>Freedom of Information requests: how they were answered</h1>
<p class="muted">{data.requests} requests to {data.authorities} authorities{span}{(" · " + "; ".join(filters)) if filters else ""}.
From {esc(db_name)}, generated {generated}. Working days are UK working days under each request's regime (FOIA, EIR, FOISA, EISR).</p>

<h2>How long answers took</h2>
<p>Working days from sending to the first substantive answer, for answered requests.</p>
{histogram_svg(data.histogram)}
<p>Median (dot) and 90th percentile (bar end) by authority; the dashed line is the 20-working-day limit.</p>
{response_range_svg(data.by_authority)}

<h2>Answered in time</h2>
<p>Share answered within the limit, of requests answered or now overdue.</p>
{_hbars("in_time", "Share answered in time by authority", in_time_rows, 1.0, _fmt_share)}

<h2>Outcomes over time</h2>
{outcomes_svg(data.outcomes_by_year)}

<h2>Refusal grounds cited</h2>
<p>Requests whose correspondence cites each provision.</p>
{_hbars("grounds", "Refusal grounds cited", grounds_rows, max([n for _, n, _ in grounds_rows], default=1), lambda v: str(v))}

<h2>By authority</h2>
<p><label>Filter: <input id="authority-filter" type="search" placeholder="authority name or slug"></label></p>
<table id="authority-table"><thead><tr><th>authority</th><th class="n">requests</th><th class="n">answered</th>
<th class="n">median days</th><th class="n">p90 days</th><th class="n">in time</th><th class="n">refused</th></tr></thead>
<tbody>{table_rows}</tbody></table>

<h2>Longest waits</h2>
<table><thead><tr><th>request</th><th>authority</th><th class="n">working days</th><th>outcome</th></tr></thead>
<tbody>{longest_rows}</tbody></table>
<script>{_JS}</script>
</body></html>
"""


def build_report(*, db_path: str, output: str, authorities: list[str], query: str | None) -> str:
    """Write the HTML report for the corpus at ``db_path`` to ``output``; return a summary line."""
    from corpus.queries import open_read_only

    authorities = [a.strip() for a in authorities if a and a.strip()]
    query = query if query and query.strip() else None
    con = open_read_only(db_path)
    try:
        has = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
        missing = {"request_timeline", "refusal_citations"} - has
        if missing:
            raise UsageError(f"the database has no {', '.join(sorted(missing))} table; rebuild the derived tables (corpus reparse) first")
        if authorities:
            known = {r[0] for r in con.execute(
                "SELECT DISTINCT authority_url_name FROM request_timeline WHERE list_contains($a, authority_url_name)", {"a": authorities}
            ).fetchall()}
            unknown = [a for a in authorities if a not in known]
            if unknown:
                raise UsageError(f"no requests to authority {unknown[0]!r} in the database; give --authority the /body/<slug> of one it holds (see `corpus query response_times`)")
        data = collect(con, authorities, query)
    finally:
        con.close()
    page = render(data, db_name=Path(db_path).name, authorities=authorities, query=query)
    Path(output).write_text(page, encoding="utf-8")
    return f"Wrote {output}: {data.requests} requests, {data.authorities} authorities, {len(page) // 1024 + 1} KB, no network needed to view"
