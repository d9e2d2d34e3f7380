"""Reading WARC and WACZ files into ``Capture`` / ``Skipped`` records, with warcio.

``ArchiveReader(path, site=...)`` reads ``.warc``, ``.warc.gz`` and ``.wacz``
(a zip holding ``archive/*.warc[.gz]``; its indexes are not needed to read it
whole).  ``read_warc(stream, site=...)`` does the same for one WARC stream.
warcio (Webrecorder's library) parses the records, de-chunks and decodes the
bodies; nothing here parses the formats by hand.

What is yielded, record by record:

* ``response`` and ``resource`` records of the site's request pages, request
  JSON, listings and attachments become ``Capture`` records (body decoded);
* ``revisit`` records (a capture whose body was the same as an earlier one)
  are resolved against their original when it is in the same file (or WACZ),
  after the rest has been read; otherwise they are skipped;
* a record is skipped, with a ``SkipReason`` and a one-line detail, when it is
  truncated (it or the file ends before its declared length), damaged (its
  block digest does not match), over the size cap, a bot-challenge page, a
  404/410, or any other status than 200;
* records of other URLs (images, scripts, other hosts ...) and other record
  types (request, metadata, warcinfo) are counted in ``stats`` and passed over.

Reading never raises for bad content: a file that is not a WARC or WACZ, or
unreadable bytes where a record should start, end that file's reading with one
``Skipped`` (``unreadable`` or ``truncated``).  Bodies are read up to a cap per
kind (``max_bytes``), so a record claiming gigabytes costs no more than the cap.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from warcio.archiveiterator import WARCIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from scraper.archive.captures import Capture, Skipped, SkipReason, UrlKind, classify_url, judge
from scraper.fetch import DEFAULT_MAX_BYTES

__all__ = [
    "ARCHIVE_SUFFIXES",
    "ArchiveReader",
    "DEFAULT_CAPS",
    "is_archive_file",
    "read_warc",
]

ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".wacz")
DEFAULT_CAPS: Mapping[UrlKind, int] = {
    UrlKind.REQUEST_PAGE: DEFAULT_MAX_BYTES,
    UrlKind.REQUEST_JSON: DEFAULT_MAX_BYTES,
    UrlKind.LISTING: DEFAULT_MAX_BYTES,
    UrlKind.ATTACHMENT: 100 * 1024 * 1024,  # the largest attachment the live sync keeps
}
_USED_TYPES = frozenset({"response", "resource", "revisit"})
_MEMBER_SUFFIXES = (".warc", ".warc.gz")


class _Records(WARCIterator):
    """warcio's WARC iterator, without its warnings on stderr (a damaged file is reported as a skip instead)."""

    INC_RECORD = ""


def is_archive_file(path: str | Path) -> bool:
    """True for a name ending in .warc, .warc.gz or .wacz (any case)."""
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def _warc_time(text: str | None) -> datetime | None:
    """A WARC-Date (ISO 8601, UTC, maybe with fractions of a second) as an aware datetime."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


@dataclass(slots=True)
class _Place:
    """Where an original record lies, so a revisit can be resolved by reading it again."""

    member: str | None
    offset: int
    record_id: str | None


@dataclass(slots=True)
class _Revisit:
    url: str
    kind: UrlKind
    captured_at: datetime | None
    record_id: str | None
    member: str | None
    status: int | None
    headers: dict[str, str] | None
    refers_to_uri: str | None
    refers_to_date: str | None
    digest: str | None


def _http_headers(record: ArcWarcRecord) -> tuple[int | None, dict[str, str]]:
    if record.http_headers is None:
        return None, {}
    try:
        status = int(record.http_headers.get_statuscode())
    except (TypeError, ValueError):
        status = None
    headers: dict[str, str] = {}
    for name, value in record.http_headers.headers:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return status, headers


def _block_digest_failed(record: ArcWarcRecord) -> str | None:
    checker = getattr(record, "digest_checker", None)
    if checker is None or checker.passed is not False:
        return None
    problems = [p for p in checker.problems if "block" in p.lower()]
    return problems[0] if problems else None


class ArchiveReader:
    """Reads one ``.warc``, ``.warc.gz`` or ``.wacz`` file; ``captures()`` yields ``Capture`` / ``Skipped``.

    ``site`` (``scheme://host``) decides which URLs are the site's; ``stats``
    counts what was read, by outcome (``capture:<kind>``, ``skipped:<reason>``,
    ``other_url``, ``other_record``), once ``captures()`` has been consumed.
    """

    def __init__(self, path: str | Path, *, site: str, max_bytes: Mapping[UrlKind, int] | None = None):
        self.path = Path(path)
        self.site = site
        self.caps = dict(DEFAULT_CAPS if max_bytes is None else max_bytes)
        self.stats: Counter[str] = Counter()
        self._zip: zipfile.ZipFile | None = None

    # -- public -----------------------------------------------------------------

    @property
    def source(self) -> str:
        return str(self.path)

    def captures(self) -> Iterator[Capture | Skipped]:
        """Every usable capture and every skipped record of the site's pages, in file order, revisits last."""
        for item in self._read():
            self._count(item)
            yield item

    # -- reading ------------------------------------------------------------------

    def _count(self, item: Capture | Skipped) -> None:
        if isinstance(item, Capture):
            self.stats[f"capture:{item.kind}"] += 1
        else:
            self.stats[f"skipped:{item.reason}"] += 1

    def _skip(self, reason: SkipReason, detail: str, **kw) -> Skipped:
        return Skipped(reason, detail, source=self.source, **kw)

    def _read(self) -> Iterator[Capture | Skipped]:
        originals: dict[str, _Place] = {}  # payload digest or (uri, date) -> where its original lies
        revisits: list[_Revisit] = []
        if self.path.suffix.lower() == ".wacz":
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as exc:
                yield self._skip(SkipReason.UNREADABLE, f"not a WACZ file (a zip archive): {exc}")
                return
            try:
                members = sorted(
                    n for n in self._zip.namelist()
                    if n.startswith("archive/") and n.lower().endswith(_MEMBER_SUFFIXES)
                )
                if not members:
                    yield self._skip(SkipReason.UNREADABLE, "the WACZ holds no archive/*.warc or *.warc.gz file")
                for name in members:
                    with self._zip.open(name) as stream:
                        yield from self._read_stream(stream, name, originals, revisits)
                yield from self._resolve(revisits, originals)
            finally:
                self._zip.close()
                self._zip = None
            return
        try:
            with self.path.open("rb") as stream:
                yield from self._read_stream(stream, None, originals, revisits)
                yield from self._resolve(revisits, originals, stream)
        except OSError as exc:
            yield self._skip(SkipReason.UNREADABLE, f"cannot read the file: {exc.strerror or exc}")

    def _read_stream(
        self, stream: IO[bytes], member: str | None, originals: dict[str, _Place], revisits: list[_Revisit]
    ) -> Iterator[Capture | Skipped]:
        iterator = _Records(stream, check_digests=True)
        seen = 0
        end = 0  # where the last whole record ended
        where = f" in {member}" if member else ""
        try:
            for record in iterator:
                seen += 1
                item = self._record(record, member, revisits)
                # warcio knows a record's place once it has been read to its end
                offset = iterator.get_record_offset()
                end = offset + iterator.get_record_length()
                if isinstance(item, Capture):
                    place = _Place(member, offset, item.record_id)
                    digest = record.rec_headers.get_header("WARC-Payload-Digest")
                    if digest:
                        originals.setdefault(f"digest:{digest}", place)
                    originals[f"at:{item.url} {record.rec_headers.get_header('WARC-Date')}"] = place
                if item is not None:
                    yield item
        except (ArchiveLoadFailed, EOFError, OSError, ValueError, zlib.error) as exc:
            if seen == 0:
                yield self._skip(SkipReason.UNREADABLE, f"not a WARC file{where}: {_one_line(exc)}", member=member)
            else:
                yield self._skip(
                    SkipReason.TRUNCATED,
                    f"unreadable data after record {seen}{where} (the file is cut short or damaged): "
                    f"{_one_line(exc)}; the records before it were read",
                    member=member,
                )
            return
        left = _trailing_bytes(stream, end)
        if left:
            yield self._skip(
                SkipReason.TRUNCATED,
                f"the file{where} ends with {left:,} bytes that are not a whole record (it was cut short); "
                "the records before them were read",
                member=member,
            )

    def _record(self, record: ArcWarcRecord, member: str | None, revisits: list[_Revisit]) -> Capture | Skipped | None:
        """One record: a capture, a skip, or None (another URL or record type, a revisit kept for later)."""
        if record.rec_type not in _USED_TYPES:
            self.stats["other_record"] += 1
            return None
        url = record.rec_headers.get_header("WARC-Target-URI") or ""
        kind = classify_url(self.site, url)
        if kind is UrlKind.OTHER:
            self.stats["other_url"] += 1
            return None
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        captured_at = _warc_time(record.rec_headers.get_header("WARC-Date"))
        if record.rec_type == "revisit":
            status, headers = _http_headers(record)
            revisits.append(_Revisit(
                url=url, kind=kind, captured_at=captured_at, record_id=record_id, member=member,
                status=status, headers=headers if record.http_headers is not None else None,
                refers_to_uri=record.rec_headers.get_header("WARC-Refers-To-Target-URI"),
                refers_to_date=record.rec_headers.get_header("WARC-Refers-To-Date"),
                digest=record.rec_headers.get_header("WARC-Payload-Digest"),
            ))
            return None
        return self._capture(record, url, kind, captured_at, record_id, member)

    def _capture(
        self, record: ArcWarcRecord, url: str, kind: UrlKind, captured_at: datetime | None, record_id: str | None,
        member: str | None,
    ) -> Capture | Skipped:
        where = {"url": url, "member": member, "record_id": record_id, "captured_at": captured_at, "kind": kind}
        if captured_at is None:
            return self._skip(SkipReason.UNREADABLE, "the record has no readable WARC-Date", **where)
        status: int | None
        if record.rec_type == "resource":
            status = 200
            headers = {"content-type": record.rec_headers.get_header("Content-Type") or ""}
        else:
            status, headers = _http_headers(record)
            if status is None:
                return self._skip(SkipReason.UNREADABLE, "the record holds no HTTP status line", **where)
        cap = self.caps.get(kind, DEFAULT_MAX_BYTES)
        stream = record.content_stream()
        try:
            body = stream.read(cap + 1)
            if len(body) > cap:
                return self._skip(SkipReason.TOO_LARGE, f"the body is over the {cap // (1024 * 1024)} MB cap", **where)
            stream.read()  # the end of the record, so that its length and digest can be checked
        except Exception as exc:  # warcio's decoders raise zlib, brotli and chunking errors
            return self._skip(SkipReason.DAMAGED, f"the body cannot be decoded: {_one_line(exc)}", **where)
        left = getattr(record.raw_stream, "limit", 0)
        if left:
            return self._skip(
                SkipReason.TRUNCATED, f"the record ends {left:,} bytes before its declared length", **where
            )
        failed = _block_digest_failed(record)
        if failed:
            return self._skip(SkipReason.DAMAGED, f"the record's bytes do not match its digest ({failed})", **where)
        problem = judge(status, headers, body)
        if problem is not None:
            return self._skip(problem[0], problem[1], **where)
        return Capture(url=url, kind=kind, captured_at=captured_at, status=status, headers=headers, body=body,
                       source=self.source, member=member, record_id=record_id)

    # -- revisits -------------------------------------------------------------------

    def _resolve(
        self, revisits: list[_Revisit], originals: dict[str, _Place], plain: IO[bytes] | None = None
    ) -> Iterator[Capture | Skipped]:
        for rv in revisits:
            where = {"url": rv.url, "member": rv.member, "record_id": rv.record_id, "captured_at": rv.captured_at,
                     "kind": rv.kind}
            place = originals.get(f"at:{rv.refers_to_uri} {rv.refers_to_date}") if rv.refers_to_uri else None
            if place is None and rv.digest:
                place = originals.get(f"digest:{rv.digest}")
            if place is None or rv.captured_at is None:
                yield self._skip(
                    SkipReason.REVISIT_UNRESOLVED,
                    "a revisit record (the page was unchanged since an earlier capture) whose original "
                    f"({rv.refers_to_uri or 'unnamed'}, {rv.refers_to_date or 'no date'}) is not in this archive",
                    **where,
                )
                continue
            original = self._reread(place, plain)
            if not isinstance(original, Capture):
                yield self._skip(SkipReason.REVISIT_UNRESOLVED,
                                 "the original of a revisit record could not be read again", **where)
                continue
            # The revisit's own HTTP headers (when it has them) describe its answer; a 304 or none at
            # all means "the same as the original".
            status, headers = original.status, original.headers
            if rv.headers is not None and rv.status not in (None, 304):
                status = rv.status
                headers = {**original.headers, **{k: v for k, v in rv.headers.items() if k != "content-length"}}
            problem = judge(status, headers, original.body)
            if problem is not None:
                yield self._skip(problem[0], problem[1], **where)
                continue
            yield Capture(url=rv.url, kind=rv.kind, captured_at=rv.captured_at, status=status, headers=headers,
                          body=original.body, source=self.source, member=rv.member, record_id=rv.record_id,
                          revisit_of=place.record_id)

    def _reread(self, place: _Place, plain: IO[bytes] | None) -> Capture | Skipped | None:
        if place.member is not None and self._zip is not None:
            with self._zip.open(place.member) as stream:
                return self._record_at(stream, place)
        if plain is not None:
            return self._record_at(plain, place)
        return None

    def _record_at(self, stream: IO[bytes], place: _Place) -> Capture | Skipped | None:
        try:
            stream.seek(place.offset)
            for record in _Records(stream, check_digests=True):
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                return self._capture(
                    record, url, classify_url(self.site, url),
                    _warc_time(record.rec_headers.get_header("WARC-Date")), place.record_id, place.member,
                )
        except (ArchiveLoadFailed, EOFError, OSError, ValueError, zlib.error):
            return None
        return None


def read_warc(stream: IO[bytes] | bytes, *, site: str, source: str = "<stream>",
              max_bytes: Mapping[UrlKind, int] | None = None) -> Iterator[Capture | Skipped]:
    """Captures of one WARC (plain or gzipped) given as a seekable stream or bytes; see ``ArchiveReader``."""
    data = io.BytesIO(stream) if isinstance(stream, bytes | bytearray) else stream
    reader = _StreamReader(data, site=site, source=source, max_bytes=max_bytes)
    return reader.captures()


class _StreamReader(ArchiveReader):
    """An ``ArchiveReader`` over an open stream instead of a file name."""

    def __init__(self, stream: IO[bytes], *, site: str, source: str, max_bytes: Mapping[UrlKind, int] | None):
        super().__init__(source, site=site, max_bytes=max_bytes)
        self._stream = stream
        self._source = source

    @property
    def source(self) -> str:
        return self._source

    def _read(self) -> Iterator[Capture | Skipped]:
        originals: dict[str, _Place] = {}
        revisits: list[_Revisit] = []
        yield from self._read_stream(self._stream, None, originals, revisits)
        yield from self._resolve(revisits, originals, self._stream)


def _trailing_bytes(stream: IO[bytes], end: int) -> int:
    """How many bytes after ``end`` are not record separators (a record cut off at the end of the file)."""
    try:
        stream.seek(end)
        rest = stream.read(1 << 16)
        size = end + len(rest) + len(stream.read())
    except (OSError, ValueError, EOFError, zlib.error):
        return 0
    return 0 if not rest.strip(b"\r\n") else size - end


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
