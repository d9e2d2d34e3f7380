"""The CLI maps the scraper's own errors to option names and exit codes (the scraper knows neither)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from corpus.cli import main, scraper_failure
from corpus.errors import EXIT_BLOCKED, EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_USAGE
from scraper.errors import (
    ChallengeDetected,
    InvalidInput,
    ListingUnreadable,
    RobotsUnavailable,
    Stopped,
    TargetNotFound,
)


@pytest.mark.parametrize(
    "error, line, code",
    [
        (InvalidInput("site URL 'x' has no scheme", subject="site"), "--site: site URL 'x' has no scheme", EXIT_USAGE),
        (InvalidInput("rate 0 must be above 0", subject="rate"), "--rate: rate 0 must be above 0", EXIT_USAGE),
        (InvalidInput("the start date is after the end date", subject="dates"),
         "--since/--until: the start date is after the end date", EXIT_USAGE),
        (TargetNotFound("no authority 'x' on s (the site answered 404)", kind="authority", value="x"),
         "--authority: no authority 'x' on s (the site answered 404)", EXIT_USAGE),
        (InvalidInput("odd", subject="something new"), "odd", EXIT_USAGE),
        (RobotsUnavailable("s/robots.txt answered 503"), "s/robots.txt answered 503", EXIT_FAILURES),
        (ListingUnreadable("could not read the listing"), "could not read the listing", EXIT_FAILURES),
        (Stopped("interrupted: the wait was cancelled"),
         "interrupted (interrupted: the wait was cancelled); run the same command again to resume", EXIT_INTERRUPTED),
    ],
)
def test_each_scraper_error_has_its_line_and_exit_code(error, line, code):
    assert scraper_failure(error) == (line, code)


def test_a_challenge_exits_3_with_the_ways_around():
    line, code = scraper_failure(ChallengeDetected("https://s/request/x", 403, "cf-mitigated: challenge"))
    assert code == EXIT_BLOCKED
    assert line.startswith("the site answered https://s/request/x with a bot challenge (cf-mitigated: challenge, HTTP 403)")
    assert "corpus import" in line


@pytest.mark.parametrize(
    "args, line",
    [
        (["--site", "ftp://example.org", "--request", "x"],
         "Error: --site: site URL 'ftp://example.org' uses 'ftp'; only http and https sites can be collected\n"),
        (["--site", "http://127.0.0.1:9", "--request", "x", "--rate", "0"],
         "Error: --rate: rate 0 must be above 0; give requests per second, e.g. 0.5\n"),
        (["--site", "http://127.0.0.1:9", "--request", "https://example.org/request/abc"],
         "Error: --request: 'https://example.org/request/abc' is not on http://127.0.0.1:9; give a URL of "
         "http://127.0.0.1:9, or collect the other site separately\n"),
    ],
)
def test_bad_values_name_the_option_and_exit_2(tmp_path, args, line):
    result = CliRunner().invoke(main, ["sync", "--db", str(tmp_path / "x.duckdb"), *args],
                                env={"CORPUS_CONTACT": None, "CORPUS_DB": None})
    assert result.exit_code == EXIT_USAGE and result.stderr == line
    assert list(tmp_path.iterdir()) == []
