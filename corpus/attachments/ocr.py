"""Optical character recognition for scanned letters and pictures of text (the ``ocr`` extra).

Pages of an image-only PDF are rendered with pypdfium2 (PDFium, the renderer
in Chromium) and read by Tesseract through pytesseract, one Tesseract run per
page giving both the text and each word's confidence.  Images (JPEG, PNG,
TIFF with all its frames, ...) go to Tesseract directly.  Everything here runs
inside the extraction worker, so its time and memory limits hold; on top of
them pages (or frames) are capped, each page is scaled down to at most
``ocr_pixels`` pixels, and Tesseract's own run is given the time left.

OCR text is marked ``text_source = 'ocr'`` with Tesseract's mean word
confidence (0-100), so queries can weigh or leave it out.
"""

from __future__ import annotations

import io
import math
import shutil
from importlib.util import find_spec
from typing import Any

from corpus.attachments.limits import Budget
from corpus.attachments.result import Extraction, bad, joined, ok, version_of

INSTALL_HINT = "apt install tesseract-ocr && pip install 'foi-corpus[ocr]'"
LANGUAGE = "eng"
TESSERACT = "tesseract"


def unavailable() -> str | None:
    """Why OCR cannot run here, with how to install what is missing; None when it can."""
    missing = [name for name in ("pytesseract", "pypdfium2", "PIL") if find_spec(name) is None]
    if shutil.which(TESSERACT) is None:
        return f"OCR needs Tesseract, which is not installed: {INSTALL_HINT}"
    if missing:
        return f"OCR needs the ocr extra ({', '.join(missing)} not installed): {INSTALL_HINT}"
    return None


def method() -> str:
    import pytesseract

    try:
        tesseract = str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, OSError, SystemExit):  # SystemExit: an unparsable version
        tesseract = "?"
    return f"pytesseract {version_of('pytesseract')} + tesseract {tesseract}"


class _Stop(Exception):
    """OCR stopped early; the message is the note to record."""


def _read(image: Any, budget: Budget) -> tuple[str, list[float]]:
    """Text and word confidences of one picture, from one Tesseract run."""
    import pytesseract

    left = budget.seconds_left()
    if left < 1:
        raise _Stop(f"OCR stopped: the {budget.limits.soft_seconds:g}-second time budget ran out")
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    try:
        text, tsv = pytesseract.run_and_get_multiple_output(image, extensions=["txt", "tsv"], lang=LANGUAGE, timeout=left)
    except RuntimeError as exc:  # pytesseract's timeout
        if "timeout" in str(exc).lower():
            raise _Stop(f"OCR stopped: Tesseract ran out of the {budget.limits.soft_seconds:g}-second time budget") from None
        raise
    confidences: list[float] = []
    for line in tsv.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) >= 12 and cols[0] == "5" and cols[11].strip():
            try:
                conf = float(cols[10])
            except ValueError:
                continue
            if conf >= 0:
                confidences.append(conf)
    return text, confidences


def _result(texts: list[str], confidences: list[float], pages: int | None, note: str | None, what: str, budget: Budget) -> Extraction:
    name = method()
    if not confidences:
        return bad("no_text_layer", joined(f"{what}; OCR found no words", note) or "", name, pages, source="ocr")
    mean = round(sum(confidences) / len(confidences), 1)
    return ok("\n\n".join(texts), name, pages, note, max_chars=budget.limits.max_chars, source="ocr", confidence=mean)


def ocr_pdf(data: bytes, n_pages: int, budget: Budget, what: str) -> Extraction:
    """OCR of the first ``ocr_pages`` pages of an image-only PDF."""
    import pypdfium2

    limits = budget.limits
    texts: list[str] = []
    confidences: list[float] = []
    note = None
    wanted = min(n_pages, limits.ocr_pages)
    if n_pages > wanted:
        note = f"OCR read the first {wanted} of {n_pages} pages (page cap)"
    document = pypdfium2.PdfDocument(data)
    try:
        for index in range(min(wanted, len(document))):
            page = document[index]
            try:
                width, height = page.get_size()
                scale = limits.ocr_dpi / 72
                if width * height * scale * scale > limits.ocr_pixels:
                    scale = math.sqrt(limits.ocr_pixels / max(width * height, 1.0))
                bitmap = page.render(scale=scale, grayscale=True)
                try:
                    text, conf = _read(bitmap.to_pil(), budget)
                finally:
                    bitmap.close()
            except _Stop as stop:
                note = joined(note, f"{stop} after {index} of {wanted} pages")
                break
            finally:
                page.close()
            texts.append(text)
            confidences.extend(conf)
    finally:
        document.close()
    return _result(texts, confidences, n_pages, note, what, budget)


def _fit(picture: Any, limits_pixels: int) -> Any:
    """The picture as greyscale of at most ``limits_pixels`` pixels (a JPEG is decoded small to begin with)."""
    width, height = picture.size
    if width * height > limits_pixels:
        factor = math.sqrt(limits_pixels / (width * height))
        target = (max(1, int(width * factor)), max(1, int(height * factor)))
        if picture.format == "JPEG":
            picture.draft("L", target)  # decodes at 1/2, 1/4 or 1/8 scale, never below the target
        image = picture.convert("L")
        return image.resize(target) if image.width * image.height > limits_pixels else image
    return picture.convert("L")


def ocr_image(data: bytes, budget: Budget) -> Extraction:
    """OCR of an image file (each frame of a multi-page TIFF, up to ``ocr_pages``)."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    limits = budget.limits
    # Only a JPEG can be decoded at a fraction of its size; other formats must fit as they are.
    cap = limits.ocr_pixels
    try:
        picture = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        return bad("too_large", "an image of too many pixels to decode (Pillow's decompression-bomb check)")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        return bad("corrupt", f"not a readable image ({type(exc).__name__})")
    texts: list[str] = []
    confidences: list[float] = []
    note = None
    frames = 0
    with picture:
        width, height = picture.size
        allowed = cap * 64 if picture.format == "JPEG" else cap
        if width * height > allowed:
            return bad("too_large", f"an image of {width:,} x {height:,} pixels, over the {allowed:,}-pixel cap for OCR")
        total = getattr(picture, "n_frames", 1)
        for frame in ImageSequence.Iterator(picture):
            if frames >= limits.ocr_pages:
                note = f"OCR read the first {frames} of {total} frames (page cap)"
                break
            try:
                text, conf = _read(_fit(frame, cap), budget)
            except _Stop as stop:
                note = joined(note, f"{stop} after {frames} frames")
                break
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                if frames == 0:
                    return bad("corrupt", f"not a readable image ({type(exc).__name__}: {str(exc)[:100]})")
                note = joined(note, f"frame {frames + 1} could not be decoded")
                break
            frames += 1
            texts.append(text)
            confidences.extend(conf)
    return _result(texts, confidences, frames or None, note, "an image file", budget)
