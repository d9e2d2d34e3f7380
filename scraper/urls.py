"""Site and request URLs: validation, normalisation and same-host checks.

Every URL the scraper sends is built or checked here, so "which site are we
talking to" has exactly one answer.  Pure functions, no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urljoin, urlsplit

from scraper.errors import InvalidInput

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Alaveteli request slugs (url_title) are simplified to [a-z0-9_]; be a little
# lenient (upper case, hyphens) so a hand-typed slug still gets through.
_SLUG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


def _bad_site(message: str) -> InvalidInput:
    return InvalidInput(message, subject="site")


def _bad_request(message: str) -> InvalidInput:
    return InvalidInput(message, subject="request")


def normalise_site(url: str) -> str:
    """Return ``scheme://host[:port]`` for a site base URL, or raise InvalidInput (subject "site").

    Accepts an optional trailing slash; refuses other schemes, a missing host,
    and any path, query or fragment (the site is its root, not a page on it).
    """
    if not isinstance(url, str) or not url.strip():
        raise _bad_site("the site URL is empty; give one such as https://www.whatdotheyknow.com")
    raw = url.strip()
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not parts.scheme or "://" not in raw:
            raise _bad_site(f"site URL {raw!r} has no scheme; write it in full, e.g. https://{raw.strip('/')}")
        raise _bad_site(f"site URL {raw!r} uses {parts.scheme!r}; only http and https sites can be collected")
    try:
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise _bad_site(f"site URL {raw!r} has an invalid host or port; write it like https://www.whatdotheyknow.com") from None
    if not host:
        raise _bad_site(f"site URL {raw!r} has no host; write it like https://www.whatdotheyknow.com")
    if parts.username or parts.password:
        raise _bad_site(f"site URL {raw!r} contains a user name or password; give the bare site, e.g. https://{host}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _bad_site(f"site URL {raw!r} has a path; give the site root only, e.g. {scheme}://{parts.netloc}")
    netloc = host.lower()
    if ":" in netloc:  # IPv6 literal
        netloc = f"[{netloc}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def _host_port(url: str) -> tuple[str | None, int | None]:
    parts = urlsplit(url)
    try:
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None, None
    if host is None:
        return None, None
    host = host.lower().rstrip(".")
    if port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower())
    return host, port


def same_host(site: str, url: str) -> bool:
    """True when ``url`` (absolute or relative to ``site``) is on the site's host, and no less secure.

    The host names must match, and so must the ports, except that a switch
    between the default http and https ports (80 ↔ 443) counts as the same host.
    A site reached over https is never left for plain http (see ``downgrades``).
    """
    absolute = urljoin(site + "/", url)
    return not downgrades(site, absolute) and _same_site_host(site, absolute)


def same_site_host(site: str, url: str) -> bool:
    """True when ``url`` names the site's host, whatever its scheme (80 ↔ 443 allowed).

    For reading URLs the site wrote or an archive recorded (an ``http://`` capture
    of an https site is the same page); never for deciding what to send.
    """
    return _same_site_host(site, absolute_url(site, url))


def _same_site_host(site: str, absolute: str) -> bool:
    """Host and port match (80 ↔ 443 allowed), whatever the scheme."""
    s_host, s_port = _host_port(site)
    u_host, u_port = _host_port(absolute)
    if s_host is None or u_host is None or s_host != u_host:
        return False
    if s_port == u_port:
        return True
    return s_port in (80, 443) and u_port in (80, 443)


def downgrades(site: str, url: str) -> bool:
    """True when ``site`` is https and ``url`` (absolute or relative) is not.

    A redirect from https to http would send the request, and bring back the
    answer, in clear text that anyone on the path could read or change.
    """
    if urlsplit(site).scheme.lower() != "https":
        return False
    return urlsplit(urljoin(site + "/", url)).scheme.lower() != "https"


def absolute_url(site: str, url: str) -> str:
    """Resolve ``url`` against the site root (absolute URLs are returned as they are)."""
    return urljoin(site + "/", url)


def is_local_site(site: str) -> bool:
    """True for a site on this machine: an IPv4 loopback address (127.0.0.0/8), ``::1`` or ``localhost``.

    Such sites are exempt from the public rate cap and reached without a proxy.
    Addresses are recognised only as literals, which the kernel always keeps on
    this machine; of names, only ``localhost`` itself counts.  Other names, such
    as ``mirror.localhost``, go through the system resolver, which may send them
    to DNS and so to any address: they are treated as public sites.
    """
    host, _ = _host_port(site)
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def request_url(site: str, slug: str) -> str:
    """The request page URL for a url_title."""
    return f"{site}/request/{slug}"


def request_json_url(site: str, slug: str) -> str:
    """The JSON twin of a request page (``/request/<slug>.json``)."""
    return f"{site}/request/{slug}.json"


def _from_path_segment(segment: str, original: str) -> tuple[str | None, int | None]:
    if segment.endswith(".json"):
        segment = segment[: -len(".json")]
    if segment.isdigit():
        return None, int(segment)
    if _SLUG_RE.match(segment):
        return segment, None
    raise _bad_request(
        f"{original!r} is not a request slug, URL or number; use e.g. pothole_repair_times or /request/pothole_repair_times"
    )


def request_ref(site: str, ref: str | int) -> tuple[str | None, int | None]:
    """Read a request reference: return ``(slug, None)`` or ``(None, numeric_id)``.

    Accepts a slug (``pothole_repair_times``), a number (``1290477``), a path
    (``/request/<slug>``) or a full URL of this site, with or without
    ``.json``, a fragment (``#incoming-3``) or a query.  A URL of another host is
    refused, because it would be fetched from a site we were not asked to use.
    """
    if isinstance(ref, bool):
        raise _bad_request(f"{ref!r} is not a request slug, URL or number")
    if isinstance(ref, int):
        if ref <= 0:
            raise _bad_request(f"request id {ref} is not positive; ids are whole numbers like 1290477")
        return None, ref
    text = str(ref).strip()
    if not text:
        raise _bad_request("the request reference is empty; give a slug, a /request/ URL or a number")
    looks_like_url = "://" in text or text.startswith("/") or text.startswith("request/")
    if not looks_like_url:
        return _from_path_segment(text, text)
    if "://" in text:
        # Only the slug or id is taken from the URL, and asked for from the site as
        # it was given: an http link to an https site names the same request.
        if not _same_site_host(site, text):
            raise _bad_request(f"{text!r} is not on {site}; give a URL of {site}, or collect the other site separately")
        path = urlsplit(text).path
    else:
        path = urlsplit("/" + text.lstrip("/")).path
    segments = [s for s in path.split("/") if s]
    if len(segments) < 2 or segments[0] != "request":
        raise _bad_request(f"{text!r} is not a request URL; request URLs look like {site}/request/<slug>")
    return _from_path_segment(segments[1], text)


def url_title_from_href(href: str) -> str | None:
    """The slug of a ``/request/<slug>[#anchor]`` link (relative or absolute), else None."""
    path = urlsplit(href).path
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 2 and segments[0] == "request":
        slug = segments[1]
        return slug[: -len(".json")] if slug.endswith(".json") else slug
    return None
