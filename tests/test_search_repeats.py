"""`veille search` with a word typed hundreds of times: the repeats are dropped before the
tsquery is built (ts_headline's time grew much faster than the query: "sommet" typed 300 times
took minutes), the meaning of web-search syntax is kept, and a query of too many words is a
usage error."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flows.cli import main
from monitors.archive.web_query import MAX_QUERY_WORDS, web_query

ARTICLES = [
    # (title, text)
    ("Sommet au Grand Palais", "Le sommet pour l'action sur l'IA se tient au Grand Palais, à Paris."),
    ("Sommet à Lyon", "Un autre sommet, au Grand Palais de Lyon, sur la gastronomie."),
    ("Palais sans sommet", "Le grand palais des congrès accueille un salon du livre."),
    ("Bretagne", "La pêche en Bretagne, sans sommet ni palais."),
]


@pytest.fixture
def articles(clean_db: sa.Engine) -> None:
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Journal', 'feed', 'http://j/', 'media') RETURNING id"
            )
        )
        for i, (title, text) in enumerate(ARTICLES):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash)"
                    " VALUES (:u, :u, :s, :t, :x, :h)"
                ),
                {"u": f"http://j/{i}", "s": source, "t": title, "x": text, "h": f"h{i}"},
            )


@pytest.fixture
def sent() -> Iterator[list[str]]:
    """The queries handed to search_articles, as the database got them."""
    queries: list[str] = []

    def listen(conn: object, cursor: object, statement: str, params: object, *_: object) -> None:
        if "search_articles" in statement and isinstance(params, dict):
            queries.append(params["q"])

    sa.event.listen(sa.Engine, "before_cursor_execute", listen)
    yield queries
    sa.event.remove(sa.Engine, "before_cursor_execute", listen)


def search(query: str) -> list[dict[str, object]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["search", query, "--json"]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def tsquery_items(engine: sa.Engine, query: str) -> int:
    """The nodes of the tsquery search_articles builds from ``query``."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                sa.text("SELECT numnode(websearch_to_tsquery('french_unaccent', veille_unaccent(:q)))"),
                {"q": query},
            )
        )


def test_a_word_typed_300_times_is_searched_once(articles: None, engine: sa.Engine, sent: list[str]) -> None:
    once = search("sommet")
    assert {h["title"] for h in once} == {title for title, _ in ARTICLES}
    repeated = search(" ".join(["sommet"] * 300))
    assert repeated == once  # same hits, ranks and snippets
    assert sent[-1] == "sommet" and tsquery_items(engine, sent[-1]) == 1  # was 599 nodes


def test_repeats_go_and_web_search_syntax_keeps_its_meaning(
    articles: None, engine: sa.Engine, sent: list[str]
) -> None:
    query = '"grand palais" sommet "grand palais" -lyon sommet -lyon OR livre OR livre OR livre'
    hits = search(query)
    assert {h["title"] for h in hits} == {"Sommet au Grand Palais", "Palais sans sommet"}
    assert sent[-1] == '"grand palais" sommet -lyon OR livre'
    assert tsquery_items(engine, sent[-1]) < tsquery_items(engine, query)
    assert search(sent[-1]) == hits


def test_a_query_of_too_many_words_is_a_usage_error(articles: None) -> None:
    words = " ".join(f"mot{i}" for i in range(MAX_QUERY_WORDS + 1))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(["search", words])
    assert exc.value.code == 2
    assert f"too many words: the query has {MAX_QUERY_WORDS + 1}, a search takes at most" in err.getvalue()
    assert search(" ".join(["mot1"] * (MAX_QUERY_WORDS + 1))) == []  # repeats count once


@pytest.mark.parametrize(
    "query",
    [
        "a OR OR a",  # the second OR is a word here
        "- a - a",  # a lone - negates the next word
        "'x y' 'x y'",  # an apostrophe opens a quote across the space
        "a& a&",  # a run ending in an operator
        "OR a a",
    ],
)
def test_a_query_whose_tokens_reach_further_is_kept_as_it_is(query: str) -> None:
    assert web_query(query) == query
