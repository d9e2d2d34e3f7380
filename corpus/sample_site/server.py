"""A real HTTP server on 127.0.0.1 that behaves like an Alaveteli site.

``FakeSite(corpus)`` serves request pages and their JSON, the authority, user
and ``/list`` listings, robots.txt, the authorities CSV and attachments, with
the status codes and headers the real site sends (weak ETags and 304s
included).  The corpus may change while the server runs (listings follow).
The tests' fault injection and hit recording build on it (``tests/support``)
through ``handler_class`` and :meth:`FakeSite.handle`.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
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

HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
MEDIUM_CACHE = "max-age=3600, public"
LONG_CACHE = "max-age=86400, public"


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

    ``threads``: at most this many requests are answered at once.
    """

    handler_class: ClassVar[type[SiteHandler]]  # set below; a subclass may answer differently

    def __init__(self, corpus: SiteCorpus, *, host: str = "127.0.0.1", port: int = 0, threads: int | None = None):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the sample site only binds to the loopback interface (127.0.0.1)")
        self.corpus = corpus
        self.host = host
        self.port = port
        self._index: _Index | None = None
        self._index_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.slots = threading.BoundedSemaphore(threads) if threads else None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeSite:
        handler = type("Handler", (self.handler_class,), {"site": self})
        server = ThreadingHTTPServer((self.host, self.port), handler)
        server.daemon_threads = True
        # A client that goes away mid-answer (a killed sync) is not the server's problem.
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
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

    def __enter__(self) -> FakeSite:
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ----------------------------------------------------------------- the corpus

    def index(self) -> _Index:
        """The listing index, rebuilt when the corpus has changed.

        Small corpora are checked on every listing hit; large ones (over
        2,000 requests) at most once a second, unless their size or
        ``version`` changed (:meth:`refresh` bumps it).
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
        if req is None or req.prominence not in ("normal", "backpage"):
            return Response(404, render.STATIC_404.encode())
        return Response(301, b"", headers=[("Location", f"{self.url}/request/{quote(req.url_title)}{suffix}")])

    def _request(self, slug: str, as_json: bool, params: dict) -> Response:
        req = self.corpus.find(slug)
        if req is None:
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


class SiteHandler(BaseHTTPRequestHandler):
    """Answers each request with :meth:`FakeSite.handle`, as nginx in front of Rails would send it."""

    site: FakeSite
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - quiet
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
        slots = self.site.slots
        if slots is not None:
            slots.acquire()
        try:
            self.answer(method)
        finally:
            if slots is not None:
                slots.release()

    def answer(self, method: str) -> int:
        """Answer one request; returns the status sent."""
        return self.send(method, self.site_response(method))

    def site_response(self, method: str) -> Response:
        try:
            return self.site.handle(method, self.path)
        except Exception:  # a bug in the fake: answer like Rails would
            return Response(500, render.server_error_page().encode())

    def send(self, method: str, resp: Response) -> int:
        """Send ``resp`` (a 304 instead when its weak ETag matches); returns the status sent."""
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
        self.end_headers()
        if method != "HEAD":
            try:
                self.write_body(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        return status

    def write_body(self, body: bytes) -> None:
        self.wfile.write(body)


FakeSite.handler_class = SiteHandler
