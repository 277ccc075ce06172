"""Boilerplate learned per site: pages written here that repeat one site's chrome around
different articles (no page copied from elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from flows.cli import main
from monitors.judge.boilerplate import (
    MIN_PAGES,
    SiteProfile,
    block_fingerprints,
    remove_known,
    site_of,
    title_segments,
)
from monitors.judge.extract import extract_article
from monitors.judge.site_profiles import ProfileCache, learn, load_profile
from tests.site import LocalSite, rss_feed, write_sources

SITE = "Le Courrier du Val"
# Chrome the extractor keeps inside the article: a promo line, a newsletter box, a share bar.
PROMO = "Soutenez un journalisme indépendant : abonnez-vous dès 1 € le premier mois au Courrier du Val."
LETTER = "Recevez chaque matin notre lettre du Val, l'essentiel de l'actualité locale en cinq minutes."
SHARE = "Partager cet article sur les réseaux sociaux ou l'envoyer par courriel à un proche"

ARTICLES = [
    (
        "Le marché couvert rouvre ses portes",
        [
            "Après huit mois de travaux, le marché couvert de la place Carnot accueille de nouveau ses "
            "commerçants et leurs clients depuis samedi matin.",
            "La municipalité a investi deux millions d'euros pour refaire la toiture, l'éclairage et les "
            "étals, qui répondent désormais aux normes d'hygiène.",
            "Les producteurs locaux, maraîchers et fromagers, occupent les deux tiers des emplacements, "
            "une proportion que la mairie veut maintenir.",
        ],
    ),
    (
        "La ligne de bus 12 prolongée jusqu'à la gare",
        [
            "Dès lundi, la ligne 12 desservira la gare routière, une demande ancienne des habitants du "
            "quartier des Tilleuls.",
            "Le syndicat des transports prévoit un bus toutes les vingt minutes en semaine et toutes les "
            "demi-heures le week-end.",
            "Trois nouveaux arrêts ont été aménagés, dont un devant le lycée professionnel Jean-Moulin.",
        ],
    ),
    (
        "Le club de handball monte en nationale 2",
        [
            "Les handballeurs du Val ont validé leur montée en nationale 2 en s'imposant de quatre buts "
            "face à leurs voisins de Saint-Rémy.",
            "L'entraîneur salue un groupe soudé, construit autour de joueurs formés au club depuis les "
            "catégories de jeunes.",
            "Le budget devra augmenter d'un tiers pour faire face aux déplacements de la saison prochaine.",
        ],
    ),
    (
        "Une fresque géante pour l'école Pasteur",
        [
            "Les élèves de l'école Pasteur ont peint avec un artiste de la région une fresque de trente "
            "mètres sur le mur de la cour.",
            "Le projet, financé par l'association des parents, raconte l'histoire de la rivière qui "
            "traverse la ville.",
            "L'inauguration aura lieu le mois prochain en présence des familles et des anciens élèves.",
        ],
    ),
]


def chrome_page(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'>"
        f"<title>{title} - {SITE}</title></head><body>"
        "<header><nav><a href='/'>Accueil</a> <a href='/sport'>Sport</a></nav></header>"
        f"<main><article><h1>{title}</h1><p>{PROMO}</p>{body}<p>{LETTER}</p><p>{SHARE}</p></article></main>"
        "<footer><p>Mentions légales</p></footer></body></html>"
    ).encode()


def url(i: int) -> str:
    return f"https://www.courrier-du-val.fr/actualite/article-{i}.html"


def _learn_pages(db: Session, pages: list[int]) -> None:
    for i in pages:
        art = extract_article(chrome_page(*ARTICLES[i]), url(i), site=load_profile(db, site_of(url(i))))
        learn(db, site_of(url(i)), art.blocks, list(art.title_segments))


def test_blocks_recurring_on_a_sites_pages_are_removed_from_its_new_pages(db: Session) -> None:
    first = extract_article(chrome_page(*ARTICLES[3]), url(3))
    assert PROMO in first.text and LETTER in first.text, "bare extraction keeps this site's chrome"
    _learn_pages(db, list(range(MIN_PAGES)))
    profile = load_profile(db, "courrier-du-val.fr")
    assert len(profile.blocks) == 3 and profile.title_affixes == (SITE,)
    art = extract_article(chrome_page(*ARTICLES[3]), url(3), site=profile)
    for chrome in (PROMO, LETTER, SHARE):
        assert chrome not in art.text
    assert all(p in art.text for p in ARTICLES[3][1])
    assert art.evidence is not None and len(art.evidence["site_boilerplate_removed"]) == 3
    # another site learns nothing from these pages
    assert load_profile(db, "autre-journal.fr").blocks == frozenset()


def test_profiles_are_cached_until_they_change(db: Session) -> None:
    clock = [0.0]
    cache = ProfileCache(ttl=60, clock=lambda: clock[0])
    site = "courrier-du-val.fr"
    changed = []
    for i in range(MIN_PAGES):
        profile = cache.get(db, site)
        assert profile.blocks == frozenset()
        art = extract_article(chrome_page(*ARTICLES[i]), url(i), site=profile)
        changed.append(learn(db, site, art.blocks, list(art.title_segments)))
        if changed[-1]:
            cache.invalidate(site)
    assert changed == [False] * (MIN_PAGES - 1) + [True], "the profile changes when blocks reach MIN_PAGES"
    assert cache.loads == 1, "one read for the site's pages while its profile did not change"
    assert len(cache.get(db, site).blocks) == 3 and cache.loads == 2
    # a profile changed by another process is seen after the ttl
    db.execute(sa.text("DELETE FROM site_blocks"))
    assert len(cache.get(db, site).blocks) == 3 and cache.loads == 2
    clock[0] = 61
    assert cache.get(db, site).blocks == frozenset() and cache.loads == 3


def test_too_few_pages_teach_nothing(db: Session) -> None:
    _learn_pages(db, list(range(MIN_PAGES - 1)))
    assert load_profile(db, "courrier-du-val.fr") == SiteProfile("courrier-du-val.fr")


def test_learned_removal_never_empties_an_article() -> None:
    text = f"{PROMO}\n{LETTER}\nUne ligne d'article."
    profile = SiteProfile("x", frozenset(block_fingerprints(f"{PROMO}\n{LETTER}")))
    removal = remove_known(text, profile)
    assert removal.text == text and removal.kept_all and not removal.removed


def test_fingerprints_ignore_case_and_punctuation() -> None:
    assert block_fingerprints("Partager : Facebook, X") == block_fingerprints("partager  facebook x")
    assert title_segments("Un titre | Le Site") == ["Un titre", "Le Site"]
    assert title_segments("Un titre") == []


WHEN = datetime(2025, 2, 10, 9, 0, tzinfo=UTC)


def serve_chrome_pages(site: LocalSite, count: int) -> list[tuple[str, str, datetime]]:
    """Serve the first ``count`` articles in the site's chrome; their feed items."""
    items = []
    for i in range(count):
        path = f"actualite/article-{i}.html"
        site.add(f"/{path}", chrome_page(*ARTICLES[i]), content_type="text/html; charset=utf-8")
        items.append((ARTICLES[i][0], path, WHEN))
    return items


@pytest.mark.usefixtures("prefect_harness")
def test_veille_run_learns_a_sites_chrome(site: LocalSite, clean_db: sa.Engine, tmp_path: Path) -> None:
    items = serve_chrome_pages(site, MIN_PAGES)
    site.add("/feed.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    sources = write_sources(
        tmp_path / "s.toml",
        [{"name": "Courrier", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    assert main(["run", "--sources", str(sources)]) == 0
    i = MIN_PAGES
    site.add(
        f"/actualite/article-{i}.html", chrome_page(*ARTICLES[i]), content_type="text/html; charset=utf-8"
    )
    items.append((ARTICLES[i][0], f"actualite/article-{i}.html", WHEN))
    site.add("/feed.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    assert main(["run", "--sources", str(sources), "--all"]) == 0
    with clean_db.connect() as conn:
        learned = conn.execute(sa.text("SELECT kind, pages, sample FROM site_blocks WHERE pages >= 3")).all()
        texts: dict[str | None, str] = dict(conn.execute(sa.text("SELECT title, text FROM articles")).all())
    assert {(k, s) for k, _, s in learned} >= {
        ("block", PROMO),
        ("block", LETTER),
        ("block", SHARE),
        ("title", SITE),
    }
    assert len(texts) == MIN_PAGES + 1
    last = texts[ARTICLES[i][0]]
    assert PROMO not in last and LETTER not in last and ARTICLES[i][1][0] in last
    assert PROMO in texts[ARTICLES[0][0]], "the first pages were stored before anything was learned"


@pytest.mark.usefixtures("prefect_harness")
def test_veille_run_never_empties_a_page_made_of_its_sites_chrome(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A page whose every block is boilerplate for its site is stored as extracted."""
    items = serve_chrome_pages(site, MIN_PAGES)
    only_chrome = chrome_page("Annonce", [])
    site.add("/actualite/annonce.html", only_chrome, content_type="text/html; charset=utf-8")
    site.add("/feed.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    sources = write_sources(
        tmp_path / "s.toml",
        [{"name": "Courrier", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    assert main(["run", "--sources", str(sources)]) == 0
    items.append(("Annonce", "actualite/annonce.html", WHEN))
    site.add("/feed.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    assert main(["run", "--sources", str(sources), "--all"]) == 0
    with clean_db.connect() as conn:
        text, evidence = conn.execute(
            sa.text("SELECT text, extraction_evidence FROM articles WHERE title = 'Annonce'")
        ).one()
    # the chrome is all the page has: kept (the general clean-up still takes the call to subscribe)
    assert LETTER in text and SHARE in text
    assert evidence["site_boilerplate_kept"] and "site_boilerplate_removed" not in evidence
