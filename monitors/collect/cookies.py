"""Cookies a fetch's redirects set, sent on its later hops: a site that sets a cookie and
redirects to the same page (a cookie check, a consent or session cookie) answers the page
only to a client that sends it back. Without it veille went round the redirect until "too many
redirects", a permanent failure, the article lost; browsers and requests read it. Kept for one
fetch only: nothing is stored, no cookie goes to another site."""

from __future__ import annotations

from urllib.parse import urlsplit

#: A fetch's cookies: (domain, host only, name) -> value
Jar = dict[tuple[str, bool, str], str]


def keep_cookies(jar: Jar, url: str, set_cookie: str) -> None:
    """Add the cookies of a response to ``url`` (its ``Set-Cookie`` lines, one a line) to
    ``jar``; one whose ``Max-Age`` is 0 or less is removed. A ``Domain`` that is not the host's
    own or a parent of it is ignored (RFC 6265 5.3), as is its ``Path`` (one fetch, one page)."""
    host = (urlsplit(url).hostname or "").lower()
    for line in set_cookie.splitlines():
        pair, *attributes = line.split(";")
        name, eq, value = pair.partition("=")
        name = name.strip()
        if not eq or not name:
            continue
        domain, host_only, gone = host, True, False
        for attribute in attributes:
            key, _, val = attribute.partition("=")
            key, val = key.strip().lower(), val.strip()
            if key == "domain" and val:
                wanted = val.lstrip(".").lower()
                if host == wanted or host.endswith("." + wanted):
                    domain, host_only = wanted, False
            elif key == "max-age":
                gone = val.lstrip("-").isdigit() and int(val) <= 0
        jar.pop((host, True, name), None)
        jar.pop((domain, host_only, name), None)
        if not gone:
            jar[(domain, host_only, name)] = value.strip()


def cookie_header(jar: Jar, url: str) -> str | None:
    """The ``Cookie`` header for a request to ``url``, or None."""
    host = (urlsplit(url).hostname or "").lower()
    pairs = [
        f"{name}={value}"
        for (domain, host_only, name), value in jar.items()
        if host == domain or (not host_only and host.endswith("." + domain))
    ]
    return "; ".join(pairs) or None
