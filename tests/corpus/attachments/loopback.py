"""A tiny attachment server on 127.0.0.1 for the download tests, with a request log."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ROBOTS = """User-agent: *
Disallow: */request/forbidden_request/response/*/attach/*
Allow: */request/*/response/*/attach/*
Disallow: */request/*/response/*
Disallow: */request/*/download*
"""


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/octet-stream"
    location: str | None = None


@dataclass
class Site:
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # every path asked for, query included
    base: str = ""


def serve(site: Site):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            site.log.append(self.path)
            path = urlsplit(self.path).path
            if path == "/robots.txt":
                route = Route(body=ROBOTS.encode(), content_type="text/plain")
            else:
                route = site.routes.get(path, Route(status=404, body=b"<html><body>Not found</body></html>", content_type="text/html"))
            self.send_response(route.status)
            if route.location:
                self.send_header("Location", route.location)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server
