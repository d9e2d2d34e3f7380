"""Habits the CLI fits: --db on every verb with honest help, $CORPUS_SITE, global --quiet/--log-format."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from corpus.cli import main
from tests.cli_runner import cli_env, run_cli

READ_ONLY = {"query", "sql", "export", "report", "status", "authorities"}
WRITING = {"sync", "import", "reparse", "demo", "convert-storage"}


def _option(command: click.Command, name: str) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and name in p.opts), None)


def test_the_verbs_are_all_classified():
    assert set(main.commands) == READ_ONLY | WRITING | {"queries"}


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_verb_takes_db_and_says_what_it_does_with_it(name):
    db = _option(main.commands[name], "--db")
    assert db is not None, f"corpus {name} has no --db"
    words = db.help.lower()
    if name in READ_ONLY:
        assert "to read" in words and "read-only" in words and "write" not in words
    elif name in WRITING:
        assert "read and writ" in words
    else:
        assert "not opened" in words


def test_every_format_option_is_described():
    with_format = {name: _option(cmd, "--format") for name, cmd in main.commands.items()}
    with_format = {name: opt for name, opt in with_format.items() if opt is not None}
    assert {"query", "sql", "authorities", "export"} <= set(with_format)
    for name, opt in with_format.items():
        assert opt.help and len(opt.help) > 20, name
        for choice in opt.type.choices:
            assert choice in opt.help.lower(), (name, choice)


def test_queries_accepts_db(tmp_path):
    res = run_cli("queries", "--db", tmp_path / "x.duckdb")
    assert res.returncode == 0, res.stderr
    assert "response_times" in res.stdout
    assert not (tmp_path / "x.duckdb").exists()  # listed, never opened


def test_site_defaults_say_corpus_site():
    for name in ("sync", "import"):
        assert "$CORPUS_SITE" in str(_option(main.commands[name], "--site").show_default)
    for name in ("query", "report", "authorities"):
        assert "$CORPUS_SITE" in _option(main.commands[name], "--site").help


def test_a_bad_corpus_site_is_named(tmp_path):
    res = run_cli("report", "--db", tmp_path / "x.duckdb", "--output", tmp_path / "r.html",
                  env=cli_env(CORPUS_SITE="ftp://example.org"))
    assert res.returncode == 2
    assert res.stderr.startswith("Error: $CORPUS_SITE: ") and res.stderr.count("\n") == 1


def test_global_log_format_json_makes_usage_errors_json():
    res = run_cli("--log-format", "json", "query", "outcomes", "--bogus")
    assert res.returncode == 2
    [record] = [json.loads(line) for line in res.stderr.splitlines()]
    assert record["event"] == "error" and record["exit_code"] == 2 and "--bogus" in record["message"]


def test_global_log_format_json_makes_expected_errors_json(tmp_path):
    res = run_cli("--log-format", "json", "status", "--db", tmp_path / "none.duckdb")
    assert res.returncode != 0
    [record] = [json.loads(line) for line in res.stderr.splitlines()]
    assert record["level"] == "error" and record["exit_code"] == res.returncode


def test_global_options_are_listed_and_still_accepted_by_sync():
    top = CliRunner().invoke(main, ["--help"]).output
    assert "--quiet" in top and "--log-format" in top
    sync_help = CliRunner().invoke(main, ["sync", "--help"]).output
    assert "--quiet" in sync_help and "--log-format" in sync_help


def test_the_old_authorities_flag_is_hidden_and_the_new_name_is_documented():
    sync_help = CliRunner().invoke(main, ["sync", "--help"]).output
    assert "--authority-list" in sync_help
    assert "--authorities " not in sync_help and "--authorities\n" not in sync_help


def test_a_bug_is_one_json_record_with_its_traceback_under_json_logs(tmp_path, monkeypatch):
    import corpus.status

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(corpus.status, "status_report", broken)
    result = CliRunner().invoke(main, ["--log-format", "json", "status", "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 1
    [record] = [json.loads(line) for line in result.stderr.splitlines()]
    assert record["event"] == "error" and "a bug" in record["message"] and "RuntimeError" in record["traceback"]
    plain = CliRunner().invoke(main, ["status", "--db", str(tmp_path / "x.duckdb")])
    assert isinstance(plain.exception, RuntimeError)  # for people: the traceback, as before
