"""`veille backfill --from wayback|commoncrawl`: the five seeds found and read from fake web
archives (tests/fake_archives.py), with the bad input the archives really serve."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows import archive_backfill
from flows.archive_backfill import archive_backfill_flow
from flows.cli import main
from monitors.collect.backfill_jobs import BackfillError
from monitors.dates import article_day
from monitors.group.urls import canonicalize_url
from monitors.judge import site_profiles
from monitors.judge.boilerplate import MIN_PAGES, SiteProfile
from monitors.judge.site_profiles import load_profile
from tests.clock import one_day_for
from tests.docs_reader import read_code
from tests.fake_archives import FakeArchives, Snapshot, original_url, seed_snapshots, seed_sources
from tests.site import LocalSite, seed_pages, write_sources
from tests.test_site_boilerplate import ARTICLES, LETTER, PROMO, SITE, chrome_page

pytestmark = pytest.mark.usefixtures("prefect_harness")

WINDOW = ["--since", "2025-02-01", "--until", "2025-02-28"]
LIBE = "https://www.liberation.fr/2025/02"


@pytest.fixture
def archives(site: LocalSite, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeArchives]:
    monkeypatch.setenv("VEILLE_WAYBACK_URL", site.base)
    monkeypatch.setenv("VEILLE_COMMONCRAWL_INDEX_URL", site.base)
    monkeypatch.setenv("VEILLE_COMMONCRAWL_DATA_URL", site.base)
    monkeypatch.setenv("VEILLE_WAYBACK_DELAY", "0")
    monkeypatch.setenv("VEILLE_COMMONCRAWL_DELAY", "0")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRY_BASE", "0.01")
    monkeypatch.setenv("VEILLE_ARCHIVE_PAGE_SIZE", "2")  # several CDX pages per site
    yield FakeArchives(site)


def _bad_captures() -> list[Snapshot]:
    """What archives serve besides articles: home and tag pages, an asset, a capture whose
    replay redirects elsewhere, a soft 404, a PDF labelled HTML, a capture outside the window."""
    home = "https://www.liberation.fr/"
    return [
        Snapshot(home, "20250210080000", b"<html><title>Accueil</title></html>"),
        Snapshot(
            "https://www.liberation.fr/tags/intelligence-artificielle/", "20250210080000", b"<html></html>"
        ),
        Snapshot("https://www.liberation.fr/static/app.css", "20250210080000", b"body{}", "text/css"),
        Snapshot(
            f"{LIBE}/ancien-article-sur-le-sommet.html", "20250210090000", b"", status=302, location=home
        ),
        Snapshot(
            f"{LIBE}/page-disparue-du-sommet.html",
            "20250210090000",
            "<html><head><title>Page introuvable | Libération</title></head><body><h1>Oups</h1>"
            "<p>Cette page n'existe pas ou plus.</p></body></html>".encode(),
        ),
        Snapshot(f"{LIBE}/rapport-du-sommet-ia.html", "20250210090000", b"%PDF-1.4 ...", "application/pdf"),
        Snapshot(f"{LIBE}/un-article-de-mars-2025.html", "20250315090000", b"<html></html>"),
    ]


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["backfill", *args])
    return code, out.getvalue(), err.getvalue()


def _articles(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT a.url, a.language, a.relevant, a.archived_url, a.captured_at, s.name AS source,"
                    " si.archive, si.archived_url AS sighting_archived_url"
                    " FROM articles a JOIN sources s ON s.id = a.source_id"
                    " JOIN sightings si ON si.article_id = a.id ORDER BY a.url"
                )
            )
        )


@pytest.mark.parametrize("archive", ["wayback", "commoncrawl"])
def test_backfill_from_an_archive_finds_the_seeds_french_and_relevant(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, archive: str
) -> None:
    archives.snapshots = seed_snapshots() + _bad_captures()
    archives.malformed = {
        "liberation.fr": [
            ["fr,liberation)/x", "2025021"],
            ["fr,liberation)/y", "2025-02-10", "ftp://x", "", "", "", ""],
        ]
        if archive == "wayback"
        else ["{not json", '{"url": "https://www.liberation.fr/2025/02/a-b-c.html", "timestamp": "2025"}']
    }
    archives.truncated = {f"{LIBE}/rapport-du-sommet-ia.html"} if archive == "commoncrawl" else set()
    archives.build_warc()
    # the archive is busy at first: a 503, then a 429 with Retry-After, then it answers
    first = "/cdx/search/cdx" if archive == "wayback" else "/CC-MAIN-2025-08-index"
    archives.fail_first = {first: [(503, {}), (429, {"Retry-After": "0"})]}
    sources = write_sources(tmp_path / "sources.toml", seed_sources())

    code, out, err = _run([*WINDOW, "--from", archive, "--sources", str(sources)])
    assert code == 0, err
    assert "archive captures" in err  # the progress bar

    rows = _articles(clean_db)
    originals = sorted(original_url(p.spec.slug, p.spec.site) for p in seed_pages())
    assert [r.url for r in rows] == originals  # five articles, at their original URLs
    for r in rows:
        assert r.language == "fr", r.url
        assert r.relevant is True, r.url
        assert r.captured_at is not None and r.captured_at.year == 2025
        assert r.archive == archive and r.archived_url == r.sighting_archived_url
        if archive == "wayback":
            assert r.archived_url == f"{archives.site.base}/web/20250212093000id_/{r.url}"
        else:
            assert r.archived_url.endswith(".warc.gz")
    # each article belongs to its site's source
    assert {r.source for r in rows} == {s["name"] for s in seed_sources()}

    with clean_db.connect() as conn:
        queue: dict[str, str] = dict(
            conn.execute(sa.text("SELECT url, coalesce(reason, state) FROM url_queue")).all()
        )
        logged = list(conn.scalars(sa.text("SELECT reason FROM fetch_log WHERE reason IS NOT NULL")))
        job = conn.execute(
            sa.text(
                "SELECT state, malformed, filtered, last_error FROM backfill_jobs"
                " WHERE site = 'liberation.fr'"
            )
        ).one()
    # not articles: never queued
    assert "https://www.liberation.fr/" not in queue
    assert not any("/tags/" in u or u.endswith(".css") for u in queue)
    assert f"{LIBE}/un-article-de-mars-2025.html" not in queue  # outside the window
    # bad captures recorded and skipped, the rest went on
    assert "redirect" in queue[f"{LIBE}/ancien-article-sur-le-sommet.html"]
    assert "soft 404" in queue[f"{LIBE}/page-disparue-du-sommet.html"]
    pdf = queue[f"{LIBE}/rapport-du-sommet-ia.html"]
    assert ("truncated" in pdf) if archive == "commoncrawl" else ("application/pdf" in pdf)
    assert job.state == "done" and job.malformed == 2 and job.last_error is None
    # found in an archive, not by polling: no source's new items of the week (veille sources)
    from monitors.archive.db import session_scope
    from monitors.collect.health import source_rows

    with clean_db.connect() as conn:
        assert set(conn.scalars(sa.text("SELECT DISTINCT found_by FROM url_queue"))) == {"archive"}
    with session_scope() as session:
        assert {r["new_7d"] for r in source_rows(session)} == {0}
    with clean_db.connect() as conn:  # extraction as for any page: the site's boilerplate is learned
        learned = set(conn.scalars(sa.text("SELECT DISTINCT site FROM site_blocks")))
    assert {"liberation.fr", "lemonde.fr", "pcf.fr"} <= learned, learned
    assert sum("malformed CDX line" in r for r in logged) == 2
    assert any("HTTP 503" in r for r in logged) and any("HTTP 429" in r for r in logged)

    # the queries of docs/backfill.md run and see this backfill
    docs = (Path(__file__).resolve().parent.parent / "docs" / "backfill.md").read_text(encoding="utf-8")
    queries = [c.text for c in read_code(docs) if c.lang == "sql"]  # tests/docs_reader.py
    assert len(queries) == 4
    with clean_db.connect() as conn:
        for query in queries:
            assert conn.execute(sa.text(query)).all(), query
        assert {r.kind for r in conn.execute(sa.text(queries[2]))} == {"cdx"}  # index lookups only
        # the jobs' window on the local clock, as typed: not 31 January (UTC's day of Paris's midnight)
        windows = conn.execute(sa.text(queries[0])).mappings().all()
    assert {(w["since"], w["until"]) for w in windows} == {(date(2025, 2, 1), date(2025, 2, 28))}
    assert "2025-02-01 .. 2025-02-28" in out  # the report's window column

    # the same command again: nothing fetched twice
    hits = len(archives.site.log)
    code, _, err = _run([*WINDOW, "--from", archive, "--sources", str(sources)])
    assert code == 0, err
    capture_prefix = "/web/" if archive == "wayback" else "/crawl-data/"
    assert not [h for h in archives.site.log[hits:] if h["path"].startswith(capture_prefix)]
    assert len(_articles(clean_db)) == 5


def test_captures_are_cleaned_and_counted_by_their_sites_profile(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages read from an archive teach their site's boilerplate and lose it, like live pages.
    The site's profile is read from the database once, and again only once it changed (the
    MIN_PAGES-th capture's blocks): it was read again after every stored capture."""
    monkeypatch.setenv("VEILLE_CONCURRENCY", "1")  # one worker: the captures in order
    monkeypatch.setenv("VEILLE_BATCH_SIZE", "1")
    loads: list[str] = []

    def counted_load(session: Any, site: str, min_pages: int = MIN_PAGES) -> SiteProfile:
        loads.append(site)
        return load_profile(session, site, min_pages)

    monkeypatch.setattr(site_profiles, "load_profile", counted_load)
    captures = [(i, f"{LIBE}/article-{i}.html") for i in range(MIN_PAGES + 1)]
    archives.snapshots = [Snapshot(u, f"2025021{i}090000", chrome_page(*ARTICLES[i])) for i, u in captures]
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err
    assert loads == ["liberation.fr", "liberation.fr"], "read at the first capture and once it changed"
    with clean_db.connect() as conn:
        learned = set(
            conn.execute(
                sa.text("SELECT kind, sample FROM site_blocks WHERE site = 'liberation.fr' AND pages >= :n"),
                {"n": MIN_PAGES},
            ).all()
        )
        texts: dict[str, str] = dict(conn.execute(sa.text("SELECT url, text FROM articles")).all())
        evidence = conn.scalar(
            sa.text("SELECT extraction_evidence FROM articles WHERE url = :u"), {"u": captures[-1][1]}
        )
    assert {("block", PROMO), ("block", LETTER), ("title", SITE)} <= learned
    assert len(texts) == MIN_PAGES + 1
    last = texts[captures[-1][1]]
    assert PROMO not in last and LETTER not in last and ARTICLES[MIN_PAGES][1][0] in last
    assert evidence["site_boilerplate_removed"]
    assert PROMO in texts[captures[0][1]], "the first capture was stored before anything was learned"


def _fetched_live(engine: sa.Engine, url: str) -> None:
    """``url``, a page of franceinfo's, as live polling left it: fetched, in the queue."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner) VALUES ('franceinfo', 'feed',"
                " 'https://www.francetvinfo.fr/rss.xml', 'media')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO url_queue (url, canonical_url, source_id, state)"
                " SELECT :u, :c, id, 'fetched' FROM sources"
            ),
            {"u": url, "c": canonicalize_url(url)},
        )


def test_an_already_stored_url_is_not_fetched_from_the_archive(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    archives.snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    known = archives.snapshots[0].original
    _fetched_live(clean_db, known)
    code, _, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err
    assert not [h for h in archives.site.log if h["path"].endswith(known)]
    assert len(_articles(clean_db)) == 4


def test_relevant_only_keeps_the_others_as_seen_with_their_score(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    off_topic = (
        "<html lang='fr'><head><title>Ligue 1 : le résumé de la 22e journée</title></head><body><article>"
        + "<p>Le PSG a battu Lyon trois buts à un au Parc des Princes samedi soir, devant 47 000 spectateurs."
        " Les Parisiens ont dominé la rencontre de bout en bout et creusent l'écart en tête.</p>"
        * 6
        + "</article></body></html>"
    )
    ai_act = (  # not the summit, but the folder's other topic (monitors/topics/eu_ai_act.toml)
        "<html lang='fr'><head><title>AI Act : les premières interdictions du règlement européen"
        " entrent en application</title></head><body><article>"
        + "<p>Depuis le 2 février, les pratiques d'intelligence artificielle jugées inacceptables par le"
        " règlement européen sur l'IA, l'AI Act, sont interdites dans l'Union : notation sociale,"
        " reconnaissance des émotions au travail, police prédictive. Le Bureau de l'IA de la Commission"
        " européenne publiera des lignes directrices ; les obligations des modèles d'IA à usage général"
        " suivront le 2 août.</p>" * 3 + "</article></body></html>"
    )
    archives.snapshots = [
        *seed_snapshots(),
        Snapshot(f"{LIBE}/ligue-1-resume-journee.html", "20250212093000", off_topic.encode()),
        Snapshot(f"{LIBE}/ai-act-premieres-interdictions.html", "20250212093000", ai_act.encode()),
    ]
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, out, err = _run(
        [
            *WINDOW,
            "--from",
            "wayback",
            "--site",
            "liberation.fr",
            "--relevant-only",
            "--sources",
            str(sources),
        ]
    )
    assert code == 0, err
    rows = _articles(clean_db)
    # relevant to at least one topic: the summit's article, and the AI Act's
    assert [r.url for r in rows] == [
        f"{LIBE}/ai-act-premieres-interdictions.html",
        original_url("liberation/sommet-ia-macron-accelerer.html", "Libération"),
    ]
    with clean_db.connect() as conn:
        topics: dict[str, str] = dict(
            conn.execute(
                sa.text(
                    "SELECT a.url, string_agg(t.topic, ',' ORDER BY t.topic) FROM articles a"
                    " JOIN article_topics t ON t.article_id = a.id AND t.relevant GROUP BY a.url"
                )
            ).all()
        )
    assert topics[f"{LIBE}/ai-act-premieres-interdictions.html"] == "eu_ai_act"
    with clean_db.connect() as conn:
        state, reason, score = conn.execute(
            sa.text(
                "SELECT q.state, q.reason, c.relevance FROM url_queue q"
                " JOIN archive_captures c ON c.queue_id = q.id"
                " WHERE q.url LIKE '%ligue-1%'"
            )
        ).one()
    assert state == "skipped" and "not relevant" in reason and score is not None and score < 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2025-03-01", "--until", "2025-02-01", "--from", "wayback"], "is after --until"),
        (
            ["--since", "2023-01-01", "--until", "2023-01-31", "--from", "commoncrawl"],
            "no Common Crawl crawl covers",
        ),
        ([*WINDOW, "--from", "wayback", "--site", "example.org"], "no source on example.org"),
        # every archive named (ccnews was left out)
        ([*WINDOW, "--site", "liberation.fr"], "go with --from wayback|commoncrawl|ccnews"),
        ([*WINDOW, "--relevant-only"], "go with --from wayback|commoncrawl|ccnews"),
        # the archive path plans by site: a --source there was silently ignored
        ([*WINDOW, "--from", "wayback", "--source", "franceinfo"], "--source goes with a sitemap backfill"),
    ],
)
def test_bad_requests_are_one_line_errors(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, args: list[str], message: str
) -> None:
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run([*args, "--sources", str(sources)])
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_an_archive_that_stays_down_is_recorded_on_the_job_and_resumed(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "2")
    archives.snapshots = seed_snapshots()
    archives.fail_first = {"/cdx/search/cdx": [(503, {})] * 3}
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run([*WINDOW, "--from", "wayback", "--site", "pcf.fr", "--sources", str(sources)])
    assert code == 3 and "run the same command again" in err  # its only job failed: nothing could run
    with clean_db.connect() as conn:
        state, errors, last = conn.execute(
            sa.text("SELECT state, errors, last_error FROM backfill_jobs")
        ).one()
    assert state == "error" and errors == 1 and "HTTP 503" in last and "after 3 attempts" in last
    code, _, err = _run([*WINDOW, "--from", "wayback", "--site", "pcf.fr", "--sources", str(sources)])
    assert code == 0, err
    assert len(_articles(clean_db)) == 1


@pytest.mark.parametrize("prefect", ["on", "off"])
def test_an_archive_backfill_whose_every_job_failed_ends_failed_and_exits_3(
    archives: FakeArchives,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect: str,
) -> None:
    """Every job stopped on an archive error before storing a capture: the flow run ends
    Failed and the command exits 3 (nothing could run, as `veille run` whose every source
    failed) with the same verdict, cause first; the command exited 1, as for a run partly done."""
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "0")
    archives.snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    days = (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC))
    why = "Nothing could run (1 job stopped on an archive error (Wayback CDX query failed: HTTP 503"
    archives.fail_first = {"/cdx/search/cdx": [(503, {})]}
    state: Any = archive_backfill_flow("wayback", *days, "pcf.fr", str(sources), return_state=True)
    assert state.is_failed() and state.name == "Failed", state.message
    assert state.message.startswith(why), state.message

    monkeypatch.setenv("VEILLE_PREFECT", prefect)
    archives.fail_first = {"/cdx/search/cdx": [(503, {})]}
    code, _, err = _run([*WINDOW, "--from", "wayback", "--site", "pcf.fr", "--sources", str(sources)])
    assert code == 3, err
    last = err.rstrip().splitlines()[-1]
    assert last.startswith(f"veille: {why}") and "run the same command again to resume" in last, err


def _sources_with_disabled(path: Path, disabled: set[str]) -> Path:
    """The seed sources, those named in ``disabled`` with ``enabled = false``."""
    lines = []
    for source in seed_sources():
        lines += ["[[source]]", *(f'{k} = "{v}"' for k, v in source.items())]
        lines += ["enabled = false", ""] if source["name"] in disabled else [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_an_archive_backfill_skips_disabled_sources_as_the_plain_backfill_does(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """`veille backfill --from` planned jobs for the sites of disabled sources (and stored
    their articles), while `veille backfill` skips them and names them: now it skips them too,
    `--site` naming a disabled source's site is refused saying so, and a backfill whose every
    source is disabled names them in its verdict."""
    archives.snapshots = seed_snapshots()
    sources = _sources_with_disabled(tmp_path / "sources.toml", {"Libération", "Le Monde"})
    code, _, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err
    with clean_db.connect() as conn:
        sites = conn.scalars(sa.text("SELECT DISTINCT site FROM backfill_jobs ORDER BY site")).all()
    assert sites == ["francetvinfo.fr", "parti-socialiste.fr", "pcf.fr"]
    stored = {a.source for a in _articles(clean_db)}
    assert stored and not stored & {"Libération", "Le Monde"}, stored

    code, _, err = _run([*WINDOW, "--from", "wayback", "--site", "liberation.fr", "--sources", str(sources)])
    assert code == 2
    assert err == (
        "veille: error: the source on liberation.fr is disabled (Libération), and a disabled source"
        " is not backfilled: `veille sources enable NAME` turns one back on\n"
    )

    off = _sources_with_disabled(tmp_path / "off.toml", {s["name"] for s in seed_sources()})
    days = (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC))
    state: Any = archive_backfill_flow("wayback", *days, sources_file=str(off), return_state=True)
    assert state.is_completed() and state.name == "Completed", state.message
    assert state.message == (
        "Nothing to do: no source to backfill (5 sources read are disabled: franceinfo, Parti communiste"
        " français, Libération and 2 more; `veille sources enable NAME` turns one back on)."
    )


def test_a_capture_the_database_will_not_take_is_failed_alone(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A capture whose analysis holds a value PostgreSQL rejects (a NUL, whatever let it
    through) is settled as failed with its cause; the other captures are stored and the job
    ends (``articles.store_or_fail``, as in ``veille run``)."""
    import flows.archive_backfill

    archives.snapshots = seed_snapshots()
    odd_url = original_url(seed_pages()[0].spec.slug, seed_pages()[0].spec.site)
    real = flows.archive_backfill.analyse_page

    def odd(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if out.article is not None and kwargs.get("page_url") == odd_url:
            out.article.author = "Jeanne \x00 Dupont"
        return out

    monkeypatch.setattr(flows.archive_backfill, "analyse_page", odd)
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err  # as for its other failed captures (a PDF, a soft 404)
    rows = _articles(clean_db)
    assert len(rows) == 4 and odd_url not in [r.url for r in rows]
    with clean_db.connect() as conn:
        state, reason = conn.execute(
            sa.text(
                "SELECT q.state, q.reason FROM url_queue q JOIN archive_captures c ON c.queue_id = q.id"
                " WHERE q.canonical_url = :u"
            ),
            {"u": canonicalize_url(odd_url)},
        ).one()
        jobs = set(conn.scalars(sa.text("SELECT state FROM backfill_jobs")))
    assert state == "failed" and reason.startswith("could not store this page: DataError: "), reason
    assert jobs == {"done"}


def test_a_backfill_fetches_at_most_its_budget_of_captures_and_resumes(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """--max-fetches N: at most N captures fetched from the archive in one run; the jobs keep
    the others, the run says so (exit 1), and the same command again fetches the rest, each
    capture once."""
    archives.snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())

    def fetched() -> int:
        return sum(1 for hit in archives.site.log if hit["path"].startswith("/web/"))

    code, _, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources), "--max-fetches", "2"])
    assert code == 1, err
    assert (
        "stopped after 2 capture fetches (--max-fetches, VEILLE_BACKFILL_MAX_FETCHES), "
        "3 capture(s) left for the next run" in err
    ), err
    assert fetched() == 2 and len(_articles(clean_db)) == 2

    code, _, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err
    assert fetched() == 5 and len(_articles(clean_db)) == 5


def test_a_budget_smaller_than_the_workers_reservations_reads_every_job(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--max-fetches 6 over five jobs of one capture each, each job's workers reserving
    VEILLE_BATCH_SIZE (25) at a time: the first reserves the whole budget, and gives back what
    it finds no capture for; the other jobs' workers wait for it rather than leave their
    captures for the next run with budget still there. Every capture read, the run done."""
    archives.snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    claim = archive_backfill.claim_captures

    def slow_claim(*args: Any) -> Any:
        time.sleep(0.2)  # a busy database: the other jobs' workers start meanwhile
        return claim(*args)

    monkeypatch.setattr(archive_backfill, "claim_captures", slow_claim)

    code, _, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources), "--max-fetches", "6"])
    assert code == 0, err
    assert "stopped after" not in err, err
    assert sum(1 for hit in archives.site.log if hit["path"].startswith("/web/")) == 5
    assert len(_articles(clean_db)) == 5


def _local_tomorrow() -> str:
    one_day_for(120)  # still tomorrow when the flow checks it, also if the test starts at 23:59:59
    today = article_day(datetime.now(UTC))
    assert today is not None
    return (today + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("since", "until", "says"),
    [
        ("1995-12-31", "1996-01-31", "since: 1995-12-31 is before 1996-01-01, the web archives' first year"),
        ("2025-02-01", "tomorrow", "until: {tomorrow} is after today"),
    ],
)
def test_the_flow_s_window_is_held_to_the_cli_s_rule(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, since: str, until: str, says: str
) -> None:
    """The archive backfill deployment's `since`/`until` parameters (a run started from the
    Prefect UI or `prefect deployment run`, never seen by the CLI) follow `veille backfill
    --since/--until`'s rule, days from 1996-01-01 to today: the run fails with the CLI's message
    and plans no job. Before, a day of 1995 or one after today was planned and asked of the
    archive."""
    tomorrow = _local_tomorrow()
    archives.snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    state: Any = archive_backfill_flow(  # a State (return_state), mypy sees an Awaitable
        "wayback",
        since,  # a deployment's parameters come as text
        tomorrow if until == "tomorrow" else until,
        site="pcf.fr",
        sources_file=str(sources),
        return_state=True,
    )
    assert state.is_failed()
    with pytest.raises(BackfillError) as failed:
        state.result()
    assert str(failed.value).startswith(says.format(tomorrow=tomorrow)), failed.value
    assert "give a day from 1996-01-01 to today" in str(failed.value)
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM backfill_jobs")) == 0


def test_backfill_artifacts_are_keyed_with_the_instance(
    archives: FakeArchives,
    site: LocalSite,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With VEILLE_INSTANCE set, both backfill flows' tables are keyed with the instance's name
    as `veille serve`'s are (flows.artifacts.artifact_key): two instances backfilling on one
    Prefect server each keep their latest table. Before, both published under
    veille-backfill-summary and veille-archive-backfill, one hiding the other's."""
    from flows.backfill import backfill_flow
    from tests.site import seed_site
    from tests.test_serve import _artifacts

    monkeypatch.setenv("VEILLE_INSTANCE", "Lyon_2.a")
    seed_site(site)
    feed = write_sources(
        tmp_path / "feed.toml",
        [{"name": "F", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    days = (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC))
    state: Any = backfill_flow(*days, sources_file=str(feed), return_state=True)
    assert state.is_completed(), state.message
    keys = set(_artifacts(state.state_details.flow_run_id))
    assert "veille-backfill-summary-lyon-2-a" in keys and "veille-backfill-summary" not in keys, keys
    archives.snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    state = archive_backfill_flow(
        "wayback", *days, site="pcf.fr", sources_file=str(sources), return_state=True
    )
    assert state.is_completed(), state.message
    keys = set(_artifacts(state.state_details.flow_run_id))
    assert "veille-archive-backfill-lyon-2-a" in keys and "veille-archive-backfill" not in keys, keys


@pytest.mark.parametrize("archive", ["wayback", "commoncrawl"])
def test_captures_under_http_and_https_are_one_page_in_the_site_s_scheme(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, archive: str
) -> None:
    """A page archived under http:// and https:// is one capture queued under the scheme of
    its source's own URL (https here), so a page live polling stored is not fetched again and
    Common Crawl's two captures of one page are not two articles."""
    seeds = seed_snapshots()
    live = seeds[0].original  # stored by live polling under https

    def http(url: str) -> str:
        return "http://" + url.removeprefix("https://")

    edited = seeds[1].body.replace(b"</article>", b"<p>Mise a jour : correction du titre.</p></article>", 1)
    archives.snapshots = [
        Snapshot(http(live), "20250211080000", seeds[0].body),
        Snapshot(http(seeds[1].original), "20250211080000", edited),  # both schemes, texts apart
        seeds[1],
        # only under http, and Wayback replays it from another time (the same page)
        Snapshot(http(seeds[2].original), "20250212093000", seeds[2].body, replay_at="20250212100000"),
        Snapshot(  # an old page whose rel=canonical still says http://
            seeds[3].original,
            seeds[3].timestamp,
            seeds[3].body.replace(
                b"<head>", f'<head><link rel="canonical" href="{http(seeds[3].original)}">'.encode(), 1
            ),
        ),
        *seeds[4:],
    ]
    archives.build_warc()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    _fetched_live(clean_db, live)
    code, _, err = _run([*WINDOW, "--from", archive, "--sources", str(sources)])
    assert code == 0, err

    with clean_db.connect() as conn:
        queued = sorted(conn.scalars(sa.text("SELECT canonical_url FROM url_queue")))
        urls = sorted(conn.scalars(sa.text("SELECT url FROM url_queue")))
        stored = sorted(conn.scalars(sa.text("SELECT canonical_url FROM articles")))
    assert queued == sorted(canonicalize_url(s.original) for s in seeds)  # one row a page
    assert all(u.startswith("https://") for u in urls), urls
    assert stored == sorted(canonicalize_url(s.original) for s in seeds[1:])
    rows = _articles(clean_db)
    assert [r.url for r in rows] == sorted(s.original for s in seeds[1:])
    for r in rows:
        assert r.archive == archive and r.archived_url == r.sighting_archived_url
    replayed = next(r for r in rows if r.url == seeds[2].original)
    if archive == "wayback":
        assert replayed.archived_url.endswith(f"/web/20250212100000id_/{http(seeds[2].original)}")
    if archive == "commoncrawl":  # of two captures, the one already under the site's scheme
        kept = next(r for r in rows if r.url == seeds[1].original)
        assert kept.captured_at == datetime(2025, 2, 12, 9, 30, tzinfo=UTC)


def test_a_capture_that_revises_a_stored_article_is_counted_apart(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A capture whose rel=canonical names an article the archive holds, with a changed text,
    revises that article (the row updated, no new one): the job rows, the flow's verdict and
    the command's totals line counted it as stored, a new article. They say "0 stored, 1
    revised", as `veille run` does."""
    first = seed_snapshots()[0]
    archives.snapshots = [first]
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run(
        [*WINDOW, "--from", "wayback", "--site", "francetvinfo.fr", "--sources", str(sources)]
    )
    assert code == 0, err
    assert len(_articles(clean_db)) == 1

    # another URL of the same page (its AMP version), captured after a correction
    edited = first.body.replace(
        b"<head>", f'<head><link rel="canonical" href="{first.original}">'.encode(), 1
    ).replace(b"</article>", b"<p>Mise a jour : correction du titre.</p></article>", 1)
    archives.snapshots = [Snapshot(first.original.replace(".html", "-amp.html"), first.timestamp, edited)]
    archives.build_warc()
    days = ("2025-02-01", "2025-02-28T23:59:59.999999")  # the command's window: its job
    state: Any = archive_backfill_flow(
        "commoncrawl", *days, site="francetvinfo.fr", sources_file=str(sources), return_state=True
    )
    assert state.is_completed(), state.message
    assert ", 0 stored, 1 revised, " in state.message, state.message
    rows = state.result()
    assert [(r["stored"], r["revised"]) for r in rows] == [(0, 1)], rows
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM article_revisions")) == 1

    # the command, run again (nothing new): its table and totals line
    argv = [*WINDOW, "--from", "commoncrawl", "--site", "francetvinfo.fr", "--sources", str(sources)]
    code, out, err = _run(argv)
    assert code == 0, err
    assert ", 0 stored, 1 revised, 0 not relevant, " in out, out
    header = next(line for line in out.splitlines() if line.startswith("archive ")).split()
    assert header[header.index("stored") + 1] == "revised", out


def test_a_page_whose_capture_came_to_nothing_is_read_from_its_next_capture(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """Common Crawl lists each capture of a page (two crawls, or one crawl twice): the first
    is queued, the others kept as its alternates. The first being a soft 404 (the page was
    down that day), the next one is fetched in its place and the page is stored; on main it
    was skipped and the good capture never fetched."""
    seeds = seed_snapshots()
    down = Snapshot(
        seeds[0].original,
        "20250205080000",
        b"<html><head><title>Page introuvable</title></head><body><h1>404</h1>"
        b"<p>Cette page n'existe pas ou plus.</p></body></html>",
    )
    archives.snapshots = [down, *seeds]
    archives.build_warc()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run([*WINDOW, "--from", "commoncrawl", "--sources", str(sources)])
    assert code == 0, err

    rows = _articles(clean_db)
    assert [r.url for r in rows] == sorted(s.original for s in seeds)
    again = next(r for r in rows if r.url == seeds[0].original)
    assert again.captured_at == datetime(2025, 2, 12, 9, 30, tzinfo=UTC)
    with clean_db.connect() as conn:
        outcomes = conn.execute(
            sa.text(
                "SELECT f.outcome, q.state, q.reason FROM fetch_log f JOIN url_queue q ON q.id = f.queue_id"
                " WHERE q.canonical_url = :url AND f.kind = 'page' ORDER BY f.id"
            ),
            {"url": canonicalize_url(seeds[0].original)},
        ).all()
        left = conn.scalar(sa.text("SELECT count(*) FROM archive_capture_alternates"))
    assert [o.outcome for o in outcomes] == ["skipped", "ok"], outcomes
    assert outcomes[-1].state == "fetched"
    assert left == 0


def test_a_page_whose_capture_came_to_nothing_is_read_from_a_later_backfill_s_capture(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A backfill of February finds a page's capture a soft 404 (skipped); a backfill of
    March lists a good capture of it: that one is fetched, by the March job, and the page
    stored. A page stored already is not fetched again."""
    seeds = seed_snapshots()
    down = Snapshot(
        seeds[0].original,
        "20250205080000",
        b"<html><head><title>Page introuvable</title></head><body><h1>404</h1></body></html>",
    )
    archives.snapshots = [down, *seeds[1:]]
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err
    assert sorted(r.url for r in _articles(clean_db)) == sorted(s.original for s in seeds[1:])

    archives.snapshots = [
        down,
        *seeds[1:],
        *(Snapshot(s.original, "20250303093000", s.body) for s in seeds),  # March's captures
    ]
    code, _, err = _run(
        ["--since", "2025-03-01", "--until", "2025-03-31", "--from", "wayback", "--sources", str(sources)]
    )
    assert code == 0, err
    rows = _articles(clean_db)
    assert [r.url for r in rows] == sorted(s.original for s in seeds)
    assert next(r for r in rows if r.url == seeds[0].original).captured_at == datetime(
        2025, 3, 3, 9, 30, tzinfo=UTC
    )
    with clean_db.connect() as conn:
        fetched = conn.scalars(
            sa.text("SELECT count(*) FROM fetch_log WHERE kind = 'page' AND outcome = 'ok'")
        ).one()
        left = conn.scalar(sa.text("SELECT count(*) FROM archive_capture_alternates"))
    assert fetched == len(seeds)  # February's four, March's one
    assert left == 0  # none kept for pages read


def test_a_deployments_until_day_runs_to_the_end_of_that_day_as_the_commands(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """The archive backfill deployment's `until` given as a day (`"2025-02-28"`, prefect.yaml's
    example) runs to the end of that day, as `veille backfill --until 2025-02-28` does
    (docs/operating.md): it ended at its midnight, a capture of the 28th was not found and the
    job was another one than the command's for the same window."""
    first = seed_snapshots()[0]
    archives.snapshots = [Snapshot(first.original, "20250228120000", first.body)]  # noon UTC, the 28th
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    state: Any = archive_backfill_flow(
        "wayback",
        "2025-02-01",
        "2025-02-28",
        site="francetvinfo.fr",
        sources_file=str(sources),
        return_state=True,
    )
    assert state.is_completed(), state.message
    assert [r["captures"] for r in state.result()] == [1], state.message
    assert len(_articles(clean_db)) == 1
    code, _, err = _run(
        [*WINDOW, "--from", "wayback", "--site", "francetvinfo.fr", "--sources", str(sources)]
    )
    assert code == 0, err
    with clean_db.connect() as conn:  # the command found the deployment's job, done
        assert conn.scalar(sa.text("SELECT count(*) FROM backfill_jobs")) == 1


def test_the_table_counts_the_captures_left_out_as_no_article(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A job that found a site's home and tag pages beside its articles: the table said
    `captures 7, queued 5` and nothing of the other two (no error, none skipped), as if they
    were lost; its `not_article` column now counts them, as backfill_jobs.filtered does."""
    archives.snapshots = seed_snapshots() + _bad_captures()[:3]  # the home, a tag page, a stylesheet
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, out, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err
    lines = out.splitlines()
    header = next(line.split() for line in lines if line.startswith("archive "))
    row = next(line.split() for line in lines if " liberation.fr " in line)
    assert header[-1] == "error"  # empty in this row; the window cell holds blanks: count from the right
    cells = dict(zip(reversed(header[:-1]), reversed(row), strict=False))
    assert (cells["captures"], cells["queued"], cells["not_article"]) == ("4", "1", "3"), out
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT filtered FROM backfill_jobs WHERE site = 'liberation.fr'")) == 3


def test_the_table_gives_one_line_to_a_site_s_months_with_no_capture(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A backfill over years printed one row per site and month, most of them all zeros (216
    rows, 210 empty, over three years of six sites): the months that found captures were lost
    among them. A site's empty months are one line; those with captures keep theirs, and the
    summary still counts every job."""
    archives.snapshots = seed_snapshots()  # February 2025 only
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    since = ["--since", "2024-11-01", "--until", "2025-02-28"]
    code, out, err = _run([*since, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("wayback ")]
    libe = [line for line in lines if " liberation.fr " in line]
    assert len(libe) == 2, out
    assert "3 months with no capture, 2024-11-01 .. 2025-01-31" in libe[0], out
    assert "2025-02-01 .. 2025-02-28" in libe[1], out
    assert len(lines) == 2 * len(seed_sources()), out  # an empty month and a February a site
    assert f"backfill from wayback 2024-11-01 .. 2025-02-28: {4 * len(seed_sources())} jobs," in out


def test_the_table_folds_only_a_site_s_empty_months_one_after_the_other() -> None:
    """The folded line's span holds no month with captures: on main a site's empty months were
    one line wherever they stood, "2 months with no capture, 2024-11-01 .. 2025-01-31" above
    December's row of 4 captures, the span read as one with none. A month with captures ends
    the run (a single empty month keeps its row); another site's rows between do not."""
    from flows.archive_backfill import JOB_COUNTS
    from flows.commands.archive_backfill import table_rows

    def row(site: str, month: str, captures: int) -> dict[str, Any]:
        start = date.fromisoformat(f"{month}-01")
        end = (start + timedelta(days=31)).replace(day=1) - timedelta(days=1)
        counts = dict.fromkeys(JOB_COUNTS, 0) | {"captures": captures, "known": captures}
        return (
            {"archive": "wayback", "site": site, "window": f"{start} .. {end}", "state": "done"}
            | counts
            | {"error": ""}
        )

    months = ["2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]
    rows = [
        row(site, m, 4 if (site, m) == ("a.fr", "2024-12") else 0)
        for m in months
        for site in ("a.fr", "b.fr")
    ]
    shown = [(r["site"], r["window"], r["captures"]) for r in table_rows(rows)]
    assert shown == [
        ("a.fr", "2024-11-01 .. 2024-11-30", 0),
        ("b.fr", "5 months with no capture, 2024-11-01 .. 2025-03-31", 0),
        ("a.fr", "2024-12-01 .. 2024-12-31", 4),
        ("a.fr", "3 months with no capture, 2025-01-01 .. 2025-03-31", 0),
    ], shown


def test_the_table_counts_the_captures_of_pages_already_known(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """The same window typed again with another --until makes new jobs, which find the pages
    the first queued: their rows read "captures 4, queued 0" and nothing said why. The `known`
    column counts them (pages already queued or stored, or another capture of a page queued)."""
    archives.snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, out, err = _run([*WINDOW, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err
    code, out, err = _run(
        ["--since", "2025-02-01", "--until", "2025-02-27", "--from", "wayback", "--sources", str(sources)]
    )
    assert code == 0, err
    lines = out.splitlines()
    header = next(line.split() for line in lines if line.startswith("archive "))
    row = next(line.split() for line in lines if " liberation.fr " in line)
    cells = dict(zip(reversed(header[:-1]), reversed(row), strict=False))
    assert cells["queued"] == "0" and cells["known"] == cells["captures"] != "0", out
