"""Two bugs the pipeline once hid: a reparse un-removing requests, and a broken corpus.derive passing unnoticed."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.cli_runner import cli_env
from tests.conftest import PROJECT_ROOT
from tests.integration.conftest import FAST, query, run_cli, simple_thread


def test_a_reparse_keeps_a_request_the_site_removed(fake_site, tmp_path):
    dbp = tmp_path / "removed.duckdb"
    slug = simple_thread(fake_site.corpus).url_title
    sync = ("sync", "--site", fake_site.url, "--db", dbp, "--request", slug, *FAST)
    assert run_cli(*sync).returncode == 0
    assert query(dbp, "SELECT removed FROM requests WHERE url_title = ?", [slug]) == [(False,)]

    fake_site.remove_request(slug)
    again = run_cli(*sync)
    assert again.returncode == 0, again.stderr
    assert query(dbp, "SELECT removed FROM requests WHERE url_title = ?", [slug]) == [(True,)]

    reparsed = run_cli("reparse", "--db", dbp)
    assert reparsed.returncode == 0, reparsed.stderr
    # The stored page still shows the thread, but only the live site can say it is back.
    assert query(dbp, "SELECT removed FROM requests WHERE url_title = ?", [slug]) == [(True,)]
    assert query(dbp, "SELECT state FROM frontier WHERE url_title = ?", [slug]) == [("removed",)]


def test_a_sync_that_finds_the_thread_again_clears_removed(fake_site, tmp_path):
    dbp = tmp_path / "back.duckdb"
    slug = simple_thread(fake_site.corpus).url_title
    sync = ("sync", "--site", fake_site.url, "--db", dbp, "--request", slug, *FAST)
    assert run_cli(*sync).returncode == 0
    fake_site.add_fault(rf"^/request/{slug}$", "gone", times=1)
    assert run_cli(*sync).returncode == 0
    assert query(dbp, "SELECT removed FROM requests WHERE url_title = ?", [slug]) == [(True,)]
    assert run_cli(*sync).returncode == 0  # the site serves it again (200)
    assert query(dbp, "SELECT removed FROM requests WHERE url_title = ?", [slug]) == [(False,)]
    assert query(dbp, "SELECT state FROM frontier WHERE url_title = ?", [slug]) == [("done",)]


def test_an_import_error_inside_corpus_derive_fails_the_demo_loudly(tmp_path):
    # ``None`` in sys.modules makes any import of that module raise ImportError, as a
    # syntax slip or a missing name inside corpus/derive would.
    script = (
        "import sys; sys.modules['corpus.derive.timeline'] = None\n"
        "from corpus.cli import main\n"
        f"sys.argv = ['corpus', 'demo', '--db', {str(tmp_path / 'demo.duckdb')!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=cli_env(), cwd=PROJECT_ROOT)
    assert proc.returncode != 0
    assert "Sync complete." not in proc.stdout
    assert re.search(r"(Import|ModuleNotFound)Error: .*corpus\.derive\.timeline", proc.stderr), proc.stderr
