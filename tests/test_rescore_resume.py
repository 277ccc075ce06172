"""An interrupted ``veille rescore --all`` is resumed, not started over: by ``--all`` again and
by a plain ``veille rescore`` alike, after its last committed batch (``rescore_runs``, 0053),
for the articles' relevance columns and every topic's article_topics rows. Before, the
articles it had not reached carried the topic's version already: a plain rescore skipped
them, and only ``--all`` again finished, from the first article. A topic edited in between
makes the old run moot."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.cli import main
from monitors.judge.topic import DEFAULT_TOPIC_PATH, load_topic
from monitors.judge.topic_set import load_topics
from tests.test_rescore import _ending_the_connection

TEXT = "Le sommet pour l'action sur l'intelligence artificielle s'ouvre au Grand Palais, article {}."
#: what the tests write into a rescored row to tell whether a later rescore redid it
MARK = -1.0
RESUMED = re.compile(
    r"resuming the rescore --all started \d{4}-\d\d-\d\d \d\d:\d\d UTC \(topic ai_summit\):"
    r" (\d+) articles? left"
)


@pytest.fixture
def ids(clean_db: sa.Engine) -> list[int]:
    """Four articles, scored by a rescore with the current topics (columns and article_topics)."""
    with clean_db.begin() as conn:
        source_id = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner) VALUES ('r', 'feed', 'http://x/f', 'media')"
                " RETURNING id"
            )
        )
        made = [
            conn.scalar(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, text, text_hash, topic_version)"
                    " VALUES (:u, :u, :s, :x, :h, 'old') RETURNING id"
                ),
                {"u": f"http://x/{i}", "s": source_id, "x": TEXT.format(i), "h": f"h{i}"},
            )
            for i in range(4)
        ]
    assert _run("rescore")[0] == 0
    return made


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _interrupted_all(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    """``veille rescore --all --batch-size 1`` losing the database in ``module``'s stage at its
    second article: the first batch stays."""
    real = getattr(module, name)
    with monkeypatch.context() as patch:
        patch.setattr(module, name, _ending_the_connection(engine, real, at=2))
        code, out, err = _run("rescore", "--all", "--batch-size", "1")
    assert code == 2 and err.startswith("veille: error: lost the database during the rescore"), (out, err)
    assert "run `veille rescore --all` again" in err, err


def _mark(engine: sa.Engine, table: str) -> None:
    """Every article's score (in ``table``) set to :data:`MARK`, its version left as it is."""
    column = "relevance" if table == "articles" else "score"
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET {column} = :m"), {"m": MARK})


def _marked(engine: sa.Engine, ids: list[int], sql: str) -> list[bool]:
    """Per article, in id order: does it still hold the mark (not rescored since)?"""
    with engine.connect() as conn:
        scores = {i: score for i, score in conn.execute(sa.text(sql))}
    return [scores[i] == MARK for i in ids]


COLUMNS = "SELECT id, relevance FROM articles"
SUMMIT_ROWS = "SELECT article_id, score FROM article_topics WHERE topic = 'ai_summit'"
ACT_ROWS = "SELECT article_id, score FROM article_topics WHERE topic = 'eu_ai_act'"


def _runs(engine: sa.Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(sa.text("SELECT target, topic, outcome FROM rescore_runs ORDER BY id"))
        ]


def test_rescore_all_again_goes_on_after_the_last_committed_batch(
    ids: list[int], clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitors.judge.rescore as module

    _interrupted_all(clean_db, monkeypatch, module, "score_relevance")
    _mark(clean_db, "articles")  # what the first --all rescored must not be rescored again
    _mark(clean_db, "article_topics")
    code, out, err = _run("rescore", "--all", "--batch-size", "1")
    assert code == 0, err
    said = RESUMED.findall(out)
    assert said == ["3"], out  # one line, the articles left
    assert "rescored 3 articles" in out, out
    assert _marked(clean_db, ids, COLUMNS) == [True, False, False, False]
    # the topics' stage had not begun: this --all scores every article for every topic
    assert _marked(clean_db, ids, SUMMIT_ROWS) == [False] * 4
    assert _marked(clean_db, ids, ACT_ROWS) == [False] * 4
    assert "article_topics: 4 articles scored for topic eu_ai_act" in out, out
    assert {r[2] for r in _runs(clean_db)} == {"done"}

    # idempotent: nothing is left, a plain rescore resumes nothing and rescores nothing
    code, out, err = _run("rescore")
    assert code == 0 and "resuming" not in out and "rescored 0 articles" in out, out
    assert "article_topics: 0 articles scored for topic ai_summit" in out, out


def test_a_plain_rescore_finishes_an_interrupted_rescore_all(
    ids: list[int], clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitors.judge.rescore as module

    _interrupted_all(clean_db, monkeypatch, module, "score_relevance")
    _mark(clean_db, "articles")
    code, out, err = _run("rescore", "--batch-size", "2")
    assert code == 0, err
    assert RESUMED.findall(out) == ["3"], out
    assert "rescored 3 articles" in out, out  # on main: 0, every article at this version
    assert _marked(clean_db, ids, COLUMNS) == [True, False, False, False]
    code, out, err = _run("rescore")
    assert code == 0 and "resuming" not in out and "rescored 0 articles" in out, out


def test_an_all_interrupted_in_the_topics_stage_resumes_every_topic(
    ids: list[int], clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lost while scoring article_topics (both topics of the folder in one pass): the articles'
    columns were done, each topic's rows go on after the last committed batch."""
    import monitors.archive.topic_scores as module

    _interrupted_all(clean_db, monkeypatch, module, "score_topics")
    _mark(clean_db, "articles")
    _mark(clean_db, "article_topics")
    code, out, err = _run("rescore", "--batch-size", "1")
    assert code == 0, err
    assert "rescored 0 articles" in out, out  # the columns' --all had finished
    for topic in ("ai_summit", "eu_ai_act"):
        assert re.search(
            rf"resuming the rescore --all of article_topics started \S+ \S+ UTC \(topic {topic}\):"
            r" 3 articles left",
            out,
        ), out
        assert f"article_topics: 3 articles scored for topic {topic}" in out, out
    assert _marked(clean_db, ids, COLUMNS) == [True] * 4
    assert _marked(clean_db, ids, SUMMIT_ROWS) == [True, False, False, False]
    assert _marked(clean_db, ids, ACT_ROWS) == [True, False, False, False]
    assert {r[2] for r in _runs(clean_db)} == {"done"}
    code, out, err = _run("rescore", "--all", "--batch-size", "3")  # a new --all: every article
    assert code == 0 and "resuming" not in out and "rescored 4 articles" in out, out
    assert _marked(clean_db, ids, SUMMIT_ROWS) == [False] * 4


def test_a_topic_edited_in_between_makes_the_interrupted_all_moot(
    ids: list[int], clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import monitors.judge.rescore as module

    _interrupted_all(clean_db, monkeypatch, module, "score_relevance")
    raw = DEFAULT_TOPIC_PATH.read_text("utf-8")
    edited = tmp_path / "ai_summit.toml"
    edited.write_text(raw + "\n# edited\n", encoding="utf-8")
    new = load_topic(edited)
    assert new.name == "ai_summit" and new.version != load_topic().version
    _mark(clean_db, "articles")
    code, out, err = _run("rescore", "--topic", str(edited))
    assert code == 0, err
    assert "resuming" not in out, out
    assert re.search(r"the rescore --all started .* is moot: topic ai_summit changed since", out), out
    assert "rescored 4 articles" in out, out  # every one, with the new version
    assert _marked(clean_db, ids, COLUMNS) == [False] * 4
    with clean_db.connect() as conn:
        assert set(conn.scalars(sa.text("SELECT topic_version FROM articles"))) == {new.version}
    assert ("articles", "ai_summit", "moot") in _runs(clean_db)
    code, out, err = _run("rescore", "--topic", str(edited))
    assert code == 0 and "moot" not in out and "rescored 0 articles" in out, out


def test_the_progress_totals_of_a_resumed_all_count_what_is_left(
    ids: list[int], clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitors.archive.topic_scores as topic_module
    import monitors.judge.rescore as module
    from monitors.archive.topic_scores import rescore_topics
    from monitors.judge.rescore import rescore

    topic, topics = load_topic(), load_topics()
    real = module.score_relevance
    with monkeypatch.context() as patch:
        patch.setattr(module, "score_relevance", _ending_the_connection(clean_db, real, at=3))
        with pytest.raises(sa.exc.OperationalError):
            rescore(clean_db, topic, all_articles=True, batch_size=1)
    real_topics = topic_module.score_topics
    with monkeypatch.context() as patch:
        patch.setattr(topic_module, "score_topics", _ending_the_connection(clean_db, real_topics, at=2))
        with pytest.raises(sa.exc.OperationalError):
            rescore_topics(clean_db, topics, all_articles=True, batch_size=1)
    totals: list[int] = []
    done: list[int] = []
    resumed: list[int] = []
    report = rescore(
        clean_db,
        topic,
        all_articles=True,
        on_start=totals.append,
        on_batch=done.append,
        on_resume=lambda plan, left: resumed.append(left),
    )
    assert totals == [2] == [sum(done)] == resumed and report.rescored == 2
    totals, done, resumed = [], [], []
    scored = rescore_topics(
        clean_db,
        topics,
        on_start=totals.append,
        on_batch=done.append,
        on_resume=lambda p, n: resumed.append(n),
    )
    assert totals == [6] == [sum(done)] and resumed == [3, 3], (totals, done, resumed)
    assert scored == {"ai_summit": 3, "eu_ai_act": 3}


def test_one_unfinished_all_per_target_and_topic_by_the_database(clean_db: sa.Engine) -> None:
    insert = sa.text(
        "INSERT INTO rescore_runs (target, topic, version) VALUES ('articles', 'ai_summit', 'v')"
    )
    with clean_db.begin() as conn:
        conn.execute(insert)
    with pytest.raises(sa.exc.IntegrityError), clean_db.begin() as conn:
        conn.execute(insert)
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE rescore_runs SET finished_at = now(), outcome = 'done'"))
        conn.execute(insert)  # a finished one is history
        assert conn.scalar(sa.text("SELECT count(*) FROM rescore_runs")) == 2


def test_the_maintenance_rescore_finishes_an_interrupted_all(
    ids: list[int], clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitors.judge.rescore as module
    from flows.maintenance import rescore_when_topic_changed

    _interrupted_all(clean_db, monkeypatch, module, "score_relevance")
    _mark(clean_db, "articles")
    outcome = rescore_when_topic_changed(load_topic())
    assert outcome.rescored == 3, outcome
    assert _marked(clean_db, ids, COLUMNS) == [True, False, False, False]
    assert {r[2] for r in _runs(clean_db)} == {"done"}


#: docs/relevance.md's and `veille rescore --help`'s line to start an interrupted --all over
RESTART = "veille rescore --all --restart"


def test_rescore_all_restart_starts_an_interrupted_all_over(
    ids: list[int], clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`veille rescore --all --restart`, as documented: the interrupted --all is closed as
    restarted and every article is rescored from the first (on main: no such option)."""
    import monitors.judge.rescore as module

    _interrupted_all(clean_db, monkeypatch, module, "score_relevance")
    _mark(clean_db, "articles")
    _mark(clean_db, "article_topics")
    code, out, err = _run(*shlex.split(RESTART)[1:])
    assert code == 0, err
    assert "resuming" not in out, out
    assert re.search(
        r"the rescore --all started \S+ \S+ UTC \(topic ai_summit\) is closed as restarted:"
        r" --restart starts over from the first article, 4 articles to rescore",
        out,
    ), out
    assert "rescored 4 articles" in out, out
    assert _marked(clean_db, ids, COLUMNS) == [False] * 4  # the first one too
    assert _marked(clean_db, ids, SUMMIT_ROWS) == [False] * 4
    assert ("articles", "ai_summit", "restarted") in _runs(clean_db)
    assert {r[2] for r in _runs(clean_db) if r[2] != "restarted"} == {"done"}
    # nothing interrupted: --restart is a plain --all
    code, out, err = _run(*shlex.split(RESTART)[1:])
    assert code == 0 and "restarted" not in out and "rescored 4 articles" in out, out


def test_restart_without_all_is_refused(clean_db: sa.Engine) -> None:
    code, out, err = _run("rescore", "--restart")
    assert code == 2 and err.startswith("veille: error: --restart needs --all"), (out, err)
