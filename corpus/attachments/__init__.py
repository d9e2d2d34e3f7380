"""Attachment text: download incoming attachments, extract their text locally, store it.

``corpus sync --attachments text|files`` calls :func:`sync_hook` after the
threads are loaded; ``corpus reparse`` calls :func:`reextract_all` for kept
files; ``corpus.derive`` reads ``attachment_texts`` for refusal citations.
"""

from corpus.attachments.extract import Extraction, extract_text
from corpus.attachments.reextract import ReextractStats, reextract_all
from corpus.attachments.sync import AttachmentStats, sync_hook

__all__ = [
    "AttachmentStats",
    "Extraction",
    "ReextractStats",
    "extract_text",
    "reextract_all",
    "sync_hook",
]
