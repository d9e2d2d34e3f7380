"""SIGKILL at random moments: every restart ends with exactly the site's threads.

The real ``corpus sync`` runs as a subprocess against a sample site in this
process; it is killed with SIGKILL after seeded random delays, checked (every
thread present must be whole, with its page, no duplicate keys), run again,
killed again, then run to completion and compared with the site's ground truth.
"""

from __future__ import annotations

import random

import pytest

from tests.reliability.truth import compare, kill_at_hit, run_cli, site_truth, start_cli

KILLS_PER_CHAIN = 2


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_sigkill_then_resume_loses_nothing(site, tmp_path, seed):
    rng = random.Random(seed)
    dbp = tmp_path / "kill.duckdb"
    args = ["sync", "--site", site.url, "--db", dbp, "--rate", "200", "--quiet",
            *[a for auth in site.corpus.authorities for a in ("--authority", auth)]]
    truth = site_truth(site.corpus)
    assert len(truth.slugs) >= 35
    # A full run makes about 1 + 2 requests per thread plus the listing pages; each
    # kill lands after a seeded number of answered requests and a seeded extra
    # delay, so it falls anywhere from robots.txt to the last batch write.
    total = 1 + 2 * len(truth.slugs) + len(site.corpus.authorities)
    killed = 0
    for k in range(KILLS_PER_CHAIN):
        hits = rng.randint(0, total if k == 0 else total // 2)
        extra = rng.uniform(0.0, 0.3)
        proc = start_cli(*args)
        if kill_at_hit(proc, site, hits, extra):
            killed += 1
        partial = compare(dbp, truth, complete=False)
        assert partial.ok, (hits, extra, partial.problems()[:10])
    assert killed >= 1, "every run finished before its kill"
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    final = compare(dbp, truth)
    assert final.ok, final.problems()[:10]
    assert final.threads_found == len(truth.slugs)
    assert final.messages_found == final.messages_expected > 0
    assert final.annotations_found == final.annotations_expected
