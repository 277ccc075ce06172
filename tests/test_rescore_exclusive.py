"""Two rescores of the same target and topic never run at once (``rescore_runs.held``): a
second `veille rescore` while one runs is refused, cause first, exit code 2; the maintenance
flow's rescore skips the part another process rescores and says so. Before, the second one
took up the first one's open ``--all`` row and both rescored the same articles."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from flows.cli import main
from monitors.judge.topic import load_topic
from tests.test_rescore_resume import ACT_ROWS, SUMMIT_ROWS, _mark, _marked, _runs, ids  # noqa: F401

#: seconds a test waits for a thread (a blocked second rescore on main's code: the test fails)
WAIT = 15.0


@contextlib.contextmanager
def _first_rescore_paused(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """A ``rescore --all`` (batch size 1) in a thread, paused inside its first batch until the
    block ends; yields what it returned (or raised) once it is over."""
    import monitors.judge.rescore as module

    real: Callable[..., Any] = module.score_relevance
    started, go = threading.Event(), threading.Event()
    first = threading.current_thread()

    def paused(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is first and not go.is_set():
            started.set()
            go.wait(WAIT * 2)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "score_relevance", paused)
    result: list[Any] = []

    def work() -> None:
        try:
            result.append(module.rescore(engine, load_topic(), all_articles=True, batch_size=1))
        except Exception as exc:  # said by the test
            result.append(exc)

    thread = threading.Thread(target=work)
    first = thread
    thread.start()
    assert started.wait(WAIT), "the first rescore never began"
    try:
        yield result
    finally:
        go.set()
        thread.join(WAIT * 2)
    assert not thread.is_alive()


def _in_thread(work: Callable[[], Any]) -> Any:
    """``work()`` in a thread, given :data:`WAIT` seconds: one that blocks fails the test."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(WAIT)
    assert result, "the second rescore waited for the first (it would rescore the same articles)"
    return result[0]


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_a_second_rescore_all_is_refused_while_one_runs(
    ids: list[int],  # noqa: F811
    clean_db: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _first_rescore_paused(clean_db, monkeypatch) as first:
        code, out, err = _in_thread(lambda: _cli("rescore", "--all"))
    assert code == 2, (out, err)
    assert err.startswith(
        "veille: error: another rescore of the articles' relevance columns (topic ai_summit) is running"
    ), err
    assert "run it again once that one has ended" in err, err
    report = first[0]
    assert not isinstance(report, Exception), report
    assert report.rescored == len(ids)  # the first one did the work, alone
    assert _runs(clean_db) == [("articles", "ai_summit", "done")]
    # once it has ended, the lock is free again: a rescore runs
    code, out, err = _cli("rescore")
    assert code == 0 and "rescored 0 articles" in out, (out, err)


def test_the_maintenance_rescore_skips_what_a_user_rescore_holds(
    ids: list[int],  # noqa: F811
    clean_db: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.maintenance import rescore_when_topic_changed

    with _first_rescore_paused(clean_db, monkeypatch):
        # no topic's article_topics: they would wait for the paused batch's row lock (a batch,
        # not the rescore: a foreign key's), which the test holds for good
        outcome = _in_thread(lambda: rescore_when_topic_changed(load_topic(), topics=[]))
    assert outcome.rescored == 0, outcome
    assert outcome.note.startswith(
        "the articles' relevance columns not rescored: another rescore of the articles' relevance"
        " columns (topic ai_summit) is running"
    ), outcome.note
    assert outcome.topics == {}, outcome


def test_a_topic_held_elsewhere_stops_the_topics_rescore_and_frees_the_others(
    ids: list[int],  # noqa: F811
    clean_db: sa.Engine,
) -> None:
    """The lock of one topic's article_topics held by another session: rescore_topics raises
    RescoreBusy naming that topic, scores nothing, and lets go of the locks it had taken."""
    from monitors.archive.rescore_runs import LOCK_SPACE, TOPIC_ROWS, RescoreBusy
    from monitors.archive.topic_scores import rescore_topics
    from monitors.judge.topic_set import load_topics

    _mark(clean_db, "article_topics")  # a rescore of them would overwrite the mark
    take = sa.text("SELECT pg_try_advisory_lock(:space, hashtext(:key))")
    with clean_db.connect() as other:
        assert other.scalar(take, {"space": LOCK_SPACE, "key": f"{TOPIC_ROWS}:eu_ai_act"})
        with pytest.raises(RescoreBusy) as busy:
            rescore_topics(clean_db, load_topics(), all_articles=True)
        assert busy.value.topics == ["eu_ai_act"]
        assert str(busy.value).startswith("another rescore of article_topics (topic eu_ai_act) is running")
        # ai_summit's lock was let go: this session (not the pool's) takes it
        assert other.scalar(take, {"space": LOCK_SPACE, "key": f"{TOPIC_ROWS}:ai_summit"})
        other.execute(sa.text("SELECT pg_advisory_unlock_all()"))
        other.commit()
    assert _marked(clean_db, ids, SUMMIT_ROWS) == _marked(clean_db, ids, ACT_ROWS) == [True] * len(ids)
    assert _runs(clean_db) == []
