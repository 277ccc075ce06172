"""`veille rescore`: recompute relevance after the topic file changes, report sides, idempotent."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.cli import main
from monitors.judge.rescore import rescore
from monitors.judge.topic import DEFAULT_TOPIC_PATH, load_topic

# Under the shipped topic: the summit article is relevant (0.85), the Mistral launch is not
# (0.11: AI + "sommet" but a product launch without a tie to Paris), the budget is not (0.0).
TEXTS = {
    "summit": "Le sommet pour l'action sur l'intelligence artificielle s'ouvre au Grand Palais les 10 "
    "et 11 février. Emmanuel Macron y reçoit une centaine de pays pour parler d'IA.",
    "mistral": "Mistral AI lance une nouvelle version de son assistant Le Chat. La start-up française "
    "d'intelligence artificielle présente son modèle lors d'un sommet avec ses clients.",
    "budget": "Le gouvernement présente son budget rectificatif à l'Assemblée nationale mardi.",
}
OLD_VERSION = "0.9+oldtopic"


def _edit_topic(tmp_path: Path, name: str, **replacements: str) -> Path:
    raw = DEFAULT_TOPIC_PATH.read_text("utf-8")
    for old, new in replacements.items():
        assert old in raw, old
        raw = raw.replace(old, new)
    path = tmp_path / name
    path.write_text(raw, encoding="utf-8")
    return path


@pytest.fixture
def archive(clean_db: sa.Engine) -> dict[str, int]:
    """Three articles scored by an older topic: only the summit one relevant."""
    ids: dict[str, int] = {}
    with clean_db.begin() as conn:
        source_id = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('rescore', 'feed', 'http://x/f', 'media') RETURNING id"
            )
        )
        for key, text in TEXTS.items():
            ids[key] = conn.scalar(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, text, text_hash, relevance,"
                    " relevant, topic_version) VALUES (:u, :u, :s, :x, :h, 0.5, :r, :v) RETURNING id"
                ),
                {
                    "u": f"http://x/{key}",
                    "s": source_id,
                    "x": text,
                    "h": key,
                    "r": key == "summit",
                    "v": OLD_VERSION,
                },
            )
    return ids


def _source(conn: sa.Connection, name: str) -> int:
    """A feed source's id, for articles inserted by hand."""
    source_id: int = conn.scalar(
        sa.text("INSERT INTO sources (name, kind, url, owner) VALUES (:n, 'feed', :u, 'media') RETURNING id"),
        {"n": name, "u": f"http://x/{name}"},
    )
    return source_id


def _state(engine: sa.Engine, ids: dict[str, int]) -> dict[str, tuple[bool, str, float]]:
    with engine.connect() as conn:
        rows = {
            r[0]: (r[1], r[2], r[3])
            for r in conn.execute(sa.text("SELECT id, relevant, topic_version, relevance FROM articles"))
        }
    return {key: rows[i] for key, i in ids.items()}


def test_rescore_after_topic_edits(archive: dict[str, int], clean_db: sa.Engine, tmp_path: Path) -> None:
    # Edit 1: product launches no longer damped and a lower threshold: Mistral's launch flips up.
    lenient = load_topic(
        _edit_topic(
            tmp_path,
            "lenient.toml",
            **{"penalty_floor = 0.3": "penalty_floor = 1.0", "threshold = 0.5": "threshold = 0.35"},
        )
    )
    started: list[int] = []
    batches: list[int] = []
    report = rescore(clean_db, lenient, batch_size=2, on_start=started.append, on_batch=batches.append)
    assert started == [3] and batches == [2, 1]
    assert (report.candidates, report.rescored) == (3, 3)
    assert (report.became_relevant, report.became_not_relevant) == (1, 0)
    assert report.became_relevant_ids == [archive["mistral"]]
    state = _state(clean_db, archive)
    assert {k: v[0] for k, v in state.items()} == {"summit": True, "mistral": True, "budget": False}
    assert {v[1] for v in state.values()} == {lenient.version}
    assert state["mistral"][2] >= 0.35

    # Idempotent: nothing is stale any more.
    again = rescore(clean_db, lenient)
    assert (again.candidates, again.rescored, again.changed_side) == (0, 0, 0)
    assert _state(clean_db, archive) == state

    # --all recomputes everything and, the topic being the same, changes no side.
    forced = rescore(clean_db, lenient, all_articles=True)
    assert (forced.rescored, forced.changed_side) == (3, 0)

    # Edit 2: a strict threshold: the summit and the launch both flip down.
    strict = load_topic(_edit_topic(tmp_path, "strict.toml", **{"threshold = 0.5": "threshold = 0.9"}))
    assert strict.version != lenient.version
    report = rescore(clean_db, strict)
    assert (report.rescored, report.became_relevant, report.became_not_relevant) == (3, 0, 2)
    assert sorted(report.became_not_relevant_ids) == sorted([archive["summit"], archive["mistral"]])
    assert {k: v[0] for k, v in _state(clean_db, archive).items()} == {
        "summit": False,
        "mistral": False,
        "budget": False,
    }


def test_rescore_command_reports_sides(archive: dict[str, int], clean_db: sa.Engine, tmp_path: Path) -> None:
    topic_file = _edit_topic(tmp_path, "strict.toml", **{"threshold = 0.5": "threshold = 0.9"})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["rescore", "--topic", str(topic_file), "--batch-size", "2"]) == 0
    text = out.getvalue()
    assert "rescored 3 articles" in text
    assert "1 relevant -> not relevant" in text
    assert "0 not relevant -> relevant" in text
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["rescore", "--topic", str(topic_file)]) == 0
    assert "rescored 0 articles" in out.getvalue()


def test_rescore_says_which_part_had_nothing_to_do(archive: dict[str, int], clean_db: sa.Engine) -> None:
    """A rescore with the summit's columns up to date but a topic to score said "nothing to do:
    every article already carries this topic version", then "article_topics: 3 articles scored
    for topic eu_ai_act": the nothing to do is the relevance columns', and says so."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["rescore"]) == 0
    with clean_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM article_topics WHERE topic = 'eu_ai_act'"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["rescore"]) == 0
    # the topic named with its version ("with topic 1.0+7c2740e0" named a version alone)
    assert f"rescored 0 articles with topic ai_summit {load_topic().version}\n" in out.getvalue()
    assert "article_topics: 3 articles scored for topic eu_ai_act" in out.getvalue()
    said = "nothing to do for the articles' relevance columns (topic ai_summit): every article already"
    assert said in err.getvalue(), err.getvalue()
    assert "nothing to do:" not in err.getvalue()  # a bare "nothing to do", of the whole command


def test_rescore_with_another_topics_file_leaves_the_articles_columns(
    archive: dict[str, int], clean_db: sa.Engine
) -> None:
    """The articles' relevance columns hold the summit topic's scores (docs/topics.md). Before,
    `veille rescore --topic eu_ai_act.toml` (its help: "`--topic FILE` does one topic") wrote
    the EU AI Act's scores into them, so the views, the export and the feed counted that topic
    as the summit's until the daily maintenance put them back."""
    eu_file = DEFAULT_TOPIC_PATH.parent / "eu_ai_act.toml"
    before = _state(clean_db, archive)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["rescore", "--topic", str(eu_file)]) == 0
    assert _state(clean_db, archive) == before
    assert "relevance columns left as they are" in out.getvalue()
    assert "article_topics: 3 articles scored for topic eu_ai_act" in out.getvalue()
    with clean_db.connect() as conn:
        scored = conn.execute(sa.text("SELECT topic, version FROM article_topics")).all()
    assert sorted(set(scored)) == [("eu_ai_act", load_topic(eu_file).version)] and len(scored) == 3


def test_rescores_read_the_stored_canonical_url(clean_db: sa.Engine, tmp_path: Path) -> None:
    """``veille rescore`` and the topic rescore score with the article's canonical URL, as the
    pipeline did: with the URL zone on (``[zones] url``), an untitled paragraph-sized text of a
    summit page becomes relevant by its URL's words."""
    from monitors.archive.topic_scores import rescore_topics

    paragraph = (
        "Les représentants syndicaux ont regretté d'avoir été reçus une heure à peine, entre deux"
        " tables rondes, et promettent de revenir à la charge dans les entreprises."
    )
    url = "https://www.exemple.fr/2025/02/11/au-sommet-de-lia-a-paris-les-syndicats-reclament"
    with clean_db.begin() as conn:
        source_id = _source(conn, "u")
        conn.execute(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, text, text_hash, published_at,"
                " relevance, relevant, topic_version)"
                " VALUES (:u, 'http://x/redirect', :s, :x, 'h', '2025-02-11', 0, false, 'old')"
            ),
            {"u": url, "s": source_id, "x": paragraph},
        )
    topic = load_topic(_edit_topic(tmp_path, "url.toml", **{"tail = 0.5\n": "tail = 0.5\nurl = 1.0\n"}))
    assert topic.zone_weights["url"] == 1.0
    assert rescore(clean_db, topic).became_relevant == 1
    assert rescore_topics(clean_db, [topic]) == {topic.name: 1}
    with clean_db.connect() as conn:
        relevant, words = conn.execute(
            sa.text("SELECT relevant, relevance_evidence->>'url' FROM articles")
        ).one()
        topic_row = conn.execute(
            sa.text("SELECT relevant, evidence::jsonb->>'url' FROM article_topics")
        ).one()
    assert relevant and words.endswith("sommet de l IA a paris les syndicats reclament")
    assert tuple(topic_row) == (True, words)


def _ending_the_connection(engine: sa.Engine, real: Any, at: int = 2) -> Any:
    """``real`` (score_relevance, or another scoring function) that, on call ``at`` (its
    second), has the server end the rescore's connection (a restart, an administrator's
    pg_terminate_backend): the batches before it (of one article) are committed."""
    calls = 0

    def end_the_connection(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == at:
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
                        " current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
                    )
                )
        return real(*args, **kwargs)

    return end_the_connection


def test_a_rescore_that_loses_the_database_says_so_and_a_rerun_finishes(
    archive: dict[str, int],
    clean_db: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The server ends the rescore's connection in its second batch (a restart, an
    administrator's pg_terminate_backend). Before: the command ended in a psycopg traceback.
    Now: one line, cause first, saying what stays and what to do; the rerun it advises
    resumes where the first stopped."""
    import monitors.judge.rescore as rescore_module

    real = rescore_module.score_relevance
    monkeypatch.setattr(rescore_module, "score_relevance", _ending_the_connection(clean_db, real))
    capsys.readouterr()
    assert main(["rescore", "--batch-size", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("veille: error: lost the database during the rescore") and "Traceback" not in err
    assert "run `veille rescore` again" in err and err.count("\n") == 1, err
    monkeypatch.setattr(rescore_module, "score_relevance", real)
    assert main(["rescore"]) == 0
    out = capsys.readouterr().out
    assert "rescored 2 articles" in out  # the first batch stayed done
    assert {v[1] for v in _state(clean_db, archive).values()} == {load_topic().version}


@pytest.mark.parametrize(
    ("page_date", "feed_date"),
    [
        ("2025-03-01T00:30:00+01:00", None),  # the page's date, on Paris's clock
        (None, "Sat, 01 Mar 2025 00:30:00 +0100"),  # the feed's, the page giving none
    ],
    ids=["page", "feed"],
)
def test_rescores_read_the_day_the_pipeline_scored_with(
    clean_db: sa.Engine, page_date: str | None, feed_date: str | None
) -> None:
    """An article published at 00:30 on 1 March in Paris is scored as of 1 March (the site's
    day); the database keeps the instant, 28 February 23:30 UTC, and both rescores read that
    day back (before: 28 February, so a rescore with an unchanged topic could move an article
    across a period's or peak's bound). The feed's offset is kept in the evidence too."""
    from email.utils import parsedate_to_datetime

    from monitors.archive.topic_scores import rescore_topics
    from monitors.ingest import analyse_page
    from monitors.records import QueueItem
    from tests.test_analysis_workers import _fetched

    url = "https://example.fr/2025/sommet.html"
    meta = f'<meta property="article:published_time" content="{page_date}">' if page_date else ""
    html = (
        f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Sommet IA</title>{meta}</head>'
        f"<body><article><h1>Sommet IA</h1>{('<p>' + TEXTS['summit'] + '</p>') * 4}</article></body></html>"
    )
    item = QueueItem(
        id=1,
        source_id=1,
        url=url,
        canonical_url=url,
        feed_published_at=parsedate_to_datetime(feed_date) if feed_date else None,
    )
    topic = load_topic()
    out = analyse_page(item, _fetched(url, html), topic)
    assert out.article is not None, out.reason
    article = out.article
    assert article.relevance_evidence["period"]["published_at"] == "2025-03-01"
    with clean_db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, text, text_hash, published_at,"
                " extraction_evidence, topic_version)"
                " VALUES (:u, :u, :s, :x, 'h', :p, CAST(:e AS jsonb), 'old')"
            ),
            {
                "u": url,
                "s": _source(conn, "s"),
                "x": article.text,
                "p": article.published_at,
                "e": json.dumps(article.extraction_evidence),
            },
        )
    rescore(clean_db, topic, all_articles=True)
    rescore_topics(clean_db, [topic], all_articles=True)
    with clean_db.connect() as conn:
        stored = conn.scalar(
            sa.text("SELECT relevance_evidence -> 'period' ->> 'published_at' FROM articles")
        )
        row = conn.scalar(sa.text("SELECT evidence -> 'period' ->> 'published_at' FROM article_topics"))
        utc_day = conn.scalar(sa.text("SELECT (published_at AT TIME ZONE 'UTC')::date FROM articles"))
    assert str(utc_day) == "2025-02-28"  # the case: the instant's UTC day is another
    assert stored == row == "2025-03-01"


def test_the_maintenance_rescore_logs_how_far_it_has_gone(
    archive: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The maintenance run's rescore (the whole archive after a topic change: a long step)
    says in its log what it has to do and how far it has gone, a line at most every
    PROGRESS_SECONDS and one at the end; before, nothing until it ended."""
    import logging

    import flows.maintenance

    class Lines(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    monkeypatch.setattr(flows.maintenance, "PROGRESS_SECONDS", 3600.0)
    logger, handler = logging.getLogger("veille"), Lines()
    # setLevel, not a patched attribute: the logger caches what each level gave before
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        topic = load_topic()
        outcome = flows.maintenance.rescore_when_topic_changed(topic, [topic])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert outcome.rescored == 3
    lines = handler.lines
    what = f"rescore with topic {topic.name} {topic.version}"
    assert lines == [
        f"{what}: 3 articles to do",
        f"{what}: 3 of 3 articles done",  # the end, however soon
        "article_topics: 3 articles to do",
        "article_topics: 3 of 3 articles done",
    ], lines


def test_an_empty_archive_is_said_so_not_sent_to_rescore(new_database: str) -> None:
    """On an archive with no article, `veille search --topic T` said "topic T has no scores
    yet; run: veille rescore", and the rescore then said "every article already carries this
    topic version": each sent the user to the other. Both now say the archive is empty."""

    def run(*argv: str) -> tuple[int, str]:
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(list(argv))
        return code, err.getvalue()

    empty = "the archive has no article yet (`veille run` stores some)"
    code, err = run("search", "sommet", "--topic", "ai_summit")
    assert code == 0 and f"note: topic ai_summit has no scores yet; {empty}" in err, err
    code, err = run("rescore")
    said = f"nothing to do for the articles' relevance columns (topic ai_summit): {empty}"
    assert code == 0 and said in err and "every article" not in err, err


def test_an_interrupted_rescore_all_says_the_next_rescore_goes_on_from_there(
    archive: dict[str, int],
    clean_db: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``rescore --all`` redoes articles that carry the topic's version already: stopped half
    way, the lost-database line names ``veille rescore --all``, and a plain ``veille rescore``
    finishes it too (before: it skipped them, every article at this version). The SIGINT line
    says the next rescore goes on after the last committed batch (before: only ``--all``,
    which started over)."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    import monitors.judge.rescore as rescore_module
    from flows import cli

    assert main(["rescore"]) == 0  # every article at the current version
    real = rescore_module.score_relevance
    monkeypatch.setattr(rescore_module, "score_relevance", _ending_the_connection(clean_db, real))
    capsys.readouterr()
    assert main(["rescore", "--all", "--batch-size", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("veille: error: lost the database during the rescore"), err
    assert "run `veille rescore --all` again" in err, err
    monkeypatch.setattr(rescore_module, "score_relevance", real)
    assert main(["rescore"]) == 0  # goes on with the --all: the two articles it had not reached
    out = capsys.readouterr().out
    assert "resuming the rescore --all started" in out and "rescored 2 articles" in out, out

    # SIGINT in the second batch of `veille rescore --all`, as a user's Ctrl-C
    program = textwrap.dedent(
        """
        import os, signal, sys
        import monitors.judge.rescore as module
        from flows import cli
        real, calls = module.score_relevance, []
        def interrupt(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGINT)
            return real(*args, **kwargs)
        module.score_relevance = interrupt
        sys.argv = ["veille", "rescore", "--all", "--batch-size", "1"]
        sys.exit(cli.main())
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PYTHONPATH"] = str(Path(cli.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 128 + signal.SIGINT, done.stderr[-3000:]
    assert (
        "veille: interrupted by SIGINT: the articles not reached are left for the next `veille rescore"
        " --all` (or `veille rescore`), which goes on after the last committed batch" in done.stderr
    ), done.stderr[-3000:]
    assert main(["rescore"]) == 0
    out = capsys.readouterr().out
    assert "resuming the rescore --all started" in out and "rescored 2 articles" in out, out
