"""A refused advisory lock names its holder (monitors.archive.locks): a second rescore of the
same target and topic, a backfill job another process works on, say which veille command holds
it, its pid and host, since when, and the server's pid of its connection. Before, the refusal
said "a `veille rescore` or the maintenance flow's", and a job "another worker has it"."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.test_rescore_exclusive import _cli
from tests.test_rescore_resume import ids  # noqa: F401

#: a holder said by monitors.archive.locks.Holder: who, since when, server pid, client
HOLDER = re.compile(
    r"(?P<who>[^;]+?) since (?P<since>\d{4}-\d\d-\d\d \d\d:\d\d) UTC"
    r" \(server pid (?P<pid>\d+), connected from (?P<client>[^)]+)\)"
)


@pytest.fixture
def named(clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """An engine of get_engine's own (not the session's cached one), its connections opened
    while veille's command is ``veille rescore``: what that command's process holds."""
    from monitors.archive import db

    monkeypatch.setattr(db, "_engines", {})
    earlier = db.name_connections("veille rescore")
    engine = db.get_engine(clean_db.url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        db.name_connections(earlier)
        engine.dispose()


def _holding_pid(engine: sa.Engine, space: int) -> int:
    with engine.connect() as conn:
        pid = conn.scalar(
            sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = CAST(CAST(:space AS integer) AS oid)"
            ),
            {"space": space},
        )
    assert isinstance(pid, int)
    return pid


def test_a_refused_rescore_names_the_command_holding_it(named: sa.Engine, clean_db: sa.Engine) -> None:
    """Two real connections: a `veille rescore`'s holds the lock, another's is refused."""
    from monitors.archive.rescore_runs import ARTICLES, LOCK_SPACE, RescoreBusy, held

    other = sa.create_engine(clean_db.url, poolclass=NullPool)
    try:
        with held(named, ARTICLES, ["ai_summit"]):
            pid = _holding_pid(clean_db, LOCK_SPACE)
            with pytest.raises(RescoreBusy) as busy, held(other, ARTICLES, ["ai_summit"]):
                pass
        message = str(busy.value)
        cause = "another rescore of the articles' relevance columns (topic ai_summit) is running: "
        assert message.startswith(cause), message
        found = HOLDER.match(message, len(cause))
        assert found is not None, message
        assert found["who"] == f"veille rescore, pid {os.getpid()} on {socket.gethostname()}"[:63]
        assert int(found["pid"]) == pid
        with other.connect() as conn:  # the holder's clock: since it took the lock, minutes ago
            now = conn.scalar(sa.text("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"))
        assert found["since"] <= now, message
        assert found["client"], message
        # let go once the first one ended: the second one runs
        with held(other, ARTICLES, ["ai_summit"]):
            pass
    finally:
        other.dispose()


def test_a_backfill_job_held_by_another_process_names_it(named: sa.Engine, clean_db: sa.Engine) -> None:
    from monitors.collect.backfill_jobs import JOB_LOCK_SPACE, job_lock

    other = sa.create_engine(clean_db.url, poolclass=NullPool)
    try:
        with job_lock(named, 7) as mine:
            assert mine
            pid = _holding_pid(clean_db, JOB_LOCK_SPACE)
            with job_lock(other, 7) as theirs:
                assert not theirs
                said = theirs.holders()
            found = HOLDER.fullmatch(said)
            assert found is not None, said
            assert found["who"].startswith(f"veille rescore, pid {os.getpid()} on "), said
            assert int(found["pid"]) == pid
        with job_lock(other, 7) as again:  # let go: the other process may take it
            assert again
    finally:
        other.dispose()


def test_rescore_and_backfill_keys_never_meet(clean_db: sa.Engine) -> None:
    """A backfill job whose id is the hash of a rescore's name takes its lock while that
    rescore holds its own: each kind of lock has its own namespace (the two-int form)."""
    from monitors.archive.rescore_runs import ARTICLES, held
    from monitors.collect.backfill_jobs import job_lock

    with clean_db.connect() as conn:
        key = conn.scalar(sa.text("SELECT hashtext(:key)"), {"key": f"{ARTICLES}:ai_summit"})
    with held(clean_db, ARTICLES, ["ai_summit"]), job_lock(clean_db, key) as mine:
        assert mine


def test_a_rescore_whose_topics_are_busy_says_what_it_rescored_first(
    ids: list[int],  # noqa: F811
    clean_db: sa.Engine,
) -> None:
    """The columns' rescore done and committed, the topics' stage refused (another process
    rescores eu_ai_act's article_topics): the columns' summary is printed, then the refusal,
    exit code 2. Before, only the refusal: the work done was not said."""
    from monitors.archive.rescore_runs import LOCK_SPACE, TOPIC_ROWS

    take = sa.text("SELECT pg_try_advisory_lock(:space, hashtext(:key))")
    with clean_db.connect() as other:
        assert other.scalar(take, {"space": LOCK_SPACE, "key": f"{TOPIC_ROWS}:eu_ai_act"})
        other.commit()
        try:
            code, out, err = _cli("rescore", "--all")
        finally:
            other.execute(sa.text("SELECT pg_advisory_unlock_all()"))
            other.commit()
    assert code == 2, (out, err)
    assert f"rescored {len(ids)} articles with topic" in out, (out, err)
    cause = "veille: error: another rescore of article_topics (topic eu_ai_act) is running: "
    assert err.startswith(cause), err
    assert HOLDER.search(err) is not None, err
