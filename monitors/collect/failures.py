"""A request that failed on the network, classified: the reason a user reads, cause first
(:func:`network_reason`), and how it failed to reach a server, if it did not
(:func:`unreached_kind`, a key of :data:`~monitors.collect.results.UNREACHED`). No network I/O:
:mod:`monitors.collect.http` and the archives' streams call it with what urllib3 raised."""

from __future__ import annotations

import errno
import re
from urllib.parse import urlsplit

from urllib3.exceptions import NameResolutionError, NewConnectionError, SSLError

from monitors.collect.results import DNS, NO_ROUTE, REFUSED
from monitors.errors import said


def network_said(exc: BaseException) -> str:
    """What ``exc`` says (:func:`monitors.errors.said`: one bounded line, an SSL or proxy error
    may run to several), without urllib3's object addresses and connection prefixes
    (``HTTPConnection(host='x', port=80): ``)."""
    text = re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>: ", "", said(exc))
    return re.sub(r"^\w*Connection(?:Pool)?\(host='[^']*', port=\d+\): ", "", text)


def network_reason(exc: BaseException, url: str) -> str:
    """A network failure as a reason that starts with its cause: ``host x does not resolve``,
    ``connection refused by x``, then the details (errno text), never the other way round."""
    host = urlsplit(url).netloc
    text = network_said(exc)
    errno_text = re.search(r"\[Errno -?\d+\] ([^)\]]+)", text)
    detail = errno_text.group(1).strip() if errno_text else text
    if isinstance(exc, NameResolutionError) or "Failed to resolve" in text:
        return f"host {urlsplit(url).hostname} does not resolve (DNS: {detail})"
    if "Connection refused" in text:
        return f"connection refused by {host}"
    if "Connection reset" in text or "RemoteDisconnected" in text:
        return f"connection reset by {host} ({detail})"
    if isinstance(exc, SSLError) or "SSL" in text:
        return f"TLS error with {host}: {text}"
    return f"network: {text}"


def unreached_kind(exc: BaseException) -> str | None:
    """How a request that raised ``exc`` failed to reach a server (a key of
    :data:`~monitors.collect.results.UNREACHED`), from the exception's type and errno, not its
    words; None when a connection was made (a reset, a TLS error, a bad answer: a server was
    there)."""
    if isinstance(exc, NameResolutionError):
        return DNS
    if not isinstance(exc, NewConnectionError):
        return None
    cause = exc.__cause__  # urllib3 raises it from the OSError of connect()
    if isinstance(cause, ConnectionRefusedError):
        return REFUSED
    if isinstance(cause, OSError) and cause.errno in _NO_ROUTE:
        return NO_ROUTE
    return None


_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
