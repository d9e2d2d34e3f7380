"""The real CLI against the sample site: $CORPUS_SITE, --authority-list and `corpus authorities`,
global --quiet/--log-format, stats lines without a terminal, and a progress total that holds still."""

from __future__ import annotations

import json

from corpus.progress import Reporter
from corpus.sync import SyncOptions, run_sync
from tests.cli_runner import cli_env
from tests.integration.conftest import FAST, query, run_cli, simple_thread, visible_threads

OTHER_SITE = "https://foi.example.org"


def test_corpus_site_is_the_default_site_of_every_verb(fake_site, tmp_path):
    req = simple_thread(fake_site.corpus)
    dbp = tmp_path / "env.duckdb"
    env = cli_env(CORPUS_SITE=fake_site.url + "/")  # normalised like --site
    res = run_cli("sync", "--db", dbp, "--request", req.url_title, *FAST, env=env)
    assert res.returncode == 0, res.stderr
    assert query(dbp, "SELECT DISTINCT site FROM requests") == [(fake_site.url,)]

    held = run_cli("query", "outcomes", "--db", dbp, "--format", "json", env=env)
    assert held.returncode == 0, held.stderr
    assert json.loads(held.stdout)
    other = run_cli("query", "outcomes", "--db", dbp, env=cli_env(CORPUS_SITE=OTHER_SITE))
    assert other.returncode == 2 and f"site={OTHER_SITE!r} has no threads" in other.stderr.replace('"', "'")
    flag_wins = run_cli("query", "outcomes", "--db", dbp, "--site", fake_site.url, "--format", "json",
                        env=cli_env(CORPUS_SITE=OTHER_SITE))
    assert flag_wins.returncode == 0 and flag_wins.stdout == held.stdout

    mine = run_cli("authorities", "--db", dbp, "--format", "jsonl", env=env)
    assert [json.loads(line)["slug"] for line in mine.stdout.splitlines()] == [req.authority_url_name]
    none = run_cli("authorities", "--db", dbp, env=cli_env(CORPUS_SITE=OTHER_SITE))
    assert none.returncode == 2 and f"no authorities are stored for {OTHER_SITE}" in none.stderr

    report = run_cli("report", "--db", dbp, "--output", tmp_path / "r.html", env=cli_env(CORPUS_SITE=OTHER_SITE))
    shown = run_cli("report", "--db", dbp, "--output", tmp_path / "s.html", env=env)
    assert shown.returncode == 0, shown.stderr
    assert req.title in (tmp_path / "s.html").read_text()
    assert report.returncode != 0 or req.title not in (tmp_path / "r.html").read_text()


def test_authority_list_then_search_finds_the_slug(fake_site, tmp_path):
    corpus = fake_site.corpus
    dbp = tmp_path / "list.duckdb"
    one = visible_threads(corpus)[0].url_title
    res = run_cli("sync", "--db", dbp, "--site", fake_site.url, "--authority-list", "--request", one, *FAST)
    assert res.returncode == 0, res.stderr
    assert query(dbp, "SELECT count(*) FROM authorities") == [(len(corpus.authorities),)]
    assert "--authority-list" in query(dbp, "SELECT command FROM sync_runs")[0][0]
    for slug, body in corpus.authorities.items():
        words = " ".join(w for w in body.name.lower().split() if len(w) > 3)[:40]  # some of its words, in lower case
        got = run_cli("authorities", "--db", dbp, "--search", words, "--format", "json")
        assert got.returncode == 0, got.stderr
        assert slug in [row["slug"] for row in json.loads(got.stdout)][:3], (words, got.stdout)
    listing = run_cli("authorities", "--db", dbp, "--limit", "2", "--format", "csv")
    assert listing.stdout.count("\n") == 3  # the header and two rows
    assert f"Showing 2 of {len(corpus.authorities)} authorities" in listing.stderr


def test_json_logs_cover_every_line_and_the_old_flag_name_warns(fake_site, tmp_path):
    dbp = tmp_path / "json.duckdb"
    one = visible_threads(fake_site.corpus)[1].url_title
    res = run_cli("--log-format", "json", "sync", "--db", dbp, "--site", fake_site.url, "--authorities",
                  "--request", one, *FAST)
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stderr.splitlines()]  # every line is one JSON object
    events = [r["event"] for r in records]
    assert "deprecated" in events and "authorities" in events
    [warning] = [r for r in records if r["event"] == "deprecated"]
    assert warning["level"] == "warning" and "--authority-list" in warning["message"]
    [summary] = [r for r in records if r["event"] == "summary"]
    assert summary["exit_code"] == 0 and summary["summary"]["fetched"] == 1
    assert summary["message"] == res.stdout.strip()
    assert query(dbp, "SELECT count(*) FROM authorities") == [(len(fake_site.corpus.authorities),)]

    failed = run_cli("--log-format", "json", "sync", "--db", dbp, "--site", fake_site.url, "--request",
                     "999999999", *FAST)
    assert failed.returncode == 2
    [error] = [json.loads(line) for line in failed.stderr.splitlines()]
    assert error["event"] == "error" and "999999999" in error["message"] and error["exit_code"] == 2


def test_quiet_before_or_after_the_verb(fake_site, tmp_path):
    threads = visible_threads(fake_site.corpus)[:2]
    for i, where in enumerate((["--quiet", "sync"], ["sync", "--quiet"])):
        res = run_cli(*where, "--db", tmp_path / f"q{i}.duckdb", "--site", fake_site.url, "--request",
                      threads[i].url_title, *FAST, env=cli_env(CORPUS_STATS_INTERVAL=0.05))
        assert res.returncode == 0, res.stderr
        assert res.stderr == "" and res.stdout.startswith("Sync complete.")


def test_without_a_terminal_a_stats_line_each_interval(fake_site, tmp_path):
    authority = max(fake_site.corpus.authorities,
                    key=lambda a: sum(r.authority_url_name == a for r in visible_threads(fake_site.corpus)))
    res = run_cli("sync", "--db", tmp_path / "s.duckdb", "--site", fake_site.url, "--authority", authority,
                  "--rate", "25", env=cli_env(CORPUS_STATS_INTERVAL=0.25))
    assert res.returncode == 0, res.stderr
    stats = [line for line in res.stderr.splitlines() if "pages/min" in line]
    assert len(stats) >= 2, res.stderr
    for line in stats:
        assert line.startswith(("sync ", "derive tables: ")), line
    fetching = [line for line in stats if line.startswith("sync ")]
    assert fetching and all("threads done" in line for line in fetching)
    with_total = [line for line in fetching if " left" in line]
    assert with_total and all("ETA " in line for line in with_total)
    assert any(line.endswith("at the current rate") and " 0 left" not in line for line in with_total), res.stderr
    # the derived tables built with the first batch leave the display to the fetching: theirs come at the end
    kinds = [line.startswith("sync ") for line in stats]
    assert kinds == sorted(kinds, reverse=True), res.stderr


def test_reparse_progress_as_json_stats(fake_site, tmp_path):
    dbp = tmp_path / "r.duckdb"
    threads = visible_threads(fake_site.corpus)[:6]
    assert run_cli("sync", "--db", dbp, "--site", fake_site.url, "--quiet", *FAST,
                   *[a for r in threads for a in ("--request", r.url_title)]).returncode == 0
    res = run_cli("--log-format", "json", "reparse", "--db", dbp, env=cli_env(CORPUS_STATS_INTERVAL=0.02))
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stderr.splitlines()]
    stages = {r["stage"] for r in records if r["event"] == "stats"}
    assert stages & {"reparse", "derive tables"}, records
    for r in records:
        if r["event"] == "stats":
            assert {"pages_per_minute", "done", "left", "eta_seconds"} <= set(r)
    assert records[-1]["event"] == "summary" and records[-1]["pages"] == 6


class Recording(Reporter):
    """Keeps every (stage, done, total) the sync shows."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.shown: list[tuple[str, int, int | None]] = []

    def show(self, done, total, detail=""):
        self.shown.append((self._work.title if self._work else "", done, total))
        super().show(done, total, detail)


def _sync(fake_site, dbp, **targets) -> list[tuple[int, int | None]]:
    rep = Recording()
    summary = run_sync(SyncOptions.build(db_path=dbp, site=fake_site.url, rate=500,
                                         fetch_options={"backoff_base": 0.01}, **targets), reporter=rep)
    assert summary.exit_code == 0
    return [(d, t) for stage, d, t in rep.shown if stage.startswith("sync ")]


def test_the_total_of_known_work_holds_still(fake_site, tmp_path):
    threads = [r for r in visible_threads(fake_site.corpus) if r.prominence == "normal"][:9]
    shown = _sync(fake_site, tmp_path / "a.duckdb", requests=[r.url_title for r in threads])
    assert shown and {t for _, t in shown} == {9}  # the queue is known from the start: the total never moves
    assert shown[-1][0] == 9


def test_the_total_grows_only_as_discovery_finds_more(fake_site, tmp_path):
    authority = max(fake_site.corpus.authorities,
                    key=lambda a: sum(r.authority_url_name == a for r in visible_threads(fake_site.corpus)))
    shown = _sync(fake_site, tmp_path / "b.duckdb", authorities=[authority])
    totals = [t for _, t in shown if t is not None]  # None: nothing queued yet, discovery has only begun
    assert totals == sorted(totals)  # never shrinks with every thread done
    assert len(set(totals)) <= 4 < len(totals)
    assert shown[-1][0] == totals[-1]
