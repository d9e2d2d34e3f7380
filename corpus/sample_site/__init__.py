"""A sample Alaveteli site for tests and ``corpus demo``.

``sample_corpus()`` is a small hand-described WhatDoTheyKnow (every request
state, refusal grounds, attachments, annotations, hidden items);
``generate_corpus()`` makes large synthetic ones; ``FakeSite`` serves either
over HTTP on 127.0.0.1 with the real site's markup, JSON and status codes.
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
from corpus.sample_site.server import FakeSite, Hit

__all__ = [
    "FakeAnnotation",
    "FakeAttachment",
    "FakeAuthority",
    "FakeMessage",
    "FakeRequest",
    "FakeSite",
    "FakeUser",
    "Hit",
    "SiteCorpus",
    "generate_corpus",
    "sample_corpus",
]
