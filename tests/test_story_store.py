"""Stories in the database: assignment, edit-tolerant copies, counts, deletes, concurrent workers."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from monitors.archive.articles import store_article
from monitors.group import story_store
from monitors.group.story_store import STORY_LOCK_CLASS
from tests.test_copies import ENGLISH, FULL, INDEPENDENT, RESPUN, SUMMARY
from tests.test_neardup_store import _outcome, _source, _store_in_thread
from tests.test_stories import (
    BAKERIES,
    DIRECTIVE_BOTH,
    DIRECTIVE_RAPPORTEUR,
    DIRECTIVE_VOTE,
    EN,
    FR,
    FR_OTHER_NEWSROOM,
    HAMBURG_PORT,
    MUNICH_MUSEUM,
    ROADS,
    SAME_MINISTER_LATER,
)

T0 = datetime(2025, 6, 12, 9, tzinfo=UTC)


def _store(db: Session, src: int, url: str, text: str, at: datetime | None = T0, lang: str = "fr") -> int:
    outcome = _outcome(src, url, text)
    assert outcome.article is not None
    article = dataclasses.replace(outcome.article, published_at=at, language=lang)
    status, article_id = store_article(db, dataclasses.replace(outcome, article=article))
    assert status == "stored"
    return article_id


def _story(db: Session | sa.Connection, article_id: int) -> int | None:
    return db.scalar(sa.text("SELECT story_id FROM articles WHERE id = :id"), {"id": article_id})


def test_one_event_across_outlets_and_languages_is_one_story(db: Session) -> None:
    a, b = _source(db, "Alpha"), _source(db, "Beta")
    party = _source(db, "Parti")
    db.execute(sa.text("UPDATE sources SET owner = 'party' WHERE id = :id"), {"id": party})
    first = _store(db, a, "https://a.example/1", FR)
    second = _store(db, b, "https://b.example/1", FR_OTHER_NEWSROOM, T0 + timedelta(hours=2))
    third = _store(db, party, "https://p.example/1", EN, T0 + timedelta(hours=5), lang="en")
    other = _store(db, a, "https://a.example/2", SAME_MINISTER_LATER, T0 + timedelta(days=40))
    story = _story(db, first)
    assert story is not None and _story(db, second) == _story(db, third) == story
    assert _story(db, other) not in (None, story)
    row = db.execute(sa.text("SELECT * FROM stories WHERE id = :id"), {"id": story}).mappings().one()
    assert (row["articles"], row["outlets"], row["media"], row["parties"]) == (3, 3, 2, 1)
    assert row["first_seen"] == T0 and row["last_seen"] == T0 + timedelta(hours=5)
    assert row["article_id"] in (first, second, third) and row["title"] == "Titre"
    events = db.execute(
        sa.text("SELECT kind, article_id FROM story_events WHERE story_id = :id"), {"id": story}
    )
    assert events.all() == [("created", first)]
    outlets = db.execute(
        sa.text("SELECT source, publication_rank FROM story_outlets WHERE story_id = :id ORDER BY 2, 1"),
        {"id": story},
    ).all()
    assert outlets == [("Alpha", 1), ("Beta", 2), ("Parti", 3)]
    by_day = db.execute(
        sa.text("SELECT day, articles, media, parties FROM stories_by_day WHERE story_id = :id"),
        {"id": story},
    ).all()
    assert by_day == [(T0.date(), 3, 2, 1)]


def test_feed_summary_is_a_copy_in_its_originals_story(db: Session) -> None:
    src = _source(db)
    full = _store(db, src, "https://a.example/full", FULL)
    summary = _store(db, src, "https://b.example/summary", SUMMARY, T0 + timedelta(days=2))
    links = db.execute(
        sa.text("SELECT id, duplicate_of, cluster_id, story_id FROM articles ORDER BY id")
    ).all()
    assert [tuple(r) for r in links] == [
        (full, None, full, _story(db, full)),
        (summary, full, full, _story(db, full)),
    ]


def test_respun_copy_and_translation_are_copies_and_an_independent_report_is_not(db: Session) -> None:
    src = _source(db)
    full = _store(db, src, "https://a.example/full", FULL)
    respun = _store(db, src, "https://b.example/respun", RESPUN, T0 + timedelta(hours=1))
    english = _store(db, src, "https://c.example/en", ENGLISH, T0 + timedelta(hours=2), lang="en")
    independent = _store(db, src, "https://d.example/own", INDEPENDENT, T0 + timedelta(hours=3))
    rows: dict[int, int | None] = dict(db.execute(sa.text("SELECT id, duplicate_of FROM articles")).all())
    assert rows == {full: None, respun: full, english: full, independent: None}
    assert _story(db, full) == _story(db, respun) == _story(db, english) == _story(db, independent)


def test_short_text_never_seeds_a_story(db: Session) -> None:
    src = _source(db)
    short = _store(
        db, src, "https://a.example/short", "Rachida Dati annonce 340 millions pour 85 musées à Lyon."
    )
    assert _story(db, short) is None
    assert db.scalar(sa.text("SELECT count(*) FROM stories")) == 0


def test_no_date_uses_the_fetch_time(db: Session) -> None:
    src = _source(db)
    before = datetime.now(UTC)
    article = _store(db, src, "https://a.example/nodate", FR, at=None)
    first_seen = db.scalar(
        sa.text("SELECT first_seen FROM stories WHERE id = :id"), {"id": _story(db, article)}
    )
    assert first_seen is not None and abs((first_seen - before).total_seconds()) < 60


def test_deleting_an_article_keeps_its_storys_counts_right(db: Session) -> None:
    a, b = _source(db, "Alpha"), _source(db, "Beta")
    first = _store(db, a, "https://a.example/1", FR)
    second = _store(db, b, "https://b.example/1", FR_OTHER_NEWSROOM, T0 + timedelta(hours=2))
    story = _story(db, first)
    assert story == _story(db, second)
    central = db.scalar(sa.text("SELECT article_id FROM stories WHERE id = :id"), {"id": story})
    db.execute(sa.text("DELETE FROM articles WHERE id = :id"), {"id": central})
    row = db.execute(
        sa.text("SELECT articles, outlets, article_id FROM stories WHERE id = :id"), {"id": story}
    )
    assert tuple(row.one()) == (1, 1, ({first, second} - {central}).pop())


def _waits_for_story_lock(engine: sa.Engine, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            waiting = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND classid = CAST(:cls AS oid)"
                ),
                {"cls": STORY_LOCK_CLASS},
            )
        if waiting:
            return True
        time.sleep(0.05)
    return False


def test_two_workers_storing_one_event_at_once_make_one_story(clean_db: sa.Engine) -> None:
    """The second worker waits on the story-key locks until the first commits, then joins its
    story; without the locks it would miss the uncommitted story and create a second one."""
    with Session(clean_db) as setup:
        a, b = _source(setup, "Alpha"), _source(setup, "Beta")
        setup.commit()
    first = Session(clean_db)
    first_id = _store(first, a, "https://a.example/1", FR)
    outcome = _outcome(b, "https://b.example/1", FR_OTHER_NEWSROOM)
    assert outcome.article is not None
    outcome = dataclasses.replace(outcome, article=dataclasses.replace(outcome.article, published_at=T0))
    thread, result = _store_in_thread(clean_db, outcome)
    try:
        assert _waits_for_story_lock(clean_db), "the second article did not wait for the story locks"
        assert thread.is_alive()
        first.commit()
    finally:
        first.close()
        thread.join(timeout=30)
    _status, second_id = result["stored"]
    with clean_db.connect() as conn:
        stories = conn.execute(sa.text("SELECT id, story_id FROM articles ORDER BY id")).all()
        assert conn.scalar(sa.text("SELECT count(*) FROM stories")) == 1
    assert [s for _, s in stories][0] == [s for _, s in stories][1] is not None
    assert [i for i, _ in stories] == [first_id, second_id]


@pytest.mark.parametrize(
    ("text", "other", "title"),
    [
        (HAMBURG_PORT, MUNICH_MUSEUM, "Gabriele Münter im Lenbachhaus"),
        (ROADS, BAKERIES, "Bäckereien schließen"),
    ],
    ids=["die-and-1", "jahr-prozent-deutschland"],
)
def test_unrelated_articles_sharing_only_common_words_do_not_wait_for_each_other(
    clean_db: sa.Engine, text: str, other: str, title: str
) -> None:
    """Two workers storing unrelated German reports at once: they share only common words
    ("Die"/"die" and the number 1; the nouns "Jahr" and "Prozent" and "Deutschland", in the
    German stop list), which are no lookup keys, so the second takes no lock the first holds
    (before, it waited for the first to commit, as two reports of one event do) and neither
    finds the other's story: the two stories have no key in common."""
    with Session(clean_db) as setup:
        a, b = _source(setup, "Alpha"), _source(setup, "Beta")
        setup.commit()
    first = Session(clean_db)
    first_id = _store(first, a, "https://a.example/hafen", text, lang="de")
    outcome = _outcome(b, "https://b.example/museum", other, title=title)
    assert outcome.article is not None
    article = dataclasses.replace(outcome.article, published_at=T0, language="de")
    thread, result = _store_in_thread(clean_db, dataclasses.replace(outcome, article=article))
    try:
        thread.join(timeout=15)
        assert not thread.is_alive(), "the unrelated article waited for the first one's story-key locks"
    finally:
        first.commit()
        first.close()
        thread.join(timeout=30)
    _status, second_id = result["stored"]
    with clean_db.connect() as conn:
        one, two = _story(conn, first_id), _story(conn, second_id)
        assert one is not None and two is not None and one != two
        shared = conn.scalar(
            sa.text(
                "SELECT count(*) FROM story_keys x JOIN story_keys y ON y.key = x.key"
                " WHERE x.story_id = :one AND y.story_id = :two"
            ),
            {"one": one, "two": two},
        )
    assert shared == 0


COUNTS = (
    "SELECT id, articles, outlets, media, parties, source_ids, first_seen, last_seen, article_id, title"
    " FROM stories ORDER BY id"
)


def _counts(conn: sa.Connection | Session) -> list[tuple[object, ...]]:
    return [(*r[:5], sorted(r[5]), *r[6:]) for r in conn.execute(sa.text(COUNTS)).all()]


def _recounted(conn: sa.Connection | Session) -> list[tuple[object, ...]]:
    conn.execute(sa.text("SELECT story_refresh(id) FROM stories"))
    return _counts(conn)


VARIANTS = (FR, FR_OTHER_NEWSROOM, EN, SAME_MINISTER_LATER)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 60)), min_size=1, max_size=7))
def test_counts_kept_in_place_equal_a_recount_of_the_members(
    db: Session, arrivals: list[tuple[int, int, int]]
) -> None:
    """The store updates a story's counts, outlets, span and central article in place; they must
    be what ``story_refresh`` recounts from the members, whatever arrives in whatever order
    (copies, other outlets, a party, another language, another event)."""
    nested = db.begin_nested()
    try:
        sources = [_source(db, name) for name in ("Alpha", "Beta", "Parti")]
        db.execute(sa.text("UPDATE sources SET owner = 'party' WHERE id = :id"), {"id": sources[2]})
        for n, (variant, source, hours) in enumerate(arrivals):
            text = VARIANTS[variant] + f" Mise à jour numéro {n}."
            lang = "en" if VARIANTS[variant] is EN else "fr"
            _store(db, sources[source], f"https://x.example/{n}", text, T0 + timedelta(hours=hours), lang)
        kept = _counts(db)
        assert sum(r[1] for r in kept) == db.scalar(  # type: ignore[misc]
            sa.text("SELECT count(*) FROM articles WHERE story_id IS NOT NULL")
        )
        assert kept == _recounted(db)
    finally:
        nested.rollback()


def test_a_story_changed_after_it_was_read_is_locked_and_read_again(
    clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction changes the story between the candidate lookup and the write (it
    joined without sharing a lookup key): the write sees the row version changed, writes
    nothing, locks the story and writes from its new centroid, so nothing is lost."""
    with Session(clean_db) as setup:
        a, b = _source(setup, "Alpha"), _source(setup, "Beta")
        first = _store(setup, a, "https://a.example/1", FR)
        setup.commit()
        story = _story(setup, first)
    real = story_store._join
    versions: list[str | None] = []

    def racing(cur: Any, article_id: int, story_id: int, *args: Any) -> bool:
        if not versions:
            with clean_db.begin() as conn:
                conn.execute(
                    sa.text(
                        "UPDATE stories SET centroid = centroid || '{\"e:concurrent\": 3.0}' WHERE id = :s"
                    ),
                    {"s": story_id},
                )
        versions.append(args[2])
        return real(cur, article_id, story_id, *args)

    monkeypatch.setattr(story_store, "_join", racing)
    with Session(clean_db) as session:
        second = _store(session, b, "https://b.example/1", FR_OTHER_NEWSROOM, T0 + timedelta(hours=1))
        session.commit()
        assert _story(session, second) == story
    assert len(versions) == 2 and versions[0] is not None and versions[1] is None
    with clean_db.begin() as conn:
        centroid = conn.scalar(sa.text("SELECT centroid FROM stories WHERE id = :s"), {"s": story})
        assert centroid["e:concurrent"] == 3.0 and "e:dati" in centroid
        assert _counts(conn)[0][1:3] == (2, 2)
        assert _counts(conn) == _recounted(conn)


def test_an_article_bridging_two_stories_merges_them_and_counts_stay_right(db: Session) -> None:
    """The older story id survives, the other names it in ``merged_into``, the 'merged' event
    names both and the bridging article; counts are those of all members; a delete after the
    merge keeps them right; the merged story is not listed."""
    a, b, p = _source(db, "Alpha"), _source(db, "Beta"), _source(db, "Parti")
    db.execute(sa.text("UPDATE sources SET owner = 'party' WHERE id = :id"), {"id": p})
    vote = _store(db, a, "https://a.example/vote", DIRECTIVE_VOTE)
    rapporteur = _store(db, b, "https://b.example/rap", DIRECTIVE_RAPPORTEUR, T0 + timedelta(hours=1))
    older, newer = _story(db, vote), _story(db, rapporteur)
    assert older is not None and newer is not None and older < newer
    both = _store(db, p, "https://p.example/both", DIRECTIVE_BOTH, T0 + timedelta(hours=2))
    assert _story(db, vote) == _story(db, rapporteur) == _story(db, both) == older
    rows = {r[0]: r for r in _counts(db)}
    assert rows[older][1:5] == (3, 3, 2, 1) and rows[newer][1:3] == (0, 0)
    assert db.scalar(sa.text("SELECT merged_into FROM stories WHERE id = :id"), {"id": newer}) == older
    events = db.execute(
        sa.text("SELECT story_id, kind, other_story_id, article_id FROM story_events ORDER BY id")
    ).all()
    assert [tuple(e) for e in events] == [
        (older, "created", None, vote),
        (newer, "created", None, rapporteur),
        (older, "merged", newer, both),
    ]
    assert _counts(db) == _recounted(db)
    db.execute(sa.text("DELETE FROM articles WHERE id = :id"), {"id": rapporteur})
    assert {r[0]: r for r in _counts(db)}[older][1:5] == (2, 2, 1, 1)
    from monitors.archive.story_report import list_stories

    assert [s["id"] for s in list_stories(db)] == [older]


def test_stories_of_a_topic_are_read_from_article_topics_not_the_legacy_column(db: Session) -> None:
    """`veille stories --topic T`: stories with an article relevant to T in article_topics
    (every topic an article was scored against), whatever ``articles.relevant`` says."""
    from monitors.archive.story_report import list_stories

    src = _source(db)
    museums = _story(db, _store(db, src, "https://a.example/1", FR))
    louvre = _story(db, _store(db, src, "https://a.example/2", SAME_MINISTER_LATER, T0 + timedelta(days=40)))
    first, second = (
        db.scalar(sa.text("SELECT id FROM articles WHERE story_id = :s"), {"s": s}) for s in (museums, louvre)
    )
    db.execute(sa.text("UPDATE articles SET relevant = (id = :id)"), {"id": first})
    db.execute(
        sa.text(
            "INSERT INTO article_topics (article_id, topic, version, score, relevant) VALUES"
            " (:a, 'ai_summit', 'v', 0.1, false), (:b, 'ai_summit', 'v', 0.9, true),"
            " (:a, 'eu_ai_act', 'v', 0.8, true)"
        ),
        {"a": first, "b": second},
    )
    assert [s["id"] for s in list_stories(db, topic="ai_summit")] == [louvre]
    assert [s["id"] for s in list_stories(db, topic="eu_ai_act")] == [museums]
    assert {s["id"] for s in list_stories(db)} == {museums, louvre}
    assert list_stories(db, topic="other") == []


def test_wire_copies_names_the_copy_cluster_and_the_story_apart(db: Session) -> None:
    """wire_copies: ``cluster_id`` is the dispatch's copy cluster, ``story_id`` the news story
    (the view used to call the cluster ``story_id`` next to ``articles.story_id``)."""
    src = _source(db)
    full = _store(db, src, "https://a.example/full", FULL)
    summary = _store(db, src, "https://b.example/summary", SUMMARY, T0 + timedelta(hours=2))
    db.execute(sa.text("UPDATE articles SET wire = 'AFP' WHERE id = :id"), {"id": full})
    rows = db.execute(
        sa.text("SELECT article_id, cluster_id, story_id, agency FROM wire_copies ORDER BY article_id")
    ).all()
    assert [tuple(r) for r in rows] == [
        (full, full, _story(db, full), "AFP"),
        (summary, full, _story(db, full), "AFP"),
    ]
    # a dispatch credited to two agencies lists both, once each, alphabetical (it showed the
    # alphabetically last alone, max(wire): "Reuters")
    db.execute(sa.text("UPDATE articles SET wire = 'Reuters' WHERE id = :id"), {"id": summary})
    agencies = db.scalars(sa.text("SELECT agency FROM wire_copies ORDER BY article_id")).all()
    assert agencies == ["AFP, Reuters", "AFP, Reuters"]
    columns = db.execute(sa.text("SELECT * FROM wire_copies LIMIT 0")).keys()
    assert len(list(columns)) == len(set(columns))
    db.execute(sa.text("SAVEPOINT v"))
    definition = db.scalar(sa.text("SELECT pg_get_viewdef('wire_copies'::regclass)"))
    db.execute(sa.text(f"CREATE OR REPLACE VIEW wire_copies AS {definition}"))  # it can be made again
    db.execute(sa.text("ROLLBACK TO SAVEPOINT v"))
