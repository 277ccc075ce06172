"""A Common Crawl record read by byte range (``Range`` with ``Accept-Encoding: identity``)
from a server that compresses the range all the same: the record is decoded as any fetched
body is, and a coding veille cannot decode is a permanent failure that names it."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from monitors.collect.archives.captures import fetch_capture
from monitors.collect.archives.ccnews import WarcStream
from monitors.collect.archives.common import COMMONCRAWL, ArchiveError, Capture
from monitors.collect.http import Client
from monitors.collect.results import PERMANENT
from monitors.settings import Settings
from tests.site import LocalSite, Request

PAGE = b"<html><head><title>Sommet sur l'IA</title></head><body><p>Un texte.</p></body></html>"
ORIGINAL = "https://www.example.fr/2025/02/sommet.html"


def _warc() -> tuple[bytes, int, int]:
    """A gzipped WARC file of two records, and the offset and length of the page's."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, body in (("https://www.example.fr/autre.html", b"<p>autre</p>"), (ORIGINAL, PAGE)):
        http = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
        record = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=StatusAndHeaders("200 OK", http, protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Date": "2025-02-12T09:30:00Z"},
        )
        offset = buf.tell()
        writer.write_record(record)
    return buf.getvalue(), offset, buf.tell() - offset


def _capture(site: LocalSite, offset: int, length: int) -> Capture:
    return Capture(
        COMMONCRAWL,
        ORIGINAL,
        datetime(2025, 2, 12, 9, 30, tzinfo=UTC),
        f"{site.base}/crawl-data/file.warc.gz",
        warc_filename="crawl-data/file.warc.gz",
        warc_offset=offset,
        warc_length=length,
    )


def _serve(site: LocalSite, warc: bytes, coding: str, encode: object) -> list[dict[str, str]]:
    """A range server that compresses each range with ``encode``, labelled ``coding``; the
    requests' headers, as it saw them."""
    seen: list[dict[str, str]] = []

    def ranged(request: Request) -> tuple[int, dict[str, str], bytes]:
        seen.append(request.headers)
        first, last = (int(x) for x in request.headers["range"].removeprefix("bytes=").split("-"))
        part = warc[first : last + 1]
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {first}-{last}/{len(warc)}",
            "Content-Encoding": coding,
        }
        return 206, headers, encode(part)  # type: ignore[operator]

    site.add("/crawl-data/file.warc.gz", b"", handler=ranged)
    return seen


@pytest.mark.parametrize(
    ("coding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("gzip, identity", gzip.compress)],
)
def test_a_range_compressed_anyway_is_decoded_before_warcio_reads_it(
    site: LocalSite, client: Client, settings: Settings, coding: str, encode: object
) -> None:
    warc, offset, length = _warc()
    seen = _serve(site, warc, coding, encode)
    result = fetch_capture(client, settings, _capture(site, offset, length), None)
    assert (
        seen[0]["accept-encoding"] == "identity"
        and seen[0]["range"] == f"bytes={offset}-{offset + length - 1}"
    )
    assert result.ok and result.content == PAGE, result.reason


def test_a_range_in_a_coding_veille_cannot_decode_is_a_permanent_failure_naming_it(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    warc, offset, length = _warc()
    _serve(site, warc, "br", lambda part: bytes(range(256)) * 4)
    result = fetch_capture(client, settings, _capture(site, offset, length), None)
    assert (result.outcome, result.error_class, result.content) == ("error", PERMANENT, None)
    host = site.base.removeprefix("http://")
    assert result.reason == (  # main: "(it asks for gzip or deflate)", of a request for identity
        f"unsupported content-encoding: br: {host} compressed its answer in a way veille cannot "
        "decode (it asked for identity)"
    )


def _stream_server(site: LocalSite, warc: bytes, coding: str, encode: Callable[[bytes], bytes]) -> None:
    """A CC-NEWS-like server: the file from a ``Range: bytes=N-`` on (206), compressed."""

    def ranged(request: Request) -> tuple[int, dict[str, str], bytes]:
        assert request.headers["accept-encoding"] == "identity"
        first = int(request.headers.get("range", "bytes=0-").removeprefix("bytes=").rstrip("-"))
        headers = {"Content-Type": "application/octet-stream", "Content-Encoding": coding}
        if first:
            headers["Content-Range"] = f"bytes {first}-{len(warc) - 1}/{len(warc)}"
        return (206 if first else 200), headers, encode(warc[first:])

    site.add("/CC-NEWS-00001.warc.gz", b"", handler=ranged)


@pytest.mark.parametrize("start", [0, 1], ids=["whole", "range"])
@pytest.mark.parametrize("coding", ["gzip", "gzip, identity", "identity, gzip", "deflate"])
def test_a_warc_stream_compressed_anyway_is_decoded_before_warcio_reads_it(
    site: LocalSite, client: Client, settings: Settings, coding: str, start: int
) -> None:
    """main: urllib3 read the identity of ``gzip, identity`` as deflate, failed, and the stream
    was retried as a network failure ("stream cut at byte 0"), then the file given up."""
    warc, offset, length = _warc()
    _stream_server(site, warc, coding, zlib.compress if coding == "deflate" else gzip.compress)
    stream = WarcStream(client, settings, None, f"{site.base}/CC-NEWS-00001.warc.gz", start=start * offset)
    entries = [(e.offset, e.length, e.uri, e.problem) for e in stream]
    whole = [(0, offset, "https://www.example.fr/autre.html", None)] if not start else []
    assert entries == [*whole, (offset, length, ORIGINAL, None)]
    assert [f.outcome for f in stream.fetches] == ["ok"]


def test_a_warc_stream_in_a_coding_veille_cannot_decode_is_a_permanent_failure_naming_it(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """main: the brotli bytes went to warcio, "corrupt WARC record at byte 0: Unknown archive format"."""
    warc, _, _ = _warc()
    _stream_server(site, warc, "br", lambda part: bytes(range(256)) * 4)
    stream = WarcStream(client, settings, None, f"{site.base}/CC-NEWS-00001.warc.gz")
    with pytest.raises(ArchiveError) as failed:
        list(stream)
    host = site.base.removeprefix("http://")
    assert str(failed.value) == (
        f"CC-NEWS WARC file failed: unsupported content-encoding: br: {host} compressed its answer "
        f"in a way veille cannot decode (it asked for identity) ({site.base}/CC-NEWS-00001.warc.gz)"
    )
    assert [(f.outcome, f.error_class) for f in stream.fetches] == [("error", PERMANENT)]
