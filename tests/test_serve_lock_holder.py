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

from flows.commands.serve import SERVE_LOCK, AlreadyServing, hold_serve_locks, release_serve_locks

HOLDERS = sa.text(
    "SELECT l.database FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = :c"
    " AND l.objid = :o AND l.granted"
)
KEYS = {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]}


@pytest.fixture
def server(database_url: str) -> Iterator[tuple[sa.Engine, list[str], list[sa.Connection]]]:
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


def test_the_holder_named_is_the_one_on_this_database(
    database_url: str,
    server: tuple[sa.Engine, list[str], list[sa.Connection]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two veille databases on one server, each served: a second `veille serve` on the first
    one is told the first one's holder. The holder was looked up in pg_locks without the
    database, so the message could name the `veille serve` of the other database (the first
    granted row pg_locks listed); here the other databases' holders are listed first."""
    admin, made, held = server
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))  # a PREFECT_HOME of its own

    def database() -> str:
        name = f"veille_test_lock_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        made.append(name)
        return make_url(database_url).set(database=name).render_as_string(hide_password=False)

    def serve(url: str, who: str) -> None:
        """What a `veille serve` holds on its database, under its application_name."""
        engine = sa.create_engine(url, poolclass=NullPool, connect_args={"application_name": who})
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        assert conn.scalar(sa.text("SELECT pg_try_advisory_lock(:c, :o)"), KEYS)
        held.append(conn)

    ours = database()
    serve(ours, "veille serve, pid 101 on here")
    with admin.connect() as conn:
        oid = conn.scalar(sa.text("SELECT oid FROM pg_database WHERE datname = :d"), {"d": made[0]})
    # serve other databases until pg_locks lists the holder of one of them first
    for n in range(30):
        serve(database(), f"veille serve, pid {202 + n} on elsewhere")
        with admin.connect() as conn:
            if conn.scalars(HOLDERS, KEYS).first() != oid:
                break
    else:
        pytest.fail("pg_locks listed this database's holder first 30 times")

    with pytest.raises(AlreadyServing) as raised:
        hold_serve_locks(ours)
    shown = make_url(ours).render_as_string(hide_password=True)
    assert str(raised.value) == (
        f"another veille serve (veille serve, pid 101 on here) already serves the database {shown}:"
        " two would poll the same sources every cycle; stop it first"
    )
