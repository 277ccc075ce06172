"""The `veille serve` named as the holder of a database's serve lock is one on that database.

The serve lock is an advisory lock with the same keys on every database; pg_locks lists the
locks of the whole server, so two veille databases on one server each have a holder in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from flows.serve_locks import (
    SERVE_LOCK,
    AlreadyServing,
    hold_serve_locks,
    release_serve_locks,
    serve_lock_holder,
)

KEYS = {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]}
Servers = tuple[sa.Engine, list[str], list[sa.Connection]]


@pytest.fixture
def server(database_url: str) -> Iterator[Servers]:
    """The test server's admin engine, the databases made on it and the connections holding a
    serve lock, all dropped after."""
    admin = sa.create_engine(
        make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    made: list[str] = []
    held: list[sa.Connection] = []
    try:
        yield admin, made, held
    finally:
        release_serve_locks()
        for conn in held:
            conn.close()
        with admin.connect() as conn:
            for name in made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _database(database_url: str, server: Servers) -> str:
    """A new database on the test server (dropped after the test), as a URL."""
    admin, made, _ = server
    name = f"veille_test_lock_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    made.append(name)
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


def _serve(url: str, who: str, server: Servers) -> None:
    """What a `veille serve` holds on its database, under its application_name."""
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"application_name": who})
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    assert conn.scalar(sa.text("SELECT pg_try_advisory_lock(:c, :o)"), KEYS)
    server[2].append(conn)


def test_no_holder_is_named_from_another_database(database_url: str, server: Servers) -> None:
    """Only other databases on the server are served: the holder looked up on this one is
    nobody. The lookup once read pg_locks without the database and named the first holder
    listed, whichever database it held; with no holder here that wrong answer shows whatever
    order pg_locks lists its rows in."""
    ours = _database(database_url, server)
    for n in range(3):
        _serve(_database(database_url, server), f"veille serve, pid {202 + n} on elsewhere", server)
    engine = sa.create_engine(ours, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            assert serve_lock_holder(conn) is None
    finally:
        engine.dispose()


def test_the_holder_named_is_the_one_on_this_database(
    database_url: str, server: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two veille databases on one server, each served: a second `veille serve` on the first
    one is told the first one's holder, not the other database's."""
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))  # a PREFECT_HOME of its own
    ours = _database(database_url, server)
    _serve(ours, "veille serve, pid 101 on here", server)
    _serve(_database(database_url, server), "veille serve, pid 202 on elsewhere", server)

    with pytest.raises(AlreadyServing) as raised:
        hold_serve_locks(ours)
    shown = make_url(ours).render_as_string(hide_password=True)
    assert str(raised.value) == (
        f"another veille serve (veille serve, pid 101 on here) already serves the database {shown}:"
        " two would poll the same sources every cycle; stop it first"
    )
