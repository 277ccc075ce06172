"""Story assignment rules (in memory) on texts we wrote: cross-lingual, time decay, short texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitors.group.stories import (
    JOIN_THRESHOLD,
    LOOKUP_KEYS,
    MIN_SEED_WORDS,
    StoryIndex,
    article_keys,
    cosine,
    decay,
    distance_days,
    features,
    is_lookup_key,
    lookup_keys,
    merge_pair,
    word_count,
)

T0 = datetime(2025, 6, 12, 9, tzinfo=UTC)
FR = (
    "La ministre de la Culture, Rachida Dati, a annoncé jeudi 12 juin à Lyon un plan de 340 millions "
    "d'euros pour rénover 85 musées de province d'ici 2030. Les premiers chantiers commenceront à Rouen, "
    "Nancy et Pau dès l'automne, selon le ministère, et les collectivités paieront un tiers."
)
FR_OTHER_NEWSROOM = (
    "À Lyon, Rachida Dati a présenté jeudi son plan musées : 340 millions d'euros pour 85 établissements "
    "de province. À Pau comme à Nancy, les conservateurs saluent l'effort mais réclament du personnel ; "
    "les élus redoutent de payer un tiers de la facture des chantiers."
)
EN = (
    "Culture Minister Rachida Dati announced on Thursday 12 June in Lyon a 340 million euro plan to "
    "renovate 85 provincial museums by 2030. Works start in Rouen, Nancy and Pau in the autumn, the "
    "ministry said, with local authorities paying a third."
)
SAME_MINISTER_LATER = (
    "Rachida Dati a été entendue mardi par les sénateurs sur la sécurité du Louvre après le vol de huit "
    "bijoux de la couronne ; la ministre de la Culture promet 12 millions d'euros de caméras en 2026 et "
    "un audit des alarmes, réclamé depuis 2019 par la Cour des comptes dans un rapport resté sans suite."
)


def test_french_and_english_editions_are_close() -> None:
    assert cosine(features(FR), features(EN)) >= JOIN_THRESHOLD
    assert cosine(features(FR), features(SAME_MINISTER_LATER)) < JOIN_THRESHOLD


def test_one_event_one_story_across_newsrooms_and_languages() -> None:
    index = StoryIndex()
    first = index.assign(1, features(FR), T0, word_count(FR))
    second = index.assign(
        2, features(FR_OTHER_NEWSROOM), T0 + timedelta(hours=3), word_count(FR_OTHER_NEWSROOM)
    )
    third = index.assign(3, features(EN), T0 + timedelta(hours=5), word_count(EN))
    assert first.created and first.story_id is not None
    assert second.story_id == third.story_id == first.story_id


def test_same_entity_other_event_is_another_story() -> None:
    index = StoryIndex()
    index.assign(1, features(FR), T0, word_count(FR))
    later = index.assign(
        2, features(SAME_MINISTER_LATER), T0 + timedelta(days=130), word_count(SAME_MINISTER_LATER)
    )
    assert later.created


def test_the_same_text_months_later_is_outside_the_window() -> None:
    index = StoryIndex()
    index.assign(1, features(FR), T0, word_count(FR))
    assert index.assign(2, features(FR_OTHER_NEWSROOM), T0 + timedelta(days=60), 60).created


def test_short_text_never_seeds_a_story_but_may_join_one() -> None:
    short = "Rachida Dati annonce 340 millions d'euros pour 85 musées de province, à Lyon."
    assert word_count(short) < MIN_SEED_WORDS
    index = StoryIndex()
    alone = index.assign(1, features(short), T0, word_count(short))
    assert alone.story_id is None and not index.stories
    index.assign(2, features(FR), T0, word_count(FR))
    assert index.assign(3, features(short), T0, word_count(short)).story_id is not None


def test_copy_goes_to_its_originals_story() -> None:
    index = StoryIndex()
    a = index.assign(1, features(FR), T0, word_count(FR))
    b = index.assign(2, features(SAME_MINISTER_LATER), T0, word_count(SAME_MINISTER_LATER))
    assert a.story_id != b.story_id
    assert index.assign(3, features(FR), T0, word_count(FR), story_id=b.story_id).story_id == b.story_id


def test_decay_and_distance() -> None:
    assert decay(0) == decay(1) == 1.0
    assert decay(2) < 1.0 and decay(4) < decay(2) and decay(8) == 0.0
    day = timedelta(days=1)
    assert distance_days(T0 + day, T0, T0 + 2 * day) == 0.0
    assert distance_days(T0 - 3 * day, T0, T0) == 3.0
    assert distance_days(T0 - 10 * day, T0, T0, at_end=T0 + day) == 0.0  # a month-level date overlaps


# One event (a vote in the European Parliament) reported twice with little overlap, then an
# article that covers what both said: it bridges the two stories.
DIRECTIVE_VOTE = (
    "Le Parlement européen a voté mardi à Strasbourg la directive sur le devoir de vigilance des "
    "entreprises : 374 députés pour, 235 contre. Le texte oblige les sociétés de plus de 1000 salariés "
    "à contrôler leurs fournisseurs, sous peine d'amendes. Les associations saluent une victoire, "
    "le patronat dénonce une charge administrative de plus pour l'industrie européenne."
)
DIRECTIVE_RAPPORTEUR = (
    "À Strasbourg, les eurodéputés ont adopté la directive sur le devoir de vigilance, portée par la "
    "rapporteure Lara Wolters. Les entreprises devront surveiller les droits humains et l'environnement "
    "chez leurs sous-traitants. Le Conseil doit encore confirmer le texte au printemps, et les États "
    "auront deux ans pour le transposer dans leur droit national."
)
DIRECTIVE_BOTH = (
    "Devoir de vigilance : à Strasbourg, le Parlement européen a adopté mardi la directive de la "
    "rapporteure Lara Wolters, par 374 voix. Les entreprises devront surveiller fournisseurs et "
    "sous-traitants, droits humains et environnement compris ; le Conseil doit encore confirmer le texte "
    "et les associations saluent une victoire."
)


def test_merge_pair_needs_two_close_stories_nearly_as_close() -> None:
    assert merge_pair((0.6, 1), (0.5, 2)) == (1, 2)
    assert merge_pair((0.6, 5), (0.55, 2)) == (2, 5)  # the older id survives
    assert merge_pair((0.73, 4), (0.29, 3)) is None  # clearly closer to one: no merge
    assert merge_pair((0.3, 1), (0.27, 2)) is None  # the second is not close enough to join
    assert merge_pair((0.6, 1), None) is None


def test_an_article_that_bridges_two_stories_of_one_event_merges_them() -> None:
    assert cosine(features(DIRECTIVE_VOTE), features(DIRECTIVE_RAPPORTEUR)) < JOIN_THRESHOLD
    index = StoryIndex()
    vote = index.assign(1, features(DIRECTIVE_VOTE), T0, word_count(DIRECTIVE_VOTE))
    rapporteur = index.assign(
        2, features(DIRECTIVE_RAPPORTEUR), T0 + timedelta(hours=1), word_count(DIRECTIVE_RAPPORTEUR)
    )
    assert vote.created and rapporteur.created
    assert vote.story_id is not None and rapporteur.story_id is not None
    both = index.assign(3, features(DIRECTIVE_BOTH), T0 + timedelta(hours=2), word_count(DIRECTIVE_BOTH))
    assert (both.story_id, both.merged) == (vote.story_id, rapporteur.story_id)
    assert list(index.stories) == [vote.story_id] and index.stories[vote.story_id].members == [1, 2, 3]
    assert index.story_of(rapporteur.story_id) == vote.story_id
    # a copy of the merged story's article goes to the survivor
    copy = index.assign(4, features(DIRECTIVE_RAPPORTEUR), T0, 60, story_id=rapporteur.story_id)
    assert copy.story_id == vote.story_id


def test_an_article_clearly_closer_to_one_story_merges_nothing() -> None:
    index = StoryIndex()
    index.assign(1, features(FR), T0, word_count(FR))
    index.assign(2, features(SAME_MINISTER_LATER), T0, word_count(SAME_MINISTER_LATER))
    third = index.assign(3, features(FR_OTHER_NEWSROOM), T0, word_count(FR_OTHER_NEWSROOM))
    assert third.merged is None and len(index.stories) == 2


def test_lookup_keys_leave_out_small_numbers_years_and_common_words() -> None:
    """A lookup key must say which event an article is about: a count (1, 2, 10, 4.5) or the
    year is in most articles of a window, and so is a function word capitalised at a
    sentence's start; they are still features of the vector, only not keys."""
    for key in ("n:1", "n:2", "n:10", "n:0", "n:4.5", "n:100", "y:2025", "y:1998"):
        assert not is_lookup_key(key), key
    for key in ("n:109", "n:340e6", "n:1.7e9", "n:17.6", "d:12-6", "e:dati", "w:museum"):
        assert is_lookup_key(key), key
    assert not is_lookup_key("e:die", {"die"}) and is_lookup_key("e:die")

    # the text writes "die" in lower case too: "Die" is no name, whatever the language
    vector, keys = article_keys("Die Hafenarbeiter in Hamburg streiken, die Reeder warten am Terminal 1.")
    assert {"e:die", "n:1"} <= set(vector) and {"e:die", "n:1"}.isdisjoint(keys)
    assert {"e:hafenarbeiter", "e:hamburg"} <= set(keys)
    # a short text that never writes it in lower case: the detected language's stop list says
    # "die" is a common word; "Hamburg" is in none
    short = "Die Hafenarbeiter in Hamburg streiken."
    assert "e:die" in article_keys(short)[1] and "e:die" not in article_keys(short, language="de")[1]
    # the stop list is the language's most frequent words, its most named places too: "New"
    # and "York" go, the mayor's names stay
    _, keys = article_keys("New York Mayor Zohran Mamdani met tenants.", language="en")
    assert {"e:new", "e:york"}.isdisjoint(keys) and {"e:zohran", "e:mamdani"} <= set(keys)
    # same features, fewer keys: a dropped key is not replaced by a lighter feature
    vector, keys = article_keys(FR)
    heaviest = sorted(vector, key=lambda k: (k[0] == "w", -vector[k], k))[:LOOKUP_KEYS]
    assert vector == features(FR) and set(keys) < set(heaviest) and set(keys) == set(lookup_keys(vector))
    assert "n:85" in vector and "n:85" not in keys and "n:340e6" in keys


def test_same_event_reports_still_share_keys_unrelated_ones_do_not() -> None:
    """The rule drops only keys that carry no event: the two reports of one event still share
    their names, two unrelated German reports share nothing (they shared ``die`` and ``1``)."""
    fr, other = (
        set(article_keys(FR, language="fr")[1]),
        set(article_keys(FR_OTHER_NEWSROOM, language="fr")[1]),
    )
    assert {"e:dati", "e:lyon", "e:pau", "e:nancy"} <= fr & other
    port = article_keys(HAMBURG_PORT, "Streik im Hamburger Hafen", "de")
    museum = article_keys(MUNICH_MUSEUM, "Gabriele Münter im Lenbachhaus", "de")
    assert {"e:die", "n:1"} <= set(port[0]) & set(museum[0])  # features both have
    assert not set(port[1]) & set(museum[1])


# Two unrelated German reports (ours) that share only the article "die" (also capitalised at a
# sentence's start) and the number 1: on main both were lookup keys of each.
HAMBURG_PORT = (
    "Die Hafenarbeiter in Hamburg legen seit Montag die Containerterminals lahm. Die Gewerkschaft "
    "Verdi fordert für die Beschäftigten am Terminal 1 einen Inflationsausgleich, die Betreiber HHLA "
    "und Eurogate lehnen das Angebot ab. Frachter stauen sich vor Finkenwerder, Reedereien wie "
    "Maersk und Hapag-Lloyd leiten Schiffe nach Rotterdam und Bremerhaven um. Bürgermeister "
    "Tschentscher rief beide Seiten zu einer Schlichtung im Rathaus auf."
)
MUNICH_MUSEUM = (
    "Die Ausstellung im Lenbachhaus zeigt ab Freitag die frühen Bilder von Gabriele Münter. "
    "Kuratorin Matthias Mühling hat Leihgaben aus Oslo, Murnau und Wien versammelt, die zum "
    "ersten Mal gemeinsam zu sehen sind. Im Saal 1 hängen die Landschaften vom Staffelsee, "
    "daneben Briefe an Kandinsky. Der Freistaat Bayern trägt die Versicherungskosten, "
    "Sponsor ist die Stiftung Pinakothek."
)


# Two unrelated German reports (ours), poor in names: they share the nouns "Jahr" and "Prozent"
# and the country, which German writes capitalised everywhere (so never in lower case).
ROADS = (
    "Die Zahl der Verkehrstoten in Deutschland ist im Jahr 2024 um 3 Prozent gesunken. Weniger "
    "Unfälle gab es vor allem auf Landstraßen, während in Städten mehr Radfahrer verunglückten. Das "
    "Statistische Bundesamt nennt als Grund das nasse Wetter im Sommer und höhere Preise für Benzin. "
    "Verbände fordern ein Tempolimit auf Autobahnen und mehr sichere Radwege."
)
BAKERIES = (
    "Im Jahr 2024 haben in Deutschland 4 Prozent der Bäckereien geschlossen. Die Betriebe klagen "
    "über hohe Kosten für Strom und Mehl und finden kaum Lehrlinge. Ein Innungsmeister schätzt, dass es "
    "in zehn Jahren nur noch halb so viele Handwerksbäcker geben wird. Viele Kunden kaufen ihr Brot "
    "inzwischen im Supermarkt, manche backen am Wochenende selbst."
)


def test_the_languages_most_frequent_words_are_no_keys_in_any_case() -> None:
    """Every word of the detected language's stop list (its most frequent words) is no lookup
    key, whatever its case: German nouns (``Jahr``, ``Prozent``) and the most named places
    (``Deutschland``, ``Paris``) are in a large share of that language's articles. On main only
    the words the list writes in lower case were dropped, and these two unrelated reports
    shared three keys (each looked the other up and waited on its locks)."""
    roads, bakeries = article_keys(ROADS, language="de"), article_keys(BAKERIES, language="de")
    assert {"e:jahr", "e:prozent", "e:deutschland"} <= set(roads[0]) & set(bakeries[0])
    assert not set(roads[1]) & set(bakeries[1])
    assert {"e:verkehrstoten", "e:bundesamt"} <= set(roads[1])
    _, keys = article_keys(FR.replace("à Lyon", "à Paris"), language="fr")
    assert "e:paris" not in keys and {"e:dati", "e:rouen", "e:nancy", "e:pau"} <= set(keys)

    from monitors.group.stories import stop_words

    assert {"paris", "france"} <= stop_words("fr") and {"jahr", "prozent", "deutschland"} <= stop_words("de")
    assert stop_words("und") == stop_words(None) == frozenset()
