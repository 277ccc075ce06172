"""The fixture archive: the five seeds and a few extra pages, spread over media and party
sources, polled and ingested by the real pipeline from a LocalSite.

What it holds (the SQL cookbook tests rely on it):
- seeds: franceinfo (8 Feb, "avec AFP" credit), Libération (7 Feb), Le Monde (May 2024),
  PCF (10 Feb, party, gauche radicale), PS (11 Feb, party, gauche);
- an AFP dispatch of 8 February ("PARIS (AFP) -") run word for word by Le Parisien,
  20 Minutes and Ouest-France, and in an edited version by La Tribune (a near-duplicate,
  clustered with the original as the near-duplicate stage does);
- party communiqués: LFI (5 Feb) and RN (9 Feb) the week before the summit, Renaissance
  (12 Feb) after it, and a Les Républicains note on farming (not relevant);
- Horizons, whose feed answers 404 (source health), and a dead link in Le Parisien's feed.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from tests.site import SPECS, LocalSite, build_page, rss_feed, write_sources


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


AFP_PARAGRAPHS = [
    "PARIS (AFP) - A deux jours de l'ouverture du Sommet pour l'action sur l'intelligence "
    "artificielle, qui se tiendra les 10 et 11 février au Grand Palais à Paris, l'Elysée a "
    "détaillé samedi le programme de cette réunion internationale consacrée à l'IA.",
    "Une centaine de pays et plus d'un millier de représentants de la société civile, de "
    "chercheurs et de dirigeants d'entreprises sont attendus au sommet, coprésidé par Emmanuel "
    "Macron et le Premier ministre indien Narendra Modi.",
    "La France entend y défendre une intelligence artificielle ouverte et au service de "
    "l'intérêt général, et annoncer des investissements massifs dans les centres de données, "
    "selon la présidence.",
    "Le vice-président américain JD Vance et le vice-Premier ministre chinois Ding Xuexiang "
    "doivent faire le déplacement à Paris. Les organisations non gouvernementales réclament de "
    "leur côté une déclaration finale contraignante sur l'IA et l'environnement.",
    "Les débats du sommet porteront aussi sur l'emploi, la culture et la gouvernance mondiale de "
    "l'intelligence artificielle, a précisé l'Elysée, qui espère une déclaration commune signée "
    "par le plus grand nombre de pays.",
]
AFP_EDIT = (
    "A Lyon, plusieurs entreprises de la région comptent profiter du sommet sur l'intelligence "
    "artificielle pour présenter leurs projets, selon la chambre de commerce locale."
)


@dataclass(frozen=True)
class Extra:
    slug: str
    site: str
    title: str
    published: datetime
    paragraphs: tuple[str, ...]


EXTRAS: dict[str, Extra] = {
    "afp": Extra(
        "depeche/sommet-ia-programme-elysee.html",
        "AFP",
        "Sommet sur l'IA : l'Elysée détaille le programme de la réunion du Grand Palais",
        _dt("2025-02-08T11:20:00+01:00"),
        tuple(AFP_PARAGRAPHS),
    ),
    "afp-edited": Extra(
        "latribune/sommet-ia-programme-elysee-lyon.html",
        "La Tribune",
        "Sommet sur l'IA : l'Elysée détaille le programme de la réunion du Grand Palais",
        _dt("2025-02-08T13:05:00+01:00"),
        (*AFP_PARAGRAPHS, AFP_EDIT),
    ),
    "lfi": Extra(
        "lfi/sommet-ia-communique.html",
        "La France insoumise",
        "Sommet sur l'intelligence artificielle : l'IA ne doit pas servir les milliardaires",
        _dt("2025-02-05T09:30:00+01:00"),
        (
            "A quelques jours du Sommet pour l'action sur l'intelligence artificielle organisé à "
            "Paris au Grand Palais les 10 et 11 février, La France insoumise dénonce une "
            "opération de communication d'Emmanuel Macron au service des géants du numérique.",
            "L'intelligence artificielle consomme une quantité considérable d'eau et "
            "d'électricité. Les centres de données promis par le président de la République "
            "pèseront sur nos réseaux et sur nos territoires sans retombées pour les habitants.",
            "Nous demandons que le sommet sur l'IA place au premier plan la protection des "
            "travailleurs, la souveraineté numérique et le contrôle public des infrastructures, "
            "au lieu de dérouler le tapis rouge aux milliardaires de la Silicon Valley.",
            "Les députés insoumis défendront à l'Assemblée nationale une proposition de "
            "résolution pour une intelligence artificielle sobre, ouverte et démocratique.",
        ),
    ),
    "rn": Extra(
        "rn/communique-sommet-ia.html",
        "Rassemblement national",
        "Sommet sur l'IA : la France doit défendre sa souveraineté numérique",
        _dt("2025-02-09T17:45:00+01:00"),
        (
            "A la veille du Sommet pour l'action sur l'intelligence artificielle qui s'ouvre "
            "lundi au Grand Palais à Paris, le Rassemblement national appelle le gouvernement à "
            "défendre la souveraineté numérique de la France face aux Etats-Unis et à la Chine.",
            "L'intelligence artificielle est un enjeu stratégique majeur. Les annonces "
            "d'investissements étrangers dans les centres de données ne doivent pas masquer la "
            "dépendance croissante de nos entreprises aux plateformes américaines.",
            "Nous demandons que le sommet sur l'IA débouche sur une préférence nationale et "
            "européenne dans la commande publique et sur la protection de nos données.",
            "Le Rassemblement national restera vigilant sur les engagements pris à Paris par "
            "Emmanuel Macron lors de ce sommet international.",
        ),
    ),
    "renaissance": Extra(
        "renaissance/bilan-sommet-ia.html",
        "Renaissance",
        "Sommet pour l'action sur l'IA : un succès pour la France et pour l'Europe",
        _dt("2025-02-12T12:00:00+01:00"),
        (
            "Le Sommet pour l'action sur l'intelligence artificielle, qui s'est tenu les 10 et 11 "
            "février au Grand Palais à Paris, a été un succès diplomatique et économique pour la "
            "France, se félicite Renaissance.",
            "Plus de cent milliards d'euros d'investissements dans l'IA ont été annoncés par "
            "Emmanuel Macron, et une déclaration pour une intelligence artificielle ouverte, "
            "inclusive et durable a été signée par une soixantaine de pays.",
            "Renaissance salue la création d'une fondation pour l'IA d'intérêt général et "
            "l'engagement de l'Europe à accélérer dans la course mondiale à l'intelligence "
            "artificielle.",
            "Nos parlementaires veilleront à ce que les retombées du sommet profitent à tous les "
            "territoires et à l'emploi en France.",
        ),
    ),
    "lr-farming": Extra(
        "lr/agriculture-prix-lait.html",
        "Les Républicains",
        "Prix du lait : les éleveurs doivent être payés au juste prix",
        _dt("2025-02-06T10:00:00+01:00"),
        (
            "Les Républicains apportent leur soutien aux éleveurs laitiers qui manifestent cette "
            "semaine devant les préfectures pour obtenir une juste rémunération de leur travail.",
            "Le prix payé aux producteurs ne couvre plus les coûts de production, alors que les "
            "charges d'alimentation du bétail et d'énergie ont fortement augmenté depuis deux ans.",
            "Nous demandons l'application stricte de la loi Egalim, le renforcement des contrôles "
            "sur les marges de la grande distribution et la simplification des normes qui pèsent "
            "sur les exploitations.",
            "L'agriculture française est une chance pour le pays : elle doit être défendue dans "
            "les négociations commerciales européennes comme dans nos campagnes.",
        ),
    ),
}


def extra_page(extra: Extra, site_name: str) -> str:
    """A plain article page in ``site_name``'s chrome."""
    esc = html.escape
    body = "".join(f"<p>{esc(p)}</p>" for p in extra.paragraphs)
    return (
        "<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'>"
        f"<title>{esc(extra.title)} | {esc(site_name)}</title>"
        f"<meta property='og:title' content='{esc(extra.title, quote=True)}'>"
        f"<meta property='article:published_time' content='{extra.published.isoformat()}'>"
        f"</head><body><header><a href='/'>{esc(site_name)}</a><nav><a href='/politique'>Politique</a> "
        "<a href='/economie'>Économie</a></nav></header>"
        f"<main><article><h1>{esc(extra.title)}</h1>{body}</article></main>"
        f"<footer><p>© {esc(site_name)} 2025</p></footer></body></html>"
    )


# source name -> (owner, family, [(kind, key, path)]): kind "seed" (index in SPECS) or "extra"
SOURCES: dict[str, tuple[str, str | None, list[tuple[str, str, str]]]] = {
    "franceinfo": ("media", None, [("seed", "0", "")]),
    "Libération": ("media", None, [("seed", "2", "")]),
    "Le Monde": ("media", None, [("seed", "3", "")]),
    "Le Parisien": (
        "media",
        None,
        [
            ("extra", "afp", "leparisien/sommet-ia-elysee-programme.html"),
            ("dead", "", "leparisien/supprime.html"),
        ],
    ),
    "20 Minutes": ("media", None, [("extra", "afp", "20minutes/sommet-ia-le-programme.html")]),
    "Ouest-France": ("media", None, [("extra", "afp", "ouestfrance/sommet-ia-programme.html")]),
    "La Tribune": ("media", None, [("extra", "afp-edited", "")]),
    "Parti communiste français": ("party", "gauche radicale", [("seed", "1", "")]),
    "Parti socialiste": ("party", "gauche", [("seed", "4", "")]),
    "La France insoumise": ("party", "gauche radicale", [("extra", "lfi", "")]),
    "Rassemblement national": ("party", "extrême droite", [("extra", "rn", "")]),
    "Renaissance": ("party", "centre", [("extra", "renaissance", "")]),
    "Les Républicains": ("party", "droite", [("extra", "lr-farming", "")]),
    "Horizons": ("party", "centre droit", []),  # its feed answers 404
}


def serve_archive(site: LocalSite) -> list[dict[str, str]]:
    """Register every page and feed on ``site``; return the sources file entries."""
    sources = []
    for i, (name, (owner, family, items)) in enumerate(SOURCES.items()):
        feed_items = []
        for kind, key, path in items:
            if kind == "seed":
                page = build_page(SPECS[int(key)])
                site.add(page.spec.slug, page.html)
                feed_items.append((page.spec.feed_title, page.spec.slug, page.spec.published))
            elif kind == "extra":
                extra = EXTRAS[key]
                slug = path or extra.slug
                site.add(slug, extra_page(extra, name))
                feed_items.append((extra.title, slug, extra.published))
            else:  # a dead link: the page answers 404
                feed_items.append(("Article retiré", path, _dt("2025-02-08T18:00:00+01:00")))
        feed_path = f"/feeds/{i}.xml"
        if items:
            site.add(
                feed_path, rss_feed(site.base, feed_items, title=name), content_type="application/rss+xml"
            )
        entry = {"name": name, "kind": "feed", "url": f"{site.base}{feed_path}", "owner": owner}
        if family:
            entry["family"] = family
        sources.append(entry)
    return sources


def build_archive(site: LocalSite, tmp: Path, engine: sa.Engine) -> None:
    """Poll and ingest the archive sources with the real pipeline, then cluster the edited
    AFP copy with its original (the near-duplicate stage's job, not run by this pipeline)."""
    from flows.runs import run_flow

    sources = write_sources(tmp / "archive_sources.toml", serve_archive(site))
    run_flow(sources_file=str(sources))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE articles SET cluster_id = sub.first FROM ("
                " SELECT min(id) AS first FROM articles WHERE title = :t) sub WHERE title = :t"
            ),
            {"t": EXTRAS["afp"].title},
        )
