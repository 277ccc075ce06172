"""An abbreviation or an initial is no sentence end: "M. Macron", "MM.", "Dr.", "J. D. Vance",
"U.S.", "É.-U.", "a.m.", "etc." leave their sentence whole, so a same-sentence rule is found
across them and the evidence's best sentence is the whole sentence, not "M." or a fragment;
a sentence that clearly opens after one ("U.S. The next", "plan B. Le", "etc. Les") still
starts a piece of its own (textfold's ``_INNER_POINT``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.judge.relevance import score_relevance
from monitors.judge.textfold import BREAK_SEPARATOR, count_ends, fold, fold_article, sentence_at
from monitors.judge.topic import load_topic

TOPIC = load_topic()
#: 40 distinct Cyrillic letters (spaces for every fold): the text is folded by NFKD as a whole
MANY_SCRIPTS = " " + "".join(chr(0x0400 + i) for i in range(40))


def _sentences(text: str) -> list[str]:
    """The text's non-empty sentences, piece by piece (``count_ends`` pieces, ``sentence_at``)."""
    return [s for s in (sentence_at(text, j) for j in range(count_ends(text) + 1)) if s]


def _pieces(text: str) -> list[str]:
    """The text's pieces in ``fold_article``'s run, each as ``fold`` gives its tokens."""
    run, first, ends = fold_article("", "", text)
    pieces = run.split(BREAK_SEPARATOR)[first : first + ends + 1]
    return [" ".join(p.decode().split()).lower() for p in pieces]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        # titles: a name follows, never a new sentence
        (
            "M. Macron et MM. Dupont et Martin sont là. Mme. Durand aussi.",
            ["M. Macron et MM. Dupont et Martin sont là.", "Mme. Durand aussi."],
        ),
        (
            "Dr. Chen, de St. Louis, cf. la page, vs. Google.",
            ["Dr. Chen, de St. Louis, cf. la page, vs. Google."],
        ),
        # initials, joined or spaced, and dotted acronyms
        ("J.D. Vance et J. D. Vance et E. Macron.", ["J.D. Vance et J. D. Vance et E. Macron."]),
        (
            "Les É.-U. et le R.-U. ont refusé. À 9 a.m. la séance, p. ex. lundi.",
            ["Les É.-U. et le R.-U. ont refusé.", "À 9 a.m. la séance, p. ex. lundi."],
        ),
        ("The U.S. President met the U.K. envoy.", ["The U.S. President met the U.K. envoy."]),
        # ... unless a word that opens sentences follows
        ("They met in the U.S. The next day they left.", ["They met in the U.S.", "The next day they left."]),
        ("Il faut un plan B. Le sommet attendra.", ["Il faut un plan B.", "Le sommet attendra."]),
        ("Il l'a écrit sur X. L'IA l'inquiète.", ["Il l'a écrit sur X.", "L'IA l'inquiète."]),
        # word abbreviations: a capitalised word after them opens a sentence, anything else goes on
        (
            "Des puces, des données, etc. et des talents. Des puces, etc. Macron l'a dit.",
            ["Des puces, des données, etc. et des talents.", "Des puces, etc.", "Macron l'a dit."],
        ),
        ("Apple Inc. said so. No. 10 Downing St. did.", ["Apple Inc. said so.", "No. 10 Downing St. did."]),
        # at the end of a line or of the text, an abbreviation's period ends the sentence
        ("Il a parlé à M.\nPuis à J.", ["Il a parlé à M.", "Puis à J."]),
        # decimals as before
        ("Il investit 6.4 milliards. Fin.", ["Il investit 6.4 milliards.", "Fin."]),
        # Chinese and Japanese full stops, exclamation and question marks end a sentence, no
        # space after them, as language detection reads them
        (
            "峰会在巴黎开幕。Macron parle de l'IA！Et après？",
            ["峰会在巴黎开幕。", "Macron parle de l'IA！", "Et après？"],
        ),
        ("Le sommet s'ouvre｡Vance parle.", ["Le sommet s'ouvre｡", "Vance parle."]),
    ],
)
def test_abbreviations_and_initials_end_no_sentence(text: str, sentences: list[str]) -> None:
    assert _sentences(text) == sentences
    assert [p for p in _pieces(text) if p] == [f for s in sentences if (f := fold(s))]  # Han folds to ""


@pytest.mark.parametrize(
    "sentence",
    [
        "M. Macron a ouvert le sommet pour l'action sur l'IA.",
        "J. D. Vance a dénoncé au sommet de Paris la réglementation excessive de l'IA.",
        "The U.S. and the U.K. did not sign the summit's declaration on AI.",
    ],
)
def test_the_best_sentence_is_the_whole_sentence(sentence: str) -> None:
    result = score_relevance(TOPIC, f"Intro. {sentence} Fin.")
    assert result.evidence["best_sentence"] == sentence


def test_the_best_sentence_of_a_chinese_text_is_one_sentence() -> None:
    """The evidence's sentence ends at "。" as language detection's does: not the whole text."""
    sentence = "Le sommet pour l'action sur l'IA s'est ouvert à Paris。"
    result = score_relevance(TOPIC, f"今天的新闻。{sentence}各国领导人出席了会议。")
    assert result.evidence["best_sentence"] == sentence


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # a summit word and Paris, a speaker and his words: same-sentence rules across "M."
        ("Le sommet présidé par M. Macron à Paris a réuni les pays sur l'IA.", "sommet ~ Paris/février 2025"),
        ("La réglementation excessive, selon M. Vance, freine l'IA.", "Vance's speech"),
        ("Excessive regulation, U.S. Vice President J.D. Vance said, could kill AI.", "Vance's speech"),
        # a dotted acronym is the pattern "U K"
        ("The U.S. and the U.K. did not sign the declaration on AI.", "declaration not signed by the UK"),
    ],
)
def test_a_same_sentence_rule_is_found_across_an_abbreviation(text: str, rule: str) -> None:
    matched = score_relevance(TOPIC, text).evidence["matched"]
    assert rule in matched


_WORDS = st.sampled_from(
    ["M", "MM", "Dr", "J", "D", "U", "S", "a", "m", "etc", "No", "Inc", "Le", "The", "L'IA", "Paris", "6"]
)
_SEPARATORS = st.sampled_from(
    [".", ". ", ".\n", ".-", ", ", " ", "\n", "! ", "?", ". 1", "  .  ", "。", "！", "？ ", "｡", "。」"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_WORDS, _SEPARATORS), max_size=30), st.booleans())
def test_the_sentences_partition_the_text_and_agree_with_the_run(
    words: list[tuple[str, str]], many: bool
) -> None:
    """Among abbreviations, initials and words that open sentences, on both folding paths: the
    sentences, read piece by piece, are the text cut in order (nothing lost, nothing twice),
    each piece of the run is its sentence's tokens, and ``count_ends`` at every character counts
    the ends ``sentence_at`` starts after."""
    text = "".join(w + s for w, s in words) + (MANY_SCRIPTS if many else "")
    pieces = _pieces(text)
    assert len(pieces) == count_ends(text) + 1
    sentences = [sentence_at(text, j) for j in range(len(pieces))]
    for j, piece in enumerate(pieces):
        assert fold(sentences[j]) == piece or (not piece and not sentences[j]), j
    assert fold(" ".join(sentences)) == " ".join(p for p in pieces if p) == fold(text)
    # piece j starts right after the j-th end: where count_ends goes up
    starts = [k for k in range(1, len(text) + 1) if count_ends(text, k) > count_ends(text, k - 1)]
    assert len(starts) == len(pieces) - 1
    for j, k in enumerate(starts, start=1):
        assert text[k:].lstrip().startswith(sentences[j]), j
