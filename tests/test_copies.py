"""Edit-tolerant copies on texts we wrote: containment, respun copies, translations, and the
independent reports that must stay apart."""

from __future__ import annotations

from monitors.copies import compare, profile

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
