"""Stories in the database: assignment, edit-tolerant copies, counts, deletes, concurrent workers."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.store import store_article
from monitors.story_store import STORY_LOCK_CLASS
from tests.test_copies import ENGLISH, FULL, INDEPENDENT, RESPUN, SUMMARY
from tests.test_neardup_store import _outcome, _source, _store_in_thread
from tests.test_stories import EN, FR, FR_OTHER_NEWSROOM, SAME_MINISTER_LATER

T0 = datetime(2025, 6, 12, 9, tzinfo=UTC)


def _store(db: Session, src: int, url: str, text: str, at: datetime | None = T0, lang: str = "fr") -> int:
    outcome = _outcome(src, url, text)
    assert outcome.article is not None
    article = dataclasses.replace(outcome.article, published_at=at, language=lang)
    status, article_id = store_article(db, dataclasses.replace(outcome, article=article))
    assert status == "stored"
    return article_id


def _story(db: Session, article_id: int) -> int | None:
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
    rows = dict(db.execute(sa.text("SELECT id, duplicate_of FROM articles")).all())
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
    _status, second_id = result["stored"]  # type: ignore[misc]
    with clean_db.connect() as conn:
        stories = conn.execute(sa.text("SELECT id, story_id FROM articles ORDER BY id")).all()
        assert conn.scalar(sa.text("SELECT count(*) FROM stories")) == 1
    assert [s for _, s in stories][0] == [s for _, s in stories][1] is not None
    assert [i for i, _ in stories] == [first_id, second_id]
