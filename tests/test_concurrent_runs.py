"""Two `veille run` processes over the same sources at the same time, on one database.

The local site makes the overlap certain rather than likely: the first feed answers only when
both processes have asked for it, and pages answer only once both processes are fetching
pages (each process sends its own User-Agent). The sources list the same articles under
several URLs and feeds, plus near-duplicate copies, so both processes race on exact
duplicates, sightings and cluster links.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.site import LocalSite, Request, rss_feed, seed_pages, write_sources
from tests.test_dedup_pipeline import WHEN, simple_page

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

ROOT = Path(__file__).resolve().parents[1]
WAIT = 180.0


def _command() -> list[str]:
    script = Path(sys.executable).with_name("veille")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]


def _env(database_url: str, prefect_home: Path, agent: str) -> dict[str, str]:
    """The environment of one run: its own PREFECT_HOME and User-Agent; the Prefect API is
    the test session's server (an ephemeral server per process takes a minute to start)."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VEILLE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        VEILLE_DATABASE_URL=database_url,
        VEILLE_ALLOW_PRIVATE_NETWORK="1",
        VEILLE_USER_AGENT=agent,
        VEILLE_PER_HOST_DELAY="0",
        VEILLE_PER_HOST_CONCURRENCY="16",
        VEILLE_TIMEOUT=str(WAIT + 30),
        VEILLE_BATCH_SIZE="1",
        VEILLE_CONCURRENCY="6",
        PREFECT_HOME=str(prefect_home),
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300",
    )
    if PREFECT_API_URL.value():
        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    return env


class Gate:
    """Opens once requests from every expected User-Agent have arrived."""

    def __init__(self, agents: set[str]) -> None:
        self.agents = agents
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.open = threading.Event()

    def wait(self, request: Request) -> bool:
        with self.lock:
            self.seen.add(request.headers.get("user-agent", ""))
            if self.agents <= self.seen:
                self.open.set()
        return self.open.wait(WAIT)


def test_two_runs_at_once_keep_every_row_once(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path
) -> None:
    agents = {"veille-test/1", "veille-test/2"}
    feed_gate, page_gate = Gate(agents), Gate(agents)
    pages = {p.spec.site: p for p in seed_pages()}

    def serve(body: str, gate: Gate, content_type: str) -> object:
        def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
            if not gate.wait(request):
                return 503, {"Content-Type": "text/plain"}, b"gate timeout"
            time.sleep(0.1)
            return 200, {"Content-Type": content_type}, body.encode("utf-8")

        return handler

    html_type = "text/html; charset=utf-8"
    urls: dict[str, str] = {}  # path -> the text it carries ("seed:<site>" or "copy:<n>")
    for name, page in pages.items():
        for prefix in ("/a/", "/b/"):
            path = prefix + page.spec.slug
            site.add(path, b"", handler=serve(page.html, page_gate, html_type))
            urls[path] = f"seed:{name}"
    copies = {
        "/c/melenchon-1.html": ("Mélenchon s'en prend à Macron", pages["franceinfo"], 0),
        "/c/melenchon-2.html": ("IA : Mélenchon vise les milliardaires", pages["franceinfo"], 1),
        "/c/liberation-1.html": ("Macron veut accélérer sur l'IA", pages["Libération"], 0),
        "/c/liberation-2.html": ("Un collectif appelle à résister", pages["Libération"], 1),
    }
    for path, (title, page, cut) in copies.items():
        lines = page.body_lines
        body = [f"Par Le Quotidien {cut} avec AFP", *(lines[:-1] if cut else lines[1:])]
        site.add(path, b"", handler=serve(simple_page(title, body), page_gate, html_type))
        urls[path] = f"copy:{page.spec.site}"

    def feed(prefix: str) -> str:
        items = [(p, p.lstrip("/")) for p in urls if p.startswith(prefix)]
        return rss_feed(site.base, [(f"Titre {path}", path, WHEN) for _, path in items])

    rss = "application/rss+xml"
    site.add("/a.xml", b"", handler=serve(feed("/a/"), feed_gate, rss))
    site.add("/b.xml", feed("/b/"), content_type=rss)
    site.add("/c.xml", feed("/c/"), content_type=rss)
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {"name": name, "kind": "feed", "url": f"{site.base}/{name.lower()}.xml", "owner": "media"}
            for name in ("A", "B", "C")
        ],
    )

    procs = []
    for i, agent in enumerate(sorted(agents)):
        log = (tmp_path / f"run{i}.log").open("w")
        procs.append(
            (
                subprocess.Popen(
                    [*_command(), "run", "--sources", str(sources), "--all"],
                    env=_env(database_url, tmp_path / f"prefect{i}", agent),
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                log,
            )
        )
    try:
        for proc, log in procs:
            proc.wait(timeout=WAIT * 3)
            log.close()
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
    logs = [(tmp_path / f"run{i}.log").read_text() for i in range(2)]
    assert [p.returncode for p, _ in procs] == [0, 0], logs
    assert feed_gate.open.is_set() and page_gate.open.is_set(), logs

    with clean_db.connect() as conn:
        articles = conn.execute(sa.text("SELECT id, url, duplicate_of, cluster_id FROM articles")).all()
        queue = conn.execute(sa.text("SELECT id, url, state, attempts, article_id FROM url_queue")).all()
        page_logs = conn.execute(
            sa.text("SELECT queue_id, run_id FROM fetch_log WHERE kind = 'page' ORDER BY queue_id")
        ).all()
        sightings = conn.execute(
            sa.text(
                "SELECT s.name, si.url, si.article_id FROM sightings si JOIN sources s ON s.id = si.source_id"
            )
        ).all()

    # Every queue row settled exactly once: fetched, one attempt, one page fetch logged.
    assert sorted(u.removeprefix(site.base) for _, u, *_ in queue) == sorted(urls)
    assert {(state, attempts) for _, _, state, attempts, _ in queue} == {("fetched", 1)}
    assert sorted(q for q, _ in page_logs) == sorted(q for q, *_ in queue)
    # Both processes ingested pages (the page gate made them overlap).
    assert len({run for _, run in page_logs}) == 2

    # No duplicate rows: 5 seed texts (each under two URLs) and 4 near-duplicate copies.
    assert len(articles) == 9
    article_of = {u.removeprefix(site.base): a for _, u, _, _, a in queue}
    for name in pages:
        assert article_of[f"/a/{pages[name].spec.slug}"] == article_of[f"/b/{pages[name].spec.slug}"]
    # No lost sighting: every source and URL that carried an article, once each.
    expected = {(path[1].upper(), path, article_of[path]) for path in urls}
    got = [(name, url.removeprefix(site.base), article) for name, url, article in sightings]
    assert sorted(got) == sorted(expected)

    # One cluster per copied dispatch, rooted at its earliest archived copy.
    by_id = {a.id: a for a in articles}
    for name in ("franceinfo", "Libération"):
        members = {article_of[p] for p, carried in urls.items() if carried.endswith(name)}
        assert len(members) == 3
        root = min(members)
        assert by_id[root].cluster_id == root and by_id[root].duplicate_of is None
        for member in members - {root}:
            assert (by_id[member].duplicate_of, by_id[member].cluster_id) == (root, root)
    others = {a.id for a in articles} - {
        article_of[p] for p, c in urls.items() if c.endswith(("franceinfo", "Libération"))
    }
    assert all(by_id[i].cluster_id is None for i in others)
