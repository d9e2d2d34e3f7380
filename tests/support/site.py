"""The sample site as the tests use it: every hit recorded, faults on demand, the real 2019 pages served.

``TestSite`` is ``corpus.sample_site.FakeSite`` (what ``corpus demo`` serves)
plus what only tests need:

* ``hits``: every request answered (time, method, path, query, headers, status);
* ``add_fault(path_regex, kind, times=1, **params)``: answer matching requests badly;
* the real request pages from 2019 (``../shared/reference/wdtk_2019_request_pages``)
  served at their own slugs and ids when that folder exists;
* ``bump`` and ``remove_request`` to change the corpus while it is served.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from corpus.sample_site import render
from corpus.sample_site.data import FakeMessage, SiteCorpus
from corpus.sample_site.server import HTML, MEDIUM_CACHE, FakeSite, Response, SiteHandler
from tests.conftest import PAGES_2019 as PAGES_2019_DIR

# The real 2019 pages kept in the shared reference folder: file stem -> (url_title, request id).
PAGES_2019 = {
    "88779": ("misfeasance_in_public_office_5", 583390),
    "921139": ("register_our_marriage_campaign", 576357),
    "1000437": ("psl_schemes", 412769),
    "1387653": ("current_acreage_of_private_garde", 582514),
    "1390478": ("private_parking_companies_planni", 584705),
    "1394569": ("office_to_residential_conversion_2", 584896),
    "1396660": ("guidance_for_local_authorities_o", 582792),
    "1398788": ("guidance_on_sprinklers", 589128),
    "1399669": ("chapel_en_le_frith_allotments", 583618),
    "1400678": ("pensions_release", 589132),
    "1402524": ("definition_of_the_word_forestry", 586149),
    "1404563": ("foi_contact_details_for_all_loca", 591509),
    "1405635": ("golders_green_visit", 592770),
}

FAULT_KINDS = {
    "delay", "status", "429", "challenge", "truncate", "reset", "invalid_utf8", "huge",
    "redirect_loop", "redirect_offsite", "gone", "markup_changed",
}


@dataclass
class Hit:
    time: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int


class TestSite(FakeSite):
    """The sample site with hits, faults and the 2019 pages (see the module docstring).

    ``serve_2019_pages_from``: a folder of the real 2019 pages (``<n>.html``);
    ``None`` uses ``../shared/reference/wdtk_2019_request_pages`` when present;
    ``False`` serves none.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, corpus: SiteCorpus, *, serve_2019_pages_from: Path | None | bool = None, **kwargs: Any):
        if isinstance(serve_2019_pages_from, str):
            serve_2019_pages_from = Path(serve_2019_pages_from)
        super().__init__(corpus, **kwargs)
        self.hits: list[Hit] = []
        self._hits_lock = threading.Lock()
        self._faults: list[dict[str, Any]] = []
        self._faults_lock = threading.Lock()
        folder = PAGES_2019_DIR if serve_2019_pages_from is None else serve_2019_pages_from
        self.pages_2019: dict[str, Path] = {}
        self.ids_2019: dict[int, str] = {}
        if isinstance(folder, Path) and folder.is_dir():
            for stem, (slug, rid) in PAGES_2019.items():
                f = Path(folder) / f"{stem}.html"
                if f.is_file():
                    self.pages_2019[slug] = f
                    self.ids_2019[rid] = slug

    # ----------------------------------------------------------------- hits

    def clear_hits(self) -> None:
        with self._hits_lock:
            self.hits.clear()

    def hits_for(self, pattern: str) -> list[Hit]:
        rx = re.compile(pattern)
        with self._hits_lock:
            return [h for h in self.hits if rx.search(h.path + ("?" + h.query if h.query else ""))]

    def record(self, hit: Hit) -> None:
        with self._hits_lock:
            self.hits.append(hit)

    # ----------------------------------------------------------------- faults

    def add_fault(self, path_regex: str, kind: str, *, times: int | None = 1, **params: Any) -> None:
        """Answer requests whose path (with ?query) matches ``path_regex`` badly.

        kinds: delay(seconds), status(code, body), 429(retry_after), challenge,
        truncate, reset, invalid_utf8, huge(size), redirect_loop,
        redirect_offsite(location), gone, markup_changed.  ``times=None`` means forever.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
        with self._faults_lock:
            self._faults.append({"rx": re.compile(path_regex), "kind": kind, "times": times, "params": params})

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def take_fault(self, target: str) -> dict[str, Any] | None:
        with self._faults_lock:
            for f in self._faults:
                if f["rx"].search(target):
                    if f["times"] is not None:
                        f["times"] -= 1
                        if f["times"] <= 0:
                            self._faults.remove(f)
                    return f
        return None

    # ----------------------------------------------------------------- the corpus

    def remove_request(self, url_title: str) -> None:
        """The request disappears from the site: its page becomes a 404."""
        req = self.corpus.by_slug(url_title)
        self.corpus.requests.remove(req)
        self.corpus.version += 1

    def bump(self, url_title: str, **message: Any) -> FakeMessage:
        """Add a message to a request (see ``SiteCorpus.add_message``)."""
        return self.corpus.add_message(url_title, **message)

    # ----------------------------------------------------------------- the 2019 pages

    def handle(self, method: str, raw_path: str) -> Response:
        path = unquote(urlsplit(raw_path).path)
        m = re.fullmatch(r"/request/(\d+)(\.json)?", path)
        if m and self.corpus.by_id(int(m.group(1))) is None and int(m.group(1)) in self.ids_2019:
            slug = self.ids_2019[int(m.group(1))]
            return Response(301, b"", headers=[("Location", f"{self.url}/request/{quote(slug)}{m.group(2) or ''}")])
        m = re.fullmatch(r"/request/([^/.]+)", path)
        if method in ("GET", "HEAD") and m and m.group(1) in self.pages_2019 and self.corpus.find(m.group(1)) is None:
            return Response(200, self.pages_2019[m.group(1)].read_bytes(), HTML, [("Cache-Control", MEDIUM_CACHE)],
                            etag=True)
        return super().handle(method, raw_path)


class FaultyHandler(SiteHandler):
    """Records every hit and answers with the fault the site holds for the path, if any."""

    site: TestSite
    truncating = False
    hit: Hit | None = None

    def send_response(self, code: int, message: str | None = None) -> None:
        # the hit's status is known before a byte of the answer is sent: a client that has its answer sees it
        if self.hit is not None:
            self.hit.status = code
        super().send_response(code, message)

    def answer(self, method: str) -> int:
        site = self.site
        parts = urlsplit(self.path)
        hit = self.hit = Hit(time.time(), method, parts.path, parts.query, dict(self.headers.items()), 0)
        site.record(hit)
        fault = site.take_fault(self.path)
        kind = fault["kind"] if fault else None
        p = fault["params"] if fault else {}
        if kind == "delay":
            time.sleep(float(p.get("seconds", 1.0)))
            kind = None
        if kind == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return 0
        if kind == "huge":
            hit.status = 200
            self._send_huge(int(p.get("size", 50 * 1024 * 1024)), bool(p.get("content_length", False)))
            return 200
        if kind is not None and kind not in ("truncate", "invalid_utf8", "markup_changed"):
            resp = self._fault_response(kind, p)
        else:
            resp = self.site_response(method)
            if kind == "markup_changed":
                m = re.match(r"/request/([^/.]+)", parts.path)
                req = site.corpus.find(m.group(1)) if m else None
                resp = Response(200, render.markup_changed_page(site.corpus, req, parts.path).encode(), HTML,
                                [("Cache-Control", MEDIUM_CACHE)])
            elif kind == "invalid_utf8" and resp.body:
                mid = len(resp.body) // 2
                resp.body = resp.body[:mid] + b"\xff\xfe\xc3\x28 \xed\xa0\x80" + resp.body[mid:]
            elif kind == "truncate":
                resp.add("Connection", "close")
                self.truncating = True
        hit.status = self.send(method, resp)
        return hit.status

    def write_body(self, body: bytes) -> None:
        if not self.truncating:
            super().write_body(body)
            return
        self.wfile.write(body[: len(body) // 2])  # the full Content-Length was announced
        self.wfile.flush()
        self.close_connection = True

    def _fault_response(self, kind: str, p: dict[str, Any]) -> Response:
        if kind == "status":
            code = int(p.get("code", 500))
            body = p.get("body")
            if body is None:
                body = render.server_error_page() if code >= 500 else ""
            return Response(code, body.encode() if isinstance(body, str) else body, HTML, [("Cache-Control", "no-cache")])
        if kind == "429":
            return Response(429, b"Retry later\n", "text/plain", [("Retry-After", str(p.get("retry_after", 1)))])
        if kind == "challenge":
            return Response(403, render.CHALLENGE_PAGE.encode(), HTML,
                            [("cf-mitigated", "challenge"),
                             ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate")])
        if kind == "gone":
            return Response(410, render.not_found_page().encode(), HTML, [("Cache-Control", "no-cache")])
        if kind == "redirect_loop":
            return Response(301, b"", headers=[("Location", f"{self.site.url}{self.path}")])
        if kind == "redirect_offsite":
            return Response(301, b"", headers=[("Location", p.get("location") or f"http://example.invalid{self.path}")])
        raise AssertionError(kind)

    def _send_huge(self, size: int, content_length: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", HTML)
        if content_length:
            self.send_header("Content-Length", str(size))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = (b"<p>" + b"x" * 1017 + b"</p>\n") * 64  # 64 KiB
        sent = 0
        try:
            self.wfile.write(b"<!DOCTYPE html><html><body>\n")
            while sent < size:
                piece = chunk[: size - sent]
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass


TestSite.handler_class = FaultyHandler
