"""Wayback-compatible archives on 127.0.0.1 for the tests: a real pywb, and a stand-in for the Internet Archive.

* ``PywbServer``: pywb in a subprocess (``tests/support/pywb_serve.py``),
  bound to 127.0.0.1 on a port the system picks; ``add(name, files)`` makes a
  collection of WARC files (pywb's own collection manager indexes them) and
  returns its base URL, e.g. ``http://127.0.0.1:PORT/name``.
* ``IaStandIn``: a small threaded HTTP server answering the Internet
  Archive's CDX API (``/cdx/search/cdx``, JSON rows with a header row, as
  ``internetarchive/wayback``'s ``wayback-cdx-server/README.md`` documents it:
  ``limit=-N``, ``fastLatest``, ``matchType=prefix``, ``collapse=urlkey``,
  ``filter=[!]field:regex``, ``showResumeKey``/``resumeKey``) and raw replays
  under ``/web/<timestamp>id_/<url>`` with the captured headers as
  ``x-archive-orig-*``, like the Wayback Machine.  It records every hit and
  can answer 429 (with or without ``Retry-After``) or a bot challenge on demand.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from warcio.archiveiterator import ArchiveIterator

SERVE_SCRIPT = Path(__file__).with_name("pywb_serve.py")
START_TIMEOUT = 120.0  # seconds; pywb imports a lot, and the machine may be busy


class PywbServer:
    """A real pywb serving collections from a temporary folder, on 127.0.0.1 only."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="pywb-")
        self.root = Path(self._tmp.name)
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._names = 0

    def start(self) -> PywbServer:
        log = (self.root / "pywb.log").open("wb")
        self._proc = subprocess.Popen(
            [sys.executable, str(SERVE_SCRIPT), str(self.root)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1,
        )
        first = self._read_line(START_TIMEOUT)
        self.port = int(json.loads(first)["port"])
        return self

    def _read_line(self, timeout: float) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            log = (self.root / "pywb.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"pywb did not answer within {timeout:g} s; its log ends:\n{log}")
        return box[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, files: list[Path], name: str | None = None) -> str:
        """A new collection of ``files`` (WARCs); returns its base URL (the ``--archive`` value)."""
        with self._lock:
            self._names += 1
            name = name or f"coll{self._names}"
            assert self._proc is not None and self._proc.stdin is not None
            self._proc.stdin.write(json.dumps({"add": name, "files": [str(f) for f in files]}) + "\n")
            self._proc.stdin.flush()
            answer = json.loads(self._read_line(60))
        if "error" in answer:
            raise RuntimeError(f"pywb could not add collection {name}: {answer['error']}")
        return f"{self.url}/{name}"

    def stop(self) -> None:
        if self._proc is not None:
            try:
                if self._proc.stdin is not None:
                    self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._proc = None
        self._tmp.cleanup()

    def listening_addresses(self) -> list[str]:
        """The local addresses the pywb process listens on (read from /proc/net), for checking the bind."""
        found = []
        for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                cols = line.split()
                local, state = cols[1], cols[3]
                address, port = local.split(":")
                if state == "0A" and int(port, 16) == self.port:  # LISTEN
                    found.append(_address(address, width))
        return found


def _address(hex_addr: str, width: int) -> str:
    if width == 8:
        return ".".join(str(b) for b in reversed(bytes.fromhex(hex_addr)))
    raw = b"".join(bytes.fromhex(hex_addr[i:i + 8])[::-1] for i in range(0, 32, 8))
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


# ---------------------------------------------------------------------------- the IA stand-in


@dataclass
class Stored:
    url: str
    timestamp: str
    status: int
    mime: str
    digest: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def urlkey(self) -> str:
        return urlkey(self.url)


@dataclass
class IaHit:
    method: str
    path: str
    query: dict
    headers: dict
    status: int = 0
    at: float = field(default_factory=time.monotonic)


def urlkey(url: str) -> str:
    """A simplified SURT key: host reversed with commas, no scheme, ``www.`` or default port."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    key = ",".join(reversed(host.split(".")))
    if port and port not in (80, 443):
        key += f":{port}"
    return key + ")" + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class IaStandIn:
    """The Internet Archive's CDX API and ``id_`` replays, served from WARC files on 127.0.0.1."""

    def __init__(self, warcs: Iterable[Path] = (), *, robots_txt: str | None = None):
        self.captures: list[Stored] = []
        self.robots_txt = robots_txt
        self.hits: list[IaHit] = []
        self.faults: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        for path in warcs:
            self.load(path)

    def load(self, path: Path) -> None:
        """Index the response records of a WARC (revisits are listed as ``warc/revisit``, status ``-``)."""
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type not in ("response", "revisit"):
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                when = datetime.fromisoformat(record.rec_headers.get_header("WARC-Date").replace("Z", "+00:00"))
                stamp = when.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")
                digest = (record.rec_headers.get_header("WARC-Payload-Digest") or "sha1:-").split(":", 1)[1]
                if record.rec_type == "revisit":
                    self.captures.append(Stored(url, stamp, 0, "warc/revisit", digest, [], b""))
                    continue
                headers = list(record.http_headers.headers)
                body = record.content_stream().read()
                mime = (record.http_headers.get_header("Content-Type") or "unk").split(";")[0]
                self.captures.append(Stored(url, stamp, int(record.http_headers.get_statuscode()), mime, digest,
                                            headers, body))
        self.captures.sort(key=lambda c: (c.urlkey, c.timestamp))

    def add_fault(self, path_regex: str, kind: str, *, times: int = 1, **params) -> None:
        """Answer matching requests with ``429`` (``retry_after=`` optional), ``challenge`` or ``status`` (``code=``)."""
        with self._lock:
            self.faults.append({"rx": re.compile(path_regex), "kind": kind, "times": times, **params})

    def start(self) -> IaStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                stand_in._serve(self, "GET")

            def do_POST(self):
                stand_in._serve(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- answering ----------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        hit = IaHit(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in handler.headers.items()})
        with self._lock:
            self.hits.append(hit)
        status, headers, body = self._answer(method, parts, handler.path)
        hit.status = status
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _fault(self, target: str) -> dict | None:
        with self._lock:
            for f in self.faults:
                if f["rx"].search(target):
                    f["times"] -= 1
                    if f["times"] <= 0:
                        self.faults.remove(f)
                    return f
        return None

    def _answer(self, method: str, parts, raw: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method != "GET":
            return 405, [("Content-Type", "text/plain")], b"read only\n"
        fault = self._fault(raw)
        if fault is not None:
            if fault["kind"] == "429":
                extra = [("Retry-After", str(fault["retry_after"]))] if "retry_after" in fault else []
                return 429, [("Content-Type", "text/plain"), *extra], b"Too Many Requests\n"
            if fault["kind"] == "status":
                return int(fault["code"]), [("Content-Type", "text/plain")], b"archive error\n"
            if fault["kind"] == "challenge":
                return 403, [("Content-Type", "text/html"), ("cf-mitigated", "challenge")], (
                    b"<html><head><title>Just a moment...</title></head><body></body></html>")
        if parts.path == "/robots.txt":
            if self.robots_txt is None:
                return 404, [("Content-Type", "text/plain")], b"not found\n"
            return 200, [("Content-Type", "text/plain")], self.robots_txt.encode()
        if parts.path == "/cdx/search/cdx":
            return self._cdx(dict(parse_qsl(parts.query, keep_blank_values=True)),
                             [v for k, v in parse_qsl(parts.query) if k == "filter"])
        m = re.match(r"^/web/(\d{1,14})id_/(.+)$", raw)
        if m:
            return self._replay(m.group(1), m.group(2))
        return 404, [("Content-Type", "text/plain")], b"not found\n"

    def _cdx(self, q: dict, filters: list[str]) -> tuple[int, list[tuple[str, str]], bytes]:
        url = q.get("url", "")
        match = q.get("matchType", "exact")
        if url.endswith("*"):
            url, match = url[:-1], "prefix"
        key = urlkey(url if "://" in url else f"http://{url}")
        rows = [c for c in self.captures if (c.urlkey.startswith(key) if match == "prefix" else c.urlkey == key)]
        fields = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]

        def values(c: Stored) -> list[str]:
            return [c.urlkey, c.timestamp, c.url, c.mime, str(c.status) if c.status else "-", c.digest,
                    str(len(c.body))]

        for flt in filters:
            negate = flt.startswith("!")
            name, _, pattern = flt.lstrip("!").partition(":")
            col = fields.index(name)
            rows = [c for c in rows if bool(re.fullmatch(pattern, values(c)[col])) != negate]
        if q.get("collapse") == "urlkey":
            seen, kept = set(), []
            for c in rows:
                if c.urlkey not in seen:
                    seen.add(c.urlkey)
                    kept.append(c)
            rows = kept
        start = int(q["resumeKey"]) if q.get("resumeKey", "").isdigit() else 0
        rows = rows[start:]
        resume = None
        limit = int(q["limit"]) if q.get("limit", "").lstrip("-").isdigit() else None
        if limit is not None and limit < 0:
            rows = rows[limit:]
        elif limit is not None and len(rows) > limit:
            rows = rows[:limit]
            if q.get("showResumeKey") == "true":
                resume = str(start + limit)
        if q.get("output") == "json":
            data: list = [fields, *(values(c) for c in rows)] if rows else []
            if resume is not None:
                data += [[], [resume]]
            return 200, [("Content-Type", "application/json")], json.dumps(data).encode()
        text = "".join(" ".join(values(c)) + "\n" for c in rows) + (f"\n{resume}\n" if resume else "")
        return 200, [("Content-Type", "text/plain")], text.encode()

    def _replay(self, stamp: str, url: str) -> tuple[int, list[tuple[str, str]], bytes]:
        key = urlkey(url)
        found = [c for c in self.captures if c.urlkey == key and c.status]
        if not found:
            return 404, [("Content-Type", "text/html")], b"<html><body>Wayback Machine has not archived that URL.</body></html>"
        best = min(found, key=lambda c: abs(int(c.timestamp) - int(stamp.ljust(14, "0"))))
        if best.timestamp != stamp:
            return 302, [("Location", f"{self.url}/web/{best.timestamp}id_/{best.url}")], b""
        when = datetime.strptime(best.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
        headers = [("Memento-Datetime", format_datetime(when, usegmt=True))]
        for name, value in best.headers:
            lower = name.lower()
            if lower == "content-type":
                headers.append((name, value))
            elif lower not in ("content-length", "transfer-encoding", "content-encoding", "connection"):
                headers.append((f"x-archive-orig-{name}", value))
        return best.status, headers, best.body


_shared: PywbServer | None = None
_shared_lock = threading.Lock()


def shared_pywb() -> PywbServer:
    """One pywb for the whole test run, started on first use and stopped when the run ends."""
    global _shared
    with _shared_lock:
        if _shared is None:
            import atexit

            _shared = PywbServer().start()
            atexit.register(_shared.stop)
        return _shared
