"""The HTML report: right numbers, everything escaped, charts drawn in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from corpus.cli import main
from corpus.errors import UsageError
from corpus.report import build_report
from tests.corpus.test_queries import XSS, known_db, known_template  # noqa: F401  (fixtures)

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
    charts = {svg["data-chart"]: svg for svg in soup.find_all("svg")}
    assert set(charts) == {"histogram", "response_times", "in_time", "outcomes", "grounds"}
    hist = [int(r["data-value"]) for r in charts["histogram"].find_all("rect", class_="bar")]
    assert hist == [4, 2, 1, 1, 2, 1, 0, 0]  # 1,2,3,5 | 7,10 | 15 | 20 | 25,30 | 40 | - | -
    outcome_2020 = sum(int(r["data-value"]) for r in charts["outcomes"].find_all("rect", class_="bar") if r.title.text.startswith("2020"))
    assert outcome_2020 == 7
    grounds = {r.title.text.split(" (")[0]: int(r["data-value"]) for r in charts["grounds"].find_all("rect", class_="bar")}
    assert grounds["s12"] == 3 and grounds["s40(2)"] == 2
    rows = soup.select("#authority-table tbody tr")
    assert [r.find_all("td")[1].text for r in rows] == ["7", "4", "2", "1"]


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


def test_cli_report(known_db, tmp_path):
    out = tmp_path / "cli.html"
    result = CliRunner().invoke(main, ["report", "--db", str(known_db), "--output", str(out), "--authority", "council_a"])
    assert result.exit_code == 0, result.output
    assert "7 requests, 1 authorities" in result.output and out.is_file()


def test_report_renders_in_headless_chromium(known_db, tmp_path):
    browser = _chromium()
    _poison_names(known_db)
    out = tmp_path / "report.html"
    build_report(db_path=str(known_db), output=str(out), authorities=[], query=None)
    dumped = _headless(browser, "--dump-dom", out.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    soup = BeautifulSoup(dumped.stdout, "html.parser")
    assert soup.html.get("data-rendered") == "charts"  # our script ran to the end
    bars = {svg["data-chart"]: int(svg.get("data-bars", "0")) for svg in soup.find_all("svg")}
    assert bars["histogram"] == 8 and bars["outcomes"] > 0 and bars["grounds"] > 0 and bars["in_time"] == 4
    assert all(XSS not in (s.string or "") for s in soup.find_all("script"))
    png = tmp_path / "report.png"
    shot = _headless(browser, f"--screenshot={png}", "--window-size=1100,2600", "--hide-scrollbars", out.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
