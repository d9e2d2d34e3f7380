"""Attachment text: download incoming attachments, extract their text locally, store it.

``corpus sync --attachments text|files`` calls :func:`sync_hook` after the
threads are loaded; ``corpus reparse`` calls :func:`reextract_all` for kept
files; the refusal analysis reads :func:`attachment_citation_rows`.
"""

from corpus.attachments.extract import Extraction, extract_text
from corpus.attachments.sync import AttachmentStats, sync_hook

__all__ = ["AttachmentStats", "Extraction", "extract_text", "sync_hook"]
