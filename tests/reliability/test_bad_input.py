"""Bad input: one clear line on stderr, exit code 2, and nothing written."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import subprocess
import threading

import pytest

from corpus.errors import EXIT_OK, EXIT_USAGE
from tests.reliability.truth import rows, run_cli, site_truth, sync_in_process


def invoke(*args):
    """The ``corpus`` command in this process (click's runner): exit code and stderr like a subprocess."""
    from click.testing import CliRunner

    from corpus.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args], env={"CORPUS_CONTACT": None, "CORPUS_DB": None})
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def _fingerprint(path):
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size


def _one_line_usage_error(res, *words):
    assert res.returncode == EXIT_USAGE, (res.returncode, res.stderr)
    assert res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in res.stderr, (w, res.stderr)


@pytest.fixture(scope="module")
def synced_db(small_site, tmp_path_factory):
    """A database holding a handful of the small site's threads (read by several tests)."""
    dbp = tmp_path_factory.mktemp("bad") / "kept.duckdb"
    slugs = sorted(site_truth(small_site.corpus).slugs)[:8]
    assert sync_in_process(small_site, dbp, requests=slugs).exit_code == EXIT_OK
    return dbp


@pytest.fixture
def not_alaveteli(tmp_path):
    """Some other web site on 127.0.0.1 (no robots.txt, a plain home page)."""
    (tmp_path / "index.html").write_text("<html><body><h1>Parish newsletter</h1><p>Hello.</p></body></html>")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


SYNC_CASES = {
    "no scheme": (["--site", "www.whatdotheyknow.com", "--request", "x"], ["no scheme"]),
    "bad scheme": (["--site", "ftp://www.whatdotheyknow.com", "--request", "x"], ["only http and https"]),
    "a page, not a site": (["--site", "https://www.whatdotheyknow.com/request/x", "--request", "x"], ["has a path"]),
    "bad port": (["--site", "http://127.0.0.1:99999", "--request", "x"], ["invalid host or port"]),
    "password in URL": (["--site", "https://me:pw@www.whatdotheyknow.com", "--request", "x"], ["user name or password"]),
    "impossible date": (["--request", "x", "--since", "2024-02-30"], ["not a real date"]),
    "month 13": (["--request", "x", "--until", "2023-13-01"], ["not a real date"]),
    "since after until": (["--request", "x", "--since", "2024-03-01", "--until", "2024-01-01"], ["after --until"]),
    "rate zero": (["--request", "x", "--rate", "0"], ["above 0"]),
    "negative rate": (["--request", "x", "--rate", "-2"], ["above 0"]),
    "rate not a number": (["--request", "x", "--rate", "fast"], ["--rate"]),
    "slug with a slash": (["--authority", "home/office"], ["not a slug"]),
    "contact with a newline": (["--request", "x", "--contact", "me@example.org\nX-Evil: 1"], ["User-Agent"]),
}


@pytest.mark.parametrize("case", list(SYNC_CASES), ids=list(SYNC_CASES))
def test_bad_sync_options_write_nothing(site, synced_db, tmp_path, case):
    args, words = SYNC_CASES[case]
    if "--site" not in args:
        args = ["--site", site.url, *args]
    fresh = tmp_path / "never.duckdb"
    _one_line_usage_error(invoke("sync", "--db", fresh, *args), *words)
    assert list(tmp_path.iterdir()) == []  # not even a lock file
    before = _fingerprint(synced_db)
    _one_line_usage_error(invoke("sync", "--db", synced_db, *args), *words)
    assert _fingerprint(synced_db) == before
    assert site.hits == []


@pytest.mark.parametrize("kind", ["authority", "user"])
def test_unknown_slug_is_the_sites_404_and_writes_nothing(site, synced_db, tmp_path, kind):
    fresh = tmp_path / "never.duckdb"
    res = run_cli("sync", "--site", site.url, "--db", fresh, f"--{kind}", "no_such_slug_here", "--rate", "200")
    _one_line_usage_error(res, f"no {kind} 'no_such_slug_here'", "404")
    assert not fresh.exists()
    before = _fingerprint(synced_db)
    res = invoke("sync", "--site", site.url, "--db", synced_db, f"--{kind}", "no_such_slug_here", "--rate", "200")
    _one_line_usage_error(res, "404")
    assert _fingerprint(synced_db) == before


def test_a_site_that_is_not_alaveteli_is_refused(not_alaveteli, synced_db, tmp_path):
    fresh = tmp_path / "never.duckdb"
    res = run_cli("sync", "--site", not_alaveteli, "--db", fresh, "--request", "x", "--rate", "200")
    _one_line_usage_error(res, "does not look like an Alaveteli site")
    assert not fresh.exists()
    before = _fingerprint(synced_db)
    _one_line_usage_error(invoke("sync", "--site", not_alaveteli, "--db", synced_db, "--request", "x", "--rate", "200"),
                          "does not look like an Alaveteli site")
    assert _fingerprint(synced_db) == before


def test_a_capped_rate_is_a_warning_not_an_error(tmp_path):
    # a public site with a bad contact fails in planning, after the cap: the warning path must not stop the run
    from corpus.sync import SyncOptions

    options = SyncOptions.build(db_path=tmp_path / "x.duckdb", site="https://www.whatdotheyknow.com",
                                requests=("some_request",), rate=40, contact="me@example.org")
    assert options.rate == 5.0 and len(options.warnings) == 1
    assert options.command_line() == ("corpus sync --site https://www.whatdotheyknow.com --request some_request "
                                      "--rate 5")  # never the contact address
    assert not (tmp_path / "x.duckdb").exists()


QUERY_CASES = {
    "unknown query": (["no_such_query"], ["no canned query named 'no_such_query'"]),
    "unknown parameter": (["annotations", "--param", "colour=blue"], ["has no parameter 'colour'"]),
    "not NAME=VALUE": (["annotations", "--param", "author"], ["is not NAME=VALUE"]),
    "bad date": (["annotations", "--param", "since=2024-02-30"], ["is not a date"]),
    "bad number": (["annotations", "--param", "top=ten"], ["is not a whole number"]),
    "negative number": (["annotations", "--param", "top=-1"], ["negative"]),
}


@pytest.mark.parametrize("case", list(QUERY_CASES), ids=list(QUERY_CASES))
def test_bad_query_input(synced_db, case):
    args, words = QUERY_CASES[case]
    before = _fingerprint(synced_db)
    _one_line_usage_error(invoke("query", "--db", synced_db, *args), *words)
    assert _fingerprint(synced_db) == before


def test_query_parameters_carrying_sql_are_bound_never_run(synced_db, tmp_path):
    counts = dict(rows(synced_db, "SELECT 'requests', count(*) FROM requests UNION ALL SELECT 'messages', count(*) FROM messages"))
    before = _fingerprint(synced_db)
    # plain values find their rows ...
    for name, param in (("outcomes", None), ("search", "q=Dear")):
        res = run_cli("query", "--db", synced_db, name, *(["--param", param] if param else []), "--format", "json")
        assert res.returncode == 0, res.stderr
        assert len(json.loads(res.stdout)) >= 1, name
    hostile = [
        "x' OR '1'='1",
        "x'; DROP TABLE requests; --",
        "'); DELETE FROM messages; SELECT ('",
        "x\" OR \"1\"=\"1",
        "Dear' OR '1'='1",
    ]
    for value in hostile:
        for name, param in (("annotations", "author"), ("outcomes", "authority"), ("search", "q")):
            res = invoke("query", "--db", synced_db, name, "--param", f"{param}={value}", "--format", "json")
            assert res.returncode == 0, (name, value, res.stderr)
            got = json.loads(res.stdout) if res.stdout.strip() else []
            assert got == [], (name, value, got)  # matched as a literal string: nothing has that name
    assert _fingerprint(synced_db) == before
    assert dict(rows(synced_db, "SELECT 'requests', count(*) FROM requests UNION ALL SELECT 'messages', count(*) FROM messages")) == counts
