"""Where veille may connect: a URL's scheme and host checked, the host resolved once, and
an address that is not public refused (``VEILLE_ALLOW_PRIVATE_NETWORK``)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class RefusedAddress(Exception):
    """The URL points somewhere veille must not go (private network, odd scheme)."""


class PrivateAddress(RefusedAddress):
    """The URL's host has an address that is not public while ``VEILLE_ALLOW_PRIVATE_NETWORK``
    is off: the setting refuses it, not the URL, so the refusal lasts as long as the setting."""


class Unresolvable(Exception):
    """The URL's host does not resolve (transient: DNS may come back)."""


def check_url_allowed(url: str, allow_private: bool) -> str:
    """Refuse non-http(s) URLs and, unless allowed, any address that is not global (private,
    loopback, link-local, shared 100.64.0.0/10, reserved, multicast...). Returns the address
    to connect to: the host is resolved here, once, and the fetch connects to that address
    (no second lookup that DNS rebinding could answer differently)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what raises for a bad one
    except ValueError as exc:
        raise RefusedAddress(f"refused: malformed URL ({exc})") from exc
    if parts.scheme not in {"http", "https"}:
        raise RefusedAddress(f"refused: scheme {parts.scheme or '(none)'!r} is not http(s)")
    host = parts.hostname
    if not host:
        raise RefusedAddress("refused: URL has no host")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc)
            raise Unresolvable(f"host {host} does not resolve (DNS: {detail})") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not allow_private:
        for addr in addresses:
            if not is_public(addr):
                raise PrivateAddress(
                    f"refused: {host} resolves to non-public address {addr} "
                    "(set VEILLE_ALLOW_PRIVATE_NETWORK=1 to allow)"
                )
    return str(addresses[0])


def is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether veille may connect to ``addr``: a global unicast address (IPv4 inside IPv6
    judged as IPv4)."""
    if isinstance(addr, ipaddress.IPv6Address):
        inner = addr.ipv4_mapped or addr.sixtofour
        if inner is not None:
            addr = inner
    return addr.is_global and not addr.is_multicast
