"""Telling a bot challenge from an answer: ``challenge_reason`` (pure).

A challenge (Cloudflare's interstitial and alike) is never retried and never
evaded: ``scraper.fetch`` raises ``ChallengeDetected`` on one, and the archive
readers skip a captured one.
"""

from __future__ import annotations

CHALLENGE_STATUSES = frozenset({403, 429, 503})

# Markers of a bot-challenge / anti-automation interstitial (Cloudflare and alike).
_CHALLENGE_BODY_MARKERS = (
    b"<title>just a moment...</title>",
    b"cf-chl",
    b"challenge-platform",
    b"attention required! | cloudflare",
    b"cf-browser-verification",
)
# On a 200 only unmistakable markers count: a request thread may quote odd words.
_CHALLENGE_200_MARKERS = (
    b"<title>just a moment...</title>",
    b"/cdn-cgi/challenge-platform/",
    b"<title>attention required! | cloudflare</title>",
)


def challenge_reason(status: int, headers: dict[str, str], body_head: bytes | None) -> str | None:
    """Why this response is a bot challenge, or None.  Pure; headers have lower-case keys."""
    if status == 418:
        return "status 418"
    mitigated = headers.get("cf-mitigated", "").lower()
    if mitigated and "challenge" in mitigated:
        return f"cf-mitigated: {mitigated}"
    if body_head:
        head = body_head[:65536].lower()
        markers = _CHALLENGE_BODY_MARKERS if status in CHALLENGE_STATUSES else _CHALLENGE_200_MARKERS
        for marker in markers:
            if marker in head:
                return f"challenge page ({marker.decode()!r} in the body)"
    return None
