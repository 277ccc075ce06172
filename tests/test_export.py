"""`veille export --format jsonl` after a run over the seed site."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from flows.cli import main
from monitors.archive.export import on_site_clock
from tests.docs_reader import read_code
from tests.site import LocalSite, seed_site, write_sources
from tests.test_docs import _subparser

pytestmark = pytest.mark.usefixtures("prefect_harness")

FIELDS = {
    "id", "url", "canonical_url", "source", "owner", "title", "author", "published_at", "fetched_at",
    "language", "language_confidence", "relevance", "relevant", "relevance_terms", "duplicate_of", "text",
    "cluster_id", "story_id", "wire", "sightings", "modified_at", "paywalled", "truncated",
    "access_reasons", "extraction_evidence",
}  # fmt: skip


def test_export_jsonl(site: LocalSite, clean_db: sa.Engine, tmp_path: Path) -> None:
    seed_site(site)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "party"}],
    )
    assert main(["run", "--sources", str(sources)]) == 0
    out = tmp_path / "archive.jsonl"
    assert main(["export", "--format", "jsonl", "--output", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 5
    for rec in records:
        assert set(rec) >= FIELDS, FIELDS - set(rec)
        assert rec["source"] == "Seeds" and rec["owner"] == "party"
        assert rec["extraction_evidence"]["title_from"], "where the title came from is exported"
        assert rec["relevant"] is True and rec["relevance_terms"]
        assert rec["sightings"] == [
            {
                "source": "Seeds",
                "owner": "party",
                "url": rec["url"],
                "first_seen": rec["sightings"][0]["first_seen"],
            }
        ]
    stories = {r["story_id"] for r in records}
    assert None not in stories and len(stories) < len(records)  # the summit pages share stories
    # Le Monde's seed ends with its paywall notice: flagged, with the reason, notice removed.
    lemonde = next(r for r in records if "lemonde" in r["url"])
    assert lemonde["paywalled"] is True and lemonde["truncated"] is True
    assert any(reason.startswith("notice: Il vous reste 41.37") for reason in lemonde["access_reasons"])
    assert "Il vous reste" not in lemonde["text"] and "réservée aux abonnés" not in lemonde["text"]
    others = [r for r in records if r is not lemonde]
    assert not any(r["paywalled"] for r in others), [r["access_reasons"] for r in others]
    franceinfo = next(r for r in records if "franceinfo" in r["url"])
    assert franceinfo["wire"] == "AFP"
    assert franceinfo["published_at"].startswith("2025-02-08")
    # Where users look in SQL: the view says where each title and date came from, and the
    # queries of docs/extraction.md run.
    with clean_db.connect() as conn:
        seen = conn.execute(sa.text("SELECT title_from, published_from FROM articles_with_source")).all()
        assert len(seen) == 5 and all(title_from for title_from, _ in seen)
        docs = (Path(__file__).resolve().parents[1] / "docs" / "extraction.md").read_text("utf-8")
        queries = [c.text for c in read_code(docs) if c.lang == "sql"]  # tests/docs_reader.py
        assert len(queries) >= 3
        for query in queries:
            conn.execute(sa.text(query)).all()
    # Filters: nothing published before the Le Monde piece of May 2024 is dropped by --since 2025.
    recent = tmp_path / "recent.jsonl"
    assert main(["export", "--since", "2025-01-01", "-o", str(recent)]) == 0
    assert len(recent.read_text(encoding="utf-8").splitlines()) == 4
    # an undated article counts from its fetch, as --help and docs/operating.md say
    undated = "UPDATE articles SET published_at = NULL WHERE url LIKE '%lemonde%' RETURNING id"
    with clean_db.begin() as conn:
        lemonde_id = conn.scalar(sa.text(undated))
    assert main(["export", "--since", "2025-01-01", "-o", str(recent)]) == 0
    ids = [json.loads(line)["id"] for line in recent.read_text(encoding="utf-8").splitlines()]
    assert len(ids) == 5 and ids[-1] == lemonde_id  # fetched today: last
    help_text = " ".join(_subparser(["export"])[0].format_help().split())
    assert "published (else fetched, for an undated article) since DATE" in help_text
    # CSV: the header is the records' keys, in order; with nothing to export, the header alone
    # (README's quickstart on a new archive: a script reading the file still finds its columns)
    table = tmp_path / "all.csv"
    assert main(["export", "--format", "csv", "--output", str(table)]) == 0
    header = table.read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(records[0])
    empty = tmp_path / "relevant.csv"
    assert main(["export", "--format", "csv", "--since", "2100-01-01", "--output", str(empty)]) == 0
    assert empty.read_text(encoding="utf-8") == header + "\n"


def test_source_and_owner_keep_what_they_carried(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A party that lists a media outlet's articles (its feed) carries them: `--source` and
    `--owner` keep them, as `sightings` and the views (`daily_relevant_by_owner`) count them,
    each record under the outlet that was first (before, the party's export was empty, exit 0)."""
    seed_site(site)
    media = {"name": "Presse", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}
    party = {"name": "Parti", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "party"}
    assert main(["run", "--sources", str(write_sources(tmp_path / "a.toml", [media]))]) == 0
    assert main(["run", "--sources", str(write_sources(tmp_path / "b.toml", [media, party]))]) == 0
    with clean_db.connect() as conn:
        carried = conn.scalar(
            sa.text(
                "SELECT count(DISTINCT si.article_id) FROM sightings si JOIN sources s ON s.id = si.source_id"
                " WHERE s.owner = 'party'"
            )
        )
        counted = conn.scalar(
            sa.text("SELECT sum(articles) FROM daily_relevant_by_owner WHERE owner = 'party'")
        )
    assert carried == counted == 5
    for argv in (["--owner", "party"], ["--source", "Parti"]):
        out = tmp_path / "party.jsonl"
        assert main(["export", *argv, "--no-progress", "-o", str(out)]) == 0
        records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(records) == 5, argv
        for record in records:
            assert (record["source"], record["owner"]) == ("Presse", "media")
            assert {s["source"] for s in record["sightings"]} == {"Presse", "Parti"}
    assert main(["export", "--owner", "media", "--no-progress", "-o", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5


def test_published_at_is_exported_on_the_site_clock() -> None:
    instant = datetime(2022, 5, 4, 2, 41, tzinfo=UTC)
    local = on_site_clock(instant, {"published_local": "2022-05-03T22:41:00-04:00"})
    assert local == instant and local is not None and local.isoformat().startswith("2022-05-03T22:41")
    # no offset given, or the stored date is not the extracted one: the instant as stored
    assert on_site_clock(instant, {"published_from": "url"}) is instant
    assert on_site_clock(instant, {"published_local": "2022-05-03T21:00:00-04:00"}) is instant
    assert on_site_clock(None, {"published_local": "2022-05-03T22:41:00-04:00"}) is None


def test_search_json_writes_published_at_as_the_export_does(
    clean_db: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille search --json` and `veille export` give one article the same `published_at`: on
    the site's clock when the page gave its offset (its day is the site's day), the stored
    instant in UTC otherwise. search --json wrote UTC, 2022-05-04 where the export said
    2022-05-03 for an article of 22:41 in Montréal."""
    instant = datetime(2022, 5, 4, 2, 41, tzinfo=UTC)
    evidences = [{"published_local": "2022-05-03T22:41:00-04:00"}, {"published_from": "url"}]
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Journal', 'feed', 'http://j/', 'media') RETURNING id"
            )
        )
        for i, evidence in enumerate(evidences):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash,"
                    " published_at, extraction_evidence) VALUES (:u, :u, :s, 'Sommet', :x, :h, :p,"
                    " CAST(:e AS jsonb))"
                ),
                {
                    "u": f"http://j/{i}",
                    "s": source,
                    "x": "Le sommet pour l'action sur l'IA.",
                    "h": f"h{i}",
                    "p": instant,
                    "e": json.dumps(evidence),
                },
            )
    out = tmp_path / "archive.jsonl"
    assert main(["export", "--no-progress", "-o", str(out)]) == 0
    exported = {
        r["url"]: r["published_at"] for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())
    }
    capsys.readouterr()
    assert main(["search", "sommet", "--json"]) == 0
    found = {r["url"]: r["published_at"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert found == exported, (found, exported)
    assert exported == {"http://j/0": "2022-05-03T22:41:00-04:00", "http://j/1": "2022-05-04T02:41:00+00:00"}


def test_feed_lists_undated_articles_last(clean_db: sa.Engine, tmp_path: Path) -> None:
    """`veille feed` is newest published first: an undated relevant article sorted by when it
    was stored, so came first, above the day's news; undated ones now come last, the newest
    stored first."""
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Journal', 'feed', 'http://j/', 'media') RETURNING id"
            )
        )
        stored = datetime(2022, 5, 10, tzinfo=UTC)
        for name, published, fetched in [
            ("undated-old", None, stored),
            ("may-4", datetime(2022, 5, 4, 9, tzinfo=UTC), stored),
            ("undated-new", None, stored + timedelta(days=1)),
            ("may-5", datetime(2022, 5, 5, 9, tzinfo=UTC), stored),
        ]:
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash,"
                    " published_at, fetched_at, relevant) VALUES (:u, :u, :s, 'Sommet', :x, :h,"
                    " :p, :f, true)"
                ),
                {
                    "u": f"http://j/{name}",
                    "s": source,
                    "x": f"Le sommet pour l'action sur l'IA, {name}.",
                    "h": name,
                    "p": published,
                    "f": fetched,
                },
            )
    out = tmp_path / "feed.atom"
    assert main(["feed", "-o", str(out)]) == 0
    ns = {"a": "http://www.w3.org/2005/Atom"}
    ids = [e.findtext("a:id", namespaces=ns) for e in ElementTree.parse(out).getroot().findall("a:entry", ns)]
    assert ids == [f"http://j/{n}" for n in ("may-5", "may-4", "undated-new", "undated-old")]


def _journal_and_story(
    conn: sa.Connection, first: datetime, last: datetime, language: str | None, articles: int
) -> tuple[int, int]:
    """A feed source "Journal" and one story "Sommet" of ``articles`` articles in one outlet:
    the ids, for the articles a test inserts."""
    source = conn.scalar(
        sa.text(
            "INSERT INTO sources (name, kind, url, owner)"
            " VALUES ('Journal', 'feed', 'http://j/', 'media') RETURNING id"
        )
    )
    story = conn.scalar(
        sa.text(
            "INSERT INTO stories (first_seen, last_seen, title, language, articles, outlets, media)"
            " VALUES (:first, :last, 'Sommet', :language, :articles, 1, 1) RETURNING id"
        ),
        {"first": first, "last": last, "language": language, "articles": articles},
    )
    return source, story


def test_feed_and_stories_write_dates_as_the_export_does(
    clean_db: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille feed`'s `<published>` and `veille stories --json`'s dates (`first_seen`,
    `last_seen`, `first_published`: its articles' publication instants) are on the site's clock
    as the export's `published_at`: the feed wrote UTC and stories the database session's
    clock, 2022-05-04 where the export said 2022-05-03 for an article of 22:41 in Montréal."""
    dated = [  # (published_at, extraction evidence): Montréal, no offset given, Paris
        (datetime(2022, 5, 4, 2, 41, tzinfo=UTC), {"published_local": "2022-05-03T22:41:00-04:00"}),
        (datetime(2022, 5, 4, 4, 0, tzinfo=UTC), {"published_from": "url"}),
        (datetime(2022, 5, 4, 5, 0, tzinfo=UTC), {"published_local": "2022-05-04T07:00:00+02:00"}),
    ]
    with clean_db.begin() as conn:
        source, story = _journal_and_story(conn, dated[0][0], dated[-1][0], "fr", articles=3)
        for i, (instant, evidence) in enumerate(dated):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash,"
                    " published_at, extraction_evidence, relevant, story_id) VALUES (:u, :u, :s,"
                    " 'Sommet', :x, :h, :p, CAST(:e AS jsonb), true, :st)"
                ),
                {
                    "u": f"http://j/{i}",
                    "s": source,
                    "x": f"Le sommet pour l'action sur l'IA, jour {i}.",
                    "h": f"h{i}",
                    "p": instant,
                    "e": json.dumps(evidence),
                    "st": story,
                },
            )
    out = tmp_path / "archive.jsonl"
    assert main(["export", "--no-progress", "-o", str(out)]) == 0
    exported = {
        r["url"]: datetime.fromisoformat(r["published_at"])
        for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())
    }
    assert [exported[f"http://j/{i}"].utcoffset() for i in range(3)] == [
        timedelta(hours=-4),
        timedelta(0),
        timedelta(hours=2),
    ]
    atom = tmp_path / "feed.atom"
    assert main(["feed", "-o", str(atom)]) == 0
    ns = {"a": "http://www.w3.org/2005/Atom"}
    fed = {
        e.find("a:id", ns).text: datetime.fromisoformat(e.find("a:published", ns).text)  # type: ignore[union-attr, arg-type]
        for e in ElementTree.parse(atom).getroot().findall("a:entry", ns)
    }
    # the same instants on the same clocks (Atom's UTC is written Z)
    assert {u: (d, d.utcoffset()) for u, d in fed.items()} == {
        u: (d, d.utcoffset()) for u, d in exported.items()
    }
    capsys.readouterr()
    assert main(["stories", "--json"]) == 0
    (record,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert (record["first_seen"], record["first_published"], record["last_seen"]) == (
        "2022-05-03T22:41:00-04:00",
        "2022-05-03T22:41:00-04:00",
        "2022-05-04T07:00:00+02:00",
    )


def test_every_reading_command_says_null_for_no_language(
    clean_db: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An article and its story with no language detected: `stats --json`, `stories --json` and
    the JSON lines export write null (as docs/operating.md says), never the "?" the tables show;
    `search --json` carries no language. `veille stories` still shows "language ?"."""
    with clean_db.begin() as conn:
        now = conn.scalar(sa.text("SELECT now()"))
        source, story = _journal_and_story(conn, now, now, None, articles=1)
        conn.execute(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash,"
                " language, relevant, story_id) VALUES ('http://j/0', 'http://j/0', :s, 'Sommet',"
                " 'Le sommet pour l''action sur l''IA.', 'h0', NULL, true, :st)"
            ),
            {"s": source, "st": story},
        )
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["by_language"] == [{"language": None, "articles": 1}]
    assert main(["stories", "--json"]) == 0
    (record,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert record["language"] is None
    assert main(["stories"]) == 0
    assert "language ?" in capsys.readouterr().out
    out = tmp_path / "archive.jsonl"
    assert main(["export", "--no-progress", "-o", str(out)]) == 0
    (exported,) = map(json.loads, out.read_text(encoding="utf-8").splitlines())
    assert exported["language"] is None
    assert main(["search", "sommet", "--json"]) == 0
    (hit,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert "?" not in hit.values()
