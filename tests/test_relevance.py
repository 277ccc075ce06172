"""Invariants of relevance scoring: folding, co-occurrence, disambiguation, bounds, evidence."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.judge.evaluation import score_lines
from monitors.judge.relevance import score_relevance
from monitors.judge.textfold import fold
from monitors.judge.topic import Topic, load_topic


@pytest.fixture(scope="module")
def topic() -> Topic:
    return load_topic()


PARIS = (
    "Le sommet pour l'action sur l'intelligence artificielle s'est ouvert lundi au Grand Palais, "
    "à Paris. Les dirigeants discutent de l'IA jusqu'à mardi."
)


def test_fold_accents_case_elision() -> None:
    expected = "l ia d intelligence artificielle seoul"
    assert fold("L’IA d'Intelligence Artificielle, Séoul") == expected
    assert fold("Œuvre — «IA»", keep_case=True) == "OEuvre IA"


@pytest.mark.parametrize(
    "phrase",
    [
        "l'IA",
        "l’IA",
        "L'IA",
        "d'IA",
        "l'intelligence artificielle",
        "d’intelligence artificielle",
        "L'INTELLIGENCE ARTIFICIELLE",
        "l'intelligence artificielle",
        "l'Intelligence Artificielle",
    ],
)
def test_ai_term_matches_with_elision_accents_case(topic: Topic, phrase: str) -> None:
    result = score_relevance(topic, f"Le sommet de Paris sur {phrase} s'ouvre lundi.")
    ai = {"IA", "intelligence artificielle"}
    assert ai & set(result.terms), result.evidence


@pytest.mark.parametrize(
    "text",
    [
        "Le sommet de Paris s'ouvre lundi : la via ferrata est fermée, la mia casa aussi.",
        "La cumbre de Paris: ia sigue abierta al público.",  # lowercase 'ia' (Italian/Spanish)
        "Le sommet de Paris : j'ai vu les IAGO et les MAIN.",
        "LE SOMMET DE PARIS : J'AI VU LE PRÉSIDENT",
    ],
)
def test_ia_token_not_inside_words_nor_lowercase(topic: Topic, text: str) -> None:
    result = score_relevance(topic, text)
    assert "IA" not in result.terms, result.evidence["matched"]
    assert not result.relevant


def test_accent_insensitive_anchor(topic: Topic) -> None:
    a = score_relevance(topic, "Sommet IA les 10 et 11 février à Paris", title=None)
    b = score_relevance(topic, "SOMMET IA LES 10 ET 11 FEVRIER A PARIS", title=None)
    assert "10-11 février" in a.terms and "10-11 février" in b.terms


def test_cooccurrence_required(topic: Topic) -> None:
    ai_only = score_relevance(
        topic,
        "L'intelligence artificielle transforme la médecine. L'IA lit les radios et l'IA aide les médecins.",
    )
    summit_only = score_relevance(
        topic,
        "Le sommet de Paris s'est ouvert au Grand Palais les 10 et 11 février avec cent délégations.",
    )
    both = score_relevance(topic, PARIS)
    assert not ai_only.relevant and not ai_only.evidence["cooccurrence"]
    assert not summit_only.relevant and not summit_only.evidence["cooccurrence"]
    assert both.relevant and both.evidence["cooccurrence"]
    assert ai_only.score < topic.threshold and summit_only.score < topic.threshold


@pytest.mark.parametrize(
    ("case", "text"),
    [
        (
            "bletchley_2023",
            "Sommet de Bletchley Park : 28 pays signent une déclaration sur les "
            "risques de l'intelligence artificielle. Rishi Sunak salue un succès.",
        ),
        (
            "seoul_2024",
            "Au sommet de Séoul sur l'IA, seize entreprises prennent des engagements de "
            "sécurité pour l'intelligence artificielle.",
        ),
        (
            "new_delhi_2026",
            "New Delhi accueillera en février 2026 le sommet sur l'impact de l'IA. "
            "L'Inde veut une intelligence artificielle pour le développement.",
        ),
        (
            "eu_ai_act",
            "Un sommet d'experts sur l'AI Act : le règlement européen sur l'IA entre en "
            "vigueur et encadre l'intelligence artificielle à haut risque.",
        ),
        (
            "product_launch",
            "Mistral lance Le Chat, son assistant d'IA, au sommet de la tech : une "
            "nouvelle version face à ChatGPT pour l'intelligence artificielle.",
        ),
        (
            "other_event",
            "Sommet Choose France à Versailles : Microsoft promet 4 milliards pour "
            "l'intelligence artificielle et l'IA dans le cloud.",
        ),
    ],
)
def test_disambiguation_without_tie(topic: Topic, case: str, text: str) -> None:
    result = score_relevance(topic, text)
    dis = result.evidence["disambiguation"]
    assert case in dis["cases"], dis
    assert dis["applied"] and not dis["tied_to_paris"]
    assert not result.relevant, (result.score, result.evidence)


#: REAIM, the summits on Responsible AI in the Military Domain (The Hague 2023, Seoul 2024):
#: a summit of governments on AI, in French and English, with and without its acronym
REAIM = [
    "Le sommet REAIM sur l'intelligence artificielle responsable dans le domaine militaire a "
    "réuni à Séoul des délégations de plus de 90 pays.",
    "At the REAIM summit on responsible AI in the military domain, held in The Hague, some sixty "
    "countries endorsed a call to action on the use of AI in warfare.",
    "The third summit on Responsible AI in the Military Domain drew defence officials to discuss "
    "autonomous weapons and human control over AI targeting.",
    "Les ministres de la Défense préparent le prochain sommet sur l'usage responsable de l'IA "
    "militaire, après La Haye en 2023 et Séoul en 2024.",
]


@pytest.mark.parametrize("published", [None, date(2025, 2, 11)], ids=["undated", "peak"])
@pytest.mark.parametrize("text", REAIM)
def test_reaim_is_another_event(topic: Topic, text: str, published: date | None) -> None:
    """A paragraph on REAIM is about another AI summit, undated and dated in the Paris summit's
    week alike (its [[disambiguation]] case); Paris naming it in passing stays the Paris summit."""
    result = score_relevance(topic, text, published_at=published)
    assert "reaim" in result.evidence["disambiguation"]["cases"]
    assert not result.relevant, (result.score, result.evidence)
    paris = "Au Grand Palais, le sommet pour l'action sur l'IA a laissé l'IA militaire hors de son texte."
    assert score_relevance(topic, paris, published_at=published).relevant


@pytest.mark.parametrize(
    "tie",
    [
        "Le prochain sommet se tiendra à Paris les 10 et 11 février 2025.",
        "Paris accueillera le sommet pour l'action sur l'IA.",
        "Le sommet de Paris sur l'IA prendra le relais en février 2025.",
    ],
)
def test_disambiguation_lifted_by_tie_to_paris(topic: Topic, tie: str) -> None:
    text = (
        "Au sommet de Séoul, les dirigeants ont parlé d'intelligence artificielle et de "
        f"sécurité de l'IA. {tie}"
    )
    result = score_relevance(topic, text)
    assert result.evidence["disambiguation"]["tied_to_paris"]
    assert result.relevant, (result.score, result.evidence)


def test_title_and_lead_weigh_more_than_tail(topic: Topic) -> None:
    filler = " ".join(["Le conseil municipal a voté le budget de la commune."] * 120)
    sentence = "Le sommet sur l'IA s'ouvre à Paris."
    in_title = score_relevance(topic, filler, title=sentence)
    in_lead = score_relevance(topic, sentence + " " + filler)
    in_tail = score_relevance(topic, filler + " " + sentence)
    assert in_title.score > in_lead.score > in_tail.score


def test_all_seeds_relevant(topic: Topic) -> None:
    seeds = sorted((Path(__file__).parents[1] / "seeds").glob("*.txt"))
    assert len(seeds) == 5
    for path in seeds:
        result = score_relevance(topic, path.read_text("utf-8"))
        assert result.relevant, (path.name, result.score)


def test_evidence_is_json_serialisable(topic: Topic) -> None:
    result = score_relevance(topic, PARIS, title="Sommet IA", description="Au Grand Palais")
    data = json.loads(json.dumps(result.evidence))
    assert data["groups_satisfied"] == ["ai", "summit"]
    assert data["best_sentence"]
    assert result.topic_version == topic.version
    assert result.terms[0] in data["matched"]


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=400), title=st.one_of(st.none(), st.text(max_size=60)))
def test_score_in_unit_interval_for_any_text(topic: Topic, text: str, title: str | None) -> None:
    result = score_relevance(topic, text, title=title)
    assert 0.0 <= result.score <= 1.0
    assert result.relevant == (result.score >= topic.threshold)
    json.dumps(result.evidence)


@pytest.mark.parametrize("many_scripts", [False, True])
def test_lone_surrogate_folds_to_a_space(topic: Topic, many_scripts: bool) -> None:
    """JSON lines can carry a lone surrogate ("\\ud800"): it is read as any other non-Latin
    character (a space), on both folding paths (few or many distinct non-ASCII characters)."""
    extra = " " + "".join(chr(0x0400 + i) for i in range(40)) if many_scripts else ""
    text = PARIS + extra
    with_surrogate = score_relevance(topic, text.replace(" ", " \ud800 ", 3), title="Sommet \udfff IA")
    plain = score_relevance(topic, text.replace(" ", "   ", 3), title="Sommet   IA")
    assert (with_surrogate.score, with_surrogate.terms) == (plain.score, plain.terms)
    assert with_surrogate.relevant


def test_version_changes_with_file(tmp_path: Path, topic: Topic) -> None:
    copy = tmp_path / "t.toml"
    shutil.copy(Path(__file__).parents[1] / "monitors" / "topics" / "ai_summit.toml", copy)
    assert load_topic(copy).version == topic.version
    copy.write_text(copy.read_text("utf-8") + "\n# edited\n", "utf-8")
    changed = load_topic(copy).version
    assert changed != topic.version and changed.split("+")[0] == topic.version.split("+")[0]


def test_score_lines_keeps_id_and_survives_bad_lines(topic: Topic) -> None:
    lines = [
        json.dumps({"id": "a", "text": PARIS, "title": "Sommet IA"}),
        "{not json",
        json.dumps({"id": "b"}),
        "",
        json.dumps(["a list"]),
        json.dumps({"text": "Il pleut sur Brest depuis trois jours sans interruption."}),
    ]
    out = [json.loads(x) for x in score_lines(lines, topic)]
    assert len(out) == 5
    assert out[0]["id"] == "a" and out[0]["relevant"] and out[0]["language"] == "fr"
    assert set(out[0]) >= {
        "language",
        "language_confidence",
        "relevance",
        "relevant",
        "relevance_terms",
    }
    assert out[1]["line"] == 2 and "error" in out[1]
    assert out[2]["id"] == "b" and "error" in out[2]
    assert "error" in out[3] and out[3]["line"] == 5
    assert out[4]["relevant"] is False and "id" not in out[4]


# A paragraph read on its own ([short_text], [period] peak): our own examples, not shared text.
_PARAGRAPH = (
    "Le fonds souverain annonce qu'il financera trois centres de données en Bourgogne, "
    "pour un montant de douze milliards d'euros, afin d'entraîner des modèles d'IA."
)


def test_short_text_in_the_peak_needs_the_events_vocabulary_and_says_why(topic: Topic) -> None:
    from monitors.judge.explain import why

    # AI in February 2025, but nothing of the summit's own cast or facts, nor of its
    # announcements' subject (AI infrastructure, funds investing): about something else
    study = (
        "Une étude menée dans quatre hôpitaux montre qu'un outil d'IA repère les tumeurs "
        "aussi bien qu'un interne, mais se trompe davantage chez les enfants."
    )
    bare = score_relevance(topic, study, published_at=date(2025, 2, 12))
    assert not bare.relevant
    assert bare.evidence["short_text"]["decided"] is False and bare.evidence["short_text"]["event"] == 0
    # naming one of the summit's people does not make a hospital study the summit's: AI in one
    # sector ([short_text] other_groups) outweighs a name that is in other news too
    in_hospitals = score_relevance(
        topic, study + " Emmanuel Macron s'en est félicité.", published_at=date(2025, 2, 12)
    )
    assert not in_hospitals.relevant and in_hospitals.evidence["short_text"]["other_event"] > 0
    # an AI paragraph of no sector naming one of the summit's people: in the peak, the date says
    # which event
    study = (
        "Un outil d'IA conçu par une jeune équipe lyonnaise résume les rapports publics "
        "en quelques secondes, mais se trompe encore sur les chiffres."
    )
    named = study + " Emmanuel Macron s'en est félicité."
    inside = score_relevance(topic, named, published_at=date(2025, 2, 12))
    assert inside.relevant
    short = inside.evidence["short_text"]
    assert short["decided"] and short["in_peak"] and set(short["groups"]) >= {"ai", "cast"}
    assert "short text published in the peak 2025-02-01..2025-02-28" in why(inside.evidence)
    # out of the peak, or with no date, a name that is in other news too is not enough
    for published in (date(2025, 6, 12), None):
        result = score_relevance(topic, named, published_at=published)
        assert not result.relevant and result.evidence["short_text"]["decided"] is False
    # out of the active period, the rules alone decide
    result = score_relevance(topic, named, published_at=date(2027, 2, 12))
    assert not result.relevant and result.evidence["short_text"] is None


def test_short_text_on_ai_infrastructure_in_the_peak_is_the_events(topic: Topic) -> None:
    # AI data centres financed by a fund, in February 2025: the summit's announcements
    inside = score_relevance(topic, _PARAGRAPH, published_at=date(2025, 2, 12))
    assert inside.relevant and set(inside.evidence["short_text"]["groups"]) >= {"ai", "infra"}
    # the same paragraph out of the peak, or undated, names nothing of the event
    for published in (date(2025, 6, 12), None):
        result = score_relevance(topic, _PARAGRAPH, published_at=published)
        assert not result.relevant and result.evidence["short_text"]["decided"] is False


def test_short_text_out_of_the_peak_needs_a_fact_of_the_event(topic: Topic) -> None:
    from monitors.judge.explain import why

    # a fact only this event has (the funds of the 109 billion, the co-chair with India, the
    # declaration the US and UK did not sign), with AI beside it, holds undated or months later
    cases = (
        "Le fonds émirati MGX financera un campus de centres de données d'un gigawatt pour l'IA.",
        "The AI declaration was endorsed by many countries, but Washington and London did not sign it.",
    )
    for text in cases:
        for published in (None, date(2025, 5, 3)):
            result = score_relevance(topic, text, published_at=published)
            assert result.relevant and "entity" in result.evidence["short_text"]["groups"], (text, published)
    undated = score_relevance(topic, cases[0])
    assert "short text undated: " in why(undated.evidence)
    # such a fact stands without an AI word: the co-chair with India
    cochair = "Cette édition marquait une coprésidence inédite entre la France et l'Inde, avec 900 délégués."
    assert score_relevance(topic, cochair).relevant
    # another event that names the same fund outweighs it: Stargate
    stargate = (
        "Stargate, la coentreprise d'OpenAI, SoftBank et Oracle avec le fonds MGX, investira "
        "500 milliards de dollars dans des centres de données aux États-Unis."
    )
    result = score_relevance(topic, stargate, published_at=date(2025, 1, 22))
    assert not result.relevant and result.evidence["short_text"]["decided"] is False


def test_short_text_needs_no_title_few_words_and_no_stronger_event(topic: Topic) -> None:
    peak = date(2025, 2, 10)
    # an article (a title) is decided by the rules: the title would name the summit if it were
    titled = score_relevance(topic, _PARAGRAPH, title="Bourgogne : trois centres", published_at=peak)
    assert not titled.relevant
    long_text = _PARAGRAPH + " Le chantier durera des années." * 20
    assert score_relevance(topic, long_text, published_at=peak).evidence["short_text"] is None
    # another event outweighs the AI words: a product launch
    launch = "DeepSeek lance un nouveau modèle. OpenAI répond avec ChatGPT et Mistral avec Le Chat, dit l'IA."
    result = score_relevance(topic, launch, published_at=peak)
    assert not result.relevant and result.evidence["short_text"]["decided"] is False
    # no AI, no infrastructure, no fund investing: French politics of the same days
    budget = "Le Premier ministre engage la responsabilité du gouvernement sur le budget de l'État."
    result = score_relevance(topic, budget, published_at=peak)
    assert not result.relevant and result.evidence["short_text"]["groups"] == []


def test_investment_by_funds_is_a_structure_not_a_list(topic: Topic) -> None:
    peak = date(2025, 2, 11)
    for text in (
        "Les investissements viendront notamment de fonds canadiens et d'un groupe de télécoms.",
        "The money comes from investments by a Gulf sovereign wealth fund and two pension funds.",
    ):
        result = score_relevance(topic, text, published_at=peak)
        assert result.relevant and "invest" in result.evidence["short_text"]["groups"], text


def test_short_text_themes_tie_a_paragraph_that_names_nothing_of_the_event(topic: Topic) -> None:
    from monitors.judge.explain import why

    # a speech on Europe's AI race: an AI word, a theme of the summit (competition,
    # simplification) and the scene (Europe, America, China), nothing of the event's own names
    speech = (
        "Le chef de l'État a appelé les Européens à simplifier leurs règles pour ne pas perdre "
        "la course à l'intelligence artificielle face à l'Amérique et à la Chine."
    )
    for published in (date(2025, 2, 11), None):
        result = score_relevance(topic, speech, published_at=published)
        short = result.evidence["short_text"]
        assert result.relevant and short["decided"], published
        assert set(short["theme"]) >= {"agenda", "scene"} and short["event"] > 0
        assert "(themes: agenda + scene)" in why(result.evidence)
    # elsewhere in the active period, the date says the summit was not the news
    result = score_relevance(topic, speech, published_at=date(2025, 6, 11))
    assert not result.relevant and result.evidence["short_text"]["theme"] == []
    # an AI word alone, or with the scene but no theme, is not enough
    for text in (
        "L'intelligence artificielle progresse vite, disent les chercheurs.",
        "L'intelligence artificielle progresse vite en France et en Chine, disent les chercheurs.",
    ):
        result = score_relevance(topic, text, published_at=date(2025, 2, 11))
        assert not result.relevant and result.evidence["short_text"]["theme"] == [], text
    # AI next to a theme in one clause stands for the scene ("open AI, in the public interest")
    opened = "Les organisateurs défendent une IA ouverte, au service de l'intérêt général."
    result = score_relevance(topic, opened)
    assert result.relevant and "aitheme" in result.evidence["short_text"]["theme"]
    # heads of state and delegations with an AI word are the stage itself
    stage = "Delegations from dozens of countries listened to heads of state speak about AI."
    result = score_relevance(topic, stage, published_at=date(2025, 2, 10))
    assert result.relevant and "stage" in result.evidence["short_text"]["theme"]


def test_short_text_themes_yield_to_another_event_or_subject(topic: Topic) -> None:
    peak = date(2025, 2, 11)
    # another event named, weighing half the themes or more: a model launch
    launch = (
        "The release of DeepSeek's cheap model raised doubts about whether the United States "
        "can keep its lead in the AI race."
    )
    result = score_relevance(topic, launch, published_at=peak)
    assert not result.relevant and result.evidence["short_text"]["theme"] == []
    assert result.evidence["short_text"]["other_event"] > 0
    # another subject of short texts ([short_text] other_groups): AI in one sector
    banks = (
        "L'intelligence artificielle pourrait supprimer des milliers d'emplois dans les agences "
        "bancaires françaises, selon un syndicat."
    )
    result = score_relevance(topic, banks, published_at=peak)
    assert not result.relevant and "AI in one sector" in result.terms
    # a technology word is a subject only with the themes around it
    themed = "Les start-up européennes réclament un marché unique pour rivaliser avec la Chine."
    assert score_relevance(topic, themed, published_at=peak).relevant
    bare = "Les start-up lyonnaises ont recruté davantage cette année."
    result = score_relevance(topic, bare, published_at=peak)
    assert not result.relevant and "tech" not in result.evidence["short_text"]["groups"]


def test_the_gathering_without_a_subject_word_in_the_peak_only(topic: Topic) -> None:
    """[short_text] bare_groups: a paragraph on the gathering itself names no AI; in the peak, a
    summit or gathering word, the stage of leaders and the scene tie it, when nothing else is named."""
    from monitors.judge.explain import why

    gathering = (
        "Des chefs d'État, des chercheurs et des patrons venus d'une centaine de pays participent "
        "à ce rendez-vous international de deux jours."
    )
    result = score_relevance(topic, gathering, published_at=date(2025, 2, 10))
    short = result.evidence["short_text"]
    assert result.relevant and short["subject"] == 0 and set(short["bare"]) >= {"gathering", "world", "scene"}
    assert "(the gathering: gathering + scene + world)" in why(result.evidence)
    # undated, or elsewhere in the period: no date says which gathering it is
    for published in (None, date(2025, 6, 10)):
        result = score_relevance(topic, gathering, published_at=published)
        assert not result.relevant and not (result.evidence["short_text"] or {}).get("bare"), published
    # another meeting of that month named: the leaders' summit on Ukraine at the Élysée
    ukraine = (
        "Les dirigeants européens se retrouvent lundi à l'Élysée pour un sommet informel sur "
        "l'Ukraine, à l'invitation du président français."
    )
    result = score_relevance(topic, ukraine, published_at=date(2025, 2, 17))
    assert not result.relevant and result.evidence["short_text"]["bare"] == []
    assert "february_2025_meetings" in result.evidence["disambiguation"]["cases"]
    # a gathering word and the scene without the world's leaders: any event in France; and
    # "dirigeants" alone, or Macron, are French politics that month too
    for text in (
        "Cet événement attire chaque année des milliers de visiteurs à Paris.",
        "Les dirigeants des partis de gauche se sont donné rendez-vous mardi pour discuter d'une "
        "motion de censure contre le gouvernement français.",
        "Emmanuel Macron a donné rendez-vous aux chefs de parti à l'Élysée jeudi, en France.",
    ):
        assert not score_relevance(topic, text, published_at=date(2025, 2, 5)).relevant, text


def test_another_event_recalled_in_the_background_weighs_less_in_a_short_text(topic: Topic) -> None:
    """An earlier summit named after a background marker ("after Bletchley and Seoul") is
    recalled, not the subject: in a short text it weighs [background] factor of a mention."""
    recalled = (
        "Après Bletchley Park et Séoul, ce sommet a mis l'accent sur l'innovation plutôt que sur "
        "les risques de l'IA."
    )
    result = score_relevance(topic, recalled, published_at=date(2025, 2, 11))
    cases = result.evidence["disambiguation"]["cases"]
    assert cases["bletchley_2023"]["background"] == 1
    assert cases["bletchley_2023"]["recalled"] < cases["bletchley_2023"]["contribution"]
    assert result.relevant and not result.evidence["short_text"]["other_event"] > 1.5
    # reported, not recalled: Seoul's summit is the subject
    reported = "À Séoul, ce sommet a mis l'accent sur l'innovation plutôt que sur les risques de l'IA."
    result = score_relevance(topic, reported, published_at=date(2025, 2, 11))
    seoul = result.evidence["disambiguation"]["cases"]["seoul_2024"]
    assert not result.relevant and "background" not in seoul


def test_a_word_of_any_event_meets_the_themes_in_the_peak_only(topic: Topic) -> None:
    """[short_text] peak_theme_groups: "cet événement" with AI and the scene is the summit in
    February 2025; undated, it is any AI event in France."""
    event = (
        "L'événement, qui réunit chaque année à Lyon les acteurs français de l'intelligence "
        "artificielle, a attiré cinq mille visiteurs."
    )
    result = score_relevance(topic, event, published_at=date(2025, 2, 12))
    assert result.relevant and result.evidence["short_text"]["theme"] == ["gathering", "scene"]
    result = score_relevance(topic, event)
    assert not result.relevant and result.evidence["short_text"]["theme"] == []


def test_day_named_in_a_text_takes_the_year_its_weekday_gives() -> None:
    from monitors.judge.days import day_named_in

    period, peak = (date(2023, 11, 1), date(2025, 12, 31)), (date(2025, 2, 1), date(2025, 2, 28))
    assert day_named_in("Lundi 10 février, au Grand Palais", period, peak) == date(2025, 2, 10)
    assert day_named_in("on Tuesday, Feb. 11, the last day", period, peak) == date(2025, 2, 11)
    assert day_named_in("samedi 1er février 2025", period, peak) == date(2025, 2, 1)
    # Monday 16 February is 2026 (outside the period), 10 February 2025 a Monday, not a Tuesday;
    # a named year outside the peak; a day without its weekday says no year at all
    for text in ("lundi 16 février", "Tuesday 10 February", "Monday, February 10 2026", "le 10 février"):
        assert day_named_in(text, period, peak) is None, text


def test_a_short_text_naming_a_day_of_the_peak_is_read_in_the_peak(topic: Topic) -> None:
    """Undated, or dated elsewhere in the period (an aftermath), a paragraph whose own words
    name a day of the peak ("mardi 11 février") is read as published in the peak."""
    from monitors.judge.explain import why

    text = "Mardi 11 février, dernier jour du sommet, les discussions sur l'IA se sont prolongées tard."
    aftermath = (
        "Looking back, most delegates who arrived at the summit on Monday, February 10 left "
        "disappointed by what was agreed on artificial intelligence."
    )
    for said, published, day in ((text, None, "2025-02-11"), (aftermath, date(2025, 4, 2), "2025-02-10")):
        result = score_relevance(topic, said, published_at=published)
        short = result.evidence["short_text"]
        assert result.relevant and short["in_peak"] and short["day"] == day, published
        assert f"short text naming {day}, in the peak" in why(result.evidence)
    # without the day, undated, "the summit" and AI say no which summit; a Monday 16 February is
    # 2026's (the New Delhi summit); published outside the period, the text is not read so
    for other, published in (
        (text.replace("Mardi 11 février, d", "D"), None),
        (text.replace("Mardi 11", "Lundi 16"), None),
        (text, date(2026, 2, 11)),
    ):
        result = score_relevance(topic, other, published_at=published)
        assert not result.relevant and not (result.evidence["short_text"] or {}).get("day"), other
    # a day of the peak is a date, not the event's vocabulary: an AI word alone is not enough
    app = "Jeudi 6 février, l'application a franchi le million de téléchargements grâce à son IA."
    result = score_relevance(topic, app)
    assert not result.relevant and result.evidence["short_text"]["in_peak"]


def test_theme_words_match_their_inflections(topic: Topic) -> None:
    """The themes and the scene are stems ("environnement*", "cooperation*", "europ*"): a
    paragraph says "environnementale", "coopération", "européennes", not the listed form."""
    text = (
        "Les intervenants ont insisté sur l'empreinte environnementale de l'intelligence "
        "artificielle et sur la coopération internationale nécessaire pour la réduire."
    )
    result = score_relevance(topic, text, published_at=date(2025, 2, 11))
    assert result.relevant and set(result.evidence["short_text"]["theme"]) >= {"agenda", "scene"}
    # and next to AI in one clause, undated ("l'IA et ses enjeux réglementaires")
    undated = "Les débats sur l'IA et ses enjeux réglementaires ont occupé la deuxième journée."
    result = score_relevance(topic, undated)
    assert result.relevant and "aitheme" in result.evidence["short_text"]["theme"]
    # agent nouns are not themes: regulators questioning a company over data is that company's news
    apple = (
        "Apple said its AI features would reach European users later this year, after regulators "
        "in Brussels questioned how the company shares data with developers."
    )
    assert not score_relevance(topic, apple, published_at=date(2025, 2, 13)).relevant


def test_other_events_recalled_over_recent_months_weigh_less(topic: Topic) -> None:
    """ "ces derniers mois", "in recent months" are background markers: the conferences the host
    held on other subjects are recalled, not reported."""
    recalled = (
        "Le président en a accueilli plusieurs ces derniers mois, pour l'Ukraine ou pour le Liban ; "
        "cette fois, ce rendez-vous porte sur la tech et sur les start-up françaises."
    )
    result = score_relevance(topic, recalled, published_at=date(2025, 2, 8))
    assert result.evidence["disambiguation"]["cases"]["february_2025_meetings"]["background"] == 1
    assert result.relevant
    # the other meeting reported, not only recalled: Kyiv's security is the subject
    reported = (
        "In recent months the president has hosted leaders on Ukraine and on Gaza; Monday's meeting "
        "at the Élysée is about security guarantees for Kyiv."
    )
    assert not score_relevance(topic, reported, published_at=date(2025, 2, 17)).relevant


# More of the event's own facts (2026-12-06): each rule of the topic, the group it feeds, a
# paragraph it ties to the summit and the date it is read at (None: undated). Each paragraph
# names nothing else of the summit, so each fails without its rule.
_EVENT_FACTS = [
    (
        "Iliad's 3 billion",
        "entity",
        "Le groupe Iliad a promis 3 milliards d'euros pour l'IA, dont un centre de données.",
        None,
    ),
    (
        "Prologis's 6.4 billion",
        "entity",
        "Prologis a promis 6,4 milliards d'euros pour quatre centres de données.",
        None,
    ),
    (
        "the summit's week",
        "entity",
        "Du 6 au 11 février, chercheurs et artistes débattent d'intelligence artificielle.",
        None,
    ),
    (
        "the science days of the summit",
        "entity",
        "La conférence AI, Science and Society a réuni des chercheurs en intelligence artificielle.",
        date(2025, 3, 5),
    ),
    (
        "the business day at Station F",
        "entity",
        "The business day at Station F gathered start-up founders around AI.",
        None,
    ),
    (
        "Vance's first trip abroad",
        "entity",
        "Pour son premier voyage à l'étranger, JD Vance a défendu une IA sans entraves.",
        None,
    ),
    (
        "Vance against hand-wringing",
        "entity",
        "Vance told the room that the future of AI would not be won by hand-wringing about safety.",
        None,
    ),
    (
        "Amodei's missed opportunity",
        "entity",
        "Dario Amodei a qualifié la rencontre d'occasion manquée pour l'IA.",
        None,
    ),
    (
        "Brookfield's 20 billion",
        "entity",
        "Brookfield engagera 20 milliards d'euros d'ici 2030, surtout dans des centres de données.",
        None,
    ),
    (
        "Digital Realty's 6 billion",
        "entity",
        "Digital Realty will put 6 billion euros into new data centres near Marseille.",
        None,
    ),
    (
        "Bpifrance's 10 billion",
        "entity",
        "Bpifrance investira 10 milliards d'euros dans l'intelligence artificielle d'ici 2029.",
        None,
    ),
    (
        "the side events' guests and venues",
        "cast",
        "L'IASEAI a réuni à l'OCDE des chercheurs en IA.",
        date(2025, 2, 7),
    ),
    (
        "the side events' guests and venues",
        "cast",
        "Un week-end culturel consacré à l'IA s'ouvre à la BnF.",
        date(2025, 2, 8),
    ),
    (
        "India hosts the next summit",
        "cast",
        "The next edition will be held in India, organisers of the AI meeting said.",
        date(2025, 2, 11),
    ),
    (
        "the declaration's signatories",
        "cast",
        "Some 60 countries signed the text on artificial intelligence.",
        date(2025, 2, 11),
    ),
    ("109 milliards", "outcome", "Macron touts €109bn for AI.", None),
    ("InvestAI's 200 billion", "entity", "Brussels mobilises €200bn for AI.", None),
]


@pytest.mark.parametrize(("rule", "group", "text", "published"), _EVENT_FACTS)
def test_a_fact_of_the_event_ties_a_paragraph_to_it(
    topic: Topic, rule: str, group: str, text: str, published: date | None
) -> None:
    """The event's own facts, from public knowledge of the summit (its side events, the firms'
    pledges, its guests' acts there), tie a paragraph that names nothing else of it."""
    result = score_relevance(topic, text, published_at=published)
    assert result.evidence["matched"][rule]["group"] == group
    assert result.relevant and group in result.evidence["short_text"]["groups"], result.evidence["short_text"]


def test_facts_in_other_news_need_the_subject_or_the_peak(topic: Topic) -> None:
    """A firm's pledge or Vance's first trip weighs under alone_min: without AI beside it, it
    is that firm's or that trip's news; the cast's facts (a count of signatories, the next
    edition in India) count in the peak only; Station F without its business day is another
    event."""
    for text, published in (
        ("Brookfield will spend 20 billion dollars on solar and wind farms in Brazil.", None),
        ("Bpifrance prêtera 10 milliards d'euros aux PME du bâtiment d'ici 2029.", None),
        (
            "Pour son premier voyage à l'étranger, JD Vance s'est rendu à Munich pour parler de l'Ukraine.",
            date(2025, 2, 14),
        ),
        ("Some 60 countries endorsed a blueprint on the military use of artificial intelligence.", None),
        ("The next edition will be held in India, organisers of the AI meeting said.", None),
        ("Station F ouvre un nouveau programme pour les jeunes pousses de l'IA.", None),
        # a firm with another's figure is not its pledge
        ("Iliad a promis 20 milliards d'euros pour l'IA, dont un centre de données.", None),
    ):
        assert not score_relevance(topic, text, published_at=published).relevant, text


def test_invisible_characters_inside_words_do_not_cut_them() -> None:
    """Soft hyphens (``&shy;``), zero-width spaces and joiners, word joiners and a stray BOM
    show nothing; text pasted from a page may hold them inside words. Folded as punctuation,
    they cut the word ("intelli\u00adgence" was "intelli gence"), so no term matched; deleted,
    the text scores as its visible letters do."""
    topic = load_topic()
    title = "Sommet pour l'action sur l'IA à Paris"
    text = (
        "Le sommet pour l'action sur l'intelligence artificielle s'ouvre au Grand Palais. "
        "Les chefs d'État parlent d'intelligence artificielle."
    )
    hidden = {
        "Sommet": "Som\u00admet",
        "intelligence": "intelli\u00adgence",
        "artificielle": "arti\u200bficielle",
        "Grand Palais": "Grand Pa\u2060lais",
        "sommet": "som\u200dmet",
        "IA": "I\u200cA",
    }
    shown_title, shown_text = title, text
    for word, with_invisible in hidden.items():
        shown_title = shown_title.replace(word, with_invisible)
        shown_text = shown_text.replace(word, with_invisible)
    assert shown_text != text and "\ufeff" not in shown_text
    plain = score_relevance(topic, text, title=title)
    seen = score_relevance(topic, "\ufeff" + shown_text, title=shown_title)
    assert plain.relevant and seen.relevant
    assert (seen.score, seen.terms) == (plain.score, plain.terms)


@pytest.mark.parametrize("invisible", ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_every_fold_deletes_invisible_characters(invisible: str) -> None:
    """Not only scoring: the folds the learned model reads (``textfold.fold``) and those of
    the copy and story features (``copies.fold``, ``stories.features``) keep a word with an
    invisible character inside it whole, as the text shows it."""
    from monitors.group import copies, stories

    assert fold(f"l'intelli{invisible}gence") == "l intelligence"
    assert copies.fold(f"Ma{invisible}cron") == "Macron"
    shown = stories.features("Le président Emmanuel Macron a reçu Narendra Modi.", None)
    hidden = stories.features(
        f"Le président Emmanuel Ma{invisible}cron a reçu Narendra Mo{invisible}di.", None
    )
    assert hidden == shown
