# ruff: noqa: E501
"""A listing page's article title: the headline, not the longest link to the article.

The cards below are written for these tests after the shapes party and newsroom sites use: a
card wrapped whole in its link (kicker, headline, teaser, date, "Lire la suite"), a headline
link beside a teaser link, a "Lire la suite" link whose title attribute or screen-reader text
holds the headline. The longest link text won before: the teaser, or the whole card.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from monitors.collect.http import Client
from monitors.collect.listing import find_article_links
from monitors.collect.poll import SourceState, poll_source
from monitors.settings import Settings
from tests.site import LocalSite

TEASER = (
    "Le conseil municipal a adopté mardi soir, après quatre heures de débats parfois vifs, un budget "
    "qui prévoit la rénovation de trois écoles, la réfection de la voirie du centre et une hausse "
    "mesurée des tarifs de la cantine…"
)

LISTING = f"""<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Actualités</title></head>
<body><main><h1>Actualités</h1>
<article class="card">
  <a href="/actualites/le-budget-municipal-adopte-apres-quatre-heures">
    <span class="kicker">Conseil municipal</span>
    <h3 class="card-title">Le budget municipal adopté après quatre heures de débat</h3>
    <p class="card-teaser">{TEASER}</p>
    <span class="card-meta">11/02/2025 - Lire la suite »</span>
  </a>
</article>
<article class="card">
  <h2><a href="/actualites/la-gare-routiere-rouvrira-en-septembre">La gare routière rouvrira en septembre</a></h2>
  <p><a href="/actualites/la-gare-routiere-rouvrira-en-septembre">Fermée depuis l'incendie de l'été
    dernier, la gare routière rouvrira à la rentrée avec des quais agrandis et un abri
    chauffé pour les voyageurs, a annoncé la région… Lire la suite</a></p>
</article>
<article class="card">
  <a href="/actualites/un-nouveau-marche-de-producteurs-le-samedi"><img src="/img/marche.jpg" alt=""></a>
  <time datetime="2025-02-09">9 février 2025</time>
  <a class="more" href="/actualites/un-nouveau-marche-de-producteurs-le-samedi"
     title="Un nouveau marché de producteurs le samedi">Lire la suite</a>
</article>
<article class="card">
  <a href="/actualites/les-travaux-du-pont-commencent-lundi">Lire la suite<span class="sr-only"> :
    Les travaux du pont commencent lundi</span></a>
</article>
<article class="card">
  <a href="/actualites/la-mediatheque-ouvre-le-dimanche-des-mars">Culture</a>
  <a href="/actualites/la-mediatheque-ouvre-le-dimanche-des-mars">La médiathèque ouvre le dimanche dès mars</a>
</article>
<article class="card">
  <a href="/actualites/2025/02/08/communique-du-bureau">08/02/2025</a>
  <a href="/actualites/2025/02/08/communique-du-bureau">En savoir plus</a>
</article>
</main></body></html>"""

TITLES = [
    (
        "/actualites/le-budget-municipal-adopte-apres-quatre-heures",
        "Le budget municipal adopté après quatre heures de débat",
    ),
    ("/actualites/la-gare-routiere-rouvrira-en-septembre", "La gare routière rouvrira en septembre"),
    ("/actualites/un-nouveau-marche-de-producteurs-le-samedi", "Un nouveau marché de producteurs le samedi"),
    ("/actualites/les-travaux-du-pont-commencent-lundi", "Les travaux du pont commencent lundi"),
    ("/actualites/la-mediatheque-ouvre-le-dimanche-des-mars", "La médiathèque ouvre le dimanche dès mars"),
    # a date and "En savoir plus" are no title: none, the page's own is taken at ingest
    ("/actualites/2025/02/08/communique-du-bureau", None),
]


def test_a_listing_title_is_the_headline_not_the_longest_link(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    site.add("/actualites", LISTING)
    out = poll_source(client, settings, SourceState(1, "Mairie", "listing", f"{site.base}/actualites"))
    assert out.error is None and out.warning is None
    assert [(e.url.removeprefix(site.base), e.title) for e in out.entries] == TITLES


@pytest.mark.parametrize(
    ("card", "title"),
    [
        # English and German "read more" around the headline are cut as the French are
        (
            '<a href="/n/one-two-three">Weiterlesen »<span> Drei Schulen werden saniert</span></a>',
            "Drei Schulen werden saniert",
        ),
        (
            '<a href="/n/one-two-three" title="Schools to be renovated">Read more</a>',
            "Schools to be renovated",
        ),
        # words that end a headline stay: only a link that says nothing else is "read more"
        ('<a href="/n/one-two-three">Rien ne va plus</a>', "Rien ne va plus"),
        ('<a href="/n/one-two-three">Le maire prépare la suite</a>', "Le maire prépare la suite"),
    ],
)
def test_read_more_words_are_cut_only_around_the_title(card: str, title: str) -> None:
    page = f"<html><body><main>{card}</main></body></html>".encode()
    entries = find_article_links(page, "https://mairie.example/n/")
    assert [e.title for e in entries] == [title]


@pytest.mark.parametrize(
    ("time", "day"),
    [
        # a <time> that holds its date in its text only, as French sites write it
        ("<time>10/02/2025 14:30</time>", (2025, 2, 10, 14, 30)),
        ("<time>lundi 11 février 2025</time>", (2025, 2, 11, 0, 0)),
        # an unreadable datetime attribute: the text is read instead
        ('<time datetime="le 9 février">9 février 2025</time>', (2025, 2, 9, 0, 0)),
        # the attribute still wins when it reads
        ('<time datetime="2025-02-08T09:00:00+01:00">10 février 2025</time>', (2025, 2, 8, 9, 0)),
    ],
)
def test_a_listing_date_is_read_from_a_time_text_without_its_attribute(
    time: str, day: tuple[int, int, int, int, int]
) -> None:
    """Before: only ``<time datetime>`` was read; a card whose ``<time>`` held the date in its
    text alone gave an undated entry, so the page was dated only at ingest (or never)."""
    card = (
        f'<article><a href="/n/le-budget-est-adopte-par-le-conseil">Le budget est adopté</a>{time}</article>'
    )
    entries = find_article_links(
        f"<html><body><main>{card}</main></body></html>".encode(), "https://mairie.example/n/"
    )
    assert [e.published_at for e in entries] == [datetime(*day, tzinfo=ZoneInfo("Europe/Paris"))]


def test_a_time_text_that_is_no_date_leaves_the_entry_undated() -> None:
    card = '<article><a href="/n/le-budget-est-adopte-par-le-conseil">Le budget est adopté</a><time>il y a 3 heures</time></article>'
    entries = find_article_links(
        f"<html><body><main>{card}</main></body></html>".encode(), "https://mairie.example/n/"
    )
    assert [e.published_at for e in entries] == [None]
