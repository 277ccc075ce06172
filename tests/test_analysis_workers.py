"""Page analysis in worker processes: the same result as in a thread, a deadline that kills a
hung worker (the page fails with its reason, the run goes on, nothing is left behind), and a
worker killed mid-call that loses nothing.

A test-only hook makes the analysis hang: a worker whose page URL contains the value of
``VEILLE_TEST_HANG_ANALYSIS`` sleeps for ever, ignoring SIGTERM (as lxml stuck in libxml2's
XPath does).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa

from monitors import workers
from monitors.collect.results import FetchResult
from monitors.ingest import HANG_ENV, _analyse_in_worker, _shared_topics, analyse_page
from monitors.judge.relevance import score_relevance
from monitors.judge.topic import URL_ZONE, load_topic
from monitors.judge.topic_set import load_topics
from monitors.judge.url_words import url_words
from monitors.records import QueueItem
from tests import worker_calls
from tests.site import LocalSite, seed_pages, seed_site, write_sources
from tests.test_concurrent_runs import ROOT, _command
from tests.test_concurrent_runs import _env as run_env
from tests.test_processes import MARK, _left, _wait_gone


def _fetched(url: str, html: str) -> FetchResult:
    return FetchResult(
        url=url,
        final_url=url,
        outcome="ok",
        status=200,
        content=html.encode(),
        headers={"content-type": "text/html"},
    )


def _item(n: int, url: str) -> QueueItem:
    return QueueItem(id=n, source_id=1, url=url, canonical_url=url, feed_title="Titre du fil")


def test_pages_analysed_in_workers_come_out_the_same() -> None:
    topic, topics = load_topic(), load_topics()
    for n, page in enumerate(seed_pages()):
        url = f"https://example.fr/{page.spec.slug}"
        in_thread = analyse_page(_item(n, url), _fetched(url, page.html), topic, topics=topics)
        pooled = analyse_page(
            _item(n, url), _fetched(url, page.html), topic, topics=topics, workers=2, deadline=60
        )
        assert in_thread.article is not None and len(in_thread.article.topic_scores) == len(topics)
        assert pooled == in_thread


def test_a_hung_analysis_is_killed_at_the_deadline_and_the_next_page_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workers.shutdown_workers()  # the hook is read by workers started from now on
    monkeypatch.setenv(HANG_ENV, "/hang/")
    topic = load_topic()
    page = seed_pages()[0]
    try:
        pool = workers.get_pool(1)
        pool.start()
        [pid] = pool.pids()
        hung = "https://example.fr/hang/page.html"
        started = time.monotonic()
        out = analyse_page(_item(1, hung), _fetched(hung, page.html), topic, workers=1, deadline=3)
        assert time.monotonic() - started < 60
        assert out.article is None and out.outcome == "error" and out.error_class == "permanent"
        assert out.reason is not None and out.reason.startswith("analysis timed out: no result after 3 s")
        assert not psutil.pid_exists(pid)  # killed (it ignored SIGTERM) and reaped
        fine = "https://example.fr/ok/page.html"
        assert analyse_page(_item(2, fine), _fetched(fine, page.html), topic, workers=1, deadline=60).article
        assert pool.pids() != [pid]
    finally:
        workers.shutdown_workers()


def sleep_once(marker: str) -> str:
    """In a worker: the first call writes its pid to ``marker`` and sleeps; later ones answer.

    The pid is written to a side file then renamed, so the test never reads the marker empty
    (``write_text`` creates the file before it writes: the test read ``''`` once under load).
    """
    path = Path(marker)
    if not path.exists():
        side = path.with_suffix(".tmp")
        side.write_text(str(os.getpid()))
        side.replace(path)
        time.sleep(120)
    return "done"


def test_a_worker_killed_mid_call_is_replaced_and_the_call_answered(tmp_path: Path) -> None:
    pool = workers.WorkerPool(1, preload=())
    marker = tmp_path / "pid"
    try:
        answer: list[str] = []
        caller = threading.Thread(target=lambda: answer.append(pool.call(sleep_once, (str(marker),), 60)))
        caller.start()
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(marker.read_text())
        os.kill(pid, signal.SIGKILL)
        caller.join(60)
        assert answer == ["done"]
        assert pool.pids() and pid not in pool.pids()
        for p in pool.pids():  # every idle worker killed: the next call still gets an answer
            os.kill(p, signal.SIGKILL)
        time.sleep(0.2)
        assert pool.call(sleep_once, (str(marker),), 60) == "done"
    finally:
        pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.call(sleep_once, (str(marker),), 60)


def test_a_call_that_kills_its_worker_twice_fails_with_its_reason() -> None:
    pool = workers.WorkerPool(1, preload=())
    try:
        with pytest.raises(workers.WorkerDied, match=r"died twice during the call \(killed by SIGKILL\)"):
            pool.call(_kill_self, (), 60)
        assert pool.call(str.upper, ("still serving",), 60) == "STILL SERVING"
    finally:
        pool.shutdown()


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _call_within(pool: workers.WorkerPool, fn: object, seconds: float = 60) -> list[object]:
    """``pool.call(fn, ())`` in a thread: its value or exception, or [] if it never answered."""
    got: list[object] = []

    def run() -> None:
        try:
            got.append(pool.call(fn, (), 30))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - handed to the test
            got.append(exc)

    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(seconds)
    return got


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (
            worker_calls.unpicklable_result,
            "the call's result could not be sent back: TypeError: cannot pickle '_thread.lock' object",
        ),
        (
            worker_calls.unreadable_result,
            "the call's answer could not be read: TypeError: Unreadable.__init__() missing 1 required"
            " positional argument: 'value'",
        ),
        (
            worker_calls.unreadable_error,
            "the call's answer could not be read: TypeError: UnreadableError.__init__() missing 1"
            " required positional argument: 'detail'",
        ),
    ],
    ids=["unpicklable", "unreadable", "unreadable-error"],
)
def test_an_answer_that_cannot_come_back_fails_that_call_and_the_worker_serves_on(
    fn: object, reason: str
) -> None:
    """Before, a result that would not pickle came back as a bare RuntimeError, and one whose
    pickle would not load raised in the caller with the worker left out of the pool: the next
    call of a one-worker pool waited for ever."""
    pool = workers.WorkerPool(1, preload=())
    try:
        for _ in range(2):
            [error] = _call_within(pool, fn)
            assert isinstance(error, workers.WorkerResultError) and str(error) == reason
        assert pool.call(str.upper, ("still serving",), 60) == "STILL SERVING"
        assert len(pool.pids()) == 1
    finally:
        pool.shutdown()


def test_a_page_whose_analysis_cannot_come_back_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """analyse_page records the page as failed with its reason; the next page is analysed."""
    import monitors.ingest

    topic = load_topic()
    page = seed_pages()[0]
    url = "https://example.fr/une/page.html"
    workers.shutdown_workers()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(monitors.ingest, "_analyse_in_worker", worker_calls.unpicklable_result)
            out = analyse_page(_item(1, url), _fetched(url, page.html), topic, workers=1, deadline=60)
        assert out.article is None and out.outcome == "error" and out.error_class == "permanent"
        assert out.reason == (
            "analysis result lost: the call's result could not be sent back: TypeError: cannot pickle"
            " '_thread.lock' object"
        )
        assert analyse_page(_item(2, url), _fetched(url, page.html), topic, workers=1, deadline=60).article
    finally:
        workers.shutdown_workers()


@pytest.mark.slow
def test_veille_run_with_a_hung_page_fails_that_page_and_goes_on(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path, prefect_harness: None
) -> None:
    pages = seed_site(site)
    hung = pages[2].spec.slug
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    mark = uuid.uuid4().hex
    env = run_env(database_url, tmp_path / "prefect", "veille-test/hang")
    env.update({MARK: mark, HANG_ENV: hung, "VEILLE_ANALYSIS_DEADLINE": "4", "VEILLE_PARSE_WORKERS": "2"})
    env.update(VEILLE_BATCH_SIZE="25", VEILLE_DATA_DIR=str(tmp_path / "data"))

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_command(), "run", "--sources", str(sources)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = run()
    assert done.returncode == 1, done.stdout + done.stderr  # partial: a page failed
    assert "4 stored" in done.stdout and "1 page failed" in done.stdout, done.stdout
    assert _wait_gone(mark, 5) == []  # the hung worker too
    with clean_db.connect() as conn:
        state, reason = conn.execute(
            sa.text("SELECT state, reason FROM url_queue WHERE url LIKE :u"), {"u": f"%{hung}"}
        ).one()
        logged = conn.scalar(
            sa.text("SELECT reason FROM fetch_log WHERE kind = 'page' AND url LIKE :u"), {"u": f"%{hung}"}
        )
        articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
    assert state == "failed"
    assert reason.startswith("analysis timed out: no result after 4 s") and reason == logged
    assert articles == 4

    again = run()  # idempotent: nothing new, nothing twice
    assert again.returncode in (0, 1), again.stdout + again.stderr
    assert _left(mark) == []
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 4
        assert conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE state = 'failed'")) == 1


def test_analysis_deadline_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitors.settings import get_settings

    monkeypatch.delenv("VEILLE_ANALYSIS_DEADLINE", raising=False)
    assert get_settings().analysis_deadline == 60.0
    monkeypatch.setenv("VEILLE_ANALYSIS_DEADLINE", "2.5")
    assert get_settings().analysis_deadline == 2.5


def test_workers_load_only_feed_parsing_until_their_first_page() -> None:
    """A poll's feeds do not wait for the page analysis to load (issue 19: bench/poll.py paid
    the workers' warm-up on the path that starts them); the first page loads it."""
    pool = workers.WorkerPool(1)
    try:
        assert pool.call(worker_calls.heavy_modules_loaded, (), 60) == []
        page = seed_pages()[0]
        url = "https://example.fr/warm.html"
        pooled = pool.call(
            _analyse_in_worker,
            (
                _shared_topics(load_topic(), ()),
                _item(1, url),
                page.html.encode(),
                url,
                "text/html",
                "text/html",
                None,
            ),
            60,
            warm="monitors.ingest:warm",
        )
        assert pooled.text
        # what a page needs, and not the database layer nor scipy (seconds of CPU when loaded)
        assert pool.call(worker_calls.heavy_modules_loaded, (), 60) == ["monitors.ingest", "trafilatura"]
    finally:
        pool.shutdown()


def test_a_calls_warm_up_is_loaded_once_per_worker_and_not_timed_by_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = tmp_path / "warms"
    monkeypatch.setenv("VEILLE_TEST_WARM_COUNT", str(count))
    pool = workers.WorkerPool(1, preload=())
    warm = "tests.worker_calls:slow_warm"
    try:
        for _ in range(3):  # a 2 s warm-up, a 1 s deadline: the calls still answer
            assert pool.call(worker_calls.heavy_modules_loaded, (), 1, warm=warm) == []
        [pid] = pool.pids()
        assert count.read_text().split() == [str(pid)]
        os.kill(pid, signal.SIGKILL)  # its replacement warms up again
        time.sleep(0.2)
        assert pool.call(worker_calls.heavy_modules_loaded, (), 1, warm=warm) == []
        assert len(count.read_text().split()) == 2
    finally:
        pool.shutdown()


def test_a_shared_value_goes_whole_once_per_worker_then_by_its_key() -> None:
    """The topics (about 125 kB pickled) are not sent with every page (issue 19)."""
    pool = workers.WorkerPool(1, preload=())
    shared = workers.Shared.of(list(range(50_000)))
    try:
        assert pool.call(worker_calls.shared_value, (shared,), 60) == (50_000, True)
        assert pool.call(worker_calls.shared_value, (shared,), 60) == (50_000, False)
        pool.call(worker_calls.forget_shared, (), 60)  # the worker let it go: sent whole again
        assert pool.call(worker_calls.shared_value, (shared,), 60) == (50_000, True)
        assert pool.call(worker_calls.shared_value, (shared,), 60) == (50_000, False)
        [pid] = pool.pids()
        os.kill(pid, signal.SIGKILL)  # a new worker gets it whole
        time.sleep(0.2)
        assert pool.call(worker_calls.shared_value, (shared,), 60) == (50_000, True)
    finally:
        pool.shutdown()


def test_the_resource_tracker_ends_with_the_workers_at_exit() -> None:
    """multiprocessing's resource tracker ignores SIGTERM: left running at exit, the command's
    watcher (flows/reaper.py) waited 3 s of grace for it before SIGKILL (issue 19)."""
    code = (
        "import os, psutil\n"
        "from multiprocessing import resource_tracker\n"
        "from monitors import workers\n"
        "pool = workers.get_pool(1)\n"
        "assert pool.call(str.upper, ('x',), 60) == 'X'\n"
        "pid = resource_tracker._resource_tracker._pid\n"
        "assert pid is not None and psutil.pid_exists(pid)\n"
        "workers._at_exit()\n"
        "print(pid, psutil.pid_exists(pid), workers._pool is None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, check=True
    )
    pid, alive, gone = done.stdout.split()
    assert (alive, gone) == ("False", "True"), done.stdout


def test_the_page_url_reaches_scoring_as_rescoring_passes_it() -> None:
    """The pipeline scores with the article's canonical URL, the one stored and read back by
    ``veille rescore`` and the topic rescore: the same score either way. A page without a title
    (nor a feed title) is read with its URL's words when the topic gives the URL zone a weight."""
    shipped = load_topic()
    topic = dataclasses.replace(shipped, zone_weights={**shipped.zone_weights, URL_ZONE: 1.0})
    topics = [topic, *(t for t in load_topics() if t.name != topic.name)]
    paragraph = (
        "<p>Les représentants syndicaux ont regretté d'avoir été reçus une heure à peine, entre deux"
        " tables rondes, et promettent de revenir à la charge dans les entreprises.</p>"
    )
    html = f"<html><head><meta charset=utf-8></head><body><article>{paragraph * 2}</article></body></html>"
    url = "https://www.exemple.fr/2025/02/11/au-sommet-de-lia-a-paris-les-syndicats-reclament"
    item = QueueItem(id=1, source_id=1, url=url, canonical_url=url)
    for scoring in (topic, shipped):
        article = analyse_page(item, _fetched(url, html), scoring, topics=topics).article
        assert article is not None and article.title is None
        evidence = article.relevance_evidence
        assert evidence["url"] == (url_words(article.canonical_url, topic) if scoring is topic else None)
        assert article.relevant == (scoring is topic)  # found by its URL only, with the zone on
        day = article.published_at.date() if article.published_at else None
        again = score_relevance(
            scoring,
            article.text,
            title=article.title,
            description=article.description,
            published_at=day,
            url=article.canonical_url,
        )
        assert again.score == article.relevance and again.evidence == evidence
        if scoring is topic:  # every topic of the folder is scored with the URL too
            for row in article.topic_scores:
                assert (json.loads(row["evidence"])["url"] is not None) == (row["topic"] == topic.name)
