"""A real HTTP server on 127.0.0.1 that behaves like an Alaveteli site.

``FakeSite(corpus)`` serves request pages and their JSON, the authority, user
and ``/list`` listings, robots.txt, the authorities CSV and attachments, with
the status codes and headers the real site sends (weak ETags and 304s
included).  Tests can inject faults (``add_fault``), read every hit
(``hits``), and change the corpus while the server runs.
"""

from __future__ import annotations

import bisect
import os
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from corpus.sample_site import render
from corpus.sample_site.data import VIEW_STATES, FakeRequest, SiteCorpus
from corpus.sample_site.pdf import attachment_bytes

ROBOTS_TXT = """# See https://www.robotstxt.org/robotstxt.html for documentation on how to use the robots.txt file

User-agent: *
Disallow: */annotate/*
Disallow: */new/*
Disallow: */search/*
Disallow: */similar/*
Disallow: */track/*
Disallow: */upload/*
Disallow: */user/contact/*
Disallow: */feed/*
Disallow: */profile/*
Disallow: */signin*
Disallow: */tor*
Allow: */request/*/response/*/attach/*
Disallow: */request/*/response/*
Disallow: */request/*/download*
Disallow: */change_request/*
Disallow: */outgoing_messages/*/mail_server_logs*
Disallow: */outgoing_messages/*/delivery_status*
Disallow: *?*update_status=1*
Disallow: */request/*/annotate
Disallow: */request/*/feed
Disallow: */request/*/followups/new
Disallow: */request/*/similar
Disallow: */request/*/track
Disallow: */request/*/upload
"""

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

HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
MEDIUM_CACHE = "max-age=3600, public"
LONG_CACHE = "max-age=86400, public"


def default_2019_dir() -> Path | None:
    """../shared/reference/wdtk_2019_request_pages beside the project, if present."""
    env = os.environ.get("CORPUS_SHARED")
    candidates = []
    if env:
        candidates.append(Path(env) / "reference" / "wdtk_2019_request_pages")
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "wdtk_2019_request_pages")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def simplify_slug(text: str) -> str:
    """MySociety::Format.simplify_url_part: lower case, [a-z0-9_] only."""
    s = text.lower()
    s = re.sub(r"[\s\-]+", "_", s)
    s = re.sub(r"[^a-z0-9_]", "", s)
    s = re.sub(r"_+", "_", s).strip("_")
    if s.isdigit() or not s:
        return "body"
    return s


@dataclass
class Hit:
    time: float
    method: str
    path: str
    query: str
    headers: dict
    status: int


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = HTML
    headers: list | None = None
    etag: bool = False  # weak ETag + conditional GET (Rack::ETag / ConditionalGet)

    def add(self, name: str, value: str) -> None:
        if self.headers is None:
            self.headers = []
        self.headers.append((name, value))


# --------------------------------------------------------------------------- listing index


class _Index:
    """Indexed events pre-sorted for fast listings; rebuilt when the corpus changes.

    ``latest``: (request, its newest indexed event), newest first;
    ``events``: every indexed event, newest first, with its UTC day for date slices;
    ``by_body`` / ``by_user`` / ``comments_by``: ``latest`` split by authority,
    requester and annotator.
    """

    def __init__(self, corpus: SiteCorpus):
        self.fingerprint = _fingerprint(corpus)
        self.checked_at = time.monotonic()
        self.latest: list[tuple[FakeRequest, dict]] = []
        self.events: list[tuple[FakeRequest, dict]] = []
        self.neg_days: list[int] = []  # -YYYYMMDD of self.events, ascending
        self.by_body: dict[str, list] = {}
        self.by_user: dict[str, list] = {}
        self.comments_by: dict[str, list] = {}
        self._text: dict[int, str] = {}
        keyed = []
        for req in corpus.requests:
            if req.prominence != "normal":
                continue
            evs = req.indexed_events()
            if not evs:
                continue
            self.latest.append((req, evs[-1]))
            for ev in evs:
                utc = ev["created_at"].astimezone(timezone.utc)
                keyed.append(((ev["created_at"], ev["id"]), utc.year * 10000 + utc.month * 100 + utc.day, req, ev))
                if ev["event_type"] == "comment":
                    self.comments_by.setdefault(ev["_obj"].user_url_name, []).append((req, ev))
        self.latest.sort(key=lambda item: (item[1]["created_at"], item[1]["id"]), reverse=True)
        keyed.sort(key=lambda k: k[0], reverse=True)
        self.events = [(req, ev) for _, _, req, ev in keyed]
        self.neg_days = [-day for _, day, _, _ in keyed]
        for req, ev in self.latest:
            self.by_body.setdefault(req.authority_url_name, []).append((req, ev))
            if req.user_url_name:
                self.by_user.setdefault(req.user_url_name, []).append((req, ev))
        for lst in self.comments_by.values():
            lst.sort(key=lambda item: (item[1]["created_at"], item[1]["id"]), reverse=True)

    def in_range(self, lo: int, hi: int) -> list[tuple[FakeRequest, dict]]:
        """Indexed events whose UTC day is within [lo, hi] (YYYYMMDD), newest first."""
        start = bisect.bisect_left(self.neg_days, -hi)
        stop = bisect.bisect_right(self.neg_days, -lo)
        return self.events[start:stop]

    def text_of(self, req: FakeRequest) -> str:
        t = self._text.get(id(req))
        if t is None:
            parts = [req.title]
            for m in req.messages:
                if m.prominence == "normal":
                    parts.extend(m.paragraphs)
            for a in req.annotations:
                if a.visible:
                    parts.extend(a.paragraphs)
            t = "\n".join(parts).lower()
            self._text[id(req)] = t
        return t


# Above this many requests the full change check runs at most once a second.
_FULL_CHECK_LIMIT = 2000


def _fingerprint(corpus: SiteCorpus) -> tuple:
    n_items = 0
    hidden = 0
    for r in corpus.requests:
        n_items += len(r.messages) + len(r.annotations) + len(r.extra_events)
        if r.prominence != "normal":
            hidden += r.id
    return (id(corpus), len(corpus.requests), corpus.version, n_items, hidden)


_DATE_FORMATS = ("%Y/%m/%d", "%Y-%m-%d", "%Y.%m.%d", "%Y%m%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y")


def parse_list_date(text: str) -> date | None:
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


# --------------------------------------------------------------------------- the site


class FakeSite:
    """The sample Alaveteli site, served over HTTP on 127.0.0.1.

    ``serve_2019_pages_from``: a folder of the real 2019 pages (``<n>.html``);
    ``None`` looks for ``../shared/reference/wdtk_2019_request_pages`` beside
    the project; ``False`` serves none.
    """

    def __init__(self, corpus: SiteCorpus, *, host: str = "127.0.0.1", port: int = 0,
                 serve_2019_pages_from: Path | None | bool = None, threads: int | None = None):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the sample site only binds to the loopback interface (127.0.0.1)")
        self.corpus = corpus
        self.host = host
        self.port = port
        self.hits: list[Hit] = []
        self._hits_lock = threading.Lock()
        self._faults: list[dict] = []
        self._faults_lock = threading.Lock()
        self._index: _Index | None = None
        self._index_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(threads) if threads else None
        if serve_2019_pages_from is None:
            pages_dir = default_2019_dir()
        elif serve_2019_pages_from is False:
            pages_dir = None
        else:
            pages_dir = Path(serve_2019_pages_from)
        self.pages_2019: dict[str, Path] = {}
        self.ids_2019: dict[int, str] = {}
        if pages_dir is not None and Path(pages_dir).is_dir():
            for stem, (slug, rid) in PAGES_2019.items():
                f = Path(pages_dir) / f"{stem}.html"
                if f.is_file():
                    self.pages_2019[slug] = f
                    self.ids_2019[rid] = slug

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> "FakeSite":
        site = self

        class Handler(_Handler):
            pass

        Handler.site = site
        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeSite":
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ----------------------------------------------------------------- hits and faults

    def clear_hits(self) -> None:
        with self._hits_lock:
            self.hits.clear()

    def hits_for(self, pattern: str) -> list[Hit]:
        rx = re.compile(pattern)
        with self._hits_lock:
            return [h for h in self.hits if rx.search(h.path + ("?" + h.query if h.query else ""))]

    def _record(self, hit: Hit) -> None:
        with self._hits_lock:
            self.hits.append(hit)

    def add_fault(self, path_regex: str, kind: str, *, times: int | None = 1, **params) -> None:
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

    def _take_fault(self, target: str) -> dict | None:
        with self._faults_lock:
            for f in self._faults:
                if f["rx"].search(target):
                    if f["times"] is not None:
                        f["times"] -= 1
                        if f["times"] <= 0:
                            self._faults.remove(f)
                    return f
        return None

    # ----------------------------------------------------------------- corpus helpers

    def remove_request(self, url_title: str) -> None:
        req = self.corpus.by_slug(url_title)
        self.corpus.requests.remove(req)
        self.corpus.version += 1

    def bump(self, url_title: str, **message) -> object:
        """Add a message to a request (see ``SiteCorpus.add_message``)."""
        return self.corpus.add_message(url_title, **message)

    def index(self) -> _Index:
        """The listing index, rebuilt when the corpus has changed.

        Small corpora are checked on every listing hit; large ones (over
        2,000 requests) at most once a second, unless their size or
        ``version`` changed (the helpers bump it).
        """
        with self._index_lock:
            idx = self._index
            c = self.corpus
            if idx is not None and idx.fingerprint[:3] == (id(c), len(c.requests), c.version):
                if len(c.requests) > _FULL_CHECK_LIMIT and time.monotonic() - idx.checked_at < 1.0:
                    return idx
                if idx.fingerprint == _fingerprint(c):
                    idx.checked_at = time.monotonic()
                    return idx
            self._index = _Index(c)
            return self._index

    def refresh(self) -> None:
        """Forget cached listings now (after changing the corpus by hand)."""
        self.corpus.version += 1

    # ----------------------------------------------------------------- routing

    def handle(self, method: str, raw_path: str) -> Response:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if method not in ("GET", "HEAD"):
            return Response(404, render.not_found_page().encode(), headers=[("Cache-Control", "no-cache")])
        if path == "/robots.txt":
            return Response(200, ROBOTS_TXT.encode(), "text/plain", [("Cache-Control", "public, max-age=31556952")])
        if path == "/body/all-authorities.csv":
            return Response(200, render.authorities_csv(self.corpus), "text/csv", [("Cache-Control", LONG_CACHE)], etag=True)
        m = re.fullmatch(r"/request/(\d+)(\.json)?", path)
        if m:
            return self._numeric_request(int(m.group(1)), m.group(2) or "")
        m = re.fullmatch(r"/request/(\d+)/(response/\d+/attach/.+)", path)
        if m:
            req = self.corpus.by_id(int(m.group(1)))
            if req is None:
                return Response(404, render.STATIC_404.encode())
            return Response(301, b"", headers=[("Location", f"{self.url}/request/{quote(req.url_title)}/{quote(m.group(2))}")])
        m = re.fullmatch(r"/request/([^/]+)/response/(\d+)/attach/html/(\d+)/(.+)\.html", path)
        if m:
            return self._attachment(m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), as_html=True)
        m = re.fullmatch(r"/request/([^/]+)/response/(\d+)/attach/(\d+)/(.+)", path)
        if m:
            return self._attachment(m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), as_html=False)
        m = re.fullmatch(r"/request/([^/.]+)(\.json)?", path)
        if m:
            return self._request(m.group(1), bool(m.group(2)), params)
        m = re.fullmatch(r"/body/([^/.]+)(\.json)?(?:/(all|successful|unsuccessful|awaiting))?", path)
        if m and not (m.group(2) and m.group(3)):
            return self._body(m.group(1), bool(m.group(2)), m.group(3) or "all", params, parts.query)
        m = re.fullmatch(r"/user/([^/.]+)(\.json)?", path)
        if m:
            return self._user(m.group(1), bool(m.group(2)), params)
        if path in ("/list/all", "/list/recent"):
            return Response(301, b"", headers=[("Location", f"{self.url}/list")])
        if path == "/list.json":
            return Response(406, b"", "application/json")
        m = re.fullmatch(r"/list(?:/(successful|unsuccessful|awaiting))?", path)
        if m:
            return self._list(m.group(1) or "all", params)
        return Response(404, render.not_found_page().encode(), headers=[("Cache-Control", "no-cache")])

    def _numeric_request(self, rid: int, suffix: str) -> Response:
        req = self.corpus.by_id(rid)
        slug = None
        if req is not None and req.prominence in ("normal", "backpage"):
            slug = req.url_title
        elif rid in self.ids_2019:
            slug = self.ids_2019[rid]
        if slug is None:
            return Response(404, render.STATIC_404.encode())
        return Response(301, b"", headers=[("Location", f"{self.url}/request/{quote(slug)}{suffix}")])

    def _request(self, slug: str, as_json: bool, params: dict) -> Response:
        req = self.corpus.find(slug)
        if req is None:
            if slug in self.pages_2019 and not as_json:
                return Response(200, self.pages_2019[slug].read_bytes(), HTML, [("Cache-Control", MEDIUM_CACHE)], etag=True)
            if as_json:
                return Response(404, b"", "application/json")
            return Response(404, render.not_found_page("request", "show").encode(), headers=[("Cache-Control", "no-cache")])
        if req.prominence in ("hidden", "requester_only"):
            if as_json:
                return Response(403, b"", "application/json", [("Cache-Control", MEDIUM_CACHE)])
            return Response(403, render.hidden_request_page(req).encode(), HTML, [("Cache-Control", MEDIUM_CACHE)])
        if params.get("update_status") == "1":
            return Response(302, b"", headers=[("Location", f"{self.url}/profile/sign_in?token=x"),
                                               ("Cache-Control", "private, no-cache, no-store, max-age=0, must-revalidate"),
                                               ("Pragma", "no-cache"), ("Expires", "0")])
        headers = [("Cache-Control", MEDIUM_CACHE)]
        if req.prominence == "backpage":
            headers.append(("X-Robots-Tag", "noindex"))
        if as_json:
            return Response(200, render.request_json(self.corpus, req), JSON, headers, etag=True)
        html = render.request_page(self.corpus, req, self.url, unfold=params.get("unfold") == "1")
        return Response(200, html.encode("utf-8"), HTML, headers, etag=True)

    def _attachment(self, slug: str, incoming_id: int, part: int, filename: str, *, as_html: bool) -> Response:
        req = self.corpus.find(slug)
        if req is None:
            return Response(404, render.not_found_page().encode(), headers=[("Cache-Control", "no-cache")])
        msg = next((m for m in req.messages if m.direction == "incoming" and m.id == incoming_id), None)
        att = next((a for a in msg.attachments if a.part == part), None) if msg else None
        if msg is None or att is None:
            return Response(404, render.not_found_page().encode(), headers=[("Cache-Control", "no-cache")])
        if att.filename != filename:
            return Response(303, b"", headers=[("Location", f"{self.url}/request/{quote(slug)}#incoming-{incoming_id}")])
        if req.prominence in ("hidden", "requester_only") or msg.prominence != "normal" or att.erased:
            return Response(403, render.attachment_hidden_page().encode(), HTML, [("Cache-Control", "no-cache")])
        data = att.data if att.data is not None else attachment_bytes(req, msg, att)
        if as_html:
            return Response(200, render.attachment_html_page(req, msg, att, data).encode(), HTML, [("Cache-Control", MEDIUM_CACHE)], etag=True)
        headers = [("Cache-Control", MEDIUM_CACHE),
                   ("Content-Disposition", f"inline; filename=\"{quote(att.filename)}\"; filename*=UTF-8''{quote(att.filename)}")]
        if att.content_type == "text/csv":
            headers.append(("Access-Control-Allow-Origin", "*"))
        return Response(200, data, att.content_type, headers, etag=True)

    def _page(self, params: dict) -> int:
        try:
            return max(1, int(params.get("page", "1")))
        except ValueError:
            return 1

    def _body(self, slug: str, as_json: bool, view: str, params: dict, raw_query: str) -> Response:
        page = self._page(params)
        if page > 20 and not as_json:
            return Response(404, render.not_found_page("public_body", "show").encode(), headers=[("Cache-Control", LONG_CACHE)])
        auth = self.corpus.authorities.get(slug)
        if auth is None:
            renamed = next((a for a in self.corpus.authorities.values() if slug in a.old_url_names), None)
            if renamed is not None:  # a plain redirect_to: 302, query string dropped
                suffix = ".json" if as_json else ("" if view == "all" else f"/{view}")
                return Response(302, b"", headers=[("Location", f"{self.url}/body/{renamed.url_name}{suffix}")])
            canonical = simplify_slug(slug)
            if canonical != slug:
                suffix = ".json" if as_json else ("" if view == "all" else f"/{view}")
                return Response(301, b"", headers=[("Location", f"{self.url}/body/{canonical}{suffix}")])
            if as_json:
                return Response(404, b"", "application/json")
            return Response(404, render.not_found_page("public_body", "show").encode(), headers=[("Cache-Control", "no-cache")])
        if as_json:
            return Response(200, render.to_json(render.body_json(self.corpus, auth)), JSON, [("Cache-Control", LONG_CACHE)], etag=True)
        today = self.corpus.today
        rows = self.index().by_body.get(slug, [])
        if view != "all":
            rows = [(req, ev) for req, ev in rows if req.calculated_status(today, auth) in VIEW_STATES[view]]
        total = len(rows)
        items = rows[(page - 1) * render.PER_PAGE: page * render.PER_PAGE]
        pager = {k: v for k, v in params.items() if k != "page"}
        html = render.body_page(self.corpus, auth, items, total, page, self.url, view=view, raw_query=raw_query, params=pager)
        return Response(200, html.encode(), HTML, [("Cache-Control", LONG_CACHE)], etag=True)

    def _user(self, slug: str, as_json: bool, params: dict) -> Response:
        user = self.corpus.users.get(slug)
        if user is None:  # friendly_id history: an old slug answers at its own URL
            user = next((u for u in self.corpus.users.values() if slug in u.old_url_names), None)
        if user is None:
            canonical = simplify_slug(slug)
            if canonical != slug and canonical in self.corpus.users:
                return Response(301, b"", headers=[("Location", f"{self.url}/user/{canonical}{'.json' if as_json else ''}")])
            if as_json:
                return Response(404, b"", "application/json")
            return Response(404, render.not_found_page("user", "show").encode(), headers=[("Cache-Control", "no-cache")])
        if as_json:
            return Response(200, render.to_json(render.user_json(user)), JSON, [("Cache-Control", LONG_CACHE)], etag=True)
        page = self._page(params)
        index = self.index()
        rows = index.by_user.get(user.url_name, [])
        comments = index.comments_by.get(user.url_name, [])
        items = rows[(page - 1) * render.PER_PAGE: page * render.PER_PAGE]
        html = render.user_page(self.corpus, user, items, len(rows), page, self.url, comments)
        return Response(200, html.encode(), HTML, [("Cache-Control", LONG_CACHE)], etag=True)

    def _list(self, view: str, params: dict) -> Response:
        page = self._page(params)
        if page > 20:
            return Response(404, render.not_found_page("request", "list").encode(), headers=[("Cache-Control", "no-cache")])
        words: list[str] = []
        conds: list[tuple[str, str]] = []
        for token in params.get("query", "").split():
            key, sep, value = token.partition(":")
            if sep and key in ("requested_from", "requested_by", "status", "latest_status", "request", "tag", "variety"):
                conds.append((key, value))
            else:
                words.append(token.lower().strip("\"'()"))
        after_text = params.get("request_date_after", "").strip()
        before_text = params.get("request_date_before", "").strip()
        ranged = bool(after_text or before_text)
        lo = hi = 0
        if ranged:
            after = parse_list_date(after_text) if after_text else date(2001, 1, 1)
            before = parse_list_date(before_text) if before_text else self.corpus.today
            if after is None or before is None:
                after, before = date(2001, 1, 1), date(2001, 1, 1)  # Xapian finds nothing for a bad range
            lo = after.year * 10000 + after.month * 100 + after.day
            hi = before.year * 10000 + before.month * 100 + before.day
        index = self.index()
        varieties = {v for k, v in conds if k == "variety"}
        filtered = bool(words or view != "all" or any(k != "variety" for k, _ in conds))
        if not ranged and not varieties:
            source = index.latest
        else:
            source = index.in_range(lo, hi) if ranged else index.events
        if not filtered and source is index.latest:
            rows = source
        else:
            rows = []
            taken: set[int] = set()
            verdict: dict[int, bool] = {}
            for req, ev in source:  # newest first: the first event kept is the newest in the slice
                key = id(req)
                if key in taken:
                    continue
                if varieties and ev["event_type"] not in varieties:
                    continue
                ok = verdict.get(key)
                if ok is None:
                    ok = verdict[key] = self._matches(req, conds, words, index, view)
                if ok:
                    taken.add(key)
                    rows.append((req, ev))
        total = len(rows)
        items = rows[(page - 1) * render.PER_PAGE: page * render.PER_PAGE]
        pager = {k: v for k, v in params.items() if k != "page"}
        html = render.list_page(self.corpus, items, total, page, self.url, params=pager, view=view)
        return Response(200, html.encode(), HTML, [("Cache-Control", MEDIUM_CACHE)], etag=True)

    def _matches(self, req: FakeRequest, conds, words, index: _Index, view: str) -> bool:
        auth = self.corpus.authority_of(req)
        status = None
        if view != "all":
            status = req.calculated_status(self.corpus.today, auth)
            if status not in VIEW_STATES[view]:
                return False
        for key, value in conds:
            if key == "requested_from" and req.authority_url_name != value:
                return False
            if key == "requested_by" and req.user_url_name != value:
                return False
            if key == "request" and req.url_title != value:
                return False
            if key in ("status", "latest_status"):
                status = status or req.calculated_status(self.corpus.today, auth)
                if value not in (status, req.described_state):
                    return False
            if key == "tag" and value not in [k for k, _ in req.tags] + [t.split(":")[0] for t in auth.tags]:
                return False
        if words:
            text = index.text_of(req)
            if not all(w in text for w in words if w):
                return False
        return True


# --------------------------------------------------------------------------- HTTP handler


def _weak_etag(body: bytes) -> str:
    import hashlib

    return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class _Handler(BaseHTTPRequestHandler):
    site: FakeSite
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - quiet: hits are recorded instead
        pass

    def do_GET(self):
        self._serve("GET")

    def do_HEAD(self):
        self._serve("HEAD")

    def do_POST(self):
        self._serve("POST")

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def _serve(self, method: str) -> None:
        site = self.site
        if site._slots is not None:
            site._slots.acquire()
        try:
            self._serve_inner(method)
        finally:
            if site._slots is not None:
                site._slots.release()

    def _serve_inner(self, method: str) -> None:
        site = self.site
        started = time.time()
        parts = urlsplit(self.path)
        headers = {k: v for k, v in self.headers.items()}
        hit = Hit(started, method, parts.path, parts.query, headers, 0)
        site._record(hit)
        fault = site._take_fault(self.path)
        kind = fault["kind"] if fault else None
        p = fault["params"] if fault else {}
        if kind == "delay":
            time.sleep(float(p.get("seconds", 1.0)))
            kind = None
        if kind == "reset":
            hit.status = 0
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return
        if kind == "huge":
            hit.status = 200
            self._send_huge(int(p.get("size", 50 * 1024 * 1024)), bool(p.get("content_length", False)))
            return
        if kind is not None and kind not in ("truncate", "invalid_utf8", "markup_changed"):
            resp = self._fault_response(kind, p, parts)
        else:
            try:
                resp = site.handle(method, self.path)
            except Exception:  # a bug in the fake: answer like Rails would
                resp = Response(500, render.server_error_page().encode())
            if kind == "markup_changed":
                req = None
                m = re.match(r"/request/([^/.]+)", parts.path)
                if m:
                    req = site.corpus.find(m.group(1))
                resp = Response(200, render.markup_changed_page(site.corpus, req, parts.path).encode(), HTML,
                                [("Cache-Control", MEDIUM_CACHE)])
            elif kind == "invalid_utf8" and resp.body:
                mid = len(resp.body) // 2
                resp.body = resp.body[:mid] + b"\xff\xfe\xc3\x28 \xed\xa0\x80" + resp.body[mid:]
        hit.status = self._send(method, resp, truncate=(kind == "truncate"))

    def _fault_response(self, kind: str, p: dict, parts) -> Response:
        if kind == "status":
            code = int(p.get("code", 500))
            body = p.get("body")
            if body is None:
                body = render.server_error_page() if code >= 500 else ""
            return Response(code, body.encode() if isinstance(body, str) else body, HTML, [("Cache-Control", "no-cache")])
        if kind == "429":
            retry = p.get("retry_after", 1)
            return Response(429, b"Retry later\n", "text/plain", [("Retry-After", str(retry))])
        if kind == "challenge":
            return Response(403, render.CHALLENGE_PAGE.encode(), HTML,
                            [("cf-mitigated", "challenge"), ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate")])
        if kind == "gone":
            return Response(410, render.not_found_page().encode(), HTML, [("Cache-Control", "no-cache")])
        if kind == "redirect_loop":
            return Response(301, b"", headers=[("Location", f"{self.site.url}{self.path}")])
        if kind == "redirect_offsite":
            return Response(301, b"", headers=[("Location", p.get("location") or f"http://example.invalid{self.path}")])
        raise AssertionError(kind)

    def _send(self, method: str, resp: Response, *, truncate: bool = False) -> int:
        body = resp.body
        status = resp.status
        headers = list(resp.headers or [])
        is_app = not any(k.lower() == "retry-after" or k.lower() == "cf-mitigated" for k, _ in headers)
        if resp.etag and status == 200:
            etag = _weak_etag(body)
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                for k, v in headers:
                    if k.lower() == "cache-control":
                        self.send_header(k, v)
                self.end_headers()
                return 304
            headers.append(("ETag", etag))
            if not any(k.lower() == "cache-control" for k, _ in headers):
                headers.append(("Cache-Control", "max-age=0, private, must-revalidate"))
        if not any(k.lower() == "cache-control" for k, _ in headers):
            headers.append(("Cache-Control", "no-cache"))
        self.send_response(status)
        if resp.content_type and (body or status not in (301, 302, 303, 304)):
            self.send_header("Content-Type", resp.content_type)
        for k, v in headers:
            self.send_header(k, v)
        if is_app:
            self.send_header("Vary", "Cookie")
            self.send_header("Content-Language", "en")
            self.send_header("X-Frame-Options", "sameorigin")
            self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(body)))
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if method == "HEAD":
            return status
        try:
            if truncate:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        return status

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
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
