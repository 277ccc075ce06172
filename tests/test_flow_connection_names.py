"""A flow run names its connections by its flow: ``veille serve``'s runner starts a run in a
subprocess of its own, no CLI to name them, and a lock it held was refused as held by "veille,
pid N on HOST". Real flow runs (the Prefect harness), real PostgreSQL."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from monitors.archive import db

_SEEN = sa.text("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")


@pytest.mark.usefixtures("prefect_harness", "clean_db")
def test_a_flow_run_names_its_connections_by_its_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.maintenance
    from flows.maintenance import maintenance_flow

    seen: list[str] = []

    def maintain() -> dict[str, str]:
        db.get_engine().dispose()  # the harness's connections were opened before the run
        with db.get_engine().connect() as conn:
            seen.append(conn.scalar(_SEEN))
        return {}

    monkeypatch.setattr(flows.maintenance, "_maintain", maintain)
    assert db.application_name().startswith("veille, pid ")
    state = maintenance_flow(return_state=True)
    assert state.is_completed(), state
    assert seen and seen[0].startswith(f"veille flow veille-maintenance, pid {os.getpid()} on "), seen
    assert db.application_name().startswith("veille, pid ")  # set back once the run is over


@pytest.mark.usefixtures("prefect_harness", "clean_db")
def test_a_flow_run_the_cli_started_keeps_the_commands_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.maintenance
    from flows.maintenance import maintenance_flow

    seen: list[str] = []

    def maintain() -> dict[str, str]:
        seen.append(db.application_name())
        return {}

    monkeypatch.setattr(flows.maintenance, "_maintain", maintain)
    earlier = db.name_connections("veille rescore")
    try:
        assert maintenance_flow(return_state=True).is_completed()
    finally:
        db.name_connections(earlier)
    assert seen and seen[0].startswith("veille rescore, pid "), seen
