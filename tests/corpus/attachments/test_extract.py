"""extract_text on real files of every supported type, and on the failures it must name."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.attachments import extract as ex
from corpus.attachments.extract import (
    STATUSES,
    Extraction,
    Limits,
    detect_kind,
    extract_text,
)

from . import samples

S12 = "exceed the appropriate limit"
S40 = "section 40(2)"


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_pdf_text_layer_is_read_with_method_and_pages():
    result = extract_text(samples.pdf_with_text(pages=3), "Response letter.pdf", "application/pdf")
    assert result.status == "ok"
    assert result.pages == 3
    assert result.method.startswith("pypdf ")
    flat = _flat(result.text)
    assert S12 in flat and S40 in flat and "section 12" in flat
    assert "Page 3" in result.text
    assert result.characters == len(result.text) > 200


def test_pdf_is_recognised_by_its_bytes_whatever_the_name():
    result = extract_text(samples.pdf_with_text(), "letter.doc", "application/msword")
    assert result.status == "ok" and result.method.startswith("pypdf")


def test_scanned_pdf_without_words_has_no_text_layer():
    # Pictures of ruled lines: a scan, but OCR (when installed) finds no words in it.
    result = extract_text(samples.scanned_pdf(pages=2), "scan0001.pdf")
    assert result == Extraction("", 2, result.method, "no_text_layer", result.reason, result.text_source)
    assert "images only" in result.reason and "OCR" in result.reason


def test_encrypted_pdf_is_reported_not_opened():
    result = extract_text(samples.encrypted_pdf(), "protected.pdf")
    assert result.status == "encrypted"
    assert result.text == ""
    assert "password" in result.reason


def test_pdf_with_empty_user_password_is_read():
    result = extract_text(samples.owner_only_encrypted_pdf(), "restricted.pdf")
    assert result.status == "ok"
    assert S40 in _flat(result.text)


@pytest.mark.parametrize(
    "data, name",
    [
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer garbage", "broken.pdf"),
        (samples.pdf_with_text()[:300], "truncated.pdf"),
    ],
)
def test_corrupt_pdf_is_reported(data, name):
    result = extract_text(data, name)
    assert result.status == "corrupt", result
    assert result.reason and result.text == ""


def test_file_named_pdf_that_is_not_one():
    result = extract_text(b"<html><body>Sorry, something went wrong</body></html>\x00\x01", "letter.pdf")
    assert result.status == "corrupt"
    assert result.reason == "named as PDF but the bytes are not a PDF file"


def test_docx_paragraphs_and_tables_in_order():
    data = samples.docx_letter(table=[["Exemption", "Section"], ["Personal data", "40(2)"]])
    result = extract_text(data, "Decision.docx")
    assert result.status == "ok"
    assert result.method.startswith("docx stream")
    assert result.pages is None and result.text_source == "text_layer"
    text = result.text
    assert text.index("Response to your request") < text.index(S12) < text.index("Personal data\t40(2)")
    assert text.index("Personal data\t40(2)") < text.index("Yours sincerely")


def test_xlsx_rows_are_tab_separated_under_sheet_title():
    rows = [["Year", "Requests", "Refused under s12"], [2022, 140, 11], [2023, 152, None]]
    result = extract_text(samples.xlsx_table(rows, title="FOI stats"), "stats.xlsx")
    assert result.status == "ok"
    assert result.method.startswith("openpyxl ")
    assert result.text.splitlines() == ["# FOI stats", "Year\tRequests\tRefused under s12", "2022\t140\t11", "2023\t152"]


def test_csv_is_read_with_its_delimiter():
    data = "name;reason\nA. Smith;section 40(2)\n".encode("cp1252")
    result = extract_text(data, "data.csv", "text/csv")
    assert result.status == "ok" and result.method == "csv (stdlib)"
    assert result.text.splitlines() == ["name\treason", "A. Smith\tsection 40(2)"]


def test_odt_is_read_from_content_xml():
    result = extract_text(samples.odt_letter(), "reply.odt")
    assert result.status == "ok"
    lines = result.text.splitlines()
    assert lines[0] == "Decision"
    assert "Two   spaces\tand a tab" in lines
    assert S40 in result.text


def test_rtf():
    result = extract_text(samples.rtf_letter(), "letter.rtf", "application/rtf")
    assert result.status == "ok"
    assert result.method.startswith("striprtf ")
    assert S12 in _flat(result.text)
    assert "{" not in result.text and "\\par" not in result.text


def test_plain_text_in_windows_1252():
    data = "Cost: \u00a3450 \u2013 section 12 applies.\r\nRegards".encode("cp1252")
    result = extract_text(data, "note.txt")
    assert result.status == "ok"
    assert result.text == "Cost: \u00a3450 \u2013 section 12 applies.\nRegards"


def test_html_text_without_scripts():
    data = b"<html><head><style>p{}</style><script>var x=1</script></head><body><p>Refused under</p><p>section 43(2)</p></body></html>"
    result = extract_text(data, "page.htm")
    assert result.status == "ok" and result.method.startswith("selectolax ")
    assert result.text.splitlines() == ["Refused under", "section 43(2)"]


def test_attached_email_is_walked_into_its_pdf():
    result = extract_text(samples.eml_with_pdf(), "Your request.eml")
    assert result.status == "ok"
    assert result.method.startswith("email (stdlib) + pypdf ")
    assert "Subject: Your FOI request FOI-2024-0193" in result.text
    assert "Please find our response attached." in result.text
    assert S12 in _flat(result.text)


def test_image_without_ocr_says_how_to_install_it():
    result = extract_text(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "scan.png", "image/png", limits=Limits(ocr=False))
    assert result.status == "no_text_layer" and "OCR" in result.reason


def test_legacy_doc_without_converter_is_unsupported(monkeypatch):
    monkeypatch.setattr(ex.shutil, "which", lambda name: None)
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    result = extract_text(ole, "letter.doc", "application/msword")
    assert result.status == "unsupported"
    assert "antiword or catdoc" in result.reason
    result = extract_text(ole, "table.xls")
    assert result.status == "unsupported" and "xls2csv" in result.reason


def test_legacy_doc_through_converter_on_path(tmp_path, monkeypatch):
    tool = tmp_path / "antiword"
    tool.write_text('#!/bin/sh\n# stands in for antiword: prints the text of the file named last\necho "Refused under section 41."\n')
    tool.chmod(0o755)
    monkeypatch.setattr(ex.shutil, "which", lambda name: str(tool) if name == "antiword" else None)
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    result = extract_text(ole, "letter.doc")
    assert result == Extraction("Refused under section 41.", None, "antiword (system tool)", "ok", None, "text_layer")


@pytest.mark.parametrize(
    "data, name, status, words",
    [
        (b"", "empty.pdf", "corrupt", "empty"),
        (b"PK\x03\x04garbage", "letter.docx", "corrupt", "zip"),
        (b"\x00\x01\x02\x03binary" * 10, "blob.bin", "unsupported", "binary"),
        (b"PK\x05\x06" + b"\x00" * 18, "bundle.zip", "ok", "no text"),
    ],
)
def test_bad_inputs_are_named(data, name, status, words):
    result = extract_text(data, name)
    assert result.status == status
    assert words in result.reason


def test_size_cap():
    result = extract_text(samples.pdf_with_text(), "big.pdf", limits=Limits(max_bytes=100))
    assert result.status == "too_large"
    assert "100-byte cap" in result.reason


def test_zip_is_refused_before_inflating_past_the_cap():
    result = extract_text(samples.docx_letter(), "big.docx", limits=Limits(max_inflated=1000))
    assert result.status == "too_large" and "inflate" in result.reason


def test_detect_kind_prefers_bytes_then_type_then_name():
    assert detect_kind(samples.docx_letter(), "x.pdf") == "docx"
    assert detect_kind(samples.xlsx_table([[1]]), "x") == "xlsx"
    assert detect_kind(b"hello", "x", "text/csv") == "csv"
    assert detect_kind(b"hello", "x.txt", "text/csv") == "text"
    assert detect_kind(b"<!DOCTYPE html><p>x", "download") == "html"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.binary(max_size=300).map(lambda b: b"%PDF-1.5\n" + b),
        st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b),
        st.binary(max_size=300).map(lambda b: b"{\\rtf1 " + b),
    ),
    name=st.sampled_from(["a.pdf", "a.docx", "a.xlsx", "a.odt", "a.rtf", "a.eml", "a.csv", "a.txt", "a.html", "a"]),
)
def test_never_raises_and_status_is_known(data, name):
    result = extract_text(data, name)
    assert result.status in STATUSES
    assert isinstance(result.text, str)
    assert result.status == "ok" or (result.text == "" and result.reason)
