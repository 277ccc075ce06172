"""The archive's SQL functions work whatever the caller's ``search_path`` (migration
0030_function_search_path): a session whose path does not name the archive's schema, as a
user's psql session could have, got ``relation "articles" does not exist`` from
``search_articles`` and ``search_query``, and its ``DELETE FROM articles`` failed in the
triggers (``article_bands_cascade``, ``articles_story_refresh`` and ``story_refresh``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from monitors.archive.db import get_engine


def test_search_and_deleting_an_article_with_a_search_path_without_the_archive(database_url: str) -> None:
    schema = f"elsewhere_{uuid.uuid4().hex[:8]}"
    at = datetime(2025, 2, 10, 9, tzinfo=UTC)
    with get_engine(database_url).connect() as conn, conn.begin() as tx:  # all rolled back
        source = conn.scalar(
            sa.text(
                "INSERT INTO public.sources (name, kind, url, owner)"
                " VALUES (:n, 'feed', 'http://x/f', 'media') RETURNING id"
            ),
            {"n": f"Le Fil {schema}"},
        )
        story = conn.scalar(
            sa.text(
                "INSERT INTO public.stories (first_seen, last_seen, articles)"
                " VALUES (:at, :at, 1) RETURNING id"
            ),
            {"at": at},
        )
        article = conn.scalar(
            sa.text(
                "INSERT INTO public.articles (canonical_url, url, source_id, title, text, text_hash,"
                " published_at, story_id) VALUES (:u, :u, :s, 'Ouverture du salon', 'Le salon ouvre',"
                " 'h', :at, :story) RETURNING id"
            ),
            {"u": f"http://x/{schema}", "s": source, "at": at, "story": story},
        )
        conn.execute(
            sa.text("INSERT INTO public.article_bands (band, key, article_id) VALUES (1, 42, :a)"),
            {"a": article},
        )
        # a schema of the session's own, nothing of the archive's in it
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        conn.execute(sa.text(f"SET LOCAL search_path = {schema}"))
        found = conn.execute(sa.text("SELECT id, source FROM public.search_articles('salon')")).all()
        assert [tuple(r) for r in found] == [(article, f"Le Fil {schema}")]
        plan = conn.execute(sa.text("EXPLAIN SELECT * FROM public.search_articles('salon')")).scalars().all()
        assert not any("search_articles" in line for line in plan), plan  # still inlined
        assert conn.scalar(sa.text("SELECT numnode(public.search_query('élysée'))")) == 1
        conn.execute(sa.text("DELETE FROM public.articles WHERE id = :a"), {"a": article})
        assert (
            conn.scalar(
                sa.text("SELECT count(*) FROM public.article_bands WHERE article_id = :a"), {"a": article}
            )
            == 0
        )
        assert conn.scalar(sa.text("SELECT articles FROM public.stories WHERE id = :s"), {"s": story}) == 0
        tx.rollback()
