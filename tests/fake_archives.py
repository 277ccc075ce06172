"""Fake web archives on a LocalSite: the Wayback Machine's CDX server and raw captures,
Common Crawl's collinfo.json, CDX index and WARC files, and CC-NEWS's monthly lists of WARC
files (``warc.paths.gz``) and the files themselves, streamed (all WARC files built here with
warcio).

The answers follow the public formats: Wayback's CDX JSON (a header row, capture rows, an
empty row and the resume key with ``showResumeKey``), pywb's JSON lines and
``showNumPages`` for Common Crawl, WARC records read by ``Range``.
"""

from __future__ import annotations

import gzip
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, unquote, urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.site import LocalSite, Request, SlowBody

#: The seeds' sites, by the site name of tests.site.SPECS.
DOMAINS = {
    "franceinfo": ("www.francetvinfo.fr", "media"),
    "Parti communiste français": ("www.pcf.fr", "party"),
    "Libération": ("www.liberation.fr", "media"),
    "Le Monde": ("www.lemonde.fr", "media"),
    "Parti socialiste": ("www.parti-socialiste.fr", "party"),
}
CRAWL = "CC-MAIN-2025-08"


@dataclass
class Snapshot:
    """One capture: the page as the archive keeps it."""

    original: str
    timestamp: str  # 14 digits
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None
    cdx_mime: str = "text/html"
    replay_at: str | None = None  # Wayback's playback redirects this capture to that time's


def original_url(page_slug: str, site_name: str) -> str:
    domain = DOMAINS[site_name][0]
    return f"https://{domain}/2025/02/{page_slug.rsplit('/', 1)[-1]}"


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host


def urlkey(url: str) -> str:
    """A SURT-like key (``fr,liberation)/2025/02/x.html``), as the CDX servers sort by."""
    parts = urlsplit(url)
    return ",".join(reversed(_host(url).split("."))) + ")" + (parts.path or "/")


@dataclass
class FakeArchives:
    site: LocalSite
    snapshots: list[Snapshot] = field(default_factory=list)
    malformed: dict[str, list[object]] = field(default_factory=dict)  # site -> raw rows/lines
    fail_first: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)  # path prefix
    truncated: set[str] = field(default_factory=set)  # originals whose WARC record is cut
    cdx_delay: float = 0.0
    capture_delay: float = 0.0
    empty_captures: int = 0  # Wayback captures answered as an empty 200 first (playback under load)
    stuck_pages: int = 0  # CDX pages that answer the resume key they were asked with (then it ends)
    html_pages: int = 0  # CDX pages (not showNumPages) answered first as a 200 with an HTML error page
    html_pages_coding: str | None = None  # the Content-Encoding those HTML pages claim (sent plain)
    html_ranges: int = 0  # Common Crawl WARC ranges answered so first
    collinfo_answers: int | None = None  # how many times collinfo.json answers before it 503s
    collinfo_requests: int = 0  # how many times collinfo.json was asked for
    published: list[dict[str, str]] = field(default_factory=list)  # crawls listed after the two
    cdx_requests: list[dict[str, list[str]]] = field(default_factory=list)
    warc: bytes = b""
    cc_index: list[dict[str, str]] = field(default_factory=list)
    ccnews: dict[str, bytes] = field(default_factory=dict)  # path -> WARC file
    ccnews_offsets: dict[str, tuple[str, int, int]] = field(
        default_factory=dict
    )  # original -> file, offset, len
    ccnews_ranges: list[tuple[str, str]] = field(default_factory=list)  # (path, Range) of each WARC request
    ccnews_slow: dict[str, float | int] = field(default_factory=dict)  # SlowBody's chunk, delay, cut_at
    #: path -> SlowBody's chunk, delay, cut_at for that file's streams only (one that trickles)
    ccnews_slow_files: dict[str, dict[str, float | int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.site.add("/cdx/search/cdx", b"", handler=self._guard(self._wayback_cdx))
        self.site.prefixes["/web/"] = self._guard(self._wayback_capture)
        self.site.add("/collinfo.json", b"", handler=self._guard(self._collinfo))
        self.site.add(f"/{CRAWL}-index", b"", handler=self._guard(self._cc_index))
        self.site.prefixes["/crawl-data/CC-NEWS/"] = self._guard(self._ccnews)
        self.site.prefixes["/crawl-data/"] = self._guard(self._warc_range)

    def _guard(
        self, handler: Callable[[Request], tuple[int, dict[str, str], bytes]]
    ) -> Callable[[Request], tuple[int, dict[str, str], bytes]]:
        """Serve the queued failures of a path first (a 503, a 429 with Retry-After)."""

        def serve(request: Request) -> tuple[int, dict[str, str], bytes]:
            for prefix, failures in self.fail_first.items():
                if request.path.startswith(prefix) and failures:
                    status, headers = failures.pop(0)
                    return status, {"Content-Type": "text/plain", **headers}, b"busy"
            return handler(request)

        return serve

    # --- Wayback ---------------------------------------------------------------------
    def _wayback_cdx(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        q = parse_qs(urlsplit(request.path).query)
        self.cdx_requests.append(q)
        if self.cdx_delay:
            time.sleep(self.cdx_delay)
        if self.html_pages > 0:
            return self._html_error_page()
        prefix = q["url"][0]
        site = prefix.split("/")[0].removeprefix("www.")
        low, high = q.get("from", ["0"])[0], q.get("to", ["99999999999999"])[0]
        fields = q["fl"][0].split(",")
        rows = sorted(
            (urlkey(s.original), s.timestamp, s)
            for s in self.snapshots
            if _host(s.original) == site and low <= s.timestamp <= high
        )
        seen: set[str] = set()
        collapsed = []
        for key, ts, snap in rows:  # collapse=urlkey: the first capture of each key
            if key not in seen:
                seen.add(key)
                collapsed.append((key, ts, snap))
        start = 0
        if "resumeKey" in q and self.stuck_pages > 0:  # a server that pages in a circle
            self.stuck_pages -= 1
            stuck = [fields, [], [q["resumeKey"][0]]] if self.stuck_pages else [fields]
            return 200, {"Content-Type": "application/json"}, json.dumps(stuck).encode()
        if "resumeKey" in q:
            key, ts = unquote(q["resumeKey"][0]).split(" ")
            start = next(i for i, r in enumerate(collapsed) if (r[0], r[1]) >= (key, ts))
        limit = int(q.get("limit", ["100000"])[0])
        chunk = collapsed[start : start + limit]
        out: list[object] = [fields]
        for key, ts, snap in chunk:
            values = {
                "urlkey": key,
                "timestamp": ts,
                "original": snap.original,
                "mimetype": snap.cdx_mime,
                "statuscode": "200",
                "digest": f"D{abs(hash(snap.body)) % 10**12}",
                "length": str(len(snap.body)),
            }
            out.append([values[f] for f in fields])
        if start == 0:
            out.extend(self.malformed.get(site, []))
        if start + limit < len(collapsed):
            nxt = collapsed[start + limit]
            out.extend([[], [quote(f"{nxt[0]} {nxt[1]}")]])
        return 200, {"Content-Type": "application/json"}, json.dumps(out).encode()

    def _html_error_page(self) -> tuple[int, dict[str, str], bytes]:
        """What a busy archive behind a proxy may answer: 200, an HTML page, no index lines."""
        self.html_pages -= 1
        body = (
            b"<!DOCTYPE html>\n<html><head><title>Service temporarily unavailable</title></head>\n"
            b"<body><h1>We are busy</h1>\n<p>Please try again later.</p></body></html>\n"
        )
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if self.html_pages_coding:
            headers["Content-Encoding"] = self.html_pages_coding
        return 200, headers, body

    def _wayback_capture(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if self.capture_delay:
            time.sleep(self.capture_delay)
        if self.empty_captures > 0:
            self.empty_captures -= 1
            return 200, {"Content-Type": "text/html; charset=utf-8"}, b""
        rest = request.path[len("/web/") :]
        ts, original = rest.split("/", 1)
        ts = ts.removesuffix("id_")
        # the capture at that time, else the URL's nearest one (Wayback redirects there)
        same = sorted(
            (s for s in self.snapshots if s.original == original),
            key=lambda s: abs(int(s.timestamp) - int(ts.ljust(14, "0"))),
        )
        for snap in same[:1]:
            if snap.replay_at and snap.timestamp == ts:  # the memento sent to another date
                return 302, {"Location": f"{self.site.base}/web/{snap.replay_at}id_/{original}"}, b""
            headers = {"Content-Type": snap.content_type}
            if snap.location:
                headers["Location"] = f"{self.site.base}/web/{ts}id_/{snap.location}"
            return snap.status, headers, snap.body
        return 404, {"Content-Type": "text/html"}, b"<h1>Wayback Machine has not archived that URL.</h1>"

    # --- Common Crawl ----------------------------------------------------------------
    def build_warc(self) -> None:
        """Write every snapshot into one gzipped WARC file and index its records; the
        records in ``truncated`` are written last and the file is cut inside them."""
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        index: list[dict[str, str]] = []
        ordered = sorted(self.snapshots, key=lambda s: s.original in self.truncated)
        cut_at: int | None = None
        filename = f"crawl-data/{CRAWL}/segments/1739000000000.0/warc/{CRAWL}-20250212000000-00000.warc.gz"
        for snap in ordered:
            offset = buf.tell()
            writer.write_record(self._response(writer, snap))
            length = buf.tell() - offset
            if snap.original in self.truncated and cut_at is None:
                cut_at = offset + length // 2
            index.append(
                {
                    "urlkey": urlkey(snap.original),
                    "timestamp": snap.timestamp,
                    "url": snap.original,
                    "mime": snap.cdx_mime,
                    "status": str(snap.status),
                    "digest": "X",
                    "length": str(length),
                    "offset": str(offset),
                    "filename": filename,
                    "languages": "fra",
                }
            )
        data = buf.getvalue()
        self.warc = data[:cut_at] if cut_at is not None else data
        self.warc_path = "/" + filename
        self.cc_index = sorted(index, key=lambda r: (r["urlkey"], r["timestamp"]))

    def build_ccnews(self, files: int = 2, others: list[Snapshot] | None = None) -> None:
        """CC-NEWS: the snapshots (and ``others``, records of sites that are not sources) in
        ``files`` WARC files per month, each opened by a warcinfo record, its records in
        time order; a record in ``truncated`` is the last of its file, which is cut inside
        it."""
        by_month: dict[str, list[Snapshot]] = {}
        for snap in sorted([*self.snapshots, *(others or [])], key=lambda s: (s.timestamp, s.original)):
            by_month.setdefault(snap.timestamp[:6], []).append(snap)
        for month, snaps in by_month.items():
            size = -(-len(snaps) // files)
            for n in range(files):
                part = snaps[n * size : (n + 1) * size]
                if not part:
                    continue
                part.sort(key=lambda s: s.original in self.truncated)
                stamp = part[0].timestamp
                path = f"crawl-data/CC-NEWS/{month[:4]}/{month[4:]}/CC-NEWS-{stamp}-{n:05d}.warc.gz"
                self.ccnews["/" + path] = self._ccnews_file(path, part)

    def _ccnews_file(self, path: str, snaps: list[Snapshot]) -> bytes:
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(path.rsplit("/", 1)[-1], {"software": "veille tests"})
        )
        cut_at: int | None = None
        for snap in snaps:
            offset = buf.tell()
            writer.write_record(self._response(writer, snap))
            length = buf.tell() - offset
            self.ccnews_offsets[snap.original] = (path, offset, length)
            if snap.original in self.truncated and cut_at is None:
                cut_at = offset + max(length // 2, length - 30)  # in the payload: its headers can be read
        data = buf.getvalue()
        return data[:cut_at] if cut_at is not None else data

    def _ccnews(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        path = request.path
        if path.endswith("/warc.paths.gz"):
            month = path.removesuffix("warc.paths.gz")
            listed = sorted(p.lstrip("/") for p in self.ccnews if p.startswith(month))
            if not listed:
                return 404, {"Content-Type": "application/xml"}, b"<Error><Code>NoSuchKey</Code></Error>"
            body = gzip.compress(("\n".join(listed) + "\n").encode())
            return 200, {"Content-Type": "application/octet-stream"}, body
        if path not in self.ccnews:
            return 404, {"Content-Type": "application/xml"}, b"<Error><Code>NoSuchKey</Code></Error>"
        data = self.ccnews[path]
        rng = request.headers.get("range", "")
        self.ccnews_ranges.append((path, rng))
        status, headers = 200, {"Content-Type": "application/octet-stream"}
        if rng.startswith("bytes="):
            first_s, _, last_s = rng[len("bytes=") :].partition("-")
            first = int(first_s)
            last = int(last_s) if last_s else len(data) - 1
            if first >= len(data):
                return 416, {"Content-Type": "text/plain", "Content-Range": f"bytes */{len(data)}"}, b""
            data = data[first : last + 1]
            headers["Content-Range"] = f"bytes {first}-{first + len(data) - 1}/{len(self.ccnews[path])}"
            status = 206
        slow = self.ccnews_slow_files.get(path) or self.ccnews_slow
        if slow and not bounded_range(rng):
            return status, headers, SlowBody.of(data, **slow)  # type: ignore[arg-type]
        return status, headers, data

    def _response(self, writer: WARCWriter, snap: Snapshot) -> object:
        http = [("Content-Type", snap.content_type), ("Content-Length", str(len(snap.body)))]
        if snap.location:
            http.append(("Location", snap.location))
        reason = {200: "OK", 301: "Moved Permanently", 302: "Found"}.get(snap.status, "Other")
        headers = StatusAndHeaders(f"{snap.status} {reason}", http, protocol="HTTP/1.1")
        when = datetime.strptime(snap.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        return writer.create_warc_record(
            snap.original,
            "response",
            payload=io.BytesIO(snap.body),
            http_headers=headers,
            warc_headers_dict={"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
        )

    def _collinfo(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        self.collinfo_requests += 1
        if self.collinfo_answers is not None:
            if self.collinfo_answers <= 0:
                return 503, {"Content-Type": "text/plain"}, b"busy"
            self.collinfo_answers -= 1
        base = self.site.base
        crawls = [
            {
                "id": CRAWL,
                "name": "February 2025 Index",
                "timegate": f"{base}/{CRAWL}/",
                "cdx-api": f"{base}/{CRAWL}-index",
                "from": "2025-02-06T14:00:00",
                "to": "2025-02-19T23:00:00",
            },
            {
                "id": "CC-MAIN-2024-51",
                "name": "December 2024 Index",
                "timegate": f"{base}/CC-MAIN-2024-51/",
                "cdx-api": f"{base}/CC-MAIN-2024-51-index",
                "from": "2024-12-01T10:00:00",
                "to": "2024-12-14T20:00:00",
            },
            *self.published,
        ]
        return 200, {"Content-Type": "application/json"}, json.dumps(crawls).encode()

    def _cc_index(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        q = parse_qs(urlsplit(request.path).query)
        self.cdx_requests.append(q)
        if self.cdx_delay:
            time.sleep(self.cdx_delay)
        site = q["url"][0].split("/")[0].removeprefix("www.")
        low, high = q.get("from", ["0"])[0], q.get("to", ["99999999999999"])[0]
        lines = [
            json.dumps(r) for r in self.cc_index if _host(r["url"]) == site and low <= r["timestamp"] <= high
        ]
        lines += [str(m) for m in self.malformed.get(site, [])]
        size = 3  # lines per page (the real index pages by blocks of 3,000)
        pages = max(1, -(-len(lines) // size)) if lines else 0
        if "showNumPages" in q:
            body = json.dumps({"pages": pages, "pageSize": 5, "blocks": pages})
            return 200, {"Content-Type": "text/x-ndjson"}, body.encode()
        page = int(q.get("page", ["0"])[0])
        if self.html_pages > 0:
            return self._html_error_page()
        if not lines:
            return 404, {"Content-Type": "text/plain"}, b"No Captures found for: " + site.encode()
        if page >= pages:
            return 400, {"Content-Type": "text/plain"}, f"Page {page} invalid: First Page is 0".encode()
        chunk = lines[page * size : (page + 1) * size]
        return 200, {"Content-Type": "text/x-ndjson"}, ("\n".join(chunk) + "\n").encode()

    def _warc_range(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if self.capture_delay:
            time.sleep(self.capture_delay)
        if request.path != self.warc_path:
            return 404, {"Content-Type": "text/plain"}, b"NoSuchKey"
        if self.html_ranges > 0:
            self.html_ranges -= 1
            self.html_pages += 1
            return self._html_error_page()
        rng = request.headers.get("range", "")
        if not rng.startswith("bytes="):
            return 200, {"Content-Type": "application/octet-stream"}, self.warc
        first, last = (int(x) for x in rng[len("bytes=") :].split("-"))
        if first >= len(self.warc):
            return 416, {"Content-Type": "text/plain"}, b""
        part = self.warc[first : last + 1]
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {first}-{first + len(part) - 1}/{len(self.warc)}",
        }
        return 206, headers, part


def bounded_range(rng: str) -> bool:
    """A bounded Range (``bytes=a-b``: one record), as opposed to ``bytes=a-`` (a stream)."""
    return rng.startswith("bytes=") and not rng.endswith("-")


def seed_snapshots(timestamp: str = "20250212093000") -> list[Snapshot]:
    """The five seed pages as captures at their original URLs."""
    from tests.site import seed_pages

    return [
        Snapshot(original_url(p.spec.slug, p.spec.site), timestamp, p.html.encode("utf-8"))
        for p in seed_pages()
    ]


def seed_sources() -> list[dict[str, str]]:
    """One source per seed site (never polled by an archive backfill)."""
    return [
        {"name": name, "kind": "feed", "url": f"https://{domain}/rss.xml", "owner": owner}
        for name, (domain, owner) in DOMAINS.items()
    ]
