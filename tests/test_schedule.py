# ruff: noqa: E501
"""Adaptive polling (shrink, grow, bounds, declared period), source health transitions
(failing after 3 days, disabled after 30 failures) and re-enabling from the command line."""

from __future__ import annotations

import contextlib
import importlib
import io
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.archive.models import Source
from monitors.archive.polls import apply_poll, due_sources
from monitors.collect.feeds import FeedEntry
from monitors.collect.poll import PollOutcome
from monitors.collect.results import FetchResult
from monitors.collect.schedule import adapt_interval, effective_interval, failure_backoff
from monitors.settings import get_settings
from tests.site import LocalSite, seed_site
from tests.test_direct_cycle import _run, _sources, direct  # noqa: F401 - direct: the fixture

LOW, HIGH = 600, 86400


def test_interval_shrinks_when_most_are_new_and_grows_when_most_are_known() -> None:
    assert adapt_interval(3600, new=8, known=2, low=LOW, high=HIGH) == 1800
    assert adapt_interval(3600, new=2, known=8, low=LOW, high=HIGH) == 5400
    assert adapt_interval(3600, new=5, known=5, low=LOW, high=HIGH) == 3600
    assert adapt_interval(3600, new=0, known=0, low=LOW, high=HIGH) == 5400  # 304 or empty
    assert adapt_interval(700, new=10, known=0, low=LOW, high=HIGH) == LOW
    assert adapt_interval(80000, new=0, known=10, low=LOW, high=HIGH) == HIGH


def test_declared_period_is_respected_within_bounds() -> None:
    assert effective_interval(600, 3 * 3600, LOW, HIGH) == 3 * 3600
    assert effective_interval(7200, 1800, LOW, HIGH) == 7200
    assert effective_interval(600, 30 * 86400, LOW, HIGH) == HIGH
    assert effective_interval(600, None, LOW, HIGH) == 600


def test_failure_backoff_doubles_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(7)
    for n in range(1, 12):
        cap = min(HIGH, LOW * 2 ** (n - 1))
        delays = [failure_backoff(n, None, LOW, HIGH, rng) for _ in range(50)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert failure_backoff(1, 5000.0, LOW, HIGH, rng) == 5000.0


def _src(db: Session, name: str = "adaptive") -> Source:
    src = Source(name=name, kind="feed", url=f"https://example.org/{name}.xml", owner="media")
    db.add(src)
    db.flush()
    db.refresh(src)
    return src


def _ok(
    source_id: int, urls: list[str], *, not_modified: bool = False, declared: int | None = None
) -> PollOutcome:
    fetched = FetchResult(
        "https://example.org/f", "https://example.org/f", "not_modified" if not_modified else "ok", 200
    )
    return PollOutcome(source_id, fetched, [FeedEntry(u) for u in urls], declared_interval=declared)


def _error(source_id: int, error_class: str = "transient") -> PollOutcome:
    fetched = FetchResult("https://example.org/f", "https://example.org/f", "error", 503)
    return PollOutcome(source_id, fetched, error_class=error_class, error="HTTP 503")


def test_apply_poll_adapts_the_interval_within_bounds(db: Session) -> None:
    settings = get_settings()
    src = _src(db)
    assert src.poll_interval_seconds == 3600
    intervals = []
    for i in range(4):  # every poll: all entries new
        apply_poll(db, _ok(src.id, [f"https://example.org/a/{i}-{k}" for k in range(5)]), settings=settings)
        intervals.append(src.poll_interval_seconds)
    assert intervals == [1800, 900, 600, 600]
    polled = datetime.now(UTC)
    assert src.next_poll_at is not None and abs((src.next_poll_at - polled).total_seconds() - 600) < 30
    for _ in range(20):  # nothing new: 304s
        apply_poll(db, _ok(src.id, [], not_modified=True), settings=settings)
    assert src.poll_interval_seconds == HIGH
    assert src.not_modified_count == 20 and src.new_items_count == 20
    # Same entries again: all known, the interval stays at the ceiling.
    apply_poll(db, _ok(src.id, [f"https://example.org/a/0-{k}" for k in range(5)]), settings=settings)
    assert src.poll_interval_seconds == HIGH and src.new_items_count == 20


def test_feed_declared_ttl_delays_the_next_poll(db: Session) -> None:
    src = _src(db, "ttl")
    apply_poll(db, _ok(src.id, ["https://example.org/t/1"], declared=3 * 3600), settings=get_settings())
    assert src.poll_interval_seconds == 1800  # adaptive interval shrank (all new)...
    assert src.declared_interval_seconds == 3 * 3600
    assert src.next_poll_at is not None  # ...but the feed asked for 3 hours
    assert (src.next_poll_at - datetime.now(UTC)).total_seconds() > 3 * 3600 - 30
    apply_poll(db, _ok(src.id, [], not_modified=True), settings=get_settings())
    assert src.declared_interval_seconds == 3 * 3600  # a 304 keeps what the feed declared


def test_the_waits_after_a_failure_are_the_settings_the_docs_name(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/sources.md names the settings a failed poll waits by: the first backoff after a
    transient failure (doubled per failure), the wait after a permanent one; set them and the
    waits follow. It said "10 minutes" and "24 hours", their defaults, as if fixed. A blocked
    source, or one with a fallback to move to, backs off even after a permanent failure; and
    `veille run --all` skips the disabled sources, as its help now says."""
    docs = " ".join(
        (Path(__file__).resolve().parent.parent / "docs" / "sources.md").read_text("utf-8").split()
    )
    backoff = re.search(r"After a transient failure the next poll backs off \(`(VEILLE_\w+)`", docs)
    longest = re.search(r"after a permanent one it waits `(VEILLE_\w+)`", docs)
    assert backoff and longest, "docs/sources.md names no setting for the waits after a failure"
    monkeypatch.setenv(backoff.group(1), "120")
    monkeypatch.setenv(longest.group(1), "7200")
    settings = get_settings()

    def wait(src: Source) -> float:
        assert src.next_poll_at is not None
        return (src.next_poll_at - datetime.now(UTC)).total_seconds()

    src = _src(db, "waits")
    apply_poll(db, _error(src.id), settings=settings)
    assert 60 - 10 <= wait(src) <= 120
    apply_poll(db, _error(src.id), settings=settings)
    assert 120 - 10 <= wait(src) <= 240  # doubled
    apply_poll(db, _error(src.id, "permanent"), settings=settings)
    assert 7200 - 30 <= wait(src) <= 7200
    blocked = _src(db, "blocked")
    apply_poll(db, _error(blocked.id, "blocked"), settings=settings)
    assert wait(blocked) <= 120
    spare = _src(db, "with a fallback")
    spare.fallback_url = "https://example.org/sitemap.xml"
    apply_poll(db, _error(spare.id, "permanent"), settings=settings)
    assert wait(spare) <= 120
    from tests.test_docs import _subparser

    help_text = " ".join(_subparser(["run"])[0].format_help().split())
    assert "poll every source, due or not, but the disabled ones" in help_text


def test_the_health_labels_are_those_docs_sources_md_defines(db: Session) -> None:
    """docs/sources.md says what each `health` label of `source_health` means (the cookbook
    lists them and sent the reader there, which defined none); `quiet` as it says: no entry new
    to the archive for N days, and an entry another source listed first is not new."""
    docs = " ".join(
        (Path(__file__).resolve().parent.parent / "docs" / "sources.md").read_text("utf-8").split()
    )
    said = re.search(r"`quiet` \(no entry new to the archive for (\d+) days", docs)
    assert said, "docs/sources.md does not say what `quiet` means"
    days = int(said.group(1))
    defined = set(
        re.findall(r"`([a-z][a-z ]*)`", docs.split("gives each source one `health` label", 1)[1][:700])
    )
    labels = {
        "disabled",
        "failing",
        "never polled",
        "blocked",
        "erroring",
        "on fallback",
        "warning",
        "quiet",
        "ok",
    }
    assert labels <= defined, labels - defined
    settings = get_settings()
    first, second = _src(db, "Le Fil"), _src(db, "Le Fil - Politique")
    apply_poll(db, _ok(first.id, ["https://example.org/p/1", "https://example.org/p/2"]), settings=settings)
    apply_poll(db, _ok(second.id, ["https://example.org/p/2"]), settings=settings)
    db.flush()

    def health() -> dict[str, str]:
        rows = db.execute(sa.text("SELECT name, health FROM source_health WHERE name LIKE 'Le Fil%'"))
        return {name: label for name, label in rows.all()}

    assert health() == {"Le Fil": "ok", "Le Fil - Politique": "quiet"}
    for age, label in ((days - 1, "ok"), (days + 1, "quiet")):
        first.last_new_item_at = datetime.now(UTC) - timedelta(days=age)
        db.flush()
        assert health()["Le Fil"] == label, age


def test_the_new_items_of_the_week_are_counted_from_an_index_of_their_own(db: Session) -> None:
    """`veille sources` counts each source's URLs live polling queued in 7 days; no index
    covered url_queue.discovered_at, so every call read the whole queue (never pruned). The
    partial index of migration 0044 holds the polled rows by discovery time and source
    (bench/queue_recent.py: about 4x on 1M rows); the count is the same."""
    from monitors.collect.health import source_rows

    src = _src(db, "Hebdo")
    db.execute(
        sa.text(
            "INSERT INTO url_queue (url, canonical_url, source_id, discovered_at, found_by)"
            " SELECT 'https://hebdo.example/' || g, 'https://hebdo.example/' || g, :s,"
            "        now() - g * interval '1 hour', CASE WHEN g % 3 = 0 THEN 'backfill' ELSE 'poll' END"
            " FROM generate_series(1, 3000) g"
        ),
        {"s": src.id},
    )
    db.execute(sa.text("ANALYZE url_queue"))
    sent: list[tuple[str, Any]] = []

    def listen(conn: object, cursor: object, statement: str, params: Any, *_: object) -> None:
        if "url_queue" in statement:
            sent.append((statement, params))

    engine = db.get_bind()
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        (row,) = source_rows(db, ["Hebdo"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    # hours 1 to 168 are within the week (now() is the transaction's); a third are a backfill's
    assert row["new_7d"] == len([g for g in range(1, 169) if g % 3])
    ((statement, params),) = sent
    db.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in db.connection().exec_driver_sql(f"EXPLAIN {statement}", params))
    assert "url_queue_poll_discovered" in plan, plan


def test_failing_after_three_days_disabled_after_thirty_then_re_enabled(db: Session) -> None:
    settings = get_settings()
    src = _src(db, "flaky")
    apply_poll(db, _error(src.id), settings=settings)
    assert src.status == "active" and src.failing_since is not None
    src.failing_since = datetime.now(UTC) - timedelta(days=3, minutes=1)
    apply_poll(db, _error(src.id), settings=settings)
    assert src.status == "failing" and src.consecutive_failures == 2
    apply_poll(db, _ok(src.id, []), settings=settings)  # recovers by itself
    assert src.status == "active" and src.consecutive_failures == 0 and src.failing_since is None
    for _ in range(30):
        apply_poll(db, _error(src.id, "permanent"), settings=settings)
    assert src.status == "disabled" and src.consecutive_failures == 30 and src.total_failures == 32
    db.flush()
    assert due_sources(db, [src.id], force=True) == []  # even --all skips it

    from monitors.collect.sources import set_source_enabled

    assert set_source_enabled(db, "flaky", True)
    db.refresh(src)
    assert src.status == "active" and src.consecutive_failures == 0 and src.next_poll_at is None
    assert src.total_failures == 32 and src.last_error == "HTTP 503"  # history kept
    assert [s.id for s in due_sources(db, [src.id])] == [src.id]
    assert not set_source_enabled(db, "no such source", True)


def _refused(source_id: int) -> PollOutcome:
    """A poll refused for the source's private address (VEILLE_ALLOW_PRIVATE_NETWORK off)."""
    reason = "host h has a private address 10.0.0.1 (set VEILLE_ALLOW_PRIVATE_NETWORK=1 to allow)"
    fetched = FetchResult(
        "https://example.org/f",
        "https://example.org/f",
        "refused",
        error_class="permanent",
        reason=reason,
        sent=False,
        private_address=True,
    )
    return PollOutcome(source_id, fetched, error_class="permanent", error=reason)


def test_refusals_for_a_private_address_do_not_disable_the_source(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A month of daily polls refused by VEILLE_ALLOW_PRIVATE_NETWORK (off) is not the source's
    failing: on main the 30th refusal disabled it, due_sources skipped it, and turning the
    setting on brought it back never, silently. The first real failure after the refusals
    starts the count of 30 anew."""
    settings = get_settings()
    src = _src(db, "intranet")
    for _ in range(45):
        apply_poll(db, _refused(src.id), settings=settings)
    assert src.status != "disabled", src.status
    assert src.consecutive_failures == 45 and src.last_error_class == "private-address"
    db.flush()
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "1")
    assert [s.id for s in due_sources(db, [src.id])] == [src.id]  # polled at once
    apply_poll(db, _error(src.id, "permanent"), settings=get_settings())  # its own failure now
    assert src.status != "disabled" and src.consecutive_failures == 1, src.status
    for _ in range(28):
        apply_poll(db, _error(src.id, "permanent"), settings=get_settings())
    assert src.status != "disabled" and src.consecutive_failures == 29
    apply_poll(db, _error(src.id, "permanent"), settings=get_settings())
    assert src.status == "disabled" and src.total_failures == 75


@pytest.mark.usefixtures("prefect_harness")
def test_sources_commands_table_enable_disable(clean_db: sa.Engine, tmp_path: Path) -> None:
    from flows.cli import main
    from tests.site import write_sources

    sources = write_sources(
        tmp_path / "s.toml",
        [
            {
                "name": "Parti A",
                "kind": "listing",
                "url": "https://a.example/actualites",
                "owner": "party",
                "family": "centre",
            },
            {"name": "Journal B", "kind": "feed", "url": "https://b.example/rss.xml", "owner": "media"},
        ],
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sources", "--sources", str(sources)]) == 0
    text = out.getvalue()
    header = text.splitlines()[0].split()
    assert header[:8] == [
        "name",
        "kind",
        "owner",
        "status",
        "last_success",
        "new_7d",
        "next_poll",
        "interval",
    ]
    # README's command table names the columns in their order (it left out failures)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    said = readme.split("those not polled yet marked `new`): ", 1)[1].split(";", 1)[0].split(", ")
    words = {"last success": "last_success", "new items in 7 days": "new_7d", "next poll": "next_poll"}
    words |= {"failures (in a row)": "failures", "suggested feeds": "suggested", "last error": "last_error"}
    assert [words.get(column, column) for column in said] == header
    # listing writes nothing: the file's sources show as new until a run (or enable/disable) adds them
    assert "last_error" in header and "Parti A" in text and "2 sources: 2 new" in text
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM sources")) == 0
    # options anywhere: the file after the name
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["sources", "disable", "Journal B", "--sources", str(sources)]) == 0
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT status FROM sources WHERE name = 'Journal B'")) == "disabled"
        assert conn.scalar(sa.text("SELECT count(*) FROM sources")) == 1
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sources", "enable", "Journal B"]) == 0
        assert main(["sources", "--sources", str(sources)]) == 0
    assert "Journal B: active, due for a poll" in out.getvalue()
    assert "2 sources: 1 active, 1 new" in out.getvalue()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sources"]) == 0  # the archive's sources only
    assert "Journal B" in out.getvalue() and "Parti A" not in out.getvalue()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["sources", "disable", "Nobody", "--sources", str(sources)]) == 2
    assert "no source named 'Nobody' in" in err.getvalue()
    assert main(["sources", "enable", "Nobody"]) == 2


def test_enable_is_refused_while_the_sources_file_keeps_the_source_off(
    clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/sources.md: `enabled = false` keeps a source off, each run reading the file
    disables it, and `veille sources enable NAME` refuses it while the file says so. Before,
    enable said "active, due for a poll" (exit 0) and the next run turned it off again without
    a word; `true`, the default, turns nothing back on."""
    from flows.cli import main

    sources = tmp_path / "s.toml"
    entry = (
        '[[source]]\nname = "Le Blog"\nkind = "feed"\nurl = "http://127.0.0.1:9/rss.xml"\nowner = "media"\n'
    )
    sources.write_text(entry + "enabled = false\n", encoding="utf-8")

    def status() -> str | None:
        with clean_db.connect() as conn:
            return conn.scalar(sa.text("SELECT status FROM sources WHERE name = 'Le Blog'"))

    def enable(*argv: str) -> tuple[int, str]:
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(["sources", "enable", "Le Blog", *argv])
        return code, err.getvalue()

    code, err = enable("--sources", str(sources))
    assert code == 2 and status() is None, err
    assert err.startswith(f"veille: error: {sources} says enabled = false for source 'Le Blog'"), err
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(sources)]) == 0  # the run reads it: off, not polled
    assert status() == "disabled"
    monkeypatch.setenv("VEILLE_SOURCES", str(sources))  # the file the runs read by default
    code, err = enable()
    assert code == 2 and status() == "disabled" and "says enabled = false" in err
    sources.write_text(entry, encoding="utf-8")  # enabled: true by default
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(sources)]) == 0
    assert status() == "disabled"  # turns nothing back on
    assert enable() == (0, "") and status() == "active"


def test_a_source_taken_out_of_the_file_is_kept_and_no_longer_polled(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/sources.md: a source taken out of the file stays in the archive with its articles,
    the runs reading the file no longer poll it (`--all` neither), `veille sources` lists it
    and `veille sources --sources FILE` does not (the doc said nothing of it)."""
    from flows.cli import main
    from tests.site import rss_feed, seed_site, write_sources

    docs = " ".join(
        (Path(__file__).resolve().parent.parent / "docs" / "sources.md").read_text("utf-8").split()
    )
    assert "A source taken out of the file stays in the archive, its articles and history kept" in docs
    seed_site(site)
    site.add("/b.xml", rss_feed(site.base, [], title="B"), content_type="application/rss+xml")
    kept = {"name": "Gardé", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}
    gone = {"name": "Retiré", "kind": "feed", "url": f"{site.base}/b.xml", "owner": "media"}
    assert main(["run", "--sources", str(write_sources(tmp_path / "s.toml", [kept, gone]))]) == 0
    polls = len(site.hits("/b.xml"))
    sources = write_sources(tmp_path / "s.toml", [kept])
    assert main(["run", "--all", "--sources", str(sources)]) == 0
    assert len(site.hits("/b.xml")) == polls == 1
    with clean_db.connect() as conn:
        names = set(conn.scalars(sa.text("SELECT name FROM sources")))
        articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
    assert names == {"Gardé", "Retiré"} and articles == 5
    capsys.readouterr()
    assert main(["sources"]) == 0
    assert "Retiré" in capsys.readouterr().out
    assert main(["sources", "--sources", str(sources)]) == 0
    assert "Retiré" not in capsys.readouterr().out


def _next_poll(engine: sa.Engine) -> str:
    """The next-poll column of ``veille sources`` for the one source."""
    from monitors.collect.health import source_rows

    with Session(engine) as session:
        (row,) = source_rows(session)
    return str(row["next_poll"])


@pytest.mark.usefixtures("direct")  # veille run as a user without Prefect runs it
def test_a_source_refused_for_its_private_address_is_polled_once_the_setting_allows_it(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source on a private address is refused while VEILLE_ALLOW_PRIVATE_NETWORK is off, and
    the message says to set it. The refusal was a permanent failure, its next poll a day away
    (VEILLE_MAX_POLL_INTERVAL), so the user who set it and ran again got "no source was due"
    for a day: the setting, not the source, decides, and the next run polls it at once."""
    seed_site(site)
    sources = _sources(tmp_path, site, "/feed.xml")
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "0")
    code, out, err = _run(["run", "--sources", str(sources)])
    assert code == 3, out + err
    with clean_db.connect() as conn:
        error = conn.scalar(sa.text("SELECT last_error FROM sources"))
    assert "VEILLE_ALLOW_PRIVATE_NETWORK=1" in error, error
    code, out, err = _run(["run", "--sources", str(sources)])  # the setting unchanged: still a day away
    assert "no source was due" in out + err, out + err
    assert not site.hits("/feed.xml")
    assert re.fullmatch(r"in 2[34]\.\dh", _next_poll(clean_db)), _next_poll(clean_db)  # veille sources
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "1")
    # veille sources says what the next run does (main: still "in 24.0h" there)
    assert _next_poll(clean_db) == "due"
    code, out, err = _run(["run", "--sources", str(sources)])
    assert code == 0, out + err
    assert "1 source polled (0 with errors), 5 new URLs, 5 stored" in out, out + err
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT last_error, consecutive_failures FROM sources")).one() == (
            None,
            0,
        )


def test_what_waits_after_a_run_with_nothing_due_agrees_with_when_a_source_is_due(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that found nothing due says which of its sources wait for a retry
    (queue.waiting, flows.pipeline.say_what_waits). A source refused for its private address,
    a day away by its stored next_poll_at, is due at once with VEILLE_ALLOW_PRIVATE_NETWORK on
    (polls.next_poll, what due_sources polls): it does not wait then (main: counted waiting,
    "the first at" a day away); with the setting off it waits, as a source in its backoff."""
    from monitors.archive.queue import waiting
    from monitors.collect.results import PRIVATE_ADDRESS, TRANSIENT

    t = datetime.now(UTC)
    refused, down = (
        Source(name=name, kind="feed", url=url, owner="media", consecutive_failures=1, last_error_class=why)
        for name, url, why in (
            ("refused", "http://10.0.0.5/feed.xml", PRIVATE_ADDRESS),
            ("down", "http://down.example/feed.xml", TRANSIENT),
        )
    )
    refused.next_poll_at, down.next_poll_at = t + timedelta(hours=24), t + timedelta(hours=1)
    db.add_all([refused, down])
    db.flush()
    ids, names = [refused.id, down.id], ["refused", "down"]
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "0")
    assert due_sources(db, ids) == []
    found = waiting(db, names)
    assert sorted(found.sources) == [("10.0.0.5", None), ("down.example", None)]
    assert found.first["source"] == down.next_poll_at
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "1")
    assert [s.name for s in due_sources(db, ids)] == ["refused"]
    found = waiting(db, names)
    assert found.sources == [("down.example", None)]
    assert found.first["source"] == down.next_poll_at


@pytest.mark.usefixtures("direct")  # veille run as a user without Prefect runs it
def test_a_page_refused_for_its_private_address_is_fetched_once_the_setting_allows_it(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages queued, then refused for their private address while VEILLE_ALLOW_PRIVATE_NETWORK
    is off, are settled failed with a reason that says so; the first run with the setting on
    queues them again and fetches them, as a source refused so is polled (main: failed for
    good, the run after setting it said no source was due)."""
    seed_site(site)
    sources = _sources(tmp_path, site, "/feed.xml")
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "1")
    code, out, err = _run(["run", "--sources", str(sources), "--max-items", "1"])
    assert "5 new URLs, 1 stored" in out, out + err
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "0")
    hits = len(site.log)
    for _ in range(2):  # the source not due, the 4 pages left refused; again: still failed
        code, out, err = _run(["run", "--sources", str(sources)])
        with clean_db.connect() as conn:
            rows = conn.execute(sa.text("SELECT state, reason FROM url_queue WHERE article_id IS NULL")).all()
        assert len(rows) == 4 and {r.state for r in rows} == {"failed"}, rows
        assert all(r.reason.startswith("[private-address] refused: ") for r in rows), rows
        assert all("(set VEILLE_ALLOW_PRIVATE_NETWORK=1 to allow)" in r.reason for r in rows), rows
    assert len(site.log) == hits  # never asked
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "1")
    code, out, err = _run(["run", "--sources", str(sources)])
    assert code == 0, out + err
    assert "4 stored" in out, out + err
    with clean_db.connect() as conn:
        states = conn.execute(sa.text("SELECT state, count(*) FROM url_queue GROUP BY 1")).all()
        refused = conn.scalar(
            sa.text("SELECT count(*) FROM fetch_log WHERE kind = 'page' AND outcome = 'refused'")
        )
    assert states == [("fetched", 5)] and refused == 4, states
    hits = len(site.log)
    code, out, err = _run(["run", "--sources", str(sources)])  # nothing queued again: done
    assert len(site.log) == hits, out + err


def test_the_drain_s_requeue_of_private_refusals_reads_its_own_index(clean_db: sa.Engine) -> None:
    """queue.requeue_private_refusals runs at every drain while VEILLE_ALLOW_PRIVATE_NETWORK is
    on: its WHERE is the predicate of the partial index url_queue_private_refusals (0051), so
    the planner reads that index (empty nearly always), not the whole queue (main: no such
    index, every drain read the queue whole)."""
    from monitors.archive.queue import _REQUEUE_PRIVATE

    refusals = importlib.import_module("migrations.versions.0051_refusals_index_headline").REFUSALS
    assert refusals.replace("state", "q.state").replace("reason", "q.reason") in _REQUEUE_PRIVATE.text
    with clean_db.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # a table this small is read whole
        plan = "\n".join(conn.scalars(sa.text(f"EXPLAIN {_REQUEUE_PRIVATE.text}")))
    assert "url_queue_private_refusals" in plan, plan
