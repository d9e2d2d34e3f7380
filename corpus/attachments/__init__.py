"""Attachment text: download incoming attachments, extract their text locally, store it."""

from corpus.attachments.extract import Extraction, extract_text

__all__ = ["Extraction", "extract_text"]
