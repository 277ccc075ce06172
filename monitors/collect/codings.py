"""Content codings (``Content-Encoding``): the codings a header names, veille's own gzip and
deflate decoder (which tells a compressed stream cut short from a whole one), and the failure
for a coding veille cannot decode."""

from __future__ import annotations

import zlib
from urllib.parse import urlsplit

from urllib3.exceptions import DecodeError
from urllib3.response import HTTPResponse

from monitors.collect.results import PERMANENT, FetchResult

#: the first two bytes of every gzip member (RFC 1952)
GZIP_MAGIC = b"\x1f\x8b"

#: How a page's markup starts, after whitespace: ``<``, alone or after a byte order mark
#: (UTF-8, UTF-16). No gzip stream starts so (``1f 8b``), nor a zlib one; a raw deflate one
#: could, but its decoding fails first (the body is read as sent only after it did).
MARKUP_STARTS = (b"<", b"\xef\xbb\xbf<", b"\xff\xfe<\x00", b"\xfe\xff\x00<")


def is_markup(data: bytes) -> bool:
    """Whether a body starts as a page's markup does (:data:`MARKUP_STARTS`)."""
    return data.lstrip(b" \t\r\n").startswith(MARKUP_STARTS)


#: the blanks a body may hold before its markup while :class:`Decoder` waits to see what follows
BLANKS_BEFORE_MARKUP = 64 * 1024


_BLANKS = b" \t\r\n"
_LONGEST_MARKUP_START = max(map(len, MARKUP_STARTS))


def _undecided(start: bytes | bytearray, blanks: int) -> bool:
    """Whether a body's first bytes are blanks only, or blanks and a byte order mark's first
    bytes (``EF BB``): markup may follow, which no compressed stream starts with, so what to
    read them as is known from the next byte, not from this read's (a lone newline).
    ``blanks``: how many of ``start``'s first bytes are blanks, counted as they come (the
    start is not scanned again at each read: 64 KiB of blanks sent a byte a read took a minute)."""
    if len(start) > BLANKS_BEFORE_MARKUP or len(start) - blanks > _LONGEST_MARKUP_START:
        return False
    head = bytes(start[blanks:])
    return not head.startswith(MARKUP_STARTS) and any(markup.startswith(head) for markup in MARKUP_STARTS)


#: What servers write in ``Content-Encoding`` that names no compression: ``identity``;
#: ``none``, which a PHP idiom sets to keep a server from compressing a page it flushes; a
#: charset, or a transfer coding, written in the wrong header. Their bodies are as sent
#: (urllib3 and browsers read them so); veille refused them as "unsupported
#: content-encoding: none", the page or the feed lost for good.
NO_CODING = frozenset(
    {"identity", "none", "utf-8", "utf8", "iso-8859-1", "us-ascii", "binary", "8bit", "7bit", "chunked"}
)


def content_codings(header: str) -> list[str]:
    """The codings a ``Content-Encoding`` header names, in the order applied, lower case,
    without those that name no compression (:data:`NO_CODING`: ``gzip, identity`` is gzip)
    and empty items."""
    return [c for c in (part.strip().lower() for part in header.split(",")) if c and c not in NO_CODING]


def undecodable(
    url: str, current: str, status: int, hdrs: dict[str, str], codings: list[str], asked: str
) -> FetchResult:
    """A body in a coding veille cannot decode (brotli, zstd: not installed), sent although the
    request asked for ``asked`` (its ``Accept-Encoding``: gzip or deflate, identity for a WARC
    file or range): a permanent failure (the server answers the same way next time), not its
    compressed bytes stored and extracted as a page, or read as a WARC file."""
    host = urlsplit(current).netloc
    reason = (
        f"unsupported content-encoding: {', '.join(codings)}: {host} compressed its answer in a way "
        f"veille cannot decode (it asked for {asked})"
    )
    return FetchResult(url, current, "error", status, headers=hdrs, error_class=PERMANENT, reason=reason)


class Decoder:
    """A gzip or deflate body (``Content-Encoding``) decoded here rather than by urllib3, to
    know whether its compressed stream came whole: urllib3, as zlib, gives what a stream that
    stops before its end holds as if it were all (a server or proxy that compresses on the fly
    and fails midway still ends the chunked body properly, or sends the Content-Length of what
    it sent), and the article was stored with its text cut. A body that does not decode from
    its first bytes and starts as markup (:func:`is_markup`: a server that sets the header and
    does not compress) is read as sent, and :attr:`plain` says so: its start is judged whole,
    whatever reads it came in (blanks alone, a lone ``<``, wait for what follows). Two codings
    (``deflate, gzip``) are left to urllib3, as one it decodes and veille does not (``br``
    with brotli installed); one neither decodes is refused before the body is read
    (:func:`undecodable`). Bad data is urllib3's :class:`DecodeError`, as it was (a permanent
    failure: "body could not be decoded")."""

    ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}

    @classmethod
    def supported(cls, codings: list[str]) -> bool:
        """Whether veille or urllib3 decodes each of ``codings`` (:func:`content_codings`)."""
        return all(c in cls.ENCODINGS or c in HTTPResponse.CONTENT_DECODERS for c in codings)

    @classmethod
    def of(cls, codings: list[str]) -> Decoder | None:
        """The decoder for a body in ``codings`` (:func:`content_codings`); None when it is in
        none, or urllib3 decodes it (two codings, or one veille does not)."""
        return cls(codings[0]) if len(codings) == 1 and codings[0] in cls.ENCODINGS else None

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._obj = zlib.decompressobj(self.ENCODINGS[encoding])
        self._received = 0
        self._raw = False  # "deflate" sent as raw deflate, without zlib's header (urllib3 reads it)
        self._members = 0  # gzip members after the first (a stream may hold several)
        self._member_out = 0  # bytes the current member gave
        self._head = b""  # the first bytes (two at most) of the member after the first in progress
        self._trailer = False  # data after a whole gzip stream that is no gzip member: ignored
        #: the body's bytes while the stream gave none (blanks before a page's markup, a
        #: header's bytes): read as sent if they start as markup, however many reads they took
        self._start = bytearray()
        self._blanks = 0  # how many of its first bytes are blanks
        self._fed = 0  # how many of its first bytes the stream was given (taken, no byte out yet)
        self._given = False  # whether the stream gave a byte yet
        #: why the body is read as sent: the header names a coding it is not in, else None
        self.plain: str | None = None

    def decode(self, data: bytes, room: int) -> bytes:
        """What ``data`` decodes to, at most ``room`` bytes (more means the body is over its
        cap: what is left is not decoded, a gzip bomb never expands in memory)."""
        self._received += len(data)
        if self.plain:
            return data[:room]
        if not self._given:
            if self._blanks == len(self._start):  # blanks only so far: count this read's
                self._blanks += len(data) - len(data.lstrip(_BLANKS))
            self._start += data
            if _undecided(self._start, self._blanks):  # blanks so far: whether markup follows is not known
                return b""
            # what the stream was not given yet: from the first byte once blanks let the start
            # be decided, then each read's own (a gzip header's long file name sent a byte at
            # a time was decompressed from the start again at each read)
            data = bytes(self._start[self._fed :])
        out = bytearray()
        while data and not self._trailer and len(out) < room:
            if self._members and len(self._head) < 2:
                self._head += data[: 2 - len(self._head)]
            try:
                got = self._obj.decompress(data, room - len(out))
            except zlib.error as exc:
                if not self._given and self.encoding == "deflate" and not self._raw:
                    self._raw, self._obj = True, zlib.decompressobj(-zlib.MAX_WBITS)
                    data = bytes(self._start)  # raw deflate from the first byte
                    continue
                if self._members:  # junk after a whole gzip member, ignored as urllib3 does
                    self._trailer = True
                    break
                if not self._given and is_markup(bytes(self._start)):
                    self.plain = (
                        f"Content-Encoding: {self.encoding} on a body that is not {self.encoding} "
                        "(it starts with '<'): read as sent"
                    )
                    return bytes(self._start[:room])
                raise DecodeError(f"{self.encoding} data is corrupt: {exc}") from exc
            out += got
            if not self._given:
                if not got and not self._obj.eof:  # a header so far: the stream holds it
                    self._fed = len(self._start)
                    return b""
                self._given, self._start = True, bytearray()
            self._member_out += len(got)
            data = b""
            if self._obj.eof and self._obj.unused_data and self.encoding != "deflate":
                data, self._members, self._member_out = self._obj.unused_data, self._members + 1, 0
                self._head = b""
                self._obj = zlib.decompressobj(self.ENCODINGS[self.encoding])
        return bytes(out)

    def cut_short(self) -> str | None:
        """Why the body, all of it received, is no whole compressed stream; None when it is (or
        when what stops early after a whole gzip member starts no member: padding, a zero or a
        newline too short for zlib to refuse). A member after the first is one from its magic
        bytes (``1f 8b``, or its ``1f`` alone): one cut before giving a byte is cut all the same."""
        if self._received == 0 or self._trailer or self._obj.eof or self.plain:
            return None
        if not self._given and _undecided(self._start, self._blanks):  # blanks only: an empty body
            return None
        if self._members and not self._member_out and not GZIP_MAGIC.startswith(self._head):
            return None
        return (
            f"a {self.encoding} body whose compressed stream stops before its end "
            f"({self._received} bytes, all that its HTTP framing announced)"
        )
