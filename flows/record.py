"""A cycle run directly, recorded as one flow run of the configured Prefect server.

With a Prefect server configured, ``veille run`` runs its cycle as Prefect flows, so that it
shows in the UI with its task runs, logs and artifacts. A cycle with nothing to do has no
task to show, and importing Prefect's client library costs more CPU (about 1.3 s) than the
whole cycle. So when nothing is due (``flows.polling.nothing_due``), ``veille run`` runs the
cycle directly (:mod:`flows.direct`) and records it over Prefect's REST API as one run of the
``veille-run`` flow: Running, then its log lines, its artifacts (:func:`flows.artifacts.run_artifacts`)
and its final state, with the type, name and message the flow would have ended in
(:mod:`flows.outcome`). A handful of requests over urllib3, which the pipeline loads anyway.

When the settings ask for what this small client does not do (TLS verification off, custom
headers), or the server refuses the run before the cycle starts, the cycle runs as flows.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import urllib3

from flows import signals
from flows.mode import API_URL, prefect_setting
from flows.outcome import RAISED, STATE_NAMES, RunOutcome
from monitors.errors import describe

#: Seconds a request may take (connect and read); a signal's last word gets less. Prefect's
#: client's own (PREFECT_API_REQUEST_TIMEOUT, 60): its server, on SQLite, waits up to 60 s for
#: a write lock before it answers 503 (PRAGMA busy_timeout), so that a busy server answers late.
TIMEOUT = 60.0
#: A request the server answered "busy, try again" (503: its SQLite locked; 429, 502, 408) is
#: tried again, as Prefect's client does: up to 5 times, after 0, 2, 4, 8 and 16 s (or the
#: server's Retry-After). Not one that timed out reading (the server may have done it: a second
#: flow run, left Running), nor one that could not connect (the cycle then runs as flows).
RETRIES = urllib3.Retry(
    total=5,
    connect=0,
    read=0,
    status=5,
    other=0,
    allowed_methods=None,
    status_forcelist=(408, 429, 502, 503),
    backoff_factor=1.0,
    raise_on_status=False,
)
TRUE = {"1", "true", "t", "yes", "y", "on"}


class RecordError(Exception):
    """The Prefect server did not take a request (unreachable, or an HTTP error)."""


class PrefectAPI:
    """The few calls of Prefect's REST API a recorded run needs, authenticated as Prefect's
    client does (``PREFECT_API_AUTH_STRING`` as Basic, else ``PREFECT_API_KEY`` as Bearer)."""

    def __init__(self, url: str, headers: dict[str, str], ca_certs: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Content-Type": "application/json", "User-Agent": "veille", **headers}
        self.pool = urllib3.PoolManager(ca_certs=ca_certs, retries=RETRIES)

    @classmethod
    def from_settings(cls) -> PrefectAPI | None:
        """A client for the configured server, or None when there is none, or the settings
        ask for what this client does not do (then the flows run, with Prefect's client)."""
        url = prefect_setting(API_URL)
        if not url or prefect_setting("PREFECT_CLIENT_CUSTOM_HEADERS"):
            return None
        if str(prefect_setting("PREFECT_API_TLS_INSECURE_SKIP_VERIFY") or "").strip().lower() in TRUE:
            return None
        headers = {}
        if auth := prefect_setting("PREFECT_API_AUTH_STRING"):
            headers["Authorization"] = "Basic " + base64.b64encode(str(auth).encode()).decode()
        elif key := prefect_setting("PREFECT_API_KEY"):
            headers["Authorization"] = f"Bearer {key}"
        cert = prefect_setting("PREFECT_API_SSL_CERT_FILE") if str(url).startswith("https:") else None
        return cls(str(url), headers, str(cert) if cert else None)

    def post(self, path: str, body: Any, timeout: float = TIMEOUT, retries: Any = RETRIES) -> Any:
        try:
            response = self.pool.request(
                "POST",
                self.url + path,
                body=json.dumps(body).encode(),
                headers=self.headers,
                timeout=timeout,
                retries=retries,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise RecordError(describe(exc)) from exc
        if response.status >= 400:
            raise RecordError(
                f"HTTP {response.status} on {path}: {response.data[:200].decode(errors='replace')}"
            )
        return json.loads(response.data) if response.data else None

    def ui_link(self, run_id: str) -> str | None:
        """The run's page in the UI of a self-hosted server (the API under ``/api``)."""
        return (
            f"{self.url.removesuffix('/api')}/runs/flow-run/{run_id}" if self.url.endswith("/api") else None
        )


@dataclass
class RecordedRun:
    """A flow run of the server that a direct cycle reports to."""

    api: PrefectAPI
    id: str
    name: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    @contextmanager
    def capture(self) -> Iterator[None]:
        """The ``veille`` logger's lines during the cycle, kept for the run's log in the UI."""
        handler = _Keep(self)
        logger = logging.getLogger("veille")
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)

    def finish(self, rows: list[dict[str, Any]], outcome: RunOutcome, since: Any) -> None:
        """Post the run's artifacts and log lines, then its final state (the outcome's)."""
        from sqlalchemy.exc import DBAPIError

        from flows.artifacts import run_artifacts
        from flows.retries import _cause

        logger = logging.getLogger("veille")
        try:
            for artifact in run_artifacts(rows, since, outcome):
                body = {
                    "type": artifact.kind,
                    "data": artifact.api_data(),
                    "description": artifact.description,
                    "flow_run_id": self.id,
                }
                self.api.post("/artifacts/", body if artifact.key is None else {**body, "key": artifact.key})
        except DBAPIError as exc:
            logger.error("run report not published: %s", _cause(exc))
        except RecordError as exc:
            logger.error("run report not published: %s", exc)
        completed = outcome.status in {"ok", "partial"}
        self._end(
            {"type": "COMPLETED" if completed else "FAILED", "name": STATE_NAMES[outcome.status]},
            outcome.message,
        )

    def fail(self, exc: BaseException) -> None:
        """The cycle raised: the run ends Failed, as a flow whose body raised does."""
        self._end(
            {"type": "FAILED", "name": "Failed"},
            f"{RAISED}: {describe(exc)}",
        )

    def _end(self, state: dict[str, Any], message: str) -> None:
        """Post the run's log lines, then its final state, even when the lines were not taken
        (a run left Running for ever in the UI is worse than one without its lines)."""
        logger = logging.getLogger("veille")
        try:
            if self.lines:
                try:
                    self.api.post("/logs/", self.lines)
                except RecordError as exc:
                    logger.error("the run's log lines were not recorded in Prefect: %s", exc)
            self.api.post(
                f"/flow_runs/{self.id}/set_state", {"state": {**state, "message": message}, "force": True}
            )
        except RecordError as exc:
            logger.error("the run's end was not recorded in Prefect: %s", exc)
        finally:
            _forget(self)


class _Keep(logging.Handler):
    def __init__(self, run: RecordedRun) -> None:
        super().__init__(logging.INFO)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        self.run.lines.append(
            {
                "name": record.name,
                "level": record.levelno,
                "message": record.getMessage(),
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "flow_run_id": self.run.id,
            }
        )


def begin(flow_name: str, parameters: dict[str, Any]) -> RecordedRun | None:
    """A new run of ``flow_name`` on the configured server, Running; None when the settings
    are beyond this client or the server refused (the caller then runs the flows)."""
    api = PrefectAPI.from_settings()
    if api is None:
        return None
    logger = logging.getLogger("veille")
    try:
        flow_id = api.post("/flows/", {"name": flow_name})["id"]
        created = api.post(
            "/flow_runs/",
            {"flow_id": flow_id, "parameters": parameters, "state": {"type": "RUNNING", "name": "Running"}},
        )
    except (RecordError, KeyError, TypeError, ValueError) as exc:
        logger.debug("recording the run over the REST API failed (%s): the flows run instead", exc)
        return None
    run = RecordedRun(api, str(created["id"]), str(created.get("name", "")))
    with _lock:
        _ACTIVE.append(run)
    link = api.ui_link(run.id)
    logger.info(
        "Flow run '%s' (%s, run directly: nothing due)%s",
        run.name,
        flow_name,
        f" - View at {link}" if link else "",
    )
    return run


_ACTIVE: list[RecordedRun] = []
_lock = threading.Lock()


def _forget(run: RecordedRun) -> None:
    with _lock:
        if run in _ACTIVE:
            _ACTIVE.remove(run)


def _mark_interrupted(signal_name: str) -> None:
    """A signal ends the command: the recorded run in progress ends Crashed, named
    Interrupted, as a flow run does (:mod:`flows.runs`)."""
    message = f"Interrupted by {signal_name}: what was not stored is left for the next run."
    for run in list(_ACTIVE):
        state = {"type": "CRASHED", "name": "Interrupted", "message": message}
        with suppress(RecordError):
            run.api.post(
                f"/flow_runs/{run.id}/set_state", {"state": state, "force": True}, timeout=3.0, retries=False
            )


signals.on_signal(_mark_interrupted)
