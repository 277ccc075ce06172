"""Scale-out: two worker processes drain one URL queue; every URL is fetched exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.runs import poll_flow
from tests.site import Handler, LocalSite, Request, rss_feed, write_sources

pytestmark = pytest.mark.usefixtures("prefect_harness")
ROOT = Path(__file__).resolve().parent.parent
PAGES = 40

# Each worker process: import everything, say it is ready, wait for the other, drain the queue.
WORKER = """
import json, sys, time
from pathlib import Path
from flows.runs import ingest_flow
barrier = Path(sys.argv[1])
(barrier / sys.argv[2]).touch()
deadline = time.monotonic() + 120
while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
    time.sleep(0.01)
report = ingest_flow()
print("RESULT " + json.dumps([status for _source, status, _relevant in report.statuses]))
"""


def _page(i: int) -> str:
    paragraphs = "".join(
        f"<p>Dépêche numéro {i}, paragraphe {j} : le conseil municipal de la commune {i} a voté "
        f"le budget de l'année, avec {i * 7 + j} voix pour, après un long débat sur les écoles, "
        f"les routes et la piscine intercommunale dont les travaux reprendront au printemps.</p>"
        for j in range(4)
    )
    return (
        f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Conseil {i}</title></head>"
        f"<body><main><article><h1>Conseil municipal {i}</h1>{paragraphs}</article></main></body></html>"
    )


class _BothWorkers:
    """Page handlers that hold every request until both workers have asked for a page (each
    sends its own User-Agent), so both take part however long one takes to start."""

    def __init__(self) -> None:
        self.agents: set[str] = set()
        self.cond = threading.Condition()

    def page(self, body: bytes) -> Handler:
        def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
            with self.cond:
                self.agents.add(request.headers.get("user-agent", ""))
                self.cond.notify_all()
                self.cond.wait_for(lambda: len(self.agents) >= 2, timeout=60)
            time.sleep(0.05)
            return 200, {"Content-Type": "text/html; charset=utf-8"}, body

        return handler


def test_two_workers_fetch_every_url_exactly_once(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, database_url: str
) -> None:
    from prefect.settings import PREFECT_API_URL

    items = []
    both = _BothWorkers()
    for i in range(PAGES):
        site.add(f"/conseil/{i}.html", b"", handler=both.page(_page(i).encode()))
        items.append((f"Conseil {i}", f"conseil/{i}.html", datetime(2025, 2, 1, tzinfo=UTC)))
    site.add("/conseils.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Conseils", "kind": "feed", "url": f"{site.base}/conseils.xml", "owner": "media"}],
    )
    poll_flow(str(sources))
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE state = 'pending'")) == PAGES

    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "VEILLE_DATABASE_URL": database_url,
        "VEILLE_BATCH_SIZE": "2",  # small batches: the workers keep coming back to the queue
        "VEILLE_CONCURRENCY": "4",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(barrier), name],
            env={**env, "VEILLE_CONTACT_URL": f"https://example.org/worker-{name}"},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    done: list[list[str]] = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1]
        done.append(json.loads(line.removeprefix("RESULT ")))

    # Both took part, and together they handled each URL once.
    assert len(both.agents) == 2
    assert all(len(statuses) > 0 for statuses in done), [len(s) for s in done]
    assert sum(len(s) for s in done) == PAGES
    assert all(status == "stored" for statuses in done for status in statuses)
    with clean_db.connect() as conn:
        states: dict[str, int] = dict(
            conn.execute(sa.text("SELECT state, count(*) FROM url_queue GROUP BY state")).all()
        )
        per_url = conn.execute(
            sa.text(
                "SELECT q.id, count(f.id) FROM url_queue q"
                " LEFT JOIN fetch_log f ON f.queue_id = q.id AND f.kind = 'page' GROUP BY q.id"
            )
        ).all()
        run_ids = conn.scalar(sa.text("SELECT count(DISTINCT run_id) FROM fetch_log WHERE kind = 'page'"))
        articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
    assert states == {"fetched": PAGES}
    assert len(per_url) == PAGES and all(n == 1 for _id, n in per_url)
    assert run_ids == 2  # two flow runs, one per worker process
    assert articles == PAGES
    hits = [len(site.hits(f"/conseil/{i}.html")) for i in range(PAGES)]
    assert hits == [1] * PAGES
