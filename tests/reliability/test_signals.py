"""The first Ctrl-C or SIGTERM ends every wait at once, even an hour's Crawl-delay, and loses nothing."""

from __future__ import annotations

import signal
import time
from urllib.parse import urlsplit

import pytest

from bench.harness import Truth
from corpus.errors import EXIT_INTERRUPTED, EXIT_OK
from corpus.sample_site.server import ROBOTS_TXT, Response
from tests.reliability.conftest import serving
from tests.reliability.truth import compare, rows, run_cli, site_truth, start_cli
from tests.support.site import TestSite


class CrawlDelaySite(TestSite):
    """The sample site, whose robots.txt asks for ``crawl_delay`` seconds between requests when it is set."""

    crawl_delay: float | None = None

    def handle(self, method: str, raw_path: str) -> Response:
        if urlsplit(raw_path).path == "/robots.txt" and self.crawl_delay:
            return Response(200, f"{ROBOTS_TXT}Crawl-delay: {self.crawl_delay:g}\n".encode(), "text/plain")
        return super().handle(method, raw_path)


@pytest.fixture
def delay_site():
    with serving(6, seed=5, n_authorities=1, site_class=CrawlDelaySite) as site:
        yield site


def _only(truth: Truth, *slugs: str) -> Truth:
    return Truth({s: truth.messages[s] for s in slugs}, {s: truth.annotations[s] for s in slugs})


def test_sigterm_ends_an_hour_long_crawl_delay_wait_at_once_and_loses_nothing(delay_site, tmp_path):
    truth = site_truth(delay_site.corpus)
    first, second = sorted(truth.slugs)[:2]
    dbp = tmp_path / "delay.duckdb"

    def args(slug):
        return ["sync", "--site", delay_site.url, "--db", dbp, "--rate", "200", "--quiet", "--request", slug]

    assert run_cli(*args(first)).returncode == EXIT_OK  # something stored that must survive
    delay_site.crawl_delay = 3600
    delay_site.clear_hits()
    proc = start_cli(*args(second))
    try:
        deadline = time.monotonic() + 60
        recorded = []
        while not recorded and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if delay_site.hits_for(r"^/robots\.txt$"):
                try:  # the run is recorded once it has read robots.txt: its next request waits an hour
                    recorded = rows(dbp, "SELECT run_id FROM sync_runs WHERE finished_at IS NULL")
                except Exception:
                    continue  # the sync has the file at this moment
        assert recorded, "the sync never started its run"
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        took = time.monotonic() - sent
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert code == EXIT_INTERRUPTED, err
    assert took < 5, f"SIGTERM took {took:.1f} s to end the wait"
    assert "Traceback" not in err and "Interrupted" in err
    assert not delay_site.hits_for(rf"^/request/{second}")  # the wait was cut short, nothing was asked
    # nothing lost: the thread stored before is whole, the one not fetched stays queued, the run says why it ended
    assert compare(dbp, _only(truth, first, second), complete=False).ok
    assert rows(dbp, "SELECT state FROM frontier WHERE url_title = ?", [second]) == [("queued",)]
    assert rows(dbp, "SELECT outcome FROM sync_runs WHERE run_id = ?", [recorded[0][0]]) == [("interrupted",)]
    # and the same command resumes it once the site asks for less
    delay_site.crawl_delay = None
    assert run_cli(*args(second)).returncode == EXIT_OK
    final = compare(dbp, _only(truth, first, second))
    assert final.ok, final.problems()
