"""Attachment text: download incoming attachments, extract their text within limits, store it.

* :func:`corpus.attachments.sync.sync_attachments` is the step ``corpus sync
  --attachments text|files`` runs after the threads are loaded;
* :func:`corpus.attachments.reextract.reextract_all` redoes kept files for
  ``corpus reparse``;
* :func:`corpus.attachments.extract.extract_text` turns bytes into an
  :class:`~corpus.attachments.result.Extraction` within
  :class:`~corpus.attachments.limits.Limits`, and
  :class:`~corpus.attachments.sandbox.ExtractorPool` runs it in worker
  processes bounded in time and memory.

The names are loaded on first use, not here: the worker process imports this
package too, and its address-space limit would count pyarrow's and DuckDB's
reservations (several hundred megabytes) that it never needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corpus.attachments.extract import extract_text
    from corpus.attachments.limits import Limits
    from corpus.attachments.reextract import ReextractStats, reextract_all
    from corpus.attachments.result import Extraction
    from corpus.attachments.sandbox import ExtractorPool
    from corpus.attachments.sync import (
        AttachmentOptions,
        AttachmentStats,
        sync_attachments,
    )

_HOME = {
    "extract_text": "extract",
    "Limits": "limits",
    "ReextractStats": "reextract",
    "reextract_all": "reextract",
    "Extraction": "result",
    "ExtractorPool": "sandbox",
    "AttachmentOptions": "sync",
    "AttachmentStats": "sync",
    "sync_attachments": "sync",
}

__all__ = [
    "AttachmentOptions",
    "AttachmentStats",
    "Extraction",
    "ExtractorPool",
    "Limits",
    "ReextractStats",
    "extract_text",
    "reextract_all",
    "sync_attachments",
]


def __getattr__(name: str) -> object:
    if name in _HOME:
        return getattr(import_module(f"corpus.attachments.{_HOME[name]}"), name)
    raise AttributeError(f"module 'corpus.attachments' has no attribute {name!r}")
