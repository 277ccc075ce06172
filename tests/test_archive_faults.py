"""The archives' bad days, offline (tests/fake_archives.py on a local server): a 429's
Retry-After honoured, 5xx backed off exponentially, timeouts retried then recorded on the
job, a capture that times out kept in the queue with its reason, the CDX queries as the
archives document them."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows import archive_backfill
from flows.cli import main
from monitors.collect.archives.common import MAX_RETRY_AFTER, ArchiveError, backoff_delay, parse_cdx_time
from monitors.collect.archives.commoncrawl import parse_collinfo, parse_commoncrawl_cdx
from monitors.collect.archives.wayback import wayback_page
from monitors.collect.http import make_client
from monitors.settings import get_settings
from tests.fake_archives import CRAWL, FakeArchives, Snapshot, seed_snapshots, seed_sources
from tests.site import LocalSite, write_sources

WINDOW = ["--since", "2025-02-01", "--until", "2025-02-28"]
SINCE, UNTIL = parse_cdx_time("20250201"), parse_cdx_time("20250228235959")


@pytest.fixture
def archives(site: LocalSite, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeArchives]:
    for name in ("VEILLE_WAYBACK_URL", "VEILLE_COMMONCRAWL_INDEX_URL", "VEILLE_COMMONCRAWL_DATA_URL"):
        monkeypatch.setenv(name, site.base)
    monkeypatch.setenv("VEILLE_WAYBACK_DELAY", "0")
    monkeypatch.setenv("VEILLE_COMMONCRAWL_DELAY", "0")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRY_BASE", "0.01")
    archives = FakeArchives(site)
    archives.snapshots = seed_snapshots()
    yield archives


def _backfill(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["backfill", *args])
    return code, err.getvalue()


def _pcf_backfill(tmp_path: Path) -> list[str]:
    """The command's arguments for the window on one site (one job, one capture)."""
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    return [*WINDOW, "--from", "wayback", "--site", "pcf.fr", "--sources", str(sources)]


def _slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests give up after a second, and are tried twice."""
    monkeypatch.setenv("VEILLE_TIMEOUT", "1")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")


def test_a_429s_retry_after_is_honoured_and_5xx_back_off(
    archives: FakeArchives, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRY_BASE", "1")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "4")
    archives.fail_first = {
        "/cdx/search/cdx": [(503, {}), (502, {}), (429, {"Retry-After": "42"}), (503, {})],
    }
    settings = get_settings()
    slept: list[float] = []
    with make_client(settings) as client:
        page = wayback_page(client, settings, None, "liberation.fr", SINCE, UNTIL, None, sleep=slept.append)
    assert [f.status for f in page.fetches] == [503, 502, 429, 503, 200]
    assert len(page.captures) == 1
    # full jitter within an exponential backoff: [base/2, base] * 2**attempt ...
    assert 0.5 <= slept[0] <= 1 and 1 <= slept[1] <= 2 and 4 <= slept[3] <= 8
    # ... but never sooner than the archive's Retry-After
    assert slept[2] == 42


def test_retry_after_is_capped_and_retries_are_bounded(
    archives: FakeArchives, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")
    archives.fail_first = {"/cdx/search/cdx": [(429, {"Retry-After": "86400"})] * 3}
    settings = get_settings()
    slept: list[float] = []
    with make_client(settings) as client, pytest.raises(ArchiveError) as caught:
        wayback_page(client, settings, None, "pcf.fr", SINCE, UNTIL, None, sleep=slept.append)
    assert slept == [MAX_RETRY_AFTER]  # a day's Retry-After does not stall the backfill a day
    assert "HTTP 429" in str(caught.value) and "after 2 attempts" in str(caught.value)


@pytest.mark.parametrize("attempt", [12, 40, 2000])
def test_the_backoff_of_many_retries_is_capped(monkeypatch: pytest.MonkeyPatch, attempt: int) -> None:
    """VEILLE_ARCHIVE_RETRIES has no upper bound: the n-th retry waits at most
    MAX_RETRY_AFTER (between half of it and all of it), not base x 2**n seconds (an 8-day wait
    at the 19th retry), and a thousand retries do not overflow."""
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRY_BASE", "2")
    settings = get_settings()
    waits = [backoff_delay(settings, attempt, None) for _ in range(20)]
    assert all(MAX_RETRY_AFTER / 2 <= w <= MAX_RETRY_AFTER for w in waits)
    assert backoff_delay(settings, attempt, 86400.0) == MAX_RETRY_AFTER


@pytest.mark.usefixtures("prefect_harness")
def test_a_cdx_server_that_times_out_is_retried_then_recorded_on_the_job(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slow(monkeypatch)
    archives.cdx_delay = 2.5
    args = _pcf_backfill(tmp_path)
    code, err = _backfill(args)
    assert code == 3 and "run the same command again" in err
    with clean_db.connect() as conn:
        state, last = conn.execute(sa.text("SELECT state, last_error FROM backfill_jobs")).one()
        attempts = list(conn.scalars(sa.text("SELECT reason FROM fetch_log WHERE kind = 'cdx'")))
    assert state == "error" and "timeout" in last and "after 2 attempts" in last
    assert len(attempts) == 2 and all("timeout" in r for r in attempts)

    archives.cdx_delay = 0.0  # the archive is back: the same command finishes the job
    code, err = _backfill(args)
    assert code == 0, err
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT state FROM backfill_jobs")) == "done"
        assert conn.scalar(sa.text("SELECT count(*) FROM articles WHERE archived_url IS NOT NULL")) == 1


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize(
    ("archive", "path", "error"),
    [
        ("wayback", "/cdx/search/cdx", "CDX answer is not JSON"),
        ("commoncrawl", f"/{CRAWL}-index", "Common Crawl showNumPages answer unreadable"),
    ],
)
def test_a_cdx_answer_nested_too_deep_is_recorded_on_the_job(
    archives: FakeArchives,
    site: LocalSite,
    clean_db: sa.Engine,
    tmp_path: Path,
    archive: str,
    path: str,
    error: str,
) -> None:
    """json.loads raises RecursionError, not a ValueError, for 100,000 nested arrays: the job
    records why and the next run finishes it, where the error escaped the backfill. The request
    answered so is in the fetch log as an error saying why (answered 200, it was not logged),
    of class 'permanent' as other unreadable answers' rows (it had no error_class)."""
    archives.build_warc()
    fake = site.routes[path]
    site.add(path, b"[" * 100_000, content_type="application/json")
    args = _pcf_backfill(tmp_path)
    args[args.index("wayback")] = archive
    code, err = _backfill(args)
    assert code == 3 and "run the same command again" in err, err
    error += ": nested too deep to read (RecursionError)"
    with clean_db.connect() as conn:
        state, last = conn.execute(sa.text("SELECT state, last_error FROM backfill_jobs")).one()
        logged = conn.execute(
            sa.text(
                "SELECT status_code, outcome, error_class, reason FROM fetch_log"
                " WHERE kind = 'cdx' AND url LIKE :path"
            ),
            {"path": f"%{path}?%"},
        ).all()
    assert state == "error" and last == error
    assert [tuple(row) for row in logged] == [(200, "error", "permanent", error)]

    site.routes[path] = fake  # the archive answers again: the same command finishes
    code, err = _backfill(args)
    assert code == 0, err
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT state FROM backfill_jobs")) == "done"


def test_archive_json_nested_too_deep_is_an_archive_error_or_a_malformed_line() -> None:
    settings = get_settings()
    deep = b"[" * 100_000
    with pytest.raises(ArchiveError, match=r"collinfo.json is not JSON: nested too deep"):
        parse_collinfo(deep)
    page = parse_commoncrawl_cdx(deep + b"\n", settings)
    assert (
        page.captures == []
        and page.malformed[0][1] == "malformed CDX line: nested too deep to read (RecursionError)"
    )


@pytest.mark.usefixtures("prefect_harness")
def test_a_capture_that_times_out_waits_in_the_queue_with_its_reason(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slow(monkeypatch)
    archives.capture_delay = 2.5
    code, err = _backfill(_pcf_backfill(tmp_path))
    assert code == 0, err
    with clean_db.connect() as conn:
        state, reason = conn.execute(sa.text("SELECT state, reason FROM url_queue")).one()
        job = conn.scalar(sa.text("SELECT state FROM backfill_jobs"))
        tries = conn.scalar(sa.text("SELECT count(*) FROM fetch_log WHERE kind = 'page'"))
    assert state == "pending" and reason.startswith("retry 1/") and "timeout" in reason
    assert job == "fetching"  # not done: its capture comes due again
    assert tries == 1


@pytest.mark.usefixtures("prefect_harness")
def test_an_empty_wayback_capture_is_retried_with_backoff_then_stored(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wayback's playback under load answers 200 with an empty body: backed off and tried again
    within the run, then left in the queue for the next run, not failed for good."""
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")
    archives.empty_captures = 2  # both tries of the first run
    code, err = _backfill(_pcf_backfill(tmp_path))
    assert code == 0, err
    with clean_db.connect() as conn:
        state, reason = conn.execute(sa.text("SELECT state, reason FROM url_queue")).one()
        job = conn.scalar(sa.text("SELECT state FROM backfill_jobs"))
    assert archives.empty_captures == 0  # tried twice: the in-run retry with backoff
    assert state == "pending" and reason.startswith("retry 1/"), reason
    assert "empty answer:" in reason and "HTTP 200 with an empty body; tried again later" in reason
    assert job == "fetching"  # not done: its capture comes due again
    with clean_db.begin() as conn:  # its retry time has come
        conn.execute(sa.text("UPDATE url_queue SET next_attempt_at = now() - interval '1 second'"))
    code, err = _backfill(_pcf_backfill(tmp_path))
    assert code == 0, err
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT state FROM url_queue")) == "fetched"
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 1


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("archive", ["wayback", "commoncrawl"])
def test_the_cdx_queries_ask_what_the_archives_document(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, archive: str
) -> None:
    archives.build_warc()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, err = _backfill([*WINDOW, "--from", archive, "--site", "lemonde.fr", "--sources", str(sources)])
    assert code == 0, err
    query = archives.cdx_requests[0]
    # 1 February 00:00 in Paris (VEILLE_LOCAL_TIMEZONE's default), the archives' UTC stamps
    assert query["from"] == ["20250131230000"] and query["to"][0].startswith("20250228")
    assert query["output"] == ["json"]
    if archive == "wayback":  # prefix on the site, HTML 200 only, one per URL key, paged by resume key
        assert query["url"] == ["lemonde.fr/"] and query["matchType"] == ["prefix"]
        assert sorted(query["filter"]) == ["mimetype:text/html", "statuscode:200"]
        assert query["collapse"] == ["urlkey"] and query["showResumeKey"] == ["true"]
    else:  # the site's URLs in the crawl's index, HTML 200 only, paged
        assert query["url"] == ["lemonde.fr/*"] and query["showNumPages"] == ["true"]
        assert sorted(query["filter"]) == ["=mime:text/html", "=status:200"]
        assert archives.cdx_requests[1]["page"] == ["0"]


@pytest.mark.usefixtures("prefect_harness")
def test_until_a_date_takes_in_the_whole_of_that_day(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    archives.snapshots = seed_snapshots("20250228183000")  # the last day of the window, evening
    code, err = _backfill(_pcf_backfill(tmp_path))
    assert code == 0, err
    assert archives.cdx_requests[0]["to"] == ["20250228225959"]  # 23:59:59 in Paris
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 1


@pytest.mark.usefixtures("prefect_harness")
def test_a_cdx_that_pages_in_a_circle_stops_the_job_with_why_and_resumes_later(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Wayback CDX server answering a page with the resume key it was asked with (or an
    earlier page's) would be asked the same page forever: index pages are outside the fetch
    budget, so the backfill never ended. The job stops in error saying so, what was listed
    before is fetched, and the same command asks that key once more."""
    monkeypatch.setenv("VEILLE_ARCHIVE_PAGE_SIZE", "1")
    pcf = next(s for s in archives.snapshots if "pcf.fr" in s.original)
    other = next(s for s in archives.snapshots if "pcf.fr" not in s.original)
    archives.snapshots.append(
        Snapshot("https://www.pcf.fr/2025/02/autre-article.html", pcf.timestamp, other.body)
    )
    archives.stuck_pages = 50  # then the server ends the listing (where the loop would go on)
    args = _pcf_backfill(tmp_path)
    code, err = _backfill(args)
    assert code == 1 and "run the same command again" in err, err
    assert len(archives.cdx_requests) == 2  # the first page, then the one that answers its own key
    with clean_db.connect() as conn:
        state, last, queued = conn.execute(
            sa.text("SELECT state, last_error, queued FROM backfill_jobs")
        ).one()
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
    assert state == "error" and last.startswith("Wayback CDX paging goes round in a circle"), last
    assert queued == 1 and stored == 1  # the first page's capture is not lost

    code, err = _backfill(args)  # still stuck: asked once more, nothing twice
    assert code == 1 and len(archives.cdx_requests) == 3, err
    archives.stuck_pages = 0  # the server pages right again: the job finishes
    code, err = _backfill(args)
    assert code == 0, err
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT state, queued FROM backfill_jobs")).one() == ("done", 2)
        assert conn.scalar(sa.text("SELECT count(*) FROM url_queue")) == 2


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("archive", ["wayback", "commoncrawl"])
def test_an_index_page_answered_with_an_html_page_is_retried_then_resumed(
    archives: FakeArchives,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    archive: str,
) -> None:
    """A CDX page answered 200 with an HTML error page (a busy archive behind a proxy) is a
    transient failure, retried, then the job's error naming it, its cursor where it was: Common
    Crawl's was read as malformed lines and the page skipped for good (job done, exit 0), the
    Wayback job's error said only "Expecting value: line 1 column 1"."""
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")
    archives.build_warc()
    archives.html_pages = 2  # both tries of the first run
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    args = [*WINDOW, "--from", archive, "--site", "pcf.fr", "--sources", str(sources)]
    code, err = _backfill(args)
    assert code == 3 and "run the same command again" in err, err
    assert archives.html_pages == 0  # tried again within the run
    with clean_db.connect() as conn:
        state, last, malformed = conn.execute(
            sa.text("SELECT state, last_error, malformed FROM backfill_jobs")
        ).one()
        logged = list(
            conn.scalars(sa.text("SELECT reason FROM fetch_log WHERE kind = 'cdx' AND outcome <> 'ok'"))
        )
    assert state == "error" and malformed == 0, last
    assert (
        "sent HTTP 200 with an HTML page (Service temporarily unavailable)" in last
        and "after 2 attempts" in last
    )
    assert len(logged) == 2 and all("HTML page" in r for r in logged)

    code, err = _backfill(args)  # the archive answers again: the page is read, not lost
    assert code == 0, err
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT state, queued FROM backfill_jobs")).one() == ("done", 1)
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 1


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("archive", ["wayback", "commoncrawl"])
def test_an_index_lookup_whose_header_lied_says_so_in_the_fetch_log(
    archives: FakeArchives,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    archive: str,
) -> None:
    """A CDX page answered with an HTML page that its ``Content-Encoding: gzip`` says is
    compressed and is not: the fetch reads it as sent and says the header lied
    (``FetchResult.transport``). A poll's and a page's ``fetch_log`` rows say it in
    ``transport`` (migration 0052); the backfill's index lookups left it NULL."""
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "0")
    archives.build_warc()
    archives.html_pages, archives.html_pages_coding = 1, "gzip"
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, err = _backfill([*WINDOW, "--from", archive, "--site", "pcf.fr", "--sources", str(sources)])
    assert code == 3, err
    with clean_db.connect() as conn:
        logged = conn.execute(
            sa.text("SELECT reason, transport FROM fetch_log WHERE kind = 'cdx' AND outcome <> 'ok'")
        ).all()
    lie = "Content-Encoding: gzip on a body that is not gzip (it starts with '<'): read as sent"
    assert [(("HTML page" in reason), transport) for reason, transport in logged] == [(True, lie)], logged


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("archive", ["wayback", "commoncrawl"])
def test_a_capture_keeps_the_charset_its_archived_headers_declare(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, archive: str
) -> None:
    """A page whose only charset is its archived HTTP header (ISO-8859-15, œ and € where
    windows-1252 has ½ and ¤): a Common Crawl record's Content-Type was cut to its type before
    the page was decoded, so the text was read in windows-1252 ("c½ur", "10 ¤")."""
    pcf = next(s for s in archives.snapshots if "pcf.fr" in s.original)
    html = pcf.body.decode("utf-8").replace("<meta charset='utf-8'>", "")
    html = html.replace("\u2019", "'").replace("\u2013", "-")
    html = html.replace("<strong>", "<strong>Le cœur de l'œuvre coûte 10 € par an. ", 1)
    pcf.body, pcf.content_type = html.encode("iso-8859-15"), "text/html; charset=ISO-8859-15"
    archives.build_warc()
    args = _pcf_backfill(tmp_path)
    args[args.index("wayback")] = archive
    code, err = _backfill(args)
    assert code == 0, err
    with clean_db.connect() as conn:
        text = conn.scalar(sa.text("SELECT text FROM articles"))
    assert "Le cœur de l'œuvre coûte 10 € par an." in text, text[:300]


@pytest.mark.usefixtures("prefect_harness")
def test_a_capture_the_archive_replays_from_another_date_is_stored_with_that_date(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """Wayback's playback may redirect a listed capture to the same page's capture of another
    time (the nearest one it can serve): the text stored is that capture's, so its time and
    address are the article's and the sighting's, not the listed one's."""
    pcf = next(s for s in archives.snapshots if "pcf.fr" in s.original)
    pcf.replay_at = "20250303101500"  # outside the window: the CDX does not list it
    archives.snapshots.append(Snapshot(pcf.original, pcf.replay_at, pcf.body))
    code, err = _backfill(_pcf_backfill(tmp_path))
    assert code == 0, err
    with clean_db.connect() as conn:
        captured, archived, seen = conn.execute(
            sa.text(
                "SELECT a.captured_at, a.archived_url, s.archived_url FROM articles a"
                " JOIN sightings s ON s.article_id = a.id"
            )
        ).one()
    assert captured == parse_cdx_time("20250303101500")
    assert archived == seen and archived.endswith(f"/web/20250303101500id_/{pcf.original}")


@pytest.mark.usefixtures("prefect_harness")
def test_an_archive_that_asks_for_a_pause_is_left_alone_by_every_job_for_that_long(
    archives: FakeArchives,
    site: LocalSite,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 429 with Retry-After is the archive asking this client to wait (the Internet Archive
    blocks a client that keeps asking): the backfill's other jobs and captures wait too, where
    only the request that got it did and the others asked on at once."""
    monkeypatch.setenv("VEILLE_ARCHIVE_PAGE_SIZE", "1")  # three CDX pages a site, 0.4 s each
    archives.cdx_delay = 0.4
    for snap in list(archives.snapshots):
        for n in (1, 2):
            body = snap.body.replace(b"<p", f"<p>Autre version {n} du texte.</p><p".encode(), 1)
            archives.snapshots.append(
                Snapshot(snap.original.replace(".html", f"-{n}.html"), snap.timestamp, body)
            )
    archives.fail_first = {"/cdx/search/cdx": [(429, {"Retry-After": "5"})]}
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, err = _backfill([*WINDOW, "--from", "wayback", "--sources", str(sources)])
    assert code == 0, err
    asked = [r for r in site.log if r["path"].startswith(("/cdx/", "/web/"))]
    paused = next(r["at"] for r in asked if r["status"] == 429)
    # a request already on its way when the 429 came is let through; none is sent after
    during = [r["path"][:40] for r in asked if paused + 1 < r["at"] < paused + 4.5]
    assert during == []
    with clean_db.connect() as conn:
        assert set(conn.scalars(sa.text("SELECT state FROM backfill_jobs"))) == {"done"}
        assert conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE state = 'fetched'")) == 15


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize(
    ("archive", "line"),
    [
        ("wayback", ["fr,pcf)/x", "20250212093000", "https://www.pcf.fr/x\ud800"]),  # a lone surrogate
        ("commoncrawl", 'fr,pcf)/x 20250212093000 {"url": "https://www.pcf.fr/x\x00"}'),  # a NUL byte
    ],
)
def test_a_malformed_cdx_line_the_database_cannot_hold_is_logged_cleaned(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, archive: str, line: object
) -> None:
    """A malformed CDX line is logged as it came; one with a NUL or a lone surrogate, which
    PostgreSQL's text refuses, failed the page's whole transaction, so the job stopped there
    on every run ("job failed: ..."), its state left `discovering`, its page never passed."""
    archives.build_warc()
    archives.malformed = {"pcf.fr": [line]}
    args = _pcf_backfill(tmp_path)
    args[args.index("wayback")] = archive
    code, err = _backfill(args)
    assert code == 0, err
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT state, malformed FROM backfill_jobs")).one() == ("done", 1)
        logged = conn.scalar(sa.text("SELECT url FROM fetch_log WHERE reason LIKE 'malformed CDX line%'"))
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 1
    assert "https://www.pcf.fr/x" in logged


@pytest.mark.usefixtures("prefect_harness")
def test_a_warc_range_answered_with_an_html_page_waits_in_the_queue(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Common Crawl record's range answered 200 with an HTML page (a proxy's or a busy
    server's) is no record: retried, then left in the queue with why, and read by a later run.
    It was failed for good as "truncated WARC record: 1xx of 5xxx bytes", the article lost."""
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")
    archives.build_warc()
    archives.html_ranges = 2  # both tries of the first run
    args = _pcf_backfill(tmp_path)
    args[args.index("wayback")] = "commoncrawl"
    code, err = _backfill(args)
    assert code == 0, err
    with clean_db.connect() as conn:
        state, reason = conn.execute(sa.text("SELECT state, reason FROM url_queue")).one()
    assert archives.html_ranges == 0
    assert state == "pending" and reason.startswith("retry 1/") and "HTML page" in reason, reason
    with clean_db.begin() as conn:  # its retry time has come
        conn.execute(sa.text("UPDATE url_queue SET next_attempt_at = now() - interval '1 second'"))
    code, err = _backfill(args)
    assert code == 0, err
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 1


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("prefect", ["off", "auto"])
def test_a_backfill_reads_the_common_crawl_crawl_list_once(
    archives: FakeArchives,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect: str,
) -> None:
    """The command checks the request (the crawls that cover the window) before the run plans
    it again: collinfo.json was fetched twice per backfill, and its failing in between (here
    it answers once, then 503s) ended the command on an error. The run goes on with the plan
    the check made (its crawls), as the flow and directly."""
    monkeypatch.setenv("VEILLE_PREFECT", prefect)
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "0")
    archives.build_warc()
    archives.collinfo_answers = 1  # the command's check, then 503s
    args = _pcf_backfill(tmp_path)
    args[args.index("wayback")] = "commoncrawl"
    code, err = _backfill(args)
    assert code == 0, err
    assert archives.collinfo_requests == 1, err
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) > 0
        # the list is in the fetch log, an index lookup as the crawls' pages (main: not there)
        listed = conn.execute(
            sa.text("SELECT kind, outcome, source_id FROM fetch_log WHERE url LIKE '%/collinfo.json'")
        ).all()
    assert listed == [("cdx", "ok", None)], listed


@pytest.mark.usefixtures("clean_db")
def test_each_backfill_reads_the_common_crawl_crawl_list_afresh(
    archives: FakeArchives, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two backfills in one process: a crawl published between them is seen by the second.
    main kept the list read for 10 minutes in the process (so that the command's run would
    use its check's): the second backfill got the old list and refused a window only the new
    crawl covers ("no Common Crawl crawl covers 2025-03-01 .. 2025-03-31 (2 crawls listed in
    collinfo.json)")."""
    monkeypatch.setenv("VEILLE_PREFECT", "off")
    archives.build_warc()
    args = _pcf_backfill(tmp_path)
    args[args.index("wayback")] = "commoncrawl"
    code, err = _backfill(args)
    assert code == 0 and archives.collinfo_requests == 1, err
    base = archives.site.base
    archives.published = [
        {
            "id": "CC-MAIN-2025-13",
            "name": "March 2025 Index",
            "timegate": f"{base}/CC-MAIN-2025-13/",
            "cdx-api": f"{base}/{CRAWL}-index",  # the fake index: no capture in March
            "from": "2025-03-15T00:00:00",
            "to": "2025-03-28T00:00:00",
        }
    ]
    args[args.index("--since") + 1], args[args.index("--until") + 1] = "2025-03-01", "2025-03-31"
    code, err = _backfill(args)
    assert code == 0, err
    assert archives.collinfo_requests == 2, err


@pytest.mark.usefixtures("prefect_harness")
def test_a_backfill_whose_archive_host_does_not_resolve_stops_at_once_with_the_cause(
    archives: FakeArchives, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no network, each job retried its DNS failure (VEILLE_ARCHIVE_RETRIES) before the
    run said "Nothing could run": minutes for a few sites. No host of the archive resolving,
    no job runs: the cause first, in each job's last_error and once in the fetch log; the
    same command resumes the jobs once the archive resolves."""
    monkeypatch.setenv("VEILLE_WAYBACK_URL", "http://wayback.invalid")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "0")  # main's jobs fail fast too: the test is quick
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    args = [*WINDOW, "--from", "wayback", "--sources", str(sources)]
    code, err = _backfill(args)
    assert code == 3, err
    verdict = next(line for line in err.splitlines() if "Nothing could run" in line)
    assert "Nothing could run (host wayback.invalid does not resolve (DNS: " in verdict, verdict
    assert "): is the network up?; " in verdict and "jobs not run; run the same command again" in verdict
    with clean_db.connect() as conn:
        jobs = conn.execute(sa.text("SELECT state, last_error FROM backfill_jobs")).all()
        lookups = conn.execute(sa.text("SELECT url, kind, unreached, source_id FROM fetch_log")).all()
    assert len(jobs) > 1 and {state for state, _ in jobs} == {"error"}
    assert all(last.startswith("not run: host wayback.invalid does not resolve (DNS: ") for _, last in jobs)
    assert all(last.endswith(": is the network up?") for _, last in jobs)
    assert lookups == [("http://wayback.invalid", "cdx", "dns", None)]  # once, not once per job

    monkeypatch.setenv("VEILLE_WAYBACK_URL", archives.site.base)  # the network is back
    code, err = _backfill(args)
    assert code == 0, err
    with clean_db.connect() as conn:
        assert set(conn.scalars(sa.text("SELECT state FROM backfill_jobs"))) == {"done"}


@pytest.mark.parametrize(
    ("archive", "variable", "what"),
    [
        ("commoncrawl", "VEILLE_COMMONCRAWL_INDEX_URL", "Common Crawl crawl list"),
        ("ccnews", "VEILLE_COMMONCRAWL_DATA_URL", "CC-NEWS file lists"),
    ],
)
def test_a_plan_whose_list_server_does_not_resolve_stops_at_once_with_the_cause(
    archives: FakeArchives,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    archive: str,
    variable: str,
    what: str,
) -> None:
    """Planning a Common Crawl or CC-NEWS backfill reads a list first (collinfo.json, each
    month's file list). With no network that read retried its DNS failure
    (VEILLE_ARCHIVE_RETRIES, with backoff) before it failed, without asking whether the
    network is up, as the jobs did before they got a pre-check. It stops at once, the cause
    first, one lookup in the fetch log; the same command goes on once the host resolves."""
    monkeypatch.setenv(variable, "http://list.invalid")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "2")
    archives.build_warc()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    args = [*WINDOW, "--from", archive, "--site", "pcf.fr", "--sources", str(sources)]
    code, err = _backfill(args)
    assert code == 2, err
    assert err.startswith("veille: error: host list.invalid does not resolve (DNS: "), err
    assert err.rstrip().endswith(f": is the network up? ({what} not read; run the same command again)")
    with clean_db.connect() as conn:
        lookups = conn.execute(sa.text("SELECT url, kind, unreached, source_id FROM fetch_log")).all()
        assert conn.scalar(sa.text("SELECT count(*) FROM backfill_jobs")) == 0
    assert lookups == [("http://list.invalid", "cdx", "dns", None)]  # not once per attempt
    if archive == "commoncrawl":
        monkeypatch.setenv(variable, archives.site.base)  # the network is back
        code, err = _backfill(args)
        assert code == 0, err


@pytest.mark.usefixtures("prefect_harness")
def test_a_backfill_of_one_job_says_one_job(
    archives: FakeArchives,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The log said "wayback backfill 2025-02-01 .. 2025-02-28: 1 jobs"."""
    monkeypatch.setenv("VEILLE_WAYBACK_URL", "http://wayback.invalid")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "0")
    said: list[str] = []  # the run's log lines, as Prefect's run logger gets them

    class Log:
        def __getattr__(self, level: str) -> object:
            return lambda message, *args, **_: said.append(message % args)

    monkeypatch.setattr(archive_backfill, "run_logger", Log)
    code, err = _backfill(_pcf_backfill(tmp_path))
    assert code == 3, err
    assert "wayback backfill 2025-02-01 .. 2025-02-28: 1 job" in said, said
    assert "; 1 job not run; run the same command again to resume): 1 job, 0 captures found" in err, err


def test_an_archive_is_offline_only_when_none_of_its_hosts_resolves(site: LocalSite) -> None:
    """Common Crawl's jobs read its index and its data server: one of them resolving, the
    jobs run as they did (and say what fails); CC-NEWS needs the data server only."""
    from flows.archive_backfill import unresolved_archive

    settings = get_settings()
    index = dataclasses.replace(
        settings, commoncrawl_index_url="http://index.invalid", commoncrawl_data_url=site.base
    )
    assert unresolved_archive("commoncrawl", index) is None
    offline = unresolved_archive(
        "ccnews", dataclasses.replace(index, commoncrawl_data_url="http://data.invalid")
    )
    assert offline is not None and offline[0].startswith("host data.invalid does not resolve (DNS: ")
    both = dataclasses.replace(index, commoncrawl_data_url="http://data.invalid")
    offline = unresolved_archive("commoncrawl", both)
    assert offline is not None and [f.url for f in offline[1]] == [
        "http://index.invalid",
        "http://data.invalid",
    ]
    assert offline[0].startswith(
        "none of the archive's 2 hosts resolved (host index.invalid does not resolve"
    )
    assert offline[0].endswith(": is the network up?")
    local = dataclasses.replace(settings, wayback_url=site.base)
    assert unresolved_archive("wayback", local) is None  # the local archive: an address


def _flaky_resolver(monkeypatch: pytest.MonkeyPatch, host: str, failures: int, errno: int) -> list[str]:
    """``host``'s first ``failures`` lookups fail with ``errno``, the next ones give loopback;
    the lookups of ``host`` made, returned."""
    real, made = socket.getaddrinfo, []

    def lookup(name: str, port: object, *args: object, **kwargs: object) -> object:
        if name != host:
            return real(name, port, *args, **kwargs)  # type: ignore[arg-type]
        made.append(name)
        if len(made) <= failures:
            raise socket.gaierror(errno, "Temporary failure in name resolution")
        return real("127.0.0.1", port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return made


def test_a_resolver_blip_does_not_stop_a_backfill(monkeypatch: pytest.MonkeyPatch) -> None:
    """main looked each archive host up once: one lookup the resolver did not answer ("Temporary
    failure in name resolution", EAI_AGAIN), the next one fine, and the whole backfill stopped
    "not run". A lookup failed for now is tried again a few times with backoff, a few seconds
    at most."""
    from flows.archive_backfill import unresolved_archive

    monkeypatch.setattr(archive_backfill, "DNS_RETRY_WAITS", (0.01, 0.02, 0.04), raising=False)
    made = _flaky_resolver(monkeypatch, "wayback.example", 2, socket.EAI_AGAIN)
    settings = dataclasses.replace(get_settings(), wayback_url="http://wayback.example")
    assert unresolved_archive("wayback", settings) is None
    assert len(made) == 3


def test_a_resolver_down_stops_a_backfill_after_a_few_lookups_with_the_cause_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bounded: each wait once, then the cause first, how many lookups after it; a host the
    resolver says does not exist (EAI_NONAME) is looked up once."""
    from flows.archive_backfill import unresolved_archive

    monkeypatch.setattr(archive_backfill, "DNS_RETRY_WAITS", (0.01, 0.02))
    settings = dataclasses.replace(get_settings(), wayback_url="http://wayback.example")
    made = _flaky_resolver(monkeypatch, "wayback.example", 99, socket.EAI_AGAIN)
    offline = unresolved_archive("wayback", settings)
    assert offline is not None and len(made) == 3
    assert offline[0].startswith(
        "host wayback.example does not resolve (DNS: Temporary failure in name resolution), 3 lookups in "
    ), offline[0]
    assert offline[0].endswith(" s: is the network up?"), offline[0]
    made = _flaky_resolver(monkeypatch, "wayback.example", 99, socket.EAI_NONAME)
    offline = unresolved_archive("wayback", settings)
    assert offline is not None and len(made) == 1
    said = "host wayback.example does not resolve (DNS: Temporary failure in name resolution)"
    assert offline[0] == f"{said}: is the network up?"
