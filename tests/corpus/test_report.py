"""The HTML report: right numbers, everything escaped, charts drawn in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from corpus.cli import main
from corpus.errors import UsageError
from corpus.report import build_report
from tests.corpus.test_queries import SITE, XSS, known_db, known_template  # noqa: F401  (fixtures)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless Chromium found (install Debian's `chromium` package, as the CI script does)")


def _headless(browser: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-dev-shm-usage", "--no-first-run", *args],
        capture_output=True, text=True, timeout=120,
    )


def _poison_names(db: Path) -> None:
    con = duckdb.connect(str(db))
    con.execute("UPDATE request_timeline SET authority_name = ? WHERE authority_url_name = 'council_b'", [f"Council {XSS} B"])
    con.close()


def _report(db, tmp_path, **kw) -> tuple[str, BeautifulSoup]:
    out = tmp_path / "report.html"
    summary = build_report(db_path=str(db), output=str(out), **kw)
    return summary, BeautifulSoup(out.read_text(), "html.parser")


def _charts(soup) -> dict:
    return {svg["data-chart"]: svg for svg in soup.find_all("svg")}


def test_report_content_and_escaping(known_db, tmp_path):
    _poison_names(known_db)
    out = tmp_path / "report.html"
    summary = build_report(db_path=str(known_db), output=str(out), authorities=[], query=None)
    assert summary.startswith(f"Wrote {out}: 14 requests, 4 authorities")
    text = out.read_text()
    assert XSS not in text  # neither the title of b3 nor the poisoned authority name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    soup = BeautifulSoup(text, "html.parser")
    scripts = soup.find_all("script")
    assert len(scripts) == 1 and "alert" not in scripts[0].text  # only our own script
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)  # nothing loaded from anywhere
    charts = _charts(soup)
    assert set(charts) == {"histogram", "response_times", "in_time", "outcomes", "grounds"}
    hist = [int(r["data-value"]) for r in charts["histogram"].find_all("rect", class_="bar")]
    assert hist == [4, 2, 1, 1, 2, 1, 0, 0]  # 1,2,3,5 | 7,10 | 15 | 20 | 25,30 | 40 | - | -
    outcome_2020 = sum(int(r["data-value"]) for r in charts["outcomes"].find_all("rect", class_="bar") if r.title.text.startswith("2020"))
    assert outcome_2020 == 7
    grounds = {r.title.text.split(" (")[0]: int(r["data-value"]) for r in charts["grounds"].find_all("rect", class_="bar")}
    assert grounds["s12"] == 3 and grounds["s40(2)"] == 2
    rows = soup.select("#authority-table tbody tr")
    assert [r.find_all("td")[1].text for r in rows] == ["7", "4", "2", "1"]
    shares = {r.title.text.split(":")[0]: float(r["data-value"]) for r in charts["in_time"].find_all("rect", class_="bar")}
    assert shares == {"Council A": 0.5, f"Council {XSS} B": 1.0, "Scottish Body": 0.5, "Environment Agency": 0.0}


def test_an_authority_that_answered_nothing_in_time_keeps_its_bar(known_db, tmp_path):
    """count_if is NULL over all-NULL input in DuckDB 2.0: such an authority used to vanish from the chart."""
    con = duckdb.connect(str(known_db))
    con.execute("""INSERT INTO request_timeline (site, request_key, url_title, title, authority_url_name, authority_name,
                       regime, sent_at, answered, answered_in_time, overdue_now, long_overdue_now, outcome, year)
                   VALUES (?, 'late1', 'late_1', 'Never answered', 'slow_body', 'Slow Body', 'FOIA',
                           '2020-01-06 09:00:00+00', false, NULL, true, true, 'pending', 2020),
                          (?, 'late2', 'late_2', 'Not answered either', 'slow_body', 'Slow Body', 'FOIA',
                           '2020-02-06 09:00:00+00', false, NULL, true, false, 'pending', 2020),
                          (?, 'soon1', 'soon_1', 'Not due yet', 'new_body', 'New Body', 'FOIA',
                           '2020-02-06 09:00:00+00', false, NULL, false, false, 'pending', 2020)""", [SITE] * 3)
    assert con.execute("SELECT count_if(answered_in_time) FROM request_timeline WHERE authority_url_name = 'slow_body'").fetchone()[0] is None
    con.close()
    _, soup = _report(known_db, tmp_path)
    chart = _charts(soup)["in_time"]
    bars = {r.title.text.split(":")[0]: r for r in chart.find_all("rect", class_="bar")}
    assert float(bars["Slow Body"]["data-value"]) == 0.0
    assert "0 of 2 answered in time" in bars["Slow Body"].title.text
    assert "New Body" in chart.text and "nothing answered or overdue yet" in chart.text  # listed, not dropped
    row = next(r for r in soup.select("#authority-table tbody tr") if "Slow Body" in r.text)
    assert row.find_all("td")[5].text == "0%"


def _many_authorities(db, n_extra: int) -> None:
    con = duckdb.connect(str(db))
    for i in range(n_extra):
        con.execute("""INSERT INTO request_timeline (site, request_key, url_title, title, authority_url_name, authority_name,
                           regime, sent_at, answered, working_days_to_substantive, answered_in_time, outcome, year)
                       VALUES (?, ?, ?, 'Extra', ?, ?, 'FOIA', '2021-03-01 09:00:00+00', true, 5, true, 'successful', 2021)""",
                    [SITE, f"x{i}", f"extra_{i}", f"extra_body_{i:02d}",
                     f"The Extraordinarily Long-Named Metropolitan Borough Council Number {i:02d} of Somewhere"])
    con.close()


def test_never_caps_silently_and_top_shows_more(known_db, tmp_path):
    _many_authorities(known_db, 16)  # 20 authorities in all
    summary, soup = _report(known_db, tmp_path)
    assert "top 15 of 20 authorities shown" in summary
    assert len(soup.select("#authority-table tbody tr")) == 15
    captions = [p.text for p in soup.find_all("p", class_="cap")]
    assert captions.count("Top 15 of 20 authorities by number of requests (corpus report --top 0 shows all).") == 3
    assert "Top 10 of 28 answered or long-overdue requests by working days (long overdue first)." in captions
    assert len(_charts(soup)["in_time"].find_all("rect", class_="bar")) == 15

    summary, soup = _report(known_db, tmp_path, top=0)
    assert "20 authorities," in summary and "top" not in summary
    assert len(soup.select("#authority-table tbody tr")) == 20
    assert "All 20 authorities." in [p.text for p in soup.find_all("p", class_="cap")]
    summary, soup = _report(known_db, tmp_path, top=3)
    assert len(soup.select("#authority-table tbody tr")) == 3 and "top 3 of 20" in summary


def test_long_labels_get_an_ellipsis_and_the_full_text_on_hover(known_db, tmp_path):
    _many_authorities(known_db, 1)
    _, soup = _report(known_db, tmp_path, top=0)
    full = "The Extraordinarily Long-Named Metropolitan Borough Council Number 00 of Somewhere"
    labels = [t for t in _charts(soup)["in_time"].find_all("text", class_="label") if t.title.text == full]
    assert len(labels) == 1
    shown = labels[0].text[len(full):]  # the element's text is the <title> then the visible label
    assert shown.endswith("…") and len(shown) <= 60 and full.startswith(shown[:-1])


def test_every_authority_and_thread_links_to_the_site(known_db, tmp_path):
    con = duckdb.connect(str(known_db))
    con.execute("UPDATE request_timeline SET url_title = 'odd slug/../?x=1' WHERE request_key = 'a6'")
    con.close()
    _, soup = _report(known_db, tmp_path)
    for row in soup.select("#authority-table tbody tr"):
        slug = row.find("small").text
        assert row.find("a")["href"] == f"{SITE}/body/{slug}"
    longest = soup.select("#longest-table tbody tr")
    assert len(longest) == 10
    for row in longest:
        links = [a["href"] for a in row.find_all("a")]
        assert links[0].startswith(f"{SITE}/request/") and links[1].startswith(f"{SITE}/body/")
    assert f"{SITE}/request/odd%20slug%2F..%2F%3Fx%3D1" in [a["href"] for a in soup.select("#longest-table a")]
    chart_links = {a["href"] for a in _charts(soup)["response_times"].find_all("a")}
    assert f"{SITE}/body/council_a" in chart_links


def test_no_links_to_a_site_that_is_not_http(known_db, tmp_path):
    con = duckdb.connect(str(known_db))
    con.execute("UPDATE request_timeline SET site = 'javascript:alert(1)//'")
    con.close()
    out = tmp_path / "r.html"
    build_report(db_path=str(known_db), output=str(out))
    assert "javascript:" not in " ".join(a.get("href", "") for a in BeautifulSoup(out.read_text(), "html.parser").find_all("a"))


def test_source_is_attributed_and_the_method_explained(known_db, tmp_path):
    con = duckdb.connect(str(known_db))
    con.execute("UPDATE requests SET first_seen = '2024-03-01 10:00:00+00', last_seen = '2024-03-04 18:00:00+00' WHERE request_key LIKE 'a%'")
    con.execute("UPDATE requests SET first_seen = '2024-03-02 10:00:00+00', last_seen = '2024-03-02 11:00:00+00' WHERE request_key NOT LIKE 'a%'")
    con.close()
    _, soup = _report(known_db, tmp_path)
    source = soup.find("p", class_="source")
    assert source.text == "Data: WhatDoTheyKnow, fetched 2 Mar 2024 to 4 Mar 2024, 14 threads."
    assert source.find("a")["href"] == SITE
    note = soup.find("div", class_="note").text
    flat = " ".join(note.split())
    for phrase in ("FOIA", "EIR", "FOISA", "EISR", "has no deadline", "UK working days", "day 0", "The limit is 20 working days",
                   "acknowledgement", "Each request counts once per provision", "merely quoted back", "internal review upholds"):
        assert phrase in flat, phrase


def test_only_grounds_relied_on_or_upheld_count(known_db, tmp_path):
    con = duckdb.connect(str(known_db))
    con.execute("""INSERT INTO refusal_citations (site, request_key, authority_url_name, message_id, source, year, regime,
                       provision, section, ground, cited_by, sentence, role)
                   VALUES (?, 'b1', 'council_b', 1003, 'message', 2019, 'FOIA', 's43(2)', 's43', 'commercial interests',
                           'number', 'You asked about section 43(2).', 'quoted_request'),
                          (?, 'b2', 'council_b', 1005, 'message', 2019, 'FOIA', 's43(2)', 's43', 'commercial interests',
                           'number', 'We uphold section 43(2).', 'upheld')""", [SITE, SITE])
    con.close()
    _, soup = _report(known_db, tmp_path)
    grounds = {r.title.text.split(" (")[0]: int(r["data-value"]) for r in _charts(soup)["grounds"].find_all("rect", class_="bar")}
    assert grounds["s43(2)"] == 1  # b2's upheld ground; b1's quoted one is left out


def test_outcomes_chart_has_an_axis_and_values(known_db, tmp_path):
    _, soup = _report(known_db, tmp_path)
    chart = _charts(soup)["outcomes"]
    ticks = [t.text for t in chart.find_all("text", class_="tick") if t.text.isdigit() and len(t.text) < 4]
    assert ticks[0] == "0" and len(ticks) >= 3 and [int(t) for t in ticks] == sorted(int(t) for t in ticks)
    assert "requests" in [t.text for t in chart.find_all("text", class_="muted")]
    totals = [int(t.text) for t in chart.find_all("text", class_="total")]
    assert totals == [7, 7]  # 2019 and 2020
    assert int(ticks[-1]) >= max(totals)


def test_report_filters(known_db, tmp_path):
    out = tmp_path / "r.html"
    summary = build_report(db_path=str(known_db), output=str(out), authorities=["council_b"], query=None)
    assert "4 requests, 1 authorities" in summary
    summary = build_report(db_path=str(known_db), output=str(out), authorities=[], query="agency staff")
    assert "4 requests, 3 authorities" in summary  # a2, a3, b2, s1
    summary = build_report(db_path=str(known_db), output=str(out), authorities=[], query=XSS)
    assert "1 requests, 1 authorities" in summary  # b3's title holds that text; the echo is escaped too
    assert XSS not in out.read_text()
    summary = build_report(db_path=str(known_db), output=str(out), authorities=[], query="no such words")
    assert ": 0 requests, 0 authorities" in summary
    assert out.read_text().count("No data for this selection.") == 5
    with pytest.raises(UsageError, match="no requests to authority 'nobody'"):
        build_report(db_path=str(known_db), output=str(out), authorities=["nobody"], query=None)
    # sent dates (UK): 2019-02-01 .. 2020-07-01
    summary = build_report(db_path=str(known_db), output=str(out), since=date(2020, 1, 1))
    assert "7 requests" in summary
    summary = build_report(db_path=str(known_db), output=str(out), since=date(2019, 4, 1), until=date(2019, 6, 3))
    assert "3 requests, 2 authorities" in summary  # b2 (the first day), a2, b3 (2019-06-03: the last day counts)
    with pytest.raises(UsageError, match="after --until"):
        build_report(db_path=str(known_db), output=str(out), since=date(2020, 1, 1), until=date(2019, 1, 1))
    summary = build_report(db_path=str(known_db), output=str(out), site=SITE + "/")
    assert "14 requests" in summary
    with pytest.raises(UsageError, match="no requests from site 'https://other.example'.*holds https://www.whatdotheyknow.com"):
        build_report(db_path=str(known_db), output=str(out), site="https://other.example")


def test_two_sites_are_flagged_and_site_picks_one(known_db, tmp_path):
    con = duckdb.connect(str(known_db))
    con.execute("UPDATE request_timeline SET site = 'https://alaveteli.example' WHERE authority_url_name = 'env_agency'")
    con.close()
    _, soup = _report(known_db, tmp_path)
    warn = soup.find("p", class_="warn")
    assert warn is not None and "counts 2 sites together" in warn.text and "--site" in warn.text
    source = soup.find("p", class_="source").text
    assert "WhatDoTheyKnow, fetch dates unknown, 13 threads" in source and "alaveteli.example, fetch dates unknown, 1 thread." in source
    summary, soup = _report(known_db, tmp_path, site="https://alaveteli.example")
    assert "1 requests, 1 authorities" in summary and soup.find("p", class_="warn") is None


def test_the_report_never_overwrites_the_database(known_db, tmp_path):
    before = known_db.read_bytes()
    for target in (known_db, Path(str(known_db) + ".wal")):
        with pytest.raises(UsageError, match="is the database"):
            build_report(db_path=str(known_db), output=str(target))
    other = tmp_path / "other.duckdb"
    shutil.copy(known_db, other)
    with pytest.raises(UsageError, match="is a DuckDB database"):
        build_report(db_path=str(known_db), output=str(other))
    with pytest.raises(UsageError, match="folder .* does not exist"):
        build_report(db_path=str(known_db), output=str(tmp_path / "missing" / "r.html"))
    assert known_db.read_bytes() == before
    out = tmp_path / "report.html"
    out.write_text("old report")
    build_report(db_path=str(known_db), output=str(out))
    assert "<!doctype html>" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_cli_report(known_db, tmp_path):
    out = tmp_path / "cli.html"
    result = CliRunner().invoke(main, ["report", "--db", str(known_db), "--output", str(out), "--authority", "council_a"])
    assert result.exit_code == 0, result.output
    assert "7 requests, 1 authorities" in result.output and out.is_file()
    result = CliRunner().invoke(main, ["report", "--db", str(known_db), "--output", str(out), "--since", "2020-01-01",
                                       "--until", "2020-12-31", "--site", SITE, "--top", "2"])
    assert result.exit_code == 0, result.output
    assert "7 requests, 3 authorities, top 2 of 3 authorities shown" in result.output


# A probe appended to a copy of the report (its CSP allows inline scripts) measures how it is laid out and
# posts that to the page framing it: Chromium's headless window is never narrower than 500 px, an iframe can be.
PROBE = """<script>
var widest = 0;
document.querySelectorAll('svg.chart').forEach(function (s) { widest = Math.max(widest, s.getBoundingClientRect().right); });
parent.postMessage([window.innerWidth, document.documentElement.scrollWidth, Math.round(widest)].join(' '), '*');
</script></body>"""
FRAME = """<!doctype html><html><body style="margin:0">
<iframe src="{src}" style="border:0;display:block;width:{width}px;height:{height}px"></iframe>
<script>window.addEventListener('message', function (e) {{ document.documentElement.setAttribute('data-probe', String(e.data)); }});</script>
</body></html>"""


def test_report_renders_in_headless_chromium(known_db, tmp_path):
    browser = _chromium()
    _poison_names(known_db)
    _many_authorities(known_db, 3)
    out = tmp_path / "report.html"
    build_report(db_path=str(known_db), output=str(out), authorities=[], query=None)
    dumped = _headless(browser, "--dump-dom", out.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    soup = BeautifulSoup(dumped.stdout, "html.parser")
    assert soup.html.get("data-rendered") == "charts"  # our script ran to the end
    bars = {svg["data-chart"]: int(svg.get("data-bars", "0")) for svg in soup.find_all("svg")}
    assert bars["histogram"] == 8 and bars["outcomes"] > 0 and bars["grounds"] > 0 and bars["in_time"] == 7
    assert all(XSS not in (s.string or "") for s in soup.find_all("script"))

    (tmp_path / "probe.html").write_text(out.read_text().replace("</body>", PROBE))
    for width in (1280, 390):
        frame = tmp_path / f"frame-{width}.html"
        frame.write_text(FRAME.format(src="probe.html", width=width, height=900))
        dumped = _headless(browser, "--dump-dom", "--virtual-time-budget=5000", "--window-size=1300,900", frame.as_uri())
        assert dumped.returncode == 0, dumped.stderr[-2000:]
        probe = BeautifulSoup(dumped.stdout, "html.parser").html.get("data-probe")
        assert probe, "the probe did not report back"
        viewport, page_width, chart_right = map(int, probe.split())
        assert viewport == width
        assert page_width <= width, f"horizontal overflow at {width} px: the page is {page_width} px wide"
        assert 0 < chart_right <= width
        shown = tmp_path / f"shown-{width}.html"
        shown.write_text(FRAME.format(src="report.html", width=width, height=2400))
        png = tmp_path / f"report-{width}.png"
        shot = _headless(browser, f"--screenshot={png}", f"--window-size={width},2400", "--hide-scrollbars", shown.as_uri())
        assert shot.returncode == 0, shot.stderr[-2000:]
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
