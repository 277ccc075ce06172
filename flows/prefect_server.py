"""The Prefect server `veille serve` starts itself when none is configured (PREFECT_API_URL):
``prefect server start`` on a loopback port, its scheduler on (:func:`start_prefect_server`),
stopped when the command exits; :mod:`flows.serve_watch` restarts it once.
"""

from __future__ import annotations

import sys
from typing import Any


class ServerNotStarted(Exception):
    """The Prefect server `veille serve` started did not answer."""


#: Seconds a Prefect server started by `veille serve` gets to answer.
SERVER_START_SECONDS = 120.0


class OwnPrefectServer:
    """A Prefect server `veille serve` started (``prefect server start``, its scheduler on,
    no UI) on a loopback port, in a session of its own (a Ctrl-C in the terminal reaches
    veille, which stops it); :mod:`flows.serve_watch` restarts it once, on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.api_url = f"http://127.0.0.1:{port}/api"
        self.restarted = False
        self.process: Any = None
        self.launch()

    def launch(self) -> None:
        import os
        import subprocess

        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--no-ui", "--analytics-off", "--log-level", "WARNING"]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
        )

    def ended(self) -> int | None:
        """Its process's exit code once it has ended, else None."""
        code: int | None = self.process.poll()
        return code

    def restart(self) -> None:
        self.stop()
        self.restarted = True
        self.launch()

    def stop(self) -> None:
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


#: The Prefect server this `veille serve` started, if it did.
OWN_SERVER: list[OwnPrefectServer] = []


def start_prefect_server() -> str:
    """Start a Prefect server (:class:`OwnPrefectServer`) on a free loopback port, stopped
    when this command exits; its API URL, also set in the environment for the served runs.
    Not Prefect's temporary server, the one it starts when no server is configured: that one
    runs no scheduler, so served deployments would never run."""
    import atexit
    import os
    import socket
    import time

    from flows.mode import health

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = OwnPrefectServer(port)
    OWN_SERVER.append(server)
    atexit.register(server.stop)
    api_url = server.api_url
    wait = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
    timeout = float(wait or SERVER_START_SECONDS)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.ended() is None:
        if health(api_url, 2) == 200:
            os.environ["PREFECT_API_URL"] = api_url  # the served runs' processes
            return api_url
        time.sleep(0.5)
    server.stop()
    raise ServerNotStarted(
        f"the Prefect server veille serve started (`prefect server start --port {port}`) did not"
        f" answer within {timeout:.0f} s: start one with `prefect server start` and set PREFECT_API_URL"
    )
