from __future__ import annotations

import asyncio

import httpx
import pytest

from scraper import __version__
from scraper.errors import InvalidInput
from scraper.http import make_client, user_agent


def test_user_agent_names_tool_version_and_contact():
    ua = user_agent("you@example.org")
    assert ua == f"foi-corpus/{__version__} (FOI research corpus builder; contact: you@example.org)"
    assert "no contact given" in user_agent(None)
    assert "no contact given" in user_agent("  ")


@pytest.mark.parametrize("bad", ["a@b.org\r\nX-Evil: 1", "a (b)", "naïve@example.org"])
def test_user_agent_refuses_header_breaking_contact(bad):
    with pytest.raises(InvalidInput) as info:
        user_agent(bad)
    assert info.value.subject == "contact"


def test_client_sends_headers_and_does_not_follow_redirects():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "/elsewhere"})

    async def go():
        async with make_client("https://www.example.org", "me@example.org", transport=httpx.MockTransport(handler)) as client:
            assert client.follow_redirects is False
            return await client.get("/request/x")

    resp = asyncio.run(go())
    assert resp.status_code == 302 and len(seen) == 1
    assert seen[0].headers["user-agent"].startswith("foi-corpus/")
    assert "me@example.org" in seen[0].headers["user-agent"]
    assert seen[0].headers["accept-encoding"] == "gzip"
    assert str(seen[0].url) == "https://www.example.org/request/x"


def test_client_uses_one_connection_by_default():
    client = make_client("https://www.example.org", None)
    pool = client._transport._pool  # httpx keeps the limits on its connection pool
    assert pool._max_connections == 1
    asyncio.run(client.aclose())
