"""`veille search` with a word typed hundreds of times: the repeats are dropped before the
tsquery is built (ts_headline's time grew much faster than the query: "sommet" typed 300 times
took minutes), the meaning of web-search syntax is kept, and a query of too many words is a
usage error; search_articles in SQL refuses a query too big (migration 0021_search_repeats)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

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
    """The nodes of the tsquery search_articles builds from ``query`` (``search_query``)."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                sa.text("SELECT numnode(search_query(:q))"),
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


def test_repeats_that_differ_in_case_or_accents_go(
    articles: None, engine: sa.Engine, sent: list[str]
) -> None:
    """The search ignores case and accents, so its de-duplication does too: the first form typed
    is kept."""
    once = search("Sommet")
    assert search(" ".join(["Sommet", "sommet", "SOMMET", "sommét", "Sommet"] * 20)) == once
    assert sent[-1] == "Sommet" and tsquery_items(engine, sent[-1]) == 1
    assert web_query('"Grand Palais" OR "grand palais" OR "GRAND PALAÎS"') == '"Grand Palais"'
    assert web_query("Sommet sommets") == "Sommet sommets"  # another form: the stemmer's business


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
        "- a - a",  # a lone - negates the next word
        "'x y' 'x y'",  # an apostrophe opens a quote across the space
        "a& a&",  # a run ending in an operator
    ],
)
def test_a_query_whose_tokens_reach_further_is_kept_as_it_is(query: str) -> None:
    assert web_query(query) == query


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("IA | lait", "'|' is not search syntax here: read as a space, the words around it ANDed; write OR"),
        ("IA || lait", "'||' is not search syntax here: read as a space"),
        ("IA|lait", "'IA|lait' is not search syntax here: read as a space, the words around it ANDed"),
        ("sommet -IA|lait", "'-IA|lait' is not search syntax here: read as a space"),
        ("IA !lait", "'!lait' is not search syntax here: the ! left out, the word searched; exclude a word"),
        ("sommet lait*", "'lait*' is not search syntax here: the * left out, the word alone searched;"),
        ("sommet:*", "'sommet:*' is not search syntax here: the * left out"),
        ("lait* *IA*", "'lait*' is not search syntax here: the * left out"),  # no emphasis open
        ("*IA sommet:*", "'sommet:*' is not search syntax here: the * left out"),
        ("l'IA*", '"l\'IA*" is not search syntax here: the * left out'),  # no emphasis: a prefix
        # the ! is left out, the dash excludes: refused as !lait is, not a meaning of its own
        ("IA -!lait", "'-!lait' is not search syntax here: the ! left out, the dash alone excludes"),
        ("IA !-lait", "'!-lait' is not search syntax here: the ! left out, the dash alone excludes"),
    ],
)
def test_an_operator_of_another_syntax_is_a_usage_error(query: str, said: str) -> None:
    """websearch_to_tsquery reads |, &, ! and a trailing * as a space: `veille search 'IA | lait'`
    searched IA AND lait, '!lait' lait itself, 'lait*' lait alone, each answering as if the
    query were right. Each is a usage error (exit 2) that says what to write instead."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(["search", query])
    assert exc.value.code == 2
    assert f"error: argument query: {said}" in err.getvalue(), err.getvalue()


OR_MISREAD = "'OR' is not search syntax here: an OR at the start or the end of the query, or after"
BRACKETS = "is not search syntax here: brackets do not group, they are read as spaces:"


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("IA OR", OR_MISREAD),
        ("OR IA", OR_MISREAD),
        ("IA OR OR sommet", OR_MISREAD),
        ("OR OR", OR_MISREAD),
        ('"Grand Palais" OR', OR_MISREAD),
        ("(IA OR sommet) Paris", f"'(IA' {BRACKETS}"),
        ("Paris (IA OR sommet)", f"'(IA' {BRACKETS}"),
        ("IA OR sommet (Paris)", f"'(Paris)' {BRACKETS}"),
        ("Paris -(IA sommet)", f"'-(IA' {BRACKETS}"),
    ],
)
def test_web_search_syntax_read_as_something_else_is_a_usage_error(query: str, said: str) -> None:
    """websearch_to_tsquery reads an OR with no word on one side as the word "or" ('IA OR' was
    IA AND or, 'IA OR OR sommet' IA OR (or AND sommet)), and brackets as spaces ('(IA OR
    sommet) Paris' was IA OR (sommet AND Paris), '-(IA sommet)' NOT IA AND sommet), answering
    as if the query were right. Each is a usage error (exit 2) that says what to write."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(["search", query])
    assert exc.value.code == 2
    assert f"error: argument query: {said}" in err.getvalue(), err.getvalue()
    assert len([line for line in err.getvalue().splitlines() if "error:" in line]) == 1


@pytest.mark.parametrize(
    "query",
    # the French word or ("Or noir", gold), quoted or at an edge; brackets among ANDed words
    ["cours de l'or", 'IA OR "or"', "Paris (France)", "IA (sommet)", '"(IA OR x)" y']
    + ["IA OR sommet", "IA OR -lait"],
)
def test_or_and_brackets_that_mean_what_they_say_are_searched(articles: None, query: str) -> None:
    assert web_query(query) == query
    assert isinstance(search(query), list)


@pytest.mark.parametrize(
    "query",
    # a lone & is the AND it is read as: "Marks & Spencer" runs
    ['"IA | lait"', '-"lait*"', "R&D AT&T", "a& a&", "C++", "IA - lait", "Marks & Spencer", "IA && lait"]
    + ["Alerte !", "Bravo ! Le sommet", "Quoi ?!"],  # French puts a space before ! and ?
)
def test_those_characters_in_a_phrase_or_a_word_are_searched_as_before(query: str) -> None:
    assert web_query(query) == query


@pytest.mark.parametrize(
    "query", ["*lyon*", "**lyon**", "*Lyon* gastronomie", "*sommet lyon*", "*sommet à lyon*"]
)
def test_a_word_between_stars_is_searched_as_the_word(articles: None, query: str) -> None:
    """Markdown emphasis ("*important*"): websearch_to_tsquery reads the word, what the user
    meant. It was refused as a prefix search ("the * left out"), as "lait*" still is; so was
    the end of an emphasis over words ("*sommet lyon*": "lyon*")."""
    assert [h["title"] for h in search(query)] == ["Sommet à Lyon"]


def test_an_elided_article_before_emphasis_is_searched_as_the_word(articles: None) -> None:
    """Markdown emphasis over IA after an elided article, "l'*IA*", is IA: it was refused as a
    prefix search ("the * left out"), as "l'IA*" still is."""
    assert [h["title"] for h in search("l'*IA*")] == ["Sommet au Grand Palais"]
    assert web_query("l'*très important*") == "l'*très important*"


@pytest.mark.parametrize(
    ("query", "sent_as"),
    [
        ("pétrole or noir", 'pétrole "or" noir'),
        ("Pétrole Or noir", 'Pétrole "Or" noir'),
        ("or noir pétrole", '"or" noir pétrole'),
        ("pétrole noir or", 'pétrole noir "or"'),
        ("pétrole or or noir", 'pétrole "or" noir'),  # a repeat, as any word
    ],
)
def test_or_not_in_capitals_is_the_french_word(
    articles: None, engine: sa.Engine, sent: list[str], query: str, sent_as: str
) -> None:
    """websearch_to_tsquery reads "or" in any case as OR: "pétrole or noir" searched pétrole OR
    noir, and found the barrel's price. veille takes only OR in capitals as the operator; the
    French word (gold, now) is searched, quoted."""
    with engine.begin() as conn:
        source = conn.scalar(sa.text("SELECT id FROM sources"))
        for i, (title, text) in enumerate(
            [("L'or noir", "Le pétrole, l'or noir du siècle."), ("Baril", "Le pétrole monte.")]
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash)"
                    " VALUES (:u, :u, :s, :t, :x, :h)"
                ),
                {"u": f"http://j/or{i}", "s": source, "t": title, "x": text, "h": f"or{i}"},
            )
    assert [h["title"] for h in search(query)] == ["L'or noir"]
    assert sent[-1] == sent_as
    assert {h["title"] for h in search("pétrole OR noir")} == {"L'or noir", "Baril"}  # the operator


# search_articles in SQL (migration 0021_search_repeats): the query as typed, bounded in size
SQL_LIMIT = 128  # tsquery items (numnode), docs/cookbook.md
REPEATED = " ".join(["sommet"] * 300)  # 599 items
TOO_BIG = (
    f"too many words: the query makes a tsquery of 599 items (numnode), a search takes at most {SQL_LIMIT}"
)


def test_search_articles_in_sql_refuses_a_word_typed_300_times(articles: None, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        hits = conn.execute(sa.text("SELECT title FROM search_articles('sommet sommet', 10)")).scalars().all()
        assert set(hits) == {title for title, _ in ARTICLES}  # a few repeats still search
        with pytest.raises(sa.exc.DBAPIError) as exc:
            conn.execute(
                sa.text("SELECT title, source, snippet FROM search_articles(:q, 10)"), {"q": REPEATED}
            )
    error = exc.value.orig
    assert isinstance(error, psycopg.Error)
    assert error.sqlstate == "54000"  # program_limit_exceeded
    assert str(error).startswith(TOO_BIG)
    assert "Type each word once" in (error.diag.message_hint or "")


@pytest.mark.skipif(shutil.which("psql") is None, reason="the psql client is not installed")
def test_the_readme_recipe_in_psql_with_a_repeated_word(articles: None, database_url: str) -> None:
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    recipe = "SELECT title, source, snippet FROM search_articles('{q}', 10);"
    done = subprocess.run(
        ["psql", url, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", recipe.format(q=REPEATED)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert f"ERROR:  {TOO_BIG}" in done.stderr
    ok = subprocess.run(
        ["psql", url, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", recipe.format(q="sommet -lyon")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert len(ok.stdout.splitlines()) == 3 and "**sommet**" in ok.stdout


def test_search_query_is_the_tsquery_search_articles_runs(articles: None, engine: sa.Engine) -> None:
    query = '"grand palais" sommet -lyon OR livre'
    with engine.connect() as conn:
        built = conn.scalar(sa.text("SELECT search_query(:q)::text"), {"q": query})
        assert built == conn.scalar(
            sa.text("SELECT websearch_to_tsquery('french_unaccent', veille_unaccent(:q))::text"), {"q": query}
        )
        most = " ".join(["sommet"] * ((SQL_LIMIT + 1) // 2))  # 64 operands, 63 ANDs
        assert conn.scalar(sa.text("SELECT numnode(search_query(:q))"), {"q": most}) == SQL_LIMIT - 1
        assert conn.scalar(sa.text("SELECT count(*) FROM search_articles(:q)"), {"q": most}) == len(ARTICLES)
    assert {h["title"] for h in search(query)} == {"Sommet au Grand Palais", "Palais sans sommet"}


def test_what_veille_search_accepts_fits_the_sql_limit(articles: None, engine: sa.Engine) -> None:
    # the most items 32 words make: 16 negated hyphenated pairs (3 lexemes, 2 <->, 1 !)
    query = " ".join(f"-sommet{i}-palais{i}" for i in range(MAX_QUERY_WORDS // 2))
    assert web_query(query) == query
    with engine.connect() as conn:
        assert SQL_LIMIT >= conn.scalar(sa.text("SELECT numnode(search_query(:q))"), {"q": query}) > 100
    assert {h["title"] for h in search(query)} == {title for title, _ in ARTICLES}


def test_downgrade_restores_the_previous_search_articles(database_url: str) -> None:
    from alembic import command

    from monitors.archive.schema import alembic_config

    name = f"veille_test_down_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    definition = sa.text(
        "SELECT pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc'),"
        " to_regprocedure('search_query(text)') IS NOT NULL"
        " FROM pg_proc p WHERE p.oid = 'search_articles(text, integer, boolean)'::regprocedure"
    )
    try:
        config = alembic_config(url)
        command.upgrade(config, "0020_ccnews_jobs")
        with engine.connect() as conn:
            before = conn.execute(definition).one()
        command.upgrade(config, "0021_search_repeats")
        with engine.connect() as conn:
            upgraded = conn.execute(definition).one()
        command.downgrade(config, "0020_ccnews_jobs")
        with engine.connect() as conn:
            assert conn.execute(definition).one() == before
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert "search_query(query)" in upgraded[0] and upgraded[2] and not before[2]


def test_search_n_and_limit_print_the_best_ranked_n(articles: None) -> None:
    """`veille search -n N` (`--limit N`), as its help and README show: the N best ranked of
    what matches, in rank order, as text and as JSON; more than match prints them all."""

    def run(*argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["search", "sommet", *argv]) == 0
        return out.getvalue()

    every = [json.loads(line) for line in run("--json").splitlines()]
    assert len(every) == len(ARTICLES)
    ranks = [h["rank"] for h in every]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) > 1
    for argv, n in ((("-n", "2"), 2), (("--limit", "3"), 3), (("-n", "1"), 1), (("-n", "50"), 4)):
        assert [json.loads(line) for line in run(*argv, "--json").splitlines()] == every[:n], argv
    shown = run("-n", "2")
    assert f"1. {every[0]['title']}" in shown and f"2. {every[1]['title']}" in shown
    assert "3. " not in shown
