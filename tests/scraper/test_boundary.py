"""The site's boundary through the Fetcher: URLs refused before sending, redirects followed or not."""

from __future__ import annotations

import asyncio

import httpx

from scraper.boundary import on_site, redirect_target, refusal
from scraper.fetch import Failure, Fetcher
from scraper.http import make_client
from scraper.politeness import RateLimiter, Robots
from scraper.results import Answer
from tests.hostile_server import HostileServer, send
from tests.scraper.scripted import ROBOTS, SITE, run


def test_same_host_redirect_followed():
    routes = {
        "/request/123": [httpx.Response(301, headers={"Location": f"{SITE}/request/psl_schemes"})],
        "/request/psl_schemes": [httpx.Response(200, text="thread")],
    }
    result, script, *_ = run(routes, url="/request/123")
    assert result.status == 200 and result.body == b"thread" and result.attempts == 2
    assert result.url == f"{SITE}/request/123" and result.final_url == f"{SITE}/request/psl_schemes"


def test_off_site_redirect_not_followed():
    routes = {"/page": [httpx.Response(302, headers={"Location": "https://evil.example/page"})]}
    result, script, *_ = run(routes)
    assert result.status == 302 and "redirect to another host" in result.error
    assert script.paths() == ["/page"]


def test_redirect_into_disallowed_path_not_followed():
    routes = {"/page": [httpx.Response(302, headers={"Location": "/request/x?update_status=1"})]}
    result, script, *_ = run(routes)
    assert "disallowed by robots.txt" in result.error and script.paths() == ["/page"]


def test_redirect_loop_stops():
    routes = {"/a": [httpx.Response(302, headers={"Location": "/b"})], "/b": [httpx.Response(302, headers={"Location": "/a"})]}
    result, script, *_ = run(routes, url="/a", max_redirects=4)
    assert "too many redirects" in result.error and len(script.requests) == 5


def test_robots_disallowed_never_sent():
    result, script, sleeps, calls = run({"/feed/body/x": [httpx.Response(200)]}, url="/feed/body/x")
    assert result.error == "disallowed by robots.txt" and result.attempts == 0 and script.requests == [] and calls == []


def test_off_site_url_never_sent():
    result, script, *_ = run({"/page": [httpx.Response(200)]}, url="https://evil.example/page")
    assert "refused" in result.error and script.requests == []


# --- redirects and URLs: no downgrade ---------------------------------------------------------------


def test_an_https_to_http_redirect_is_not_followed():
    routes = {"/page": [httpx.Response(301, headers={"Location": "http://www.example.org/page"})]}
    result, script, *_ = run(routes)
    assert result.failure == Failure.REDIRECT and script.paths() == ["/page"]
    assert result.error == "redirect from https to plain http (http://www.example.org/page); not followed"


def test_a_plain_http_url_of_an_https_site_is_never_sent():
    result, script, *_ = run({"/page": [httpx.Response(200)]}, url="http://www.example.org/page")
    assert result.failure == Failure.REFUSED and "plain http" in result.error and script.requests == []


# --- leaving the site: never, however the URL is dressed up (real loopback servers) -----------------


def _locations(other: str) -> list[str]:
    """Redirect targets that leave the site (``other`` is another server on this machine)."""
    host_port = other.split("://", 1)[1]
    return [
        f"{other}/request/x",  # another port on the same address
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",  # cloud metadata
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://2852039166/latest/meta-data/",  # 169.254.169.254 as one number
        "http://metadata.google.internal/computeMetadata/v1/",
        "{site}@" + host_port + "/request/x",  # the site as userinfo, the real host after @
        f"//{host_port}/request/x",  # scheme-relative
        "file:///etc/passwd",
        "ftp://127.0.0.1/request/x",
    ]


def test_redirects_that_leave_the_site_are_never_followed_nor_connected():
    with HostileServer() as other, HostileServer() as server:
        site_host = server.url.split("://", 1)[1]
        targets = [t.replace("{site}", server.url).replace("{site_host}", site_host) for t in _locations(other.url)]
        for i, target in enumerate(targets):
            server.route(rf"^/hop{i}$", send(302, b"", {"Location": target}))

        async def go():
            async with make_client(server.url, None) as client:
                fetcher = Fetcher(client, Robots.allow_all(server.url), RateLimiter(1000), site=server.url,
                                  max_attempts=1)
                hops = [await fetcher.fetch(f"/hop{i}") for i in range(len(targets))]
                direct = [await fetcher.fetch(t) for t in targets if "://" in t]
                return hops, direct

        hops, direct = asyncio.run(go())
        assert other.hits == []  # no request ever reached the other server
        assert [p for _, p in server.hits] == [f"/hop{i}" for i in range(len(targets))]
    for target, result in zip(targets, hops):
        assert result.failure == Failure.REDIRECT and result.body is None, (target, result.error)
        assert "redirect to another host" in result.error, (target, result.error)
    assert direct and all(r.failure == Failure.REFUSED and r.attempts == 0 for r in direct)


def test_a_backslash_in_the_authority_is_read_alike_by_the_check_and_the_sender():
    # Parsers have disagreed on "http://a\\@b/": here both take b (the site) as the host.
    with HostileServer() as other, HostileServer() as server:
        site_host = server.url.split("://", 1)[1]
        other_host = other.url.split("://", 1)[1]
        server.route(r"^/hop$", send(302, b"", {"Location": f"http://{other_host}\\@{site_host}/landed"}))
        server.route(r"^/landed$", send(200, b"on the site"))

        async def go():
            async with make_client(server.url, None) as client:
                fetcher = Fetcher(client, Robots.allow_all(server.url), RateLimiter(1000), site=server.url)
                return await fetcher.fetch("/hop")

        result = asyncio.run(go())
        assert other.hits == [] and [p for _, p in server.hits] == ["/hop", "/landed"]
    assert result.ok and result.body == b"on the site"


# --- the rules on their own (pure) ----------------------------------------------------------------------

RULES = Robots.parse(SITE, ROBOTS)


def redirect(location: str | None, status: int = 302) -> Answer:
    return Answer(status, {"location": location} if location else {}, None)


def test_refusal_names_why_a_url_is_not_sent():
    assert refusal(SITE, RULES, f"{SITE}/request/x") is None
    assert refusal(SITE, RULES, "http://www.example.org/request/x") == f"plain http URL on the https site {SITE}; refused"
    assert refusal(SITE, RULES, "https://evil.example/request/x") == f"not on {SITE}; refused"
    assert refusal(SITE, RULES, f"{SITE}/feed/body/x") == "disallowed by robots.txt"


def test_redirect_target_resolves_the_location_and_says_why_it_is_not_followed():
    def target(answer: Answer, last_hop: bool = False) -> tuple[str, str | None]:
        return redirect_target(SITE, RULES, f"{SITE}/a", answer, last_hop=last_hop, max_redirects=5)

    assert target(redirect("/b")) == (f"{SITE}/b", None)
    assert target(redirect(None, 301)) == (f"{SITE}/a", "redirect (301) without a Location header")
    assert target(redirect("/b"), last_hop=True) == (f"{SITE}/b", "too many redirects (stopped after 5; a redirect loop?)")
    assert target(redirect("https://evil.example/x")) == (
        "https://evil.example/x", "redirect to another host (https://evil.example/x); not followed")
    assert target(redirect("http://www.example.org/b")) == (
        "http://www.example.org/b", "redirect from https to plain http (http://www.example.org/b); not followed")
    assert target(redirect("/request/x?update_status=1")) == (
        f"{SITE}/request/x?update_status=1", f"redirect to {SITE}/request/x?update_status=1, which is disallowed by robots.txt")


def test_on_site_takes_the_host_after_the_userinfo():
    assert on_site(SITE, f"{SITE}/request/x") and on_site(SITE, "/request/x")
    assert not on_site(SITE, "https://evil.example/request/x")
    assert not on_site(SITE, "https://www.example.org@evil.example/request/x")
