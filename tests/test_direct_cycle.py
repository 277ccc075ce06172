"""`veille run` without a Prefect server runs its cycle directly (flows/direct.py): no Prefect
import, no temporary server, and what users rely on kept: the summary, the exit codes, the
retries of transient failures, the log lines. With a server configured, the flows run.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from flows.cli import main
from flows.direct import with_retries
from flows.mode import use_flows
from tests.site import LocalSite, seed_site, slow_feed_until_logged, write_sources
from tests.test_concurrent_runs import ROOT


def _sources(tmp_path: Path, site: LocalSite, *paths: str) -> Path:
    return write_sources(
        tmp_path / "sources.toml",
        [
            {"name": f"S{i}", "kind": "feed", "url": f"{site.base}{p}", "owner": "media"}
            for i, p in enumerate(paths)
        ],
    )


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """`veille run` as a user without a Prefect server runs it; no flow may start."""
    import flows.runs

    def no_flow(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Prefect flow started")

    monkeypatch.setenv("VEILLE_PREFECT", "off")
    monkeypatch.delenv("PREFECT_LOGGING_LEVEL", raising=False)  # Prefect's default: INFO
    monkeypatch.setattr(flows.runs, "run_flow", no_flow)


@pytest.mark.usefixtures("direct")
def test_direct_run_stores_summarises_and_exits_as_the_flow_does(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    seed_site(site)
    code, out, err = _run(["run", "--sources", str(_sources(tmp_path, site, "/feed.xml"))])
    assert code == 0, out + err
    assert "1 source polled (0 with errors), 5 new URLs, 5 stored" in out
    assert "| INFO    | 1 source polled: 5 new entries, 0 in error" in err  # the log lines
    assert "All good: 1 source polled" in err
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM articles")).scalar() == 5
        # fetched by no flow run: the fetch log has no run id
        assert conn.execute(sa.text("SELECT count(*) FROM fetch_log WHERE run_id IS NOT NULL")).scalar() == 0

    code, out, err = _run(["run", "--sources", str(_sources(tmp_path, site, "/feed.xml"))])
    assert code == 0 and "nothing polled (no source was due" in out
    assert "Nothing to do: no source was due and the queue was empty." in err

    partial = _sources(tmp_path, site, "/feed.xml", "/nope.xml")
    code, out, err = _run(["run", "--all", "--sources", str(partial)])
    assert code == 1 and err.rstrip().splitlines()[-1].startswith(
        "veille: Partly done (1 of 2 sources in error)"
    )
    # the line it ends with names a command that shows the failed source and why, run as printed:
    # that source alone (`veille sources` listed every source, the failing ones among the others)
    (hint,) = re.findall(r"^the sources in error and why: `(veille [^`]+)`", out, flags=re.M)
    code, listed, _ = _run(shlex.split(hint)[1:])
    header, *rows, _, closing = listed.splitlines()
    (failed,) = rows
    failures = failed[header.index("failures") :].split()[0]
    assert code == 0 and failed.startswith("S1 ") and failures == "1", listed
    assert failed.endswith("[permanent] HTTP 404 Not Found") and closing == "1 of 2 sources in error", listed
    code, out, _ = _run(
        ["run", "--all", "--sources", str(_sources(tmp_path, site, "/nope.xml", "/gone.xml"))]
    )
    assert code == 3 and "2 sources polled (2 with errors)" in out


@pytest.mark.usefixtures("direct")
def test_a_direct_run_leaves_the_veille_logger_as_it_found_it(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A direct run prints the ``veille`` logger's lines on stderr while it runs, then leaves
    the logger as it was: it kept its stderr handler, propagate=False and the run's level
    for the rest of the process, so a program's own handlers (here pytest's) got none of the
    library's lines after its first run, and a later test's handler none at INFO."""
    logger = logging.getLogger("veille")
    before = (logger.level, logger.propagate, list(logger.handlers))
    seed_site(site)
    code, out, err = _run(["run", "--sources", str(_sources(tmp_path, site, "/feed.xml"))])
    assert code == 0, out + err
    assert "| INFO    | 1 source polled: 5 new entries, 0 in error" in err  # shown while it ran
    assert (logger.level, logger.propagate, list(logger.handlers)) == before
    with caplog.at_level(logging.INFO, logger="veille"):
        logger.info("a line after the run")
    assert caplog.messages == ["a line after the run"]


def test_with_retries_tries_transient_failures_again_and_nothing_else() -> None:
    calls: list[str] = []
    waits: list[float] = []

    def flaky(kind: str) -> str:
        calls.append(kind)
        if kind == "transient" and len(calls) < 3:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        if kind == "bug":
            raise ValueError("bad data")
        return "done"

    assert with_retries(flaky, "transient", sleep=waits.append) == "done"
    assert calls == ["transient"] * 3 and waits == [2, 10]  # the flows' retry_delay_seconds

    calls.clear()
    waits.clear()
    with pytest.raises(ValueError):
        with_retries(flaky, "bug", sleep=waits.append)
    assert calls == ["bug"] and waits == []  # a bug is not retried

    def down() -> None:
        calls.append("down")
        raise sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("no server"))

    calls.clear()
    with pytest.raises(sa.exc.OperationalError):
        with_retries(down, sleep=waits.append)
    assert calls == ["down"] * 3  # two retries, then the failure is the step's


def test_veille_prefect_on_and_off_override_the_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    assert use_flows("on") is True
    assert use_flows("off") is False
    monkeypatch.setenv("VEILLE_PREFECT", "sometimes")
    code, _, err = _run(["run"])
    assert (
        code == 2 and err == "veille: error: VEILLE_PREFECT must be one of auto, on, off, got 'sometimes'\n"
    )


# Where a user can configure a Prefect server; our answer must be Prefect's own.
CONFIGS = {
    "nothing": {},
    "environment": {"env": "http://127.0.0.1:4200/api"},
    ".env": {".env": "PREFECT_API_URL=http://127.0.0.1:4200/api\n"},
    "prefect.toml": {"prefect.toml": '[api]\nurl = "http://127.0.0.1:4200/api"\n'},
    "pyproject.toml": {"pyproject.toml": '[tool.prefect.api]\nurl = "http://127.0.0.1:4200/api"\n'},
    "profile": {
        "profiles.toml": 'active = "mine"\n[profiles.mine]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n'
    },
    "inactive profile": {
        "profiles.toml": 'active = "other"\n[profiles.other]\n[profiles.mine]\n'
        'PREFECT_API_URL = "http://127.0.0.1:4200/api"\n'
    },
    # An empty value set earlier in Prefect's order wins over a URL later in it: no server.
    "empty environment over .env": {"env": "", ".env": "PREFECT_API_URL=http://127.0.0.1:4200/api\n"},
    "empty .env over prefect.toml": {
        ".env": "PREFECT_API_URL=\n",
        "prefect.toml": '[api]\nurl = "http://127.0.0.1:4200/api"\n',
    },
}
NO_SERVER = {"nothing", "inactive profile", "empty environment over .env", "empty .env over prefect.toml"}

PROBE = textwrap.dedent(
    """
    import sys
    from flows.mode import prefect_api_configured
    ours = prefect_api_configured()
    assert "prefect" not in sys.modules, "the check imported Prefect"
    from prefect.settings import get_current_settings
    print(ours, bool(get_current_settings().api.url))
    """
)


@pytest.mark.parametrize("where", list(CONFIGS))
def test_a_configured_prefect_server_is_found_where_prefect_finds_it(where: str, tmp_path: Path) -> None:
    config = CONFIGS[where]
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PYTHONPATH=str(ROOT), PREFECT_HOME=str(home))
    if "env" in config:
        env["PREFECT_API_URL"] = config["env"]
    for name in (".env", "prefect.toml", "pyproject.toml"):
        if name in config:
            (tmp_path / name).write_text(config[name])
    if "profiles.toml" in config:
        (home / "profiles.toml").write_text(config["profiles.toml"])
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    ours, prefects = done.stdout.split()
    assert ours == prefects, (where, done.stdout)
    assert ours == str(where not in NO_SERVER)


def test_veille_run_without_a_server_imports_no_prefect(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """The command as a user runs it, without a Prefect server: it stores the pages and
    never imports Prefect (so it starts no temporary server)."""
    seed_site(site)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VEILLE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        PREFECT_HOME=str(tmp_path / "prefect"),
        VEILLE_DATABASE_URL=database_url,
        VEILLE_DATA_DIR=str(tmp_path / "data"),
        VEILLE_ALLOW_PRIVATE_NETWORK="1",
        VEILLE_PER_HOST_DELAY="0",
    )
    probe = "import sys, flows.cli\ncode = flows.cli.main()\nprint('prefect' in sys.modules)\nsys.exit(code)"
    done = subprocess.run(
        [sys.executable, "-c", probe, "run", "--sources", str(_sources(tmp_path, site, "/feed.xml"))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 stored" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1] == "False"


@pytest.mark.usefixtures("direct")
def test_max_items_ingests_at_most_that_many_pages(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """`veille run --max-items N` (README, `veille run --help`: "ingest at most N pages")
    leaves the rest of the queue pending for the next run, whatever the number of workers: no
    failure, exit 0 (docs/operating.md's exit codes said 0 meant every page settled), and
    stderr says how many wait (before, nothing did)."""
    seed_site(site)
    sources = str(_sources(tmp_path, site, "/feed.xml"))

    def counts() -> tuple[int, int]:
        with clean_db.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM url_queue WHERE state <> 'pending'")).scalar()
            pending = conn.execute(sa.text("SELECT count(*) FROM url_queue WHERE state = 'pending'")).scalar()
        return int(stored or 0), int(pending or 0)

    code, out, err = _run(["run", "--sources", sources, "--max-items", "2"])
    assert code == 0, out + err
    assert counts() == (2, 3)
    assert "3 URLs left in the queue for the next run (at most 2 pages this run)" in err
    # the verdict says so too: "All good" alone said nothing of the pages waiting
    assert "All good: 1 source polled" in err and ", 3 URLs left in the queue for the next run." in err
    code, out, err = _run(["run", "--sources", sources, "--max-items", "1"])
    assert code == 0 and counts() == (3, 2)
    assert "2 URLs left in the queue for the next run (at most 1 page this run)" in err
    exits = " ".join(
        (Path(__file__).resolve().parent.parent / "docs" / "operating.md").read_text("utf-8").split()
    )
    assert (
        "| 0 | all good: every due source polled, every page settled (or nothing was due); with"
        " `--max-items N`, the pages past N wait in the queue for the next run, no failure" in exits
    )
    code, out, err = _run(["run", "--sources", sources])
    assert code == 0, out + err
    assert counts() == (5, 0)


@pytest.mark.usefixtures("direct")
def test_veille_run_says_why_it_polled_nothing_as_the_verdict_does(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A sources file with no source, or whose every source is disabled: `veille run` printed
    "nothing polled (no source was due; use --all to force)", though --all would poll nothing
    either; it says what the run's verdict says. Sources only not due yet keep those words."""
    empty = tmp_path / "empty.toml"
    empty.write_text("# every source commented out\n")
    code, out, err = _run(["run", "--sources", str(empty)])
    assert code == 0 and f"nothing polled ({empty} has no source)" in out, out + err
    assert f"Nothing to do: {empty} has no source and the queue was empty." in err

    seed_site(site)
    off = _sources(tmp_path, site, "/feed.xml", "/nope.xml").rename(tmp_path / "off.toml")
    off.write_text(off.read_text().replace('owner = "media"', 'owner = "media"\nenabled = false'))
    for extra in ([], ["--all"]):
        code, out, err = _run(["run", *extra, "--sources", str(off)])
        assert code == 0, out + err
        assert f"nothing polled (every source of {off} is disabled; `veille sources enable NAME`" in out, out
        assert f"Nothing to do: every source of {off} is disabled and the queue was empty." in err

    # one source, enabled in its file but disabled from the command line; then re-enabled
    one = _sources(tmp_path, site, "/feed.xml")
    assert _run(["sources", "disable", "S0", "--sources", str(one)])[0] == 0
    code, out, err = _run(["run", "--sources", str(one)])
    assert code == 0 and f"nothing polled (the one source of {one} is disabled;" in out, out + err
    assert _run(["sources", "enable", "S0"])[0] == 0
    code, out, err = _run(["run", "--sources", str(one)])
    assert code == 0 and "1 source polled (0 with errors), 5 new URLs" in out, out + err
    code, out, err = _run(["run", "--sources", str(one)])
    assert code == 0 and "nothing polled (no source was due; use --all to force)" in out, out + err


def test_veille_run_all_that_polled_nothing_does_not_suggest_all(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille run --all` that polled nothing when why cannot be told any more (its sources file
    changed since the run read it and no longer reads; or the database did not answer) printed
    "nothing polled (no source was due; use --all to force)", a flag the user had given. It
    says that --all polled none and that why could not be told; without --all, the hint stays."""
    import time

    from flows.commands.run import report

    seed_site(site)
    sources = _sources(tmp_path, site, "/feed.xml")
    sources.write_text("[[source]\n")  # edited while the run ran: no longer TOML
    assert report([], 0, None, time.monotonic(), str(sources), forced=True) == 0
    out = capsys.readouterr().out
    assert "--all to force" not in out, out
    assert f"nothing polled (--all polled no source of {sources}; why could not be told" in out, out
    report([], 0, None, time.monotonic(), str(sources), forced=False)
    assert "nothing polled (no source was due; use --all to force)" in capsys.readouterr().out


@pytest.mark.usefixtures("direct")
def test_the_log_lines_count_one_source_and_one_page_in_the_singular(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A first run of a one-source file (docs: point a sources file of your own at a site)
    logged "1 sources in FILE, 1 due" and "worker 0: 1 pages done"."""
    seed_site(site)
    sources = _sources(tmp_path, site, "/feed.xml")
    code, out, err = _run(["run", "--sources", str(sources), "--max-items", "1"])
    assert code == 0, out + err
    assert f"| INFO    | 1 source in {sources}, 1 due" in err, err
    assert "1 sources" not in err and "1 pages" not in err, err
    assert ": 1 page done (about " in err, err


@pytest.mark.usefixtures("direct")
def test_a_run_says_how_far_its_poll_has_gone_before_the_last_source_answers(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """`veille run` said "3 sources in FILE, 3 due", then nothing until every source had
    answered (49 default sources: up to VEILLE_FETCH_DEADLINE): the log says "polled 1 of 3
    sources" as the first answers, while the slow one is still asked."""
    sources = _sources(tmp_path, site, "/feed.xml", "/other.xml", "/slow.xml")
    with slow_feed_until_logged(site, "veille", "polled 1 of 3 sources (0 in error)") as released:
        code, out, err = _run(["run", "--sources", str(sources)])
    assert code == 0, out + err
    assert released.is_set(), f"the slow source answered before any progress line:\n{err}"
    assert "| INFO    | polled 1 of 3 sources (0 in error)" in err, err
    assert err.index("polled 1 of 3 sources") < err.index("3 sources polled: ") < err.index("All good")
    assert "3 sources polled (0 with errors)" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.usefixtures("direct")
def test_a_run_on_a_terminal_shows_its_poll_on_a_progress_bar(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """On a terminal, the poll's progress is a bar on stderr (as a backfill's or an export's),
    the log lines above it; elsewhere (a pipe, a log file) the log lines alone say it."""
    seed_site(site)
    sources = _sources(tmp_path, site, "/feed.xml", "/nope.xml")
    out, err = io.StringIO(), _Terminal()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", "--sources", str(sources)])
    assert code == 1, out.getvalue() + err.getvalue()
    assert "sources polled (1 in error)" in err.getvalue() and "2/2" in err.getvalue(), err.getvalue()
    assert "2 sources polled: 5 new entries, 1 in error" in err.getvalue()  # the log lines still there
    code, _, piped = _run(["run", "--all", "--sources", str(sources)])
    assert "sources polled (1 in error)" not in piped and "2 sources polled: " in piped, piped


def test_the_poll_progress_counts_a_source_polled_again_once_and_says_it_every_few_seconds() -> None:
    """A batch tried again (a transient failure of the database) polls its sources again: they
    are counted once, in error as their last poll says; a line at most every PROGRESS_SECONDS."""
    import flows.polling
    from monitors.collect.poll import PollOutcome, SourceState
    from monitors.collect.results import FetchResult

    lines: list[str] = []

    class Logger:
        def info(self, message: str, *args: object) -> None:
            lines.append(message % args)

    bars: list[tuple[int, str]] = []
    progress = flows.polling.PollProgress(4, Logger(), lambda done, note: bars.append((done, note)))
    fetched = FetchResult("http://x/f", "http://x/f", "ok", 200)
    a, b, c = (SourceState(i, f"S{i}", "feed", "http://x/f") for i in (1, 2, 3))
    progress(a, PollOutcome(1, fetched, error="HTTP 503"))
    progress(b, PollOutcome(2, fetched))
    progress.last -= flows.polling.PROGRESS_SECONDS  # as if the last line were that old
    progress(a, PollOutcome(1, fetched))  # polled again: no longer in error
    progress(c, PollOutcome(3, fetched, error="HTTP 404"))
    assert lines == ["polled 1 of 4 sources (1 in error)", "polled 2 of 4 sources (0 in error)"]
    assert bars == [(1, "1 in error"), (2, "1 in error"), (2, "0 in error"), (3, "1 in error")]
