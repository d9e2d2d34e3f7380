"""Decoding a response body ourselves, never past a byte cap.

HTTP clients decode ``Content-Encoding`` for you, all of it: httpx undoes
``gzip, gzip`` (or ten layers) without limit, so a few kilobytes on the wire
can become gigabytes in memory before any size check runs.  The fetcher
therefore reads the raw bytes and decodes them here, with zlib's
``max_length`` bounding every step, so no call ever returns more than the room
left under the cap.

Accepted: no encoding (``identity``), or exactly one of ``gzip`` (``x-gzip``)
and ``deflate`` (zlib-wrapped, or raw as some servers send it).  Anything else
(stacked encodings, ``br``, ``zstd``, ``compress``, unknown names) is refused
before the body is read.  Pure: no I/O.
"""

from __future__ import annotations

import zlib

ACCEPTED = ("identity", "gzip", "deflate")
_ALIASES = {"x-gzip": "gzip"}


class UnsupportedEncoding(Exception):
    """A Content-Encoding this module does not decode; ``encoding`` is the header as sent."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        super().__init__(
            f"unsupported content encoding {encoding!r} (only none, or a single gzip or deflate, is accepted)"
        )


class CorruptBody(Exception):
    """The encoded body is damaged, or ends before its compressed stream does."""


class OverCap(Exception):
    """Decoding would pass the byte cap; ``head`` holds the decoded bytes that still fit."""

    def __init__(self, head: bytes = b""):
        super().__init__("over the byte cap")
        self.head = head


def encoding_of(header: str | None) -> str:
    """The one encoding named by a Content-Encoding header: 'identity', 'gzip' or 'deflate'.

    ``identity`` entries are ignored (``gzip, identity`` is gzip); two real
    encodings, or one not in ``ACCEPTED``, raise ``UnsupportedEncoding``.

    >>> encoding_of(None), encoding_of(" GZIP "), encoding_of("x-gzip, identity")
    ('identity', 'gzip', 'gzip')
    """
    if header is None:
        return "identity"
    names = [_ALIASES.get(n, n) for n in (p.strip().lower() for p in header.split(",")) if n]
    names = [n for n in names if n != "identity"]
    if not names:
        return "identity"
    if len(names) > 1 or names[0] not in ACCEPTED:
        raise UnsupportedEncoding(header.strip())
    return names[0]


class BodyDecoder:
    """Decodes one response body chunk by chunk, never producing more than ``room`` bytes per call.

    ``feed(raw, room)`` returns the decoded bytes of ``raw`` and raises
    ``OverCap`` (with the first ``room`` of them) as soon as they would be more
    than ``room``, the bytes still allowed under the cap; ``finish(room)`` does
    the same for anything held back and raises ``CorruptBody`` when a
    compressed stream ended early.
    """

    def __init__(self, encoding: str):
        if encoding not in ACCEPTED:
            raise UnsupportedEncoding(encoding)
        self.encoding = encoding
        self._z = self._new()
        self._started = False  # deflate: whether the zlib wrapper was tried on real data
        self._done = encoding == "identity"

    def _new(self, raw_deflate: bool = False):
        if self.encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.encoding == "deflate":
            return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)
        return None

    def feed(self, raw: bytes, room: int) -> bytes:
        if self._z is None:  # identity
            if len(raw) > room:
                raise OverCap(raw[:room])
            return raw
        out = bytearray()
        data = raw
        while data:
            if self._z.eof:
                # Another gzip member may follow (RFC 1952 allows several); deflate has one stream.
                if self.encoding != "gzip" or not data.strip(b"\0"):
                    return bytes(out)
                self._z = self._new()
            try:
                piece = self._z.decompress(data, room - len(out) + 1)
            except zlib.error as exc:
                if self.encoding == "deflate" and not self._started:
                    # Some servers send raw deflate under "deflate": read it so.
                    self._started = True
                    self._z = self._new(raw_deflate=True)
                    continue
                raise CorruptBody(f"damaged {self.encoding} body ({exc})") from None
            self._started = True
            out += piece
            if len(out) > room:
                raise OverCap(bytes(out[:room]))
            # All input is consumed unless the output filled max_length (handled above)
            # or the stream ended with bytes to spare.
            data = self._z.unused_data if self._z.eof else b""
        return bytes(out)

    def finish(self, room: int) -> bytes:
        if self._z is None:
            return b""
        rest = self._z.flush()
        if len(rest) > room:
            raise OverCap(rest[:room])
        if not self._z.eof and (self._started or rest):
            raise CorruptBody(f"the {self.encoding} body ends before its compressed stream does")
        return rest
