"""End to end: `veille run` over a local site built from the seed documents."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.cli import main
from tests.site import (
    FOOTER_LINES,
    LocalSite,
    rss_feed,
    run_twice_with_one_odd_page,
    seed_site,
    write_sources,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")

SNAPSHOT = sa.text(
    "SELECT id, canonical_url, title, author, published_at, fetched_at, updated_at, language,"
    " language_confidence, relevance, relevant, text_hash FROM articles ORDER BY id"
)


def _spaces(text: str) -> str:
    """Fold the no-break spaces French typography uses (extraction normalises them)."""
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def _articles(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(SNAPSHOT))


def test_run_stores_the_five_seeds_then_is_idempotent(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    pages = seed_site(site)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    # Not capsys: Prefect's log handler would keep a stream that capsys closes after the test.
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["run", "--sources", str(sources)]) == 0
    assert "5 stored" in buffer.getvalue()

    with clean_db.connect() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT url, title, language, language_confidence, relevant, relevance, text,"
                    " published_at, relevance_evidence FROM articles ORDER BY url"
                )
            )
            .mappings()
            .all()
        )
    assert len(rows) == 5
    for row in rows:
        assert row["language"] == "fr", row["url"]
        assert row["language_confidence"] > 0.9
        assert row["relevant"] is True, (row["url"], row["relevance"])
        assert row["relevance_evidence"], row["url"]
        assert row["title"], row["url"]
        assert row["published_at"] is not None
        for footer in FOOTER_LINES[1:]:
            assert footer not in row["text"]
    # Every body paragraph of every seed made it into the stored text.
    by_url = {r["url"]: _spaces(r["text"]) for r in rows}
    for page in pages:
        text = by_url[f"{site.base}/{page.spec.slug}"]
        missing = [ln for ln in page.body_lines if _spaces(ln.lstrip("•- "))[:60] not in text]
        assert not missing, (page.spec.file, missing[:2])

    before = _articles(clean_db)
    first_feed_hits = len(site.hits("/feed.xml"))

    # Not due yet: a plain second run polls nothing.
    assert main(["run", "--sources", str(sources)]) == 0
    assert len(site.hits("/feed.xml")) == first_feed_hits

    # Forced: the feed answers 304 to the conditional GET, nothing new is stored.
    assert main(["run", "--sources", str(sources), "--all"]) == 0
    last = site.hits("/feed.xml")[-1]
    assert last["status"] == 304 and last["if_none_match"] == '"seed-feed-v1"'
    assert _articles(clean_db) == before
    with clean_db.connect() as conn:
        source = conn.execute(
            sa.text("SELECT not_modified_count, new_items_count, consecutive_failures FROM sources")
        ).one()
        pages_fetched = conn.scalar(sa.text("SELECT count(*) FROM fetch_log WHERE kind = 'page'"))
    assert tuple(source) == (1, 5, 0)
    assert pages_fetched == 5


def test_dead_entry_is_recorded_and_the_others_are_stored(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    pages = seed_site(site)
    items = [(p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages[:2]]
    items.append(("Article disparu", "gone/article-supprime.html", pages[0].spec.published))
    site.add("/broken.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Broken", "kind": "feed", "url": f"{site.base}/broken.xml", "owner": "media"}],
    )
    assert main(["run", "--sources", str(sources)]) == 1  # partly done: one page failed
    with clean_db.connect() as conn:
        queue: dict[str, str] = dict(
            conn.execute(sa.text("SELECT url, state || ':' || coalesce(reason, '') FROM url_queue")).all()
        )
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        logged = conn.execute(
            sa.text("SELECT status_code, error_class FROM fetch_log WHERE url LIKE '%article-supprime%'")
        ).all()
    assert stored == 2
    assert queue[f"{site.base}/gone/article-supprime.html"].startswith("failed:HTTP 404")
    assert logged == [(404, "permanent")]  # recorded once, not retried


def test_a_feed_naming_a_lone_surrogate_stops_nothing(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """One feed with a reference to no character (``&#55357;``) among the sources: before, its
    parse raised out of the poll, its batch was not recorded and the run stored nothing (exit
    3); now all five seeds are stored and the feed's health says what was replaced."""
    pages = seed_site(site)
    items = [(p.spec.feed_title + " ZZ", p.spec.slug, p.spec.published) for p in pages[:2]]
    body = rss_feed(site.base, items).replace(" ZZ<", " &#55357;<", 1).replace(" ZZ<", "<")
    site.add("/odd.xml", body, content_type="application/rss+xml")
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {"name": "Odd", "kind": "feed", "url": f"{site.base}/odd.xml", "owner": "media"},
            {"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"},
        ],
    )
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(sources)]) == 0
    with clean_db.connect() as conn:
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        health: dict[str, str | None] = dict(
            conn.execute(sa.text("SELECT name, last_error_class FROM sources")).all()
        )
        odd = conn.scalar(sa.text("SELECT last_error FROM sources WHERE name = 'Odd'"))
        marked = sa.text("SELECT feed_title FROM url_queue WHERE feed_title LIKE '%\ufffd'")
        titles = conn.scalars(marked).all()
    assert stored == 5
    assert health == {"Odd": "warning", "Seeds": None}
    assert "1 character reference(s) to no character replaced by U+FFFD" in odd
    assert titles == [pages[0].spec.feed_title + " \ufffd"]


def test_a_page_whose_json_ld_names_a_lone_surrogate_is_stored(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A page's JSON-LD may escape half a surrogate pair ("\ud83d" alone): json.loads decodes it
    to a string psycopg cannot send. The escape becomes U+FFFD, so the page is stored."""
    pages = seed_site(site)
    ld = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Sommet \\ud83d IA",'
        ' "author": {"@type": "Person", "name": "Jeanne \\udc00 Dupont"},'
        ' "publisher": {"@type": "Organization", "name": "Le Quotidien \\ud800"}}</script>'
    )
    odd = pages[0]
    html = odd.html.replace("</head>", ld + "</head>", 1)
    html = re.sub(r"<h1[^>]*>.*?</h1>", "", html, count=1, flags=re.S)
    html = re.sub(r"<title>.*?</title>", "", html, count=1, flags=re.S)
    html = re.sub(r"<meta property=.og:title.[^>]*>", "", html)
    assert html != odd.html and "\\ud83d" in html
    site.add(odd.spec.slug, html)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(sources)]) == 0
    with clean_db.connect() as conn:
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        failed = conn.scalars(sa.text("SELECT reason FROM url_queue WHERE state <> 'fetched'")).all()
        marked = conn.scalars(sa.text("SELECT title FROM articles WHERE title LIKE '%\ufffd%'")).all()
    assert (stored, failed) == (5, [])
    assert marked == ["Sommet \ufffd IA"]


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
def test_a_page_the_database_will_not_take_is_recorded_and_the_run_goes_on(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    """A value PostgreSQL rejects (NUL) or psycopg cannot send (a lone surrogate) in one page's
    analysis, whatever let it through. Before: with a NUL the ingest worker's task failed, its
    retry found nothing to claim, and the run said it succeeded while the page stayed pending,
    unstored and unexplained; with a lone surrogate the run ended "worker failed", and the page
    failed again on every run. Now that page is failed with its cause, once, and the others are
    stored."""

    def bad_author(article: Any) -> None:
        article.author = f"Jeanne {bad} Dupont"

    odd_url = run_twice_with_one_odd_page(site, tmp_path, monkeypatch, bad_author)
    with clean_db.connect() as conn:
        stored = conn.scalars(sa.text("SELECT url FROM articles")).all()
        queue = conn.execute(
            sa.text("SELECT state, reason FROM url_queue WHERE url = :u"), {"u": odd_url}
        ).one()
        logged = conn.execute(
            sa.text("SELECT outcome, error_class FROM fetch_log WHERE url = :u AND kind = 'page'"),
            {"u": odd_url},
        ).all()
    assert len(stored) == 4 and odd_url not in stored
    kind = "DataError" if bad == "\x00" else "UnicodeEncodeError"
    assert queue.state == "failed" and queue.reason.startswith(f"could not store this page: {kind}: "), queue
    assert logged == [("error", "permanent")]


ACT_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>AI Act : les obligations des modèles d'IA à usage général entrent en vigueur</title></head>
<body><article><h1>AI Act : les obligations des modèles d'IA à usage général entrent en vigueur</h1>
<p>Depuis le 2 août, le règlement européen sur l'intelligence artificielle (AI Act) s'applique aux
fournisseurs de modèles d'IA à usage général. La Commission européenne et son AI Office attendent
d'eux une documentation technique, un résumé des données d'entraînement et une politique de respect
du droit d'auteur.</p>
<p>Le code de bonnes pratiques publié par la Commission en juillet doit aider les fournisseurs à
démontrer leur conformité au règlement. Plusieurs entreprises l'ont signé, d'autres le contestent
et demandent un report du calendrier d'application de l'AI Act.</p>
<p>Les modèles présentant un risque systémique devront en outre évaluer et atténuer ces risques,
signaler les incidents graves à l'AI Office et garantir un niveau suffisant de cybersécurité. Les
sanctions prévues par le règlement pourront atteindre 3 % du chiffre d'affaires mondial.</p>
<p>Les autorités nationales de surveillance du marché doivent être désignées par chaque État membre.
En France, la CNIL et la DGCCRF se partagent une partie des contrôles prévus par le texte
européen, selon le projet de loi d'adaptation présenté au Parlement.</p>
</article></body></html>"""


def test_a_run_counts_an_article_relevant_to_another_topic_of_the_folder(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """The shipped folder holds two topics. A run's "relevant" (terminal summary, artifacts)
    counts articles relevant to any of them; before, it counted the summit's only, so an AI Act
    article was listed under "New articles relevant to a topic" but not in the totals."""
    from datetime import UTC, datetime

    pages = seed_site(site)
    site.add("/ai-act-gpai.html", ACT_PAGE)
    items = [(p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages]
    items.append(
        ("AI Act : les modèles à usage général", "ai-act-gpai.html", datetime(2025, 8, 4, tzinfo=UTC))
    )
    site.add("/six.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Six", "kind": "feed", "url": f"{site.base}/six.xml", "owner": "media"}],
    )
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["run", "--sources", str(sources)]) == 0
    with clean_db.connect() as conn:
        act = conn.execute(
            sa.text(
                "SELECT a.relevant, t.relevant FROM articles a JOIN article_topics t"
                " ON t.article_id = a.id AND t.topic = 'eu_ai_act' WHERE a.url LIKE '%ai-act-gpai%'"
            )
        ).one()
        summit = conn.scalar(sa.text("SELECT count(*) FROM articles WHERE relevant"))
    assert tuple(act) == (False, True)  # the AI Act's, not the summit's
    assert summit == 5
    assert "6 stored, 0 duplicates, 6 relevant" in buffer.getvalue()


def test_unknown_source_kind_fails_with_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[source]]\nname = "X"\nkind = "telegram"\nurl = "https://x.fr"\nowner = "media"\n')
    assert main(["run", "--sources", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3" in err and "unknown kind 'telegram'" in err
