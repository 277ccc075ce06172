"""Scoring an article for several topics at once (``score_topics``: the text prepared and
scanned once, by the union of the topics' matchers) gives what scoring it for each topic alone
(``score_relevance``) gives: same scores, verdicts, terms and evidence, in the same order."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.judge.matcher import Matcher, run_tokens
from monitors.judge.relevance import RelevanceResult, score_relevance, score_topics
from monitors.judge.textfold import fold, fold_article
from monitors.judge.topic import load_topic

TOPIC_DIR = Path(__file__).resolve().parents[1] / "monitors" / "topics"
PATHS = sorted(TOPIC_DIR.glob("*.toml"))
# every topic, and the first again: a union may hold the same patterns twice
TOPICS = [load_topic(p) for p in PATHS] + [load_topic(PATHS[0])]


def _vocabulary() -> list[str]:
    """The topics' own words (so patterns of several topics meet in one text), in the case
    their patterns ask for and lower case, a few accented and inflected, and filler words."""
    tokens: set[str] = set()
    for path in PATHS:
        data = tomllib.loads(path.read_text("utf-8"))
        specs = data.get("terms", []) + data.get("disambiguation", []) + data.get("proximity", [])
        specs.append(data.get("background", {}))
        for spec in specs:
            for key in ("patterns", "case_sensitive_patterns", "exclude", "left", "right"):
                for pattern in spec.get(key, []):
                    words = fold(pattern.rstrip("*"), keep_case=True).split()
                    tokens.update(words)
                    if pattern.endswith("*") and words:
                        tokens.add(words[-1] + "ennes")
    tokens |= {t.lower() for t in tokens}
    return sorted(tokens | {"l'IA", "Élysée", "européenne", "sommet", "the", "de", "2025", "«", "—"})


_VOCAB = _vocabulary()
_SENTENCE = st.lists(st.sampled_from(_VOCAB), max_size=12).map(" ".join)


def _text(ends: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.lists(_SENTENCE, max_size=6), ends).map(lambda t: t[1].join(t[0]))


def _dump(results: list[RelevanceResult]) -> list[str]:
    # the JSON a topic row stores: key order counts too
    return [json.dumps(dataclasses.asdict(r), ensure_ascii=False) for r in results]


@settings(max_examples=150, deadline=None)
@given(
    text=_text(st.sampled_from([". ", "\n", " ! ", "… ", " ; "])),
    title=st.one_of(st.none(), _SENTENCE),
    description=st.one_of(st.none(), _text(st.just(". "))),
    published_at=st.one_of(st.none(), st.dates(date(2023, 1, 1), date(2026, 12, 31))),
    url=st.one_of(
        st.none(), st.sampled_from(["https://x.fr/2025/02/10/sommet-pour-lia-a-paris", "https://x.eu/ai-act"])
    ),
)
def test_all_topics_at_once_score_as_each_topic_alone(
    text: str, title: str | None, description: str | None, published_at: date | None, url: str | None
) -> None:
    kwargs = {"title": title, "description": description, "published_at": published_at, "url": url}
    together = score_topics(TOPICS, text, **kwargs)  # type: ignore[arg-type]
    alone = [score_relevance(t, text, **kwargs) for t in TOPICS]  # type: ignore[arg-type]
    assert _dump(together) == _dump(alone)


@settings(max_examples=100, deadline=None)
@given(text=_text(st.sampled_from([". ", "\n"])), title=_SENTENCE)
def test_the_union_finds_each_matchers_matches(text: str, title: str) -> None:
    run, _, _ = fold_article(title, "", text)
    parts = Matcher.union(t.matcher for t in TOPICS).scan_tokens(run_tokens(run), run)
    assert parts == [t.matcher.scan(run) for t in TOPICS]


def test_one_topic_and_no_text() -> None:
    assert _dump(score_topics(TOPICS[:1], "Le sommet de Paris sur l'IA.")) == _dump(
        [score_relevance(TOPICS[0], "Le sommet de Paris sur l'IA.")]
    )
    assert _dump(score_topics(TOPICS, "")) == _dump([score_relevance(t, "") for t in TOPICS])
