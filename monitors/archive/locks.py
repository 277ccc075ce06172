"""Session advisory locks held for a job's length on a connection of their own, and who holds
one this process was refused.

A rescore of a target and topic (:mod:`monitors.archive.rescore_runs`) and a backfill job
(:mod:`monitors.collect.backfill_jobs`) each keep to one process with such a lock: a killed
process loses it with its connection, nothing to clean up. The two-int form
``pg_try_advisory_lock(space, key)`` with a namespace (``space``) per kind of lock keeps the
kinds apart: a rescore's key never meets a backfill job's, whatever their second ints.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from monitors.archive.db import database_lost

#: A lock's second int: given as is, or a name, hashed by PostgreSQL's ``hashtext``.
Key = int | str


def _sql_key(key: Key) -> str:
    return "hashtext(:key)" if isinstance(key, str) else ":key"


@dataclass(frozen=True)
class Holder:
    """The session holding an advisory lock (pg_locks with pg_stat_activity): the server's pid
    of its connection, its ``application_name`` (veille's say the command, its pid and host:
    :func:`monitors.archive.db.application_name`), where it connects from, and since when its
    connection sits idle holding the lock (its last change of state: the lock's commit)."""

    pid: int
    application_name: str
    client: str
    since: datetime | None

    def __str__(self) -> str:
        who = self.application_name or "a session that gives no application_name"
        when = f" since {self.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if self.since else ""
        return f"{who}{when} (server pid {self.pid}, connected from {self.client})"


_HOLDER = (
    "SELECT a.pid, coalesce(a.application_name, ''),"
    " coalesce(host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'a local socket' END, 'unknown'),"
    " coalesce(a.state_change, a.backend_start)"
    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
    " AND l.classid = CAST(CAST(:space AS integer) AS oid)"
    " AND l.objid = CAST(CAST({key} AS integer) AS oid)"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " ORDER BY a.pid LIMIT 1"
)


def holder(conn: Connection, space: int, key: Key) -> Holder | None:
    """Who holds the advisory lock (``space``, ``key``) on ``conn``'s database, or None (it
    was let go meanwhile). pg_locks lists the whole server's: the database is in the query."""
    row = conn.execute(text(_HOLDER.format(key=_sql_key(key))), {"space": space, "key": key}).one_or_none()
    return None if row is None else Holder(*row)


@dataclass
class Hold:
    """What :func:`advisory_locks` got: the keys ``taken``, and the ones another session holds
    (``busy``), each with its :class:`Holder` (None: let go before it could be read), on the
    connection ``conn`` that holds them. True when every key was taken."""

    conn: Connection
    taken: list[Key] = field(default_factory=list)
    busy: dict[Key, Holder | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return not self.busy

    def holders(self) -> str:
        """The busy keys' holders, said once each: ``veille rescore, pid ... since ...``."""
        said = list(dict.fromkeys(str(h) for h in self.busy.values() if h is not None))
        return "; ".join(said) or "another session, which has let go of it since"


@contextmanager
def advisory_locks(engine: Engine, space: int, keys: Sequence[Key]) -> Iterator[Hold]:
    """Try the session advisory locks (``space``, each of ``keys``) on a connection of their
    own, held until the block ends (or the process, with its connection); never waits. The
    block runs either way: it reads the :class:`Hold` (``taken``, ``busy`` with their holders).
    A connection the server ended took its locks with it: nothing to let go, and a loss met
    while letting go is not an error (the block's work is committed)."""
    with ExitStack() as stack:
        conn = stack.enter_context(engine.connect())
        hold = Hold(conn)
        for key in keys:
            sql = text(f"SELECT pg_try_advisory_lock(:space, {_sql_key(key)})")
            if conn.scalar(sql, {"space": space, "key": key}):
                hold.taken.append(key)
            else:
                hold.busy[key] = holder(conn, space, key)
        conn.commit()

        def release() -> None:
            # Used again once it failed, a dead connection raised PendingRollbackError over the
            # loss; found dead only here, it made work all committed lose the database twice
            if conn.invalidated or not hold.taken:
                return
            try:
                for key in hold.taken:
                    conn.execute(
                        text(f"SELECT pg_advisory_unlock(:space, {_sql_key(key)})"),
                        {"space": space, "key": key},
                    )
                conn.commit()
            except DBAPIError as exc:
                if not database_lost(exc):
                    raise

        stack.callback(release)
        yield hold
