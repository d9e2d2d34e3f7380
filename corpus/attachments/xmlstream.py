"""Streaming XML for office documents: events in, no tree kept, refused DTDs.

DOCX and ODT text lives in one XML part that a hostile file can inflate to
hundreds of megabytes.  Building a tree of it (as python-docx and
``ElementTree.fromstring`` do) costs many times its size in memory, so these
parts are read with expat in 64 KiB chunks: a handler receives start, end and
character events and keeps only the text it wants, and it stops the parse by
raising :class:`~corpus.attachments.limits.CapReached` once the character cap
is met.  Office formats never need a document type declaration, so one (the
vehicle of entity-expansion bombs) makes the file ``corrupt``.
"""

from __future__ import annotations

from typing import IO, Protocol
from xml.parsers import expat

from corpus.attachments.limits import Budget, CapReached

CHUNK = 64 * 1024


class XmlRefused(ValueError):
    """The XML uses a construct office files never need (a DTD or entity declaration)."""


class Handler(Protocol):
    def start(self, tag: str, attrs: dict[str, str]) -> None: ...

    def end(self, tag: str) -> None: ...

    def data(self, text: str) -> None: ...


def _refuse(what: str):
    def handler(*_args: object) -> None:
        raise XmlRefused(f"the XML declares {what}, which office files never need")

    return handler


def stream(source: IO[bytes], handler: Handler, budget: Budget) -> None:
    """Feed ``source`` to ``handler``; tags arrive as ``'<namespace> <local name>'``.

    Raises ``expat.ExpatError`` for malformed XML, :class:`XmlRefused` for a DTD,
    and :class:`CapReached` when the time budget runs out (or the handler says so).
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = CHUNK
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.data
    parser.StartDoctypeDeclHandler = _refuse("a document type")
    parser.EntityDeclHandler = _refuse("an entity")
    parser.ExternalEntityRefHandler = _refuse("an external entity")
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            break
        parser.Parse(chunk, False)
        if budget.out_of_time():
            raise CapReached(f"stopped reading after {budget.limits.soft_seconds:g} s (time budget)")
    parser.Parse(b"", True)


class TextSink:
    """Lines of text with a running character count that stops the parse at the cap.

    Handlers call :meth:`grow` as characters arrive (so one endless paragraph
    is stopped too) and :meth:`add` when a line is complete.
    """

    def __init__(self, budget: Budget) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.cap = budget.limits.max_chars

    def grow(self, n: int) -> None:
        self.size += n
        if self.size > self.cap:
            raise CapReached(f"text cut at {self.cap:,} characters")

    def add(self, line: str) -> None:
        """A finished line whose characters were already counted by :meth:`grow`."""
        self.lines.append(line)
        self.grow(1)

    def text(self) -> str:
        return "\n".join(self.lines)
