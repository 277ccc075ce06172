"""A local HTTP proxy in front of a real Prefect server's API, which a test tells to answer some
requests with the error a busy server answers, or to hold one back for a while.

`veille serve` is pointed at it (PREFECT_API_URL): every other request, websockets included
(the runner's events), goes through to the real server unchanged. It is how a test makes the
Prefect server refuse a pause (503, its SQLite database busy; 500) or makes a deployment's
registration, or a runner's poll for its scheduled runs, still be in flight when a signal comes,
without a timed wait.
"""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

#: What a Prefect server answers for an error (prefect.server.api.server's handlers).
ANSWERS = {
    500: {"exception_message": "Internal Server Error"},
    503: {"exception_message": "Service Unavailable"},
}
#: Headers that concern one connection, not the request (RFC 9110, 7.6.1).
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
#: Seconds a held request waits at most for its release.
HOLD_SECONDS = 60.0


@dataclass(frozen=True)
class Asked:
    """A request the proxy received: its method, path and JSON body (None without one)."""

    method: str
    path: str
    body: Any


Match = Callable[[Asked], bool]


def is_pause(asked: Asked) -> bool:
    """A deployment's pause, as Prefect's client asks it (PATCH /deployments/{id} {"paused": true})."""
    patch = asked.method == "PATCH" and asked.path.startswith("/api/deployments/")
    return patch and asked.body == {"paused": True}


def is_poll(asked: Asked) -> bool:
    """A runner's poll for its deployments' scheduled runs (Prefect's ScheduledRunPoller)."""
    return asked.method == "POST" and asked.path == "/api/deployments/get_scheduled_flow_runs"


def pause_of(deployment_id: str) -> Match:
    """The pause of the deployment ``deployment_id``."""
    return lambda asked: is_pause(asked) and asked.path == f"/api/deployments/{deployment_id}"


def registration_of(name: str) -> Match:
    """The request that creates the deployment ``name`` (Prefect's apply of a new deployment)."""
    return lambda asked: (
        asked.method == "POST"
        and asked.path == "/api/deployments/"
        and isinstance(asked.body, dict)
        and asked.body.get("name") == name
    )


@dataclass
class Refusal:
    """Answer ``status`` to the requests that ``match``, ``times`` of them (None: all), once
    the server has taken ``after`` of them (answered 2xx: a busy server may answer 503 first)."""

    match: Match
    status: int
    times: int | None = None
    after: int = 0
    taken: int = 0
    refused: int = 0


@dataclass
class Hold:
    """Hold back the first request that matches ``match`` until a request that matches
    ``until`` has come (or :data:`HOLD_SECONDS`), then send it on, again while the server
    answers 503 (a request that reached a busy server is applied once its database is free)."""

    match: Match
    until: Match
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    #: the server's answer to it, once sent on
    answer: int | None = None


class PrefectProxy:
    """The proxy, listening on a port of its own; :attr:`api_url` is its PREFECT_API_URL."""

    def __init__(self, upstream_api_url: str) -> None:
        parsed = urllib.parse.urlsplit(upstream_api_url)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.asked: list[Asked] = []
        #: what was answered, and by whom: the server, or the proxy refusing
        self.answers: list[tuple[str, str, int, str]] = []
        #: each request answered: when it came and when it was answered (time.monotonic()),
        #: its method, path, status and who answered it (for a failure's message)
        self.timeline: list[tuple[float, float, str, str, int, str]] = []
        self.refusals: list[Refusal] = []
        self.holds: list[Hold] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.api_url = f"http://127.0.0.1:{self.server.server_address[1]}{parsed.path}"

    def refuse(self, match: Match, status: int, times: int | None = None, after: int = 0) -> Refusal:
        refusal = Refusal(match, status, times, after)
        self.refusals.append(refusal)
        return refusal

    def hold(self, match: Match, until: Match) -> Hold:
        held = Hold(match, until)
        self.holds.append(held)
        return held

    def pauses(self) -> list[tuple[str, str, int, str]]:
        """The pauses asked, each with its answer and who gave it (for a failure's message)."""
        return [a for a in self.answers if a[0] == "PATCH"]

    def timeline_since(self, start: float) -> str:
        """The requests answered since ``start`` (time.monotonic()), one a line: the seconds
        from ``start`` it came and was answered, its method, path, status and answerer."""
        return "\n".join(
            f"+{came - start:6.2f} s .. +{went - start:6.2f} s {method} {path} {status} {by}"
            for came, went, method, path, status, by in list(self.timeline)
            if went >= start
        )

    def wait_idle(self, seconds: float = 30.0) -> None:
        """Wait until no request is being passed on (a held one has reached the server)."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, seconds):
                raise AssertionError(f"the proxy still passes {self._in_flight} request(s) on")

    def _received(self, asked: Asked) -> tuple[int | None, Hold | None]:
        """Note ``asked``: the status to refuse it with, or the hold that keeps it back."""
        with self._lock:
            self.asked.append(asked)
            self._in_flight += 1
            for held in self.holds:
                if not held.released.is_set() and held.arrived.is_set() and held.until(asked):
                    held.released.set()
            for refusal in self.refusals:
                if refusal.match(asked):
                    more = refusal.times is None or refusal.refused < refusal.times
                    if refusal.taken >= refusal.after and more:
                        refusal.refused += 1
                        return refusal.status, None
            for held in self.holds:
                if not held.arrived.is_set() and held.match(asked):
                    held.arrived.set()
                    return None, held
        return None, None

    def _answered(self, asked: Asked, status: int, came: float, by: str = "server") -> None:
        """``by`` (the server, the proxy) answered ``status`` to ``asked``, which came at ``came``."""
        with self._lock:
            self.answers.append((asked.method, asked.path, status, by))
            self.timeline.append((came, time.monotonic(), asked.method, asked.path, status, by))
            for refusal in self.refusals:
                if 200 <= status < 300 and refusal.match(asked):
                    refusal.taken += 1

    def _done(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    self._tunnel()
                    return
                came = time.monotonic()
                body = self._body()
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = None
                asked = Asked(self.command, self.path.split("?")[0], parsed)
                status, held = proxy._received(asked)
                try:
                    if status is not None:
                        refusal = json.dumps(ANSWERS.get(status, {})).encode()
                        self._answer(status, refusal, [("Content-Type", "application/json")])
                        proxy._answered(asked, status, came, "proxy")
                        return
                    if held is not None:
                        held.released.wait(HOLD_SECONDS)
                    answer = self._ask_server(body)
                    # a request held back is sent on until the server takes it, as Prefect's
                    # client does while the server's database is busy (503): its asker may be
                    # gone by then
                    give_up = time.monotonic() + HOLD_SECONDS
                    while held is not None and answer[0] == 503 and time.monotonic() < give_up:
                        time.sleep(0.5)
                        answer = self._ask_server(body)
                    if held is not None:
                        held.answer = answer[0]
                    proxy._answered(asked, answer[0], came)
                    with suppress(OSError):  # the asker may be gone (a request held back)
                        self._answer(*answer)
                finally:
                    proxy._done()

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _forward  # noqa: N815

            def _ask_server(self, body: bytes) -> tuple[int, bytes, list[tuple[str, str]]]:
                """The server's answer to this request: its status, content and headers."""
                connection = http.client.HTTPConnection(*proxy.upstream, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    answer = connection.getresponse()
                    content = answer.read()
                    kept = [
                        (k, v)
                        for k, v in answer.getheaders()
                        if k.lower() not in HOP_BY_HOP | {"date", "server"}
                    ]
                    return answer.status, content, kept
                finally:
                    connection.close()

            def _answer(self, status: int, content: bytes, headers: list[tuple[str, str]]) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            def _tunnel(self) -> None:
                """A websocket: its handshake and frames go both ways unchanged."""
                self.close_connection = True
                upstream = socket.create_connection(proxy.upstream, timeout=None)
                head = [self.requestline]
                head += [f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "host"]
                head.append(f"Host: {proxy.upstream[0]}:{proxy.upstream[1]}")
                upstream.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))

                def down() -> None:
                    try:
                        while data := upstream.recv(65536):
                            self.connection.sendall(data)
                    except OSError:
                        pass
                    finally:
                        with _quiet():
                            self.connection.shutdown(socket.SHUT_RDWR)

                threading.Thread(target=down, daemon=True).start()
                try:
                    while data := self.rfile.read1(65536):
                        upstream.sendall(data)
                except OSError:
                    pass
                finally:
                    with _quiet():
                        upstream.shutdown(socket.SHUT_RDWR)
                    upstream.close()

        return Handler

    def __enter__(self) -> PrefectProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def _quiet() -> Iterator[None]:
    with suppress(OSError):
        yield
