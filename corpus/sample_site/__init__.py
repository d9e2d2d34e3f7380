"""A sample Alaveteli site for tests and ``corpus demo``.

``sample_corpus()`` is a small hand-described WhatDoTheyKnow (every request
state, refusal grounds, attachments, annotations, hidden items);
``generate_corpus()`` makes large synthetic ones (for trying the tool, and the
benchmarks, at any size); ``FakeSite`` serves either over HTTP on 127.0.0.1
with the real site's markup, JSON and status codes.  The tests' fault
injection and hit recording live with the tests (``tests/support/site.py``).
"""

from corpus.sample_site.data import (
    FakeAnnotation,
    FakeAttachment,
    FakeAuthority,
    FakeMessage,
    FakeRequest,
    FakeUser,
    SiteCorpus,
)
from corpus.sample_site.generate import generate_corpus
from corpus.sample_site.sample import sample_corpus
from corpus.sample_site.server import FakeSite

__all__ = [
    "FakeAnnotation",
    "FakeAttachment",
    "FakeAuthority",
    "FakeMessage",
    "FakeRequest",
    "FakeSite",
    "FakeUser",
    "SiteCorpus",
    "generate_corpus",
    "sample_corpus",
]
