"""`veille backfill` without a Prefect server (``VEILLE_PREFECT`` auto, no ``PREFECT_API_URL``)
runs its steps directly (flows/direct.py), as `veille run` does: no Prefect import, so no
temporary Prefect server for the command's length; the same rows stored, the same progress
bar, report and exit code as the flows (tests/test_backfill.py, tests/test_archive_backfill.py
run those)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.fake_archives import FakeArchives, original_url, seed_snapshots, seed_sources
from tests.site import LocalSite, seed_pages, write_sources
from tests.test_archive_backfill import WINDOW, archives  # noqa: F401 - the fake archives fixture
from tests.test_backfill import sitemap_feed_and_listing
from tests.test_concurrent_runs import ROOT

#: Runs the CLI, then prints the Prefect modules it imported (none: no server of its own).
PROBE = (
    "import sys, flows.cli\ncode = flows.cli.main()\n"
    "print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))\nsys.exit(code)"
)


def _veille(argv: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``veille ARGV`` as a user without a Prefect server runs it: no PREFECT_* setting,
    VEILLE_PREFECT left to its default (auto), a Prefect home of its own."""
    fakes = ("VEILLE_WAYBACK_", "VEILLE_COMMONCRAWL_", "VEILLE_ARCHIVE_")  # the fake archives
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "VEILLE_")) or k.startswith(fakes)
    }
    env.update(
        PYTHONPATH=str(ROOT),
        PREFECT_HOME=str(tmp_path / "prefect"),
        VEILLE_DATABASE_URL=database_url,
        VEILLE_DATA_DIR=str(tmp_path / "data"),
        VEILLE_ALLOW_PRIVATE_NETWORK="1",
        VEILLE_PER_HOST_DELAY="0",
    )
    return subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_backfill_without_a_prefect_server_runs_directly_and_stores_the_same(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """Before, the command always ran the veille-backfill flow, so Prefect started a temporary
    server of its own (about 16 s here) for a history nobody could see."""
    pages, sources = sitemap_feed_and_listing(site, tmp_path)
    argv = ["backfill", *WINDOW, "--sources", str(sources)]
    done = _veille(argv, database_url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == "[]", done.stdout  # Prefect never imported
    assert "backfill pages" in done.stderr  # the progress bar
    assert "| WARNING | listing sources cannot reach back in time, skipped: Page" in done.stderr
    assert "All good: 2 sources read (0 with errors)" in done.stderr, done.stderr  # no feed was polled
    assert "backfill 2025-02-01 .. 2025-02-28: 2 sources read, 4 new URLs, 4 stored" in done.stdout

    feb = {f"{site.base}/{p.spec.slug}" for p in pages if p.spec.published.year == 2025}
    with clean_db.connect() as conn:
        stored = set(conn.scalars(sa.text("SELECT url FROM articles")))
        queued = set(conn.scalars(sa.text("SELECT url FROM url_queue")))
        health = conn.execute(
            sa.text("SELECT last_polled_at, etag, consecutive_failures, new_items_count FROM sources")
        ).all()
        sightings = conn.scalar(sa.text("SELECT count(*) FROM sightings"))
        run_ids = conn.scalar(sa.text("SELECT count(*) FROM fetch_log WHERE run_id IS NOT NULL"))
    assert len(feb) == 4 and stored == feb and queued == feb
    assert [tuple(r) for r in health] == [(None, None, 0, 0)] * 3
    assert sightings == 8 and run_ids == 0  # fetched by no flow run
    assert site.hits("/feed.xml") == [] and site.hits("/sitemap-2023.xml") == []

    done = _veille(argv, database_url, tmp_path)  # again: nothing new, nothing stored twice
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 stored" not in done.stdout and "0 new URLs, 0 stored" in done.stdout, done.stdout
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 4


def test_archive_backfill_without_a_prefect_server_runs_directly_and_stores_the_same(
    archives: FakeArchives,  # noqa: F811 - the fixture
    database_url: str,
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    """`veille backfill --from wayback` likewise: it ran the veille-archive-backfill flow."""
    archives.snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    done = _veille(
        ["backfill", *WINDOW, "--from", "wayback", "--sources", str(sources)], database_url, tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == "[]", done.stdout  # Prefect never imported
    assert "archive captures" in done.stderr  # the progress bar
    originals = sorted(original_url(p.spec.slug, p.spec.site) for p in seed_pages())
    assert f"{len(originals)} stored" in done.stdout, done.stdout
    with clean_db.connect() as conn:
        stored = list(conn.scalars(sa.text("SELECT url FROM articles ORDER BY url")))
        jobs = set(conn.scalars(sa.text("SELECT state FROM backfill_jobs")))
    assert stored == originals and jobs == {"done"}
