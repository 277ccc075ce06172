"""monitors.collect.http: classification of outcomes, refusal of private addresses, size cap."""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import socket
import threading
import time
import zlib

import pytest
from urllib3.exceptions import DecodeError

from monitors.collect.addresses import PrivateAddress, RefusedAddress, check_url_allowed
from monitors.collect.codings import Decoder
from monitors.collect.http import MAX_HEADERS, fetch, make_client
from monitors.collect.results import HTML_TYPES, PERMANENT, TRANSIENT, FetchResult
from monitors.collect.throttle import parse_retry_after
from monitors.settings import Settings
from tests.site import LocalSite
from tests.test_faults import raw_server


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed.xml",
        "http://localhost:8080/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "gopher://example.org/",
    ],
)
def test_private_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(RefusedAddress) as refused:
        check_url_allowed(url, allow_private=False)
    # only an address is refused by VEILLE_ALLOW_PRIVATE_NETWORK (a source's retry follows it)
    assert isinstance(refused.value, PrivateAddress) == url.startswith("http"), refused.value


def test_public_literal_address_is_allowed() -> None:
    check_url_allowed("https://93.184.216.34/article", allow_private=False)


def test_refusal_is_a_result_not_an_exception(settings: Settings, site: LocalSite) -> None:
    strict = dataclasses.replace(settings, allow_private_network=False)
    site.add("/page.html", "<p>x</p>")
    with make_client(strict) as client:
        result = fetch(client, f"{site.base}/page.html", strict)
    assert result.outcome == "refused" and result.error_class == PERMANENT and result.private_address
    assert "VEILLE_ALLOW_PRIVATE_NETWORK" in (result.reason or "")
    assert site.log == []  # nothing was sent


def test_every_redirect_hop_is_checked(settings: Settings, site: LocalSite) -> None:
    # The first hop is allowed (private network allowed for the local site); the second
    # points at a file:// URL, which no setting allows.
    site.add("/moved", b"", status=302, headers={"Location": "file:///etc/passwd"})
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/moved", settings)
    assert result.outcome == "refused" and result.final_url == "file:///etc/passwd"
    assert "scheme 'file'" in (result.reason or "")


@pytest.mark.parametrize(
    ("status", "klass"),
    [
        (404, PERMANENT),
        (410, PERMANENT),
        (403, PERMANENT),
        (500, TRANSIENT),
        (503, TRANSIENT),
        (429, TRANSIENT),
    ],
)
def test_status_classes(settings: Settings, site: LocalSite, status: int, klass: str) -> None:
    site.add("/x", b"nope", status=status, headers={"Retry-After": "7"})
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/x", settings)
    assert result.outcome == "error" and result.status == status and result.error_class == klass
    assert result.retry_after == 7.0


def test_size_cap_and_content_type(settings: Settings, site: LocalSite) -> None:
    small = dataclasses.replace(settings, max_bytes=1000)
    site.add("/big.html", b"<p>" + b"a" * 5000 + b"</p>")
    site.add("/doc.pdf", b"%PDF-1.4", content_type="application/pdf")
    with make_client(small) as client:
        big = fetch(client, f"{site.base}/big.html", small)
        pdf = fetch(client, f"{site.base}/doc.pdf", small, accept=HTML_TYPES)
    assert big.outcome == "error" and big.error_class == PERMANENT and "1000 byte cap" in (big.reason or "")
    assert pdf.outcome == "skipped" and "application/pdf" in (pdf.reason or "")


def test_connection_refused_is_transient(settings: Settings) -> None:
    with make_client(settings) as client:
        result = fetch(client, "http://127.0.0.1:9/", settings)
    assert result.outcome == "error" and result.error_class == TRANSIENT


def test_retry_after_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 2, 10, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 10 Feb 2025 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("garbage") is None


def test_undecodable_body_is_permanent(settings: Settings, site: LocalSite) -> None:
    site.add("/bad.html", b"not gzip at all, nor a page", headers={"Content-Encoding": "gzip"})
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/bad.html", settings)
    assert result.outcome == "error" and result.error_class == PERMANENT
    assert "could not be decoded" in (result.reason or "")


@pytest.mark.parametrize(
    ("coding", "start"),
    [("gzip", b""), ("x-gzip", b"\n  "), ("gzip", b"\xef\xbb\xbf"), ("deflate", b"")],
    ids=["gzip", "x-gzip-after-whitespace", "gzip-after-a-bom", "deflate"],
)
def test_a_page_its_header_says_compressed_but_sent_plain_is_read_as_sent(
    settings: Settings, site: LocalSite, coding: str, start: bytes
) -> None:
    """A server that sets ``Content-Encoding: gzip`` and does not compress: the page was a
    permanent "body could not be decoded: gzip data is corrupt". A body that starts as markup
    is plainly the page; read as sent, and the header's lie said in ``transport``."""
    body = start + "<!DOCTYPE html><html><body><p>Sommet pour l’action sur l’IA</p></body></html>".encode()
    site.add("/plain.html", body, headers={"Content-Encoding": coding})
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/plain.html", settings)
    assert result.ok, result.reason
    assert result.content == body
    assert result.transport == (
        f"Content-Encoding: {coding} on a body that is not {coding} (it starts with '<'): read as sent",
    )


PLAIN_PAGE = "<!DOCTYPE html><html><body><p>Sommet pour l’action sur l’IA</p></body></html>".encode()


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
@pytest.mark.parametrize(
    "reads",
    [
        [b"\n", PLAIN_PAGE],
        [b"\n", b"  \r\n", PLAIN_PAGE],
        [b"\xef", b"\xbb\xbf" + PLAIN_PAGE],
        [b"<", PLAIN_PAGE[1:]],
    ],
    ids=["a-newline", "blanks-in-two-reads", "half-a-bom", "a-lone-bracket"],
)
def test_a_page_sent_plain_is_read_as_sent_whatever_its_first_read_holds(
    settings: Settings, coding: str, reads: list[bytes]
) -> None:
    """The same page whose first bytes come in reads of their own (a server that flushes a
    newline before the page): its first read alone was looked at, and a lone newline is no
    markup, so the page was "body could not be decoded: gzip data is corrupt", lost for good."""
    body = b"".join(reads)

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: %s\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (coding.encode(), len(body))
            )
            for part in reads:  # each in a read of its own
                conn.sendall(part)
                time.sleep(0.2)

    with raw_server(answer) as base, make_client(settings) as client:
        result = fetch(client, f"{base}/plain.html", settings)
    assert result.ok, result.reason
    assert result.content == body
    assert result.transport == (
        f"Content-Encoding: {coding} on a body that is not {coding} (it starts with '<'): read as sent",
    )


def test_the_decoder_reads_a_body_as_sent_from_all_its_first_reads() -> None:
    """:class:`Decoder` alone, read by read: the blanks before the markup give nothing until the
    markup comes, then all of it; a gzip stream sent a byte at a time still decodes, and
    blanks then no markup are still corrupt."""
    page = b"<!DOCTYPE html><html><body><p>Sommet</p></body></html>"
    decoder = Decoder("gzip")
    assert [decoder.decode(b"\n", 1 << 20), decoder.decode(page, 1 << 20)] == [b"", b"\n" + page]
    assert decoder.plain and decoder.cut_short() is None
    decoder = Decoder("gzip")
    assert b"".join(decoder.decode(bytes([b]), 1 << 20) for b in gzip.compress(page)) == page
    assert decoder.plain is None and decoder.cut_short() is None
    decoder = Decoder("gzip")
    decoder.decode(b"\n", 1 << 20)
    with pytest.raises(DecodeError, match="gzip data is corrupt"):
        decoder.decode(b"not a page", 1 << 20)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_the_decoder_counts_the_blanks_before_the_markup_as_they_come(coding: str) -> None:
    """The blanks are counted read by read, not looked at again at each read (64 KiB of them a
    byte a read took a minute: ``bench/decoder_start.py``): blanks split over reads, a read that
    starts with blanks and ends in a byte order mark's first bytes, a body of blanks alone, and
    a raw deflate stream a byte at a time read as before."""
    page = b"<html><body><p>Sommet</p></body></html>"
    body = b" \n\t" * 300 + b"\r\n" + codecs.BOM_UTF8 + page
    for step in (1, 2, 7, 1000):
        decoder = Decoder(coding)
        out = b"".join(decoder.decode(body[i : i + step], 1 << 20) for i in range(0, len(body), step))
        assert out == body and decoder.plain and decoder.cut_short() is None, step
    decoder = Decoder(coding)
    assert [decoder.decode(b" " * 5000, 1 << 20) for _ in range(3)] == [b"", b"", b""]
    assert decoder.cut_short() is None and decoder.plain is None
    decoder = Decoder(coding)
    decoder.decode(b"\n" * 10, 1 << 20)
    with pytest.raises(DecodeError, match=f"{coding} data is corrupt"):
        decoder.decode(b"  not a page", 1 << 20)
    if coding == "deflate":
        packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        raw = packer.compress(page * 50) + packer.flush()
        decoder = Decoder(coding)
        assert b"".join(decoder.decode(bytes([b]), 1 << 20) for b in raw) == page * 50
        assert decoder.plain is None and decoder.cut_short() is None


class _CountingStream:
    """A zlib stream that counts the bytes it is given (:class:`Decoder`'s ``zlib``)."""

    given = 0

    def __init__(self, wbits: int) -> None:
        self._stream = zlib.decompressobj(wbits)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        _CountingStream.given += len(data)
        return self._stream.decompress(data, max_length)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def test_the_decoder_gives_a_gzip_header_sent_a_byte_at_a_time_to_its_stream_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A gzip header with a long file name (FNAME), a byte a read, gives no byte out until it
    ends: each read was decompressed from the body's first byte again (``bench/decoder_start.py``).
    Each byte is given once, and the page, a zlib deflate one and a raw deflate one read as before."""
    import monitors.collect.codings as codings

    counting = type(
        "zlib", (), {"decompressobj": _CountingStream, "error": zlib.error, "MAX_WBITS": zlib.MAX_WBITS}
    )
    monkeypatch.setattr(codings, "zlib", counting)
    page = b"<html><body><p>Sommet</p></body></html>" * 20
    packed = gzip.compress(page, mtime=0)
    # the FNAME flag and a 2,000-byte name ended by its NUL, after the 10-byte header
    body = packed[:3] + bytes([packed[3] | 0x08]) + packed[4:10] + b"n" * 2000 + b"\0" + packed[10:]
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    for coding, sent in (
        ("gzip", body),
        ("deflate", zlib.compress(page)),
        ("deflate", raw.compress(page) + raw.flush()),
    ):
        _CountingStream.given = 0
        decoder = Decoder(coding)
        assert b"".join(decoder.decode(bytes([b]), 1 << 20) for b in sent) == page, coding
        assert decoder.plain is None and decoder.cut_short() is None
        assert _CountingStream.given <= 2 * len(sent), (coding, _CountingStream.given)


def test_gzip_body_is_decoded_and_the_connection_reused(settings: Settings, site: LocalSite) -> None:
    import gzip

    site.add(
        "/page.html",
        gzip.compress("<p>Sommet pour l’action sur l’IA</p>".encode()),
        headers={"Content-Encoding": "gzip"},
    )
    with make_client(settings) as client:
        first = fetch(client, f"{site.base}/page.html", settings)
        second = fetch(client, f"{site.base}/page.html", settings)
    assert first.ok and first.content == "<p>Sommet pour l’action sur l’IA</p>".encode() and second.ok
    assert len({r["peer"] for r in site.log}) == 1


@pytest.mark.parametrize("url", ["http://[::1:9/", "http://127.0.0.1:99999/"])
def test_malformed_url_is_a_permanent_result(settings: Settings, url: str) -> None:
    with make_client(settings) as client:
        result = fetch(client, url, settings)
    assert result.error_class == PERMANENT and result.outcome in {"refused", "error"}
    assert "malformed" in (result.reason or "") or "invalid URL" in (result.reason or "")


def test_redirect_to_a_malformed_url_is_recorded(settings: Settings, site: LocalSite) -> None:
    site.add("/moved", b"", status=302, headers={"Location": "http://[::1:9/"})
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/moved", settings)
    assert result.outcome in {"refused", "error"} and result.error_class == PERMANENT


@pytest.mark.parametrize("sent", ["utf-8", "latin-1"])
def test_a_redirect_to_an_accented_path_written_raw_is_followed(
    settings: Settings, site: LocalSite, sent: str
) -> None:
    """A Location header whose path is written in raw bytes, not percent-encoded: UTF-8 ones
    (the usual) are read as UTF-8, as browsers and requests read them (veille read them as
    Latin-1 and asked for /actualit%C3%83%C2%A9/..., a 404: the article lost as gone); bytes
    that are no UTF-8 are still read as Latin-1."""
    raw = "/actualité/sommet-ia.html".encode(sent).decode("latin-1")  # the bytes as http.server sends them
    site.add("/old", b"", status=301, headers={"Location": raw})
    site.add("/actualit%C3%A9/sommet-ia.html", "<html><body>moved here</body></html>")
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/old", settings)
    assert result.ok and result.content == b"<html><body>moved here</body></html>", result
    assert result.final_url == f"{site.base}/actualité/sommet-ia.html"


@pytest.mark.parametrize("status", [300, 301, 302, 307, 308])
def test_a_redirect_without_a_location_is_no_page(settings: Settings, site: LocalSite, status: int) -> None:
    """A 3xx with no Location header: its body, the server's "Moved Permanently" stub, was the
    page (stored as an article titled "Moved Permanently"); it is a permanent error, cause first."""
    stub = "<html><head><title>Moved</title></head><body><h1>Moved Permanently</h1></body></html>"
    site.add("/moved", stub, status=status)
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/moved", settings)
    assert result.outcome == "error" and result.error_class == PERMANENT and result.content is None
    reason = result.reason or ""
    assert reason.startswith(f"HTTP {status} ") and reason.endswith(
        "without a Location header: no address to follow"
    )


def test_a_cookie_a_redirect_sets_is_sent_on_the_later_hops(settings: Settings, site: LocalSite) -> None:
    """A site that sets a cookie and redirects to the same page, which it answers only to a
    client that sends the cookie back (a cookie check): veille went round the redirect until
    "too many redirects", a permanent failure, the article lost. The cookies go only to their
    own site, and for this fetch only."""
    from tests.site import Request

    def checked(request: Request) -> tuple[int, dict[str, str], bytes]:
        if "vu=1" in request.headers.get("cookie", ""):
            return 200, {"Content-Type": "text/html"}, b"<html><body>the page</body></html>"
        cookies = "vu=1; Path=/; HttpOnly"
        return 302, {"Location": request.path, "Set-Cookie": cookies}, b""

    def echo(request: Request) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "text/plain"}, request.headers.get("cookie", "none").encode()

    site.add("/a/page.html", b"", handler=checked)
    site.add("/echo", b"", handler=echo)
    other = site.base.replace("127.0.0.1", "localhost")  # another host name, the same server
    site.add("/away", b"", status=302, headers={"Location": f"{other}/echo", "Set-Cookie": "vu=1"})
    with make_client(settings) as client:
        page = fetch(client, f"{site.base}/a/page.html", settings)
        assert page.ok and page.content == b"<html><body>the page</body></html>", page
        away = fetch(client, f"{site.base}/away", settings, accept=None)
        assert away.ok and away.content == b"none", away  # not sent to another host
        again = fetch(client, f"{site.base}/echo", settings, accept=None)
        assert again.ok and again.content == b"none", again  # nor kept after the fetch


def test_the_cookies_a_fetch_keeps_follow_their_domain() -> None:
    from monitors.collect.cookies import Jar, cookie_header, keep_cookies

    jar: Jar = {}
    keep_cookies(jar, "https://www.site.fr/a", "a=1; Path=/\nb=2; Domain=.site.fr\nc=3; Domain=other.fr")
    assert cookie_header(jar, "https://www.site.fr/b") == "a=1; b=2; c=3"
    assert cookie_header(jar, "https://news.site.fr/") == "b=2"  # Domain: the parent's subdomains
    assert cookie_header(jar, "https://other.fr/") is None  # a Domain not the host's own: host only
    keep_cookies(jar, "https://www.site.fr/a", "a=; Max-Age=0")
    assert cookie_header(jar, "https://www.site.fr/") == "b=2; c=3"


def test_refused_connection_is_a_network_error_not_a_timeout(settings: Settings) -> None:
    with make_client(settings) as client:
        result = fetch(client, "http://127.0.0.1:9/", settings)
    assert result.reason == "connection refused by 127.0.0.1:9", result.reason  # the cause, first


LIMITS = "response from {host} over http.client's limits (1000 headers, 64 KiB a line): "
RAW_ANSWERS = {
    "many-headers": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(1050)) + b"\r\n",
    "long-header": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\nContent-Length: 2\r\n\r\nok",
    "not-http": b"<html><body>bonjour</body></html>",
    "body-cut": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n<html>",
}


def _fetch_raw(settings: Settings, raw: bytes) -> tuple[FetchResult, str]:
    """What fetch makes of a server answering ``raw`` bytes, and the server's host."""

    from tests.test_faults import raw_server

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        try:
            conn.recv(4096)
            conn.sendall(raw)
        except OSError:
            pass
        finally:
            conn.close()

    with raw_server(serve) as url, make_client(settings) as client:
        result = fetch(client, f"{url}/page.html", settings, accept=None)
    return result, url.removeprefix("http://")


@pytest.mark.parametrize(
    ("answer", "klass", "cause"),
    [
        (
            "many-headers",
            PERMANENT,
            LIMITS + "got more than 1000 headers",
        ),
        (
            "long-header",
            PERMANENT,
            LIMITS + "got more than 65536 bytes",
        ),
        (
            "not-http",
            TRANSIENT,
            "not an HTTP response from {host}: status line '<html><body>bonjour</body></html>'",
        ),
        (
            "body-cut",
            TRANSIENT,
            "body cut short: {host} closed the connection before its end (IncompleteRead(6 bytes read",
        ),
    ],
    ids=["many-headers", "long-header", "not-http", "body-cut"],
)
def test_a_malformed_answer_is_classed_and_its_cause_comes_first(
    settings: Settings, answer: str, klass: str, cause: str
) -> None:
    """A server over http.client's header limits answers the same each time (permanent); a
    status line that is no HTTP, or a body cut short, may be a glitch (transient)."""
    result, host = _fetch_raw(settings, RAW_ANSWERS[answer])
    assert result.outcome == "error" and result.error_class == klass
    assert (result.reason or "").startswith(cause.format(host=host)), result.reason


def test_an_answer_with_hundreds_of_headers_is_read(settings: Settings) -> None:
    """http.client stops at 100 header lines; sites send more (a cookie per tracker): veille
    reads up to MAX_HEADERS."""
    headers = b"".join(b"Set-Cookie: t%d=1\r\n" % i for i in range(MAX_HEADERS - 10))
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + headers + b"Content-Length: 2\r\n\r\nok"
    result, _ = _fetch_raw(settings, raw)
    assert result.outcome == "ok" and result.content == b"ok", result.reason


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "BR", "gzip, br", "x-unknown"])
def test_a_body_in_an_encoding_veille_cannot_decode_is_a_permanent_failure(
    settings: Settings, site: LocalSite, encoding: str
) -> None:
    """veille asks for gzip or deflate; a server that compresses with brotli (or zstd, or
    anything else) all the same sent bytes no parser can read: the failure says so, cause first,
    rather than the compressed bytes stored and extracted as a page (main: ``ok``)."""
    packed = bytes(range(256)) * 4  # what a brotli stream looks like to a text parser
    site.add("/br.html", packed, headers={"Content-Encoding": encoding})
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/br.html", settings)
    assert (result.outcome, result.error_class, result.content) == ("error", PERMANENT, None)
    named = ", ".join(c.strip() for c in encoding.lower().split(","))
    assert result.reason == (
        f"unsupported content-encoding: {named}: {site.base.removeprefix('http://')} compressed "
        "its answer in a way veille cannot decode (it asked for gzip, deflate)"
    )


@pytest.mark.parametrize(
    "encoding",
    [
        "identity",
        "gzip, identity",
        "identity, gzip",
        " X-GZIP ",
        "gzip,",
        "none",
        "UTF-8",
        "none, gzip",
        "chunked",
    ],
)
def test_identity_and_x_gzip_content_encodings_are_read(
    settings: Settings, site: LocalSite, encoding: str
) -> None:
    """``identity`` is no coding at all, in a list too (main read "gzip, identity" as two
    codings, its identity as deflate: "body could not be decoded"); x-gzip is gzip. Nor is
    ``none`` (a PHP idiom that keeps a flushed page uncompressed), a charset or a transfer
    coding written there: they were refused as "unsupported content-encoding: none", the page
    lost for good."""
    import gzip

    page = "<p>Sommet pour l’action sur l’IA</p>".encode()
    body = page if "gzip" not in encoding.lower() else gzip.compress(page)
    site.add("/page.html", body, headers={"Content-Encoding": encoding})
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/page.html", settings)
    assert result.ok and result.content == page, result.reason
