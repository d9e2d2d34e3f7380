"""PDF text, page by page within the caps, with OCR for scans when it is installed.

pypdf reads the text layer under a tighter configuration than its own
defaults: one content stream may decode to at most ``max_stream_bytes`` and
hold at most ``max_stream_tokens`` tokens (pypdf's defaults, 75 MB and two
million, let a 211 KB file whose 200 pages share one 74 MB stream take seconds
and hundreds of megabytes per page).  A page over those caps is skipped, and
so is every later page that shares its content stream, without parsing it
again.  Pages past ``max_pages``, or past the time budget, are not read; the
reason says so.

A PDF with pages of pictures and no text layer is a scan: it goes to OCR
(:mod:`corpus.attachments.ocr`) when Tesseract and the ``ocr`` extra are
installed, and is recorded ``no_text_layer`` with how to install them otherwise.
"""

from __future__ import annotations

import io
import logging

from corpus.attachments import ocr
from corpus.attachments.limits import Budget, MiB
from corpus.attachments.result import (
    Extraction,
    bad,
    has_words,
    joined,
    method_of,
    ok,
    short,
)


def _contents_key(page) -> object:
    """What identifies a page's content stream(s), so pages sharing one are recognised."""
    from pypdf.generic import ArrayObject, IndirectObject

    raw = page.raw_get("/Contents") if "/Contents" in page else None
    if isinstance(raw, IndirectObject):
        return (raw.idnum, raw.generation)
    if isinstance(raw, ArrayObject):
        return tuple((item.idnum, item.generation) if isinstance(item, IndirectObject) else id(item) for item in raw)
    return None


def _has_images(page) -> bool:
    try:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources else None
        return bool(xobjects)
    except Exception:
        return False


def pdf(data: bytes, budget: Budget) -> Extraction:
    import pypdf
    from pypdf.errors import (
        DependencyError,
        FileNotDecryptedError,
        LimitReachedError,
        PdfReadError,
    )

    limits = budget.limits
    method = method_of("pypdf")
    # pypdf logs every repaired defect; they are expected in the wild and not news here.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    caps = pypdf.apply_configuration(
        zlib_maximum_output_length=limits.max_stream_bytes,
        lzw_maximum_output_length=limits.max_stream_bytes,
        run_length_maximum_output_length=limits.max_stream_bytes,
        array_based_stream_maximum_output_length=limits.max_stream_bytes,
        stream_parsing_work_maximum_count=limits.max_stream_tokens,
    )
    with caps:
        try:
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except (DependencyError, NotImplementedError) as exc:
                    return bad("encrypted", f"the PDF is encrypted with a cipher this install cannot open ({short(exc)})", method)
                if not opened:
                    return bad("encrypted", "the PDF needs a password to open", method)
            pages = reader.pages
            n_pages = len(pages)
        except FileNotDecryptedError:
            return bad("encrypted", "the PDF needs a password to open", method)
        except LimitReachedError as exc:
            return bad("too_large", f"the PDF's structure is over pypdf's caps ({short(exc)})", method)
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
            return bad("corrupt", f"not a readable PDF ({short(exc)})", method)

        chunks: list[str] = []
        broken: list[int] = []
        capped: list[int] = []
        over_cap: set[object] = set()
        notes: list[str] = []
        image_pages = 0
        size = 0
        for number in range(1, n_pages + 1):
            if number > limits.max_pages:
                notes.append(f"read the first {limits.max_pages:,} of {n_pages:,} pages (page cap)")
                break
            if budget.out_of_time():
                notes.append(f"stopped after page {number - 1} of {n_pages} ({limits.soft_seconds:g}-second time budget)")
                break
            if size > limits.max_chars:
                break  # ok() cuts the text and says so
            try:
                page = pages[number - 1]
                key = _contents_key(page)
            except MemoryError:
                raise
            except Exception:
                broken.append(number)
                continue
            if key is not None and key in over_cap:
                capped.append(number)
                continue
            try:
                text = page.extract_text() or ""
            except FileNotDecryptedError:
                return bad("encrypted", "the PDF needs a password to open", method, n_pages)
            except LimitReachedError:
                if key is not None:
                    over_cap.add(key)
                capped.append(number)
                continue
            except MemoryError:
                raise  # the whole extraction is over the memory limit, not this page broken
            except Exception:  # a broken content stream spoils one page, not the file
                broken.append(number)
                continue
            chunks.append(text)
            size += len(text)
            if _has_images(page):
                image_pages += 1

    text = "\n\n".join(chunks)
    stream_cap = f"{limits.max_stream_bytes / MiB:g} MiB decoded or {limits.max_stream_tokens:,} tokens per content stream"
    if capped:
        notes.append(f"{len(capped)} of {n_pages} pages not read: content over the caps ({stream_cap})")
    if broken:
        notes.append(f"{len(broken)} of {n_pages} pages could not be read (page {', '.join(map(str, broken[:10]))})")
    if has_words(text):
        return ok(text, method, n_pages, joined(*notes), max_chars=limits.max_chars)
    if n_pages == 0:
        return bad("corrupt", "the PDF has no pages", method, 0)
    if capped and not chunks:
        return bad("too_large", joined(*notes) or "", method, n_pages)
    if broken and not chunks:
        return bad("corrupt", f"none of the {n_pages} pages could be read", method, n_pages)
    if not image_pages:
        return bad("no_text_layer", f"{n_pages} page(s) with no text and no pictures", method, n_pages, source="text_layer")
    what = f"{n_pages} page(s) of images only with no text layer: probably a scan"
    if not limits.ocr:
        return bad("no_text_layer", f"{what}; OCR is switched off", method, n_pages)
    missing = ocr.unavailable()
    if missing is not None:
        return bad("no_text_layer", f"{what}; {missing}", method, n_pages)
    return ocr.ocr_pdf(data, n_pages, budget, what)
