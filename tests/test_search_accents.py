"""French search ignores accents (`french_unaccent`, migration 0007): `veille search elysee`
finds "Élysée", "Melenchon" finds "Mélenchon"; snippets do not repeat the lead and hold no
raw newline, and bold the words found, as typed, with or without the `unaccent` extension
(migration 0047_snippet_accents)."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from flows.cli import main

LEAD = "Le président de la République a reçu lundi à l'Élysée les dirigeants invités au sommet."
ARTICLES = [
    # (title, description, text)
    ("Dîner à l'Élysée", LEAD, f"{LEAD}\n\nJean-Luc Mélenchon a dénoncé\nun dîner de gala."),
    (
        "Sommet : l'Elysée se prépare",
        None,
        "Le palais de l'Elysée accueille le sommet pour l'action sur l'IA.",
    ),
    (
        "Melenchon sans accent",
        None,
        "Un texte où Melenchon est écrit sans accent, comme sur un clavier anglais.",
    ),
    ("Hors sujet", None, "Un texte sur la pêche en Bretagne, sans rapport avec la présidence."),
    (
        "Au cœur du sujet",
        None,
        "Les sœurs d'Œdipe et l'œuvre d'Æsope : au cœur du débat, la coopération numérique,"
        " de Göteborg à Zürich.",
    ),
]


@pytest.fixture
def articles(clean_db: sa.Engine) -> dict[str, int]:
    ids = {}
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Journal', 'feed', 'http://j/', 'media') RETURNING id"
            )
        )
        for i, (title, description, text) in enumerate(ARTICLES):
            ids[title] = conn.scalar(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, description, text,"
                    " text_hash) VALUES (:u, :u, :s, :t, :d, :x, :h) RETURNING id"
                ),
                {"u": f"http://j/{i}", "s": source, "t": title, "d": description, "x": text, "h": f"h{i}"},
            )
    return ids


def search(query: str) -> list[dict[str, object]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["search", query, "--json"]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def titles(query: str) -> set[object]:
    return {hit["title"] for hit in search(query)}


def test_accents_do_not_count(articles: dict[str, int]) -> None:
    elysee = {"Dîner à l'Élysée", "Sommet : l'Elysée se prépare"}
    assert titles("elysee") == elysee
    assert titles("Elysée") == elysee
    assert titles("Élysée") == elysee
    assert titles("ELYSEE") == elysee
    melenchon = {"Dîner à l'Élysée", "Melenchon sans accent"}
    assert titles("Melenchon") == melenchon
    assert titles("Mélenchon") == melenchon
    assert titles("dirigeants élysée -Mélenchon") == set()  # web-search syntax still applies
    assert titles("peche bretagne") == {"Hors sujet"}


def test_snippets_do_not_repeat_the_lead_and_stay_on_one_line(articles: dict[str, int]) -> None:
    (hit,) = [h for h in search("dirigeants") if h["title"] == "Dîner à l'Élysée"]
    snippet = str(hit["snippet"])
    assert "\n" not in snippet and "\r" not in snippet
    assert snippet.count("**dirigeants**") == 1, snippet
    assert snippet.count("reçu lundi") <= 1, snippet
    (hit,) = search("gala")
    assert "\n" not in str(hit["snippet"]) and "**gala**" in str(hit["snippet"])


@pytest.fixture(params=["without unaccent", "with unaccent"])
def server(request: pytest.FixtureRequest, clean_db: sa.Engine) -> Iterator[str]:
    """The ``french_unaccent`` configuration as the embedded server has it (no ``unaccent``
    extension: a copy of ``french``) or as a server with the extension (0012 maps words
    through it); the test database has it whenever this server ships the extension."""
    with clean_db.connect() as conn:
        folds = conn.scalar(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'"))
    if request.param == "with unaccent" and not folds:
        pytest.skip("this server has no unaccent extension")
    if request.param == "without unaccent" and folds:
        mapping = "ALTER TEXT SEARCH CONFIGURATION french_unaccent ALTER MAPPING FOR hword, hword_part, word"
        with clean_db.begin() as conn:
            conn.execute(sa.text(f"{mapping} WITH french_stem"))
        # a session's plans keep what the configuration did (veille_headline's check is folded)
        clean_db.dispose()
        try:
            yield request.param
        finally:
            with clean_db.begin() as conn:
                conn.execute(sa.text(f"{mapping} WITH unaccent, french_stem"))
            clean_db.dispose()
    else:
        yield request.param


def snippets(query: str) -> dict[object, str]:
    return {hit["title"]: str(hit["snippet"]) for hit in search(query)}


def test_snippets_bold_the_words_found_as_typed(server: str, articles: dict[str, int]) -> None:
    """Without the extension, ts_headline read the text as stored, where "Élysée" does not stem
    as the folded query does: `veille search elysee` showed the text's first words, no hit."""
    found = snippets("elysee")
    assert "l'**Élysée** les dirigeants" in found["Dîner à l'Élysée"]
    assert "palais de l'**Elysée** accueille" in found["Sommet : l'Elysée se prépare"]
    (snippet,) = snippets("coeur").values()
    assert "d'Œdipe et l'œuvre d'Æsope : au **cœur** du débat" in snippet, snippet
    # the ligatures before a hit do not shift it (they fold to two letters)
    (snippet,) = snippets("Oedipe Aesope cooperation numerique").values()
    assert (
        "d'**Œdipe** et l'œuvre d'**Æsope** : au cœur du débat, la **coopération** **numérique**" in snippet
    ), snippet
    # a letter French seldom writes (ö) folds too
    (snippet,) = snippets("goteborg zurich").values()
    assert "de **Göteborg** à **Zürich**" in snippet, snippet
    (snippet,) = snippets("melenchon gala").values()
    assert "Jean-Luc **Mélenchon** a dénoncé un dîner de **gala**" in snippet, snippet


def test_the_configuration_is_in_the_database(clean_db: sa.Engine) -> None:
    with clean_db.connect() as conn:
        lexemes = conn.scalar(
            sa.text("SELECT to_tsvector('french_unaccent', veille_unaccent('Élysée Mélenchon'))")
        )
        plain = conn.scalar(sa.text("SELECT to_tsvector('french_unaccent', 'elysee melenchon')"))
        assert lexemes == plain
        # where the unaccent extension is installed, the configuration folds by itself too
        if conn.scalar(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'")):
            assert conn.scalar(sa.text("SELECT to_tsvector('french_unaccent', 'Élysée Mélenchon')")) == plain


def test_a_text_the_marks_cannot_be_written_back_into_gets_the_snippet_of_the_text_as_stored(
    server: str, clean_db: sa.Engine
) -> None:
    """veille_headline marks the folded text with control characters and finds its fragments
    in it: a text holding those characters, or a fragment ts_headline changed (an HTML tag written
    as a space), gets ts_headline of the text as stored, never a mark or a shifted fragment."""
    texts = [
        "Le \x01 président a reçu à l'Élysée les dirigeants.",
        "Le président <b>a reçu</b> à l'Élysée les dirigeants.",
        "Le président a reçu à l'Élysée les dirigeants.",
    ]
    with clean_db.connect() as conn:
        for text in texts:
            got, stored = conn.execute(
                sa.text(
                    "SELECT veille_headline(:x, search_query('dirigeants')),"
                    " ts_headline('french_unaccent', :x, search_query('dirigeants'),"
                    " 'StartSel=**, StopSel=**, MaxFragments=2, MinWords=6, MaxWords=20')"
                ),
                {"x": text},
            ).one()
            assert got == stored and "**dirigeants**" in got
            assert all(chr(c) not in got for c in range(2, 5))  # no mark of veille_headline's


def test_the_snippet_folds_with_veille_unaccent_as_0047_folded_its_letters(
    server: str, clean_db: sa.Engine
) -> None:
    """0051: veille_headline folds the text with veille_unaccent always (since 0049 faster than
    0047's translate of the 15 common French letters and its separate ligature step, which
    called veille_unaccent only for other letters): the snippets are 0047's, ligatures and rare
    letters included, and a text of common accents alone is folded by veille_unaccent (main:
    never)."""
    m0030 = importlib.import_module("migrations.versions.0030_function_search_path")
    m0047 = importlib.import_module("migrations.versions.0047_snippet_accents")
    texts = [
        "Le président a reçu à l'Élysée les dirigeants européens, très déçus.",
        "D'Œdipe et l'œuvre d'Æsope : au cœur du débat, la coopération numérique, ex æquo.",
        "De Göteborg à Zürich, Jean-Luc Mélenchon a dénoncé un dîner de gala à l'Élysée.",
        "Œ œ æ Æ " * 20 + "et enfin le cœur de l'Élysée, là où les dirigeants se réunissent.",
        "Aucun accent ici : les dirigeants se réunissent au sommet, et rien de plus.",
        "L'Œuvre de Göteborg, cœur de Zürich : à l'Élysée, les dirigeants ex æquo au sommet.",
    ]
    queries = [
        "elysee",
        "coeur numerique",
        "oedipe aesope aequo",
        "goteborg melenchon",
        "dirigeants",
        "sommet",
    ]
    with clean_db.connect() as conn, conn.begin():
        old = m0047.HEADLINE_FUNCTION.replace("veille_headline(", "veille_headline_0047(")
        conn.execute(sa.text(m0030._in_schema([old])))  # noqa: SLF001
        for text in texts:
            for query in queries:
                now, was = conn.execute(
                    sa.text(
                        "SELECT veille_headline(:x, q), veille_headline_0047(:x, q) FROM search_query(:q) q"
                    ),
                    {"x": text, "q": query},
                ).one()
                assert now == was, (text, query)
        folds = counted_folds(conn)
        conn.execute(sa.text("SELECT veille_headline(:x, CAST('dirigeant' AS tsquery))"), {"x": texts[0]})
        folded = folds()
        conn.rollback()
    assert folded == (1 if server == "without unaccent" else 0)


def counted_folds(conn: sa.Connection) -> Callable[[], int]:
    """Count the calls of veille_unaccent in ``conn``'s transaction (which rolls the counting
    back): how many so far, each time the function returned is called."""
    definition = conn.scalar(sa.text("SELECT pg_get_functiondef('veille_unaccent(text)'::regprocedure)"))
    conn.execute(sa.text("CREATE TEMPORARY SEQUENCE folds"))
    conn.exec_driver_sql(definition.replace(".veille_unaccent(", ".veille_unaccent_counted(", 1))
    conn.execute(
        sa.text(
            "CREATE OR REPLACE FUNCTION veille_unaccent(input text) RETURNS text"
            " LANGUAGE plpgsql IMMUTABLE STRICT AS $f$ BEGIN PERFORM nextval('folds');"
            " RETURN veille_unaccent_counted(input); END $f$"
        )
    )
    count = sa.text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM folds")
    return lambda: int(conn.scalar(count))
