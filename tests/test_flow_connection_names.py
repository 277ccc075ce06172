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


_PID = sa.text("SELECT pg_backend_pid()")


@pytest.mark.usefixtures("prefect_harness", "clean_db")
def test_a_pooled_connection_opened_before_the_flow_takes_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection of the process's pool opened before the flow run (one process runs flow
    after flow under veille serve) says the flow's name once the run uses it, and again after
    a rollback; the command's name once the run is over. Before, it kept the name it was opened
    with: a lock the run took was refused as held by "veille, pid N on HOST"."""
    import flows.maintenance
    from flows.maintenance import maintenance_flow

    engine = db.get_engine()
    engine.dispose()
    with engine.connect() as conn:  # opened before the run, back in the pool
        before = (conn.scalar(_PID), conn.scalar(_SEEN))
    seen: list[tuple[int, str]] = []

    def maintain() -> dict[str, str]:
        for _ in range(2):  # the second after the first one's rollback
            with engine.connect() as conn:
                seen.append((conn.scalar(_PID), conn.scalar(_SEEN)))
        return {}

    monkeypatch.setattr(flows.maintenance, "_maintain", maintain)
    assert maintenance_flow(return_state=True).is_completed()
    with engine.connect() as conn:
        after = (conn.scalar(_PID), conn.scalar(_SEEN))
    flow_name = f"veille flow veille-maintenance, pid {os.getpid()} on "
    assert before[1].startswith(f"veille, pid {os.getpid()} on "), before
    assert [pid for pid, _ in seen] == [before[0]] * 2, (before, seen)  # the same pooled connection
    assert all(name.startswith(flow_name) for _, name in seen), seen
    assert after == before, after


def test_a_long_name_keeps_the_role_and_pid_in_what_postgresql_shows(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flow name and a host too long for PostgreSQL's 63 bytes, with accented characters:
    the name PostgreSQL shows is the one veille gave, the role first, then the pid, the host
    shortened to what is left. Before, the name was cut at 63 bytes (the pid and host lost) and
    each byte of an accented character showed as "?"."""
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "poste-de-veille-régionale.rédaction.example.org")
    earlier = db.name_connections("veille flow veille-revue-élargie")
    try:
        db.get_engine().dispose()
        with db.get_engine().connect() as conn:
            shown = conn.scalar(_SEEN)
    finally:
        db.name_connections(earlier)
        db.get_engine().dispose()
    start = f"veille flow veille-revue-elargie, pid {os.getpid()} on "
    assert shown == start + "poste-de-veille-regionale"[: 63 - len(start)], shown


def test_a_name_too_long_gives_up_the_host_first_then_the_roles_end() -> None:
    """The role (command or flow) and the pid are kept first; the host shortened to its first
    label, then cut, then left out; non-ASCII characters as PostgreSQL would not mangle them."""
    long_role = "veille flow " + "x" * 70
    assert db.fit_name("veille rescore", 4242, "box") == "veille rescore, pid 4242 on box"
    assert db.fit_name("veille flow veille-maintenance", 4242, "a-rather-long-host.dept.example.org") == (
        "veille flow veille-maintenance, pid 4242 on a-rather-long-host"
    )
    start = "veille flow veille-maintenance, pid 4242 on "
    cut = db.fit_name("veille flow veille-maintenance", 4242, "a-host-name-much-longer-than-the-room.x")
    assert cut == start + "a-host-name-much-longer-than-the-room"[: 63 - len(start)] and len(cut) == 63, cut
    assert db.fit_name(long_role, 4242, "box") == long_role[: 63 - len(", pid 4242")] + ", pid 4242"
    assert db.fit_name("veille café", 7, "bôx") == "veille cafe, pid 7 on box"
    assert db.fit_name("veille 東京", 7, "box") == "veille ??, pid 7 on box"
