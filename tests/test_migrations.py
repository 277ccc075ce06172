"""Every migration goes down and up again on an archive that holds data (the fixture archive:
articles, topic scores, stories, sightings, the queue, the fetch log): each ``downgrade()`` one
step at a time to the base, then ``upgrade`` to the head, which must give the same tables,
views and functions. A guard (it passed when written): a new migration whose downgrade fails
on real rows, or loses a table on the way back up, fails here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from monitors.archive.schema import alembic_config

SCHEMA = sa.text(
    "SELECT c.relkind::text || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'i', 'S')"
    " UNION ALL SELECT 'f ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = 'public' ORDER BY 1"
)


@pytest.fixture
def archive_copy(archive_url: str) -> Iterator[str]:
    """A copy of the fixture archive, dropped after (the archive itself stays as it is)."""
    source = make_url(archive_url)
    name = f"veille_test_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # a template must have no session: the pools of earlier tests are pinged back to life
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
            {"d": source.database},
        )
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_every_migration_goes_down_and_up_on_an_archive_with_data(archive_copy: str) -> None:
    config = alembic_config(archive_copy)
    revisions = [s.revision for s in ScriptDirectory.from_config(config).walk_revisions()]  # head first
    engine = sa.create_engine(archive_copy)
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM article_topics")) > 0
            assert conn.scalar(sa.text("SELECT count(*) FROM stories")) > 0
            at_head = conn.scalars(SCHEMA).all()
        for below in [*revisions[1:], "base"]:
            command.downgrade(config, below)
            with engine.connect() as conn:
                current = conn.scalars(sa.text("SELECT version_num FROM alembic_version")).all()
            assert current == ([] if below == "base" else [below])
        command.upgrade(config, "head")
        with engine.connect() as conn:
            assert conn.scalars(SCHEMA).all() == at_head
    finally:
        engine.dispose()


def test_the_migrations_as_a_script_make_the_same_schema(database_url: str, new_database: str) -> None:
    """`alembic upgrade head --sql` (offline mode: the SQL as a script, for a DBA to run). It
    stopped in 0012 with "'MockConnection' object has no attribute 'scalar'" (the migration
    read the database), and a `%` in a function body came out doubled (`format('%%s')`). Now
    the script runs on an empty database and makes the schema `alembic upgrade head` makes,
    with the local clock of the environment that wrote it (VEILLE_LOCAL_TIMEZONE)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head", "--sql"],
        cwd=root,
        # the local clock the views count days on is the setting's when the script is written
        env={**os.environ, "VEILLE_DATABASE_URL": new_database, "VEILLE_LOCAL_TIMEZONE": "America/Montreal"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "%%" not in done.stdout
    script = sa.create_engine(new_database)
    migrated = sa.create_engine(database_url)
    try:
        with script.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute(done.stdout)  # as a script: no parameters, every statement in turn
            raw.commit()
            assert (
                conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
                == ScriptDirectory.from_config(alembic_config(new_database)).get_current_head()
            )
            from_script = conn.scalars(SCHEMA).all()
            assert conn.scalar(sa.text("SELECT local_timezone FROM veille_settings")) == "America/Montreal"
        with migrated.connect() as conn:
            assert from_script == conn.scalars(SCHEMA).all()
    finally:
        script.dispose()
        migrated.dispose()


# Rows an archive backfill before a93b610 left (captures stored under the scheme the archive
# listed them with), beside what live polling stored: migration 0036's input.
SCHEME_ROWS = """
INSERT INTO sources (id, name, kind, url, owner) VALUES
    (1, 'Site', 'feed', 'https://site.example/feed.xml', 'media'),
    (2, 'Old', 'listing', 'http://old.example/', 'media');
INSERT INTO stories (id, first_seen, last_seen) VALUES (1, now(), now()), (2, now(), now());
INSERT INTO articles (id, canonical_url, url, source_id, title, text, text_hash, fetched_at,
                      archived_url, story_id, cluster_id, duplicate_of) VALUES
    (10, 'https://site.example/a', 'https://site.example/a', 1, 'T', 'live text', 'h-live',
     '2025-03-01', NULL, NULL, NULL, NULL),
    (11, 'http://site.example/a', 'http://site.example/a', 1, 'T old', 'archived text', 'h-arch',
     '2025-02-01', 'https://web.archive.org/web/2025/http://site.example/a', 2, 11, NULL),
    (12, 'http://site.example:443/b', 'http://site.example:443/b', 1, 'B', 'b text', 'h-b',
     '2025-02-01', 'https://web.archive.org/web/2025/http://site.example:443/b', NULL, NULL, NULL),
    (13, 'http://site.example/c', 'http://site.example/c', 1, 'C', 'c text', 'h-c',
     '2025-02-01', NULL, NULL, NULL, NULL),
    (14, 'https://old.example/d', 'https://old.example/d', 2, 'D', 'd text', 'h-d',
     '2025-02-01', 'https://web.archive.org/web/2025/https://old.example/d', NULL, NULL, NULL),
    (15, 'https://site.example/e', 'https://site.example/e', 1, 'E', 'copy text', 'h-e',
     '2025-02-02', NULL, NULL, 11, 11);
UPDATE stories SET article_id = 11 WHERE id = 2;
INSERT INTO story_events (story_id, kind, article_id) VALUES (2, 'created', 11);
INSERT INTO article_topics (article_id, topic, score, relevant, version) VALUES
    (10, 'summit', 0.5, true, 'v'), (11, 'summit', 0.1, false, 'v'), (11, 'ai_act', 0.7, true, 'v');
INSERT INTO article_html (article_id, html_zlib) VALUES (11, '\\x00');
INSERT INTO article_revisions (article_id, revised_at, title, text, text_hash)
    VALUES (11, '2025-01-15', 'T older', 'older text', 'h-older');
INSERT INTO sightings (article_id, source_id, url, first_seen_at, archive, archived_url) VALUES
    (10, 1, 'https://site.example/a', '2025-03-01', NULL, NULL),
    (11, 1, 'http://site.example/a', '2025-02-01', 'wayback',
     'https://web.archive.org/web/2025/http://site.example/a');
INSERT INTO url_queue (id, url, canonical_url, source_id, state, article_id) VALUES
    (20, 'https://site.example/a', 'https://site.example/a', 1, 'fetched', 10),
    (21, 'http://site.example/a', 'http://site.example/a', 1, 'fetched', 11),
    (22, 'http://site.example:443/b', 'http://site.example:443/b', 1, 'pending', NULL),
    (23, 'http://site.example/c', 'http://site.example/c', 1, 'fetched', 13);
INSERT INTO url_listings (queue_id, source_id, url) VALUES (20, 1, 'https://site.example/feed.xml');
INSERT INTO archive_captures (queue_id, archive, archived_url, captured_at) VALUES
    (21, 'wayback', 'https://web.archive.org/web/2025/http://site.example/a', '2025-02-01'),
    (22, 'wayback', 'https://web.archive.org/web/2025/http://site.example:443/b', '2025-02-01');
INSERT INTO fetch_log (queue_id, source_id, url, kind, outcome) VALUES
    (21, 1, 'http://site.example/a', 'article', 'stored');
"""


def test_a_backfill_s_rows_under_the_other_scheme_take_their_source_s_and_merge(new_database: str) -> None:
    """Migration 0036: an article an earlier backfill stored under http:// for an https source
    is merged into the https:// one live polling stored, keeping every dependent row (its text
    as a revision, its revisions, sighting, topic scores, HTML, story references, its queue
    row's capture and fetch log); a backfill's row without a twin takes the source's scheme
    (a port that is then the default dropped); live rows and rows already in their source's
    scheme stay. Run again, it changes nothing."""
    config = alembic_config(new_database)
    command.upgrade(config, "0035_wire_copies_agencies")
    engine = sa.create_engine(new_database)

    def rows(sql: str) -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

    def state() -> dict[str, list[tuple[object, ...]]]:
        return {
            "articles": rows(
                "SELECT id, canonical_url, story_id, cluster_id, duplicate_of FROM articles ORDER BY id"
            ),
            "revisions": rows(
                "SELECT article_id, text, changes->>'merged_from', changes->>'title_changed'"
                " FROM article_revisions ORDER BY revised_at"
            ),
            "sightings": rows("SELECT article_id, url, archive FROM sightings ORDER BY first_seen_at"),
            "topics": rows("SELECT article_id, topic, score FROM article_topics ORDER BY topic"),
            "html": rows("SELECT article_id FROM article_html"),
            "stories": rows("SELECT id, article_id FROM stories ORDER BY id"),
            "events": rows("SELECT story_id, article_id FROM story_events"),
            "queue": rows("SELECT id, url, canonical_url, article_id FROM url_queue ORDER BY id"),
            "listings": rows("SELECT queue_id, url FROM url_listings"),
            "captures": rows("SELECT queue_id, archived_url FROM archive_captures ORDER BY queue_id"),
            "fetch_log": rows("SELECT queue_id, url FROM fetch_log"),
        }

    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(SCHEME_ROWS)
        command.upgrade(config, "0036_backfill_scheme_merge")
        after = state()
        assert after["articles"] == [
            (10, "https://site.example/a", 2, 11, None),  # took the merged one's story and cluster
            (12, "https://site.example/b", None, None, None),
            (13, "http://site.example/c", None, None, None),  # live polling's: as its feed lists it
            (14, "http://old.example/d", None, None, None),  # an http source's
            (15, "https://site.example/e", None, 11, None),  # a copy of the merged root: as a deleted root's
        ]
        assert after["revisions"] == [
            (10, "older text", None, None),
            (10, "archived text", "http://site.example/a", "true"),
        ]
        assert after["sightings"] == [
            (10, "http://site.example/a", "wayback"),
            (10, "https://site.example/a", None),
        ]
        assert after["topics"] == [(10, "ai_act", 0.7), (10, "summit", 0.5)]
        assert after["html"] == [(10,)]
        assert after["stories"] == [(1, None), (2, 10)]
        assert after["events"] == [(2, 10)]
        assert after["queue"] == [
            (20, "https://site.example/a", "https://site.example/a", 10),
            (22, "https://site.example/b", "https://site.example/b", None),
            (23, "http://site.example/c", "http://site.example/c", 13),
        ]
        assert after["listings"] == [(20, "https://site.example/feed.xml")]
        assert after["captures"] == [
            (20, "https://web.archive.org/web/2025/http://site.example/a"),
            (22, "https://web.archive.org/web/2025/http://site.example:443/b"),
        ]
        assert after["fetch_log"] == [(20, "http://site.example/a")]
        command.downgrade(config, "0035_wire_copies_agencies")
        command.upgrade(config, "head")
        assert state() == after
    finally:
        engine.dispose()


def test_the_signatures_of_texts_in_scripts_without_spaces_are_marked_old(new_database: str) -> None:
    """Migration 0041: an article whose text holds Chinese, Japanese, Thai... and that has a
    signature is marked signature_scheme 1 (its signature was made of the old words, the
    daily maintenance recomputes it); a text without such characters, or no signature, is 2."""
    config = alembic_config(new_database)
    command.upgrade(config, "0040_queue_found_by")
    engine = sa.create_engine(new_database)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO sources (id, name, kind, url, owner) VALUES"
                " (1, 'Site', 'feed', 'https://site.example/feed.xml', 'media');"
                "INSERT INTO articles (id, canonical_url, url, source_id, text, text_hash, signature) VALUES"
                " (1, 'https://s/zh', 'https://s/zh', 1, 'Le 10, 上海市交通委员会宣布', 'h1', '{1,2}'),"
                " (2, 'https://s/ja', 'https://s/ja', 1, 'ひらがなとカタカナ', 'h2', '{1,2}'),"
                " (3, 'https://s/th', 'https://s/th', 1, 'ภาษาไทย', 'h3', '{1,2}'),"
                " (4, 'https://s/fr', 'https://s/fr', 1, 'Le sommet s''ouvre à Paris', 'h4', '{1,2}'),"
                " (5, 'https://s/ko', 'https://s/ko', 1, '서울에서 열린 회의', 'h5', '{1,2}'),"
                " (6, 'https://s/no', 'https://s/no', 1, '上海市', 'h6', NULL)"
            )
        command.upgrade(config, "0041_signature_scheme")
        with engine.connect() as conn:
            schemes: dict[int, int] = dict(
                conn.execute(sa.text("SELECT id, signature_scheme FROM articles")).all()
            )
        assert schemes == {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2}
    finally:
        engine.dispose()


def test_the_stories_with_a_member_in_a_script_without_spaces_are_marked_old(new_database: str) -> None:
    """Migration 0043: a live story with a member whose title or text holds Chinese, Japanese,
    Thai... is marked feature_scheme 1 (its centroid and keys were made of the old words, the
    daily maintenance recomputes them); a story without one, or merged into another, is 2."""
    config = alembic_config(new_database)
    command.upgrade(config, "0042_view_days_undated")
    engine = sa.create_engine(new_database)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO sources (id, name, kind, url, owner) VALUES"
                " (1, 'Site', 'feed', 'https://site.example/feed.xml', 'media');"
                "INSERT INTO stories (id, first_seen, last_seen, merged_into) VALUES"
                " (1, now(), now(), NULL), (2, now(), now(), NULL), (3, now(), now(), NULL),"
                " (4, now(), now(), NULL), (5, now(), now(), 1);"
                "INSERT INTO articles (id, canonical_url, url, source_id, title, text, text_hash, story_id)"
                " VALUES (1, 'https://s/fr', 'https://s/fr', 1, 'Sommet', 'Le sommet', 'h1', 1),"
                " (2, 'https://s/zh', 'https://s/zh', 1, 'Sommet', 'Le 10, 上海市交通委员会宣布', 'h2', 1),"
                " (3, 'https://s/ja', 'https://s/ja', 1, 'ひらがな', 'Title only', 'h3', 2),"
                " (4, 'https://s/ko', 'https://s/ko', 1, 'Séoul', '서울에서 열린 회의', 'h4', 3),"
                " (5, 'https://s/th', 'https://s/th', 1, NULL, 'ภาษาไทย', 'h5', 5)"
            )
        command.upgrade(config, "0043_story_feature_scheme")
        with engine.connect() as conn:
            schemes: dict[int, int] = dict(
                conn.execute(sa.text("SELECT id, feature_scheme FROM stories")).all()
            )
        assert schemes == {1: 1, 2: 1, 3: 2, 4: 2, 5: 2}
    finally:
        engine.dispose()
