# Exploring a foi-corpus database: canned queries, your own SQL, and charts.
#
# This script and explore.ipynb hold the same code, cell for cell ("# %%"
# marks a cell); a test keeps them in sync and runs both. In Jupyter, tables
# show as DataFrames (with pandas or polars installed) and charts inline; run
# as a script, it prints the tables and saves the charts under ./plots.
#
# It reads through corpus.Reader, which opens the file only for each query, so
# a `corpus sync` running at the same time is never held up.
# Run: python examples/explore.py (from anywhere inside the project folder),
# or CORPUS_DB=/path/to/foi.duckdb python explore.py

# %%
import os
from pathlib import Path

from corpus import Reader

# Finds the corpus: $CORPUS_DB if set, else foi.duckdb (or foi-demo.duckdb, made
# by `corpus demo`) in the working directory or the nearest folder above it.
# To name it yourself: r = Reader("/path/to/foi.duckdb")
r = Reader()
PLOTS = Path(os.environ.get("CORPUS_PLOTS", "plots"))

try:
    from IPython import get_ipython
    from IPython.display import display

    IN_NOTEBOOK = get_ipython() is not None and "IPKernelApp" in get_ipython().config
except ImportError:
    IN_NOTEBOOK = False


def show(result):
    """A DataFrame in a notebook (pandas, else polars, else DuckDB's table); a text table in a script."""
    if not IN_NOTEBOOK:
        return result.show(max_width=200, max_col_width=40)
    for as_frame in (result.df, result.pl):
        try:
            return display(as_frame())
        except ImportError:
            continue
    display(result)


try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed (pip install matplotlib): the charts are skipped")


def finish(fig, name):
    """Show the chart inline in a notebook; save it under PLOTS from a script."""
    if IN_NOTEBOOK:
        plt.show()
        return
    PLOTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOTS / name)
    plt.close(fig)
    print(f"chart saved: {PLOTS / name}")


print(f"{r.path}: {r.sql('SELECT count(*) FROM requests').fetchone()[0]} requests")
show(r.sql("""
    SELECT site, count(*) AS requests, count(DISTINCT authority_url_name) AS authorities,
           min(sent_at)::DATE AS first_sent, max(sent_at)::DATE AS last_sent
    FROM request_timeline GROUP BY site ORDER BY requests DESC"""))

# %%
# How long each authority takes: median and 90th-percentile working days to a
# substantive answer, and the share answered within the statutory limit.
times = r.query("response_times", min_requests=1)
show(times)
if plt is not None:
    rows = [t for t in times.arrow().to_pylist() if t["median_working_days"] is not None]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.5))
    names = [t["authority_name"] or t["authority_url_name"] for t in rows]
    ax.barh(names, [t["p90_working_days"] for t in rows], color="#abd9e9", label="90th percentile")
    ax.barh(names, [t["median_working_days"] for t in rows], color="#2c7bb6", label="median")
    ax.axvline(20, color="#d6604d", linestyle="--", label="20 working days")
    ax.invert_yaxis()
    ax.set_xlabel("working days to a substantive answer")
    ax.legend()
    fig.tight_layout()
    finish(fig, "response_times.png")

# %%
# Outcomes per year, all authorities together, as the requesters recorded them.
by_year = r.sql("""
    SELECT year,
           count(*) FILTER (WHERE outcome = 'successful') AS successful,
           count(*) FILTER (WHERE outcome = 'partially_successful') AS partially_successful,
           count(*) FILTER (WHERE outcome = 'not_held') AS not_held,
           count(*) FILTER (WHERE outcome = 'refused') AS refused,
           count(*) FILTER (WHERE outcome NOT IN ('successful', 'partially_successful', 'not_held', 'refused')
                            OR outcome IS NULL) AS other
    FROM request_timeline WHERE year IS NOT NULL GROUP BY year ORDER BY year""")
show(by_year)
if plt is not None:
    data = by_year.arrow().to_pydict()
    fig, ax = plt.subplots(figsize=(7, 4))
    bottom = [0] * len(data["year"])
    for outcome in ["successful", "partially_successful", "not_held", "refused", "other"]:
        ax.bar([str(y) for y in data["year"]], data[outcome], bottom=bottom, label=outcome.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, data[outcome])]
    ax.set_ylabel("requests")
    ax.legend()
    fig.tight_layout()
    finish(fig, "outcomes.png")

# %%
# Which grounds refusals cite, over the whole corpus.
grounds = r.query("refusal_grounds", group_by="none")
show(grounds)
if plt is not None:
    rows = grounds.arrow().to_pylist()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.5))
    ax.barh([g["provision"] for g in rows], [g["requests"] for g in rows], color="#4575b4")
    ax.invert_yaxis()
    ax.set_xlabel("requests citing the provision")
    fig.tight_layout()
    finish(fig, "refusal_grounds.png")

# %%
# Your own SQL: the requests longest overdue today (every table and column is
# described in the README). Each r.sql() call opens and closes the file.
show(r.sql("""
    SELECT authority_name, title, sent_at::DATE AS sent, due_date
    FROM request_timeline
    WHERE long_overdue_now
    ORDER BY due_date, title
    LIMIT 10"""))
