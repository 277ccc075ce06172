"""Deduplication through `veille run` and `veille export` over a local site: wire flags,
exact copies under several URLs and sources, near-duplicate clusters, revisions."""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.cli import main
from tests.site import SPECS, LocalSite, rss_feed, seed_pages, seed_site, write_sources

pytestmark = pytest.mark.usefixtures("prefect_harness")

WHEN = datetime.fromisoformat("2025-02-10T09:00:00+01:00")


def simple_page(title: str, paragraphs: list[str], site: str = "Le Quotidien") -> str:
    """A plain article page: headline, paragraphs, a little chrome."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<meta property='og:site_name' content='{html.escape(site, quote=True)}'></head><body>"
        "<nav><a href='/'>Accueil</a> <a href='/politique'>Politique</a></nav>"
        f"<main><article><h1>{html.escape(title)}</h1>{body}</article></main>"
        "<footer>Mentions légales - Contact</footer></body></html>"
    )


def _feed(site: LocalSite, path: str, items: list[tuple[str, str]]) -> None:
    site.add(path, rss_feed(site.base, [(t, p, WHEN) for t, p in items]), content_type="application/rss+xml")


def test_wire_copies_are_flagged(site: LocalSite, clean_db: sa.Engine, tmp_path: Path) -> None:
    seed_site(site)
    sources = write_sources(
        tmp_path / "s.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    assert main(["run", "--sources", str(sources)]) == 0
    with clean_db.connect() as conn:
        wire: dict[str, str | None] = dict(conn.execute(sa.text("SELECT url, wire FROM articles")).all())
    by_slug = {url.removeprefix(site.base + "/"): value for url, value in wire.items()}
    # franceinfo's seed is credited "Article rédigé par franceinfo avec AFP"; Libération's own
    # report only carries a Reuters photo credit; the parties' statements are their own.
    assert by_slug == {spec.slug: ("AFP" if spec.site == "franceinfo" else None) for spec in SPECS}


def test_revision_keeps_the_earlier_version(site: LocalSite, clean_db: sa.Engine, tmp_path: Path) -> None:
    page = seed_pages()[1]  # the PCF statement
    paragraphs = page.body_lines
    first_title, second_title = page.title, page.title + " (version corrigée)"
    fixed = [
        *paragraphs[:3],
        paragraphs[3].replace("au capital financier", "au seul capital financier"),
        *paragraphs[4:],
    ]
    fixed.append("Mise à jour : le communiqué a été complété après la clôture du sommet au Grand Palais.")
    assert fixed[3] != paragraphs[3]
    site.add("/pcf/communique.html", simple_page(first_title, paragraphs, "PCF"))
    _feed(site, "/pcf.xml", [(first_title, "pcf/communique.html")])
    sources = write_sources(
        tmp_path / "s.toml",
        [{"name": "PCF", "kind": "feed", "url": f"{site.base}/pcf.xml", "owner": "party"}],
    )
    assert main(["run", "--sources", str(sources)]) == 0
    with clean_db.connect() as conn:
        before = conn.execute(sa.text("SELECT id, title, text, text_hash FROM articles")).one()
    assert before.title == first_title

    site.add("/pcf/communique.html", simple_page(second_title, fixed, "PCF"))
    _feed(site, "/pcf.xml", [(second_title, "pcf/communique.html")])
    assert main(["run", "--sources", str(sources), "--all"]) == 0

    with clean_db.connect() as conn:
        after = conn.execute(sa.text("SELECT id, title, text, text_hash FROM articles")).one()
        revisions = conn.execute(
            sa.text("SELECT article_id, title, text, text_hash, changes FROM article_revisions")
        ).all()
        queue = conn.execute(sa.text("SELECT state, attempts, reason FROM url_queue")).one()
        bands = conn.scalar(
            sa.text("SELECT count(*) FROM article_bands WHERE article_id = :i"), {"i": after.id}
        )
    assert after.id == before.id
    assert after.title == second_title and "clôture du sommet" in after.text
    assert after.text_hash != before.text_hash
    assert len(revisions) == 1
    rev = revisions[0]
    assert (rev.article_id, rev.title, rev.text, rev.text_hash) == (
        before.id,
        first_title,
        before.text,
        before.text_hash,
    )
    changes = rev.changes
    assert changes["title_changed"] is True and changes["new_title"] == second_title
    # Changed: the edited paragraph (the headline is stored as the title, not as the text's
    # first line, so its correction changes the title only).
    assert changes["paragraphs_added"] == 1 and changes["paragraphs_changed"] == 1
    assert (changes["old_length"], changes["new_length"]) == (len(before.text), len(after.text))
    assert "+Mise à jour : le communiqué a été complété" in changes["diff"]
    assert "-" + paragraphs[3] in changes["diff"] and "+" + fixed[3] in changes["diff"]
    assert queue == ("fetched", 1, None)
    assert bands == 32


def test_export_lists_every_source_and_url_of_a_story(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    pages = {p.spec.site: p for p in seed_pages()}
    franceinfo, lemonde = pages["franceinfo"], pages["Le Monde"]
    # The same page under two URLs of one site and in two outlets' feeds (exact copies) ...
    for path in ("/fi/sommet-ia.html", "/fi/amp/sommet-ia-v2.html", "/partenaire/sommet-ia.html"):
        site.add(path, franceinfo.html)
    site.add("/lemonde/champion.html", lemonde.html)
    # ... and a near-duplicate: another headline and credit, the last paragraph cut.
    copy_lines = ["Par Le Quotidien avec AFP", *franceinfo.body_lines[:-1]]
    site.add("/quotidien/melenchon.html", simple_page("Mélenchon contre Macron sur l'IA", copy_lines))
    _feed(site, "/a.xml", [("Sommet IA", "fi/sommet-ia.html"), ("Macron", "lemonde/champion.html")])
    _feed(
        site, "/b.xml", [("Sommet IA", "partenaire/sommet-ia.html"), ("Sommet", "fi/amp/sommet-ia-v2.html")]
    )
    _feed(site, "/c.xml", [("Mélenchon", "quotidien/melenchon.html")])
    sources = write_sources(
        tmp_path / "s.toml",
        [
            {"name": "A", "kind": "feed", "url": f"{site.base}/a.xml", "owner": "media"},
            {"name": "B", "kind": "feed", "url": f"{site.base}/b.xml", "owner": "media"},
            {"name": "C", "kind": "feed", "url": f"{site.base}/c.xml", "owner": "media"},
        ],
    )
    assert main(["run", "--sources", str(sources)]) == 0
    out = tmp_path / "export.jsonl"
    assert main(["export", "--output", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 3  # franceinfo's text once, Le Monde, the near-duplicate copy
    for record in records:
        assert {"id", "cluster_id", "duplicate_of", "wire", "sightings", "cluster_sightings"} <= set(record)
    # The row keeps whichever of the three URLs was stored first (workers run concurrently).
    story = next(r for r in records if any(s["url"].endswith("/fi/sommet-ia.html") for s in r["sightings"]))
    assert story["url"].removeprefix(site.base) in {
        "/fi/sommet-ia.html",
        "/fi/amp/sommet-ia-v2.html",
        "/partenaire/sommet-ia.html",
    }
    copy = next(r for r in records if r["url"].endswith("/quotidien/melenchon.html"))
    other = next(r for r in records if r["url"].endswith("/lemonde/champion.html"))
    assert story["wire"] == "AFP" and copy["wire"] == "AFP" and other["wire"] is None
    carried = {(s["source"], s["url"].removeprefix(site.base)) for s in story["sightings"]}
    assert carried == {
        ("A", "/fi/sommet-ia.html"),
        ("B", "/partenaire/sommet-ia.html"),
        ("B", "/fi/amp/sommet-ia-v2.html"),
    }
    # The root is whichever copy was archived first (the run's workers are concurrent).
    root, later = sorted((story, copy), key=lambda r: r["id"])
    assert root["cluster_id"] == root["id"] and root["duplicate_of"] is None
    assert later["cluster_id"] == root["id"] and later["duplicate_of"] == root["id"]
    assert other["cluster_id"] is None and other["sightings"][0]["source"] == "A"
    everyone = {(s["source"], s["url"].removeprefix(site.base)) for s in story["cluster_sightings"]}
    assert everyone == carried | {("C", "/quotidien/melenchon.html")}
    assert copy["cluster_sightings"] == story["cluster_sightings"]
    # The filters bind their parameters with explicit types (an untyped NULL used to fail).
    filtered = tmp_path / "filtered.jsonl"
    assert main(["export", "--relevant", "--since", "2000-01-01", "--source", "C", "-o", str(filtered)]) == 0
    assert [json.loads(line)["id"] for line in filtered.read_text(encoding="utf-8").splitlines()] == [
        copy["id"]
    ]
