"""kill -9 in the middle of an archive backfill, then the same command again: it resumes from
the job's cursor, with no duplicate and no capture lost. Wayback: killed twice, once while
it reads the CDX pages, once while it fetches the captures. CC-NEWS: killed in the middle of
a WARC file, resumed from the byte where its first record not yet processed starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.fake_archives import FakeArchives, Snapshot, bounded_range, seed_sources
from tests.site import LocalSite, seed_pages, write_sources

pytestmark = pytest.mark.usefixtures("prefect_harness")
ROOT = Path(__file__).resolve().parent.parent
CAPTURES = 36
PAGE_SIZE = 3


def _env(database_url: str, site: LocalSite, prefect_home: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VEILLE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        VEILLE_DATABASE_URL=database_url,
        VEILLE_ALLOW_PRIVATE_NETWORK="1",
        VEILLE_WAYBACK_URL=site.base,
        VEILLE_WAYBACK_DELAY="0",
        VEILLE_COMMONCRAWL_DATA_URL=site.base,
        VEILLE_COMMONCRAWL_DELAY="0",
        VEILLE_ARCHIVE_PAGE_SIZE=str(PAGE_SIZE),
        VEILLE_ARCHIVE_RETRY_BASE="0.01",
        VEILLE_CONCURRENCY="4",
        VEILLE_BATCH_SIZE="2",
        PREFECT_HOME=str(prefect_home),
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300",
    )
    if PREFECT_API_URL.value():
        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    return env


def _captures() -> list[Snapshot]:
    """Distinct article pages of one site, built from the Libération seed."""
    page = next(p for p in seed_pages() if p.spec.site == "Libération")
    return [
        Snapshot(
            f"https://www.liberation.fr/2025/02/sommet-ia-episode-{i:02d}.html",
            f"202502{10 + i % 9:02d}120000",
            page.html.replace(
                "</article>",
                f"<p>Épisode {i} du sommet : la mise à jour numéro {i} de notre suivi.</p></article>",
            ).encode(),
        )
        for i in range(CAPTURES)
    ]


def _until(engine: sa.Engine, query: str, done: Callable[[int], bool], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the backfill ended before it could be killed"
        with engine.connect() as conn:
            if done(int(conn.scalar(sa.text(query)) or 0)):
                return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {query}")


def _start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=log, stderr=log,
        start_new_session=True,  # its own process group: kill -9 reaches all of it
    )  # fmt: skip


def _each_capture_stored_once(engine: sa.Engine, archives: FakeArchives, archive: str) -> None:
    """Every capture is an article, once, fetched, with its sighting in the archive."""
    with engine.connect() as conn:
        urls = list(conn.scalars(sa.text("SELECT url FROM articles")))
        states = Counter(conn.scalars(sa.text("SELECT state FROM url_queue")))
        sightings = conn.scalar(sa.text("SELECT count(*) FROM sightings WHERE archive = :a"), {"a": archive})
    expected = {s.original for s in archives.snapshots}
    assert len(urls) == len(set(urls)) == CAPTURES and set(urls) == expected  # none lost, none twice
    assert states == {"fetched": CAPTURES} and sightings == CAPTURES


def test_kill_9_mid_backfill_then_the_same_command_resumes(
    site: LocalSite, clean_db: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    archives = FakeArchives(site)
    archives.snapshots = _captures()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    command = [
        sys.executable, "-m", "flows.cli", "backfill", "--since", "2025-02-01", "--until", "2025-02-28",
        "--from", "wayback", "--site", "liberation.fr", "--sources", str(sources),
    ]  # fmt: skip

    def start(name: str) -> subprocess.Popen[bytes]:
        return _start(command, _env(database_url, site, tmp_path / name), tmp_path / f"{name}.log")

    def kill(proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    # 1. killed while it reads the CDX pages (slowly), after three of the twelve
    archives.cdx_delay = 0.4
    first = start("run1")
    _until(clean_db, "SELECT max(page) FROM backfill_jobs", lambda n: n >= 3, first)
    kill(first)
    with clean_db.connect() as conn:
        page, key = conn.execute(sa.text("SELECT page, resume_key FROM backfill_jobs")).one()
        queued = conn.scalar(sa.text("SELECT count(*) FROM url_queue"))
    assert 3 <= page < CAPTURES // PAGE_SIZE and key
    assert queued == page * PAGE_SIZE  # each page went in with its cursor, or not at all
    seen = len(archives.cdx_requests)

    # 2. the same command: resumes discovery at the stored resume key; killed while fetching
    archives.cdx_delay = 0.0
    archives.capture_delay = 0.3
    second = start("run2")
    _until(clean_db, "SELECT count(*) FROM articles", lambda n: n >= 5, second)
    kill(second)
    resumed = archives.cdx_requests[seen]
    assert resumed.get("resumeKey") == [key]  # not from the first page again
    with clean_db.connect() as conn:
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
    assert 5 <= stored < CAPTURES

    # 3. the same command again, to the end
    archives.capture_delay = 0.0
    third = start("run3")
    assert third.wait(timeout=300) == 0, (tmp_path / "run3.log").read_text()

    _each_capture_stored_once(clean_db, archives, "wayback")
    with clean_db.connect() as conn:
        job = conn.execute(sa.text("SELECT state, page, resume_key, queued FROM backfill_jobs")).one()
    assert job.state == "done" and job.resume_key is None and job.queued == CAPTURES
    # every CDX page read once, but for the one in flight at the kill
    keys = Counter(str(q.get("resumeKey")) for q in archives.cdx_requests)
    assert max(keys.values()) <= 2 and sum(v - 1 for v in keys.values()) <= 1
    # a capture is fetched again only if the kill caught it in flight
    fetched = Counter(h["path"] for h in site.log if h["path"].startswith("/web/"))
    assert set(fetched) == {f"/web/{s.timestamp}id_/{s.original}" for s in archives.snapshots}
    assert sum(n - 1 for n in fetched.values()) <= 4  # VEILLE_CONCURRENCY workers in flight


def test_kill_9_mid_warc_file_then_the_same_command_resumes_from_its_offset(
    site: LocalSite, clean_db: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    from tests.test_ccnews import others

    archives = FakeArchives(site)
    archives.snapshots = _captures()
    archives.build_ccnews(files=1, others=others(30, size=1500))
    ((path, data),) = archives.ccnews.items()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    command = [
        sys.executable, "-m", "flows.cli", "backfill", "--since", "2025-02-01", "--until", "2025-02-28",
        "--from", "ccnews", "--sources", str(sources),
    ]  # fmt: skip

    def start(name: str) -> subprocess.Popen[bytes]:
        return _start(command, _env(database_url, site, tmp_path / name), tmp_path / f"{name}.log")

    # 1. killed while it streams the file (slowly), after a few batches were committed
    archives.ccnews_slow = {"chunk": 2048, "delay": 0.05}
    first = start("run1")
    _until(clean_db, "SELECT queued FROM backfill_jobs", lambda n: n >= 2 * PAGE_SIZE, first)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    with clean_db.connect() as conn:
        cursor = conn.scalar(sa.text("SELECT warc_offset FROM backfill_jobs"))
        queued = set(conn.scalars(sa.text("SELECT url FROM url_queue")))
    assert 0 < cursor < len(data)
    # the captures committed are exactly those of the records before the cursor
    before = {
        s.original for s in archives.snapshots if sum(archives.ccnews_offsets[s.original][1:]) <= cursor
    }
    assert queued == before and 0 < len(before) < CAPTURES

    # 2. the same command, to the end: the file asked from the cursor on
    archives.ccnews_slow = {}
    seen = len(archives.ccnews_ranges)
    second = start("run2")
    assert second.wait(timeout=300) == 0, (tmp_path / "run2.log").read_text()
    streams = [
        r for p, r in archives.ccnews_ranges[seen:] if p == path and not r[len("bytes=") :].split("-")[1]
    ]
    assert streams == [f"bytes={cursor}-"]

    _each_capture_stored_once(clean_db, archives, "ccnews")
    with clean_db.connect() as conn:
        job = conn.execute(sa.text("SELECT state, warc_offset, queued FROM backfill_jobs")).one()
    assert job.state == "done" and job.warc_offset == len(data) and job.queued == CAPTURES
    records = Counter(r for p, r in archives.ccnews_ranges if p == path and bounded_range(r))
    assert len(records) == CAPTURES and max(records.values()) == 1  # each record read once by its range
