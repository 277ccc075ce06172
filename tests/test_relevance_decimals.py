"""A decimal point is part of its number, not a sentence end: "6.4 billion" is the tokens
"6 4 billion" in one sentence, as the French "6,4 milliards" is "6 4 milliards", so one pattern
("6 4 billion") reads both, and a proximity's window or the best sentence is not cut there."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.judge.relevance import score_relevance
from monitors.judge.textfold import BREAK_SEPARATOR, count_ends, ends_within, fold, fold_article, sentence_at
from monitors.judge.topic import load_topic

TOPIC = load_topic()
#: 40 distinct Cyrillic letters (spaces for every fold): the text is folded by NFKD as a whole
MANY_SCRIPTS = " " + "".join(chr(0x0400 + i) for i in range(40))


def _text_pieces(title: str, text: str) -> list[str]:
    """The text's pieces in ``fold_article``'s run, each as ``fold`` gives its tokens."""
    run, first, ends = fold_article(title, "", text)
    pieces = run.split(BREAK_SEPARATOR)[first : first + ends + 1]
    return [" ".join(p.decode().split()).lower() for p in pieces]


@pytest.mark.parametrize("extra", ["", MANY_SCRIPTS], ids=["per-character fold", "NFKD fold"])
def test_a_decimal_point_folds_as_the_decimal_comma_and_ends_no_sentence(extra: str) -> None:
    text = f"Prologis pledged $6.4bn. So 6.4 billion (v2.0){extra}. Then 2,5 more.\n3.14"
    pieces = ["prologis pledged 6 4bn", "so 6 4 billion v2 0", "then 2 5 more", "", "3 14"]
    assert _text_pieces("", text) == pieces
    assert _text_pieces("", text.replace("6.4", "6,4")) == _text_pieces("", text)
    assert count_ends(text) == 4
    assert sentence_at(text, 1).startswith("So 6.4 billion (v2.0)") and sentence_at(text, 4) == "3.14"
    # a period is told decimal by the digit after it, even where the count stops before that digit
    assert [count_ends("a 6.4", k) for k in range(6)] == [0, 0, 0, 0, 0, 0]
    assert [count_ends("a 6. 4", k) for k in range(7)] == [0, 0, 0, 0, 1, 1, 1]
    assert ends_within("Le 6.4 et 7.5 sont là. Fin", 10, 1) == 0
    # periods next to one digit only, or to none, still end sentences (abbreviations apart:
    # tests/test_relevance_abbreviations.py)
    pieces = ["en 2025", "puis la", "5 et 5", "et usa", ""]
    assert _text_pieces("", "En 2025.Puis la.5 et 5. Et USA.") == pieces


_WORDS = st.sampled_from(["6", "4", "2025", "a", "Paris", "milliards", "billion", "bn", "v2"])
_SEPARATORS = st.sampled_from([".", ". ", ",", ", ", " ", "\n", "! ", "?", " 1."])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_WORDS, _SEPARATORS), max_size=30), st.booleans())
def test_the_run_the_sentences_and_the_end_counts_agree(words: list[tuple[str, str]], many: bool) -> None:
    """Each piece of the run is the sentence ``sentence_at`` gives back (the best sentence
    shown), ``count_ends`` at every character counts the ends the run has by then (the lead and
    body zones), on both folding paths, decimals ("6.4", "2025.6") among other periods."""
    text = "".join(w + s for w, s in words) + (MANY_SCRIPTS if many else "")
    pieces = _text_pieces("Titre 1.5 du jour", text)
    assert len(pieces) == count_ends(text) + 1
    for j, piece in enumerate(pieces):
        assert fold(sentence_at(text, j)) == piece or (not piece and not sentence_at(text, j)), j
    ends = [i for i, ch in enumerate(text) if ch in "\n!?" or (ch == "." and not _inner(text, i))]
    for k in range(len(text) + 1):
        assert count_ends(text, k) == sum(1 for i in ends if i < k), k


def _inner(text: str, i: int) -> bool:
    """The period at ``i`` ends no sentence: a decimal point, or the period of the single letter
    "a" (an initial) with more text on its line (no word here opens a sentence)."""
    if 0 < i < len(text) - 1 and text[i - 1] in "0123456789" and text[i + 1] in "0123456789":
        return True
    letter = i > 0 and text[i - 1] == "a" and (i == 1 or not text[i - 2].isalnum())
    return letter and bool(text[i + 1 :].split("\n")[0].strip())


def _matched(text: str) -> dict[str, object]:
    result = score_relevance(TOPIC, text)
    matched = result.evidence["matched"]
    assert isinstance(matched, dict)
    return matched


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("The new foundation will hold 2.5 billion dollars.", "Current AI's endowment"),
        ("La nouvelle fondation disposera de 2,5 milliards.", "Current AI's endowment"),
        ("Prologis will invest 6.4 billion euros in data centres.", "Prologis's 6.4 billion"),
        ("Prologis pledged $6.4bn for data centres in France.", "Prologis's 6.4 billion"),
        ("Prologis investira 6,4 milliards d'euros.", "Prologis's 6.4 billion"),
        # the window is not cut at a decimal point between the firm and its figure
        ("Bpifrance, 1.5 times bigger, brings 10 billion.", "Bpifrance's 10 billion"),
    ],
)
def test_an_english_decimal_matches_the_topics_pattern(text: str, rule: str) -> None:
    assert rule in _matched(text)


def test_the_best_sentence_keeps_its_decimals() -> None:
    result = score_relevance(TOPIC, "Intro. The new foundation will hold 2.5 billion dollars. End.")
    assert result.evidence["best_sentence"] == "The new foundation will hold 2.5 billion dollars."
