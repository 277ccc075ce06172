"""`veille backfill` whose database goes away while it plans (sitemap indexes and children read
and queued; an archive's CDX pages and job rows) and comes back, or stays gone: one line, cause
first, saying during what; the exit code `veille run` gives for the same loss; the same command
again finishes the work; no traceback, no thread left behind.

The database is taken away as tests/test_progress_database_lost.py does: the test's own
database refuses connections and its sessions are ended (never the shared server)."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.cli import main
from tests.fake_archives import FakeArchives, seed_snapshots, seed_sources
from tests.site import LocalSite, Request, write_sources
from tests.test_archive_backfill import WINDOW, archives  # noqa: F401 - the fake archives fixture
from tests.test_backfill import sitemap_feed_and_listing

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


class Outage:
    """The test's database made to refuse connections, its sessions ended; back on ``back``.

    No timer: a database that comes back (``take(back=True)``) is back only once the command
    asks whether it answers again (its wait for it, :func:`monitors.archive.queue.wait_for_database`),
    so the command has surely met the loss, however loaded the machine; one that does not wait
    never sees it back and fails the test."""

    def __init__(self, engine: sa.Engine) -> None:
        self.name = engine.url.database
        self.admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self.taken = threading.Event()
        self.comes_back = False
        self.waited = threading.Event()
        #: how many waits bring it back (the first by default; more: steps that all met it)
        self.waiters = 1
        self._waits = 0
        self._count = threading.Lock()

    def take(self, back: bool) -> None:
        """Take the database away once (the first call); back once the command waits for it
        if ``back``."""
        if self.taken.is_set():
            return
        self.taken.set()
        self.comes_back = back
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": self.name},
            )

    def waiting(self, real: Callable[..., bool]) -> Callable[..., bool]:
        """``real`` (the command's wait for its database), the database brought back first
        when it was taken to come back: the command waits only once it met the loss."""

        def wait(*args: Any, **kwargs: Any) -> bool:
            if self.taken.is_set() and self.comes_back and not self.waited.is_set():
                with self._count:
                    self._waits += 1
                    last = self._waits >= self.waiters
                if last:
                    self.waited.set()
                    self.back()
            return real(*args, **kwargs)

        return wait

    def back(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS true'))

    def close(self) -> None:
        self.back()
        self.admin.dispose()


@pytest.fixture
def outage(clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Outage]:
    import flows.queue_drain
    from monitors.archive import queue

    gone = Outage(clean_db)
    # the two ways the command waits for its database: a step's (flows.retries, looked up at
    # each wait) and the ingest workers' (flows.queue_drain, imported by name)
    monkeypatch.setattr(queue, "wait_for_database", gone.waiting(queue.wait_for_database))
    monkeypatch.setattr(
        flows.queue_drain, "wait_for_database", gone.waiting(flows.queue_drain.wait_for_database)
    )
    try:
        yield gone
    finally:
        gone.close()


@pytest.fixture(params=["off", "auto"])
def prefect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each case run directly, then as flows (the tests' Prefect server)."""
    monkeypatch.setenv("VEILLE_PREFECT", request.param)
    return str(request.param)


@pytest.fixture
def fakes(archives: FakeArchives) -> FakeArchives:  # noqa: F811 - the fake archives fixture
    return archives


def _taking(outage: Outage, back: bool, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    def serve(request: Request) -> Any:
        outage.take(back)
        return handler(request)

    return serve


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["backfill", *args])
    return code, out.getvalue(), err.getvalue()


#: The threads a backfill starts (its steps, job workers, progress bars): none outlives it.
OWN_THREADS = ("step", "backfill-", "archive-progress")


def _left_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.is_alive() and t.name.startswith(OWN_THREADS)]


def _articles(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT count(*) FROM articles")) or 0)


def _sitemap_backfill(site: LocalSite, outage: Outage, tmp_path: Path, back: bool) -> list[str]:
    """The sitemap backfill's arguments; the database goes as the index's child is read."""
    _, sources = sitemap_feed_and_listing(site, tmp_path)
    body = site.routes["/sitemap-2025-02.xml"].body
    xml = {"Content-Type": "application/xml"}
    site.add("/sitemap-2025-02.xml", b"", handler=_taking(outage, back, lambda r: (200, xml, body)))
    return [*WINDOW, "--sources", str(sources)]


def _archive_backfill(fakes: FakeArchives, outage: Outage, tmp_path: Path, back: bool) -> list[str]:
    """The Wayback backfill's arguments; the database goes as the jobs read the CDX."""
    fakes.snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    route = fakes.site.routes["/cdx/search/cdx"]
    assert route.handler is not None
    route.handler = _taking(outage, back, route.handler)
    return [*WINDOW, "--from", "wayback", "--sources", str(sources)]


def _commoncrawl_backfill(fakes: FakeArchives, outage: Outage, tmp_path: Path, back: bool) -> list[str]:
    """The Common Crawl backfill's arguments; the database goes as the plan reads the crawl
    list, before it makes the jobs."""
    fakes.snapshots = seed_snapshots()
    fakes.build_warc()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    route = fakes.site.routes["/collinfo.json"]
    assert route.handler is not None
    route.handler = _taking(outage, back, route.handler)
    return [*WINDOW, "--from", "commoncrawl", "--sources", str(sources)]


def _again_once_back(outage: Outage, argv: list[str], engine: sa.Engine, articles: int | None = None) -> None:
    """The database back, the same command again does what was left: exit 0, ``articles``."""
    outage.back()
    code, out, err = _run(argv)
    assert code == 0, out + err
    if articles is not None:
        assert _articles(engine) == articles


RECOVERED = "Partly done (interrupted 1 time, recovered (database lost: "


@pytest.mark.usefixtures("prefect")
def test_a_sitemap_backfill_whose_database_comes_back_goes_on_and_says_so(
    site: LocalSite, outage: Outage, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes while the sitemaps are read and is back once the backfill waits for it: the listings
    read are queued once it is back (not read again), the pages ingested, and the run is partly
    done as a `veille run` interrupted and recovered is (exit 1). Before, exit 0 and nothing
    said: an archive backfill and a sitemap one did not agree."""
    monkeypatch.setenv("VEILLE_DB_WAIT", "20")
    argv = _sitemap_backfill(site, outage, tmp_path, back=True)
    code, out, err = _run(argv)
    assert code == 1, out + err
    assert f"veille: {RECOVERED}" in err and "4 stored" in out, err
    assert "Traceback" not in err and not _left_threads()
    assert _articles(clean_db) == 4 and len(site.hits("/sitemap-2025-02.xml")) == 1
    code, out, err = _run(argv)  # again: nothing lost, nothing twice
    assert code == 0 and "0 new URLs, 0 stored" in out, out + err
    assert _articles(clean_db) == 4


@pytest.mark.usefixtures("prefect")
def test_a_sitemap_backfill_whose_database_stays_gone_says_so_in_one_line(
    site: LocalSite, outage: Outage, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the batch's retries, then the ingest's first query ended the command on
    psycopg's traceback ("not currently accepting connections")."""
    monkeypatch.setenv("VEILLE_DB_WAIT", "1")
    argv = _sitemap_backfill(site, outage, tmp_path, back=False)
    code, out, err = _run(argv)
    assert code == 2, out + err
    lines = [line for line in err.splitlines() if line.startswith("veille: ")]
    assert lines == [
        "veille: error: lost the database during the backfill's queueing of what the sources' sitemaps"
        f" and feeds list ({lines[0].split(' list (', 1)[1].split('): ')[0]}): what was committed stays;"
        " run `veille backfill` again"
    ], err
    assert "not currently accepting connections" in lines[0]
    assert "Traceback" not in err and not _left_threads()
    _again_once_back(outage, argv, clean_db, 4)


@pytest.mark.usefixtures("prefect")
def test_an_archive_backfill_whose_database_comes_back_goes_on_and_says_so(
    fakes: FakeArchives, outage: Outage, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jobs wait for the database and go on from their cursors: every capture stored once;
    partly done, exit 1, as the sitemap backfill and `veille run` (before: exit 0, the jobs'
    task retries alone saying it), interrupted once, not once per job that met the loss."""
    monkeypatch.setenv("VEILLE_DB_WAIT", "20")
    argv = _archive_backfill(fakes, outage, tmp_path, back=True)
    code, out, err = _run(argv)
    assert code == 1, out + err
    # one restart that 4 of the 5 jobs met was "interrupted 4 times": one loss per job
    assert f"veille: {RECOVERED}" in err, err
    assert "5 stored" in out and "Traceback" not in err and not _left_threads(), out + err
    assert _articles(clean_db) == 5
    code, out, err = _run(argv)
    assert code == 0 and _articles(clean_db) == 5, out + err


@pytest.mark.usefixtures("prefect")
def test_an_archive_backfill_whose_database_stays_gone_says_so_in_one_line(
    fakes: FakeArchives, outage: Outage, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: each job's task retried (2 s, 10 s), then "Nothing could run (5 jobs stopped on
    an archive error (job failed: OperationalError: ...))", exit 3, a table of "job N" rows."""
    monkeypatch.setenv("VEILLE_DB_WAIT", "1")
    argv = _archive_backfill(fakes, outage, tmp_path, back=False)
    code, out, err = _run(argv)
    assert code == 2, out + err
    lines = [line for line in err.splitlines() if line.startswith("veille: ")]
    assert len(lines) == 1 and lines[0].startswith(
        "veille: error: lost the database during the Internet Archive (Wayback Machine) backfill's jobs ("
    ), err
    assert lines[0].endswith("): what was committed stays; run the same command again to resume")
    assert "archive error" not in err and "Traceback" not in err and not _left_threads()
    _again_once_back(outage, argv, clean_db, 5)


def test_an_archive_backfill_that_loses_its_database_while_it_plans_says_so_in_one_line(
    fakes: FakeArchives, outage: Outage, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Common Crawl's crawl list read, the database gone before the plan logs it and makes
    the jobs: before, psycopg's traceback (a connection refused mid-command was not taken for
    a lost database)."""
    monkeypatch.setenv("VEILLE_PREFECT", "off")
    argv = _commoncrawl_backfill(fakes, outage, tmp_path, back=False)
    code, out, err = _run(argv)
    assert code == 2, out + err
    assert err.splitlines()[-1].startswith(
        "veille: error: lost the database during the planning of the archive backfill's jobs ("
    ), err
    assert err.splitlines()[-1].endswith("): what was committed stays; run `veille backfill` again")
    assert "Traceback" not in err and not _left_threads()
    _again_once_back(outage, argv, clean_db)


def test_each_step_waits_out_its_own_losses_however_many_lost_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten jobs that each lose the database once, back each time, all go on: the bound on
    recoveries is a step's (a step lost at every try stops), not the run's, which would stop
    the fourth job of a run after three others had recovered."""
    from flows.retries import MAX_RECOVERIES, DatabaseLosses
    from monitors.archive import queue
    from monitors.archive.db import DatabaseUnavailable

    monkeypatch.setattr(queue, "wait_for_database", lambda engine, seconds: True)
    losses = DatabaseLosses()

    def lost_once(n: int) -> Callable[[], int]:
        tries = [0]

        def step() -> int:
            tries[0] += 1
            if tries[0] == 1:
                raise DatabaseUnavailable("server closed the connection unexpectedly")
            return n

        return step

    assert [losses.run(lost_once(n)) for n in range(10)] == list(range(10))
    assert len(losses.recovered) == 10 and losses.gone is None

    def always_lost() -> int:
        raise DatabaseUnavailable("server closed the connection unexpectedly")

    assert losses.run(always_lost) is None
    assert len(losses.recovered) == 10 + MAX_RECOVERIES and losses.gone


def test_steps_that_lose_the_database_at_once_are_one_interruption(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three steps that lose the database while it is away wait for it together: one
    interruption, said "interrupted 1 time" (it was one per step: "3 times"); a step that
    loses it again once it was back is a second one."""
    from flows.outcome import interrupted
    from flows.retries import DatabaseLosses
    from monitors.archive import queue
    from monitors.archive.db import DatabaseUnavailable

    back, waiting, count = threading.Event(), [], threading.Lock()

    def wait_for_database(engine: Any, seconds: float) -> bool:
        with count:
            waiting.append(1)
        return back.wait(10)

    monkeypatch.setattr(queue, "wait_for_database", wait_for_database)
    losses = DatabaseLosses()

    def lost_once() -> Callable[[], str]:
        tries = [0]

        def step() -> str:
            tries[0] += 1
            if tries[0] == 1:
                raise DatabaseUnavailable("terminating connection due to administrator command")
            return "done"

        return step

    steps = [lost_once() for _ in range(3)]
    threads = [threading.Thread(target=losses.run, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for _ in range(1000):  # every step lost it and waits
        if len(waiting) == 3:
            break
        threading.Event().wait(0.01)
    assert len(waiting) == 3
    back.set()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert interrupted(losses.recovered, gave_up=False) == [
        "interrupted 1 time, recovered (database lost: DatabaseUnavailable: terminating connection due to"
        " administrator command)"
    ]
    assert losses.run(lost_once()) == "done"  # lost again, after it was back
    assert len(losses.recovered) == 2 and losses.gone is None


def _taken_before(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, outage: Outage, back: bool
) -> None:
    """``module.name`` (a step's first use of the database) made to take the database away
    first, once: the step meets a database gone in its own work, not a made-up error."""
    real = getattr(module, name)

    def taking(*args: Any, **kwargs: Any) -> Any:
        outage.take(back)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, taking)


#: Where a sitemap backfill meets the database gone before any batch or page is read: as
#: `veille backfill` reads its progress bar's start on the database's clock (before the run),
#: as it records the sources file, or as its ingest starts (before its workers claim anything).
STARTS = {
    "clock": ("monitors.archive.reads", "database_now", "at the start of the backfill ("),
    "start": ("flows.backfill", "sync_sources", "during the backfill's recording of the sources file ("),
    "ingest": ("flows.queue_drain", "requeue_private_refusals", "at the start of the ingest ("),
}


@pytest.mark.usefixtures("prefect")
@pytest.mark.parametrize("back", [True, False], ids=["back", "gone"])
@pytest.mark.parametrize("where", sorted(STARTS))
def test_a_sitemap_backfill_that_loses_its_database_as_a_phase_starts_waits_for_it(
    site: LocalSite,
    outage: Outage,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    back: bool,
) -> None:
    """The database goes as the command reads its progress bar's start, as the backfill records
    the sources file (before its first batch), or as its ingest starts. Back once it waits for
    it: the step waits for it, as a batch and `veille run`'s workers do, and the run goes on,
    partly done, exit 1. Gone for longer than VEILLE_DB_WAIT: one line saying during what, exit
    2, no traceback, and the same command once it is back does the work. Before, exit 2 at
    once, VEILLE_DB_WAIT not waited, the line naming `veille backfill` alone (through Prefect,
    after the flow's traceback; the bar's start: in both ways, until this commit)."""
    import importlib

    monkeypatch.setenv("VEILLE_DB_WAIT", "20" if back else "1")
    module, name, during = STARTS[where]
    _, sources = sitemap_feed_and_listing(site, tmp_path)
    _taken_before(monkeypatch, importlib.import_module(module), name, outage, back)
    argv = [*WINDOW, "--sources", str(sources)]
    code, out, err = _run(argv)
    assert "Traceback" not in err and not _left_threads(), err
    if back:
        assert code == 1, out + err
        assert f"veille: {RECOVERED}" in err and "4 stored" in out, out + err
        assert _articles(clean_db) == 4
        return
    assert code == 2, out + err
    lines = [line for line in err.splitlines() if line.startswith("veille: ")]
    assert len(lines) == 1 and lines[0].startswith(f"veille: error: lost the database {during}"), err
    assert "not currently accepting connections" in lines[0] or "terminating connection" in lines[0]
    _again_once_back(outage, argv, clean_db, 4)


@pytest.mark.usefixtures("prefect")
def test_an_archive_backfill_whose_database_comes_back_while_it_plans_goes_on_and_says_so(
    fakes: FakeArchives, outage: Outage, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Common Crawl's crawl list read, the database gone before the plan makes the jobs, back
    once it waits for it: the plan is made again once it is back, the jobs run, partly done, exit 1,
    as a job's own loss. Before, exit 2 at once ("lost the database during the planning ...")."""
    monkeypatch.setenv("VEILLE_DB_WAIT", "20")
    argv = _commoncrawl_backfill(fakes, outage, tmp_path, back=True)
    code, out, err = _run(argv)
    assert code == 1, out + err
    assert f"veille: {RECOVERED}" in err, err
    assert "Traceback" not in err and not _left_threads(), err
    stored = _articles(clean_db)
    assert stored > 0
    code, out, err = _run(argv)
    assert code == 0 and _articles(clean_db) == stored, out + err


def test_a_step_that_meets_the_loss_after_another_saw_the_database_back_is_in_the_same_interruption(
    outage: Outage, clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step whose connection was opened before the outage (an archive job's session while it
    reads the CDX) uses it only after another step's wait saw the database back: it died in
    the same interruption. Before, a loss was dated by when its step noticed it, and this one
    was a second ("interrupted 2 times" for one outage, as the archive backfill said under
    load). A connection opened once it was back and lost is a second interruption."""
    from flows.retries import DatabaseLosses

    monkeypatch.setenv("VEILLE_DB_WAIT", "20")
    losses = DatabaseLosses()

    def select(conn: sa.Connection) -> int:
        with conn:
            return int(conn.scalar(sa.text("SELECT 1")) or 0)

    def first_on(conn: sa.Connection) -> Callable[[], int]:
        """A step that uses ``conn`` first, a new connection at its next tries."""
        tries: list[sa.Connection] = []

        def step() -> int:
            tries.append(conn if not tries else clean_db.connect())
            return select(tries[-1])

        return step

    held = clean_db.connect()
    assert select_open(held) == 1  # opened before the outage
    outage.take(back=True)
    assert losses.run(lambda: select(clean_db.connect())) == 1  # met it, waited, saw it back
    assert len(losses.recovered) == 1
    assert losses.run(first_on(held)) == 1  # its dead connection, met only now
    assert len(losses.recovered) == 1, losses.recovered
    fresh = clean_db.connect()
    pid = fresh.scalar(sa.text("SELECT pg_backend_pid()"))
    with outage.admin.connect() as admin:
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert losses.run(first_on(fresh)) == 1
    assert len(losses.recovered) == 2 and losses.gone is None, losses.recovered


def test_a_refusal_a_step_hears_of_after_another_saw_the_database_back_is_in_the_same_interruption(
    outage: Outage, clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection refused while the database is away, in a thread of a step (an archive
    job's capture thread) that raises it only once its other threads are done, after another
    step's wait saw the database back: the same interruption. Before, a refusal was dated by
    when its step heard of it: "interrupted 2 times" for one outage, as the archive backfill
    said now and then in a clean-clone CI run."""
    from flows.retries import DatabaseLosses

    monkeypatch.setenv("VEILLE_DB_WAIT", "20")
    losses = DatabaseLosses()
    outage.take(back=True)
    with pytest.raises(sa.exc.OperationalError) as refused:
        clean_db.connect()  # a capture thread's session, refused while the database is away
    assert losses.run(lambda: select_open(clean_db.connect())) == 1  # met it, waited, saw it back
    heard: list[int] = []

    def late() -> int:
        heard.append(1)
        if len(heard) == 1:
            raise refused.value  # the job's other threads done: it hears of the refusal now
        return select_open(clean_db.connect())

    assert losses.run(late) == 1 and len(heard) == 2
    assert len(losses.recovered) == 1 and losses.gone is None, losses.recovered


def select_open(conn: sa.Connection) -> int:
    """``SELECT 1`` on ``conn``, left open (its transaction ended)."""
    value = int(conn.scalar(sa.text("SELECT 1")) or 0)
    conn.commit()
    return value


def test_ingest_workers_that_meet_one_outage_are_one_interruption(
    site: LocalSite, outage: Outage, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ingest workers each fetching a page when the database goes, each waiting for it:
    the backfill (and `veille run`, whose ingest it is) was interrupted once. Before, each
    worker counted its own loss: "interrupted 2 times" for one outage, N times with N workers."""
    monkeypatch.setenv("VEILLE_PREFECT", "off")
    monkeypatch.setenv("VEILLE_DB_WAIT", "20")
    monkeypatch.setenv("VEILLE_CONCURRENCY", "2")
    pages, sources = sitemap_feed_and_listing(site, tmp_path)
    outage.waiters = 2  # back once both workers wait for it: both met it
    first, other = threading.Event(), threading.Event()

    def held(route: Any) -> Callable[[Request], Any]:
        body, headers = route.body, {"Content-Type": route.content_type}

        def serve(request: Request) -> Any:
            if not first.is_set():
                first.set()
                outage.take(back=True)
                other.wait(5)  # the other worker fetches a page too (or waits for the database)
            else:
                other.set()
            return 200, headers, body

        return serve

    for page in pages:
        route = site.routes[f"/{page.spec.slug}"]
        route.handler = held(route)
    code, out, err = _run([*WINDOW, "--sources", str(sources)])
    assert code == 1, out + err
    assert f"veille: {RECOVERED}" in err and "4 stored" in out, out + err
    assert outage.waited.is_set() and "Traceback" not in err and not _left_threads()
    assert _articles(clean_db) == 4
