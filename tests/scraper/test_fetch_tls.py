"""An https site on 127.0.0.1 (a test certificate authority): redirects may not drop to plain http."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
import trustme

from scraper.fetch import Failure, Fetcher
from scraper.http import make_client
from scraper.politeness import RateLimiter, Robots
from tests.hostile_server import HostileServer, send


@pytest.fixture(scope="module")
def tls():
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx


def fetch_all(server: HostileServer, client_ctx: ssl.SSLContext, *paths: str):
    async def go():
        transport = httpx.AsyncHTTPTransport(verify=client_ctx)
        async with make_client(server.url, None, transport=transport) as client:
            fetcher = Fetcher(client, Robots.allow_all(server.url), RateLimiter(1000), site=server.url,
                              backoff_base=0.0001, max_attempts=1)
            return [await fetcher.fetch(p) for p in paths]

    return asyncio.run(go())


def test_an_https_site_is_not_left_for_http_on_a_redirect(tls):
    server_ctx, client_ctx = tls
    with HostileServer(tls=server_ctx) as server:
        plain = server.url.replace("https://", "http://")
        server.route(r"^/down$", send(301, b"", {"Location": f"{plain}/request/x"}))
        server.route(r"^/across$", send(302, b"", {"Location": f"{server.url}/request/x"}))
        server.route(r"^/request/x$", send(200, b"<html>the thread</html>", {"Content-Type": "text/html"}))
        down, across = fetch_all(server, client_ctx, "/down", "/across")
        paths = [p for _, p in server.hits]
    assert down.failure == Failure.REDIRECT and down.status == 301 and down.body is None
    assert down.error == f"redirect from https to plain http ({plain}/request/x); not followed"
    # the same redirect kept on https is followed, so the refusal is the downgrade's alone
    assert across.ok and across.body == b"<html>the thread</html>" and across.final_url == f"{server.url}/request/x"
    assert paths == ["/down", "/across", "/request/x"]
