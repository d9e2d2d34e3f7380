"""Extraction bombs, each run the way a sync runs it (a bounded worker process) in a fresh process.

Every case asserts the recorded status and reason, and that the whole process
tree (the measuring process, its worker, Tesseract if any) stayed under 400 MB
and finished in bounded time.
"""

from __future__ import annotations

import json

import pytest

from corpus.attachments.limits import MiB

from . import bombs
from .treerss import REPORT_MAXRSS, run_measured

TREE_MB = 400

EXTRACT = (
    """
import json, sys, time
from corpus.attachments.limits import Limits
from corpus.attachments.sandbox import ExtractorPool
data = open(sys.argv[1], "rb").read()
limits = Limits(**json.loads(sys.argv[3]))
started = time.monotonic()
with ExtractorPool(limits) as pool:
    r = pool.extract(data, sys.argv[2], None)
    after = pool.extract(b"Refused under section 12.", "after.txt", None)
RESULT = {"status": r.status, "reason": r.reason, "characters": r.characters, "text": r.text[:300],
          "seconds": time.monotonic() - started, "workers": pool.started, "after": after.status}
"""
    + REPORT_MAXRSS
)


def extract_measured(tmp_path, data: bytes, name: str, **limits):
    path = tmp_path / name
    path.write_bytes(data)
    got = run_measured(EXTRACT, str(path), name, json.dumps(limits))
    print(f"{name} ({len(data):,} bytes): {got.out['status']} in {got.out['seconds']:.2f} s; "
          f"tree peak {got.tree_mb:.0f} MB, largest process {got.process_mb:.0f} MB")
    assert got.tree_mb < TREE_MB, f"process tree peaked at {got.tree_mb:.0f} MB"
    assert got.process_mb < TREE_MB, f"one process peaked at {got.process_mb:.0f} MB"
    assert got.out["after"] == "ok", "the pool must still extract the next attachment"
    return got


def test_docx_inflating_to_290_mb_is_refused_from_its_directory(tmp_path):
    data = bombs.docx_bomb()
    assert len(data) < 1_100_000
    got = extract_measured(tmp_path, data, "decision.docx")
    assert got.out["status"] == "too_large"
    assert "word/document.xml" in got.out["reason"] and "ratio cap" in got.out["reason"]
    assert got.out["seconds"] < 10


def test_docx_bomb_under_a_lax_ratio_is_streamed_to_the_character_cap(tmp_path):
    # Were the ratio check not there, the XML is still never built into a tree.
    got = extract_measured(tmp_path, bombs.docx_bomb(), "decision.docx", max_ratio=100_000, max_inflated=400 * MiB)
    assert got.out["status"] == "ok"
    assert got.out["characters"] == 2_000_000
    assert got.out["reason"] == "text cut at 2,000,000 characters"
    assert got.out["text"].startswith("Refused under section 12 of the Act.")
    assert got.out["seconds"] < 20


def test_odt_asking_for_1_5_billion_spaces_gets_a_hundred(tmp_path):
    data = bombs.odt_space_bomb()
    assert len(data) < 600
    got = extract_measured(tmp_path, data, "reply.odt")
    assert got.out["status"] == "ok"
    assert got.out["text"] == "Refused under section 43" + " " * 100 + "(2)."
    assert got.out["seconds"] < 10


def test_xlsx_declaring_every_cell_reads_its_one_cell(tmp_path):
    data = bombs.xlsx_dimension_bomb()
    assert len(data) < 2_000
    got = extract_measured(tmp_path, data, "stats.xlsx")
    assert got.out["status"] == "ok" and got.out["reason"] is None
    assert got.out["text"] == "# Refusals\nRefused under section 40(2)"
    assert got.out["seconds"] < 10


def test_xlsx_with_a_cell_in_the_last_row_and_column_stops_at_the_cell_cap(tmp_path):
    data = bombs.xlsx_dimension_bomb(far_cell="XFD1048576")
    got = extract_measured(tmp_path, data, "stats.xlsx", max_cells=200_000)
    assert got.out["status"] == "ok"
    assert got.out["text"].startswith("# Refusals\nRefused under section 40(2)")
    assert "cut at 200,000 cells" in got.out["reason"]
    assert got.out["seconds"] < 15


def test_pdf_whose_200_pages_share_a_74_mb_stream(tmp_path):
    data = bombs.pdf_shared_stream_bomb()
    assert len(data) < 250_000
    got = extract_measured(tmp_path, data, "response.pdf")
    assert got.out["status"] == "too_large"
    assert got.out["reason"].startswith("200 of 200 pages not read: content over the caps (16 MiB decoded")
    assert got.out["seconds"] < 15


@pytest.mark.parametrize(
    "build, name, status, words",
    [
        (bombs.ratio_zip_bomb, "disclosure.zip", "too_large", "ratio cap"),
        (bombs.nested_zip_bomb, "disclosure.zip", "too_large", "nested more than 3"),
        (bombs.overlapping_zip_bomb, "disclosure.zip", "too_large", "overlapping members"),
        (bombs.lying_sizes_zip, "disclosure.zip", "too_large", "inflates past its declared 10,000 bytes"),
        (bombs.xlsx_lying_shared_strings, "stats.xlsx", "too_large", "'xl/sharedStrings.xml' inflates past its declared 2,000 bytes"),
    ],
    ids=["ratio", "nested", "overlapping", "lying-sizes", "lying-xlsx-part"],
)
def test_zip_bombs(tmp_path, build, name, status, words):
    got = extract_measured(tmp_path, build(), name)
    assert got.out["status"] == status
    assert words in got.out["reason"]
    assert got.out["seconds"] < 10


def test_wall_clock_limit_kills_the_worker_and_records_timeout(tmp_path):
    # The PDF bomb with pypdf's own caps and the page-by-page time budget out of the way:
    # only the wall-clock limit is left to stop it.
    got = extract_measured(
        tmp_path, bombs.pdf_shared_stream_bomb(pages=3), "response.pdf",
        max_stream_bytes=80 * MiB, max_stream_tokens=50_000_000, seconds=3, soft_fraction=10,
    )
    assert got.out["status"] == "timeout"
    assert got.out["reason"] == "extraction did not finish within the 3-second limit; its worker process was stopped"
    assert got.out["seconds"] < 3 + 5
    assert got.out["workers"] == 2  # the killed worker was replaced for the next attachment


def test_memory_limit_records_too_large(tmp_path):
    got = extract_measured(
        tmp_path, bombs.pdf_shared_stream_bomb(pages=3), "response.pdf",
        max_stream_bytes=80 * MiB, max_stream_tokens=50_000_000, memory=240 * MiB, seconds=120,
    )
    assert got.out["status"] == "too_large"
    assert "out of memory" in got.out["reason"] and "240 MiB" in got.out["reason"]
    assert got.process_mb < 240
    assert got.out["workers"] == 2  # a worker that ran out of memory is not reused
