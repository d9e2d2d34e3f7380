"""OCR of scanned letters: the grounds a refusal cites survive being printed and scanned.

Each letter is written as a PDF with a real text layer by the sample site's
PDF writer, then "scanned" (rendered to a skewed, speckled JPEG and wrapped in
an image-only PDF).  The refusal grounds found in the OCR text must be the
grounds found in the text layer.
"""

from __future__ import annotations

import difflib
import io
import time

import pytest

from corpus.attachments import ocr
from corpus.attachments.extract import Limits, extract_text
from corpus.derive.refusals import extract_citations
from corpus.sample_site.pdf import minimal_pdf

from . import samples
from .treerss import REPORT_MAXRSS, run_measured

needs_tesseract = pytest.mark.skipif(ocr.unavailable() is not None, reason=f"OCR is not installed here: {ocr.unavailable()}")

# Three authorities, three styles; none of this wording is used anywhere else in the project.
LETTERS = {
    "council_cost": ("FOIA", """Ref: FOI 2024/1182
Dear Mr Pennington,
Thank you for your request dated 4 April 2024 asking for every invoice paid to highway maintenance contractors since 2015.
I am sorry, but we estimate that locating, retrieving and extracting this information would take more than 18 hours, which exceeds the appropriate limit of 450 pounds. Section 12(1) of the Freedom of Information Act 2000 therefore means the Council is not obliged to comply with your request.
Spending of 500 pounds or more is already published on our transparency pages, so that part of your request is exempt under section 21 as it is reasonably accessible to you by other means.
You might wish to narrow your request, for example to a single financial year.
Yours sincerely
Corporate Information Team"""),
    "police_ncnd": ("FOIA", """Freedom of Information Request Reference No: 000317/24
I write in connection with your request for information received by Northshire Police on 12 February 2024 regarding the use of covert surveillance equipment at public events.
Northshire Police can neither confirm nor deny that it holds any information relevant to your request, by virtue of the following exemptions: Section 23(5) Information supplied by, or concerning, certain security bodies; Section 24(2) National Security; Section 31(3) Law Enforcement.
Sections 24 and 31 are qualified exemptions and a public interest test has been carried out. Confirming or denying the use of specialist tactics would undermine the force's ability to prevent and detect crime.
Yours sincerely, Disclosure Officer"""),
    "eir_manifestly_unreasonable": ("EIR", """Environmental Information Regulations 2004 - request EIR/0933
Dear Dr Haldane,
You asked for all correspondence about the flood defence scheme at Millbrook since January 2019.
We hold a large volume of emails on this subject. Having estimated the time needed to review them, we consider the request manifestly unreasonable and refuse it under regulation 12(4)(b). We have applied the public interest test and find that it favours maintaining the exception.
Some documents also contain the names of members of the public, which we would withhold under regulation 13 as personal data.
If you are dissatisfied you may ask for a reconsideration within 40 working days.
Regards, Flood Risk Management Team"""),
}


def _lines(text: str, width: int = 85) -> list[str]:
    out: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        out.append(line)
    return out


def grounds(text: str, regime: str) -> set[tuple[str, str]]:
    return {(c.regime, c.provision) for c in extract_citations(text, regime)}


OCR_ALL = (
    """
import json, sys, time
from corpus.attachments.sandbox import ExtractorPool
RESULT = {}
with ExtractorPool() as pool:
    for path in sys.argv[1:]:
        started = time.monotonic()
        r = pool.extract(open(path, "rb").read(), "scan.pdf", "application/pdf")
        RESULT[path] = {"status": r.status, "text": r.text, "text_source": r.text_source, "method": r.method,
                        "confidence": r.ocr_confidence, "pages": r.pages, "seconds": time.monotonic() - started}
"""
    + REPORT_MAXRSS
)


@needs_tesseract
def test_scanned_letters_give_the_grounds_of_their_text_layer(tmp_path):
    printed = {}
    paths = []
    for name, (regime, letter) in LETTERS.items():
        pdf = minimal_pdf(_lines(letter))
        layer = extract_text(pdf, f"{name}.pdf")
        assert layer.status == "ok" and layer.text_source == "text_layer"
        assert grounds(layer.text, regime), f"the {name} letter must cite something"
        scan = samples.scan_of(pdf)
        assert extract_text(scan, "scan.pdf", limits=Limits(ocr=False)).status == "no_text_layer"
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(scan)
        paths.append(str(path))
        printed[str(path)] = (name, regime, layer.text)

    # All three through one bounded worker, as a sync would run them.
    got = run_measured(OCR_ALL, *paths)
    assert got.tree_mb < 400 and got.process_mb < 400, (got.tree_mb, got.process_mb)
    for path, result in got.out.items():
        if path == "maxrss_mb":
            continue
        name, regime, layer_text = printed[path]
        assert result["status"] == "ok", result
        assert result["text_source"] == "ocr" and result["pages"] == 1
        assert result["method"].startswith("pytesseract ") and " + tesseract " in result["method"]
        assert 60 < result["confidence"] <= 100
        assert grounds(result["text"], regime) == grounds(layer_text, regime), name
        accuracy = difflib.SequenceMatcher(None, layer_text.split(), result["text"].split()).ratio()
        print(f"{name}: word accuracy {accuracy:.3f}, confidence {result['confidence']}, {result['seconds']:.1f} s")
        assert accuracy > 0.9, name
    print(f"tree peak {got.tree_mb:.0f} MB, largest process {got.process_mb:.0f} MB")


def _page_image(pdf: bytes, dpi: int = 200):
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[0].render(scale=dpi / 72, grayscale=True).to_pil()
    finally:
        document.close()


@needs_tesseract
def test_an_image_file_is_read_by_ocr():
    buf = io.BytesIO()
    page = _page_image(samples.scan_of(minimal_pdf(_lines(LETTERS["council_cost"][1]))))
    page.crop((0, 0, page.width, page.height // 3)).save(buf, "PNG")  # the letter's top third, as a photo of it
    result = extract_text(buf.getvalue(), "IMG_0042.png", "image/png")
    assert result.status == "ok" and result.text_source == "ocr" and result.pages == 1
    assert result.ocr_confidence is not None
    assert grounds(result.text, "FOIA") == {("FOIA", "s12(1)"), ("FOIA", "s21")}


@needs_tesseract
def test_ocr_page_cap_is_noted():
    result = extract_text(samples.scan_of(samples.pdf_with_text(pages=2)), "scan.pdf", limits=Limits(ocr_pages=1))
    assert result.status == "ok" and result.text_source == "ocr" and result.pages == 2
    assert result.reason == "OCR read the first 1 of 2 pages (page cap)"
    assert "Page 1" in result.text and "Page 2" not in result.text


@needs_tesseract
def test_huge_page_is_rendered_within_the_pixel_cap():
    # A scanned page declared 5 m square: 3.6 billion pixels at 300 dpi, unless scaled down to the cap.
    from .bombs import _pdf

    draw = b"q 14400 0 0 14400 0 0 cm /Im1 Do Q"
    big = _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 1 >>\nstream\n\xff\nendstream",
        b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream",
    ])
    started = time.monotonic()
    result = extract_text(big, "plan.pdf", limits=Limits(ocr_pixels=4_000_000))
    assert result.status == "no_text_layer" and result.text_source == "ocr"
    assert result.reason.endswith("OCR found no words")
    assert time.monotonic() - started < 30


def _hidden_tesseract(monkeypatch, tmp_path):
    """A PATH with everything the worker needs but no tesseract."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))


def test_without_tesseract_a_scan_says_how_to_install_it(monkeypatch, tmp_path):
    _hidden_tesseract(monkeypatch, tmp_path)
    assert ocr.unavailable() is not None
    result = extract_text(samples.scan_of(samples.pdf_with_text()), "scan.pdf")
    assert result.status == "no_text_layer" and result.text == ""
    assert result.text_source is None  # OCR was not tried: a later run with OCR installed tries again
    assert result.reason == (
        "1 page(s) of images only with no text layer: probably a scan; "
        "OCR needs Tesseract, which is not installed: apt install tesseract-ocr && pip install 'foi-corpus[ocr]'"
    )


def test_without_tesseract_in_the_worker_too(monkeypatch, tmp_path):
    from corpus.attachments.sandbox import ExtractorPool

    _hidden_tesseract(monkeypatch, tmp_path)  # the worker inherits the PATH
    with ExtractorPool() as pool:
        scan = pool.extract(samples.scan_of(samples.pdf_with_text()), "scan.pdf", "application/pdf")
        photo = pool.extract(samples.png_of_text(), "photo.png", None)
    for result in (scan, photo):
        assert result.status == "no_text_layer" and result.text_source is None
        assert result.reason.endswith("OCR needs Tesseract, which is not installed: apt install tesseract-ocr && pip install 'foi-corpus[ocr]'")
