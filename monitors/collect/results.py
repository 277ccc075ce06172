"""What a fetch comes back with: :class:`FetchResult`, its class (:data:`PERMANENT`: record
once, do not retry; :data:`TRANSIENT`: retry later with backoff), how a failure reached no
server (:data:`UNREACHED`, :data:`NOT_SENT`), the content types veille reads, and the
classifiers that make a success that is none a failure (an empty body, a redirect home)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

PERMANENT = "permanent"


TRANSIENT = "transient"


#: ``sources.last_error_class`` of a source whose address was refused as not public
#: (:class:`~monitors.collect.addresses.PrivateAddress`): ``VEILLE_ALLOW_PRIVATE_NETWORK``
#: refuses it, not the source, so the first run with the setting on polls it at once
#: (``polls.due_sources``) rather than after the day a permanent failure waits.
PRIVATE_ADDRESS = "private-address"


HTML_TYPES = ("text/html", "application/xhtml+xml")


FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "application/x-rss+xml",
    "application/feed+json",
    "application/json",
    "text/plain",
    "text/html",  # some servers label feeds as HTML; the parser decides
    "application/octet-stream",
)


_XML_TYPE = re.compile(r"[a-z]+/(?:x-)?(?:[a-z0-9.-]+\+)?xml")


_JSON_TYPE = re.compile(r"[a-z]+/(?:x-)?(?:[a-z0-9.-]+\+)?json")


def accepted_type(ctype: str, accept: tuple[str, ...]) -> bool:
    """Is ``ctype`` (lowercase, no parameters) one of ``accept``? Where XML is accepted, so is
    any XML label (``text/rss+xml``, ``application/x-atom+xml``, ``text/x-xml``), likewise
    for JSON, and where ``application/octet-stream`` is, Amazon S3's ``binary/octet-stream``:
    the parser decides on the body, as it does for ``text/xml``."""
    if ctype in accept:
        return True
    if _XML_TYPE.fullmatch(ctype):
        return "application/xml" in accept
    if _JSON_TYPE.fullmatch(ctype):
        return "application/json" in accept
    return ctype == "binary/octet-stream" and "application/octet-stream" in accept


@dataclass
class FetchResult:
    """What one GET produced, success or not."""

    url: str
    final_url: str
    outcome: str  # ok | not_modified | error | refused | skipped
    status: int | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_class: str | None = None  # permanent | transient
    reason: str | None = None
    retry_after: float | None = None
    elapsed_ms: int = 0
    blocked: bool = False  # refused as a bot: 401/403/429 or a challenge page (monitors.collect.blocking)
    #: the failure never reached a server: how (a key of :data:`UNREACHED`, or :data:`NOT_SENT`
    #: when the fetch sent no request at all), else None
    unreached: str | None = None
    #: False when the request for ``final_url`` was never sent: its address refused (private
    #: network), robots.txt disallowed it, or no time was left for it
    sent: bool = True
    #: refused for a non-public address (``VEILLE_ALLOW_PRIVATE_NETWORK`` off: PrivateAddress)
    private_address: bool = False
    #: with ``sent`` False, the URL of the last request the fetch did send (a redirect's, or
    #: the robots.txt fetched for this check), None when it sent none
    last_sent: str | None = None
    #: not asked: its host put on hold by an earlier answer's ``Retry-After`` (a 429 or 503),
    #: with ``retry_after`` the seconds left of the hold (``fetch``'s ``hold_host``)
    held: bool = False
    #: what the response's headers said wrongly and how the body was read all the same (a
    #: ``Content-Encoding`` the body is not in): kept in every fetch's ``fetch_log.transport``
    #: (a feed's, a sitemap's, a listing's, a page's; migration 0052) and, for a page that gave
    #: an article, in its ``extraction_evidence``
    transport: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def framed(self) -> bool:
        """Whether the server told where its body ends (a ``Content-Length``, or chunked
        transfer coding) and the body came to that end: fetch fails a body the connection cut
        before it (urllib3's IncompleteRead). A body the closing connection ends tells nothing."""
        coding = self.headers.get("transfer-encoding", "").lower()
        return self.ok and (self.headers.get("content-length", "").strip().isdigit() or "chunked" in coding)

    @property
    def sent_url(self) -> str | None:
        """The URL of the last request the fetch sent, None when it sent none."""
        return self.final_url if self.sent else self.last_sent

    @property
    def host(self) -> str | None:
        """The host whose answer, or failure to answer (``unreached``), the fetch's last request
        says something of, as the offline hint counts hosts (:func:`host_of`); None when the
        fetch sent no request: a fetch never tried says nothing of its host."""
        return host_of(self.sent_url) if self.sent_url else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def size(self) -> int:
        return len(self.content or b"")


def empty_is_transient(result: FetchResult) -> FetchResult:
    """A success with an empty body (or blanks only) where a document was expected (a feed,
    a sitemap, a listing, an article), as a transient error: a server that answers 200 with
    nothing is, as a rule, between two deploys or serving a cache entry gone wrong, and the
    same URL answers the next time. As a permanent failure the page was lost for good and a
    feed sent to discovery. mediacloud/rss-fetcher counts it a soft error, retried with backoff,
    as veille does timeouts and 5xx. robots.txt (empty: no rule) and the web archives' index
    answers (an empty CDX answer: no capture) are not read through this; a Wayback capture is
    (:func:`monitors.collect.archives.captures.fetch_capture`)."""
    if not result.ok or (result.content or b"").strip():
        return result
    host = urlsplit(result.final_url).netloc
    size = len(result.content or b"")
    what = "an empty body" if not size else f"a blank body ({size} bytes of whitespace)"
    reason = f"empty answer: {host} sent HTTP {result.status} with {what}; tried again later"
    return dataclasses.replace(result, outcome="error", error_class=TRANSIENT, reason=reason)


def home_is_gone(result: FetchResult) -> FetchResult:
    """An article's URL redirected to a home page (its site's, or a new domain's), as a
    permanent error: sites send a removed article's URL there, and the home page was stored as
    the article, its text the site's front page."""
    if not result.ok or result.final_url == result.url:
        return result
    final, first = urlsplit(result.final_url), urlsplit(result.url)
    if final.path not in {"", "/"} or final.query or first.path in {"", "/"}:
        return result
    reason = f"redirected to the home page {result.final_url}: the article is gone"
    return dataclasses.replace(result, outcome="error", error_class=PERMANENT, reason=reason, content=None)


def wall_in_the_way(result: FetchResult) -> FetchResult:
    """An article's (or a source's) URL redirected to a consent or login wall, as a blocked
    transient error: the wall was stored as the article ("Nous respectons votre vie privée"),
    and the site's other articles, redirected to the same wall, as copies of it, lost for good;
    a listing read the wall's links as the site's articles. A wall is told
    by its URL: one that carries the article's own (``?continue=``, ``?redirect=``, escaped or
    not: where the reader is sent back after saying yes or logging in), or a host named
    ``consent.`` (Google's, Yahoo's)."""
    if not result.ok or result.final_url == result.url:
        return result
    final, first = urlsplit(result.final_url), urlsplit(result.url)
    page = f"{first.netloc}{first.path}".lower()
    query = final.query.lower()
    carries = False
    if first.path not in {"", "/"}:
        for _ in range(3):  # escaped once, or twice (a wall that passes through another)
            if page in query:
                carries = True
                break
            query, before = unquote(query), query
            if query == before:
                break
    if not carries and (final.hostname or "").split(".")[0] != "consent":
        return result
    wall = f"{final.netloc}{final.path}"
    reason = f"blocked: redirected to a consent or login wall ({wall}) instead of the page; tried again later"
    return dataclasses.replace(
        result, outcome="error", error_class=TRANSIENT, reason=reason, content=None, blocked=True
    )


DNS, REFUSED, CONNECT_TIMEOUT, NO_ROUTE = "dns", "refused", "connect-timeout", "no-route"


TLS_TIMEOUT = "tls-timeout"


#: The ways a fetch fails before reaching a server (:attr:`FetchResult.unreached`, the
#: ``unreached`` column of ``fetch_log``), and what each says of the host. A TLS handshake
#: that never completes reached no HTTPS server either: something took the TCP connection (a
#: captive portal, a filtering proxy or firewall does so for every host) but nothing answered.
UNREACHED = {
    DNS: "did not resolve",
    REFUSED: "refused the connection",
    CONNECT_TIMEOUT: "took no connection in time",
    NO_ROUTE: "was unreachable",
    TLS_TIMEOUT: "accepted the connection but completed no TLS handshake in time",
}


#: The start of the reason of a request not sent because its host is on hold (a 429's or a
#: 503's Retry-After to an earlier request): deferred, its page's attempt not spent.
NOT_ASKED = "not asked: "


#: The end of the reason of a request not sent because its host did not resolve or refused
#: the connection earlier in the run (the host's cause comes first): deferred, its page's
#: attempt not spent. A run's verdict groups it with the cause it follows.
NOT_ASKED_AGAIN = "; not asked again in this run (host unreachable): deferred, no attempt spent"


#: A fetch that sent no request at all (:attr:`FetchResult.host` None): its address refused
#: (``VEILLE_ALLOW_PRIVATE_NETWORK``), robots.txt's rules from the cache disallowing it, or
#: ``VEILLE_FETCH_DEADLINE`` spent before its request went (waiting for its host's turn: a
#: per-host or crawl delay). No server was asked, so it says nothing of its host or the network:
#: not a key of :data:`UNREACHED`, and the offline hints leave it out. NULL in ``fetch_log`` says
#: a server answered one of the fetch's requests (a redirect's first hop, the robots.txt fetched).
NOT_SENT = "not-sent"


def host_of(url: str) -> str:
    """The server a URL's fetch goes to, as the offline hint counts hosts: its ``host:port``
    (lower case, without user info), the same in ``monitors.archive.queue``'s SQL."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()
