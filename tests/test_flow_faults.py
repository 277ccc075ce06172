"""Faults of the orchestration layer (flows/): what a run retries, how long a worker's claim on
the queue lasts, what a run's state and artifacts say."""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from prefect import flow
from sqlalchemy.orm import Session

from flows import runs
from flows.direct import with_retries
from flows.polling import poll_sources
from flows.queue_drain import drain_queue
from flows.retries import transient_task
from flows.runtime import reset_runtime
from monitors.archive.db import get_engine, session_scope
from monitors.archive.queue import ClaimHolder

# A database error that every try meets again: a bug in a query, bad data, a constraint.
PERMANENT = {
    "no such table": "SELECT * FROM no_such_table",
    "bad data": "SELECT CAST('douze' AS integer)",
    # ProgramLimitExceeded: an OperationalError, as a lost connection is
    "over a limit": "SELECT to_tsvector('simple', string_agg(md5(i::text) || i, ' '))"
    " FROM generate_series(1, 60000) i",
    "constraint": "INSERT INTO sources (id, name, kind, url, owner) SELECT id, name, kind, url, owner"
    " FROM sources LIMIT 1",
}


def _failing_step(sql: str, calls: list[str]) -> Callable[[], None]:
    def step() -> None:
        calls.append(sql)
        with session_scope() as session:
            if "INSERT" in sql:
                session.execute(
                    sa.text(
                        "INSERT INTO sources (name, kind, url, owner) VALUES"
                        " ('twice', 'feed', 'https://example.org/twice.xml', 'media')"
                        " ON CONFLICT DO NOTHING"
                    )
                )
            session.execute(sa.text(sql))

    return step


@pytest.mark.parametrize("case", sorted(PERMANENT))
def test_a_permanent_database_error_is_not_retried(case: str, clean_db: sa.Engine) -> None:
    """A direct run and a flow's task both try a step that failed on a permanent database error
    once: no 2 s + 10 s of retries that fail the same way (every DBAPIError was retried)."""
    calls: list[str] = []
    waits: list[float] = []
    with pytest.raises(sa.exc.DBAPIError):
        with_retries(_failing_step(PERMANENT[case], calls), sleep=waits.append)
    assert len(calls) == 1 and waits == []


@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_task_is_not_retried_on_a_permanent_database_error(
    clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    step = _failing_step(PERMANENT["bad data"], calls)
    monkeypatch.setitem(runs.TASKS, step, transient_task("step", delays=(0, 0))(step))

    @flow
    def one() -> None:
        runs.submit_task(step).result()

    state = one(return_state=True)
    assert state.is_failed() and len(calls) == 1


@pytest.mark.usefixtures("prefect_harness")
def test_a_lost_connection_is_still_retried(clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side: a step whose connection the server ended is tried again, and succeeds."""
    calls: list[int] = []

    def step() -> int:
        calls.append(1)
        with session_scope() as session:
            if len(calls) == 1:
                session.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
            return int(session.scalar(sa.text("SELECT 1")) or 0)

    waits: list[float] = []
    assert with_retries(step, sleep=waits.append) == 1
    assert len(calls) == 2 and waits == [2]


def test_a_slow_worker_keeps_its_claims_past_the_lease(
    site: Any, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker claims a batch at once; while it is still on its first page (a slow site)
    after the claim lease, another worker, of the same run or of another process, finds none
    of its rows to claim: the lease of a live run's claims is renewed. It expired whatever the
    holder, and the other worker fetched the same pages a second time."""
    from monitors.archive import queue
    from tests.site import Request

    monkeypatch.setattr(queue, "CLAIM_LEASE", timedelta(seconds=1.5))
    monkeypatch.setenv("VEILLE_CONCURRENCY", "1")  # one worker: it claims the whole queue
    asked, release = threading.Event(), threading.Event()

    def slow(request: Request) -> tuple[int, dict[str, str], bytes]:
        asked.set()
        release.wait(30)
        return 200, {"Content-Type": "text/html; charset=utf-8"}, _page(request.path).encode()

    sources = _three_page_feed(site, tmp_path, "Lent", slow)
    reset_runtime()
    other = ClaimHolder(get_engine())
    with ThreadPoolExecutor(4) as pool:

        def submit(step: Callable[..., Any], *args: Any) -> Any:
            return pool.submit(step, *args)

        try:
            poll_sources(str(sources), True, submit, None)
            drain = pool.submit(drain_queue, None, submit, None)
            assert asked.wait(60), "the worker never fetched a page"
            _no_claim_past_the_lease(other, queue.CLAIM_LEASE)  # the worker still on its first page
        finally:
            release.set()
            other.close()
        report, _ = drain.result(timeout=120)
    reset_runtime()
    assert sorted(status for _, status, _ in report.statuses) == ["stored"] * 3
    assert all(len(site.hits(f"/lent/{i}.html")) == 1 for i in range(3))


def test_a_worker_whose_token_dies_before_its_claim_fetches_each_page_once(
    site: Any, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder's connection ends after a worker took the token and before it claims (a
    restart, pg_terminate_backend): before, the worker claimed under the dead token, and
    another process claimed the same rows as free and fetched them too. Now that claim takes
    nothing, and the worker claims again under a new token instead of reading the empty claim
    as a drained queue: every page fetched once, by it."""
    import flows.queue_drain
    from monitors.archive.queue import holder_for

    monkeypatch.setenv("VEILLE_CONCURRENCY", "1")
    sources = _three_page_feed(site, tmp_path, "Perdu")
    reset_runtime()
    real = flows.queue_drain.claim_items
    other = ClaimHolder(get_engine())
    stolen: list[int] = []  # rows the worker claimed that the other process could claim too
    lost: list[int] = []

    def claim_after_the_loss(session: Session, limit: int, token: int | None = None) -> Any:
        if not lost:  # the first claim: its token's session ends first (the worker has it)
            assert token is not None and holder_for(get_engine()).held() == token
            lost.append(token)
            _end_lock(token)
        claimed = real(session, limit, token)
        session.commit()
        with Session(get_engine()) as theirs:  # another process claims what is free then
            mine = {item.id for item in claimed}
            stolen.extend(item.id for item in real(theirs, 10, other.token()) if item.id in mine)
            theirs.rollback()
        return claimed

    monkeypatch.setattr(flows.queue_drain, "claim_items", claim_after_the_loss)
    with ThreadPoolExecutor(4) as pool:

        def submit(step: Callable[..., Any], *args: Any) -> Any:
            return pool.submit(step, *args)

        try:
            poll_sources(str(sources), True, submit, None)
            report, _ = drain_queue(None, submit, None)
        finally:
            other.close()
    reset_runtime()
    assert lost and stolen == []
    assert sorted(status for _, status, _ in report.statuses) == ["stored"] * 3
    assert all(len(site.hits(f"/perdu/{i}.html")) == 1 for i in range(3))
    with session_scope() as session:
        left = session.scalar(sa.text("SELECT count(*) FROM url_queue WHERE claimed_at IS NOT NULL"))
    assert left == 0


def _end_lock(token: int) -> None:
    """End the session holding ``token``'s lock (a restart, pg_terminate_backend), waited for."""
    from monitors.archive.queue import LOCK_SPACE

    with get_engine().begin() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND classid = :c AND objid = :t"
            ),
            {"c": LOCK_SPACE, "t": token},
        )
    _wait_lock_gone(token)


def test_a_drain_that_loses_its_lock_now_and_then_goes_on(
    site: Any, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long drain loses its claim token's lock before every other claim (7 times, more than
    MAX_RECOVERIES), each loss followed by a claim that took its rows: it drains the queue. The
    losses were counted over the whole drain, and the worker stopped after the sixth saying
    "the claim token's lock was lost at every claim", which was not so."""
    import flows.queue_drain
    from monitors.archive.queue import holder_for

    pages = flows.queue_drain.MAX_RECOVERIES + 2
    monkeypatch.setenv("VEILLE_CONCURRENCY", "1")
    monkeypatch.setenv("VEILLE_BATCH_SIZE", "1")
    sources = _three_page_feed(site, tmp_path, "Souvent", pages=pages)
    reset_runtime()
    real = flows.queue_drain.claim_items
    claims: list[int] = []

    def claim_losing_every_other_lock(session: Session, limit: int, token: int | None = None) -> Any:
        claims.append(1)
        if len(claims) % 2 == 1 and len(claims) < 2 * pages:  # before every other claim
            assert token is not None and holder_for(get_engine()).held() == token
            _end_lock(token)
        return real(session, limit, token)

    monkeypatch.setattr(flows.queue_drain, "claim_items", claim_losing_every_other_lock)
    with ThreadPoolExecutor(4) as pool:

        def submit(step: Callable[..., Any], *args: Any) -> Any:
            return pool.submit(step, *args)

        poll_sources(str(sources), True, submit, None)
        report, _ = drain_queue(None, submit, None)
    reset_runtime()
    assert report.interruptions == [] and not report.gave_up
    assert sorted(status for _, status, _ in report.statuses) == ["stored"] * pages
    assert len(claims) == 2 * pages + 1  # every loss was one
    assert all(len(site.hits(f"/souvent/{i}.html")) == 1 for i in range(pages))


def test_a_failed_workers_rows_taken_over_are_forgotten(
    site: Any, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim holder's lock is lost while a worker fetches its batch, and the next token
    takes its rows over (as another worker's claim does); then the worker's task fails on a
    bug. The holder forgets the rows it took over for it: nothing hands them back any more,
    and they were kept until the holder closed (as were those it settled)."""
    import flows.queue_drain
    from flows.queue_drain import ingest_worker_task
    from monitors.archive.queue import holder_for

    monkeypatch.setenv("VEILLE_CONCURRENCY", "1")
    sources = _three_page_feed(site, tmp_path, "Casse")
    reset_runtime()
    holder = holder_for(get_engine())
    real = flows.queue_drain.process_item
    seen: list[int] = []

    def lose_then_fail(*args: Any) -> Any:
        seen.append(args[2].id)
        if len(seen) == 1:
            lost = holder.held()
            assert lost is not None
            _end_lock(lost)
            assert holder.token() != lost  # the rows of the batch taken over under it
            return real(*args)
        raise RuntimeError("a bug in a step")

    monkeypatch.setattr(flows.queue_drain, "process_item", lose_then_fail)
    with ThreadPoolExecutor(4) as pool:

        def submit(step: Callable[..., Any], *args: Any) -> Any:
            return pool.submit(step, *args)

        poll_sources(str(sources), True, submit, None)
    try:
        with session_scope() as session:
            ids = list(session.scalars(sa.text("SELECT id FROM url_queue")))
        with pytest.raises(RuntimeError, match="a bug in a step"):
            ingest_worker_task(0, None, None, len(ids), 1)
        assert len(seen) == 2
        assert holder.taken_over(ids) == {}
    finally:
        holder.close()
        reset_runtime()


def _wait_lock_gone(token: int) -> None:
    """Until no session holds ``token``'s lock (a backend ends in milliseconds, a loaded
    machine's may take seconds): a test that went on while it still did would check nothing."""
    from monitors.archive.queue import LOCK_SPACE

    give_up = time.monotonic() + 60
    sql = "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND objid = :t)"
    while True:
        with get_engine().connect() as conn:
            if not conn.scalar(sa.text(sql), {"c": LOCK_SPACE, "t": token}):
                return
        assert time.monotonic() < give_up, f"lock {token} still held 60 s after its session was ended"
        time.sleep(0.05)


def _three_page_feed(site: Any, tmp_path: Path, name: str, handler: Any = None, pages: int = 3) -> Path:
    """A sources file with one feed, ``name``, of three pages (or ``pages``) /<name>/<i>.html
    (served by ``handler`` when given); the pages' paths in lower case."""
    from tests.site import rss_feed, write_sources

    slug = name.lower()
    items = []
    for i in range(pages):
        path = f"/{slug}/{i}.html"
        if handler is None:
            site.add(path, _page(path).encode(), content_type="text/html; charset=utf-8")
        else:
            site.add(path, b"", handler=handler)
        items.append((f"{name} {i}", path.lstrip("/"), datetime(2025, 2, 1, tzinfo=UTC)))
    site.add(f"/{slug}.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    return write_sources(
        tmp_path / "s.toml",
        [{"name": name, "kind": "feed", "url": f"{site.base}/{slug}.xml", "owner": "media"}],
    )


def _no_claim_past_the_lease(other: ClaimHolder, lease: timedelta) -> None:
    """Past the lease the worker's rows were claimed under, another holder claims none of
    them: their lease was renewed. Waits on the rows' ``claimed_at`` rather than a fixed sleep
    (a renewal late on a loaded machine let the lease run out under the test: it failed at
    random). A try locks the rows first, so it reads the lease it is judged on; a try made when
    the last renewal was itself older than the lease (its beat late) is rolled back, and made
    again after the next renewal. Rows taken under a live lease, or never renewed, fail."""
    from monitors.archive.models import QueuedUrl
    from monitors.archive.queue import claim_items, now

    lent = QueuedUrl.url.like("%/lent/%")
    with session_scope() as session:
        claimed = session.scalar(sa.select(sa.func.max(QueuedUrl.claimed_at)).where(lent))
    assert claimed is not None, "the worker's rows are not claimed"
    time.sleep(max(0.0, (claimed + lease - now()).total_seconds()) + 0.05)
    give_up = time.monotonic() + 60
    while True:
        with get_engine().connect() as conn, Session(conn) as session:
            # locked: a renewal under way ends before the read, and the try skips no row
            leases = list(session.scalars(sa.select(QueuedUrl.claimed_at).where(lent).with_for_update()))
            assert leases and None not in leases, "the worker's rows are no longer claimed"
            renewed = min(at for at in leases if at is not None)
            stolen = claim_items(session, 10, other.token())
            tried = now()
            session.rollback()  # the try leaves the rows as they were, for the next and the worker
        if not stolen:
            assert renewed > claimed
            return
        assert tried - renewed >= lease, f"rows taken under a lease renewed {tried - renewed} before"
        while True:  # the lease ran out: the next renewal, if any
            with session_scope() as session:
                latest = session.scalar(sa.select(sa.func.min(QueuedUrl.claimed_at)).where(lent))
            if latest is not None and latest > renewed:
                break
            assert time.monotonic() < give_up, "the worker's lease was never renewed"
            time.sleep(0.05)


def _page(path: str) -> str:
    text = "".join(
        f"<p>Un article lent, {path}, paragraphe {j} : le conseil municipal a voté le budget de "
        f"l'année après un long débat sur les écoles, les routes et la piscine.</p>"
        for j in range(4)
    )
    return (
        f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>{path}</title></head>"
        f"<body><main><article><h1>{path}</h1>{text}</article></main></body></html>"
    )


# Article titles and URLs as a feed or a page may give them, aimed at the report's markdown.
HOSTILE_TITLES = [
    "Titre\n# Pirate\n\n<script>alert(1)</script>",
    "[clic](javascript:alert(1)) et ![image](http://evil.example/x.png)",
    "<img src=x onerror=alert(1)> **gras** _penché_ `code` ~~barré~~",
    "fin par une barre oblique \\",
    "a | b | c",
    "&lt;b&gt; entités &amp; &#60;i&#62;",
    "L" * 100_000,
    "\x1b[31mROUGE\x1b[0m cloche\x07 fin",
    "Crochet ] puis (parenthèse) et <http://autolien.example>",
]
HOSTILE_URLS = {1: "http://x.example/a b)c<d>", 4: "javascript:alert(1)"}
TEXT_WIDTH = 300  # characters of a title (a name, an error) a report shows at most
REPORT_ARTICLES = 50  # the new relevant articles a report lists at most
HOSTILE_SOURCE = "Src | *gras* <b>gras</b>\n| faux | rang |"


def _article_url(n: int) -> str:
    return HOSTILE_URLS.get(n, f"http://x.example/article/{n}")


def _insert_articles(
    engine: sa.Engine, titles: list[str], source: str, url: Callable[[int], str] = _article_url
) -> None:
    with engine.begin() as conn:
        source_id = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES (:n, 'feed', 'http://x.example/f', 'media') RETURNING id"
            ),
            {"n": source},
        )
        story_id = conn.scalar(
            sa.text(
                "INSERT INTO stories (first_seen, last_seen, title, language, articles, outlets, media)"
                " VALUES (now(), now(), :t, 'fr', 2, 1, 1) RETURNING id"
            ),
            {"t": titles[0]},
        )
        for n, title in enumerate(titles):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, relevant,"
                    " relevance, published_at, story_id)"
                    " VALUES (:u, :u, :s, :t, 'texte sommet', :h, true, :r, now(), :story)"
                ),
                {
                    "u": url(n),
                    "s": source_id,
                    "t": title,
                    "h": str(n),
                    "r": 0.9 - n / 1000,
                    "story": story_id if n < 2 else None,
                },
            )


def _text(tokens: list[Any] | None) -> str:
    """What inline tokens show as text."""
    return "".join(t.content for t in tokens or [] if t.type == "text")


def _tokens(tokens: list[Any]) -> Iterator[Any]:
    for token in tokens:
        yield token
        yield from _tokens(token.children or [])


def test_the_run_report_shows_hostile_titles_as_text(clean_db: sa.Engine) -> None:
    """The report is markdown the Prefect UI renders: an article's title, a source's name or an
    error shows as the text it is, on its line, shortened when very long: it adds no heading,
    link, image, emphasis or HTML, and ends no list item or table row. A title's `\\` ended its
    link (the `]` after it escaped), a line break in one added a heading and raw HTML."""
    from markdown_it import MarkdownIt

    from flows.artifacts import run_artifacts
    from flows.commands.common import terminal_safe
    from flows.outcome import RunOutcome
    from monitors.archive.reads import database_now
    from monitors.collect.health import shorten_middle

    with session_scope() as session:
        since = database_now(session)
    _insert_articles(clean_db, HOSTILE_TITLES, HOSTILE_SOURCE)
    rows = [
        {
            "source": HOSTILE_SOURCE,
            "poll": "error",
            "new_urls": 0,
            "stored": 9,
            "duplicates": 0,
            "relevant": 9,
            "failed": 1,
            "retry": 0,
            "error": "HTTP 500 <b>boom</b>\n| rang | injecté |",
        }
    ]
    outcome = RunOutcome("partial", "1 source polled", ["1 of 1 source in error"])
    report = next(a for a in run_artifacts(rows, since, outcome) if a.kind == "markdown").data
    assert len(report) < 20_000  # a 100,000-character title is shortened

    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(report)
    every = list(_tokens(tokens))
    assert not [t for t in every if t.type in {"html_inline", "html_block", "image", "code_inline"}]
    assert not [t for t in every if t.type in {"em_open", "s_open"}]
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == [
        "veille run",
        f"New articles relevant to a topic ({len(HOSTILE_TITLES)})",
        "Stories: 1 new, 0 growing",
        "Sources with errors",
    ]
    items = [tokens[i + 2].children or [] for i, t in enumerate(tokens) if t.type == "list_item_open"]
    assert len(items) == len(HOSTILE_TITLES)
    for n, (inline, title) in enumerate(zip(items, HOSTILE_TITLES, strict=True)):
        shown = shorten_middle(terminal_safe(title), TEXT_WIDTH)
        links = [t for t in inline if t.type == "link_open"]
        if n == 4:  # a javascript: URL is no link
            assert links == [] and _text(inline).startswith(shown)
            continue
        assert len(links) == 1
        assert unquote(str(links[0].attrs["href"])) == _article_url(n)
        start = inline.index(links[0])
        end = next(i for i, t in enumerate(inline) if t.type == "link_close")
        assert _text(inline[start + 1 : end]) == shown
        assert shorten_middle(terminal_safe(HOSTILE_SOURCE), TEXT_WIDTH) in _text(inline[end:])
    rows_of = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
    assert len(rows_of) == 2 + 2  # the stories table and the sources table: a header and a row each
    cells = [_text(t.children) for t in tokens[rows_of[-1] :] if t.type == "inline"]
    assert cells == [
        shorten_middle(terminal_safe(HOSTILE_SOURCE), TEXT_WIDTH),
        "1",
        "HTTP 500 <b>boom</b> | rang | injecté |",
    ]


def test_a_large_run_report_says_it_lists_only_the_most_relevant(clean_db: sa.Engine) -> None:
    """A run that stored more new relevant articles than the report lists says so; its heading
    gave the count of the list (50) as if it were the run's."""
    from flows.artifacts import run_artifacts
    from monitors.archive.reads import database_now

    with session_scope() as session:
        since = database_now(session)
    titles = [f"Article {n}" for n in range(REPORT_ARTICLES + 10)]
    _insert_articles(clean_db, titles, "Source", url=lambda n: f"http://x.example/{n}")
    report = next(a for a in run_artifacts([], since, None) if a.kind == "markdown").data
    assert (
        f"## New articles relevant to a topic (the {REPORT_ARTICLES} most relevant; more were stored)"
        in report
    )
    assert report.count("\n- [Article ") == REPORT_ARTICLES


def test_the_run_report_lists_at_most_50_sources_in_error_and_says_how_many_more() -> None:
    """With hundreds of failing sources the report (a Prefect artifact) listed every one: it
    lists the 50 with the most failed pages and says how many more there are."""
    from flows.artifacts import REPORT_ERRORS, run_report

    def row(n: int, failed: int) -> dict[str, Any]:
        return {
            "source": f"Source {n:03d}",
            "poll": "error",
            **dict.fromkeys(("new_urls", "stored", "duplicates", "relevant", "retry"), 0),
            "failed": failed,
            "error": f"HTTP 500 at source {n:03d} " + "x" * 200,
        }

    rows = [row(n, failed=n % 3) for n in range(300)] + [row(300, failed=0) | {"error": None}]
    report = run_report(rows, [])
    table = [line for line in report.splitlines() if line.startswith("| Source ")]
    assert len(table) == REPORT_ERRORS == 50
    assert all(line.split(" | ")[1] == "2" for line in table)  # the most failed pages first
    assert "300 sources in error: the 50 with the most failed pages are listed, 250 more are not" in report
    assert len(report) < 30_000
    few = run_report(rows[:3] + rows[-1:], [])  # the last source had no error
    assert few.count("| Source ") == 3 and "more are not" not in few and "Source 300" not in few
    assert few.index("Source 002") < few.index("Source 001") < few.index("Source 000")


def test_the_run_report_lists_a_source_read_with_a_warning_apart_from_the_sources_in_error() -> None:
    """A feed read in part (malformed: a warning, the poll ok) is no source in error for the
    verdict ("1 of 2 sources in error"), but the report listed it under "Sources with errors":
    it is under "Sources read with a warning" now, the 404 alone in error."""
    from flows.artifacts import run_report

    zero = dict.fromkeys(("new_urls", "stored", "duplicates", "relevant", "retry", "failed"), 0)
    rows = [
        {"source": "Gone", "poll": "error", **zero, "error": "HTTP 404 Not Found"},
        {"source": "Cut", "poll": "ok", **zero, "error": "malformed feed, 2 entries read: unclosed token"},
        {"source": "Fine", "poll": "ok", **zero, "error": ""},
    ]
    report = run_report(rows, [])
    errors, warned = report.split("## Sources with errors")[1].split("## Sources read with a warning")
    assert "| Gone | 0 | HTTP 404 Not Found |" in errors and "Cut" not in errors
    assert "| Cut | malformed feed, 2 entries read: unclosed token |" in warned and "Gone" not in warned
    assert "Fine" not in errors + warned
    only_warned = run_report(rows[1:], [])
    assert "Sources with errors" not in only_warned and "## Sources read with a warning" in only_warned


def test_the_run_report_counts_every_story_of_the_run_not_the_20_listed(clean_db: sa.Engine) -> None:
    """The stories heading counted the stories listed (at most 20) as if they were the run's: a
    first run that made 30 stories said "Stories: 20 new, 0 growing"."""
    from flows.artifacts import run_artifacts
    from monitors.archive.reads import database_now

    with clean_db.begin() as conn:
        old = conn.scalar(
            sa.text(
                "INSERT INTO stories (first_seen, last_seen, title, language, articles, outlets, media,"
                " created_at) VALUES (now(), now(), 'Ancienne', 'fr', 1, 1, 1, now() - interval '1 day')"
                " RETURNING id"
            )
        )
    with session_scope() as session:
        since = database_now(session)
    _insert_articles(clean_db, [f"Article {n}" for n in range(32)], "Source")  # its story: 2 of them
    with clean_db.begin() as conn:
        ids = conn.scalars(sa.text("SELECT id FROM articles WHERE story_id IS NULL ORDER BY id")).all()
        for n, article in enumerate(ids):
            story = old
            if n > 0:
                story = conn.scalar(
                    sa.text(
                        "INSERT INTO stories (first_seen, last_seen, title, language, articles,"
                        " outlets, media) VALUES (now(), now(), :t, 'fr', 1, 1, 1) RETURNING id"
                    ),
                    {"t": f"Story {n}"},
                )
            conn.execute(
                sa.text("UPDATE articles SET story_id = :s WHERE id = :a"), {"s": story, "a": article}
            )
    report = next(a for a in run_artifacts([], since, None) if a.kind == "markdown").data
    assert "## Stories: 30 new, 1 growing" in report  # 29 + the two-article story; the old one
    assert "The 20 that got the most articles this run are listed" in report
    stories_table = report.split("## Stories", 1)[1]
    assert stories_table.count("| new |") + stories_table.count("| growing |") == 20


def test_the_maintenance_report_shows_hostile_source_names_and_errors_as_text() -> None:
    """A source's name (the sources file) and last error (what a server answered) stay in their
    table cells: a `|` or a line break in them added cells and rows, `<b>` was HTML."""
    from markdown_it import MarkdownIt

    from flows.maintenance import RescoreOutcome, maintenance_report

    health = [
        {
            "name": HOSTILE_SOURCE,
            "health": "failing",
            "consecutive_failures": 3,
            "last_error": "HTTP 503: <html><b>down</b>\n| a | b |",
        }
    ]
    report = maintenance_report(health, {"pending": 2}, RescoreOutcome("1.0", 0, 0, 0, "up to date"))
    tokens = MarkdownIt("commonmark").enable("table").parse(report)
    assert not [t for t in _tokens(tokens) if t.type in {"html_inline", "html_block", "em_open"}]
    rows = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
    assert len(rows) == 2
    cells = [_text(t.children) for t in tokens[rows[1] :] if t.type == "inline"][:4]
    assert cells == [
        "Src | *gras* <b>gras</b> | faux | rang |",
        "failing",
        "3",
        "HTTP 503: <html><b>down</b> | a | b |",
    ]


def test_the_maintenance_report_lists_at_most_50_unhealthy_sources_and_says_how_many_more() -> None:
    """The daily maintenance report listed every source not ok (hundreds on a large list of
    quiet or failing sources); it lists the 50 with the most failures in a row and counts the
    others, as the run report does."""
    from flows.artifacts import REPORT_ERRORS
    from flows.maintenance import RescoreOutcome, maintenance_report

    health = [
        {
            "name": f"Source {n:03d}",
            "health": "failing",
            "consecutive_failures": n % 7,
            "last_error": "HTTP 500",
        }
        for n in range(400)
    ] + [{"name": "Bonne", "health": "ok", "consecutive_failures": 0, "last_error": None}]
    report = maintenance_report(health, {}, RescoreOutcome("1.0", 0, 0, 0, "up to date"))
    rows = [line for line in report.splitlines() if line.startswith("| Source ")]
    assert len(rows) == REPORT_ERRORS == 50
    assert all(line.split(" | ")[2] == "6" for line in rows)  # the longest streaks first
    assert "400 sources are not ok: the 50 with the most failures in a row are listed, 350 more" in report
    assert "400 failing, 1 ok" in report and len(report) < 20_000


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize(
    ("where", "line", "cause"),
    [
        (
            "--maintenance-cron",
            "30 4 * * * *",
            "Invalid cron string '30 4 * * * *': 6 fields, a cron line has 5",
        ),
        ("VEILLE_MAINTENANCE_CRON", "0 0 31 2 *", "Invalid cron string '0 0 31 2 *': it never fires"),
        ("--maintenance-cron", "0 0 30 2 *", "it never fires"),
        ("--maintenance-cron", "", "Invalid cron string '': 0 fields"),  # was the default, without a word
    ],
)
def test_serve_refuses_a_cron_line_prefect_would_misread(
    where: str, line: str, cause: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille serve` with a maintenance cron line of six fields (Prefect reads the sixth as
    seconds: 60 maintenance runs a day) or one that never fires (no maintenance ever) stops
    with a usage error naming the option or setting and why, before serving anything."""
    import flows.commands.serve
    from flows.cli import main

    served: list[Any] = []
    monkeypatch.setattr(flows.commands.serve, "serve_deployments", served.extend)
    argv = ["serve"]
    if where.startswith("--"):
        argv += [where, line]
    else:
        monkeypatch.setenv(where, line)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"veille: error: {where}: ") and cause in err
    assert served == []

    monkeypatch.delenv("VEILLE_MAINTENANCE_CRON", raising=False)
    for good in ("0 6 * * 1", "@daily", "0 0 29 2 *"):
        assert main(["serve", "--maintenance-cron", good]) == 0
    assert len(served) == 9


@pytest.mark.usefixtures("prefect_harness")
def test_a_backfill_whose_sources_failed_says_so(site: Any, clean_db: sa.Engine, tmp_path: Path) -> None:
    """`veille backfill --since D` (sitemaps and feeds) ends as a run does: exit 3 and a Failed
    state when every source failed and nothing was stored, exit 1 when some did; it was exit 0
    and Completed whatever happened."""
    from flows.cli import main
    from tests.site import seed_site, write_sources

    seed_site(site)
    dead = [
        {"name": "Mort", "kind": "sitemap", "url": f"{site.base}/nope.xml", "owner": "media"},
        {"name": "Disparu", "kind": "feed", "url": f"{site.base}/gone.xml", "owner": "party"},
    ]
    argv = ["backfill", "--since", "2025-01-01", "--until", "2025-12-31", "--sources"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, str(write_sources(tmp_path / "dead.toml", dead))])
    assert code == 3, out.getvalue()
    assert "veille: Nothing could run (every source read failed: HTTP 404 Not Found (Disparu, Mort))" in (
        err.getvalue()
    )

    alive = {"name": "Fil", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, str(write_sources(tmp_path / "some.toml", [alive, *dead]))])
    assert code == 1, out.getvalue()
    assert "veille: Partly done (2 of 3 sources in error)" in err.getvalue()
    assert "backfill 2025-01-01 .. 2025-12-31: 3 sources read, 4 new URLs, 4 stored" in out.getvalue()


def _interpolate(value: Any, env: dict[str, str]) -> str | None:
    """A value of docker-compose.yml as compose fills it from .env: ``${NAME}``,
    ``${NAME:-default}``, ``${NAME:?error}`` (raises), ``$$``; None for a bare key (the host's)."""
    import re

    if value is None:
        return env.get("__host__")

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        got = env.get(name)
        if op == ":?" and not got:
            raise ValueError(f"{name}: {arg}")
        if op == ":-" and not got:
            return arg
        return got or ""

    return re.sub(r"\$\{([A-Z_]+)(?:(:-|:\?)([^}]*))?\}", one, str(value)).replace("$$", "$")


def test_compose_passes_the_settings_of_env_into_the_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    """README: `cp .env.example .env`, set POSTGRES_PASSWORD (and any setting), `docker compose
    up -d`. Compose reads .env for interpolation only: a VEILLE_* line reached the `veille` and
    `worker` containers only where docker-compose.yml named it (2 settings of 38), so
    VEILLE_CONCURRENCY or VEILLE_MAINTENANCE_CRON set in .env did nothing there."""
    import re

    import yaml
    from dotenv import dotenv_values

    from monitors.settings import get_settings

    root = Path(__file__).resolve().parent.parent
    example = (root / ".env.example").read_text(encoding="utf-8")
    dotenv = example.replace("POSTGRES_PASSWORD=\n", "POSTGRES_PASSWORD=s3cret\n")
    dotenv = dotenv.replace("VEILLE_CONCURRENCY=16\n", "VEILLE_CONCURRENCY=4\n")
    dotenv = dotenv.replace('VEILLE_MAINTENANCE_CRON="30 4 * * *"', 'VEILLE_MAINTENANCE_CRON="0 6 * * 1"')
    dotenv = dotenv.replace("VEILLE_RESPECT_ROBOTS=1\n", "VEILLE_RESPECT_ROBOTS=0\n")
    env = {k: v for k, v in dotenv_values(stream=io.StringIO(dotenv)).items() if v is not None}
    assert env["VEILLE_CONCURRENCY"] == "4"
    note = example.split("# --- docker compose only", 1)[1].split("\n\n", 1)[0]
    # what the note names as not passed (VEILLE_SOURCES is a file, mounted)
    not_passed = {"VEILLE_DATABASE_URL", "VEILLE_DATA_DIR", "VEILLE_TOPICS_DIR", "VEILLE_SOURCES"}
    compose = yaml.safe_load((root / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in ("veille", "worker"):
        container = {k: _interpolate(v, env) for k, v in compose["services"][name]["environment"].items()}
        for setting, value in env.items():
            if setting.startswith("VEILLE_") and setting not in not_passed:
                assert setting in container, (name, setting)
                assert container[setting] == value or not value, (name, setting)  # empty: the default
        assert container["VEILLE_SOURCES"] == "/etc/veille/sources.toml"  # the mounted file
        for key in [k for k in os.environ if k.startswith("VEILLE_")]:
            monkeypatch.delenv(key)
        for key, passed in container.items():
            if key.startswith("VEILLE_") and passed is not None:
                monkeypatch.setenv(key, passed)
        settings = get_settings()
        assert settings.concurrency == 4 and settings.maintenance_cron == "0 6 * * 1"
        assert settings.respect_robots is False and settings.timeout == 20.0
        assert settings.database_url is not None and settings.database_url.endswith(
            ":s3cret@postgres:5432/veille"
        )
    assert not_passed - {"VEILLE_SOURCES"} <= set(re.findall(r"VEILLE_[A-Z_]+", note))  # and says so


def test_a_run_whose_pages_wait_for_a_retry_is_not_all_good(
    site: Any, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose every page answered 503 (back in the queue for a later try) stored nothing:
    it is Partly done, exit 1, as docs/operating.md's exit codes say (0: every page settled).
    It was "All good", exit 0: the pages to retry counted for nothing."""
    from flows.cli import main
    from tests.site import rss_feed, write_sources

    monkeypatch.setenv("VEILLE_PREFECT", "off")
    items = [(f"Indisponible {i}", f"busy/{i}.html", datetime(2025, 2, 1, tzinfo=UTC)) for i in range(2)]
    for i in range(2):
        site.add(f"/busy/{i}.html", "<h1>Service indisponible</h1>", status=503)
    site.add("/busy.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    feed = {"name": "Occupé", "kind": "feed", "url": f"{site.base}/busy.xml", "owner": "media"}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", "--sources", str(write_sources(tmp_path / "s.toml", [feed]))])
    assert code == 1, out.getvalue() + err.getvalue()
    assert err.getvalue().rstrip().splitlines()[-1].startswith("veille: Partly done (2 pages to retry)")
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE state = 'pending'")) == 2


@pytest.mark.usefixtures("prefect_harness")
def test_an_archive_backfill_job_that_fails_does_not_hide_the_others(
    site: Any, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One job of an archive backfill fails (here a bug in its fetch step): its row says so,
    the run is Partly done (exit 1) and the other jobs' articles are stored and reported. The
    failure ended the flow with its exception: no table, no verdict, a traceback."""
    import flows.archive_backfill as archive_backfill
    from flows.cli import main
    from tests.fake_archives import FakeArchives, seed_snapshots, seed_sources
    from tests.site import write_sources

    for name, value in {"VEILLE_WAYBACK_URL": site.base, "VEILLE_WAYBACK_DELAY": "0"}.items():
        monkeypatch.setenv(name, value)
    archives = FakeArchives(site)
    archives.snapshots = seed_snapshots()
    fetch = archive_backfill.fetch_captures
    failed: list[int] = []
    lock = threading.Lock()

    def fetch_or_fail(job_id: int, *args: Any) -> int:
        with lock:
            first = not failed
            if first:
                failed.append(job_id)
        if first:
            raise RuntimeError("a bug in one job")
        return fetch(job_id, *args)

    monkeypatch.setattr(archive_backfill, "fetch_captures", fetch_or_fail)
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    out, err = io.StringIO(), io.StringIO()
    argv = ["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--from", "wayback"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, "--sources", str(sources)])
    assert code == 1, err.getvalue()
    assert "job failed: RuntimeError: a bug in one job" in out.getvalue()
    with clean_db.connect() as conn:
        jobs = conn.scalar(sa.text("SELECT count(*) FROM backfill_jobs"))
        stored = conn.scalar(sa.text("SELECT count(DISTINCT source_id) FROM articles"))
    assert jobs > 1 and stored >= 1  # the other jobs went on
    with clean_db.connect() as conn:  # the failed job says so in its row, for a user's query
        state, last = conn.execute(
            sa.text("SELECT state, last_error FROM backfill_jobs WHERE id = :id"), {"id": failed[0]}
        ).one()
    assert state == "error" and last == "job failed: RuntimeError: a bug in one job"
    monkeypatch.setattr(archive_backfill, "fetch_captures", fetch)  # the bug fixed: the job resumes
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as again:
        code = main([*argv, "--sources", str(sources)])
    assert code == 0, again.getvalue()
    with clean_db.connect() as conn:
        assert set(conn.scalars(sa.text("SELECT state FROM backfill_jobs"))) == {"done"}
        assert conn.scalar(sa.text("SELECT count(DISTINCT source_id) FROM articles")) == jobs
