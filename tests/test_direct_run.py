"""Flows called in-process (`veille run`, `veille backfill`) run without flow-run heartbeats,
unless the user asks for them; Prefect's default stays for everything else."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

import flows.backfill
import flows.runs
from flows.cli import main
from flows.runtime import HEARTBEAT_ENV, direct_run


def _heartbeat() -> int | None:
    value: int | None = get_current_settings().flows.heartbeat_frequency
    return value


@pytest.fixture
def heartbeats_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Prefect's default (heartbeats every 180 s), whatever an earlier fixture set, and no
    user setting in the environment."""
    for name in HEARTBEAT_ENV:
        monkeypatch.delenv(name, raising=False)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}):
        yield


@pytest.mark.usefixtures("heartbeats_on")
def test_direct_run_turns_heartbeats_off_and_restores_them() -> None:
    assert _heartbeat() == 180
    with direct_run():
        assert _heartbeat() is None
    assert _heartbeat() == 180


@pytest.mark.usefixtures("heartbeats_on")
def test_direct_run_keeps_heartbeats_the_user_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "180")
    with direct_run():
        assert _heartbeat() == 180


@pytest.mark.usefixtures("heartbeats_on")
def test_veille_run_and_backfill_call_their_flows_as_direct_runs(
    monkeypatch: pytest.MonkeyPatch, engine: sa.Engine
) -> None:
    from prefect.states import Completed

    seen: dict[str, int | None] = {}

    def fake_flow(name: str) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            seen[name] = _heartbeat()
            return Completed(data=[])  # with return_state=True, as the commands call them

        return run

    monkeypatch.setenv("VEILLE_PREFECT", "on")  # veille run as flows, with or without a server
    monkeypatch.setattr(flows.runs, "run_flow", fake_flow("run"))
    monkeypatch.setattr(flows.backfill, "backfill_flow", fake_flow("backfill"))
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run"]) == 0
        assert main(["backfill", "--since", "2025-02-01", "--until", "2025-02-28"]) == 0
    assert seen == {"run": None, "backfill": None}
