"""A PostgreSQL that goes away in the middle of `veille run`: nothing lost, the run says so.

The test runs its own throwaway PostgreSQL (pgserver, in a temporary folder; never the shared
server) and stops it while pages are being ingested. The run must count only what it really
stored, say it was cut short and exit 1; a re-run right after must finish the job, with every
URL fetched once into one article each.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.site import LocalSite, Request, rss_feed, write_sources
from tests.test_concurrent_runs import ROOT, _command, _env
from tests.test_dedup_pipeline import WHEN, simple_page

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

PAGES = 24
WORDS = [
    "sommet",
    "intelligence",
    "artificielle",
    "Paris",
    "ministre",
    "gouvernement",
    "startup",
    "calcul",
    "données",
    "europe",
    "régulation",
    "énergie",
    "investissement",
    "chercheurs",
    "entreprises",
    "modèle",
    "souveraineté",
    "emploi",
    "école",
    "santé",
    "climat",
    "industrie",
    "réseau",
    "parlement",
    "budget",
    "région",
    "accord",
    "sécurité",
    "usine",
    "cloud",
]


class OwnPostgres:
    """A PostgreSQL cluster of the test's own, which the test can stop and start."""

    def __init__(self, folder: Path) -> None:
        import pgserver

        self.server = pgserver.get_server(folder, cleanup_mode="delete")
        admin = sa.create_engine(self.server.get_uri(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE veille"))
        admin.dispose()
        uri = make_url(self.server.get_uri()).set(drivername="postgresql+psycopg", database="veille")
        self.url = uri.render_as_string(hide_password=False)

    def stop(self) -> None:
        # pgserver makes its command functions at import time (setattr), so its py.typed
        # module declares none of them
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    folder = Path(tempfile.mkdtemp(prefix="veille-own-pg-")) / "pgdata"
    pg = OwnPostgres(folder)
    try:
        yield pg
    finally:
        pg.start()  # cleanup stops and deletes a running cluster
        pg.server.cleanup()
        shutil.rmtree(folder.parent, ignore_errors=True)


def _pages(site: LocalSite, on_page: Any) -> list[str]:
    """Register PAGES distinct articles and a feed listing them; ``on_page(n)`` is called as
    the n-th page request arrives."""
    rng = random.Random(14)
    paths = []
    count = [0]
    lock = threading.Lock()
    for i in range(PAGES):
        paragraphs = [" ".join(rng.choice(WORDS) for _ in range(60)) + f" numéro {i}." for _ in range(4)]
        html = simple_page(f"Article {i} sur le sommet", paragraphs).encode()

        def serve(request: Request, html: bytes = html) -> tuple[int, dict[str, str], bytes]:
            with lock:
                count[0] += 1
                n = count[0]
            on_page(n)
            time.sleep(0.05)
            return 200, {"Content-Type": "text/html; charset=utf-8"}, html

        path = f"/a/article-{i}.html"
        site.add(path, b"", handler=serve)
        paths.append(path)
    feed = rss_feed(site.base, [(f"Article {i}", p.lstrip("/"), WHEN) for i, p in enumerate(paths)])
    site.add("/feed.xml", feed, content_type="application/rss+xml")
    return paths


#: What `veille run`'s ingest worker says as it starts waiting for a lost database
#: (flows/queue_drain.py, ``_recover``), read on the run's output as it comes.
WAITING = "waiting up to"


def _run(
    pg: OwnPostgres,
    sources: Path,
    tmp_path: Path,
    name: str,
    on_line: Callable[[str], None] | None = None,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """`veille run` in its own process; ``on_line`` is called with each line it writes (stdout
    or stderr) as it writes it."""
    environment = _env(pg.url, tmp_path / f"prefect-{name}", "veille-test/db-faults")
    environment.update(VEILLE_TIMEOUT="10", VEILLE_CONCURRENCY="2", VEILLE_BATCH_SIZE="25", **env)
    argv = [*_command(), "run", "--sources", str(sources)]
    process = subprocess.Popen(
        argv, env=environment, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    texts: dict[str, list[str]] = {"out": [], "err": []}

    def read(stream: Any, text: list[str]) -> None:
        for line in stream:
            text.append(line)
            if on_line is not None:
                on_line(line)

    readers = [
        threading.Thread(target=read, args=(process.stdout, texts["out"]), daemon=True),
        threading.Thread(target=read, args=(process.stderr, texts["err"]), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        code = process.wait(timeout=300)
    finally:
        if process.poll() is None:  # a run that hangs fails the test, and is not left behind
            process.kill()
            process.wait()
        for reader in readers:
            reader.join()
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]
    return subprocess.CompletedProcess(argv, code, "".join(texts["out"]), "".join(texts["err"]))


def _stored(output: str) -> int:
    import re

    match = re.search(r"(\d+) stored", output)
    assert match, output
    return int(match.group(1))


def _queue(pg: OwnPostgres) -> tuple[int, dict[str, int]]:
    engine = sa.create_engine(pg.url)
    try:
        with engine.connect() as conn:
            articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
            states: dict[str, int] = dict(
                conn.execute(sa.text("SELECT state, count(*) FROM url_queue GROUP BY state")).all()
            )
    finally:
        engine.dispose()
    return int(articles or 0), {str(k): int(v) for k, v in states.items()}


def test_database_lost_mid_run_then_rerun_finishes_the_job(
    own_postgres: OwnPostgres, site: LocalSite, tmp_path: Path
) -> None:
    """The database stays away longer than a worker waits (VEILLE_DB_WAIT): the run gives up,
    counts what it stored, exits 1 saying it is incomplete; an immediate re-run finishes.

    The database is back only once the first run has ended (before: a 6 s timer, which a
    loaded machine could outrun, the workers then finding it back)."""
    stopped: list[bool] = []

    def on_page(n: int) -> None:
        if n == 6 and not stopped:
            own_postgres.stop()
            stopped.append(True)

    paths = _pages(site, on_page)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Fil", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    first = _run(own_postgres, sources, tmp_path, "1", VEILLE_DB_WAIT="1")
    own_postgres.start()
    assert stopped, first.stdout + first.stderr
    assert first.returncode == 1, first.stdout + first.stderr
    assert "Incomplete" in first.stderr and "database lost" in first.stderr, first.stderr
    assert "Traceback" not in first.stdout + first.stderr
    articles, states = _queue(own_postgres)
    assert _stored(first.stdout) == articles  # the summary counts what really happened
    assert 0 < articles < PAGES and states.get("pending", 0) == PAGES - articles

    second = _run(own_postgres, sources, tmp_path, "2")
    assert second.returncode == 0, second.stdout + second.stderr
    assert _stored(second.stdout) == PAGES - articles
    articles, states = _queue(own_postgres)
    assert articles == PAGES and states == {"fetched": PAGES}
    engine = sa.create_engine(own_postgres.url)
    with engine.connect() as conn:
        urls = conn.scalars(sa.text("SELECT url FROM articles")).all()
        leased = conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE claimed_at IS NOT NULL"))
    engine.dispose()
    assert sorted(u.removeprefix(site.base) for u in urls) == sorted(paths)  # each once
    assert leased == 0


def test_database_back_within_the_wait_the_run_finishes_and_says_so(
    own_postgres: OwnPostgres, site: LocalSite, tmp_path: Path
) -> None:
    """A restart: the workers wait, hand back what they had claimed, and drain the queue in
    the same run; the run still reports the interruption (exit 1).

    The database comes back once a worker says it waits for it (no timer, which a loaded
    machine could outrun before the run met the loss): a run that does not wait never sees it
    back, and fails the test."""
    stopped, restarted, lock = threading.Event(), threading.Event(), threading.Lock()

    def on_page(n: int) -> None:
        with lock:  # a worker that says it waits before the stop returned is seen once it did
            if n == 6 and not stopped.is_set():
                own_postgres.stop()
                stopped.set()

    def on_line(line: str) -> None:
        with lock:
            if stopped.is_set() and WAITING in line and not restarted.is_set():
                restarted.set()
                own_postgres.start()

    _pages(site, on_page)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Fil", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    run = _run(own_postgres, sources, tmp_path, "1", on_line, VEILLE_DB_WAIT="60")
    assert restarted.is_set(), run.stdout + run.stderr  # the run waited for its database
    assert run.returncode == 1, run.stdout + run.stderr
    assert "recovered" in run.stderr, run.stderr
    articles, states = _queue(own_postgres)
    assert articles == PAGES and states == {"fetched": PAGES}
    # pages in flight when the server stopped were handed back and fetched again: none lost,
    # and each stored once
    assert _stored(run.stdout) == PAGES


def test_a_run_that_loses_the_database_names_its_sources_in_its_summary(
    own_postgres: OwnPostgres, site: LocalSite, tmp_path: Path
) -> None:
    """The database goes away during the ingest and stays away: the summary's row still names
    the source. Before, it showed the source's id ("1") where its name goes: the names were
    read after the ingest, from the database just lost."""
    import re

    stopped: list[bool] = []

    def on_page(n: int) -> None:
        if n == 6 and not stopped:
            own_postgres.stop()
            stopped.append(True)

    _pages(site, on_page)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Fil", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    first = _run(own_postgres, sources, tmp_path, "1", VEILLE_DB_WAIT="1")
    assert first.returncode == 1 and "database lost" in first.stderr, first.stdout + first.stderr
    assert re.search(r"^Fil +ok ", first.stdout, re.MULTILINE), first.stdout
