"""The tests' requests to a Prefect server's REST API, asked again while it is busy.

A just started Prefect server on its SQLite database answers 503 while that database is busy,
as on a loaded machine: a DELETE made once failed a full run. Every test that talks to a
Prefect server over HTTP goes through :func:`ask`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

#: Seconds :func:`ask` asks a busy server again.
BUSY_SECONDS = 30.0


def ask(
    api_url: str, path: str, body: dict[str, Any] | None = None, method: str = "POST", timeout: float = 10
) -> Any:
    """Ask the API (``body`` as JSON) and return its JSON answer (None for a 204); again a
    second later on a 503, for up to :data:`BUSY_SECONDS`. Any other error is raised."""
    request = urllib.request.Request(
        f"{api_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    give_up = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.load(answer) if answer.status != 204 else None
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or time.monotonic() > give_up:
                raise
        time.sleep(1)
