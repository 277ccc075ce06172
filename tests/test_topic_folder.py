"""Several topics at once: a folder of topic files, article_topics rows for each, rescoring
the archive when a topic is added or edited, history kept when one is removed."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tomllib
from datetime import UTC
from pathlib import Path
from typing import Any

import feedparser
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from flows.cli import main
from monitors.archive.articles import write_topic_scores
from monitors.archive.topic_scores import rescore_topics
from monitors.dates import article_day
from monitors.judge import relevance
from monitors.judge.relevance import score_relevance, topic_row
from monitors.judge.topic import DEFAULT_TOPIC_PATH, Topic
from monitors.judge.topic_schema import TopicError
from monitors.judge.topic_set import load_topics, topic_file

TOPICS = DEFAULT_TOPIC_PATH.parent
TEXTS = {
    "summit": "Le sommet pour l'action sur l'intelligence artificielle s'ouvre au Grand Palais les 10 "
    "et 11 février. Emmanuel Macron y reçoit une centaine de pays pour parler d'IA.",
    "act": "Le règlement européen sur l'IA (AI Act) s'applique aux modèles d'IA à usage général depuis "
    "août : la Commission européenne publie le code de bonnes pratiques de l'AI Office.",
    "budget": "Le gouvernement présente son budget rectificatif à l'Assemblée nationale mardi.",
}


def test_the_shipped_folder_holds_two_topics() -> None:
    assert [t.name for t in load_topics(TOPICS)] == ["ai_summit", "eu_ai_act"]


def test_empty_folder_duplicate_names_and_inactive(tmp_path: Path) -> None:
    with pytest.raises(TopicError, match="no topic file"):
        load_topics(tmp_path)
    shutil.copy(TOPICS / "ai_summit.toml", tmp_path / "a.toml")
    shutil.copy(TOPICS / "ai_summit.toml", tmp_path / "b.toml")
    with pytest.raises(TopicError, match="already declared"):
        load_topics(tmp_path)
    (tmp_path / "b.toml").unlink()
    raw = (
        (TOPICS / "eu_ai_act.toml")
        .read_text("utf-8")
        .replace("threshold = 0.5", "threshold = 0.5\nactive = false", 1)
    )
    (tmp_path / "c.toml").write_text(raw, "utf-8")
    assert [t.name for t in load_topics(tmp_path)] == ["ai_summit"]
    assert [t.name for t in load_topics(tmp_path, include_inactive=True)] == ["ai_summit", "eu_ai_act"]


def test_a_duplicate_name_points_at_its_line_and_a_file_is_not_a_folder(tmp_path: Path) -> None:
    """The second file declaring a name is named with the line of its ``name`` (before: line 1,
    a comment); VEILLE_TOPICS_DIR naming a file says so (before: "topic folder not found")."""
    shutil.copy(TOPICS / "ai_summit.toml", tmp_path / "a.toml")
    shutil.copy(TOPICS / "ai_summit.toml", tmp_path / "b.toml")
    lines = (TOPICS / "ai_summit.toml").read_text("utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("name = "))
    assert line > 1
    with pytest.raises(TopicError) as exc:
        load_topics(tmp_path)
    assert str(exc.value).startswith(f"{tmp_path / 'b.toml'}:{line}: topic name 'ai_summit' already declared")
    with pytest.raises(TopicError) as exc:
        load_topics(tmp_path / "a.toml")
    assert (
        str(exc.value)
        == f"{tmp_path / 'a.toml'}: not a folder: the topic folder holds the topic files (*.toml)"
    )


@pytest.fixture
def archive(clean_db: sa.Engine) -> dict[str, int]:
    ids: dict[str, int] = {}
    with clean_db.begin() as conn:
        source_id = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('t', 'feed', 'http://x/f', 'media') RETURNING id"
            )
        )
        for key, text in TEXTS.items():
            ids[key] = conn.scalar(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, text, text_hash)"
                    " VALUES (:u, :u, :s, :x, :h) RETURNING id"
                ),
                {"u": f"http://x/{key}", "s": source_id, "x": text, "h": key},
            )
    return ids


def _rows(engine: sa.Engine) -> dict[tuple[int, str], tuple[str, bool]]:
    with engine.connect() as conn:
        return {
            (a, t): (v, r)
            for a, t, v, r in conn.execute(
                sa.text("SELECT article_id, topic, version, relevant FROM article_topics")
            )
        }


def test_every_article_against_every_topic_then_edits_and_removal(
    clean_db: sa.Engine, archive: dict[str, int], tmp_path: Path
) -> None:
    folder = tmp_path / "topics"
    shutil.copytree(TOPICS, folder)
    topics = load_topics(folder)
    done = rescore_topics(clean_db, topics, batch_size=2)
    assert done == {"ai_summit": 3, "eu_ai_act": 3}
    rows = _rows(clean_db)
    assert len(rows) == 6
    assert rows[(archive["summit"], "ai_summit")][1] and not rows[(archive["summit"], "eu_ai_act")][1]
    assert rows[(archive["act"], "eu_ai_act")][1] and not rows[(archive["act"], "ai_summit")][1]
    assert not any(rows[(archive["budget"], t)][1] for t in ("ai_summit", "eu_ai_act"))
    assert rescore_topics(clean_db, topics) == {"ai_summit": 0, "eu_ai_act": 0}  # idempotent

    # editing a topic rescores only its rows; removing one keeps its history
    edited = folder / "eu_ai_act.toml"
    edited.write_text(edited.read_text("utf-8").replace('version = "1.0"', 'version = "1.1"'), "utf-8")
    (folder / "ai_summit.toml").unlink()
    again = load_topics(folder)
    assert rescore_topics(clean_db, again) == {"eu_ai_act": 3}
    rows = _rows(clean_db)
    assert len(rows) == 6
    assert all(v.startswith("1.1+") for (a, t), (v, _) in rows.items() if t == "eu_ai_act")
    assert all(v.startswith("1.0+") for (a, t), (v, _) in rows.items() if t == "ai_summit")


def test_several_topics_are_rescored_in_one_pass_with_the_rows_of_one_at_a_time(
    clean_db: sa.Engine, archive: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Topics added or edited together: the archive is read once and each article folded once
    for all the topics it lacks (before: one pass per topic, each article folded per topic);
    the stored rows are those of scoring one topic at a time, and progress counts the rows."""
    summit_topic, act_topic = topics = load_topics(TOPICS)
    with clean_db.begin() as conn:  # a title, a lead, a date and an address: every input counts
        conn.execute(
            sa.text(
                "UPDATE articles SET title = 'Sommet IA : Paris accueille le monde',"
                " description = 'Le sommet pour l''action sur l''IA.',"
                " published_at = '2025-02-09T23:30:00+00', canonical_url = :u WHERE id = :id"
            ),
            {"id": archive["summit"], "u": "https://x.fr/2025/02/10/sommet-pour-lia-a-paris"},
        )

    def one_at_a_time(topic: Topic, article_id: int) -> dict[str, Any]:
        with clean_db.connect() as conn:
            title, description, body, published, url = conn.execute(
                sa.text(
                    "SELECT title, description, text, published_at, canonical_url FROM articles WHERE id = :i"
                ),
                {"i": article_id},
            ).one()
        result = score_relevance(
            topic, body, title=title, description=description, published_at=article_day(published), url=url
        )
        return topic_row(topic, result)

    # the budget article already carries the act topic's current version: only the summit's is lacking
    with Session(clean_db) as session, session.begin():
        write_topic_scores(session, archive["budget"], [one_at_a_time(act_topic, archive["budget"])])
    expected = {(a, t.name): one_at_a_time(t, a) for a in archive.values() for t in topics}

    reads: list[str] = []

    def count_reads(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "a.text" in statement:
            reads.append(statement)

    folds = 0
    prepare = relevance.prepare_text

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal folds
        folds += 1
        return prepare(*args, **kwargs)

    monkeypatch.setattr(relevance, "prepare_text", counted)
    totals: list[int] = []
    batches: list[int] = []
    sa.event.listen(clean_db, "before_cursor_execute", count_reads)
    try:
        done = rescore_topics(clean_db, topics, batch_size=2, on_start=totals.append, on_batch=batches.append)
    finally:
        sa.event.remove(clean_db, "before_cursor_execute", count_reads)
    assert done == {"ai_summit": 3, "eu_ai_act": 2}
    assert totals == [5] and sum(batches) == 5  # (article, topic) rows, as before
    assert len(reads) == 3  # one pass: two batches of two articles and the read that finds no more
    assert folds == 3  # each article prepared once, for both topics
    with clean_db.connect() as conn:
        stored = {
            (a, t): {"version": v, "score": float(s), "relevant": r, "terms": list(terms), "evidence": e}
            for a, t, v, s, r, terms, e in conn.execute(
                sa.text(
                    "SELECT article_id, topic, version, score, relevant, terms, evidence FROM article_topics"
                )
            )
        }
    assert stored.keys() == expected.keys()
    for key, row in expected.items():
        assert stored[key] == {
            "version": row["version"],
            "score": row["score"],
            "relevant": row["relevant"],
            "terms": row["terms"],
            "evidence": json.loads(row["evidence"]),
        }, key
    assert stored[(archive["summit"], summit_topic.name)]["relevant"]


def test_rescore_command_fills_article_topics(clean_db: sa.Engine, archive: dict[str, int]) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["rescore"]) == 0
    assert "article_topics: 3 articles scored for topic eu_ai_act" in out.getvalue()
    with clean_db.connect() as conn:
        view = conn.execute(
            sa.text(
                "SELECT topic, relevant FROM article_topics_with_source WHERE article_id = :a ORDER BY topic"
            ),
            {"a": archive["act"]},
        ).all()
    assert [tuple(r) for r in view] == [("ai_summit", False), ("eu_ai_act", True)]


def _cli(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue()


def test_topic_filter_and_evidence_in_export_search_feed(
    clean_db: sa.Engine, archive: dict[str, int]
) -> None:
    _cli(["rescore", "--all"])
    rows = [
        json.loads(line)
        for line in _cli(["export", "--topic", "eu_ai_act", "--relevant", "--no-progress"]).splitlines()
    ]
    assert [r["id"] for r in rows] == [archive["act"]]
    assert rows[0]["topics"] == {"eu_ai_act": pytest.approx(rows[0]["topics"]["eu_ai_act"])}
    summit = [json.loads(line) for line in _cli(["export", "--relevant", "--no-progress"]).splitlines()]
    assert [r["id"] for r in summit] == [archive["summit"]]
    assert "lead:" in summit[0]["relevance_why"] and "«" in summit[0]["relevance_why"]

    hits = [
        json.loads(line) for line in _cli(["search", "IA", "--topic", "eu_ai_act", "--json"]).splitlines()
    ]
    assert [h["id"] for h in hits] == [archive["act"]]
    assert "AI Act" in hits[0]["why"]
    assert "why:" in _cli(["search", "sommet", "--relevant"])

    feed = _cli(["feed", "--topic", "eu_ai_act"])
    assert feed.count("<entry>") == 1 and "Pourquoi : " in feed and "AI Act" in feed
    assert "Pourquoi : " in _cli(["feed"])


def test_search_with_a_topic_says_relevant_to_that_topic(
    clean_db: sa.Engine, archive: dict[str, int]
) -> None:
    """With --topic, a hit's "relevant" (--json) and its "relevant" mark are that topic's: every
    hit is relevant to it. Before, they were the summit's column: the AI Act article, listed
    because relevant to eu_ai_act, said "relevant": false and bore no mark, beside its why."""
    _cli(["rescore", "--all"])
    hits = [
        json.loads(line) for line in _cli(["search", "IA", "--topic", "eu_ai_act", "--json"]).splitlines()
    ]
    assert [(h["id"], h["relevant"]) for h in hits] == [(archive["act"], True)]
    shown = _cli(["search", "IA", "--topic", "eu_ai_act"])
    assert shown.splitlines()[0].endswith(" relevant") and "why: " in shown
    # --relevant with --topic is relevant to that topic, as the export's (it was to the summit
    # too: the AI Act article, relevant to eu_ai_act only, was dropped)
    also = [
        json.loads(x)
        for x in _cli(["search", "IA", "--topic", "eu_ai_act", "--relevant", "--json"]).splitlines()
    ]
    assert [h["id"] for h in also] == [archive["act"]]
    exported = _cli(["export", "--topic", "eu_ai_act", "--relevant", "--no-progress"]).splitlines()
    assert [json.loads(x)["id"] for x in exported] == [archive["act"]]
    # without --topic, the summit's own column, as before
    plain = {h["id"]: h["relevant"] for h in map(json.loads, _cli(["search", "IA", "--json"]).splitlines())}
    assert plain[archive["act"]] is False and plain[archive["summit"]] is True


def test_run_report_rows_say_why_and_which_topics(clean_db: sa.Engine, archive: dict[str, int]) -> None:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from monitors.archive.reads import new_relevant_since

    _cli(["rescore", "--all"])
    with Session(clean_db) as session:
        rows = {r["id"]: r for r in new_relevant_since(session, datetime(2000, 1, 1, tzinfo=UTC))}
    # an article relevant to another topic only is in the report too, with that topic's why
    assert set(rows) == {archive["summit"], archive["act"]}
    summit, act = rows[archive["summit"]], rows[archive["act"]]
    assert summit["topics"] == ["ai_summit"] and "«" in summit["why"]
    assert act["topics"] == ["eu_ai_act"] and "AI Act" in act["why"] and act["relevance"] >= 0.5


def test_the_run_report_and_search_keep_every_zone_and_the_best_sentence(
    clean_db: sa.Engine, archive: dict[str, int]
) -> None:
    """A real summit article's why runs to 800-1,000 characters (dozens of terms in each zone);
    the run report shows 300 and search 900. Cut in the middle, the report's line lost the
    zones after the title's and the start of the best sentence, the part that says most. Now
    each zone keeps its strongest terms and says how many more it has, and the sentence is
    whole; exports and --json keep the whole line."""
    from datetime import datetime

    from flows.artifacts import TEXT_WIDTH, markdown_text, run_artifacts
    from monitors.judge.explain import why

    seed = Path(__file__).resolve().parents[1] / "seeds" / "003_1c57c69a5a136c3a.txt"
    with clean_db.begin() as conn:
        article = conn.scalar(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash)"
                " SELECT 'http://x/long', 'http://x/long', id, :t, :x, 'long' FROM sources RETURNING id"
            ),
            {
                "t": "Emmanuel Macron veut faire de la France un des pays champions de l'IA",
                "x": seed.read_text(),
            },
        )
    _cli(["rescore", "--all"])
    with clean_db.connect() as conn:
        evidence = conn.scalar(
            sa.text("SELECT relevance_evidence FROM articles WHERE id = :i"), {"i": article}
        )
    whole = why(evidence)
    zones = [part.split(":", 1)[0] for part in whole.split(" | «")[0].split("; ")]
    sentence = "«" + whole.split(" | «", 1)[1]
    assert len(whole) > 2 * TEXT_WIDTH and zones[:3] == ["title", "lead", "body"], whole

    row = {"source": "t", "poll": "ok", "error": None} | dict.fromkeys(
        ("new_urls", "stored", "duplicates", "relevant", "failed", "retry"), 1
    )
    report = run_artifacts([row], datetime(2000, 1, 1, tzinfo=UTC), None)[-1].data
    line = next(x for x in report.splitlines() if x.startswith("  why: title: IA"))
    assert line.endswith(markdown_text(sentence, 10_000)), line
    assert all(f"{zone}: " in line for zone in zones) and "more" in line
    assert len(line) <= len("  why: ") + TEXT_WIDTH + line.count("\\")  # markdown escapes aside

    shown = next(x for x in _cli(["search", "champions", "--relevant"]).splitlines() if "why:" in x)
    assert shown.endswith(sentence) and all(f"{zone}: " in shown for zone in zones), shown
    exported = json.loads(_cli(["search", "champions", "--relevant", "--json"]))
    assert exported["why"] == whole


def test_docs_recipe_on_the_topic_view(clean_db: sa.Engine, archive: dict[str, int]) -> None:
    """The SQL shown in docs/topics.md, as written there."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "topics.md").read_text("utf-8")
    recipe = docs.split("      SELECT day,", 1)[1].split(";", 1)[0]
    _cli(["rescore", "--all"])
    with clean_db.connect() as conn:
        rows = conn.execute(sa.text("SELECT day," + recipe)).all()
    assert sum(r.relevant for r in rows) == 1


def test_stats_per_topic_and_the_topic_views(clean_db: sa.Engine, archive: dict[str, int]) -> None:
    _cli(["rescore", "--all"])
    with clean_db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sightings (article_id, source_id, url) SELECT id, source_id, url FROM articles"
            )
        )
    data = json.loads(_cli(["stats", "--json"]))
    by_topic = {r["topic"]: r for r in data["by_topic"]}
    assert {t: (r["scored"], r["relevant"], r["state"]) for t, r in by_topic.items()} == {
        "ai_summit": (3, 1, "active"),
        "eu_ai_act": (3, 1, "active"),
    }
    one = json.loads(_cli(["stats", "--topic", "eu_ai_act", "--json"]))
    totals = one["totals"][0]
    assert (totals["topic"], totals["scored"], totals["relevant"], totals["not_scored"]) == (
        "eu_ai_act",
        3,
        1,
        0,
    )
    assert one["by_owner"] == [{"owner": "media", "articles": 3, "relevant": 1}]
    assert sum(r["relevant"] for r in one["by_day"]) == 1
    text = _cli(["stats", "--topic", "eu_ai_act"])
    assert "Topic eu_ai_act" in text and "By owner" in text and "Relevant by day" in text
    # an unknown topic: the cause, exit 2
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["stats", "--topic", "nope"]) == 2
    assert "no topic named 'nope'" in err.getvalue()
    # the per-topic variants of the daily views: a topic column
    with clean_db.connect() as conn:
        owners = conn.execute(
            sa.text("SELECT topic, owner, articles FROM daily_topic_relevant_by_owner ORDER BY topic")
        ).all()
        sources = conn.execute(sa.text("SELECT topic, articles FROM daily_topic_relevant_by_source")).all()
        sightings = conn.execute(sa.text("SELECT topic, article_id FROM topic_relevant_sightings")).all()
    assert [tuple(r) for r in owners] == [("ai_summit", "media", 1), ("eu_ai_act", "media", 1)]
    assert sorted(tuple(r) for r in sources) == [("ai_summit", 1), ("eu_ai_act", 1)]
    assert sorted(tuple(r) for r in sightings) == [
        ("ai_summit", archive["summit"]),
        ("eu_ai_act", archive["act"]),
    ]


def test_eval_measures_each_topic_and_warns_about_one_matching_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["eval"]) == 0
    assert "topic eu_ai_act (" in out.getvalue() and "relevance-eu_ai_act.jsonl" in out.getvalue()
    assert "eu_ai_act" not in err.getvalue()  # measured on its own examples: nothing to warn about
    folder = tmp_path / "topics"
    folder.mkdir()
    shutil.copy(TOPICS / "ai_summit.toml", folder)
    (folder / "knitting.toml").write_text(
        'name = "knitting"\nversion = "0.1"\nthreshold = 0.3\nrequired_groups = ["wool"]\n'
        "[groups.wool]\n"
        '[[terms]]\nname = "tricot"\ngroup = "wool"\npatterns = ["tricot", "knitting", "pelote de laine"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("VEILLE_TOPICS_DIR", str(folder))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["eval"]) == 0  # a warning, not a failure
    assert "warning: topic knitting matches nothing in the labelled data" in err.getvalue()


def test_export_with_a_topic_gives_that_topics_relevance_columns(
    clean_db: sa.Engine, archive: dict[str, int]
) -> None:
    """`veille export --topic eu_ai_act --relevant` (its --help example): relevance, relevant,
    terms, version and why are the AI Act topic's, not the summit's."""
    _cli(["rescore", "--all"])
    (row,) = [
        json.loads(line)
        for line in _cli(["export", "--topic", "eu_ai_act", "--relevant", "--no-progress"]).splitlines()
    ]
    assert row["relevant"] is True and row["relevance"] == pytest.approx(row["topics"]["eu_ai_act"])
    assert "AI Act" in row["relevance_terms"] and "AI Act" in row["relevance_why"]
    with clean_db.connect() as conn:
        version = conn.scalar(sa.text("SELECT version FROM article_topics WHERE topic = 'eu_ai_act' LIMIT 1"))
    assert row["topic_version"] == version
    csv_out = _cli(["export", "--format", "csv", "--topic", "eu_ai_act", "--relevant", "--no-progress"])
    assert "AI Act" in csv_out.splitlines()[1]


def test_an_unknown_topic_is_an_error_in_every_command_that_takes_one(
    clean_db: sa.Engine, archive: dict[str, int]
) -> None:
    """A typo in --topic stops with exit 2 naming the folder's topics (it printed an empty,
    successful result before: "nothing relevant")."""
    _cli(["rescore", "--all"])
    for argv in (["search", "IA"], ["export", "--no-progress"], ["feed"], ["stats"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main([*argv, "--topic", "eu_ai_ac"]) == 2, argv
        assert out.getvalue() == ""
        # as stories, rescore and eval say it (a path is taken too)
        assert err.getvalue() == (
            f"veille: error: no topic named 'eu_ai_ac' (did you mean 'eu_ai_act'? topics in the folder"
            f" {TOPICS}: ai_summit,"
            " eu_ai_act; or give a topic file's path)\n"
        )


def test_a_topic_files_path_is_that_topic_in_every_command_that_takes_one(
    clean_db: sa.Engine, archive: dict[str, int], tmp_path: Path
) -> None:
    """`--topic monitors/topics/eu_ai_act.toml`, as stories, rescore and eval take it: the
    topic its file names (article_topics rows are keyed by name), a copy outside the folder
    too. Before: search, export, feed and stats said "no topic named '.../eu_ai_act.toml'"."""
    _cli(["rescore", "--all"])
    copy = tmp_path / "act.toml"
    shutil.copy(TOPICS / "eu_ai_act.toml", copy)
    for argv in (
        ["search", "IA", "--json"],
        ["export", "--relevant", "--no-progress"],
        ["feed"],
        ["stats", "--json"],
        ["stories"],
    ):
        by_name = _cli([*argv, "--topic", "eu_ai_act"])
        assert "AI Act" in by_name or argv[0] in {"stats", "stories"}, argv
        for path in (TOPICS / "eu_ai_act.toml", copy):
            assert _cli([*argv, "--topic", str(path)]) == by_name, (argv, path)
    assert _cli(["stats", "--topic", str(copy)]).startswith("Topic eu_ai_act\n")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["search", "IA", "--topic", str(tmp_path / "missing.toml")]) == 2
    missing = f"veille: error: {tmp_path / 'missing.toml'}: No such file or directory\n"
    assert (out.getvalue(), err.getvalue()) == ("", missing)


def test_a_topic_files_bare_name_is_the_folders_file(
    clean_db: sa.Engine, archive: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--topic eu_ai_act.toml`, as `ls` of the topic folder shows it, from another folder: the
    folder's file of that name (it was "eu_ai_act.toml: No such file or directory", exit 2, in
    score, search, export, feed, stats, stories, rescore and eval alike). A file of that name
    where the command runs is still that file; a name in neither place is still an error."""
    _cli(["rescore", "--all"])
    monkeypatch.chdir(tmp_path)
    for argv in (["search", "IA", "--json"], ["export", "--relevant", "--no-progress"], ["stats", "--json"]):
        assert _cli([*argv, "--topic", "eu_ai_act.toml"]) == _cli([*argv, "--topic", "eu_ai_act"]), argv
    line = json.dumps({"text": TEXTS["act"]})
    saved = sys.stdin
    try:
        sys.stdin = io.StringIO(line)
        scored = json.loads(_cli(["score", "--topic", "eu_ai_act.toml"]))
    finally:
        sys.stdin = saved
    assert scored["relevant"] and "AI Act" in scored["relevance_why"]
    mine = (TOPICS / "eu_ai_act.toml").read_text("utf-8").replace('version = "1.0"', 'version = "9.9"')
    (tmp_path / "eu_ai_act.toml").write_text(mine, "utf-8")  # one here: that one
    sys.stdin = io.StringIO(line)
    try:
        assert json.loads(_cli(["score", "--topic", "eu_ai_act.toml"]))["topic_version"].startswith("9.9+")
    finally:
        sys.stdin = saved
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["search", "IA", "--topic", "nope.toml"]) == 2
    assert err.getvalue() == "veille: error: nope.toml: No such file or directory\n"


def test_each_topics_feed_has_an_id_of_its_own(clean_db: sa.Engine, archive: dict[str, int]) -> None:
    _cli(["rescore", "--all"])
    assert "<id>urn:veille:relevant</id>" in _cli(["feed"])
    assert "<id>urn:veille:relevant:eu_ai_act</id>" in _cli(["feed", "--topic", "eu_ai_act"])


def test_each_topics_feed_has_a_title_of_its_own(clean_db: sa.Engine, archive: dict[str, int]) -> None:
    """Two topics' feeds had one title, "veille: articles pertinents": a reader listed them
    alike. With --topic, the title names the topic and the subtitle is its description."""
    _cli(["rescore", "--all"])
    summit = feedparser.parse(_cli(["feed"])).feed
    act = feedparser.parse(_cli(["feed", "--topic", "eu_ai_act"])).feed
    by_path = feedparser.parse(_cli(["feed", "--topic", str(TOPICS / "eu_ai_act.toml")])).feed
    assert summit.title == "veille: articles pertinents" and "subtitle" not in summit
    assert act.title == "veille: articles pertinents (eu_ai_act)" == by_path.title
    assert act.subtitle == tomllib.loads((TOPICS / "eu_ai_act.toml").read_text("utf-8"))["description"]
    assert by_path.subtitle == act.subtitle
    mine = feedparser.parse(_cli(["feed", "--topic", "eu_ai_act", "--title", "Mon fil"])).feed
    assert mine.title == "Mon fil" and mine.subtitle == act.subtitle  # a title given is kept


@pytest.mark.parametrize("command", [["run", "--all"], ["backfill", "--since", "2025-02-01"]])
def test_a_bad_topic_file_stops_the_ingesting_commands_before_they_start(
    clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """A topic file with an unknown key in the folder: `veille run` (and backfill) stop with
    exit 2 and the file and line, polling nothing (the error surfaced as the source's poll
    error before, exit 3, "poll not recorded: TopicError: ...", once there was work)."""
    folder = tmp_path / "topics"
    shutil.copytree(TOPICS, folder)
    bad = folder / "eu_ai_act.toml"
    lines = bad.read_text("utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("threshold")) + 1
    bad.write_text("\n".join([*lines[:at], "bogus_key = 1", *lines[at:]]) + "\n", "utf-8")
    monkeypatch.setenv("VEILLE_TOPICS_DIR", str(folder))
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[source]]\nname = "s"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed.xml"\nowner = "media"\n'
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main([*command, "--sources", str(sources)]) == 2
    assert err.getvalue().startswith(f"veille: error: {bad}:{at + 1}: unknown key 'bogus_key'"), (
        err.getvalue()
    )
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM fetch_log")) == 0


def test_stats_say_a_removed_topic_is_removed(clean_db: sa.Engine, archive: dict[str, int]) -> None:
    """A topic whose file left the folder keeps its rows; `veille stats` marks it removed."""
    _cli(["rescore", "--all"])
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE article_topics SET topic = 'gone' WHERE topic = 'eu_ai_act'"))
    rows = {r["topic"]: r for r in json.loads(_cli(["stats", "--json"]))["by_topic"]}
    assert (rows["gone"]["state"], rows["gone"]["scored"]) == ("removed", 3)
    assert rows["ai_summit"]["state"] == "active"
    assert "removed" in _cli(["stats"])


def test_stats_list_a_topic_just_added_and_say_to_rescore(
    clean_db: sa.Engine, archive: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A topic file added to the folder, not scored yet, is a row of the By topic table (0
    scored, its state) with a note to run `veille rescore`; before, it was not there at all."""
    _cli(["rescore", "--all"])
    folder = tmp_path / "topics"
    folder.mkdir()
    for name in ("ai_summit", "eu_ai_act"):
        shutil.copy(topic_file(name), folder / f"{name}.toml")
    added = topic_file("eu_ai_act").read_text("utf-8").replace('name = "eu_ai_act"', 'name = "ai_rules"')
    (folder / "ai_rules.toml").write_text(added, "utf-8")
    (folder / "off.toml").write_text(
        added.replace('name = "eu_ai_act"', 'name = "off"').replace(
            'name = "ai_rules"', 'name = "off"\nactive = false'
        ),
        "utf-8",
    )
    monkeypatch.setenv("VEILLE_TOPICS_DIR", str(folder))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rows = json.loads(_cli(["stats", "--json"]))["by_topic"]
    assert [(r["topic"], r["scored"], r["state"]) for r in rows] == [
        ("ai_rules", 0, "active"),
        ("ai_summit", 3, "active"),
        ("eu_ai_act", 3, "active"),
        ("off", 0, "inactive"),
    ]
    assert err.getvalue() == "note: topic ai_rules has no scores yet; run: veille rescore\n"
    _cli(["rescore"])
    rows = json.loads(_cli(["stats", "--json"]))["by_topic"]
    assert [(r["topic"], r["scored"]) for r in rows][0] == ("ai_rules", 3)


def test_stats_say_which_topic_file_is_unreadable(
    clean_db: sa.Engine, archive: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken file in the topic folder: stats still answer, each topic's state "unreadable",
    and stderr names the file and its fault (before, the word alone, nothing on stderr)."""
    _cli(["rescore", "--all"])
    folder = tmp_path / "topics"
    folder.mkdir()
    shutil.copy(topic_file("ai_summit"), folder / "ai_summit.toml")
    (folder / "broken.toml").write_text('name = "broken"\n[[[\n', "utf-8")
    monkeypatch.setenv("VEILLE_TOPICS_DIR", str(folder))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rows = {r["topic"]: r for r in json.loads(_cli(["stats", "--json"]))["by_topic"]}
    assert {r["state"] for r in rows.values()} == {"unreadable"}, rows
    assert err.getvalue().startswith(f"veille: warning: {folder / 'broken.toml'}:2: TOML syntax error"), (
        err.getvalue()
    )
