"""``veille_unaccent`` folds a 10 kB French text about four times faster, to the same text

Every stored article pays ``veille_unaccent`` three times in its generated ``search`` column
(title, description, text; 0012), so every ingest, ``veille rescore`` and backfill did, and so
does ``veille_headline`` (0047) for each snippet without the ``unaccent`` extension. 0012's body
is one ``translate`` of 56 letters, and PostgreSQL's ``translate`` compares each character of
the text with each letter of its list in turn: about 4 ms for 10 kB of French, mostly spent on
the ASCII letters, which match none.

Now (PL/pgSQL) the 15 accented letters French writes most (0047's list) are each folded by a
``replace``, a byte search of the text in C (a letter absent costs one search); the 41 others
and the ligatures (œ, Œ, æ, Æ, two letters each) are looked for with one regular expression,
and only the ones the text holds are folded, each by a ``replace`` (a text with an "ñ" and an
"Œ" pays for those two). Each letter folds to the same one (or two, a ligature) as before, and
no replacement makes another accented letter (each gives ASCII), so the order does not matter:
the output is 0012's for every input, NULL (STRICT) and the empty text included
(``tests/test_unaccent.py`` compares both functions letter by letter and over random
strings). The text is read with the ``C`` collation inside: a caller's nondeterministic
collation, which ``replace`` and regular expressions refuse (0012's ligature ``replace`` did),
is folded as under any other.

The function is IMMUTABLE behind the stored ``search`` column and its GIN index: as its output
does not change, the stored vectors agree with the new queries and are not recomputed. The name,
signature, comment, owner and grants stay (``CREATE OR REPLACE``). ``bench/unaccent.py``:
4.1-4.2x faster on 10 kB of French, 3.2-3.8x with rare letters, 2.2-2.8x on titles; inserting
200 articles of 10 kB 1.8x faster (bench/README.md). The downgrade restores 0012's body.

Revision ID: 0049_unaccent_speed
Revises: 0048_view_days_inline
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0049_unaccent_speed"
down_revision: str | None = "0048_view_days_inline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0012 = importlib.import_module("migrations.versions.0012_french_unaccent")
_0047 = importlib.import_module("migrations.versions.0047_snippet_accents")

#: the letters always folded: French writes most of them in any long text
COMMON = [(letter, _0012.PLAIN[_0012.ACCENTED.index(letter)]) for letter in _0047.FRENCH]
#: the others and the ligatures, each folded when the text holds it
RARE = [(letter, _0012.PLAIN[_0012.ACCENTED.index(letter)]) for letter in _0047.OTHERS] + [
    ("œ", "oe"),
    ("Œ", "OE"),
    ("æ", "ae"),
    ("Æ", "AE"),
]
RARE_LETTERS = "".join(letter for letter, _ in RARE)
assert sorted(letter for letter, _ in COMMON + RARE) == sorted(_0012.ACCENTED + "œŒæÆ")


def _replaced(value: str, pairs: list[tuple[str, str]]) -> str:
    for letter, folded in pairs:
        value = f"replace({value}, '{letter}', '{folded}')"
    return value


FOLD_FUNCTION = f"""
CREATE OR REPLACE FUNCTION veille_unaccent(input text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $body$
DECLARE
    folded text COLLATE "C" := input;
    rare text COLLATE "C";
    letter text COLLATE "C";
BEGIN
    folded := {_replaced("folded", COMMON)};
    IF folded ~ '[{RARE_LETTERS}]' THEN
        -- the rare letters of the text, each folded once
        rare := regexp_replace(folded, '[^{RARE_LETTERS}]+', '', 'g');
        WHILE rare <> '' LOOP
            letter := left(rare, 1);
            folded := replace(folded, letter, CASE letter {" ".join(f"WHEN '{a}' THEN '{p}'" for a, p in RARE)} END);
            rare := replace(rare, letter, '');
        END LOOP;
    END IF;
    RETURN folded;
END
$body$
"""


def upgrade() -> None:
    op.execute(FOLD_FUNCTION)


def downgrade() -> None:
    op.execute(_0012.FOLD_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
