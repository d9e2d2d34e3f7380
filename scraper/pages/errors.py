"""Recognise pages that are not a request thread, from bytes alone (pure).

``classify_page`` looks only at cheap byte markers (no HTML parse), so the
fetcher can call it on every response and the request parser can call it
before parsing.

* ``'challenge'``: a bot / anti-automation interstitial (Cloudflare "Just a
  moment...", ``cf-chl`` challenge scripts, the ``cf-mitigated: challenge``
  header).  Back off and report; never try to get round it.
* ``'hidden'``: Alaveteli's 403 "Request has been removed" page (hidden or
  requester-only request).
* ``'error_page'``: the site's styled 404/500 page ("Sorry, we couldn't find
  that page"), Rails' static 404 page, or an empty error response.
* ``None``: nothing recognised; it may be a request page or any other page.
"""

from __future__ import annotations

from collections.abc import Mapping

# Markers are matched in lower-cased bytes.
_CHALLENGE_MARKERS = (
    b"<title>just a moment...</title>",
    b"<title>just a moment</title>",
    b"cf-chl-",
    b"cf_chl_",
    b"/cdn-cgi/challenge-platform/",
    b"challenge-error-text",
    b"<title>attention required! | cloudflare</title>",
    b"cf-browser-verification",
    b"checking your browser before accessing",
    b"enable javascript and cookies to continue",
)
_HIDDEN_MARKERS = (b"request has been removed",)
_ERROR_MARKERS = (
    b'id="error-page"',
    b"sorry, we couldn't find that page",
    b"sorry, we couldn&#39;t find that page",
    b"sorry, there was a problem processing this page",
    b"the page you were looking for doesn't exist",
    b"the page you were looking for doesn&#39;t exist",
)

# Only the head of a page is searched for most markers: interstitials and error
# pages put them early, and a long request thread quoting these phrases in a
# message body should not be mistaken for one.
_HEAD_BYTES = 64 * 1024


def classify_page(
    html: bytes,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> str | None:
    """Return ``'challenge'``, ``'error_page'``, ``'hidden'`` or ``None`` for these bytes."""
    if headers:
        for key, value in headers.items():
            k = key.lower()
            if k == "cf-mitigated" and "challenge" in str(value).lower():
                return "challenge"
    raw_head = (html or b"")[:_HEAD_BYTES]
    if b'id="request_show"' in raw_head and b'id="request_status"' in raw_head:
        # A real thread page (challenge and error pages have no status box): its
        # header comes before the thread, so bodies quoting error phrases cannot
        # trip the checks below.  Checked first because it needs no lower-casing.
        return None
    head = raw_head.lower()
    for marker in _CHALLENGE_MARKERS:
        if marker in head:
            return "challenge"
    if b"<h1>request has been removed</h1>" in head or (
        b'id="hidden_request"' in head and any(m in head for m in _HIDDEN_MARKERS)
    ):
        return "hidden"
    for marker in _ERROR_MARKERS:
        if marker in head:
            return "error_page"
    if status is not None and status >= 400:
        if status == 403 and head.strip() == b"":
            return "hidden"
        if status in (429, 503) and b"cloudflare" in head:
            return "challenge"
        return "error_page"
    return None
