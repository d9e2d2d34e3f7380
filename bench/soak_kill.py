"""Kill soak: SIGKILL ``corpus sync`` at many random moments and check nothing is lost.

    python bench/soak_kill.py --kills 50 [--threads 50] [--seed 1]

Serves a synthetic sample site on 127.0.0.1, then repeatedly: runs the real
``corpus sync`` CLI, kills it with SIGKILL after a seeded random delay, checks
the database (every thread present whole, with its page; no duplicate key),
and every few kills runs the sync to completion and compares the database
with the site's ground truth (threads, message ids per thread, annotation ids,
frontier states), then starts again on a fresh database.

The last line reads "0 lost, 0 duplicated" with the counts compared when all
is well; otherwise it gives the numbers and the first problems, and the exit
code is 1.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import compare, kill_after, run_cli, site_truth, start_cli  # noqa: E402
from corpus.sample_site import FakeSite, generate_corpus  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=50, help="SIGKILLs to deliver (default 50)")
    ap.add_argument("--threads", type=int, default=50, help="threads on the sample site (default 50)")
    ap.add_argument("--per-db", type=int, default=5, help="kills before a run to completion and a fresh database")
    ap.add_argument("--max-delay", type=float, default=5.0, help="longest random delay before a kill, seconds")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    corpus = generate_corpus(args.threads, seed=args.seed, n_authorities=3)
    site = FakeSite(corpus).start()
    truth = site_truth(corpus)
    targets = [a for auth in corpus.authorities for a in ("--authority", auth)]
    work = Path(tempfile.mkdtemp(prefix="soak_kill_"))
    kills = landed = rounds = 0
    lost = duplicated = inconsistent = 0
    compared = {"threads": 0, "messages": 0, "annotations": 0, "partial checks": 0}
    problems: list[str] = []
    started = time.monotonic()

    def tally(c, final: bool):
        nonlocal lost, duplicated, inconsistent
        lost += len(c.lost)
        duplicated += len(c.duplicated)
        inconsistent += len(c.wrong)
        problems.extend(c.problems()[:3])
        if final:
            compared["threads"] += c.threads_found
            compared["messages"] += c.messages_found
            compared["annotations"] += c.annotations_found
        else:
            compared["partial checks"] += 1

    try:
        while kills < args.kills:
            rounds += 1
            dbp = work / f"round{rounds}.duckdb"
            sync_args = ["sync", "--site", site.url, "--db", dbp, "--rate", "200", "--quiet", *targets]
            for _ in range(min(args.per_db, args.kills - kills)):
                delay = rng.uniform(0.05, args.max_delay)
                proc = start_cli(*sync_args)
                kills += 1
                if kill_after(proc, delay):
                    landed += 1
                tally(compare(dbp, truth, complete=False), final=False)
            res = run_cli(*sync_args, timeout=300)
            if res.returncode != 0:
                problems.append(f"round {rounds}: the completing run exited {res.returncode}: {res.stderr.strip()[-300:]}")
                inconsistent += 1
            tally(compare(dbp, truth), final=True)
            print(f"round {rounds}: {kills} kills so far ({landed} landed mid-run), "
                  f"{lost} lost, {duplicated} duplicated, {inconsistent} inconsistent", flush=True)
    finally:
        site.stop()

    print(f"site: {len(truth.slugs)} threads, {sum(len(v) for v in truth.messages.values())} messages, "
          f"{sum(len(v) for v in truth.annotations.values())} annotations; {rounds} databases; "
          f"{time.monotonic() - started:.0f} s")
    for p in problems[:20]:
        print("  " + p)
    print(f"{kills} kills ({landed} mid-run), {compared['partial checks']} checks after a kill, {rounds} full comparisons "
          f"of {compared['threads']} threads, {compared['messages']} messages, {compared['annotations']} annotations: "
          f"{lost} lost, {duplicated} duplicated, {inconsistent} inconsistent")
    return 0 if not (lost or duplicated or inconsistent) else 1


if __name__ == "__main__":
    sys.exit(main())
