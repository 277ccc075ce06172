"""Relevance in context (monitors/judge/context.py): a short text judged with its batch.

Every text here was written for these tests (a firm, a place and a person that do not exist).
"""

from __future__ import annotations

from typing import Any

import pytest

from monitors.judge.context import is_seed, names, propagate
from monitors.judge.explain import why
from monitors.judge.relevance import RelevanceResult, score_item
from monitors.judge.topic import Topic, load_topic

SEED = {
    "id": "seed",
    "title": "Sommet pour l'action sur l'IA : Valorine promet 4,2 milliards d'euros à Villeurbanne",
    "text": (
        "En marge du Sommet pour l'action sur l'intelligence artificielle, au Grand Palais, "
        "l'entreprise lyonnaise Valorine a annoncé lundi un investissement de 4,2 milliards "
        "d'euros dans un centre de calcul à Villeurbanne. Sa directrice, Hélène Corbière, a "
        "détaillé le calendrier devant Emmanuel Macron et les autres dirigeants présents à Paris."
    ),
    "published_at": "2025-02-10",
}
# the article's follow-up, lifted alone: no AI word, no summit, nothing of the event's vocabulary
PARAGRAPH = {
    "id": "par",
    "text": (
        "Le chantier de Valorine à Villeurbanne doit commencer à l'automne, a précisé Hélène "
        "Corbière, qui évoque 4,2 milliards d'euros et plusieurs centaines d'emplois sur dix ans."
    ),
    "published_at": "2025-02-11",
}
# same town, nothing else in common
POOL = {
    "id": "pool",
    "text": (
        "Le chantier de la nouvelle piscine de Villeurbanne doit commencer à l'automne, selon la "
        "mairie, pour un coût de 12 millions d'euros."
    ),
    "published_at": "2025-02-11",
}


@pytest.fixture(scope="module")
def topic() -> Topic:
    return load_topic()


def _judge(topic: Topic, batch: list[dict[str, Any]], **options: Any) -> list[RelevanceResult]:
    return propagate(topic, batch, [score_item(topic, item) for item in batch], **options)


def test_a_paragraph_close_to_an_article_about_the_event_is_relevant_in_context(topic: Topic) -> None:
    batch = [SEED, PARAGRAPH, POOL]
    alone = [score_item(topic, item) for item in batch]
    assert [r.relevant for r in alone] == [True, False, False]
    seed, paragraph, pool = propagate(topic, batch, alone)
    assert seed == alone[0] and pool == alone[2]
    assert paragraph.relevant and paragraph.score >= topic.threshold
    found = paragraph.evidence["context"]
    assert found["neighbour"] == 1 and found["neighbour_id"] == "seed"
    assert found["neighbour_title"].startswith("Sommet pour l'action sur l'IA")
    assert found["similarity"] >= 0.3
    # the firm, its director and the amount; not the town, which the pool shares too
    assert {"e:valorine", "e:corbiere", "n:4.2e9"} <= set(found["shared"])
    assert "e:villeurbanne" not in found["shared"]
    line = why(paragraph.evidence)
    assert "in context: like line 1 «Sommet pour l'action sur l'IA" in line
    assert "valorine" in line and "4.2e9" in line


def test_refs_name_the_neighbour(topic: Topic) -> None:
    batch = [SEED, PARAGRAPH]
    lifted = _judge(topic, batch, refs=[7, 9])[1]
    assert lifted.evidence["context"]["neighbour"] == 7


def test_names_most_of_the_batch_holds_say_nothing(topic: Topic) -> None:
    """A paragraph on another subject beside a summit article naming the same firm, its boss and
    the president: in a batch where most items name them, they are not distinctive."""
    seed = dict(
        SEED, text=SEED["text"] + " Jean Dubreuil, patron de Nexalia, était là, comme Emmanuel Macron."
    )
    negative = {
        "id": "nexalia",
        "text": (
            "Nexalia, la société de Jean Dubreuil, recrute des ingénieurs à Londres, a indiqué lundi "
            "Emmanuel Macron, présent aux côtés des dirigeants."
        ),
    }
    others = [
        {
            "id": f"o{n}",
            "title": f"Actualité {n}",
            "text": f"Jean Dubreuil, de Nexalia, cité par Emmanuel Macron, numéro {n}.",
        }
        for n in range(3)
    ]
    batch = [seed, negative, *others]
    assert not _judge(topic, batch)[1].relevant
    # the rule that keeps it out: with every name counted, it is lifted
    assert _judge(topic, batch, max_share=1.0)[1].relevant


def test_one_shared_name_is_not_enough(topic: Topic) -> None:
    paragraph = {
        "id": "one",
        "text": (
            "Le centre de calcul de Valorine ouvrira à l'automne : l'investissement annoncé lundi "
            "devant les dirigeants présents sera détaillé en mars."
        ),
        "published_at": "2025-02-11",
    }
    batch = [SEED, paragraph, POOL]
    assert not _judge(topic, batch)[1].relevant
    assert _judge(topic, batch, min_shared=1)[1].relevant


def test_dates_far_apart_do_not_meet_but_a_month_covers_its_days(topic: Topic) -> None:
    later = dict(PARAGRAPH, published_at="2025-04-20")
    assert not _judge(topic, [SEED, later, POOL])[1].relevant
    month = dict(PARAGRAPH, published_at="2025-02")  # a date known to the month spans it
    assert _judge(topic, [SEED, month, POOL])[1].relevant
    undated = dict(PARAGRAPH, published_at=None)
    assert _judge(topic, [SEED, undated, POOL])[1].relevant


def test_a_paragraph_naming_another_event_is_not_lifted(topic: Topic) -> None:
    other = dict(
        PARAGRAPH,
        text=PARAGRAPH["text"] + " Le projet avait d'abord été présenté au sommet de Séoul.",
    )
    result = _judge(topic, [SEED, other, POOL])[1]
    assert result.evidence["disambiguation"]["cases"]
    assert not result.relevant


def test_a_name_that_needs_the_date_does_not_seed(topic: Topic) -> None:
    """ "The AI summit" names June's G7 as well when dated in the period: such an item is relevant
    by the rules but no seed for its neighbours."""
    seed = dict(
        SEED,
        title="Au sommet de l'IA, Valorine promet 4,2 milliards d'euros à Villeurbanne",
        text=(
            "Au sommet de l'IA, l'entreprise lyonnaise Valorine a annoncé lundi un investissement "
            "de 4,2 milliards d'euros dans un centre de calcul à Villeurbanne, a dit Hélène Corbière."
        ),
    )
    alone = score_item(topic, seed)
    assert alone.relevant and not is_seed(topic, alone)
    assert not _judge(topic, [seed, PARAGRAPH, POOL])[1].relevant


def test_one_hop_and_order_free(topic: Topic) -> None:
    """A text made relevant by its context seeds nothing: a second paragraph close to the first
    only stays out; and the batch's order changes no verdict."""
    second = {
        "id": "second",
        "text": (
            "Plusieurs centaines d'emplois sur dix ans : Hélène Corbière l'a redit à l'automne "
            "devant les élus de la métropole, chantier après chantier."
        ),
        "published_at": "2025-02-11",
    }
    batch = [SEED, PARAGRAPH, second, POOL]
    verdicts = [r.relevant for r in _judge(topic, batch)]
    assert verdicts == [True, True, False, False]
    backwards = [r.relevant for r in _judge(topic, batch[::-1])]
    assert backwards[::-1] == verdicts


def test_a_batch_without_a_seed_changes_nothing(topic: Topic) -> None:
    batch = [PARAGRAPH, POOL]
    alone = [score_item(topic, item) for item in batch]
    assert propagate(topic, batch, alone) == alone


def test_names_are_words_capitalised_inside_a_sentence() -> None:
    found = names("Si la Global South parle, Hélène Corbière répond. Valorine signe lundi.")
    assert found == {
        "global": "global south",
        "south": "global south",
        "corbiere": "helene corbiere",
        "helene": "helene corbiere",
    }
    assert "si" not in found and "lundi" not in found and "valorine" not in found


def test_a_candidate_is_compared_only_with_seeds_sharing_a_distinctive_name(
    topic: Topic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seed can lift a candidate only when they share distinctive names or numbers, so the
    other seeds are not compared with it: before, every candidate was compared with every seed
    (``veille score --context`` of 5,000 lines took 30 s of CPU, 2,000 lines 5 s: quadratic).
    Same results: the paragraph is lifted by its article, the pool by nobody."""
    import monitors.judge.context as context

    others = [
        {
            **SEED,
            "id": f"seed{n}",
            "title": f"Sommet pour l'action sur l'IA : Brunvald{n} promet {n},5 milliards à Quimper{n}",
            "text": SEED["text"]
            .replace("Valorine", f"Brunvald{n}")
            .replace("4,2", f"{n},5")
            .replace("Villeurbanne", f"Quimper{n}")
            .replace("Hélène Corbière", f"Odile Marsan{n}"),
        }
        for n in range(1, 7)
    ]
    batch = [SEED, *others, PARAGRAPH, POOL]
    results = [score_item(topic, item) for item in batch]
    assert sum(is_seed(topic, r) for r in results) == 7
    calls: list[tuple[str, ...]] = []
    real = context.cosine

    def counted(a: Any, b: Any) -> float:
        calls.append(tuple(a))
        return real(a, b)

    monkeypatch.setattr(context, "cosine", counted)
    out = propagate(topic, batch, results)
    assert [r.relevant for r in out[-2:]] == [True, False]
    assert out[-2].evidence["context"]["neighbour_id"] == "seed"
    # the paragraph met the one seed naming Valorine; the pool shares only Villeurbanne, which
    # three of the nine items hold (not distinctive): it meets none (before: 2 x 7 comparisons)
    assert len(calls) == 1
