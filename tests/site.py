"""Local test site: the seed documents placed in realistic pages, their feed, and a server.

Each seed's lines are sorted into page parts the way its real site lays them out: navigation,
headline, byline, photo captions, body, comment prompts and footer, so extraction meets the
same chrome it meets in the wild.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
PARIS = datetime.fromisoformat("2025-02-01T00:00:00+01:00").tzinfo

FOOTER_LINES = (
    "Commentaires",
    "Connectez-vous ou créez votre espace franceinfo pour commenter.",
    "Veuillez vérifier votre e-mail pour activer votre compte.",
)


@dataclass(frozen=True)
class SeedSpec:
    file: str
    slug: str
    site: str
    feed_title: str
    published: datetime
    headline: str | None = None
    nav: tuple[str, ...] = ()
    byline: tuple[str, ...] = ()
    captions: tuple[str, ...] = ()
    asides: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()
    author: str | None = None


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


SPECS: tuple[SeedSpec, ...] = (
    SeedSpec(
        file="000_f25cfd4f7ee0461d.txt",
        slug="franceinfo/sommet-ia-melenchon-macron.html",
        site="franceinfo",
        feed_title="Sommet sur l'IA : Jean-Luc Mélenchon accuse Emmanuel Macron de placer la France "
        '"sous l\'emprise des milliardaires de la Silicon Valley"',
        published=_dt("2025-02-08T14:35:00+01:00"),
        headline="Sommet sur l'IA : Jean-Luc Mélenchon accuse Emmanuel Macron",
        byline=(
            "Article rédigé par franceinfo avec AFP",
            "France Télévisions",
            "Publié",
            "Temps de lecture : 1min",
        ),
        captions=("Jean-Luc Mélenchon lors d'un meeting à Angers",),
        footer=FOOTER_LINES[:2],
    ),
    SeedSpec(
        file="001_33e20a3e529ed6a7.txt",
        slug="pcf/sommet-ia-communique.html",
        site="Parti communiste français",
        feed_title="Sommet sur l'intelligence artificielle : pour une IA au service de l'humanité",
        published=_dt("2025-02-10T18:00:00+01:00"),
    ),
    SeedSpec(
        file="002_30c712c8906f631e.txt",
        slug="liberation/sommet-ia-macron-accelerer.html",
        site="Libération",
        feed_title="Sommet de l’IA à Paris : Emmanuel Macron veut «accélérer», un collectif appelle à «résister»",
        published=_dt("2025-02-07T21:06:00+01:00"),
        headline="Sommet de l’IA à Paris",
        nav=("Menu", "Libération", "Divergence"),
        byline=("publié le 7 février 2025",),
        captions=("France's President Emmanuel Macron gives a speech",),
        asides=("Intelligence artificielle (IA) : de la fascination",),
    ),
    SeedSpec(
        file="003_1c57c69a5a136c3a.txt",
        slug="lemonde/macron-ia-champion.html",
        site="Le Monde",
        feed_title="Emmanuel Macron veut faire de la France « un des pays champions de l’IA »",
        published=_dt("2024-05-21T19:12:00+02:00"),
        asides=("Il vous reste",),
    ),
    SeedSpec(
        file="004_5f1b39e7590242ff.txt",
        slug="ps/sommet-action-ia.html",
        site="Parti socialiste",
        feed_title="Sommet pour l’Action sur l’Intelligence Artificielle : Faire de l’IA un levier "
        "d’innovation au service de l’intérêt général",
        published=_dt("2025-02-11T10:00:00+01:00"),
        headline="Sommet pour l’Action sur l’Intelligence Artificielle",
        byline=("- Mardi 11 février 2025",),
        footer=FOOTER_LINES[2:],
    ),
)


@dataclass
class Page:
    spec: SeedSpec
    title: str
    body_lines: list[str]
    html: str


def _starts(line: str, prefixes: tuple[str, ...]) -> bool:
    return any(line.startswith(p) for p in prefixes)


MENU = (
    "<header class='site-header'><a class='logo' href='/'>{site}</a><nav class='main-nav'><ul>"
    + "".join(
        f"<li><a href='/rubrique/{s.lower()}'>{s}</a></li>"
        for s in (
            "Politique",
            "International",
            "Économie",
            "Société",
            "Culture",
            "Sport",
            "Sciences",
            "Tech",
            "Environnement",
            "Idées",
            "Vidéos",
            "Podcasts",
        )
    )
    + "</ul></nav><div class='account'><a href='/connexion'>Se connecter</a> "
    "<a href='/abonnement'>S'abonner</a></div></header>"
)

FOOTER = (
    "<footer class='site-footer'><ul>"
    + "".join(
        f"<li><a href='/{s[0]}'>{s[1]}</a></li>"
        for s in (
            ("mentions", "Mentions légales"),
            ("cgu", "Conditions générales d'utilisation"),
            ("cookies", "Gestion des cookies"),
            ("contact", "Nous contacter"),
            ("plan", "Plan du site"),
        )
    )
    + "</ul><p>© {site} 2025 – Tous droits réservés. Toute reproduction interdite.</p>"
    "<div class='cookie-banner'>Nous utilisons des cookies pour mesurer l'audience et "
    "personnaliser les contenus. <button>Accepter</button> <button>Refuser</button></div></footer>"
)

RELATED = (
    "<aside class='related'><h2>Lire aussi</h2><ul>"
    "<li><a href='/economie/bourse-du-jour.html'>La Bourse de Paris termine la semaine en hausse</a></li>"
    "<li><a href='/sport/ligue-1-resume.html'>Ligue 1 : le résumé de la 22e journée</a></li>"
    "<li><a href='/culture/cesar-2025.html'>César 2025 : la liste des nommés</a></li>"
    "</ul></aside>"
)


def build_page(spec: SeedSpec) -> Page:
    """Wrap one seed document in its site's chrome."""
    raw = (SEEDS / spec.file).read_text(encoding="utf-8")
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    nav: list[str] = []
    byline: list[str] = []
    captions: list[str] = []
    asides: list[str] = []
    footer: list[str] = []
    body: list[str] = []
    headline: str | None = None
    for line in lines:
        if line in spec.nav and not body and headline is None:
            nav.append(line)
        elif spec.headline and headline is None and line.startswith(spec.headline):
            headline = line
        elif _starts(line, spec.byline):
            byline.append(line)
        elif _starts(line, spec.captions):
            if line not in captions:
                captions.append(line)
        elif _starts(line, spec.asides):
            asides.append(line)
        elif line in spec.footer:
            footer.append(line)
        else:
            body.append(line)
    title = headline or spec.feed_title
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        "<html lang='fr-FR'><head><meta charset='utf-8'>",
        f"<title>{esc(title)} | {esc(spec.site)}</title>",
        f"<meta property='og:title' content='{esc(title, quote=True)}'>",
        f"<meta property='og:site_name' content='{esc(spec.site, quote=True)}'>",
        f"<meta property='article:published_time' content='{spec.published.isoformat()}'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<script>window.dataLayer = window.dataLayer || []; dataLayer.push({page: 'article'});</script>",
        "</head><body>",
        MENU.format(site=esc(spec.site)),
    ]
    if nav:
        parts.append("<div class='breadcrumb'>" + " › ".join(esc(n) for n in nav) + "</div>")
    parts.append("<main><article class='article'>")
    if headline:
        parts.append(f"<h1 class='article-title'>{esc(headline)}</h1>")
    if byline:
        parts.append("<div class='byline'>" + "".join(f"<span>{esc(b)}</span> " for b in byline) + "</div>")
    for cap in captions:
        parts.append(f"<figure><img src='/img/photo.jpg' alt=''><figcaption>{esc(cap)}</figcaption></figure>")
    for i, line in enumerate(body):
        if line.startswith(("•", "-")) and len(line) < 200:
            parts.append(f"<ul><li>{esc(line.lstrip('•- '))}</li></ul>")
        elif i == 0 and len(line) < 400:
            parts.append(f"<p class='lead'><strong>{esc(line)}</strong></p>")
        else:
            parts.append(f"<p>{esc(line)}</p>")
    for a in asides:
        parts.append(f"<div class='paywall-or-dossier'><a href='/dossier'>{esc(a)}</a></div>")
    parts.append("</article>")
    parts.append(RELATED)
    if footer:
        parts.append(
            "<section id='comments' class='comments'>"
            + "".join(f"<div class='comment-prompt'>{esc(f)}</div>" for f in footer)
            + "</section>"
        )
    parts.append("</main>")
    parts.append(FOOTER.format(site=esc(spec.site)))
    parts.append("</body></html>")
    return Page(spec=spec, title=title, body_lines=body, html="\n".join(parts))


def seed_pages() -> list[Page]:
    return [build_page(spec) for spec in SPECS]


def rss_feed(base: str, items: list[tuple[str, str, datetime]], title: str = "Fil test") -> str:
    """An RSS 2.0 document listing (title, path, date) items under ``base``."""
    out = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        "<rss version='2.0'><channel>",
        f"<title>{html.escape(title)}</title><link>{base}/</link><description>test</description>",
        "<language>fr</language>",
    ]
    for item_title, path, when in items:
        out.append(
            f"<item><title>{html.escape(item_title)}</title><link>{base}/{path}</link>"
            f"<guid>{base}/{path}</guid><pubDate>{format_datetime(when)}</pubDate></item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out)


Handler = Callable[["Request"], tuple[int, dict[str, str], bytes]]


class SlowBody(bytes):
    """A body a handler wants sent ``chunk`` bytes at a time, ``delay`` seconds apart, and
    with ``cut_at``, the connection closed after that many bytes (a transfer cut short)."""

    chunk: int = 4096
    delay: float = 0.0
    cut_at: int | None = None

    @classmethod
    def of(cls, data: bytes, chunk: int = 4096, delay: float = 0.0, cut_at: int | None = None) -> SlowBody:
        body = cls(data)
        body.chunk, body.delay, body.cut_at = chunk, delay, cut_at
        return body


@dataclass
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    handler: Handler | None = None


class LocalSite:
    """A threaded HTTP server on 127.0.0.1 serving registered routes, honouring ETags,
    and keeping a log of the requests it saw (path, status, conditional headers)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.prefixes: dict[str, Handler] = {}  # path prefix -> handler, when no route matches
        self.log: list[dict[str, Any]] = []
        site = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                arrived = time.monotonic()
                path = self.path.split("#")[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                route = site.routes.get(path) or site.routes.get(path.split("?")[0])
                if route is None:
                    prefix = next((p for p in site.prefixes if path.startswith(p)), None)
                    if prefix is not None:
                        route = Route(b"", handler=site.prefixes[prefix])
                if route is None:
                    status, hdrs, body = 404, {"Content-Type": "text/html"}, b"<h1>Not found</h1>"
                elif route.handler is not None:
                    status, hdrs, body = route.handler(Request(path, headers))
                elif route.etag and headers.get("if-none-match") == route.etag:
                    status, hdrs, body = 304, {"ETag": route.etag}, b""
                else:
                    status, body = route.status, route.body
                    hdrs = {"Content-Type": route.content_type, **route.headers}
                    if route.etag:
                        hdrs["ETag"] = route.etag
                site.log.append(
                    {
                        "path": path,
                        "status": status,
                        "if_none_match": headers.get("if-none-match"),
                        "peer": self.client_address,  # one per TCP connection
                        "at": arrived,  # when it came in
                    }
                )
                self.send_response(status)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if isinstance(body, SlowBody):
                    self._slow(body)
                elif body:
                    self.wfile.write(body)

            def _slow(self, body: SlowBody) -> None:
                end = len(body) if body.cut_at is None else min(body.cut_at, len(body))
                try:
                    for i in range(0, end, body.chunk):
                        self.wfile.write(body[i : min(i + body.chunk, end)])
                        self.wfile.flush()
                        time.sleep(body.delay)
                except (BrokenPipeError, ConnectionResetError):  # the client went away (killed)
                    pass
                if body.cut_at is not None:
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, path: str, body: str | bytes, **kwargs: Any) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path if path.startswith("/") else "/" + path] = Route(body=data, **kwargs)

    def hits(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.log if r["path"] == path]


def seed_site(site: LocalSite, feed_path: str = "/feed.xml") -> list[Page]:
    """Register the five seed pages and an RSS feed listing them."""
    pages = seed_pages()
    for page in pages:
        site.add(page.spec.slug, page.html)
    feed = rss_feed(site.base, [(p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages])
    site.add(feed_path, feed, content_type="application/rss+xml; charset=utf-8", etag='"seed-feed-v1"')
    return pages


def seed_hanging_site(site: LocalSite, seconds: float) -> tuple[list[Page], threading.Event, threading.Event]:
    """:func:`seed_site`, its pages answering only once released (or after ``seconds``): the
    pages, an event set as one is asked for (a run's workers are inside their requests), and
    the event that releases them."""
    asked = threading.Event()
    release = threading.Event()

    def slow(body: bytes) -> Any:
        def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
            asked.set()
            release.wait(seconds)
            return 200, {"Content-Type": "text/html; charset=utf-8"}, body

        return handler

    pages = seed_site(site)
    for page in pages:
        site.add(page.spec.slug, b"", handler=slow(page.html.encode("utf-8")))
    return pages, asked, release


@contextmanager
def slow_feed_until_logged(
    site: LocalSite, logger_name: str, line: str, seconds: float = 3.0
) -> Iterator[threading.Event]:
    """:func:`seed_site` with two more feeds: ``/other.xml`` answering at once, ``/slow.xml``
    only once ``line`` is logged on ``logger_name`` (or after ``seconds``). Yields the event
    set when the line released the slow feed (rather than the time running out): the line came
    before the slow source answered."""
    seed_site(site)
    feed = site.routes["/feed.xml"].body
    seen, released = threading.Event(), threading.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if line in record.getMessage():
                seen.set()

    def slow(request: Request) -> tuple[int, dict[str, str], bytes]:
        if seen.wait(seconds):
            released.set()
        return 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, feed

    site.add("/slow.xml", b"", handler=slow)
    site.add("/other.xml", feed, content_type="application/rss+xml; charset=utf-8")
    watch = Watch(logging.INFO)
    logger = logging.getLogger(logger_name)
    logger.addHandler(watch)
    try:
        yield released
    finally:
        logger.removeHandler(watch)


def write_sources(path: Path, sources: list[dict[str, str]]) -> Path:
    lines = []
    for s in sources:
        lines.append("[[source]]")
        lines.extend(f'{k} = "{v}"' for k, v in s.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_twice_with_one_odd_page(
    site: LocalSite, tmp_path: Path, monkeypatch: Any, alter: Callable[[Any], None]
) -> str:
    """Seed ``site``, alter one page's analysed article with ``alter`` (whatever let a bad value
    through to the store), and run ``veille run`` twice on its feed: the first run is partly done
    (that page failed), the second has nothing to try again. Returns the odd page's URL."""
    import contextlib
    import io

    import flows.queue_drain
    from flows.cli import main

    pages = seed_site(site)
    odd_url = f"{site.base}/{pages[0].spec.slug}"
    real = flows.queue_drain.process_item

    def odd(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if out.article is not None and out.item.url == odd_url:
            alter(out.article)
        return out

    monkeypatch.setattr(flows.queue_drain, "process_item", odd)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(sources)]) == 1  # partly done: one page failed
        assert main(["run", "--sources", str(sources)]) == 0  # not tried again
    return odd_url
