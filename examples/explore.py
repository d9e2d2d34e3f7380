# Exploring a foi-corpus database: three canned queries and their charts.
#
# This script and explore.ipynb hold the same code, cell for cell ("# %%"
# marks a cell); a test keeps them in sync and runs this script.
# Run: CORPUS_DB=foi.duckdb python examples/explore.py

# %%
import os
from pathlib import Path

import duckdb

from corpus.queries import run_query

DB = os.environ.get("CORPUS_DB", "foi.duckdb")
PLOTS = Path(os.environ.get("CORPUS_PLOTS", "plots"))
con = duckdb.connect(DB, read_only=True)  # read-only: a running sync is not disturbed
print(f"{DB}: {con.execute('SELECT count(*) FROM requests').fetchone()[0]} requests")

# %%
# How long each authority takes (median and 90th percentile working days).
times = run_query(con, "response_times", {"min_requests": "1"}).to_pylist()
for r in times:
    print(f"{r['authority_url_name']:<24} requests={r['requests']:<5} median={r['median_working_days']} "
          f"p90={r['p90_working_days']} in_time={r['in_time_share']}")

# %%
# Outcomes per year, all authorities together.
by_year = {}
for r in run_query(con, "outcomes", {}).to_pylist():
    year = by_year.setdefault(r["year"], {"successful": 0, "partially_successful": 0, "not_held": 0, "refused": 0})
    for key in year:
        year[key] += int(r[key])
for year, counts in sorted(by_year.items()):
    print(year, counts)

# %%
# Which grounds refusals cite, over the whole corpus.
grounds = run_query(con, "refusal_grounds", {"group_by": "none"}).to_pylist()
for r in grounds:
    print(f"{r['provision']:<12} {r['ground'] or '':<28} requests={r['requests']} share={r['share_of_refusals']}")

# %%
# Charts, when matplotlib is installed (pip install matplotlib); skipped otherwise.
try:
    import matplotlib

    matplotlib.use("Agg")  # no display needed; a notebook shows the saved figures inline too
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: skipping the charts")

if plt is not None:
    PLOTS.mkdir(parents=True, exist_ok=True)
    answered = [r for r in times if r["median_working_days"] is not None]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(answered) + 1.5))
    names = [r["authority_name"] or r["authority_url_name"] for r in answered]
    ax.barh(names, [r["p90_working_days"] for r in answered], color="#abd9e9", label="90th percentile")
    ax.barh(names, [r["median_working_days"] for r in answered], color="#2c7bb6", label="median")
    ax.axvline(20, color="#d6604d", linestyle="--", label="20 working days")
    ax.set_xlabel("working days to a substantive answer")
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOTS / "response_times.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    years = sorted(by_year)
    bottom = [0] * len(years)
    for outcome in ["successful", "partially_successful", "not_held", "refused"]:
        values = [by_year[y][outcome] for y in years]
        ax.bar([str(y) for y in years], values, bottom=bottom, label=outcome.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("requests")
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOTS / "outcomes.png")

    fig, ax = plt.subplots(figsize=(7, 0.4 * len(grounds) + 1.5))
    ax.barh([r["provision"] for r in grounds], [r["requests"] for r in grounds], color="#4575b4")
    ax.set_xlabel("requests citing the provision")
    fig.tight_layout()
    fig.savefig(PLOTS / "refusal_grounds.png")
    print(f"charts written to {PLOTS}/")

# %%
con.close()
