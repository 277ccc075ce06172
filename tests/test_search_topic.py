"""`veille search` at larger limits and with `--topic` (migration 0023_search_speed): a hit's
snippet is chosen from the stored search vector, not from its text parsed again, and `--topic`
filters in the database, before the limit, so a relevant article ranked low is still found.
(Speed is measured in bench/search.py, not here.)"""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import sqlalchemy as sa

from flows.cli import main
from tests.test_search_accents import counted_folds

HITS = 260  # more than the 200 hits `search --topic` used to ask for before keeping the topic's


@pytest.fixture
def articles(clean_db: sa.Engine) -> list[int]:
    """HITS articles naming "sommet", ranked by how often (the first the most); the five ranked
    lowest are the only ones relevant to topic ``eu_ai_act``."""
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Journal', 'feed', 'http://j/', 'media') RETURNING id"
            )
        )
        ids = []
        for i in range(HITS):
            text = " ".join(["Le sommet de Paris."] * (HITS - i) + ["Un texte sur la pêche en Bretagne."] * i)
            ids.append(
                conn.scalar(
                    sa.text(
                        "INSERT INTO articles (canonical_url, url, source_id, title, description, text,"
                        " text_hash, published_at) VALUES (:u, :u, :s, :t, :d, :x, :h, :p) RETURNING id"
                    ),
                    {
                        "u": f"http://j/{i}",
                        "s": source,
                        "t": f"Article {i}",
                        "d": "Une description sans le mot.",
                        "x": text,
                        "h": f"h{i}",
                        "p": "2025-02-10T12:00:00+01:00",
                    },
                )
            )
        conn.execute(
            sa.text(
                "INSERT INTO article_topics (article_id, topic, version, score, relevant)"
                " SELECT id, 'eu_ai_act', 'v1', 0.9, id = ANY(:relevant) FROM articles"
            ),
            {"relevant": ids[-5:]},
        )
    return ids


def search(*args: str) -> list[dict[str, object]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["search", *args, "--json"]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_topic_s_relevant_articles_ranked_low_are_found(articles: list[int]) -> None:
    """`--topic` kept the topic's articles among the 200 best hits (ten times the limit): the
    five relevant ones, ranked 256th to 260th, were not found ("no article matches")."""
    hits = search("sommet", "--topic", "eu_ai_act", "-n", "3")
    assert [h["id"] for h in hits] == articles[-5:-2]
    assert [h["id"] for h in search("sommet", "--topic", "eu_ai_act")] == articles[-5:]
    assert len(search("sommet", "-n", "128")) == 128  # without a topic, as before


def test_a_snippet_does_not_parse_the_hit_s_text_again(articles: list[int], clean_db: sa.Engine) -> None:
    """Telling whether the text matches (else the snippet is the description's) folded and
    parsed every hit's whole text again, veille_unaccent most of the time: now the query is
    folded once, whatever the number of hits. The same snippets come out."""
    with clean_db.connect() as conn, conn.begin():
        before = conn.execute(sa.text("SELECT id, snippet FROM search_articles('sommet', 128)")).all()
        counted = counted_folds(conn)  # the same folding, counted (rolled back with the transaction)
        after = conn.execute(sa.text("SELECT id, snippet FROM search_articles('sommet', 128)")).all()
        folds = counted()
        conn.rollback()
    assert len(after) == 128 and after == before
    assert all("**sommet**" in snippet for _, snippet in after)  # from the text, which matches
    assert folds <= 2  # the query, not each of the 128 texts (129 before)


def test_search_articles_in_sql_with_a_topic_is_relevant_to_that_topic(
    articles: list[int], clean_db: sa.Engine
) -> None:
    """psql's `search_articles(q, n, relevant_only => true, topic => T)` meant relevant to T and
    to the summit: of T's five articles it kept the one also relevant to the summit, where
    `veille search --topic T --relevant` keeps all five (migration 0034_search_topic_relevant).
    Its `relevant` column is T's too; without a topic both stay the summit's."""
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE articles SET relevant = (id = :one)"), {"one": articles[-1]})
    with clean_db.connect() as conn:
        topic = conn.execute(
            sa.text(
                "SELECT id, relevant FROM search_articles('sommet', 20,"
                " relevant_only => true, topic => 'eu_ai_act')"
            )
        ).all()
        summit = conn.execute(sa.text("SELECT id, relevant FROM search_articles('sommet', 300, true)")).all()
        every = conn.execute(sa.text("SELECT relevant FROM search_articles('sommet', 300)")).scalars().all()
    assert sorted(topic) == sorted((i, True) for i in articles[-5:])
    assert summit == [(articles[-1], True)]
    assert len(every) == HITS and every.count(True) == 1  # the summit's column without a topic
    assert [h["id"] for h in search("sommet", "--topic", "eu_ai_act", "--relevant")] == [i for i, _ in topic]


def test_search_articles_in_sql_with_an_unknown_topic_is_an_error(
    articles: list[int], clean_db: sa.Engine
) -> None:
    """psql's `search_articles(q, n, topic => 'nope')` returned no rows, as if nothing matched,
    where `veille search --topic nope` says there is no such topic: it raises, cause first,
    naming the topics the archive's articles were scored against (migration
    0039_search_topic_known), also when the query matches nothing; a known topic and no topic
    search as before, the function still inlined. `veille search --topic` of a topic of the
    folder no article was scored against yet still finds nothing, without an error."""
    import psycopg

    for query in ("sommet", "introuvable"):
        with clean_db.connect() as conn, pytest.raises(sa.exc.DBAPIError) as raised:
            conn.execute(sa.text("SELECT * FROM search_articles(:q, 20, topic => 'nope')"), {"q": query})
        error = raised.value.orig
        assert isinstance(error, psycopg.Error) and error.sqlstate == "22023"  # invalid_parameter_value
        assert error.diag.message_primary == (
            "no topic named 'nope' in the archive (topics its articles were scored against: eu_ai_act)"
        )
        assert "SELECT DISTINCT topic FROM article_topics" in (error.diag.message_hint or "")
    with clean_db.connect() as conn:
        found = conn.execute(sa.text("SELECT id FROM search_articles('sommet', 20, topic => 'eu_ai_act')"))
        assert sorted(found.scalars()) == sorted(articles[-5:])
        assert (
            conn.execute(sa.text("SELECT id FROM search_articles('introuvable', topic => 'eu_ai_act')")).all()
            == []
        )
        assert len(conn.execute(sa.text("SELECT id FROM search_articles('sommet', 20)")).all()) == 20
        plan = conn.execute(sa.text("EXPLAIN SELECT * FROM search_articles('sommet', 20, topic => 'x')"))
        assert not any("search_articles" in line for line in plan.scalars()), "no longer inlined"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["search", "sommet", "--topic", "ai_summit"]) == 0
    assert out.getvalue().strip() == (
        f"no article relevant to ai_summit matches 'sommet' ({HITS} articles without --topic)"
    )


def test_an_empty_filtered_search_says_the_filter_and_what_the_words_alone_find(
    articles: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille search sommet --relevant` (no article relevant to the summit) and `--topic`
    with no relevant match said "no article matches 'sommet'", read as an archive holding no
    such article where 260 do: the empty result names the filter and how many articles the
    words alone find (none, when none does)."""
    assert main(["search", "sommet", "--relevant"]) == 0
    assert capsys.readouterr().out == (
        "no article relevant to the summit (ai_summit) matches 'sommet'"
        f" ({HITS} articles without --relevant)\n"
    )
    assert main(["search", "introuvable", "--topic", "eu_ai_act"]) == 0
    assert capsys.readouterr().out == (
        "no article relevant to eu_ai_act matches 'introuvable' (none without --topic either)\n"
    )
    assert main(["search", "introuvable"]) == 0  # no filter: as before
    assert capsys.readouterr().out == "no article matches 'introuvable'\n"
