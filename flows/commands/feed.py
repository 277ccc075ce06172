"""`veille feed`: an Atom feed of the newest relevant articles, to a file or served over HTTP."""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from flows.commands.common import (
    at_least,
    closing_line,
    path_arg,
    prepare_database,
    replaced_when_complete,
    resolve_topic,
    row_count,
    text_arg,
)
from monitors.errors import describe

EXAMPLE = """example:
  veille feed --output relevant.atom              # write the feed once
  veille feed -o - | head                         # -: stdout, as without --output
  veille feed --serve 8080                        # then subscribe to http://localhost:8080/feed.atom
  veille feed --serve 8080 --host 0.0.0.0 --limit 100
"""
FEED_PATH = "/feed.atom"
#: the feed's title unless --title gives one (with --topic, followed by the topic's name)
DEFAULT_TITLE = "veille: articles pertinents"


def _title_arg(value: str) -> str:
    """``--title``: UTF-8 text (:func:`text_arg`) with something to show. An empty or blank one
    is a usage error (exit 2): the default replaced an empty one silently, as if --title had
    been ignored, and a blank one made an Atom feed whose title a reader shows as nothing."""
    value = text_arg(value)
    if not value.strip():
        raise argparse.ArgumentTypeError(
            f"the feed title is empty ({value!r}): give one, or leave --title out for the default"
        )
    return value


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "feed",
        help="Atom feed of the newest relevant articles (file or HTTP)",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        type=path_arg,
        help="write the feed here (default: stdout); FILE is replaced only once the feed is complete;"
        " - is stdout (a file named -: ./-)",
    )
    where.add_argument(
        "--serve", type=at_least(0, 65535), metavar="PORT", help=f"serve it at http://HOST:PORT{FEED_PATH}"
    )
    p.add_argument(
        "--host", help="with --serve: the address to serve on (127.0.0.1; an IPv6 one too: ::1, ::)"
    )
    p.add_argument("--limit", "-n", type=row_count(), default=50, metavar="N", help="newest N articles (50)")
    p.add_argument(
        "--title",
        type=_title_arg,
        help=f'feed title (default: "{DEFAULT_TITLE}"; with --topic T: "{DEFAULT_TITLE} (T)")',
    )
    p.add_argument(
        "--topic",
        metavar="T",
        help="articles relevant to topic T, a topic's name or its TOML file (default: the summit's)",
    )
    p.set_defaults(handler=handle)


def render(
    limit: int, title: str, self_url: str | None = None, topic: str | None = None, subtitle: str | None = None
) -> bytes:
    """The feed as it is now in the database (of one topic's relevant articles with ``topic``,
    under an id of its own, so that a reader keeps two topics' feeds apart)."""
    from monitors.archive.atom import FEED_ID, atom_feed
    from monitors.archive.db import session_scope
    from monitors.archive.reads import newest_relevant

    with session_scope() as session:
        articles = newest_relevant(session, limit, topic)
    feed_id = FEED_ID if topic is None else f"{FEED_ID}:{topic}"
    return atom_feed(articles, title=title, feed_id=feed_id, self_url=self_url, subtitle=subtitle)


def _title_and_subtitle(title: str | None, topic: str | None, given: str | None) -> tuple[str, str | None]:
    """The feed's title and subtitle: with a topic (``given`` as --topic named it, ``topic``
    its name), its name in the default title and its file's ``description`` as the subtitle,
    so that two topics' feeds read apart in a reader (they had one title); a topic known by its
    scores alone (its file removed) has no subtitle."""
    if topic is None or given is None:
        return title or DEFAULT_TITLE, None
    from monitors.judge.topic_schema import TopicError, parse_topic_file
    from monitors.judge.topic_set import topic_file

    try:
        description = parse_topic_file(topic_file(given))[0].get("description")
    except (TopicError, OSError):
        description = None
    return title or f"{DEFAULT_TITLE} ({topic})", str(description) if description else None


def _server_class(host: str) -> type[ThreadingHTTPServer]:
    """The HTTP server for ``host``: an IPv6 one for an IPv6 address (``::1``; ``::`` takes
    IPv4 too, as ``0.0.0.0`` does), which the IPv4 server refused ("Address family for hostname
    not supported"); IPv4 otherwise, names included, as before."""
    if ":" not in host:
        return ThreadingHTTPServer

    class IPv6Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6

        def server_bind(self) -> None:
            if host == "::":
                with contextlib.suppress(OSError, AttributeError):
                    self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    return IPv6Server


def feed_url(host: str, port: int) -> str:
    """Where the served feed is: ``http://HOST:PORT/feed.atom``, an IPv6 address in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{FEED_PATH}"


def make_server(
    host: str, port: int, limit: int, title: str, topic: str | None = None, subtitle: str | None = None
) -> ThreadingHTTPServer:
    """An HTTP server answering ``/feed.atom`` (and ``/``) with a freshly rendered feed."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            print(f"{self.address_string()} {format % args}", file=sys.stderr)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(body_too=True)

        def do_HEAD(self) -> None:  # noqa: N802
            """What a GET would answer, without the body (link checkers and feed readers
            ask it first; http.server answers 501 to a method it does not find)."""
            self._answer(body_too=False)

        def _answer(self, body_too: bool) -> None:
            if self.path.split("?")[0] not in {FEED_PATH, "/"}:
                self.send_error(404, f"the feed is at {FEED_PATH}")
                return
            try:
                asked = self.headers.get("Host")  # an HTTP/1.0 request may not say
                port = cast(ThreadingHTTPServer, self.server).server_port
                here = f"http://{asked}{FEED_PATH}" if asked else feed_url(host, port)
                body = render(limit, title, here, topic, subtitle)
            except Exception as exc:  # noqa: BLE001 - report to the reader, keep serving
                self.send_error(503, f"feed unavailable: {type(exc).__name__}")
                print(f"veille feed: {describe(exc)}", file=sys.stderr)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body_too:
                self.wfile.write(body)

    try:
        server = _server_class(host)((host, port), Handler)
    except OSError as exc:  # a host that does not resolve, a port in use: say which
        raise OSError(f"cannot serve the feed on {host}:{port}: {exc.strerror or exc}") from exc
    server.daemon_threads = True
    return server


def handle(args: argparse.Namespace) -> int:
    if args.host is not None and args.serve is None:
        # the address of the server --serve starts: without it, it was silently ignored
        print(
            f"veille: error: --host {args.host} is the address --serve listens on, and no --serve PORT"
            " was given: add --serve PORT to serve the feed, or leave --host out to write it",
            file=sys.stderr,
        )
        return 2
    prepare_database()
    given = args.topic
    if not resolve_topic("feed", args):
        return 2
    title, subtitle = _title_and_subtitle(args.title, args.topic, given)
    if args.serve is not None:
        host = args.host or "127.0.0.1"
        server = make_server(host, args.serve, args.limit, title, args.topic, subtitle)
        print(f"serving the feed at {feed_url(host, server.server_port)} (Ctrl-C stops)")
        try:
            server.serve_forever()
        finally:
            server.server_close()
        return 0
    body = render(args.limit, title, topic=args.topic, subtitle=subtitle)
    if args.output is not None and args.output != "-":  # "-": stdout, as export -o - reads it
        with replaced_when_complete(args.output) as path:
            Path(path).write_bytes(body)
        closing_line(f"wrote {args.output}")  # a closed stderr loses the note, not the exit code
    else:
        sys.stdout.write(body.decode("utf-8"))
    return 0
