"""A count of rows given on the command line (``--limit N`` / ``-n N``, ``--batch-size N``)
beyond what PostgreSQL takes (a user's "all"): every row, not a DataError traceback."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import sqlalchemy as sa

from flows.cli import main

#: beyond search_articles' integer argument, then beyond LIMIT's bigint
HUGE = ["3000000000", "99999999999999999999"]


@pytest.fixture
def relevant(clean_db: sa.Engine) -> list[int]:
    """Two articles about a summit, relevant (also to eu_ai_act), the newest first."""
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Journal', 'feed', 'http://j/', 'media') RETURNING id"
            )
        )
        ids = [
            conn.scalar(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash,"
                    " relevant, relevance, published_at)"
                    " VALUES (:u, :u, :s, :t, :x, :h, true, 0.9, :p) RETURNING id"
                ),
                {
                    "u": f"http://j/{i}",
                    "s": source,
                    "t": f"Sommet numéro {i}",
                    "x": "Le sommet pour l'action sur l'IA se tient au Grand Palais.",
                    "h": f"h{i}",
                    "p": f"2025-02-0{i + 1}T12:00:00+00:00",
                },
            )
            for i in range(2)
        ]
        for article in ids:
            conn.execute(
                sa.text(
                    "INSERT INTO article_topics (article_id, topic, version, score, relevant)"
                    " VALUES (:a, 'eu_ai_act', '1', 0.9, true)"
                ),
                {"a": article},
            )
    return ids[::-1]


def _run(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


@pytest.mark.parametrize("limit", HUGE)
@pytest.mark.parametrize("option", ["--limit", "-n"])
def test_search_with_a_huge_limit_lists_every_hit(relevant: list[int], option: str, limit: str) -> None:
    def ids(*extra: str) -> set[int]:
        return {json.loads(line)["id"] for line in _run("search", "sommet", "--json", *extra).splitlines()}

    assert ids(option, "1") != set(relevant) and ids(option, "1") <= set(relevant)
    assert ids(option, limit) == set(relevant)
    assert ids(option, limit, "--relevant") == set(relevant)
    assert ids(option, limit, "--topic", "eu_ai_act") == set(relevant)


@pytest.mark.parametrize("limit", HUGE)
def test_feed_with_a_huge_limit_lists_every_relevant_article(relevant: list[int], limit: str) -> None:
    assert _run("feed", "-n", "1").count("<entry>") == 1
    assert _run("feed", "--limit", limit).count("<entry>") == len(relevant)


def test_rescore_with_a_huge_batch_size_rescores_everything(relevant: list[int]) -> None:
    assert "2 articles" in _run("rescore", "--all", "--batch-size", HUGE[-1])
