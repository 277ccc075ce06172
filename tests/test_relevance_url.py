"""The page's URL as a weak zone of relevance (``[zones] url``): its path words, read as the
topic reads text, for a text without a title, when they name the event, with the same damping
by another event or another year; on (a topic with the zone) and off (the shipped summit topic)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from monitors.judge.evaluation import evaluate_relevance, score_lines
from monitors.judge.explain import why
from monitors.judge.relevance import score_relevance
from monitors.judge.topic import URL_ZONE, load_topic
from monitors.judge.url_words import url_words

SHIPPED = load_topic()
TOPIC = dataclasses.replace(SHIPPED, zone_weights={**SHIPPED.zone_weights, URL_ZONE: 1.0})
URL_SET = Path(__file__).resolve().parent / "eval" / "url-paragraphs.jsonl"
# a summit paragraph we wrote: none of the summit's words, only what its page's address says
PARAGRAPH = (
    "Les représentants syndicaux ont regretté d'avoir été reçus une heure à peine, entre deux tables"
    " rondes, et promettent de revenir à la charge dans les entreprises."
)
SUMMIT_URL = "https://www.exemple.fr/economie/2025/02/11/au-sommet-de-lia-a-paris-les-syndicats-reclament"
DELHI_URL = "https://www.exemple.fr/monde/2026/02/19/a-new-delhi-le-sommet-sur-lia-veut-parler-au-sud"


def test_url_words_keep_the_path_slug_only() -> None:
    words = url_words("https://nation.ai/fr/sommet-pour-lia-a-paris-4f9c2a1b77e?p=7562&ref=ai", TOPIC)
    # the host and the query are not the subject; an id mixing letters and digits is dropped; the
    # elided article glued to "IA" is split off and IA takes the case the topic's patterns ask for
    assert words == "fr sommet pour l IA a paris"
    assert url_words("https://x.fr/2025/02/10/lintelligence-artificielle-g7-cop28-123456.html", TOPIC) == (
        "2025 l intelligence artificielle g7 cop28"
    )
    # percent-encoded accents are read and folded; "Elysee" has the case of a case-sensitive pattern
    assert (
        url_words("https://x.fr/actu/d%C3%A9bat-%C3%A0-l%C3%A9lys%C3%A9e", TOPIC) == "actu debat a l Elysee"
    )
    assert url_words(None, TOPIC) == url_words("", TOPIC) == ""
    assert url_words("https://[bad", TOPIC) == ""


def test_a_paragraph_from_a_summit_page_is_found_by_its_url() -> None:
    day = score_relevance(TOPIC, PARAGRAPH, published_at=None).evidence["period"]
    assert day["url_years"] == [] and not day["url_outside"]
    without = score_relevance(TOPIC, PARAGRAPH, url=None)
    with_url = score_relevance(TOPIC, PARAGRAPH, url=SUMMIT_URL)
    assert not without.relevant and with_url.relevant
    ev = with_url.evidence
    assert ev["url"].endswith("au sommet de l IA a paris les syndicats reclament")
    zones = {name: m["zones"] for name, m in ev["matched"].items()}
    assert all(z == {URL_ZONE: 1} for z in zones.values()) and zones  # every match is the URL's
    assert ev["best_sentence"] == ""  # the URL is never the sentence that weighed most
    assert why(ev).startswith("url: ")


def test_the_url_zone_is_off_at_weight_zero_and_with_a_title() -> None:
    assert SHIPPED.zone_weights[URL_ZONE] == 0.0  # the summit topic ships without it (docs/topics.md)
    result = score_relevance(SHIPPED, PARAGRAPH, url=SUMMIT_URL)
    assert not result.relevant and result.evidence["url"] is None and not result.evidence["matched"]
    # a slug is made from the title: with one, the URL says nothing more and is not read
    titled = score_relevance(TOPIC, PARAGRAPH, title="Les syndicats réclament leur place", url=SUMMIT_URL)
    assert titled.evidence["url"] is None and not titled.relevant


def test_a_url_counts_only_when_it_names_this_event() -> None:
    # an AI summit without saying which, or Paris and Macron without a summit: not this event
    for url in (
        "https://news.example.com/world/modi-pitches-india-as-ai-hub-at-ai-summit",
        "https://www.exemple.fr/2025/02/11/macron-a-paris-parle-d-ia",
    ):
        result = score_relevance(TOPIC, PARAGRAPH, published_at=None, url=url)
        assert result.evidence["url"] and not result.evidence["url_names_topic"], url
        assert not any(URL_ZONE in m["zones"] for m in result.evidence["matched"].values())
        assert not result.relevant
    named = score_relevance(TOPIC, PARAGRAPH, url=SUMMIT_URL)
    assert named.evidence["url_names_topic"]


def test_our_url_paragraphs_with_and_without_the_url() -> None:
    """tests/eval/url-paragraphs.jsonl: six paragraphs we wrote with the URL of their page."""
    on = evaluate_relevance(URL_SET, TOPIC)
    off = evaluate_relevance(URL_SET, TOPIC, url=False)
    assert on["errors"] == []
    assert sorted(e["id"] for e in off["errors"]) == ["en-par-url-02", "fr-par-url-01", "fr-par-url-03"]


def test_a_url_naming_another_event_or_year_damps_as_text_does() -> None:
    # undated: the URL's only year, 2026, is outside the summit's period
    delhi = score_relevance(TOPIC, PARAGRAPH, url=DELHI_URL)
    assert not delhi.relevant
    assert delhi.evidence["period"]["url_years"] == [2026] and delhi.evidence["period"]["url_outside"]
    assert "new_delhi_2026" in delhi.evidence["disambiguation"]["cases"]
    # dated, the URL's years do not override the date
    dated = score_relevance(TOPIC, PARAGRAPH, url=DELHI_URL.replace("2026", "2025"))
    assert not dated.evidence["period"]["url_outside"]
    seoul = "https://news.example.com/asia/seoul-ai-summit-companies-sign-commitments"
    assert not score_relevance(TOPIC, "Leaders talked about AI.", url=seoul).relevant


def test_score_lines_read_the_url_and_ignore_a_bad_one() -> None:
    lines = [
        json.dumps({"id": "u", "text": PARAGRAPH, "url": SUMMIT_URL, "published_at": "2025-02-11"}),
        json.dumps({"id": "n", "text": PARAGRAPH, "published_at": "2025-02-11"}),
        json.dumps({"id": "b", "text": PARAGRAPH, "url": 42}),
    ]
    warnings: list[str] = []
    rows = {r["id"]: r for r in map(json.loads, score_lines(lines, TOPIC, warn=warnings.append))}
    assert rows["u"]["relevant"] and not rows["n"]["relevant"]
    assert rows["u"]["published_at"] == "2025-02-11" and "published_at" not in rows["b"]
    assert "error" not in rows["b"] and not rows["b"]["relevant"]
    assert warnings == ['line 3: "url" must be a string; scored without it']


def test_the_score_help_example_with_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example of ``veille score --help``, as documented: url.toml is the summit topic with
    the URL zone on; with the shipped topic the same line is read, and its URL left out."""
    import contextlib
    import io
    import re
    import sys

    from flows.cli import main
    from flows.commands.score import EXAMPLE

    found = re.search(r"echo '(\{[^']*\"url\"[^']*\})' \| veille score --topic url.toml", EXAMPLE)
    assert found is not None
    raw = Path(SHIPPED.path).read_text("utf-8")
    (tmp_path / "url.toml").write_text(raw.replace("tail = 0.5\n", "tail = 0.5\nurl = 1.0\n", 1), "utf-8")
    monkeypatch.chdir(tmp_path)
    results = []
    for argv in (["score", "--topic", "url.toml"], ["score"]):
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdin", io.StringIO(found.group(1) + "\n"))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            assert main(argv) == 0
        results.append(json.loads(out.getvalue())["relevant"])
    assert results == [True, False]
