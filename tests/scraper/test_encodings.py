"""Bounded decoding of response bodies (scraper.encodings): pure, bytes in, bytes out."""

from __future__ import annotations

import gzip
import zlib

import pytest

from scraper.encodings import (
    BodyDecoder,
    CorruptBody,
    OverCap,
    UnsupportedEncoding,
    encoding_of,
)

PAGE = b"<html><body>" + b"<p>Dear FOI team, please send the figures.</p>\n" * 2000 + b"</body></html>"


def _raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


def decode_all(decoder: BodyDecoder, data: bytes, room: int, step: int = 1000) -> bytes:
    out = b""
    for i in range(0, len(data), step):
        out += decoder.feed(data[i : i + step], room - len(out))
    return out + decoder.finish(room - len(out))


@pytest.mark.parametrize(
    "header, expected",
    [(None, "identity"), ("", "identity"), ("identity", "identity"), ("gzip", "gzip"), (" GZip ", "gzip"),
     ("x-gzip", "gzip"), ("deflate", "deflate"), ("gzip, identity", "gzip"), ("identity,deflate", "deflate")],
)
def test_encoding_of_accepts_none_or_one_layer(header, expected):
    assert encoding_of(header) == expected


@pytest.mark.parametrize("header", ["gzip, gzip", "gzip,deflate", "deflate, gzip, gzip", "br", "zstd", "compress", "gzip, br"])
def test_encoding_of_refuses_stacked_and_unknown_encodings(header):
    with pytest.raises(UnsupportedEncoding) as info:
        encoding_of(header)
    assert info.value.encoding == header and repr(header) in str(info.value)


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("identity", lambda b: b),
        ("gzip", lambda b: gzip.compress(b)),
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 says
        ("deflate", lambda b: _raw_deflate(b)),  # raw, as some servers send it
    ],
    ids=["identity", "gzip", "deflate-zlib", "deflate-raw"],
)
def test_round_trip_in_small_pieces(encoding, encode):
    assert decode_all(BodyDecoder(encoding), encode(PAGE), room=len(PAGE)) == PAGE


def test_several_gzip_members_are_one_body():
    data = gzip.compress(b"first half, ") + gzip.compress(b"second half")
    assert decode_all(BodyDecoder("gzip"), data, room=100, step=7) == b"first half, second half"


def test_a_bomb_stops_at_the_cap_without_inflating():
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    wire = b"".join(z.compress(b"\0" * (1 << 20)) for _ in range(64)) + z.flush()  # 64 MiB of zeros
    assert len(wire) < 100_000
    decoder = BodyDecoder("gzip")
    produced = 0
    with pytest.raises(OverCap) as info:
        for i in range(0, len(wire), 65536):
            piece = decoder.feed(wire[i : i + 65536], 1_000_000 - produced)
            assert len(piece) <= 1_000_000 - produced  # never more than the room left
            produced += len(piece)
    assert produced + len(info.value.head) == 1_000_000  # the head is exactly what still fitted
    assert set(info.value.head) <= {0}


def test_identity_over_the_cap_gives_the_head_that_fits():
    decoder = BodyDecoder("identity")
    assert decoder.feed(b"abc", 5) == b"abc"
    with pytest.raises(OverCap) as info:
        decoder.feed(b"defgh", 2)
    assert info.value.head == b"de"


def test_damaged_and_cut_streams_are_corrupt():
    with pytest.raises(CorruptBody):
        decode_all(BodyDecoder("gzip"), b"\x1f\x8b\x08\x00garbage-garbage-garbage", room=1000)
    cut = gzip.compress(PAGE)[:-200]
    with pytest.raises(CorruptBody, match="ends before"):
        decode_all(BodyDecoder("gzip"), cut, room=len(PAGE))
    with pytest.raises(CorruptBody):
        decode_all(BodyDecoder("deflate"), b"not deflate at all, not even raw \xff\xff\xff", room=1000)


def test_an_empty_body_under_an_encoding_is_empty():
    decoder = BodyDecoder("gzip")
    assert decoder.finish(10) == b""


def test_only_accepted_encodings_get_a_decoder():
    with pytest.raises(UnsupportedEncoding):
        BodyDecoder("br")
