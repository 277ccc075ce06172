"""Search snippets show and bold an accented word found by an unaccented query, without ``unaccent``

The embedded PostgreSQL (pgserver) has no ``unaccent`` extension, so its ``french_unaccent``
configuration is a plain copy of ``french``: search folds text and query with
``veille_unaccent()`` and finds "Élysée" for ``elysee``, but ``ts_headline`` parsed the
snippet's text as stored, where "Élysée" stems to ``élys`` and the query's word to ``elyse``.
No word of the text matched, and ``veille search elysee`` showed the text's first six words,
without the hit (``coeur`` for "cœur" likewise; ``numerique`` was bolded only because the
stemmer drops the accented suffix).

``veille_headline(document, query)`` makes the snippet. Where the configuration folds words
itself (the extension is installed, 0012), it is ``ts_headline`` of the document, as before.
Elsewhere ``ts_headline`` reads the folded document (``veille_unaccent``, as the ``search``
column does, so it bolds the words the search matched) with control characters for its marks
and fragment delimiter, and each fragment is written back from the document itself, accents
as typed: a fragment is a piece of the folded text (found with ``strpos``), and the folded
text has the same length as the document once each ligature (œ, æ, which fold to two
letters) is followed by a filler character, removed at the end. A document holding those
control characters, or whose fragment is not a piece of it (``ts_headline`` writes an HTML
tag as a space), gets the snippet of the document as stored, as before.

The fold is ``veille_unaccent``'s, whose ``translate`` of 56 letters takes about 4 ms for 10 kB
(more than ``ts_headline``): a document holding none but the 15 accented letters French writes
most is folded by a ``translate`` of those (0.7 ms), the same text. Whether the configuration
folds is asked of it once per session (PostgreSQL folds the constant comparison into the cached
plan): a mapping changed by hand counts in new sessions. ``bench/search.py --baseline 0046
--without-unaccent``: snippets about 1.4 ms more a hit of 10 kB without the extension, nothing
more with it (bench/README.md).

``search_articles`` calls it in place of ``ts_headline``; the body is otherwise 0039's.

Revision ID: 0047_snippet_accents
Revises: 0046_view_firsts_undated
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0047_snippet_accents"
down_revision: str | None = "0046_view_firsts_undated"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0012 = importlib.import_module("migrations.versions.0012_french_unaccent")
_0021 = importlib.import_module("migrations.versions.0021_search_repeats")
_0030 = importlib.import_module("migrations.versions.0030_function_search_path")
_0034 = importlib.import_module("migrations.versions.0034_search_topic_relevant")
_0039 = importlib.import_module("migrations.versions.0039_search_topic_known")

#: The accented letters French writes most, folded as veille_unaccent (0012) folds them:
#: ``translate`` takes time in proportion to its list of letters, so a text holding none of the
#: others is folded with these alone.
FRENCH = "éèêëàâçîïôûùüÉÀ"
FOLDED = "".join(_0012.PLAIN[_0012.ACCENTED.index(c)] for c in FRENCH)
OTHERS = "".join(c for c in _0012.ACCENTED if c not in FRENCH)
assert sorted(FRENCH + OTHERS) == sorted(_0012.ACCENTED)

#: the snippet (a format() string for 0030's _in_schema: %1$I the archive's schema, no other %)
HEADLINE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION %1$I.veille_headline(document text, query tsquery) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = %1$I, pg_temp AS $body$
DECLARE
    shape constant text := 'MaxFragments=2, MinWords=6, MaxWords=20, ';
    folded text;
    shown text;
    fragment text;
    piece text;
    start integer;
    inside boolean;
    written text;
    snippet text[] := '{{}}';
BEGIN
    -- the configuration folds words itself (unaccent extension), or the marks are in the text
    IF to_tsvector('french_unaccent', 'Élysée') = to_tsvector('french_unaccent', 'elysee')
       OR document ~ '[\\x01-\\x04]' THEN
        RETURN ts_headline('french_unaccent', document, query,
                           'StartSel=**, StopSel=**, FragmentDelimiter=" … ", ' || shape);
    END IF;
    -- veille_unaccent(document), as the search column has it
    IF document ~ '[{OTHERS}]' THEN
        folded := veille_unaccent(document);
    ELSE
        folded := translate(document, '{FRENCH}', '{FOLDED}');
    END IF;
    shown := document;
    IF document ~ '[œŒæÆ]' THEN
        folded := replace(replace(replace(replace(folded, 'œ', 'oe'), 'Œ', 'OE'), 'æ', 'ae'), 'Æ', 'AE');
        -- each ligature followed by a filler (chr(4)): as long as folded, letter for letter
        shown := replace(replace(replace(replace(document, 'œ', 'œ' || chr(4)), 'Œ', 'Œ' || chr(4)),
                                 'æ', 'æ' || chr(4)), 'Æ', 'Æ' || chr(4));
    END IF;
    FOREACH fragment IN ARRAY string_to_array(
        ts_headline('french_unaccent', folded, query,
                    'StartSel="' || chr(1) || '", StopSel="' || chr(2) || '", FragmentDelimiter="'
                    || chr(3) || '", ' || shape),
        chr(3))
    LOOP
        start := strpos(folded, translate(fragment, chr(1) || chr(2), ''));
        IF start = 0 OR length(shown) <> length(folded) THEN  -- not a piece of it (a tag: a space)
            RETURN ts_headline('french_unaccent', document, query,
                               'StartSel=**, StopSel=**, FragmentDelimiter=" … ", ' || shape);
        END IF;
        written := '';
        inside := false;
        -- the pieces between the marks, outside then inside in turn (the text holds no mark)
        FOREACH piece IN ARRAY regexp_split_to_array(fragment, '[\\x01\\x02]') LOOP
            written := written || CASE WHEN inside THEN '**' || substr(shown, start, length(piece)) || '**'
                                       ELSE substr(shown, start, length(piece)) END;
            start := start + length(piece);
            inside := NOT inside;
        END LOOP;
        snippet := snippet || replace(written, chr(4), '');
    END LOOP;
    RETURN array_to_string(snippet, ' … ');
END
$body$
"""
HEADLINE_COMMENT = (
    "veille_headline(document, query): search_articles' snippet, ts_headline with matches in **bold** "
    "(two fragments of at most 20 words); without the unaccent extension it reads the document folded "
    "by veille_unaccent, as the search does, and writes the fragments back from the document, so an "
    "accented word found by an unaccented query is shown as typed and bolded."
)

#: 0039's body -> this one's: the snippet by veille_headline
HEADLINE_CALL = """ts_headline('%1$I.french_unaccent',
                           -- the text's lexemes are the search vector's of weight C
                           CASE WHEN hit.description IS NOT NULL AND NOT ts_filter(hit.search, '{c}') @@ hit.q
                                THEN hit.description ELSE hit.text END,
                           hit.q,
                           'StartSel=**, StopSel=**, MaxFragments=2, MinWords=6, MaxWords=20, '
                           'FragmentDelimiter=" … "')"""
assert _0039.SEARCH_FUNCTION.count(HEADLINE_CALL) == 1
SEARCH_FUNCTION = _0039.SEARCH_FUNCTION.replace(
    HEADLINE_CALL,
    """%1$I.veille_headline(
                           -- the text's lexemes are the search vector's of weight C
                           CASE WHEN hit.description IS NOT NULL AND NOT ts_filter(hit.search, '{c}') @@ hit.q
                                THEN hit.description ELSE hit.text END,
                           hit.q)""",
)

COMMENT = _0039.COMMENT.replace(
    "snippet on one line from ts_headline with matches in **bold**. ",
    "snippet on one line from ts_headline with matches in **bold** (veille_headline: accented words "
    "found by an unaccented query too, with or without the unaccent extension). ",
)
assert COMMENT != _0039.COMMENT


def upgrade() -> None:
    op.execute(_0030._in_schema([HEADLINE_FUNCTION, SEARCH_FUNCTION]))  # noqa: SLF001
    op.execute(f"COMMENT ON FUNCTION veille_headline(text, tsquery) IS {_0021._quote(HEADLINE_COMMENT)}")  # noqa: SLF001
    op.execute(_0034._comment(COMMENT))  # noqa: SLF001


def downgrade() -> None:
    op.execute(_0030._in_schema([_0039.SEARCH_FUNCTION]))  # noqa: SLF001
    op.execute("DROP FUNCTION veille_headline(text, tsquery)")
    op.execute(_0034._comment(_0039.COMMENT))  # noqa: SLF001
