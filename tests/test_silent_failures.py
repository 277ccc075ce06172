"""A run whose step raises an exception that says nothing (``RuntimeError()``, an ``OSError``
with no arguments): the run's final state, its report and summary name the exception's type
(:func:`monitors.errors.describe`), never an empty reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.runs import run_flow
from tests.site import LocalSite, seed_site
from tests.test_run_states import _logs, _quiet, _sources
from tests.test_serve import _artifacts

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _run_with_silent(
    site: LocalSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, exc: Exception
) -> Any:
    """The final state of a run whose ``step`` (a name where a step looks it up, such as
    ``flows.polling.apply_polls``) raises ``exc``."""

    def silent(*args: object, **kwargs: object) -> None:
        raise exc

    seed_site(site)
    monkeypatch.setattr(step, silent)
    return run_flow(sources_file=str(_sources(tmp_path, site, "/feed.xml")), return_state=True)


def test_a_poll_step_raising_an_empty_exception_is_named_in_the_run(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _run_with_silent(site, tmp_path, monkeypatch, "flows.polling.apply_polls", RuntimeError())
    assert (state.type.value, state.name) == ("FAILED", "Failed")
    assert (state.message or "").startswith(
        "Nothing could run (the one source polled failed: poll not recorded: RuntimeError (S0))"
    )
    artifacts = _artifacts(state.state_details.flow_run_id)
    assert "| S0 | 0 | poll not recorded: RuntimeError |" in artifacts["veille-run-report"].data
    assert '"error": "poll not recorded: RuntimeError"' in artifacts["veille-run-summary"].data


def test_an_ingest_worker_raising_an_empty_exception_is_named_in_the_run(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _run_with_silent(site, tmp_path, monkeypatch, "flows.queue_drain.process_item", OSError())
    assert (state.type.value, state.name) == ("FAILED", "Incomplete")
    assert (state.message or "").startswith("Incomplete (incomplete: worker failed: OSError; the pages left")
    report = _artifacts(state.state_details.flow_run_id)["veille-run-report"].data
    assert "worker failed: OSError" in report


def test_a_flow_raising_an_empty_exception_is_named_in_its_state(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect ended such a run "Flow run encountered an exception: RuntimeError: " (its type and
    an empty message), and said nothing of what it was raised from; now the words a run run
    directly without Prefect's flows ends with (flows/record.py)."""
    import flows.runs

    def silent(*args: object, **kwargs: object) -> None:
        raise RuntimeError()

    def lost(*args: object, **kwargs: object) -> None:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as exc:
            raise OSError() from exc

    seed_site(site)
    sources = str(_sources(tmp_path, site, "/feed.xml"))
    monkeypatch.setattr(flows.runs, "drain_queue", silent)
    state = run_flow(sources_file=sources, return_state=True)
    assert (state.type.value, state.name) == ("FAILED", "Failed")
    assert state.message == "Flow run encountered an exception: RuntimeError"
    assert any(
        "Traceback" in line and "RuntimeError" in line for line in _logs(state.state_details.flow_run_id)
    )
    with pytest.raises(RuntimeError):  # called as a function, the flow raises what it raised
        run_flow(sources_file=sources)

    monkeypatch.setattr(flows.runs, "drain_queue", lost)
    code, _ = _quiet(["run", "--sources", sources])  # the command's way, a flow run in Prefect
    assert code == 3
    from tests.test_recorded_run import _runs

    run = _runs("veille-run")[0]
    cause = "ConnectionResetError: [Errno 104] Connection reset by peer"
    assert run.state.message == f"Flow run encountered an exception: OSError from {cause}"
    ingest = _runs("veille-ingest")[0]
    assert ingest.state.message == run.state.message


def _silent(*args: object, **kwargs: object) -> None:
    raise RuntimeError()


@pytest.mark.parametrize(
    ("module", "step", "call"),
    [
        ("flows.maintenance", "ensure_schema", lambda flows_: flows_.maintenance_flow(return_state=True)),
        (
            "flows.backfill",
            "backfill",
            lambda flows_: flows_.backfill_flow(
                since=datetime(2025, 2, 1, tzinfo=UTC),
                until=datetime(2025, 2, 2, tzinfo=UTC),
                return_state=True,
            ),
        ),
        (
            "flows.archive_backfill",
            "archive_backfill",
            lambda flows_: flows_.archive_backfill_flow(
                archive="wayback",
                since=datetime(2025, 2, 1, tzinfo=UTC),
                until=datetime(2025, 2, 2, tzinfo=UTC),
                return_state=True,
            ),
        ),
    ],
    ids=["maintenance", "backfill", "archive-backfill"],
)
def test_the_other_flows_raising_an_empty_exception_are_named_in_their_state(
    monkeypatch: pytest.MonkeyPatch, module: str, step: str, call: Any
) -> None:
    """The maintenance and backfill flows end as ``veille-run`` does when their body raises: the
    exception described, not Prefect's "RuntimeError: " (its type and an empty message)."""
    import importlib

    import flows.backfill_flows
    import flows.maintenance

    monkeypatch.setattr(importlib.import_module(module), step, _silent)
    holder = flows.maintenance if module == "flows.maintenance" else flows.backfill_flows
    state = call(holder)
    assert (state.type.value, state.name) == ("FAILED", "Failed")
    assert state.message == "Flow run encountered an exception: RuntimeError"
    assert any(
        "Traceback" in line and "RuntimeError" in line for line in _logs(state.state_details.flow_run_id)
    )
