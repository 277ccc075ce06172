"""A search query in web-search syntax, made safe to hand to ``websearch_to_tsquery``.

``ts_headline`` (the snippet of ``search_articles``) takes time that grows much faster than the
number of items in the query: "sommet" typed 300 times took minutes for 20 results. Repeated
words and phrases are dropped here (``a a`` means ``a``, ``x OR x`` means ``x``) without changing
what the query means, and a query of more than :data:`MAX_QUERY_WORDS` words is refused.
"""

from __future__ import annotations

import re
import unicodedata

#: words a query may hold once repeated ones are dropped (OR excluded): one of 32 costs a
#: snippet about 12 ms, one of 64 about 80 ms (one-off), and `search --topic` makes 200 of them
MAX_QUERY_WORDS = 32

# what websearch_to_tsquery reads as one operand: a "phrase" (to the next quote or the end), or
# a run of anything but spaces and quotes
_TOKEN = re.compile(r'-?"[^"]*(?:"|$)|[^\s"]+')
# an operand that is self-contained: a word of letters and digits joined by ' ’ . - (l'IA,
# aujourd'hui, Grand-Palais, 3.5), or a closed "phrase", either maybe negated by a leading -
_PLAIN = re.compile(r'-?(?:[^\W_]+(?:[\'’.\-][^\W_]+)*|"[^"]*")')
_WORD = re.compile(r"[^\W_]+")


# operators of to_tsquery's syntax (and of other search boxes) that websearch_to_tsquery reads as
# a space, so that the query silently meant something else: "IA | lait" searched IA AND lait,
# "!lait" lait itself, "lait*" the word lait only ("*lait*", markdown emphasis, is the word meant,
# and runs; so does "*lait frais*", its words: the prefix search stays last). Unquoted tokens
# only: in a "phrase" they are text.
# A "|" inside a token ("IA|lait") is read as a space too. A lone "&" is not among them: read as a
# space it means AND, what "Marks & Spencer" means; nor a lone "!", French punctuation ("Alerte !").
_FOREIGN = (
    (re.compile(r".*\|.*"), "read as a space, the words around it ANDed; write OR between them: IA OR lait"),
    (re.compile(r"!+[^\W_]\S*"), "the ! left out, the word searched; exclude a word with a dash: IA -lait"),
    (  # "-!lait", "!-lait": the ! is left out and the dash excludes the word; it is no syntax here
        re.compile(r"(?=[-!]*!)(?=[-!]*-)[-!]+[^\W_]\S*"),
        "the ! left out, the dash alone excludes the word; write the dash alone: IA -lait",
    ),
    (
        re.compile(r"(?!\*)\S*[^\W_]:?\*"),  # "*important*" is emphasis, read as the word
        "the * left out, the word alone searched; there is no prefix search, French stemming"
        " finds a word's forms already (sommet finds sommets)",
    ),
)


class QueryError(ValueError):
    """A query veille will not run; the message says why and what to do."""


def _is_or(token: str) -> bool:
    """Whether ``token`` is the OR operator: in capitals only. websearch_to_tsquery reads "or"
    in any case as OR, and French has the word ("or noir", gold; "or", now): veille quotes it
    (:func:`_french_or`)."""
    return token == "OR"


def _french_or(query: str) -> str:
    """``query`` with each "or" not in capitals outside a phrase quoted (``"or"``):
    websearch_to_tsquery reads "or" in any case as the OR operator ("pétrole or noir" was
    pétrole OR noir), veille only "OR" in capitals; the French word ("or noir", "lingot or",
    gold; "or", now) is searched as a word."""
    return _TOKEN.sub(lambda m: f'"{m[0]}"' if m[0].lower() == "or" and not _is_or(m[0]) else m[0], query)


def _unelided(token: str) -> str:
    """``token`` without its elided articles ("l'", "d'", "qu'"): in "l'*IA*" the stars are
    markdown emphasis over IA, not a prefix search."""
    return re.sub(r"^-?(?:[^\W_]+['’])+", "", token)


def _plain(tokens: list[str]) -> bool:
    """Whether every token is a self-contained operand or an OR between two of them: then the
    query is an OR of groups of ANDed operands, and a repeated operand or group can go."""
    for i, token in enumerate(tokens):
        if _is_or(token):
            if i == 0 or i == len(tokens) - 1 or _is_or(tokens[i - 1]):
                return False
        elif not _PLAIN.fullmatch(token):
            return False
    return True


def _key(token: str) -> str:
    """What the search reads of an operand: case and accents do not count (``french_unaccent``),
    so "Sommet", "SOMMET" and "sommét" are one word."""
    decomposed = unicodedata.normalize("NFKD", token.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _dedupe(tokens: list[str]) -> list[str]:
    groups: list[list[str]] = [[]]
    keys: list[set[str]] = [set()]
    for token in tokens:
        if _is_or(token):
            groups.append([])
            keys.append(set())
        elif (key := _key(token)) not in keys[-1]:  # the first form typed is kept
            groups[-1].append(token)
            keys[-1].add(key)
    kept: list[list[str]] = []
    kept_keys: list[set[str]] = []
    for group, group_keys in zip(groups, keys, strict=True):  # (a b) OR (b a) is (a b)
        if group_keys not in kept_keys:
            kept.append(group)
            kept_keys.append(group_keys)
    return [token for i, group in enumerate(kept) for token in ((["OR"] if i else []) + group)]


def _refuse_foreign(tokens: list[str]) -> None:
    """A :class:`QueryError` for the first unquoted token written in another search syntax
    (:data:`_FOREIGN`), which web-search syntax would read as something else without a word."""
    emphasis = False  # a token opened with a "*" and not closed yet: "*très important*"
    for token in tokens:
        if token.startswith(('"', '-"')):
            continue
        closes = emphasis and token.endswith("*") and not token.endswith(":*")  # no prefix search
        emphasis = (emphasis or _unelided(token).startswith("*")) and not token.endswith("*")
        for pattern, instead in _FOREIGN:
            star = pattern is _FOREIGN[-1][0]
            if pattern.fullmatch(_unelided(token) if star else token) and not (closes and star):
                raise QueryError(f"{token!r} is not search syntax here: {instead}")


_OR_MISREAD = (
    "an OR at the start or the end of the query, or after another OR, is searched as the word"
    ' "or"; write one OR between two words: IA OR sommet (the word or itself in quotes: "or")'
)
_BRACKETS = (
    "brackets do not group, they are read as spaces: (IA OR sommet) Paris searches"
    " IA OR (sommet Paris), -(IA sommet) searches -IA sommet; write each side of an OR in full:"
    " IA Paris OR sommet Paris"
)


def _refuse_misread(tokens: list[str]) -> None:
    """A :class:`QueryError` for web-search syntax that ``websearch_to_tsquery`` reads, without a
    word, as something else than it says: an ``OR`` in capitals, the operator, where no word
    stands on one of its sides ("IA OR", "OR IA", "IA OR OR sommet": the word "or" searched);
    brackets meant to group ("(IA OR sommet) Paris" is IA OR (sommet AND Paris), "-(IA sommet)"
    excludes IA alone). An "or" not in capitals is the French word ("Or noir", quoted by
    :func:`_french_or`), and brackets in a query of ANDed words ("Paris (France)") mean what they
    say: both run."""
    for i, token in enumerate(tokens):
        if token == "OR" and (
            i == 0 or i == len(tokens) - 1 or _is_or(tokens[i - 1]) or _is_or(tokens[i + 1])
        ):
            raise QueryError(f"{token!r} is not search syntax here: {_OR_MISREAD}")
    unquoted = [t for t in tokens if not t.startswith(('"', '-"'))]
    grouping = any(_is_or(t) for t in tokens) or any(t.startswith("-(") for t in unquoted)
    for token in unquoted:
        if grouping and ("(" in token or ")" in token):
            raise QueryError(f"{token!r} is not search syntax here: {_BRACKETS}")


def web_query(query: str) -> str:
    """``query`` with its repeated words, phrases and OR branches dropped (the same words but
    for case and accents: "Sommet sommet SOMMÉT" is "Sommet"; "sommets" is another); raises
    :class:`QueryError` past :data:`MAX_QUERY_WORDS` words, or for an operator of another
    syntax (``|``, ``!word``, ``word*``: :func:`_refuse_foreign`) or web-search syntax read as
    something else (an edge or doubled ``OR``, brackets: :func:`_refuse_misread`). An "or" not
    in capitals is the French word, quoted (:func:`_french_or`). A query with a token whose reach
    the split on spaces cannot tell (a dangling -, an apostrophe opening a quote) is kept as it is."""
    query = _french_or(query)
    tokens = _TOKEN.findall(query)
    _refuse_foreign(tokens)
    _refuse_misread(tokens)
    if _plain(tokens):
        tokens = _dedupe(tokens)
        query = " ".join(tokens)
    words = sum(len(_WORD.findall(t)) for t in tokens if not _is_or(t))
    if words > MAX_QUERY_WORDS:
        raise QueryError(
            f"too many words: the query has {words}, a search takes at most {MAX_QUERY_WORDS}"
            " (a word typed twice counts once); keep the words that matter"
        )
    return query
