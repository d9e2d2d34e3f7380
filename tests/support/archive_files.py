"""WARC and WACZ files for the tests, written with warcio (and py-wacz), never by hand.

* ``record_site(site_url, paths, warc, when=...)`` GETs pages of a running
  site over HTTP and writes each answer as a WARC ``request`` + ``response``
  pair, with the capture time given (so tests can check it comes through);
* ``sample_paths(site_url, corpus)`` lists what a visitor of the sample site
  would record: public request pages, their JSON, their attachments and the
  authorities' listing pages;
* ``WarcBuilder`` writes records one by one: responses, revisits (of an
  original in the file or not), 404s, bot-challenge captures;
* ``cut_file(path, nbytes)`` truncates a file, as an interrupted download would;
* ``make_wacz(warcs, out)`` packs WARCs into a WACZ with py-wacz (Webrecorder's
  tool; indexes, ``pages/pages.jsonl`` and ``datapackage.json`` included).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin

import httpx
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

_HOP_BY_HOP = {"transfer-encoding", "connection", "keep-alive", "content-encoding", "content-length"}


def warc_date(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Recorded:
    url: str
    status: int
    when: datetime
    record_id: str
    digest: str


class WarcBuilder:
    """Writes WARC records to ``path`` (gzipped per record when the name ends in .gz)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = self.path.open("wb")
        self._writer = WARCWriter(self._file, gzip=self.path.name.endswith(".gz"))
        self.recorded: list[Recorded] = []

    def __enter__(self) -> WarcBuilder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def response(self, url: str, body: bytes, *, when: datetime, status: int = 200, reason: str = "OK",
                 headers: Iterable[tuple[str, str]] = (("Content-Type", "text/html; charset=utf-8"),),
                 with_request: bool = True, referer: str | None = None) -> Recorded:
        http = StatusAndHeaders(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))],
                                protocol="HTTP/1.1")
        record = self._writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                                 warc_headers_dict={"WARC-Date": warc_date(when)})
        self._writer.write_record(record)
        if with_request:
            self._request(url, when, record.rec_headers.get_header("WARC-Record-ID"), referer)
        done = Recorded(url, status, when, record.rec_headers.get_header("WARC-Record-ID"),
                        record.rec_headers.get_header("WARC-Payload-Digest"))
        self.recorded.append(done)
        return done

    def revisit(self, url: str, *, of: Recorded, when: datetime, status: int = 200) -> Recorded:
        """A revisit record: the page at ``when`` had the same body as ``of`` (identical-payload-digest)."""
        http = StatusAndHeaders(f"{status} OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        record = self._writer.create_revisit_record(url, of.digest, of.url, warc_date(of.when), http_headers=http,
                                                    warc_headers_dict={"WARC-Date": warc_date(when)})
        self._writer.write_record(record)
        done = Recorded(url, status, when, record.rec_headers.get_header("WARC-Record-ID"), of.digest)
        self.recorded.append(done)
        return done

    def _request(self, url: str, when: datetime, concurrent_to: str, referer: str | None) -> None:
        path = re.sub(r"^[a-z]+://[^/]+", "", url) or "/"
        headers = [("User-Agent", "Mozilla/5.0 (test browser)")] + ([("Referer", referer)] if referer else [])
        http = StatusAndHeaders(f"GET {path} HTTP/1.1", headers, is_http_request=True)
        record = self._writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=http,
                                                 warc_headers_dict={"WARC-Date": warc_date(when),
                                                                    "WARC-Concurrent-To": concurrent_to})
        self._writer.write_record(record)


def record_site(site_url: str, paths: Iterable[str], warc: Path, *,
                when: datetime | Callable[[str], datetime]) -> list[Recorded]:
    """GET each path of a running site and write the answers to ``warc``, captured at ``when``.

    Each request record carries the page visited before it as its Referer, as a
    browser's would (py-wacz finds a session's pages by their referrers).
    """
    out: list[Recorded] = []
    referer: str | None = None
    with httpx.Client(base_url=site_url, headers={"Accept-Encoding": "identity"}, follow_redirects=False,
                      timeout=30) as client, WarcBuilder(warc) as builder:
        for path in paths:
            resp = client.get(path)
            headers = [(k, v) for k, v in resp.headers.items() if k.lower() not in _HOP_BY_HOP]
            stamp = when(path) if callable(when) else when
            out.append(builder.response(str(resp.url), resp.content, when=stamp, status=resp.status_code,
                                        reason=resp.reason_phrase or "OK", headers=headers, referer=referer))
            if resp.headers.get("content-type", "").startswith("text/html"):
                referer = str(resp.url)
    return out


_ATTACH_RE = re.compile(r'href="([^"]*/response/\d+/attach/\d+/[^"]+)"')


def sample_paths(site_url: str, corpus, *, attachments: bool = True) -> list[str]:
    """What a visitor of the sample site would record: public threads, their JSON and files, the listings."""
    paths: list[str] = []
    with httpx.Client(base_url=site_url, timeout=30) as client:
        for req in corpus.requests:
            if req.prominence not in ("normal", "backpage"):
                continue
            page = f"/request/{req.url_title}"
            paths += [page, f"{page}.json"]
            if attachments:
                html = client.get(page).text
                for href in dict.fromkeys(_ATTACH_RE.findall(html)):
                    absolute = urljoin(site_url + "/", href.replace("&amp;", "&"))
                    paths.append(absolute[len(site_url):] if absolute.startswith(site_url) else href)
        for authority in sorted({r.authority_url_name for r in corpus.requests}):
            paths.append(f"/body/{authority}")
    return paths


def cut_file(path: Path, nbytes: int) -> None:
    """Drop the last ``nbytes`` bytes of a file."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: max(0, len(data) - nbytes)])


def make_wacz(warcs: list[Path], out: Path) -> Path:
    """Pack WARCs into a WACZ with py-wacz (indexes, pages/pages.jsonl, datapackage.json)."""
    from wacz.main import main as wacz_main

    code = wacz_main(["create", "--detect-pages", "-o", str(out), *map(str, warcs)])
    if code:
        raise RuntimeError(f"py-wacz could not create {out} (exit {code})")
    return out
