"""The long jobs tell their ``progress(stage, done, total)`` callback how far they are, and print nothing."""

from __future__ import annotations

from corpus.export import export_parquet
from corpus.importer import import_paths
from corpus.reparse import reparse

SITE = "https://www.whatdotheyknow.com"


class Calls(list):
    def __call__(self, stage, done, total):
        self.append((stage, done, total))

    def of(self, stage):
        return [(d, t) for s, d, t in self if s == stage]


def _rises_to_the_total(steps):
    dones = [d for d, _ in steps]
    totals = {t for _, t in steps}
    return len(totals) == 1 and dones == sorted(dones) and dones[0] == 0 and dones[-1] == totals.pop()


def test_import_reparse_export_and_the_derived_tables_report_progress(pages_2019, tmp_path, capsys):
    dbp = tmp_path / "c.duckdb"
    html = sorted(p for p in pages_2019.iterdir() if p.suffix == ".html")
    calls = Calls()
    summary = import_paths(db_path=dbp, site=SITE, paths=[pages_2019], progress=calls)
    assert summary.imported >= 10
    assert _rises_to_the_total(calls.of("import"))
    assert calls.of("import")[-1] == (len(html), len(html))
    assert calls.of("derive tables") == [(n, 4) for n in range(5)]

    calls = Calls()
    stats = reparse(dbp, workers=1, batch_size=4, progress=calls)
    assert _rises_to_the_total(calls.of("reparse"))
    assert calls.of("reparse")[-1] == (stats.pages, stats.pages)
    assert len(calls.of("reparse")) >= 3  # the start, then after each chunk of about 4 pages
    assert calls.of("derive tables") == [(n, 4) for n in range(5)]
    assert [s for s, _, _ in calls] == ["reparse"] * len(calls.of("reparse")) + ["derive tables"] * 5

    calls = Calls()
    export_parquet(db_path=str(dbp), out_dir=str(tmp_path / "out"), progress=calls)
    steps = calls.of("export")
    assert _rises_to_the_total(steps) and steps[-1][0] >= 10
    assert [d for d, _ in steps] == list(range(steps[-1][0] + 1))  # one call per table
    assert capsys.readouterr() == ("", "")


def test_a_sync_rebuild_while_fetching_leaves_the_display_to_the_fetching(tmp_path):
    """The derived tables built with a sync's first batch, or every DERIVE_EVERY seconds, report no progress (the
    sync's own counts stay on display); the rebuild at the end of the run reports its steps."""
    from types import SimpleNamespace

    from corpus.db import connect
    from corpus.sync.derived import DerivedTables

    seen: list[str] = []
    reporter = SimpleNamespace(progress=lambda stage, done, total: seen.append(stage))
    derived = DerivedTables(SimpleNamespace(merged_since=None), reporter, None, memory_limit="1GB")
    con = connect(tmp_path / "d.duckdb")
    try:
        con.execute("BEGIN TRANSACTION")
        derived.with_the_first_batch(con, SimpleNamespace(outcomes=[object()]))
        con.execute("COMMIT")
        assert derived.exist and seen == []
        con.execute("BEGIN TRANSACTION")
        derived.derive(con, True, False)  # as a rebuild while fetching calls it
        con.execute("COMMIT")
        assert seen == []
        con.execute("BEGIN TRANSACTION")
        derived.derive(con, True)  # as the rebuild at the end calls it
        con.execute("COMMIT")
        assert seen and set(seen) == {"derive tables"}
    finally:
        con.close()
