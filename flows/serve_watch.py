"""`veille serve`'s watch on its Prefect server, so that a server that goes away is said at once.

Prefect's runner meets a server that stopped answering only through its client's retries: it
said nothing for about four minutes, then ended `veille serve` with a traceback (exit 1) on a
server of the user's, and served on for ever, running nothing, on the server `veille serve`
had started. The watch asks ``GET {api}/health`` every ``VEILLE_PREFECT_CHECK_INTERVAL``
seconds (5). When the server does not answer, it says so at once, cause first (which server,
since when, what `veille serve` does), then waits up to ``VEILLE_PREFECT_WAIT`` seconds (120)
for it to come back: then it says so and `veille serve` serves on; else `veille serve` stops
with :data:`EXIT_SERVER_GONE`, a line saying what to do.

The server `veille serve` started itself is restarted once when its process has ended (on
the same port, with the same ``PREFECT_HOME``: the runner and the runs find it where it was):
no one else would bring it back. Ending a second time, or not answering within the wait, stops
`veille serve`: a server that keeps dying needs a look, not a loop of restarts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from flows.closing import closing_line

#: `veille serve`'s exit code when its Prefect server went away and did not come back.
EXIT_SERVER_GONE = 4
#: Seconds one health check waits for the server's answer.
PROBE_SECONDS = 5.0


class OwnServer(Protocol):
    """The Prefect server `veille serve` started (:func:`flows.prefect_server.start_prefect_server`)."""

    restarted: bool

    def ended(self) -> int | None:
        """Its exit code once its process has ended, else None."""

    def restart(self) -> None:
        """Start it again, on the same port."""


def why_not_answering(api_url: str, timeout: float = PROBE_SECONDS) -> str | None:
    """None when ``{api_url}/health`` answers 200; else why not, in a few words."""
    from flows.mode import health

    answer = health(api_url, timeout)
    if answer == 200:
        return None
    return f"HTTP {answer}" if isinstance(answer, int) else answer


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")


@dataclass
class Watch:
    """Checks the server every ``interval`` seconds (:meth:`check`, from `veille serve`'s
    main loop); says when it stops answering and when it answers again; gives up after
    ``wait`` seconds without an answer."""

    api_url: str
    interval: float
    wait: float
    own: OwnServer | None = None
    #: monotonic time and wall clock of the first check the server did not answer
    down_since: float | None = None
    down_at: datetime | None = None
    why: str = ""
    #: the message to stop with, once the watch gave up
    stopping: str | None = None
    _next: float = field(default=0.0, repr=False)

    @property
    def which(self) -> str:
        if self.own is not None:
            return f"the Prefect server veille serve started ({self.api_url})"
        return f"the Prefect server at {self.api_url} (PREFECT_API_URL)"

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def check_now(self) -> str | None:
        """:meth:`check` at once (Prefect's runner ended on an error: was it the server?)."""
        self._next = 0.0
        return self.check()

    def check(self, now: float | None = None) -> str | None:
        """Check the server when it is time to; None to serve on, else the message to stop
        with (exit :data:`EXIT_SERVER_GONE`), also kept in :attr:`stopping`: once given up, the
        watch stays so (a stop found by :meth:`check_now` is not undone by the next check)."""
        if self.stopping is None:
            self.stopping = self._check(time.monotonic() if now is None else now)
        return self.stopping

    def _check(self, now: float) -> str | None:
        if now < self._next:
            return None
        self._next = now + self.interval
        ended = self.own.ended() if self.own is not None else None
        why = (
            f"its process ended, exit code {ended}" if ended is not None else why_not_answering(self.api_url)
        )
        if why is None:
            if self.down_since is not None:
                _say(
                    f"veille serve: {self.which} answers again, after {now - self.down_since:.0f} s"
                    " without an answer: serving on"
                )
                self.down_since = self.down_at = None
            return None
        self.why = why
        if self.own is not None and ended is not None:
            self._went_down(now)  # down, also when it ended again (the runner's failure is its end)
            if self.own.restarted:
                return (
                    f"veille: error: {self.which} ended again ({why}) after veille serve"
                    " restarted it: no run can start, veille serve stops; look at what ends it"
                    " (memory, disk space under PREFECT_HOME), or run a Prefect server of your"
                    " own (`prefect server start`) and set PREFECT_API_URL, then start veille"
                    " serve again"
                )
            _say(
                f"veille serve: {self.which} ended at {_clock(self.down_at or datetime.now(UTC))}"
                f" ({why}): no run can start; veille serve restarts it once, on the same port,"
                f" and waits up to {self.wait:g} s (VEILLE_PREFECT_WAIT) for it to answer, else"
                f" stops (exit {EXIT_SERVER_GONE})"
            )
            self.own.restart()
            return None
        if self.down_since is None:
            self._went_down(now)
            _say(
                f"veille serve: {self.which} does not answer since"
                f" {_clock(self.down_at or datetime.now(UTC))} ({why}): no run can start"
                f" meanwhile; veille serve waits up to {self.wait:g} s (VEILLE_PREFECT_WAIT) for it"
                f" to come back, else stops (exit {EXIT_SERVER_GONE})"
            )
        if now - self.down_since >= self.wait:  # type: ignore[operator]
            return self.gone()
        return None

    def gone(self) -> str:
        """The message `veille serve` stops with when the wait is over."""
        since = _clock(self.down_at) if self.down_at else "?"
        what = (
            "start veille serve again (it starts a new server), or run a Prefect server of your"
            " own (`prefect server start`) and set PREFECT_API_URL"
            if self.own is not None
            else "restart that server (`prefect server start`) or check PREFECT_API_URL, then"
            " start veille serve again"
        )
        return (
            f"veille: error: {self.which} has not answered since {since} ({self.why}),"
            f" {self.wait:g} s waited (VEILLE_PREFECT_WAIT): no run can start, veille serve"
            f" stops; {what}"
        )

    def _went_down(self, now: float) -> None:
        if self.down_since is None:
            self.down_since, self.down_at = now, datetime.now(UTC)


def _say(line: str) -> None:
    """``line`` on stderr; one whose reader is gone loses the line, not veille serve's exit
    code (4, not 141: :func:`flows.closing.closing_line`)."""
    closing_line(line)


class _ConnectionLossWithoutTraceback(logging.Filter):
    """Prefect's runner logs the loss of its websocket to the server with a traceback, before
    the watch's check comes: the line stays ("... Switching to polling mode until it
    reconnects."), the traceback of a lost connection goes, the watch says what happened."""

    def filter(self, record: logging.LogRecord) -> bool:
        from websockets.exceptions import ConnectionClosed

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ConnectionClosed | OSError):
            record.exc_info = None
            record.exc_text = None
        return True


#: Prefect's loggers that meet a server gone away with a traceback.
NOISY_LOGGERS = ("prefect.FlowRunCancellingObserver",)


def quiet_connection_losses() -> None:
    """Install :class:`_ConnectionLossWithoutTraceback` on :data:`NOISY_LOGGERS`."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ConnectionLossWithoutTraceback) for f in logger.filters):
            logger.addFilter(_ConnectionLossWithoutTraceback())
