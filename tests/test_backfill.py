"""`veille backfill`: a past date window read from a sitemap index and a feed, then ingested."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.cli import main
from tests.site import LocalSite, Page, rss_feed, seed_site, write_sources

pytestmark = pytest.mark.usefixtures("prefect_harness")
RSS = "application/rss+xml"


def _sitemaps(site: LocalSite, pages: list[Page]) -> None:
    feb = "".join(
        f"<url><loc>{site.base}/{p.spec.slug}</loc><lastmod>{p.spec.published.isoformat()}</lastmod></url>"
        for p in pages
    )
    now = datetime.now(UTC).isoformat()
    site.add(
        "/sitemap.xml",
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.base}/sitemap-2025-02.xml</loc><lastmod>2025-02-28T23:00:00+00:00</lastmod></sitemap>"
        f"<sitemap><loc>{site.base}/sitemap-recent.xml</loc><lastmod>{now}</lastmod></sitemap>"
        f"<sitemap><loc>{site.base}/sitemap-2023.xml</loc><lastmod>2023-12-31T23:00:00+00:00</lastmod></sitemap>"
        "</sitemapindex>",
        content_type="application/xml",
    )
    site.add(
        "/sitemap-2025-02.xml",
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{feb}</urlset>',
        content_type="application/xml",
    )
    site.add(
        "/sitemap-recent.xml",
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.base}/today.html</loc><lastmod>{now}</lastmod></url></urlset>",
        content_type="application/xml",
    )


def sitemap_feed_and_listing(site: LocalSite, tmp_path: Path) -> tuple[list[Page], Path]:
    """The seed pages in a sitemap index (tests' months) and an old feed; a sources file with
    a sitemap, a feed and a listing source (which cannot reach back: skipped)."""
    pages = seed_site(site)
    _sitemaps(site, pages)
    site.add(
        "/old.xml", rss_feed(site.base, [(p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages])
    )
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {"name": "Archive", "kind": "sitemap", "url": f"{site.base}/sitemap.xml", "owner": "party"},
            {"name": "Fil", "kind": "feed", "url": f"{site.base}/old.xml", "owner": "media"},
            {"name": "Page", "kind": "listing", "url": f"{site.base}/feed.xml", "owner": "party"},
        ],
    )
    return pages, sources


def test_backfill_reads_the_window_only_and_leaves_source_health_alone(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    pages, sources = sitemap_feed_and_listing(site, tmp_path)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--sources", str(sources)])
    assert code == 0
    assert "backfill pages" in err.getvalue()  # the progress bar

    feb = {f"{site.base}/{p.spec.slug}" for p in pages if p.spec.published.year == 2025}
    assert len(feb) == 4  # the Le Monde piece of May 2024 is outside the window
    with clean_db.connect() as conn:
        stored = set(conn.scalars(sa.text("SELECT url FROM articles")))
        queued = set(conn.scalars(sa.text("SELECT url FROM url_queue")))
        health = conn.execute(
            sa.text(
                "SELECT name, last_polled_at, etag, consecutive_failures, new_items_count FROM sources"
                " ORDER BY name"
            )
        ).all()
        sightings = conn.scalar(sa.text("SELECT count(*) FROM sightings"))
    assert stored == feb and queued == feb
    assert site.hits("/sitemap-2023.xml") == []  # a child modified before the window is not read
    assert site.hits("/today.html") == []
    assert site.hits("/feed.xml") == []  # the listing source is skipped: no past to read
    # A backfill says nothing of how sources behave now: health and schedule untouched.
    assert [tuple(r)[1:] for r in health] == [(None, None, 0, 0)] * 3
    assert sightings == 8  # each page, from the sitemap and from the feed
    # A second backfill over the same window finds nothing new.
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert (
            main(["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--sources", str(sources)])
            == 0
        )
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 4
        assert conn.scalar(sa.text("SELECT count(*) FROM url_queue")) == 4


def test_a_backfill_s_past_urls_are_not_the_source_s_new_items_of_the_week(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """`veille sources` counted the URLs a backfill queued (with today's discovered_at) as the
    source's new items in 7 days: a source backfilled today and never polled showed "4" new,
    and so did one whose polls found nothing new (`quiet`). The queue marks how a URL was found
    (url_queue.found_by, migration 0040_queue_found_by): the week's new items are live polling's."""
    from monitors.archive.db import session_scope
    from monitors.collect.health import source_rows

    pages, sources = sitemap_feed_and_listing(site, tmp_path)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert (
            main(["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--sources", str(sources)])
            == 0
        )

    def seen() -> dict[str, tuple[int, str]]:
        with session_scope() as session:
            new = {r["name"]: r["new_7d"] for r in source_rows(session, ["Archive", "Fil"])}
            health: dict[str, str] = dict(
                session.execute(sa.text("SELECT name, health FROM source_health")).all()
            )
        return {name: (n, health[name]) for name, n in new.items()}

    with clean_db.connect() as conn:
        found = conn.execute(sa.text("SELECT found_by, count(*) FROM url_queue GROUP BY 1")).all()
    assert [tuple(r) for r in found] == [("backfill", 4)]
    # Archive's was 4 (a queued URL is the first source's that listed it)
    assert seen() == {"Archive": (0, "never polled"), "Fil": (0, "never polled")}
    # polled: the feed lists only what the backfill queued (the February pages), nothing new
    entries = [
        (p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages if p.spec.published.year == 2025
    ]
    site.add("/old.xml", rss_feed(site.base, entries), content_type=RSS)
    fil = write_sources(
        tmp_path / "fil.toml",
        [{"name": "Fil", "kind": "feed", "url": f"{site.base}/old.xml", "owner": "media"}],
    )
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(fil)]) == 0
    assert seen()["Fil"] == (0, "quiet")
    # a new entry live polling finds is the week's
    site.add("/nouveau.html", pages[0].html)
    site.add(
        "/old.xml",
        rss_feed(site.base, [*entries, ("Nouveau", "nouveau.html", datetime.now(UTC))]),
        content_type=RSS,
    )
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(fil), "--all"]) == 0
    assert seen()["Fil"] == (1, "ok")


def test_backfill_rejects_an_empty_window(tmp_path: Path, clean_db: sa.Engine) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["backfill", "--since", "2025-03-01", "--until", "2025-02-01"])
    assert code == 2
    assert "is after --until" in err.getvalue()


def test_backfill_of_one_source_reads_that_source_only(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """`veille backfill --since 2025-02-01 --source "Parti socialiste"` (its help's example,
    README's table): only the named sources are read; --source is repeatable."""
    pages = seed_site(site)
    _sitemaps(site, pages)
    site.add(
        "/old.xml", rss_feed(site.base, [(p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages])
    )
    feb = next(p for p in pages if p.spec.published.year == 2025)
    site.add("/other.xml", rss_feed(site.base, [(feb.spec.feed_title, feb.spec.slug, feb.spec.published)]))
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {
                "name": "Parti socialiste",
                "kind": "sitemap",
                "url": f"{site.base}/sitemap.xml",
                "owner": "party",
            },
            {"name": "Fil", "kind": "feed", "url": f"{site.base}/old.xml", "owner": "media"},
            {"name": "Autre", "kind": "feed", "url": f"{site.base}/other.xml", "owner": "media"},
        ],
    )

    def backfill(*names: str) -> None:
        argv = ["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--sources", str(sources)]
        for name in names:
            argv += ["--source", name]
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            assert main(argv) == 0

    def seen() -> dict[str, int]:
        with clean_db.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT s.name, count(*) FROM sightings g JOIN sources s ON s.id = g.source_id GROUP BY 1"
                )
            ).all()
        return {name: int(n) for name, n in rows}

    backfill("Parti socialiste")
    assert seen() == {"Parti socialiste": 4}
    assert site.hits("/old.xml") == [] and site.hits("/other.xml") == []
    backfill("Fil", "Autre")
    assert seen() == {"Parti socialiste": 4, "Fil": 4, "Autre": 1}


def test_backfill_fetches_at_most_its_budget_and_the_next_run_goes_on(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VEILLE_BACKFILL_MAX_FETCHES (or --max-fetches) bounds the requests one backfill makes,
    the sitemaps it reads included, as VEILLE_SITEMAP_MAX_FETCHES bounds a sitemap poll: the
    rest stays queued, the run says so (partly done, exit 1) and the same command again goes
    on with what was left."""
    pages = seed_site(site)
    _sitemaps(site, pages)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Archive", "kind": "sitemap", "url": f"{site.base}/sitemap.xml", "owner": "party"}],
    )
    argv = ["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--sources", str(sources)]
    page_paths = {"/" + p.spec.slug for p in pages}

    def run(*extra: str) -> tuple[int, str]:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main([*argv, *extra])
        return code, err.getvalue()

    def fetched() -> int:
        return sum(1 for hit in site.log if hit["path"] in page_paths)

    # the index and its two children of the window (2025-02, recent), then two pages
    monkeypatch.setenv("VEILLE_BACKFILL_MAX_FETCHES", "5")
    code, err = run()
    assert code == 1, err
    assert (
        "stopped after 5 fetches (--max-fetches, VEILLE_BACKFILL_MAX_FETCHES), "
        "2 queued URL(s) left for the next run" in err
    ), err
    assert len(_requests(site)) == 5, _requests(site)
    assert fetched() == 2
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 2
        assert conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE state = 'pending'")) == 2

    code, err = run("--max-fetches", "10")  # the option wins over the setting
    assert code == 0, err
    assert fetched() == 4  # the ones left, no page twice
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 4


def _requests(site: LocalSite) -> list[str]:
    """The paths the site was asked for, but robots.txt (read once per site and run)."""
    return [hit["path"] for hit in site.log if hit["path"] != "/robots.txt"]


def test_the_backfill_budget_covers_the_child_sitemaps(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A sitemap index of six monthly children and --max-fetches 4: four requests in all (the
    index and three children; before, every child was read outside the budget, then the
    pages), the children not read named in the run's line, exit 1."""
    pages = seed_site(site)
    children = "".join(
        f"<sitemap><loc>{site.base}/sitemap-{n}.xml</loc><lastmod>2025-02-28T23:00:00+00:00</lastmod></sitemap>"
        for n in range(6)
    )
    site.add(
        "/sitemap.xml",
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + children + "</sitemapindex>",
        content_type="application/xml",
    )
    for n in range(6):
        page = pages[n % len(pages)]
        site.add(
            f"/sitemap-{n}.xml",
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{site.base}/{page.spec.slug}</loc><lastmod>{page.spec.published.isoformat()}</lastmod></url>"
            "</urlset>",
            content_type="application/xml",
        )
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Archive", "kind": "sitemap", "url": f"{site.base}/sitemap.xml", "owner": "party"}],
    )
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(
            ["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--sources", str(sources)]
            + ["--max-fetches", "4"]
        )
    assert code == 1, err.getvalue()
    assert _requests(site) == ["/sitemap.xml", "/sitemap-0.xml", "/sitemap-1.xml", "/sitemap-2.xml"]
    assert (
        "stopped after 4 fetches (--max-fetches, VEILLE_BACKFILL_MAX_FETCHES), 3 queued URL(s) left"
        " for the next run; 3 child sitemap(s) not read: the listing is read again from the start by"
        " the next run, so give it a budget that covers it" in err.getvalue()
    ), err.getvalue()


def test_a_source_whose_backfill_the_database_refuses_fails_alone(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source whose record the database refuses (here a statement that fails in PostgreSQL,
    as bad data or a bug would) is that source's error, cause first; the other source of its
    batch is recorded and its pages stored, the run partly done (exit 1). A batch that fails
    whole (through its retries) is its sources' error, the run Failed (exit 3) with its
    verdict. Before, either ended `veille backfill` with the driver's traceback."""
    import flows.backfill

    pages = seed_site(site)
    _sitemaps(site, pages)
    site.add(
        "/broken.xml",
        rss_feed(site.base, [(p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages]),
    )
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {"name": "Archive", "kind": "sitemap", "url": f"{site.base}/sitemap.xml", "owner": "party"},
            {"name": "Broken", "kind": "feed", "url": f"{site.base}/broken.xml", "owner": "media"},
        ],
    )
    real = flows.backfill.apply_backfill

    def refused(session: Any, outcome: Any, run_id: Any = None) -> Any:
        if outcome.fetch.url.endswith("/broken.xml"):
            session.execute(sa.text("SELECT 1 / 0"))
        return real(session, outcome, run_id)

    monkeypatch.setattr(flows.backfill, "apply_backfill", refused)
    argv = ["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--sources", str(sources)]

    def run() -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(argv)
        return code, out.getvalue(), err.getvalue()

    code, out, err = run()
    assert code == 1, out + err
    assert "backfill not recorded: DivisionByZero: division by zero" in out, out
    assert "Traceback" not in out + err
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 4  # Archive's, in the window
        listed = conn.scalar(
            sa.text(
                "SELECT count(*) FROM url_listings l JOIN sources s ON s.id = l.source_id"
                " WHERE s.name = 'Broken'"
            )
        )
        assert listed == 0

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a fault in veille")

    monkeypatch.setattr(flows.backfill, "poll_source", broken)
    code, out, err = run()
    assert code == 3, out + err
    assert "backfill not recorded: RuntimeError: a fault in veille" in out, out
    assert (
        "veille: Nothing could run (every source read failed:"
        " backfill not recorded: RuntimeError: a fault in veille ("
    ) in err, err


def test_a_backfill_that_reads_no_source_says_why_not_that_none_was_due(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A backfill reads every source of its file, due or not: one of an emptied file, or of
    listing sources alone (which cannot reach back), ended "Nothing to do: no source was due
    and the queue was empty.", a cycle's words; the archive backfill of an emptied file too.
    Each says why it read nothing, still Completed."""
    from flows.archive_backfill import archive_backfill_flow
    from flows.backfill_flows import backfill_flow

    days = (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC))
    empty = tmp_path / "empty.toml"
    empty.write_text("# every source commented out\n")
    state: Any = backfill_flow(*days, sources_file=str(empty), return_state=True)
    assert state.is_completed() and state.message == f"Nothing to do: {empty} has no source.", state.message
    state = archive_backfill_flow("wayback", *days, sources_file=str(empty), return_state=True)
    assert state.is_completed() and state.message == f"Nothing to do: {empty} has no source.", state.message

    listing = {"name": "Page", "kind": "listing", "url": f"{site.base}/actualites", "owner": "party"}
    state = backfill_flow(
        *days, sources_file=str(write_sources(tmp_path / "l.toml", [listing])), return_state=True
    )
    assert state.is_completed(), state.message
    assert state.message == (
        "Nothing to do: no sitemap or feed source to backfill (1 listing source cannot reach back in time:"
        " Page)."
    )


def test_a_backfill_with_no_row_leaves_its_verdict_as_an_artifact(
    clean_db: sa.Engine, tmp_path: Path
) -> None:
    """`veille-backfill` and `veille-archive-backfill` published their table only when they had
    rows: a run with none left no artifact, where an empty `veille-run` leaves a short report.
    Each leaves its verdict under no key (the latest table stays the last one with rows)."""
    from flows.backfill_flows import archive_backfill_flow, backfill_flow
    from monitors.collect.archives.common import ARCHIVE_NAMES
    from tests.test_serve import _artifacts

    days = (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC))
    empty = tmp_path / "empty.toml"
    empty.write_text("# every source commented out\n")
    for title, run in (
        ("veille backfill", lambda: backfill_flow(*days, sources_file=str(empty), return_state=True)),
        (
            f"veille archive backfill from {ARCHIVE_NAMES['wayback']}",
            lambda: archive_backfill_flow("wayback", *days, sources_file=str(empty), return_state=True),
        ),
    ):
        state: Any = run()
        assert state.is_completed(), state.message
        left = _artifacts(state.state_details.flow_run_id)
        assert list(left) == [None], left
        assert left[None].type == "markdown"
        assert left[None].data == f"# {title}\n\nNothing to do: {empty} has no source.\n"


def test_a_backfill_with_no_row_says_why_in_its_state_and_note(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A backfill with no row says why in its state and its note, as the terminal does: the
    listing sources it skipped by name (the log line names them; the note only counted them),
    and its disabled sources by name (the note said "the sources read are disabled"). An archive
    backfill of a file whose every entry is bad ended Partial with "Nothing to do: FILE has no
    source.", a message that hid the bad entries its state counted: it is partly done, saying
    which entry was left out and why."""
    from flows.backfill_flows import archive_backfill_flow, backfill_flow
    from tests.test_serve import _artifacts

    days = (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC))
    mixed = tmp_path / "mixed.toml"
    mixed.write_text(
        f'[[source]]\nname = "Page"\nkind = "listing"\nurl = "{site.base}/actualites"\nowner = "party"\n\n'
        f'[[source]]\nname = "Fil"\nkind = "feed"\nurl = "{site.base}/feed.xml"\nowner = "media"\n'
        "enabled = false\n"
    )
    state: Any = backfill_flow(*days, sources_file=str(mixed), return_state=True)
    why = (
        "Nothing to do: no sitemap or feed source to backfill (1 listing source cannot reach back in time:"
        " Page; the one source read is disabled: Fil; `veille sources enable NAME` turns one back on)."
    )
    assert state.is_completed() and state.message == why, state.message
    assert _artifacts(state.state_details.flow_run_id)[None].data == f"# veille backfill\n\n{why}\n"

    bad = tmp_path / "bad.toml"
    bad.write_text(f'[[source]]\nname = "Fil"\nkind = "fed"\nurl = "{site.base}/feed.xml"\nowner = "media"\n')
    state = archive_backfill_flow("wayback", *days, sources_file=str(bad), return_state=True)
    said = f"Partly done (a bad entry of the sources file skipped ({bad}:3: unknown kind 'fed'"
    assert (state.type.value, state.name) == ("COMPLETED", "Partial"), state.message
    assert state.message.startswith(said), state.message
    assert said in _artifacts(state.state_details.flow_run_id)[None].data


def test_the_progress_bar_counts_the_rows_touched_since_the_start_from_an_index(clean_db: sa.Engine) -> None:
    """The bar counts, twice a second, the queue rows queued, re-queued, claimed or settled
    since the backfill began and how many are settled. It read ``discovered_at >= :start OR
    updated_at >= :start``, which no index served: the whole queue (never pruned) each time.
    ``updated_at`` is never before ``discovered_at``, so ``updated_at >= :start`` is the same
    count, a range of url_queue_updated (migration 0045; bench/backfill_progress.py)."""
    from flows.commands.backfill import QueueProgress

    with clean_db.begin() as conn:
        src = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Passé', 'sitemap', 'https://passe.example/sitemap.xml', 'media') RETURNING id"
            )
        )
        start = conn.scalar(sa.text("SELECT now() - interval '1 hour'"))
        # 3,000 rows of the past, untouched since; then what the backfill did since its start
        conn.execute(
            sa.text(
                "INSERT INTO url_queue (url, canonical_url, source_id, state, found_by,"
                "                       discovered_at, updated_at)"
                " SELECT 'https://passe.example/' || g, 'https://passe.example/' || g, :s,"
                "        CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'fetched' END, 'poll',"
                "        now() - interval '2 days' - g * interval '1 minute',"
                "        now() - interval '2 days' - g * interval '1 minute'"
                " FROM generate_series(1, 3000) g"
            ),
            {"s": src},
        )
        conn.execute(
            sa.text(
                "INSERT INTO url_queue (url, canonical_url, source_id, state, found_by)"
                " SELECT 'https://passe.example/new/' || g, 'https://passe.example/new/' || g, :s,"
                "        CASE WHEN g % 2 = 0 THEN 'fetched' ELSE 'pending' END, 'backfill'"
                " FROM generate_series(1, 6) g"
            ),
            {"s": src},
        )
        # an older pending URL claimed and one fetched by the drain, an entry re-queued
        conn.execute(
            sa.text(
                "UPDATE url_queue SET updated_at = now(), attempts = attempts + 1"
                " WHERE url = 'https://passe.example/10'"
            )
        )
        conn.execute(
            sa.text(
                "UPDATE url_queue SET updated_at = now(), state = 'fetched' WHERE url = 'https://passe.example/20'"
            )
        )
        conn.execute(
            sa.text(
                "UPDATE url_queue SET updated_at = now(), state = 'pending' WHERE url = 'https://passe.example/1'"
            )
        )
        conn.execute(sa.text("ANALYZE url_queue"))
    sent: list[tuple[str, Any]] = []

    def listen(conn: object, cursor: object, statement: str, params: Any, *_: object) -> None:
        if "url_queue" in statement:
            sent.append((statement, params))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", listen)
    try:
        counts = QueueProgress(start)._counts()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", listen)
    assert counts == (9, 4)  # 6 new (3 fetched), 3 touched (one fetched)
    ((statement, params),) = sent
    with clean_db.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", params))
    assert "url_queue_updated" in plan, plan


def _feeds_on_one_fetch(site: LocalSite, tmp_path: Path, feeds: int) -> tuple[int, io.StringIO, io.StringIO]:
    """A backfill of ``feeds`` feeds of the seed pages with --max-fetches 1: its exit code,
    stdout and stderr."""
    pages = seed_site(site)
    site.add(
        "/old.xml", rss_feed(site.base, [(p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages])
    )
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {"name": f"Fil {n}", "kind": "feed", "url": f"{site.base}/old.xml?n={n}", "owner": "media"}
            for n in range(feeds)
        ],
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(
            ["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--sources", str(sources)]
            + ["--max-fetches", "1"]
        )
    return code, out, err


def test_a_source_the_budget_left_unread_is_not_counted_as_read(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """Two feeds and --max-fetches 1: one feed read, the other left unread by the budget. The
    run's lines counted both as read ("backfill ...: 2 sources read", "2 sources read (0 with
    errors)"; on the default list with no network, "40 sources read" with 37 not read); they
    now say 1 read, 1 not read."""
    code, out, err = _feeds_on_one_fetch(site, tmp_path, 2)
    assert code == 1, err.getvalue()
    assert "backfill 2025-02-01 .. 2025-02-28: 1 source read, 1 not read, " in out.getvalue(), out.getvalue()
    assert ": 1 source read (0 with errors), 1 not read, " in err.getvalue(), err.getvalue()
    assert "1 source(s) not read: the listing is read again" in err.getvalue(), err.getvalue()


def test_sources_the_budget_left_unread_are_said_in_one_line(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Four feeds and --max-fetches 1: three feeds left unread. A warning line per unread
    source said the same thing three times (37 on the default sources); one line now says how
    many, that the next run reads them, and where to see which: the table's `not read` rows."""
    code, out, err = _feeds_on_one_fetch(site, tmp_path, 4)
    assert code == 1, err.getvalue()
    # the run's log, wherever its handlers write (a task run's lines are on stderr alone)
    lines = err.getvalue().splitlines() + [r.getMessage() for r in caplog.records]
    per_source = [line for line in lines if "Fil " in line and "fetch budget" in line]
    assert per_source == [], per_source
    # said once, by the run: on stderr or in the captured log, as Prefect's handlers go
    words = "sources not read: the fetch budget"
    on_stderr = [line for line in err.getvalue().splitlines() if words in line]
    logged = [r.getMessage() for r in caplog.records if words in r.getMessage()]
    assert len(on_stderr) <= 1 and len(logged) <= 1, lines
    said = on_stderr + logged
    assert said, lines
    assert "3 sources not read: the fetch budget (--max-fetches, VEILLE_BACKFILL_MAX_FETCHES)" in said[0]
    assert "the next backfill reads them" in said[0]
    assert "the rows `not read` in the backfill's table" in said[0]
    # where the line says to look: the table names the three, each `not read`
    table = [line for line in out.getvalue().splitlines() if "Fil " in line]
    assert sum("not read" in line for line in table) == 3, out.getvalue()
