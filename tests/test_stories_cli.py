"""`veille stories` after a run over the seed site, as docs/stories.md shows it."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.cli import main
from tests.site import LocalSite, seed_site, write_sources

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_stories_command(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_site(site)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "party"}],
    )
    assert main(["run", "--sources", str(sources)]) == 0
    capsys.readouterr()
    assert main(["stories", "--json"]) == 0
    stories = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    with clean_db.connect() as conn:
        expected: dict[int | None, int] = dict(
            conn.execute(sa.text("SELECT story_id, count(*) FROM articles GROUP BY story_id")).all()
        )
    assert None not in expected
    assert {s["id"]: s["articles"] for s in stories} == expected
    widest = stories[0]
    # docs/stories.md names each field of --json
    doc = (Path(__file__).resolve().parent.parent / "docs" / "stories.md").read_text("utf-8")
    said = doc.split("`--json` prints one object per story", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", said)) == set(widest)
    assert widest["first_publisher"] == "Seeds" and widest["outlets_list"] == ["Seeds"]
    assert widest["parties"] == 1 and widest["media"] == 0 and widest["title"]

    assert main(["stories", "--topic", "ai_summit"]) == 0
    text = capsys.readouterr().out
    assert f"#{widest['id']} " in text and "first: Seeds" in text
    # one party, one outlet: in the singular (it said "1 outlets (0 media, 1 parties)")
    assert "1 outlet (0 media, 1 party)" in text, text
    # the topic's file, as search, export, feed, stats and eval take it: the same stories
    topic_file = Path(__file__).resolve().parents[1] / "monitors" / "topics" / "ai_summit.toml"
    assert main(["stories", "--topic", str(topic_file)]) == 0
    assert capsys.readouterr().out == text
    assert main(["stories", "--since", "2100-01-01"]) == 0
    assert capsys.readouterr().out.strip() == "no story since 2100-01-01"
    # a topic no article is relevant to: the filter is said (it was "no story yet" alone, as
    # if the archive held no story)
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE article_topics SET relevant = false WHERE topic = 'eu_ai_act'"))
    assert main(["stories", "--topic", "eu_ai_act"]) == 0
    assert capsys.readouterr().out.strip() == "no story yet with an article relevant to eu_ai_act"
    assert main(["stories", "--topic", "eu_ai_act", "--since", "2025-02-01"]) == 0
    said = capsys.readouterr().out.strip()
    assert said == "no story with an article relevant to eu_ai_act since 2025-02-01"
    assert main(["stories", "--topic", "nope"]) == 2
    # once, cause first (it was "no topic 'nope' (no topic named 'nope' (...))")
    assert capsys.readouterr().err.startswith("veille: error: no topic named 'nope' (topics in the folder ")
    assert main(["stories", "--topic", str(tmp_path / "missing.toml")]) == 2
    assert (
        capsys.readouterr().err == f"veille: error: {tmp_path / 'missing.toml'}: No such file or directory\n"
    )
    with pytest.raises(SystemExit) as stop:  # a usage error, exit 2 as the others (was 1)
        main(["stories", "--since", "yesterday"])
    assert stop.value.code == 2
    assert "argument --since: 'yesterday' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
    with clean_db.connect() as conn:
        views = conn.execute(sa.text("SELECT sum(articles) FROM stories_by_day")).scalar_one()
    assert views == sum(expected.values())


def test_a_revised_article_does_not_make_its_story_grow_in_the_run_report(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run that only re-fetched an article with a corrected text (its feed entry listed again
    under another title) listed its story in the run report as "growing", "added 1": a revision
    sets the article's fetched_at, which the report read as a new member. The story got no
    article; its revised member is the same one."""
    from flows.artifacts import run_artifacts
    from monitors.archive.db import session_scope
    from monitors.archive.reads import database_now
    from monitors.archive.story_report import stories_since
    from tests.site import rss_feed, seed_pages
    from tests.test_dedup_pipeline import WHEN, simple_page

    page = seed_pages()[1]
    lines = page.body_lines
    site.add("/pcf/communique.html", simple_page(page.title, lines, "PCF"))
    feed = [(page.title, "pcf/communique.html", WHEN)]
    site.add("/pcf.xml", rss_feed(site.base, feed), content_type="application/rss+xml")
    pcf = {"name": "PCF", "kind": "feed", "url": f"{site.base}/pcf.xml", "owner": "party"}
    sources = write_sources(tmp_path / "s.toml", [pcf])
    assert main(["run", "--sources", str(sources)]) == 0
    with session_scope() as session:
        first = stories_since(session, database_now(session) - timedelta(hours=1))
        since = database_now(session)
    assert [(s["new"], s["added"]) for s in first] == [(True, 1)]  # the first run made the story

    fixed = [*lines, "Mise à jour : le communiqué a été complété après la clôture du sommet."]
    site.add("/pcf/communique.html", simple_page(page.title + " (corrigé)", fixed, "PCF"))
    feed = [(page.title + " (corrigé)", "pcf/communique.html", WHEN)]
    site.add("/pcf.xml", rss_feed(site.base, feed), content_type="application/rss+xml")
    assert main(["run", "--sources", str(sources), "--all"]) == 0
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM article_revisions")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM stories")) == 1
    with session_scope() as session:
        assert stories_since(session, since) == []
    # the story shows its (central) article's corrected headline, not the one no member has now
    capsys.readouterr()
    assert main(["stories", "--json"]) == 0
    assert [json.loads(line)["title"] for line in capsys.readouterr().out.splitlines()] == [
        page.title + " (corrigé)"
    ]
    report = next(a for a in run_artifacts([], since, None) if a.kind == "markdown").data
    assert "## Stories: 0 new, 0 growing" in report, report


def test_a_revised_article_is_counted_apart_from_new_ones(
    site: LocalSite,
    clean_db: sa.Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that only re-fetched an article with a changed text said "0 new URLs, 1 stored" (in
    its totals, verdict, per-source table and report), as if it had stored a new article: it
    revised one already stored, and says "0 stored, 1 revised"."""
    import flows.artifacts
    from tests.site import rss_feed, seed_pages
    from tests.test_dedup_pipeline import WHEN, simple_page

    reports: list[tuple[list[dict[str, object]], str, str]] = []
    real_report = flows.artifacts.run_report

    def spy(rows: list[dict[str, object]], *args: object, **kwargs: object) -> str:
        text = real_report(rows, *args, **kwargs)  # type: ignore[arg-type]
        outcome = args[2] if len(args) > 2 else kwargs.get("outcome")
        reports.append((rows, getattr(outcome, "message", ""), text))
        return text

    monkeypatch.setattr(flows.artifacts, "run_report", spy)
    page = seed_pages()[1]
    site.add("/pcf/communique.html", simple_page(page.title, page.body_lines, "PCF"))
    feed = [(page.title, "pcf/communique.html", WHEN)]
    site.add("/pcf.xml", rss_feed(site.base, feed), content_type="application/rss+xml")
    pcf = {"name": "PCF", "kind": "feed", "url": f"{site.base}/pcf.xml", "owner": "party"}
    sources = write_sources(tmp_path / "s.toml", [pcf])
    assert main(["run", "--sources", str(sources)]) == 0
    first = capsys.readouterr().out
    assert "1 new URL, 1 stored, 0 duplicates" in first, first
    assert "revised" not in first.split("\n\n")[-1]  # no revision, no word of it

    fixed = [*page.body_lines, "Mise à jour : le communiqué a été complété après la clôture du sommet."]
    site.add("/pcf/communique.html", simple_page(page.title + " (corrigé)", fixed, "PCF"))
    feed = [(page.title + " (corrigé)", "pcf/communique.html", WHEN)]
    site.add("/pcf.xml", rss_feed(site.base, feed), content_type="application/rss+xml")
    assert main(["run", "--sources", str(sources), "--all"]) == 0
    second = capsys.readouterr().out
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM article_revisions")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 1
    assert "0 new URLs, 0 stored, 1 revised, 0 duplicates" in second, second
    header, row = second.strip().splitlines()[:2]
    assert dict(zip(header.split(), row.split(), strict=False))["revised"] == "1", second
    rows, verdict, text = reports[-1]
    assert [(r["stored"], r["revised"]) for r in rows] == [(0, 1)]
    assert "0 new URLs, 0 stored, 1 revised, 0 duplicates" in verdict, verdict
    assert "0 new URLs, 0 articles stored, 1 revised, 0 duplicates" in text, text
