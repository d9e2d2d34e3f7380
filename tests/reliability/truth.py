"""Ground truth of a sample site versus what a corpus database holds, and ways to kill a sync at a chosen moment.

The ground truth and the CLI runner are shared with ``bench/soak_kill.py``
(``bench/harness.py``); killing a sync after N hits of the test site is the tests' own.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.harness import Comparison, Truth, compare, kill_after, run_cli, site_truth, start_cli
from tests.support.corpus_db import rows

__all__ = ["Comparison", "Truth", "compare", "kill_after", "kill_at_hit", "rows", "run_cli", "site_truth",
           "start_cli", "sync_in_process", "wait_for_file"]


def kill_at_hit(proc: subprocess.Popen, site, hits: int, extra: float = 0.0, *, timeout: float = 60.0) -> bool:
    """SIGKILL ``proc`` once the site has answered ``hits`` more requests, plus ``extra`` seconds.

    Tying the moment to the sync's progress (not to wall time) lands kills inside
    the run on a fast machine and a loaded one alike.  False when the process
    finished first.
    """
    start = len(site.hits)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and len(site.hits) - start < hits and time.monotonic() < deadline:
        time.sleep(0.002)
    return kill_after(proc, extra) if proc.poll() is None else _reap(proc)


def _reap(proc: subprocess.Popen) -> bool:
    proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()
    return False


def wait_for_file(path: Path, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.02)
    return False


# ---------------------------------------------------------------- in-process runs


def sync_in_process(site, db_path, **options):
    """A sync against a sample site at a local rate, with tiny back-off; returns the summary."""
    from tests.support.sync import sync

    fetch_options = {"backoff_base": 0.01, **options.pop("fetch_options", {})}
    options.setdefault("rate", 200)
    return sync(db_path=db_path, site=site.url, fetch_options=fetch_options, **options)
