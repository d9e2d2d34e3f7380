"""Injected faults: each kind answers the way it says, for as many times as asked."""

from __future__ import annotations

import socket

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

PAGE = "/request/section_47_enquiries_2024"


# one client for the module (no keep-alive: every test site has its own port)
CLIENT = httpx.Client(follow_redirects=False, timeout=10, limits=httpx.Limits(max_keepalive_connections=0))


def get(site, path=PAGE, **kw):
    return CLIENT.get(site.url + path, **kw)


def test_fault_applies_times_then_clears(fake_site):
    fake_site.add_fault(r"^/request/section_47", "status", code=503, times=2)
    assert get(fake_site).status_code == 503
    assert get(fake_site).status_code == 503
    assert get(fake_site).status_code == 200
    # only matching paths are affected
    fake_site.add_fault(r"^/body/", "gone", times=None)
    assert get(fake_site).status_code == 200
    for _ in range(3):
        assert get(fake_site, "/body/glenmore_council").status_code == 410


def test_status_with_custom_body(fake_site):
    fake_site.add_fault(PAGE, "status", code=500, body="boom")
    r = get(fake_site)
    assert r.status_code == 500 and r.text == "boom"


def test_429_with_retry_after_seconds_and_date(fake_site):
    fake_site.add_fault(PAGE, "429", retry_after=7)
    r = get(fake_site)
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    fake_site.add_fault(PAGE, "429", retry_after="Wed, 21 Oct 2037 07:28:00 GMT")
    assert get(fake_site).headers["retry-after"] == "Wed, 21 Oct 2037 07:28:00 GMT"
    assert get(fake_site).status_code == 200


def test_challenge(fake_site):
    fake_site.add_fault(PAGE, "challenge")
    r = get(fake_site)
    assert r.status_code == 403
    assert r.headers["cf-mitigated"] == "challenge"
    assert "Just a moment..." in r.text


def test_delay_outlasts_a_short_client_timeout(fake_site):
    fake_site.add_fault(PAGE, "delay", seconds=1.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(fake_site.url + PAGE, timeout=0.2)
    assert get(fake_site).status_code == 200  # the fault was used up


def test_truncate_sends_half_the_declared_body(fake_site):
    full = get(fake_site).content
    fake_site.add_fault(PAGE, "truncate")
    with pytest.raises(httpx.RemoteProtocolError):
        get(fake_site)
    # raw socket: headers promise the full length, half arrives
    fake_site.add_fault(PAGE, "truncate")
    with socket.create_connection(("127.0.0.1", fake_site.port), timeout=5) as s:
        s.sendall(f"GET {PAGE} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(full)}".encode() in head
    assert len(body) == len(full) // 2


def test_reset_closes_without_answer(fake_site):
    fake_site.add_fault(PAGE, "reset")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
        get(fake_site)
    assert fake_site.hits[-1].status == 0
    assert get(fake_site).status_code == 200


def test_invalid_utf8(fake_site):
    fake_site.add_fault(PAGE, "invalid_utf8")
    r = get(fake_site)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")


def test_huge_body_is_streamed(fake_site):
    fake_site.add_fault(PAGE, "huge")
    with httpx.stream("GET", fake_site.url + PAGE, timeout=10) as r:
        assert r.status_code == 200
        assert "content-length" not in r.headers
        got = 0
        for chunk in r.iter_bytes():
            got += len(chunk)
            if got > 3 * 1024 * 1024:
                break
    assert got > 3 * 1024 * 1024
    assert get(fake_site).status_code == 200


def test_redirects(fake_site):
    fake_site.add_fault(PAGE, "redirect_loop", times=None)
    r = get(fake_site)
    assert r.status_code == 301 and r.headers["location"] == fake_site.url + PAGE
    with pytest.raises(httpx.TooManyRedirects):
        httpx.get(fake_site.url + PAGE, follow_redirects=True, timeout=10)
    fake_site.clear_faults()
    fake_site.add_fault(PAGE, "redirect_offsite")
    r = get(fake_site)
    assert r.status_code == 301 and r.headers["location"] == "http://example.invalid" + PAGE


def test_markup_changed_keeps_words_loses_hooks(fake_site):
    fake_site.add_fault(PAGE, "markup_changed")
    r = get(fake_site)
    assert r.status_code == 200
    t = LexborHTMLParser(r.text)
    assert t.css_first("div#request_status") is None
    assert t.css(".correspondence") == []
    assert "Section 47 enquiries in 2024" in r.text and "initial child protection conference" in r.text


def test_unknown_fault_kind_is_refused(fake_site):
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake_site.add_fault(PAGE, "explode")


def test_remove_request_then_404(fake_site):
    assert get(fake_site).status_code == 200
    fake_site.remove_request("section_47_enquiries_2024")
    assert get(fake_site).status_code == 404
    assert "section_47_enquiries_2024" not in get(fake_site, "/list").text
