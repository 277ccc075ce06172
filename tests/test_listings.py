"""A URL listed by several sources: fetched once, and every source kept as a sighting."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.cli import main
from tests.site import LocalSite, rss_feed, seed_site, write_sources

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _run(sources: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--all", "--sources", str(sources)]) == 0


def test_every_source_listing_a_url_is_a_sighting(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    pages = seed_site(site)
    page = pages[0]
    slug = page.spec.slug
    site.add("/une.xml", rss_feed(site.base, [(page.spec.feed_title, slug, page.spec.published)]))
    site.add(
        "/politique.xml",
        rss_feed(site.base, [(page.spec.feed_title, slug + "?utm_source=rss", page.spec.published)]),
    )
    first = write_sources(
        tmp_path / "first.toml",
        [
            {"name": "Une", "kind": "feed", "url": f"{site.base}/une.xml", "owner": "media"},
            {"name": "Politique", "kind": "feed", "url": f"{site.base}/politique.xml", "owner": "media"},
        ],
    )
    _run(first)
    # Later, a third feed lists the same article: a sighting at once, no second fetch.
    site.add("/tech.xml", rss_feed(site.base, [(page.spec.feed_title, slug, page.spec.published)]))
    later = write_sources(
        tmp_path / "later.toml",
        [{"name": "Tech", "kind": "feed", "url": f"{site.base}/tech.xml", "owner": "media"}],
    )
    _run(later)

    with clean_db.connect() as conn:
        articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        sightings = conn.execute(
            sa.text(
                "SELECT s.name, si.url FROM sightings si"
                " JOIN sources s ON s.id = si.source_id ORDER BY s.name"
            )
        ).all()
    assert articles == 1
    assert [(name, url.removeprefix(site.base + "/")) for name, url in sightings] == [
        ("Politique", slug + "?utm_source=rss"),
        ("Tech", slug),
        ("Une", slug),
    ]
    assert len(site.hits("/" + slug)) + len(site.hits(f"/{slug}?utm_source=rss")) == 1  # fetched once
