"""`veille backfill --from ccnews`: Common Crawl's news crawl, which has no index, read from a
fake CC-NEWS (tests/fake_archives.py: the month's ``warc.paths.gz`` and WARC files built with
warcio from the seed pages, among records of sites that are not sources, one record cut)."""

from __future__ import annotations

import gzip
import os
import random
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitors.collect.archives.ccnews import WarcStream, ccnews_months, files_covering, parse_warc_paths
from monitors.collect.http import make_client
from monitors.collect.throttle import HostThrottle
from monitors.settings import get_settings
from tests.fake_archives import (
    FakeArchives,
    Snapshot,
    bounded_range,
    original_url,
    seed_snapshots,
    seed_sources,
)
from tests.site import seed_pages, write_sources
from tests.test_archive_backfill import LIBE, WINDOW, _articles, _bad_captures, _run, archives  # noqa: F401

pytestmark = pytest.mark.usefixtures("prefect_harness")


def others(count: int = 6, size: int = 0) -> list[Snapshot]:
    """Records of sites that are not sources, spread over the month (with ``size`` bytes of
    noise each, which gzip cannot shrink)."""
    return [
        Snapshot(
            f"https://www.{site}/2025/02/article-{i}.html",
            f"202502{10 + i % 18:02d}080000",
            b"<html lang='fr'><title>Autre site</title><body><p>Sommet IA.</p>"
            + random.Random(i).randbytes(size).hex().encode()
            + b"</body></html>",
        )
        for i in range(count)
        for site in ("exemple-presse.fr", "liberation.fr.example.com")
    ]


def test_backfill_from_ccnews_finds_the_seeds_french_and_relevant(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    archives.snapshots = seed_snapshots() + _bad_captures()
    archives.truncated = {f"{LIBE}/rapport-du-sommet-ia.html"}
    archives.build_ccnews(files=2, others=others())
    feb = sorted(p for p in archives.ccnews if "/2025/02/" in p)
    assert len(feb) == 2
    # the first file is busy at first: a 503, then a 429 with Retry-After, then it streams
    archives.fail_first = {feb[0]: [(503, {}), (429, {"Retry-After": "0"})]}
    sources = write_sources(tmp_path / "sources.toml", seed_sources())

    code, out, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    assert code == 0, err

    rows = _articles(clean_db)
    originals = sorted(original_url(p.spec.slug, p.spec.site) for p in seed_pages())
    assert [r.url for r in rows] == originals  # five articles, at their original URLs
    for r in rows:
        assert r.language == "fr" and r.relevant is True, r.url
        assert r.archive == "ccnews" and r.archived_url == r.sighting_archived_url
        path, offset, _ = archives.ccnews_offsets[r.url]
        assert r.archived_url == f"{archives.site.base}/{path}#offset={offset}"  # the file and the record
        assert r.captured_at == datetime(2025, 2, 12, 9, 30, tzinfo=UTC)  # its WARC-Date
    assert {r.source for r in rows} == {s["name"] for s in seed_sources()}

    with clean_db.connect() as conn:
        queue: dict[str, str] = dict(
            conn.execute(sa.text("SELECT url, coalesce(reason, state) FROM url_queue")).all()
        )
        jobs = conn.execute(
            sa.text(
                "SELECT site, warc_file, warc_offset, state, malformed, last_error FROM backfill_jobs"
                " ORDER BY warc_file"
            )
        ).all()
        logged = list(conn.scalars(sa.text("SELECT reason FROM fetch_log WHERE reason IS NOT NULL")))
    # other sites' records, home and tag pages, assets, and March: never queued
    assert not [u for u in queue if "exemple-presse" in u or "example.com" in u]
    assert "https://www.liberation.fr/" not in queue
    assert not any("/tags/" in u or u.endswith(".css") for u in queue)
    assert f"{LIBE}/un-article-de-mars-2025.html" not in queue
    # bad records recorded and skipped, each on its own
    assert "redirect" in queue[f"{LIBE}/ancien-article-sur-le-sommet.html"]
    assert "soft 404" in queue[f"{LIBE}/page-disparue-du-sommet.html"]
    assert "truncated" in queue[f"{LIBE}/rapport-du-sommet-ia.html"]
    # one job per file, shared by every site, read to its end
    assert [(j.site, "/" + j.warc_file) for j in jobs] == [("*", p) for p in feb]
    assert [j.warc_offset for j in jobs[:1]] == [len(archives.ccnews[feb[0]])]
    assert all(j.state == "done" and j.last_error is None for j in jobs)
    assert sum(j.malformed for j in jobs) == 1  # the cut record
    assert any("truncated WARC record at byte" in r for r in logged)
    assert any("HTTP 503" in r for r in logged) and any("HTTP 429" in r for r in logged)

    # the same command again: no file streamed again, no record fetched again
    seen = len(archives.ccnews_ranges)
    code, _, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    assert code == 0, err
    assert archives.ccnews_ranges[seen:] == []
    assert len(_articles(clean_db)) == 5


def test_one_site_gets_its_own_jobs_and_only_its_records(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    archives.snapshots = seed_snapshots()
    archives.build_ccnews(files=1, others=others(2))
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    # the command of docs/backfill.md, for one site
    window = ["--since", "2025-02-10", "--until", "2025-02-12", "--from", "ccnews", "--relevant-only"]
    code, _, err = _run([*window, "--site", "lemonde.fr", "--sources", str(sources)])
    assert code == 0, err
    assert [r.url for r in _articles(clean_db)] == [
        s.original for s in archives.snapshots if "lemonde" in s.original
    ]
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT site, state FROM backfill_jobs")).all() == [
            ("lemonde.fr", "done")
        ]


@pytest.mark.parametrize("prefect", ["off", "auto"])
def test_a_ccnews_backfill_reads_each_month_s_file_list_once(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect: str,
) -> None:
    """The command checks the request (the CC-NEWS months listed for the window) and the run,
    directly or as the flow, goes on with that plan: each month's warc.paths.gz was read twice,
    once by the check and once by the run planning again."""
    monkeypatch.setenv("VEILLE_PREFECT", prefect)
    archives.snapshots = seed_snapshots()
    archives.build_ccnews(files=1)
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    assert code == 0, err
    lists = [r["path"] for r in archives.site.log if r["path"].endswith("/warc.paths.gz")]
    assert lists and sorted(lists) == sorted(set(lists)), lists  # main: each month's list twice
    assert len(_articles(clean_db)) == 5


def test_a_window_with_no_ccnews_month_is_a_one_line_error(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    archives.snapshots = seed_snapshots()
    archives.build_ccnews()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run(
        ["--since", "2015-01-01", "--until", "2015-02-28", "--from", "ccnews", "--sources", str(sources)]
    )
    assert code == 2
    assert "no CC-NEWS month covers 2015-01-01 .. 2015-02-28" in err
    # UTC months: January in Paris starts on 31 December at 23:00 UTC
    assert "no WARC file listed for 2014-12, 2015-01, 2015-02;" in err
    assert len(err.strip().splitlines()) == 1, err


def test_a_stream_cut_short_resumes_from_the_last_record_with_a_range(
    archives: FakeArchives,  # noqa: F811
) -> None:
    archives.snapshots = seed_snapshots() + others(20, size=2000)  # about 100 kB
    archives.build_ccnews(files=1)
    ((path, data),) = archives.ccnews.items()
    archives.ccnews_slow = {"chunk": 1024, "cut_at": len(data) // 2}  # the first answer stops halfway
    settings = get_settings()
    with make_client(settings) as client:
        stream = WarcStream(client, settings, None, archives.site.base + path, 0, sleep=lambda _: None)
        entries = []
        for entry in stream:
            entries.append(entry)
            if len(archives.ccnews_ranges) == 2:
                archives.ccnews_slow = {}
    uris = [e.uri for e in entries if e.uri]
    assert sorted(uris) == sorted(s.original for s in archives.snapshots)  # each record once, none lost
    assert [e.offset for e in entries] == sorted({e.offset for e in entries})
    assert entries[-1].end == len(data)
    first, second = archives.ccnews_ranges[:2]
    assert first == (path, "") and second[1].startswith("bytes=") and second[1].endswith("-")
    resumed_at = int(second[1][len("bytes=") : -1])
    assert 0 < resumed_at <= len(data) // 2 and resumed_at in {e.offset for e in entries}
    assert any("stream cut at byte" in (f.reason or "") for f in stream.fetches)


def test_warc_paths_and_the_files_that_cover_a_window() -> None:
    paths = [
        "crawl-data/CC-NEWS/2025/02/CC-NEWS-20250201000000-00000.warc.gz",
        "crawl-data/CC-NEWS/2025/02/CC-NEWS-20250210120000-00001.warc.gz",
        "crawl-data/CC-NEWS/2025/02/CC-NEWS-20250220000000-00002.warc.gz",
    ]
    body = gzip.compress(
        "\n".join([*paths, "not a path", "crawl-data/CC-NEWS/../../etc/passwd.warc.gz"]).encode()
    )
    assert parse_warc_paths(body) == paths
    assert parse_warc_paths("\n".join(paths).encode()) == paths  # a server that gunzipped it
    day = datetime(2025, 2, 11, tzinfo=UTC)
    assert files_covering(paths, day, day.replace(hour=23)) == [paths[1]]
    assert files_covering(paths, datetime(2025, 2, 9, tzinfo=UTC), day) == paths[:2]
    assert (
        files_covering(paths, datetime(2025, 2, 25, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC))
        == paths[2:]
    )
    # the UTC months' lists a window needs, across a year's end
    assert ccnews_months(datetime(2024, 11, 30, 23, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)) == [
        (2024, 11),
        (2024, 12),
        (2025, 1),
    ]


@pytest.mark.parametrize(
    ("zone", "inside", "outside"),
    [
        # 00:30 on 1 February in Paris is in January's UTC files; 23:30 on 31 January is not asked
        ("Europe/Paris", "20250131233000", "20250131223000"),
        # 22:00 on 28 February in Montreal is in March's UTC files; 01:00 on 1 March is not asked
        ("America/Montreal", "20250301030000", "20250301060000"),
    ],
)
def test_a_local_month_reads_the_utc_files_of_its_border_hours(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock_restored: None,
    zone: str,
    inside: str,
    outside: str,
) -> None:
    """CC-NEWS lists its WARC files by UTC month, and a month on the local clock starts and ends
    an hour or a few away from UTC's: February in Paris begins on 31 January at 23:00 UTC, in
    Montreal it ends on 1 March at 04:59 UTC. Only February's list was read, so the captures of
    those hours were never found (the seeds of the first Paris hour of the month, here)."""
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", zone)
    late = Snapshot(f"{LIBE}/hors-de-la-fenetre.html", outside, b"<html lang='fr'><p>Sommet IA.</p></html>")
    archives.snapshots = [*seed_snapshots(inside), late]
    archives.build_ccnews(files=1, others=others(2))  # and records in February's own files
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    assert code == 0, err
    originals = sorted(original_url(p.spec.slug, p.spec.site) for p in seed_pages())
    assert [r.url for r in _articles(clean_db)] == originals
    with clean_db.connect() as conn:
        queued = set(conn.scalars(sa.text("SELECT url FROM url_queue")))
    assert late.original not in queued  # the other month's hours of the same file: not the window's


@pytest.mark.parametrize("cut", ["gzip trailer", "headers"])
def test_a_file_cut_inside_its_last_gzip_member_names_the_record_truncated(
    archives: FakeArchives,  # noqa: F811
    cut: str,
) -> None:
    """The server sends fewer bytes than the last record's gzip member needs and closes cleanly
    (its Content-Length says so: a cut file, not a lost connection). Cut in the member's last
    bytes (its CRC and length), warcio read the record whole and the stream ended as if the
    file were complete; cut in the record's headers, the entry said "corrupt WARC record ...:
    AttributeError: 'NoneType' object has no attribute 'startswith'"."""
    archives.snapshots = seed_snapshots() + others(2)
    archives.build_ccnews(files=1)
    ((path, data),) = archives.ccnews.items()
    last = max(offset for _, offset, _ in archives.ccnews_offsets.values())
    end = len(data) - 4 if cut == "gzip trailer" else last + 200
    archives.ccnews[path] = data[:end]
    settings = get_settings()
    with make_client(settings) as client:
        stream = WarcStream(client, settings, None, archives.site.base + path, 0, sleep=lambda _: None)
        entries = list(stream)
    assert [e.problem for e in entries[:-1]] == [None] * (len(entries) - 1)
    assert (entries[-1].offset, entries[-1].end) == (last, end)
    problem = f"truncated WARC record at byte {last}: the file ends {end - last} bytes into it"
    if cut == "gzip trailer":
        problem += ", before the end of its gzip member"
    assert entries[-1].problem == problem
    assert [f.status for f in stream.fetches] == [200]  # read once: a cut file is not tried again


def test_a_warc_file_answered_with_an_html_page_is_retried_not_read_as_a_corrupt_record(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    """A WARC file's request answered 200 with an HTML page (a proxy's or a busy server's) is
    a failed request, tried again: warcio read the page as a corrupt first record, which ends
    the file, so the job was done (exit 0) and every record of the file lost."""
    archives.snapshots = seed_snapshots()
    archives.build_ccnews(files=2)
    feb = sorted(p for p in archives.ccnews if "/2025/02/" in p)
    archives.fail_first = {feb[0]: [(200, {"Content-Type": "text/html; charset=utf-8"})]}
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, out, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    assert code == 0, err
    assert not archives.fail_first[feb[0]]  # the page was served, then the file
    assert len(_articles(clean_db)) == 5
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT sum(malformed) FROM backfill_jobs")) == 0
        reason = conn.scalar(sa.text("SELECT reason FROM fetch_log WHERE kind = 'warc' AND outcome <> 'ok'"))
    assert reason.startswith("not the archive's data:") and "HTML page" in reason, reason


def test_a_warc_file_s_pause_leaves_the_whole_archive_alone(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    """A WARC file's stream answered 429 with Retry-After pauses the archive for every job, as
    an index page's or a capture's does (docs/backfill.md): the other file's stream and the
    captures' ranges were asked on at once."""
    archives.snapshots = seed_snapshots()[:2] + seed_snapshots("20250224093000")[2:]  # in both files
    archives.build_ccnews(files=2, others=others(20, size=2000))
    feb = sorted(p for p in archives.ccnews if "/2025/02/" in p)
    archives.fail_first = {feb[0]: [(429, {"Retry-After": "4"})]}
    archives.ccnews_slow = {"chunk": 4096, "delay": 0.15}  # each stream takes a while
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, out, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    assert code == 0, err
    asked = [
        r
        for r in archives.site.log
        if r["path"].startswith("/crawl-data/CC-NEWS/") and "warc.gz" in r["path"]
    ]
    paused = next(r["at"] for r in asked if r["status"] == 429)
    # a request already on its way when the 429 came is let through; none is sent after
    during = [r["path"][-30:] for r in asked if paused + 1 < r["at"] < paused + 3.7]
    assert during == []
    assert len(_articles(clean_db)) == 5


def test_a_page_under_both_schemes_is_one_capture_in_its_source_s_scheme(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A source whose own URL is http://: of a page's two records in one batch (https first,
    then http, its text a little apart), the http one is kept, and the page is queued and
    stored once."""
    monkeypatch.setenv("VEILLE_ARCHIVE_PAGE_SIZE", "100")  # one batch: the file's records together
    seeds = seed_snapshots()
    libe = next(s for s in seeds if "liberation" in s.original)
    plain = "http://" + libe.original.removeprefix("https://")
    edited = libe.body.replace(b"</article>", b"<p>Mise a jour : correction du titre.</p></article>", 1)
    archives.snapshots = [*seeds, Snapshot(plain, "20250213080000", edited)]
    archives.build_ccnews(files=1)
    sources = [
        {**s, "url": s["url"].replace("https://", "http://")} if "liberation" in s["url"] else s
        for s in seed_sources()
    ]
    code, _, err = _run(
        [*WINDOW, "--from", "ccnews", "--sources", str(write_sources(tmp_path / "s.toml", sources))]
    )
    assert code == 0, err
    with clean_db.connect() as conn:
        queued = sorted(conn.scalars(sa.text("SELECT url FROM url_queue")))
    expected = sorted(plain if s is libe else s.original for s in seeds)
    assert queued == expected  # one row a page, Libération's under http://
    rows = _articles(clean_db)
    assert [r.url for r in rows] == expected
    kept = next(r for r in rows if r.url == plain)
    assert kept.captured_at == datetime(2025, 2, 13, 8, 0, tzinfo=UTC)  # the record archived under http


def test_a_job_waiting_for_an_archive_slot_does_not_spend_its_deadline_there(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One request slot (VEILLE_ARCHIVE_CONCURRENCY=1), two files streamed by two jobs at
    once, each stream longer than VEILLE_FETCH_DEADLINE: the second job's stream (and the
    first job's captures, read by range while the second file streams) waited for the slot
    inside their deadline, gave up ("no time left ... not tried"), spent their attempts and
    the job ended in error though the archive answered every request at once."""
    monkeypatch.setenv("VEILLE_ARCHIVE_CONCURRENCY", "1")
    monkeypatch.setenv("VEILLE_TIMEOUT", "1")
    monkeypatch.setenv("VEILLE_FETCH_DEADLINE", "1")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")
    archives.snapshots = seed_snapshots()[:2] + seed_snapshots("20250224093000")[2:]  # in both files
    archives.build_ccnews(files=2, others=others(20, size=2000))
    feb = sorted(p for p in archives.ccnews if "/2025/02/" in p)
    assert len(feb) == 2
    archives.ccnews_slow = {"chunk": 4096, "delay": 0.3}  # each stream holds the slot 3 s or more
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, out, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    with clean_db.connect() as conn:
        jobs = conn.execute(sa.text("SELECT state, last_error FROM backfill_jobs ORDER BY warc_file")).all()
        not_sent = list(conn.scalars(sa.text("SELECT reason FROM fetch_log WHERE reason LIKE 'deadline:%'")))
    assert [tuple(j) for j in jobs] == [("done", None), ("done", None)], err
    assert not_sent == []
    assert code == 0, err
    assert len(_articles(clean_db)) == 5
    streams = sorted(path for path, rng in archives.ccnews_ranges if not bounded_range(rng))
    assert streams == feb  # each file streamed once, from its start


def test_a_trickling_warc_file_is_cut_and_frees_its_slot_for_the_other_jobs(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One request slot, two files: one sent a byte every 0.2 s (each read well within
    VEILLE_TIMEOUT), the other at once. The trickling stream held the slot for as long as the
    server liked (since 1b352f8 the other jobs queue for it, so the backfill hung); now it is
    cut once under VEILLE_STREAM_MIN_RATE over VEILLE_STREAM_RATE_WINDOW, a transient failure
    retried with backoff, then the job's error, and the other file is read meanwhile."""
    monkeypatch.setenv("VEILLE_ARCHIVE_CONCURRENCY", "1")
    monkeypatch.setenv("VEILLE_TIMEOUT", "5")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")
    monkeypatch.setenv("VEILLE_STREAM_MIN_RATE", "1000")
    monkeypatch.setenv("VEILLE_STREAM_RATE_WINDOW", "1")
    archives.snapshots = seed_snapshots()[:2] + seed_snapshots("20250224093000")[2:]  # in both files
    archives.build_ccnews(files=2, others=others(4))
    feb = sorted(p for p in archives.ccnews if "/2025/02/" in p)
    # a byte every 0.2 s; cut after 150 bytes (30 s), so that without a floor the run still ends
    archives.ccnews_slow_files = {feb[0]: {"chunk": 1, "delay": 0.2, "cut_at": 150}}
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    done: list[tuple[int, str, str]] = []
    run = threading.Thread(
        target=lambda: done.append(_run([*WINDOW, "--from", "ccnews", "--sources", str(sources)]))
    )
    run.start()
    run.join(20)
    assert not run.is_alive(), "the backfill still runs after 20 s: the trickling stream holds the slot"
    ((code, _, err),) = done
    with clean_db.connect() as conn:
        jobs = conn.execute(sa.text("SELECT state, last_error FROM backfill_jobs ORDER BY warc_file")).all()
        slow = list(conn.scalars(sa.text("SELECT reason FROM fetch_log WHERE reason LIKE 'too slow%'")))
    assert jobs[1] == ("done", None), err  # the other file, read while the first one backed off
    state, error = jobs[0]
    host = archives.site.base.removeprefix("http://")
    assert state == "error"
    assert re.fullmatch(
        rf"CC-NEWS WARC file failed: too slow: {re.escape(host)} sent \d+ bytes in 1\.\d s, under 1000 B/s"
        r" \(VEILLE_STREAM_MIN_RATE over VEILLE_STREAM_RATE_WINDOW 1 s\); stream cut at byte \d+"
        rf" after 2 attempts \({re.escape(archives.site.base + feb[0])}\)",
        error,
    ), error
    assert len(slow) == 2  # each attempt in the fetch log, with its reason
    assert code == 1, err


def test_a_stream_backs_off_with_its_archive_slot_free(
    archives: FakeArchives,  # noqa: F811
) -> None:
    """A stream cut mid-file waits out its backoff before asking again: during that wait its
    request slot is another request's (it slept holding it, the connection still open)."""
    archives.snapshots = seed_snapshots() + others(20, size=2000)  # about 100 kB
    archives.build_ccnews(files=1)
    ((path, data),) = archives.ccnews.items()
    archives.ccnews_slow = {"chunk": 1024, "cut_at": len(data) // 2}  # the first answer stops halfway
    settings = get_settings()
    throttle = HostThrottle(1, 0.0)
    url = archives.site.base + path
    free: list[bool] = []

    def backoff(_: float) -> None:
        taken = throttle.acquire(url, deadline=time.monotonic() + 0.2)
        free.append(taken is not None)
        if taken is not None:
            throttle.release(url)
        archives.ccnews_slow = {}

    with make_client(settings) as client:
        entries = list(WarcStream(client, settings, throttle, url, 0, sleep=backoff))
    assert free == [True]
    assert entries[-1].end == len(data)


def test_a_slow_but_steady_stream_and_a_slow_reader_stay_above_the_floor(
    archives: FakeArchives,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stream well above VEILLE_STREAM_MIN_RATE (4 kB every 0.1 s against 1000 B/s over
    0.5 s) is read to its end, though the reader stops longer than the window on records of
    its own (its work is not the server's slowness)."""
    monkeypatch.setenv("VEILLE_STREAM_MIN_RATE", "1000")
    monkeypatch.setenv("VEILLE_STREAM_RATE_WINDOW", "0.5")
    archives.snapshots = seed_snapshots() + others(10, size=2000)
    archives.build_ccnews(files=1)
    ((path, data),) = archives.ccnews.items()
    archives.ccnews_slow = {"chunk": 4096, "delay": 0.1}
    settings = get_settings()
    with make_client(settings) as client:
        stream = WarcStream(client, settings, None, archives.site.base + path, 0, sleep=lambda _: None)
        entries = []
        for entry in stream:
            entries.append(entry)
            if len(entries) in {2, 5}:
                time.sleep(0.7)  # the reader's own work, longer than the window
    assert entries[-1].end == len(data)
    assert [f.reason for f in stream.fetches if not f.ok] == []
    assert [p for (p, _) in archives.ccnews_ranges] == [path]  # one stream, never cut


def _first_file_fails(
    archives: FakeArchives,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> list[str]:
    """A CC-NEWS backfill of February (two files) whose first file's stream fails for good
    (a 503 to it and to its one retry): its files, the failing one first."""
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")
    archives.snapshots = seed_snapshots()
    archives.build_ccnews(files=2)
    feb = sorted(p for p in archives.ccnews if "/2025/02/" in p)
    archives.fail_first = {feb[0]: [(503, {}), (503, {})]}  # the stream and its one retry
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, _, err = _run([*WINDOW, "--from", "ccnews", *args, "--sources", str(sources)])
    assert code == 1, err
    return feb


def test_a_warc_file_s_stream_attempts_are_logged_as_warc_even_when_it_fails(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every request of a CC-NEWS file's stream is in fetch_log with kind ``warc``
    (docs/backfill.md), the index lookups' being ``cdx``. Those of a stream that failed for
    good (the ones a user looks for) were logged ``cdx`` by the job's error path, though
    CC-NEWS has no index: a query could not tell them from index requests."""
    feb = _first_file_fails(archives, tmp_path, monkeypatch)
    with clean_db.connect() as conn:
        jobs = conn.execute(sa.text("SELECT state, last_error FROM backfill_jobs ORDER BY warc_file")).all()
        streams = conn.execute(
            sa.text(
                "SELECT url, kind, outcome, status_code FROM fetch_log WHERE url LIKE '%.warc.gz' ORDER BY id"
            )
        ).all()
        kinds = set(conn.scalars(sa.text("SELECT DISTINCT kind FROM fetch_log")))
    assert jobs[0][0] == "error" and jobs[0][1].startswith("CC-NEWS WARC file failed"), jobs
    failed = [tuple(r[1:]) for r in streams if r.url.endswith(feb[0])]
    assert failed == [("warc", "error", 503), ("warc", "error", 503)], streams
    assert [r.kind for r in streams if r.url.endswith(feb[1])] == ["warc"], streams
    assert kinds <= {"cdx", "warc", "page"}, kinds
    with clean_db.connect() as conn:  # CC-NEWS has no index: its cdx rows are its month lists
        lists = list(conn.scalars(sa.text("SELECT url FROM fetch_log WHERE kind = 'cdx'")))
    assert lists and all(u.endswith("/warc.paths.gz") for u in lists), lists


def test_a_site_job_s_stream_is_logged_under_its_source_as_it_goes_and_when_it_fails(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ``--site`` job's stream attempts are in fetch_log under the job's source, those
    logged at each commit as those of a stream that failed for good: main logged the former
    with no source and the latter with the job's."""
    feb = _first_file_fails(archives, tmp_path, monkeypatch, "--site", "lemonde.fr")
    with clean_db.connect() as conn:
        jobs = conn.execute(sa.text("SELECT state, source_id FROM backfill_jobs ORDER BY warc_file")).all()
        streams = conn.execute(
            sa.text("SELECT url, source_id FROM fetch_log WHERE kind = 'warc' ORDER BY id")
        ).all()
    assert [j.state for j in jobs] == ["error", "done"], jobs
    lemonde = jobs[0].source_id
    assert lemonde is not None and jobs[1].source_id == lemonde
    failed = [r.source_id for r in streams if r.url.endswith(feb[0])]
    read = [r.source_id for r in streams if r.url.endswith(feb[1])]
    assert failed == [lemonde, lemonde] and read == [lemonde], streams  # main: read == [None]


def test_a_month_s_file_list_is_in_the_fetch_log_as_an_index_lookup_even_when_it_fails(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CC-NEWS's month lists (``warc.paths.gz``) are its index: each request for one is in
    fetch_log, kind ``cdx``, as the archives' other index requests (docs/backfill.md), so a
    list that fails is seen there, not only in the command's error. main logged none."""
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")
    archives.snapshots = seed_snapshots()
    archives.build_ccnews(files=1)
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    archives.fail_first = {"/crawl-data/CC-NEWS/2025/02/warc.paths.gz": [(503, {}), (503, {})]}
    code, _, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    assert code == 2 and "CC-NEWS file list failed: HTTP 503" in err, err
    query = "SELECT url, kind, outcome, status_code, source_id FROM fetch_log ORDER BY id"
    with clean_db.connect() as conn:
        failed = conn.execute(sa.text(query)).all()
    lists = [(r.url.rsplit("/CC-NEWS/", 1)[1], *r[1:]) for r in failed]
    assert ("2025/02/warc.paths.gz", "cdx", "error", 503, None) in lists, lists
    assert [r[1:] for r in lists if r[0] == "2025/02/warc.paths.gz"] == [("cdx", "error", 503, None)] * 2

    code, _, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])  # it answers now
    assert code == 0, err
    with clean_db.connect() as conn:
        logged = conn.execute(sa.text(query)).all()[len(failed) :]
    months = {
        r.url.rsplit("/CC-NEWS/", 1)[1]: (r.kind, r.outcome, r.status_code) for r in logged if r.kind == "cdx"
    }
    # the window's UTC months (January's last hour in Paris, February), each read once
    assert months == {
        "2025/01/warc.paths.gz": ("cdx", "error", 404),
        "2025/02/warc.paths.gz": ("cdx", "ok", 200),
    }, logged


def test_the_table_gives_one_line_to_the_ccnews_files_with_no_capture(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    """A CC-NEWS job is one WARC file, its site named with the file ("* CC-NEWS-....warc.gz"),
    so the table's folding of a site's empty jobs (bc40f21) never met two of the same name: a
    month of hundreds of files printed hundreds of zero rows. The files that found nothing are
    one line for their site; those with captures keep theirs; the summary counts every job."""
    archives.snapshots = seed_snapshots("20250209093000")  # before the others: the first file
    archives.build_ccnews(files=4, others=others(12))
    feb = sorted(p for p in archives.ccnews if "/2025/02/" in p)
    assert len(feb) == 4
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    code, out, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("ccnews ")]
    assert len(lines) == 2, out
    assert feb[0].rsplit("/", 1)[-1] in lines[0], out  # the file with the seeds keeps its row
    assert lines[1].split()[:2] == ["ccnews", "*"], out  # the site alone, no file named
    assert "3 WARC files with no capture, 2025-02-01 .. 2025-02-28" in lines[1], out
    assert "4 jobs" in out, out


@pytest.mark.parametrize("machine", ["Asia/Tokyo", "America/Los_Angeles"])
def test_a_ccnews_window_given_as_days_is_read_on_veille_s_clock_not_the_machine_s(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock_restored: None,
    machine: str,
) -> None:
    """`--since 2025-02-01` names a day on veille's local clock (VEILLE_LOCAL_TIMEZONE, here
    UTC), whatever the machine's own zone (TZ): a February on UTC's clock reads February's file
    list alone, on a machine east of UTC (Tokyo) as west of it (Los Angeles). Read on the
    machine's clock, a Tokyo midnight is 15:00 UTC the day before: January's list was read too."""
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "UTC")
    monkeypatch.setenv("VEILLE_PREFECT", "off")
    before = os.environ.get("TZ")
    os.environ["TZ"] = machine
    time.tzset()
    try:
        assert time.localtime(0).tm_hour != 0  # the machine's clock is not UTC
        archives.snapshots = seed_snapshots()
        archives.build_ccnews(files=1)
        sources = write_sources(tmp_path / "sources.toml", seed_sources())
        code, _, err = _run([*WINDOW, "--from", "ccnews", "--sources", str(sources)])
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
    assert code == 0, err
    lists = {r["path"] for r in archives.site.log if r["path"].endswith("/warc.paths.gz")}
    assert lists == {"/crawl-data/CC-NEWS/2025/02/warc.paths.gz"}, lists
    with clean_db.connect() as conn:
        starts = conn.scalars(sa.text("SELECT window_start FROM backfill_jobs")).all()
    assert starts and {s.astimezone(UTC) for s in starts} == {datetime(2025, 2, 1, tzinfo=UTC)}
