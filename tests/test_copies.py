"""Edit-tolerant copies on texts we wrote: containment, respun copies, translations, and the
independent reports that must stay apart."""

from __future__ import annotations

import random

from monitors.group.copies import compare, profile

FULL = (
    "La ministre de la Culture, Rachida Dati, a annoncé jeudi 12 juin à Lyon un plan de 340 millions "
    "d'euros pour rénover 85 musées de province d'ici 2030. « Nos musées sont le patrimoine de tous "
    "les Français, pas seulement des Parisiens », a-t-elle déclaré devant les conservateurs réunis au "
    "musée des Confluences.\n"
    "Le plan prévoit 120 millions d'euros pour la mise aux normes énergétiques, le reste pour "
    "l'accessibilité et les réserves. Les premiers chantiers commenceront à Rouen, Nancy et Pau dès "
    "l'automne, selon le ministère. Les collectivités devront apporter un tiers du financement.\n"
    "L'annonce a été saluée par l'association des conservateurs, qui réclamait depuis 2019 un "
    "programme national, mais critiquée par plusieurs élus locaux qui redoutent une charge "
    "supplémentaire pour les budgets des villes moyennes déjà fragilisés par l'inflation."
)
# The feed's summary: the first paragraph, trimmed.
SUMMARY = FULL.split("\n", 1)[0]
# A respun copy: synonyms, retyped quotes, same facts in the same order.
RESPUN = (
    "La ministre de la Culture Rachida Dati a dévoilé jeudi 12 juin à Lyon un programme de 340 millions "
    "d'euros afin de rénover 85 musées de province d'ici à 2030. \"Nos musées sont le patrimoine de "
    'tous les Français, pas uniquement des Parisiens", a-t-elle affirmé face aux conservateurs réunis '
    "au musée des Confluences.\n"
    "Le programme prévoit 120 millions d'euros pour la mise aux normes énergétiques, le reste pour "
    "l'accessibilité et les réserves. Les premiers travaux débuteront à Rouen, Nancy et Pau dès "
    "l'automne, d'après le ministère. Les collectivités devront apporter un tiers du financement.\n"
    "L'annonce a été saluée par l'association des conservateurs, qui réclamait depuis 2019 un "
    "programme national, mais critiquée par plusieurs élus locaux qui craignent une charge "
    "supplémentaire pour les budgets des villes moyennes déjà fragilisés par l'inflation."
)
# An independent report of the same announcement, sharing the quote and the figures.
INDEPENDENT = (
    "À Lyon, Rachida Dati a présenté ce jeudi ce qu'elle appelle un « plan musées » : 340 millions "
    "d'euros sur cinq ans. Notre journaliste était au musée des Confluences, où l'ambiance était "
    "tendue. « Nos musées sont le patrimoine de tous les Français, pas seulement des Parisiens », a "
    "lancé la ministre, sous les applaudissements polis d'une salle qui attendait surtout des postes. "
    "Car les conservateurs le répètent : sans personnel, rénover 85 bâtiments ne suffira pas. À Pau, "
    "le directeur du musée des Beaux-Arts se dit « soulagé mais prudent ». Les élus, eux, font leurs "
    "comptes : un tiers de la facture leur revient, et l'inflation a déjà vidé les caisses."
)
ENGLISH = (
    "Culture Minister Rachida Dati announced on Thursday 12 June in Lyon a plan of 340 million euros "
    'to renovate 85 provincial museums by 2030. "Our museums are the heritage of all French people, '
    'not only Parisians," she said before curators gathered at the Musée des Confluences.\n'
    "The plan provides 120 million euros for energy upgrades, the rest for accessibility and storage. "
    "The first works will start in Rouen, Nancy and Pau in the autumn, according to the ministry. "
    "Local authorities will have to provide a third of the financing.\n"
    "The announcement was welcomed by the curators' association, which had been calling since 2019 for "
    "a national programme, but criticised by several local officials who fear an extra burden for the "
    "budgets of medium-sized cities already weakened by inflation."
)
ENGLISH_OTHER_EVENT = (
    "Culture Minister Rachida Dati on Monday visited the Louvre in Paris after the theft of 8 jewels, "
    'and promised 12 million euros for security cameras in 2026. "We failed," she told senators, '
    "who had questioned her on 4 November about the museum's alarms and its 2019 security audit."
)


def test_feed_summary_is_contained_in_the_full_text() -> None:
    evidence = compare(profile(SUMMARY, "fr"), profile(FULL, "fr"))
    assert evidence.rule == "containment" and evidence.containment == 1.0


def test_a_headline_alone_is_too_short_to_be_a_copy() -> None:
    assert (
        compare(
            profile("Rachida Dati annonce un plan de 340 millions pour les musées", "fr"), profile(FULL, "fr")
        ).rule
        is None
    )


def test_respun_copy_is_a_copy() -> None:
    evidence = compare(profile(RESPUN, "fr"), profile(FULL, "fr"))
    assert evidence.rule in {"respin", "containment"}
    assert evidence.containment < 0.8  # 5-gram sets alone would miss it


def test_independent_report_sharing_a_quote_is_not_a_copy() -> None:
    assert compare(profile(INDEPENDENT, "fr"), profile(FULL, "fr")).rule is None
    assert compare(profile(INDEPENDENT, "fr"), profile(RESPUN, "fr")).rule is None


def test_translation_is_a_copy_across_languages() -> None:
    assert compare(profile(ENGLISH, "en"), profile(FULL, "fr")).rule == "translation"


def test_same_minister_other_event_is_not_a_translation() -> None:
    assert compare(profile(ENGLISH_OTHER_EVENT, "en"), profile(FULL, "fr")).rule is None
    assert compare(profile(ENGLISH_OTHER_EVENT, "en"), profile(SUMMARY, "fr")).rule is None


def test_numbers_are_language_neutral() -> None:
    fr = profile("Une levée de 1,7 milliard d'euros et 100 000 puces, le 9 septembre", "fr")
    en = profile("A round of 1.7 billion euros and 100,000 chips, on September 9", "en")
    assert fr.anchors == en.anchors


# A French article and its English translation (ours), whose mapped words fall short of the
# in-order rule (adjectives after nouns in French, before them in English; words the bilingual
# list lacks), and independent reports of the same event in the other language that share
# nearly all its names and numbers.
CLOSURE_FR = (
    "Le gouvernement a annoncé lundi la fermeture de la centrale nucléaire de Fessenheim d'ici 2027, "
    "une décision attendue depuis dix ans par les associations écologistes. La ministre de la Transition "
    "énergétique, Agnès Pannier-Runacher, a promis 45 millions d'euros pour reconvertir le site alsacien "
    "et garantir un emploi aux 350 salariés restants. Les élus locaux craignent une perte de recettes "
    "fiscales importante pour la commune, qui touchait chaque année 6 millions d'euros de la part "
    "d'EDF. Le syndicat CGT a appelé à une grève nationale le 14 octobre."
)
CLOSURE_EN = (
    "The government announced on Monday the closure of the Fessenheim nuclear plant by 2027, a decision "
    "environmental groups had awaited for ten years. Energy Transition Minister Agnès Pannier-Runacher "
    "promised 45 million euros to convert the Alsatian site and guarantee a job for the 350 remaining "
    "employees. Local officials fear a significant loss of tax revenue for the town, which received 6 "
    "million euros from EDF every year. The CGT union called a national strike on 14 October."
)
CLOSURE_FR_OWN_REPORT = (
    "Fessenheim fermera en 2027 : à l'usine, les 350 salariés encore en poste ont appris la nouvelle par "
    "la radio. Agnès Pannier-Runacher parle de 45 millions d'euros pour l'après, une somme que le maire "
    "juge dérisoire face aux 6 millions versés chaque année par EDF. La CGT prépare la grève du 14 octobre "
    "et les écologistes, eux, célèbrent une victoire."
)
CLOSURE_EN_OWN_REPORT = (
    "Workers at Fessenheim heard on the radio that the plant will shut in 2027. The minister, Agnès "
    "Pannier-Runacher, put 45 million euros on the table, which the mayor called derisory next to the 6 "
    "million EDF paid every year. The CGT is preparing a strike on 14 October while green groups celebrate."
)


def test_translation_with_words_moved_locally_is_a_copy() -> None:
    evidence = compare(profile(CLOSURE_FR, "fr"), profile(CLOSURE_EN, "en"))
    assert evidence.words < 0.45  # the in-order mapped words alone would miss it
    assert evidence.rule == "translation"


def test_reports_in_the_other_language_sharing_every_name_and_number_are_not_translations() -> None:
    for report, lang, other, other_lang in (
        (CLOSURE_FR_OWN_REPORT, "fr", CLOSURE_EN, "en"),
        (CLOSURE_EN_OWN_REPORT, "en", CLOSURE_FR, "fr"),
    ):
        evidence = compare(profile(report, lang), profile(other, other_lang))
        assert evidence.anchors >= 0.9 and evidence.rule is None


def _pages(seed: int, words: int) -> str:
    """``words`` words of made-up prose (lower-case words, some names and numbers), in sentences."""
    rnd = random.Random(seed)
    vocabulary = [f"{rnd.choice('bcdfglmnprstv')}{rnd.choice('aeiou')}{n:03d}tion" for n in range(800)]
    names = ["Dati", "Lyon", "Rouen", "Nancy", "Macron", "Bruxelles", "Mistral", "Pau"]
    out = []
    for i in range(words):
        r = rnd.random()
        out.append(
            rnd.choice(names)
            if r < 0.05
            else str(rnd.randrange(10, 99))
            if r < 0.08
            else rnd.choice(vocabulary)
        )
        if i % 20 == 19:
            out[-1] += "."
    return " ".join(out)


def test_the_in_order_measures_of_a_huge_text_read_its_first_pages_only() -> None:
    """Two 30,000-word texts took 13 s a comparison (longest common subsequences, quadratic),
    up to 30 per stored article with its story locks held. The in-order measures read the
    first MAX_ORDERED_WORDS words of each text (their figures are those of the first pages:
    the compared size is bounded); the 5-gram containment and the length take the whole text."""
    from monitors.group.copies import MAX_ORDERED_WORDS

    huge = _pages(1, 30_000).split()
    edited = [w if i % 9 else "autrement" for i, w in enumerate(huge[:20_000])] + _pages(2, 10_000).split()
    a, b = profile(" ".join(huge), "fr"), profile(" ".join(edited), "fr")
    assert (
        len(a.words) == 30_000 and len(a.content) <= MAX_ORDERED_WORDS and len(a.anchors) <= MAX_ORDERED_WORDS
    )
    whole = compare(a, b)
    first = compare(
        profile(" ".join(huge[:MAX_ORDERED_WORDS]), "fr"), profile(" ".join(edited[:MAX_ORDERED_WORDS]), "fr")
    )
    assert (whole.words, whole.words_longer, whole.anchors) == (
        first.words,
        first.words_longer,
        first.anchors,
    )
    assert whole.shorter_words == 30_000 and whole.containment < first.containment  # the whole texts
    assert whole.rule == first.rule == "containment"  # the same words in order, one word in 9 changed


def test_a_huge_copy_edited_after_the_first_pages_is_still_a_copy() -> None:
    """The cap bounds the cost, not the judgment: a huge text and the same with its last pages
    rewritten are one article (5-gram containment over the whole texts), a summary of its
    start is contained in it, and two huge texts of their own are no copies."""
    body = _pages(3, 24_000)
    huge = FULL + "\n" + body
    edited = FULL + "\n" + body[: len(body) * 9 // 10] + " " + _pages(4, 2_000)
    assert compare(profile(huge, "fr"), profile(edited, "fr")).rule == "containment"
    assert compare(profile(SUMMARY, "fr"), profile(huge, "fr")).rule == "containment"
    assert compare(profile(huge, "fr"), profile(_pages(5, 26_000), "fr")).rule is None
