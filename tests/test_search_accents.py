"""French search ignores accents (`french_unaccent`, migration 0007): `veille search elysee`
finds "Élysée", "Melenchon" finds "Mélenchon"; snippets do not repeat the lead and hold no
raw newline."""

from __future__ import annotations

import contextlib
import io
import json

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
