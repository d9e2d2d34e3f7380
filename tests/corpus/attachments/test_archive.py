"""Zip archives of documents, and the zip checks every container goes through."""

from __future__ import annotations

import io
import zipfile

from corpus.attachments.extract import Limits, extract_text
from corpus.attachments.limits import Budget
from corpus.attachments.zipguard import ZipProblem, open_zip

from . import bombs, samples


def test_a_zip_of_letters_gives_each_letter_under_its_name():
    data = bombs.zip_of({"FOI-0193/response.pdf": samples.pdf_with_text(), "FOI-0193/annex.docx": samples.docx_letter(["Annex A lists the redactions."])})
    result = extract_text(data, "FOI-0193.zip", "application/zip")
    assert result.status == "ok" and result.text_source == "text_layer"
    assert result.method.startswith("zip (stdlib) + pypdf ") and "docx stream" in result.method
    lines = result.text.splitlines()
    assert lines[0] == "--- file: FOI-0193/response.pdf"
    assert "--- file: FOI-0193/annex.docx" in lines and "Annex A lists the redactions." in lines


def test_members_that_cannot_be_read_are_named():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("letter.txt", "Refused under section 36.")
        zf.writestr("broken.pdf", b"%PDF-1.4 nothing here")
    result = extract_text(out.getvalue(), "bundle.zip")
    assert result.status == "ok" and "Refused under section 36." in result.text
    assert result.reason.startswith("members not read: 'broken.pdf': ")


def test_too_many_members():
    data = bombs.zip_of({f"f{i}.txt": b"x" for i in range(30)})
    result = extract_text(data, "many.zip", limits=Limits(max_members=20))
    assert result.status == "too_large" and "30 members, over the cap of 20" in result.reason


def test_the_inflation_budget_is_shared_with_nested_archives():
    inner = bombs.zip_of({"a.txt": b"section 12 " * 5_000})  # 55 KB inflated
    outer = bombs.zip_of({f"part{i}.zip": inner for i in range(4)})
    result = extract_text(outer, "nested.zip", limits=Limits(max_inflated=150_000))
    assert result.status == "ok"  # the first two fit, the rest are over what is left
    assert result.text.count("--- file: part") == 2
    assert "'part2.zip': too_large" in result.reason or "counting the archives around it" in result.reason


def test_small_members_may_compress_well():
    # 900 KB of one repeated line: a ratio near 1,000, but under the 1 MiB exemption.
    data = bombs.zip_of({"minutes.txt": b"No information held. " * 43_000})
    assert extract_text(data, "minutes.zip").status == "ok"


def test_open_zip_claims_what_it_will_inflate():
    budget = Budget.start(Limits(max_inflated=10_000))
    open_zip(bombs.zip_of({"a.txt": b"a" * 6_000}), budget).close()
    assert budget.inflated_left == 4_000
    try:
        open_zip(bombs.zip_of({"b.txt": b"b" * 6_000}), budget)
    except ZipProblem as problem:
        assert problem.status == "too_large" and "10,000-byte cap (counting the archives around it)" in problem.reason
    else:
        raise AssertionError("the second archive is over what is left")
