"""The streaming DOCX and ODF readers and the capped XLSX reader on the structures real files use."""

from __future__ import annotations

import io
import zipfile

from corpus.attachments.extract import Limits, extract_text

from . import samples

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def docx_from_xml(body: str, parts: dict[str, str] | None = None) -> bytes:
    """A DOCX whose document body is ``body`` (WordprocessingML), written by hand."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        zf.writestr("word/document.xml", f'<?xml version="1.0"?><w:document xmlns:w="{W}" xmlns:mc="{MC}"><w:body>{body}</w:body></w:document>')
        for name, xml in (parts or {}).items():
            zf.writestr(name, xml)
    return out.getvalue()


def p(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def test_docx_runs_tabs_breaks_and_tab_stops():
    body = (
        "<w:p><w:pPr><w:tabs><w:tab w:val='left' w:pos='720'/></w:tabs></w:pPr>"
        "<w:r><w:t>Exemption</w:t></w:r><w:r><w:tab/><w:t xml:space='preserve'>section </w:t></w:r>"
        "<w:r><w:t>40(2)</w:t><w:br/><w:t>applies</w:t></w:r></w:p>"
        "<w:p><w:r><w:delText>deleted words</w:delText><w:instrText>PAGE</w:instrText><w:t>kept</w:t></w:r></w:p>"
    )
    result = extract_text(docx_from_xml(body), "letter.docx")
    assert result.status == "ok"
    assert result.text == "Exemption\tsection 40(2)\napplies\nkept"


def test_docx_tables_nested_tables_and_blank_cells():
    inner = "<w:tbl><w:tr><w:tc>" + p("inner a") + "</w:tc><w:tc>" + p("inner b") + "</w:tc></w:tr></w:tbl>"
    body = (
        p("Before")
        + "<w:tbl><w:tr><w:tc>" + p("Ground") + "</w:tc><w:tc>" + p("") + "</w:tc><w:tc>" + p("Section") + "</w:tc></w:tr>"
        + "<w:tr><w:tc>" + p("Costs") + inner + "</w:tc><w:tc>" + p("") + "</w:tc><w:tc>" + p("12") + "</w:tc></w:tr></w:tbl>"
        + p("After")
    )
    result = extract_text(docx_from_xml(body), "table.docx")
    assert result.text.splitlines() == ["Before", "Ground\t\tSection", "Costs", "inner a\tinner b\t\t12", "", "After"]


def test_docx_text_box_fallback_is_not_read_twice():
    box = f"<w:txbxContent>{p('In a text box')}</w:txbxContent>"
    body = (
        "<w:p><w:r><w:t>Outer</w:t>"
        f"<mc:AlternateContent><mc:Choice Requires='wps'>{box}</mc:Choice><mc:Fallback>{box}</mc:Fallback></mc:AlternateContent>"
        "</w:r></w:p>"
    )
    result = extract_text(docx_from_xml(body), "box.docx")
    assert result.text.count("In a text box") == 1
    assert result.text.splitlines() == ["In a text box", "Outer"]


def test_docx_headers_and_footers_once_each_after_the_body():
    header = f'<?xml version="1.0"?><w:hdr xmlns:w="{W}">{p("Northshire Council")}</w:hdr>'
    footer = f'<?xml version="1.0"?><w:ftr xmlns:w="{W}">{p("OFFICIAL")}</w:ftr>'
    data = docx_from_xml(p("Body text"), {"word/header1.xml": header, "word/header2.xml": header, "word/footer10.xml": footer})
    result = extract_text(data, "letter.docx")
    assert result.text.splitlines() == ["Body text", "Northshire Council", "OFFICIAL"]


def test_docx_with_a_dtd_is_refused():
    bomb = '<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("word/document.xml", bomb + f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>')
    result = extract_text(out.getvalue(), "laughs.docx")
    assert result.status == "corrupt" and "document type" in result.reason


def test_docx_character_cap_keeps_the_start():
    body = "".join(p(f"Paragraph {i} of the decision letter.") for i in range(2000))
    result = extract_text(docx_from_xml(body), "long.docx", limits=Limits(max_chars=1000))
    assert result.status == "ok" and result.characters == 1000
    assert result.reason == "text cut at 1,000 characters"
    assert result.text.startswith("Paragraph 0 of the decision letter.\nParagraph 1 ")


def test_docx_broken_xml_is_corrupt():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("word/document.xml", f'<w:document xmlns:w="{W}"><w:body><w:p>')
    result = extract_text(out.getvalue(), "cut.docx")
    assert result.status == "corrupt" and "DOCX" in result.reason


def odt_from_body(body: str) -> bytes:
    content = (
        '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0">'
        f"<office:body>{body}</office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content)
    return out.getvalue()


def test_ods_repeated_cells_and_rows_are_clamped():
    body = (
        "<office:spreadsheet><table:table>"
        "<table:table-row><table:table-cell><text:p>Refused</text:p></table:table-cell>"
        "<table:table-cell table:number-columns-repeated='3'><text:p>s12</text:p></table:table-cell>"
        "<table:table-cell table:number-columns-repeated='16000'/></table:table-row>"
        "<table:table-row table:number-rows-repeated='1048000'><table:table-cell><text:p>x</text:p></table:table-cell></table:table-row>"
        "</table:table></office:spreadsheet>"
    )
    result = extract_text(odt_from_body(body), "stats.ods", limits=Limits(max_repeat=5))
    assert result.status == "ok"
    assert result.text.splitlines() == ["Refused\ts12\ts12\ts12"] + ["x"] * 5


def test_odt_note_bodies_are_left_out():
    body = (
        "<office:text><text:p>Withheld under section 43(2)<text:note><text:note-citation>1</text:note-citation>"
        "<text:note-body><text:p>Commercial interests</text:p></text:note-body></text:note> this year.</text:p></office:text>"
    )
    result = extract_text(odt_from_body(body), "reply.odt")
    assert result.text == "Withheld under section 43(2) this year."


def test_xlsx_rows_wider_than_the_column_cap_are_cut():
    rows = [[f"c{i}" for i in range(30)], ["a", "b"]]
    result = extract_text(samples.xlsx_table(rows), "wide.xlsx", limits=Limits(max_columns=10))
    assert result.status == "ok"
    assert result.text.splitlines()[1] == "\t".join(f"c{i}" for i in range(10))
    assert result.reason == "rows cut at 10 columns"
