"""``veille_unaccent`` (migration 0049_unaccent_speed: ``replace`` of the letters found instead of
0012's ``translate`` of 56 letters, about four times faster on 10 kB of French) folds every
text exactly as 0012's body did: it is IMMUTABLE behind the stored ``search`` column, whose
vectors were made by the old body and are not recomputed, so a different output would make
new queries miss stored articles. Compared on the real server with 0012's body, created in
the session's temporary schema: every letter of its list, each ligature, mixed texts, case,
NULL, the empty text, characters outside the list, random strings."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.archive.schema import alembic_config

_0012 = importlib.import_module("migrations.versions.0012_french_unaccent")
_0049 = importlib.import_module("migrations.versions.0049_unaccent_speed")

LIGATURES = "œŒæÆ"
#: letters outside 0012's list, left as they are by both: other Latin accents, the German
#: sharp s, a decomposed é (e + combining acute), typographic quotes, a no-break space, CJK
OUTSIDE = "āĀǹŃńőŐłŁßẞıĳĲ\u0301e\u0301’«»\u00a0…—上海ひ🙂Ωω"
SAMPLES = [
    "",
    " ",
    "plain ASCII, nothing to fold: 0123 !?",
    "Le président de la République a reçu à l'Élysée les dirigeants, déjà très occupés.",
    "ÀLA CAPITALE, ÇA BOUGE : ÉTAT, ÊTRE, ÎLE, ÔTER, ÛN, ÈRE, ËL, ÏL, ÜBER",
    "Œuvre, cœur, sœur, vœu, Æsope, ex æquo, Cæsar, ŒIL",
    "Señor Muñoz à Göteborg, Zürich et São Paulo ; Ångström, Øresund, Ÿvelines, ÿ",
    "ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿŸœŒæÆ",
    "é" * 3000 + "œ" + "a" * 3000 + "Ñ",
    OUTSIDE,
    "ligne\nsuivante\ttabulée\r\n« citée » — fin…",
]


@pytest.fixture(scope="module")
def conn(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection with 0012's body as ``pg_temp.veille_unaccent_0012`` (gone with the session)."""
    with engine.connect() as connection:
        connection.exec_driver_sql(
            _0012.FOLD_FUNCTION.replace("FUNCTION veille_unaccent(", "FUNCTION pg_temp.veille_unaccent_0012(")
        )
        connection.commit()
        yield connection
        connection.rollback()
        connection.exec_driver_sql("DROP FUNCTION pg_temp.veille_unaccent_0012(text)")
        connection.commit()


def folds(conn: sa.Connection, texts: list[str | None]) -> list[tuple[str | None, str | None, str | None]]:
    """Each text, then what veille_unaccent and 0012's body make of it."""
    return [
        tuple(row)
        for row in conn.execute(
            sa.text(
                "SELECT t, veille_unaccent(t), pg_temp.veille_unaccent_0012(t)"
                " FROM unnest(CAST(:texts AS text[])) WITH ORDINALITY AS u(t, n) ORDER BY n"
            ),
            {"texts": texts},
        )
    ]


def test_the_function_is_the_new_one(conn: sa.Connection) -> None:
    """Not 0012's body under test (which would make the comparisons below hold trivially)."""
    language = conn.scalar(
        sa.text(
            "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
            " WHERE p.oid = 'veille_unaccent(text)'::regprocedure"
        )
    )
    assert language == "plpgsql"


def test_every_letter_of_the_old_list_and_each_ligature_folds_as_before(conn: sa.Connection) -> None:
    letters = list(_0012.ACCENTED + LIGATURES + OUTSIDE)
    rows = folds(conn, letters + [f"x{c}y{c}{c}" for c in letters])
    assert [new for _, new, _ in rows] == [old for _, _, old in rows]
    # the list itself, letter by letter, as 0012 wrote it (so the comparison has teeth)
    assert [new for _, new, _ in rows[: len(_0012.ACCENTED)]] == list(_0012.PLAIN)
    assert [new for _, new, _ in rows[len(_0012.ACCENTED) : len(_0012.ACCENTED) + 4]] == [
        "oe",
        "OE",
        "ae",
        "AE",
    ]


def test_mixed_texts_case_null_and_empty_fold_as_before(conn: sa.Connection) -> None:
    rows = folds(conn, [*SAMPLES, None])
    assert [new for _, new, _ in rows] == [old for _, _, old in rows]
    assert rows[-1] == (None, None, None)  # STRICT: NULL in, NULL out
    assert rows[0] == ("", "", "")
    assert rows[3][1] == "Le president de la Republique a recu a l'Elysee les dirigeants, deja tres occupes."
    assert rows[5][1] == "OEuvre, coeur, soeur, voeu, AEsope, ex aequo, Caesar, OEIL"


_LETTERS = _0012.ACCENTED + LIGATURES + OUTSIDE
_ASCII = "".join(chr(c) for c in range(1, 128))  # no NUL: a PostgreSQL text cannot hold it


@settings(max_examples=150)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(_LETTERS) | st.sampled_from(_ASCII), max_size=60),
        min_size=1,
        max_size=30,
    )
)
def test_random_strings_of_the_list_and_ascii_fold_as_before(conn: sa.Connection, texts: list[str]) -> None:
    rows = folds(conn, list(texts))
    assert [new for _, new, _ in rows] == [old for _, _, old in rows]


@settings(max_examples=50)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00")), min_size=1, max_size=20
    )
)
def test_random_unicode_folds_as_before(conn: sa.Connection, texts: list[str]) -> None:
    rows = folds(conn, list(texts))
    assert [new for _, new, _ in rows] == [old for _, _, old in rows]


def test_a_nondeterministic_collation_is_folded(conn: sa.Connection) -> None:
    """The new body reads its text with the C collation: ``replace`` and regular expressions
    refuse a nondeterministic one ("nondeterministic collations are not supported for substring
    searches", which 0012's body raised too, from its ligatures' ``replace``); the text is
    folded as under the default collation."""
    if not conn.scalar(sa.text("SELECT count(*) FROM pg_collation WHERE collprovider = 'i'")):
        pytest.skip("this server has no ICU collations (nondeterministic ones need ICU)")
    try:
        conn.exec_driver_sql(
            "CREATE COLLATION pg_temp.veille_test_ci"
            " (provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
        )
        folded = conn.scalar(
            sa.text("SELECT veille_unaccent(CAST(:t AS text) COLLATE pg_temp.veille_test_ci)"),
            {"t": SAMPLES[6]},
        )
    finally:
        conn.rollback()
    assert folded == folds(conn, [SAMPLES[6]])[0][2]
    assert folded == "Senor Munoz a Goteborg, Zurich et Sao Paulo ; Angstrom, Oresund, Yvelines, y"


def test_the_stored_vectors_agree_after_the_upgrade_and_the_downgrade_restores_0012(
    new_database: str,
) -> None:
    """Articles stored with 0012's body (the revision before 0049) keep search vectors equal to
    what the column's expression gives now, so they need no recomputation; the downgrade gives
    back 0012's body."""
    config = alembic_config(new_database)
    command.upgrade(config, _0049.down_revision)
    engine = sa.create_engine(new_database)
    body = sa.text("SELECT prosrc FROM pg_proc WHERE oid = 'veille_unaccent(text)'::regprocedure")
    expression = sa.text(
        "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a"
        " ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
        " WHERE d.adrelid = 'articles'::regclass AND a.attname = 'search'"
    )
    try:
        with engine.begin() as conn:
            old_body = conn.scalar(body)
            conn.execute(
                sa.text(
                    "INSERT INTO sources (id, name, kind, url, owner)"
                    " VALUES (1, 'Site', 'feed', 'https://site.example/feed.xml', 'media')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, description, text,"
                    " text_hash) VALUES (:u, :u, 1, :t, :d, :x, :u)"
                ),
                [
                    {"u": f"https://site.example/{i}", "t": text[:80], "d": text[-40:], "x": text}
                    for i, text in enumerate(SAMPLES)
                ],
            )
        command.upgrade(config, _0049.revision)
        with engine.connect() as conn:
            assert conn.scalar(body) != old_body
            generated = conn.scalar(expression)
            stale = conn.scalar(sa.text(f"SELECT count(*) FROM articles WHERE search <> ({generated})"))
            assert stale == 0
            found = conn.scalars(
                sa.text(
                    "SELECT canonical_url FROM articles"
                    " WHERE search @@ websearch_to_tsquery('french_unaccent',"
                    " veille_unaccent('Elysée OR coeur')) ORDER BY id"
                )
            ).all()
            assert found == ["https://site.example/3", "https://site.example/5"]
        command.downgrade(config, _0049.down_revision)
        with engine.connect() as conn:
            assert conn.scalar(body) == old_body
    finally:
        engine.dispose()
