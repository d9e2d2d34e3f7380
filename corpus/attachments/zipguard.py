"""Opening zip containers (DOCX, XLSX, ODT, .zip) without inflating a bomb.

Everything is decided from the central directory before a byte is inflated:

* too many members;
* a member whose declared size is more than ``max_ratio`` times its compressed
  size (members under 1 MiB are exempt: small XML parts compress very well);
* declared sizes whose sum exceeds what the extraction may still inflate
  (:attr:`Budget.inflated_left`, shared with archives nested inside);
* members whose compressed data overlap or claim more bytes than the file holds
  (the trick that makes "non-recursive" zip bombs).

Then every deflated member is inflated once in 64 KiB steps, keeping nothing,
to prove that none inflates past its declared size (a member may lie about its
size and forge its CRC to match): only after that do the declared sizes bound
what the extractors, and libraries that read whole members, will inflate.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from corpus.attachments.limits import Budget

_RATIO_EXEMPT = 1024 * 1024


class ZipProblem(Exception):
    """Why a zip container is not opened: ``status`` is ``corrupt`` or ``too_large``."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def open_zip(data: bytes, budget: Budget) -> zipfile.ZipFile:
    """A ZipFile over ``data`` once its directory is found safe; claims its inflated size from ``budget``.

    Raises :class:`ZipProblem` otherwise.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise ZipProblem("corrupt", f"not a readable zip container ({type(exc).__name__}: {str(exc)[:120]})") from None
    try:
        _check(infos, len(data), budget)
        check_inflation(data, zf)
    except ZipProblem:
        zf.close()
        raise
    budget.inflated_left -= sum(info.file_size for info in infos)
    return zf


def _check(infos: list[zipfile.ZipInfo], archive_size: int, budget: Budget) -> None:
    limits = budget.limits
    if len(infos) > limits.max_members:
        raise ZipProblem("too_large", f"the archive holds {len(infos):,} members, over the cap of {limits.max_members:,}")
    total = 0
    packed = 0
    for info in infos:
        total += info.file_size
        packed += info.compress_size
        if info.file_size > _RATIO_EXEMPT:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise ZipProblem(
                    "too_large",
                    f"member {info.filename[:80]!r} would inflate {info.compress_size:,} bytes to {info.file_size:,} "
                    f"({ratio:,.0f} times), over the {limits.max_ratio}-times ratio cap: a zip bomb",
                )
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise ZipProblem("corrupt", f"member {info.filename[:80]!r} is stored uncompressed but its two sizes differ")
    if total > budget.inflated_left:
        raise ZipProblem(
            "too_large",
            f"the archive would inflate to {total:,} bytes, over the {limits.max_inflated:,}-byte cap"
            + (" (counting the archives around it)" if budget.inflated_left < limits.max_inflated else ""),
        )
    if packed > archive_size:
        raise ZipProblem(
            "too_large",
            f"its members claim {packed:,} compressed bytes in a {archive_size:,}-byte file: overlapping members, a zip bomb",
        )
    # Overlap that keeps the sum small: two members whose data start at the same offset.
    offsets = [info.header_offset for info in infos]
    if len(set(offsets)) != len(offsets):
        raise ZipProblem("too_large", "two members share the same data: overlapping members, a zip bomb")


def read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    """One member's bytes, inflated in 64 KiB steps.

    ``ZipExtFile.read()`` with no size inflates all the compressed bytes it has
    read before cutting the result to the declared size; reading in steps keeps
    memory to the member's declared size even where it was not checked first.
    """
    chunks: list[bytes] = []
    with zf.open(name) as fh:
        while chunk := fh.read(_STEP):
            chunks.append(chunk)
    return b"".join(chunks)


def check_inflation(data: bytes, zf: zipfile.ZipFile) -> None:
    """Inflate every deflated member in steps, without keeping it, to prove none outgrows its declared size.

    Raises :class:`ZipProblem`: ``too_large`` for a member that does (a bomb),
    ``corrupt`` for one that does not inflate at all.
    """
    view = memoryview(data)
    for info in zf.infolist():
        if info.compress_type != zipfile.ZIP_DEFLATED:
            continue
        head = info.header_offset
        if data[head : head + 4] != b"PK\x03\x04":
            raise ZipProblem("corrupt", f"member {info.filename[:80]!r} has no local header where the directory says")
        name_len, extra_len = struct.unpack("<HH", data[head + 26 : head + 30])
        start = head + 30 + name_len + extra_len
        raw = view[start : start + info.compress_size]
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        size = 0
        try:
            for offset in range(0, len(raw), _STEP):
                pending = bytes(raw[offset : offset + _STEP])
                while pending:
                    size += len(inflater.decompress(pending, _STEP))
                    if size > info.file_size:
                        raise ZipProblem(
                            "too_large",
                            f"member {info.filename[:80]!r} inflates past its declared {info.file_size:,} bytes: a zip bomb",
                        )
                    pending = inflater.unconsumed_tail
        except zlib.error as exc:
            raise ZipProblem("corrupt", f"member {info.filename[:80]!r} does not inflate ({exc})") from None


_STEP = 64 * 1024
