"""The token-trie matcher finds exactly what the per-term regexes find (they define the semantics)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.judge import matcher as matcher_module
from monitors.judge.evaluation import read_labelled
from monitors.judge.matcher import Matcher, near
from monitors.judge.relevance import PreparedText, prepare_text
from monitors.judge.textfold import fold, fold_article
from monitors.judge.topic import DEFAULT_TOPIC_PATH, Topic, load_topic
from monitors.judge.topic_set import load_topics

TOPIC = load_topic()
EVAL = Path(__file__).parent / "eval"


def _regex_counts(topic: Topic, sentence: str) -> dict[str, int]:
    cased = fold(sentence, keep_case=True)
    lower = cased.lower()
    counts = {f"term:{t.name}": t.count(lower, cased) for t in topic.terms}
    counts.update({f"prox:{p.name}": p.count(lower) for p in topic.proximities})
    for c in topic.cases:
        key = f"case:{c.name}"
        counts[key] = counts.get(key, 0) + c.count(lower, cased)
    return {k: v for k, v in counts.items() if v}


def _matcher_counts(topic: Topic, sentence: str) -> dict[str, int]:
    run, _, _ = fold_article(sentence, "", "")  # the sentence as a title: one piece
    hits = topic.matcher.scan(run).get(0, {})
    counts: dict[str, int] = {}
    for t in topic.terms:
        found = hits.get(t.owner, [])
        spans = [(a, a + n) for a, n in hits.get(t.exclude_owner, [])] if t.exclude_owner >= 0 else []
        counts[f"term:{t.name}"] = sum(1 for i, _ in found if not any(a <= i < b for a, b in spans))
    for p in topic.proximities:
        counts[f"prox:{p.name}"] = int(near(hits.get(p.left_owner), hits.get(p.right_owner), p.window))
    for c in topic.cases:
        key = f"case:{c.name}"
        counts[key] = counts.get(key, 0) + len(hits.get(c.owner, []))
    return {k: v for k, v in counts.items() if v}


TRICKY = [
    "J'AI vu l'IA, N'AI pas vu l'AI ; j ai AI IA",
    "Au sommet de l'État, le sommet de Paris sur l'IA et le Sommet pour l'action sur l'IA",
    "COP28, COP 21 et COP2 ; GPT-4o, GPT 4, GPT-5 ; large language models, AI model-based",
    "Le sommet parisien, sommet parisien sommet parisien : 10 et 11 février, 10-11 février",
    "La France accueille un sommet organisé par la France au Grand Palais, Current AI, current ai",
    "sommet sommet sommet Paris",
    "Current AI, a foundation of 2.5 billion (2,5 milliards), and Prologis's $6.4bn: 1.5 times more",
]


def test_same_matches_on_the_eval_texts_and_tricky_sentences() -> None:
    texts = [item["text"] for item in read_labelled(EVAL / "relevance.jsonl")]
    sentences = [s.strip() for text in texts for s in text.replace("!", ".").split(".") if s.strip()]
    for sentence in sentences + TRICKY:
        assert _matcher_counts(TOPIC, sentence) == _regex_counts(TOPIC, sentence), sentence


# sentences made of the topic's own vocabulary, so patterns collide, overlap and nest
def _vocabulary() -> list[str]:
    data = tomllib.loads(DEFAULT_TOPIC_PATH.read_text("utf-8"))
    patterns: list[str] = []
    for spec in data["terms"] + data["disambiguation"] + data["proximity"]:
        for key in ("patterns", "case_sensitive_patterns", "exclude", "left", "right"):
            patterns.extend(spec.get(key, []))
    tokens = {tok for p in patterns for tok in fold(p.rstrip("*"), keep_case=True).split()}
    # inflections of the prefix patterns' last tokens ("europ*": europeennes), and a token that
    # starts with a head's first bytes only ("chin*": "chi")
    heads = {fold(p.rstrip("*"), keep_case=True).split()[-1] for p in patterns if p.endswith("*")}
    tokens |= {h + suffix for h in heads for suffix in ("s", "eennes", "X")} | {h[:3] for h in heads}
    tokens |= {tok.lower() for tok in tokens} | {"J", "j", "N", "COP28", "GPT4o", "models", "Etat"}
    return sorted(tokens)


_VOCAB = _vocabulary()


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=14), st.sampled_from([" ", "'", " - ", ", "]))
def test_same_matches_on_random_topic_vocabulary(words: list[str], sep: str) -> None:
    sentence = sep.join(words)
    assert _matcher_counts(TOPIC, sentence) == _regex_counts(TOPIC, sentence)


# --- the compiled scan (monitors/_scan.c) against the Python loop (Matcher.scan_python) -------


def _ordered(parts: list[Any]) -> list[Any]:
    """Hits with their dicts' insertion order spelled out (== on dicts ignores it)."""
    return [[(piece, list(hits.items())) for piece, hits in part.items()] for part in parts]


def _both_scans(matcher: Matcher, prepared: PreparedText) -> tuple[list[Any], list[Any]]:
    scan = pytest.importorskip("monitors._scan", reason="monitors._scan is not compiled (no C compiler?)")
    compiled = scan.scan(prepared.tokens, prepared.run, *matcher.tables())
    return _ordered(compiled), _ordered(matcher.scan_python(prepared.tokens, prepared.run))


TOPICS = load_topics()
UNION = Matcher.union(t.matcher for t in TOPICS)
MATCHERS = [UNION, *(t.matcher for t in TOPICS)]


def test_compiled_scan_equals_the_python_loop_on_eval_texts_and_seeds() -> None:
    """Same hits, in the same order, for the union of the topics and each topic alone, on every
    example of tests/eval and every seed article (title, lead and text)."""
    items = [item for path in sorted(EVAL.glob("*.jsonl")) for item in read_labelled(path)]
    seeds = sorted((EVAL.parents[1] / "seeds").glob("*.txt"))
    articles = [(i.get("text", ""), i.get("title"), i.get("description")) for i in items]
    articles += [(p.read_text("utf-8"), None, None) for p in seeds]
    assert len(articles) >= 550 and seeds
    matched = 0
    for text, title, description in articles:
        prepared = prepare_text(text, title, description)
        for matcher in MATCHERS:
            compiled, reference = _both_scans(matcher, prepared)
            assert compiled == reference, (text[:80], title)
            matched += bool(any(reference))
    assert matched > 300  # texts with hits, not only empty scans


def _vocabulary_of(paths: list[Path]) -> list[str]:
    """The tokens of every pattern of the topic files (case kept and lower case), inflections
    of the prefix patterns' last tokens and tokens holding only a head's first bytes."""
    tokens: set[str] = set()
    for path in paths:
        data = tomllib.loads(path.read_text("utf-8"))
        patterns: list[str] = []
        for section in ("terms", "disambiguation", "proximity"):
            for spec in data.get(section, []):
                for key in ("patterns", "case_sensitive_patterns", "exclude", "left", "right", "not_after"):
                    patterns.extend(spec.get(key, []))
        patterns.extend(data.get("background", {}).get("patterns", []))
        tokens |= {tok for p in patterns for tok in fold(p.rstrip("*"), keep_case=True).split()}
        heads = {fold(p.rstrip("*"), keep_case=True).split()[-1] for p in patterns if p.endswith("*")}
        tokens |= {h + suffix for h in heads for suffix in ("s", "eennes", "X")} | {h[:3] for h in heads}
    return sorted(tokens | {tok.lower() for tok in tokens} | {tok.upper() for tok in tokens})


_ALL_VOCAB = _vocabulary_of(sorted(DEFAULT_TOPIC_PATH.parent.glob("*.toml")))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*_ALL_VOCAB, "le", "L", "zz", "M", "J", "etc", "The"]),
            st.sampled_from([" ", "'", ", ", ". ", "\n", " … ", ".", ","]),
        ),
        min_size=0,
        max_size=60,
    ),
    st.sampled_from([None, "", "Sommet IA : l'AI Act à Paris", "COP2 europeennes"]),
)
def test_compiled_scan_equals_the_python_loop_on_generated_texts(
    words: list[tuple[str, str]], title: str | None
) -> None:
    """Texts of several sentences made of every topic's vocabulary (patterns collide, overlap,
    nest, cross sentence ends; case-sensitive ones and guards meet both cases): same hits."""
    text = "".join(word + sep for word, sep in words)
    prepared = prepare_text(text, title)
    for matcher in MATCHERS:
        compiled, reference = _both_scans(matcher, prepared)
        assert compiled == reference


#: texts with decimals, and the summit's proximity rules they hold (figure near its firm)
DECIMALS = {
    "The new foundation will hold 2.5 billion. Prologis will invest $6.4bn in France.": {
        "Current AI's endowment",
        "Prologis's 6.4 billion",
    },
    "La fondation aura 2,5 milliards ; Prologis investira 6,4 milliards.": {
        "Current AI's endowment",
        "Prologis's 6.4 billion",
    },
    "Bpifrance, 1.5 times bigger, brings 10 billion.\nv2.0 of the AI Act, 3.14. 2025.Paris.": {
        "Bpifrance's 10 billion"
    },
}


def _same_scans_and_rules(texts: dict[str, set[str]]) -> None:
    """Each text: both scans give the same hits in the same order, and the summit's proximity
    rules found in its pieces are the ones given."""
    for text, rules in texts.items():
        prepared = prepare_text(text)
        for matcher in MATCHERS:
            compiled, reference = _both_scans(matcher, prepared)
            assert compiled == reference, text
        pieces = TOPIC.matcher.scan_tokens(prepared.tokens, prepared.run)[0].values()
        near_in = {
            p.name
            for p in TOPIC.proximities
            for hits in pieces
            if near(hits.get(p.left_owner), hits.get(p.right_owner), p.window)
        }
        assert near_in == rules, text


def test_compiled_scan_equals_the_python_loop_on_decimals() -> None:
    """Decimal points ("2.5 billion") are no sentence ends: both scans give the same hits in the
    same order, and find a figure near its firm in English as in French."""
    _same_scans_and_rules(DECIMALS)


#: texts with abbreviations and initials inside their sentences, and the summit's proximity
#: rules they hold across them
ABBREVIATIONS = {
    "La réglementation excessive, selon M. Vance, freine l'IA. Il faut un plan B. Le sommet attend.": {
        "Vance's speech"
    },
    "The U.S. and the U.K. did not sign, etc. The summit in Paris, Dr. Chen said, was about AI.": {
        "declaration not signed by the UK",
        "sommet ~ Paris/février 2025",
    },
    "Excessive regulation, U.S. Vice President J. D. Vance told the summit, could kill AI.": {
        "Vance's speech",
        "sommet ~ IA",
    },
}


def test_compiled_scan_equals_the_python_loop_on_abbreviations() -> None:
    """Abbreviations and initials ("M.", "U.S.", "J. D.") end no sentence in the run both scans
    read: the same hits in the same order, and rules found across them."""
    _same_scans_and_rules(ABBREVIATIONS)


def test_scan_tokens_takes_the_compiled_scan_where_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """TOKEN_SCAN says which runs; without the extension the Python loop gives the same hits."""
    prepared = prepare_text(TRICKY[0], "Le sommet de Paris sur l'IA")
    expected = UNION.scan_python(prepared.tokens, prepared.run)
    assert ("python" if matcher_module._scan is None else "compiled") == matcher_module.TOKEN_SCAN
    assert UNION.scan_tokens(prepared.tokens, prepared.run) == expected
    monkeypatch.setattr(matcher_module, "_scan", None)
    assert UNION.scan_tokens(prepared.tokens, prepared.run) == expected
