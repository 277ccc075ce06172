"""A run's state says what happened: exit codes, state name and message, a summary line on
the parent run, artifacts from every flow that does work, empty cycles labelled as such."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    LogFilter,
    LogFilterFlowRunId,
)

from flows.cli import main
from flows.runs import ingest_flow, run_flow
from tests.site import LocalSite, seed_site, slow_feed_until_logged, write_sources
from tests.test_serve import _artifacts

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _logs(flow_run_id: Any) -> list[str]:
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs go to the API in the background

    async def read() -> list[str]:
        async with get_client() as client:
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
            return [log.message for log in logs]

    return asyncio.run(read())


def _latest(key: str) -> Any:
    async def read() -> Any:
        async with get_client() as client:
            found = await client.read_latest_artifacts(
                artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
            )
            return found[0] if found else None

    return asyncio.run(read())


def _sources(tmp_path: Path, site: LocalSite, *paths: str) -> Path:
    return write_sources(
        tmp_path / "sources.toml",
        [
            {"name": f"S{i}", "kind": "feed", "url": f"{site.base}{p}", "owner": "media"}
            for i, p in enumerate(paths)
        ],
    )


def _quiet(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def test_partial_run_is_named_partial_with_a_message_and_a_summary_line(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    seed_site(site)
    sources = _sources(tmp_path, site, "/feed.xml", "/missing.xml")
    state = run_flow(sources_file=str(sources), return_state=True)
    assert state.is_completed() and state.name == "Partial"
    assert state.message is not None
    assert state.message.startswith("Partly done (1 of 2 sources in error)")
    assert "5 stored" in state.message
    flow_run_id = state.state_details.flow_run_id
    assert any(m.startswith("Partly done") and "5 stored" in m for m in _logs(flow_run_id))
    report = _artifacts(flow_run_id)["veille-run-report"].data
    assert "**Partly done (1 of 2 sources in error)" in report

    # the next cycle has nothing due: labelled empty, and the latest report stays the one above
    state = run_flow(sources_file=str(sources), return_state=True)
    assert state.is_completed() and state.name == "Completed"
    assert state.message == "Nothing to do: no source was due and the queue was empty."
    mine = _artifacts(state.state_details.flow_run_id)
    assert list(mine) == [None] and "nothing to do" in mine[None].data
    assert _latest("veille-run-report").flow_run_id == flow_run_id


@pytest.mark.parametrize("text", ["", "# every source commented out\n"])
def test_a_run_of_a_sources_file_with_no_source_says_so(
    clean_db: sa.Engine, tmp_path: Path, text: str
) -> None:
    """An emptied sources file: the run's state and its report said "no source was due", as if
    the file's sources were only not due yet (and --all would poll them): they say the file
    has none. Still Completed (nothing failed; the queue is drained as usual)."""
    sources = tmp_path / "sources.toml"
    sources.write_text(text)
    state = run_flow(sources_file=str(sources), return_state=True)
    assert state.is_completed() and state.name == "Completed", state.message
    said = f"Nothing to do: {sources} has no source and the queue was empty."
    assert state.message == said
    assert said in _artifacts(state.state_details.flow_run_id)[None].data


def test_a_run_capped_at_max_items_says_in_its_state_and_report_what_it_left(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """`--max-items 2` over 5 new URLs: Completed, "All good" (no failure, exit 0), and its
    message and report say that 3 URLs wait for the next run; they said "All good" alone."""
    seed_site(site)
    sources = _sources(tmp_path, site, "/feed.xml")
    state = run_flow(sources_file=str(sources), max_items=2, return_state=True)
    assert state.is_completed() and state.name == "Completed", state.message
    assert state.message is not None and state.message.startswith("All good: 1 source polled")
    assert state.message.endswith(", 3 URLs left in the queue for the next run."), state.message
    report = _artifacts(state.state_details.flow_run_id)["veille-run-report"].data
    assert "3 URLs left in the queue for the next run" in report


def test_an_offline_run_names_the_cause_in_its_state_and_report(clean_db: sa.Engine, tmp_path: Path) -> None:
    """Every fetch failed to resolve its host (reserved .invalid names: no network needed): the
    state message and the report artifact say so first (tests/test_offline_hint.py: the command)."""
    sources = write_sources(
        tmp_path / "offline.toml",
        [
            {"name": f"S{i}", "kind": "feed", "url": f"http://{host}.invalid/rss.xml", "owner": "media"}
            for i, host in enumerate(("nouvelles", "journal", "gazette"))
        ],
    )
    state = run_flow(sources_file=str(sources), return_state=True)
    assert state.is_failed() and state.name == "Failed"
    hint = "none of the 3 hosts resolved: is the network up?"
    assert state.message is not None
    assert state.message.startswith(f"Nothing could run ({hint}; 3 of 3 sources in error)")
    report = _artifacts(state.state_details.flow_run_id)["veille-run-report"].data
    assert hint in report


def test_exit_codes_all_good_partial_and_nothing(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    seed_site(site)
    assert _quiet(["run", "--sources", str(_sources(tmp_path, site, "/feed.xml"))])[0] == 0
    assert (
        _quiet(["run", "--all", "--sources", str(_sources(tmp_path, site, "/feed.xml", "/nope.xml"))])[0] == 1
    )
    code, out = _quiet(["run", "--all", "--sources", str(_sources(tmp_path, site, "/nope.xml", "/gone.xml"))])
    assert code == 3, out
    assert "2 sources polled (2 with errors)" in out


def _fails_saying(
    sources: Path, why: str, monkeypatch: pytest.MonkeyPatch, prefect: str, in_report: str | None = None
) -> None:
    """The flow run of ``sources`` ends Failed and its report opens with ``why`` (as markdown
    writes it, ``in_report``); `veille run --all` (``VEILLE_PREFECT=prefect``) exits 3 with
    the same verdict on stderr."""
    state = run_flow(sources_file=str(sources), force=True, return_state=True)
    assert state.is_failed() and state.name == "Failed", state.message
    assert state.message is not None and state.message.startswith(why), state.message
    assert f"**{in_report or why}" in _artifacts(state.state_details.flow_run_id)["veille-run-report"].data

    monkeypatch.setenv("VEILLE_PREFECT", prefect)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code, out = _quiet(["run", "--all", "--sources", str(sources)])
    assert code == 3, out
    assert err.getvalue().rstrip().splitlines()[-1].startswith(f"veille: {why}"), err.getvalue()


@pytest.mark.parametrize("prefect", ["on", "off"])
def test_a_run_whose_every_polled_source_failed_ends_failed_saying_why(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect: str
) -> None:
    """Every polled source failed (two at 404, one feed that is an HTML page): the flow run
    ends Failed, `veille run` exits 3 (as flows, or directly) and both give the same verdict,
    which says that every polled source failed and why, each cause with its sources; it said
    "Nothing could run (3 of 3 sources in error)", how many and not why."""
    site.add("/oops.xml", "<html><head><title>Oops</title></head><body>x</body></html>")
    sources = _sources(tmp_path, site, "/nope.xml", "/oops.xml", "/gone.xml")
    why = (
        "Nothing could run (every polled source failed: HTTP 404 Not Found (S0, S2);"
        " not a feed: an HTML page ('Oops') (S1)): 3 sources polled (3 with errors), 0 new URLs,"
    )
    _fails_saying(sources, why, monkeypatch, prefect)

    one = write_sources(
        tmp_path / "one.toml",
        [{"name": "Gone", "kind": "feed", "url": f"{site.base}/gone.xml", "owner": "media"}],
    )
    state = run_flow(sources_file=str(one), force=True, return_state=True)
    assert state.is_failed() and state.message is not None
    assert state.message.startswith(
        "Nothing could run (the one source polled failed: HTTP 404 Not Found (Gone))"
    )


CUT_FEED = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<rss version='2.0'><channel><title>Fil</title><item><title>Coup"
)


@pytest.mark.parametrize("prefect", ["on", "off"])
def test_a_run_whose_every_feed_is_malformed_with_no_entry_read_ends_failed_saying_why(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect: str
) -> None:
    """Every feed cut before its first entry: each poll was ok with a warning ("malformed
    feed, 0 entries read"), so the run said "All good" and exited 0 though nothing was read;
    each is an error of its poll now, and the run ends Failed, exit 3, saying why."""
    for path in ("/a.xml", "/b.xml"):
        site.add(path, CUT_FEED, content_type="application/rss+xml")
    sources = _sources(tmp_path, site, "/a.xml", "/b.xml")
    why = (
        "Nothing could run (every polled source failed: malformed feed, no entry could be read:"
        " SAXParseException: <unknown>:2:63: no element found (S0, S1)): 2 sources polled (2 with errors),"
    )
    _fails_saying(sources, why, monkeypatch, prefect, why.replace("<", "\\<").replace(">", "\\>"))


@pytest.mark.parametrize("prefect", ["on", "off"])
def test_a_run_with_one_feed_malformed_with_no_entry_read_is_partial(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect: str
) -> None:
    """One feed read whole, one cut before its first entry: Partial, exit 1 (it was All good, 0)."""
    seed_site(site)
    site.add("/cut.xml", CUT_FEED, content_type="application/rss+xml")
    sources = _sources(tmp_path, site, "/feed.xml", "/cut.xml")
    monkeypatch.setenv("VEILLE_PREFECT", prefect)
    code, out = _quiet(["run", "--all", "--sources", str(sources)])
    assert code == 1, out
    assert "2 sources polled (1 with errors)" in out
    assert "malformed feed, no entry could be read: SAXParseException" in out


def test_nothing_could_run_when_the_database_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "X"\nkind = "feed"\nurl = "https://x.fr/f.xml"\nowner = "media"\n')
    monkeypatch.setenv("VEILLE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert main(["run", "--sources", str(sources)]) == 3
    err = capsys.readouterr().err
    assert (
        err.startswith("veille: error: nothing could run: cannot reach PostgreSQL") and "Traceback" not in err
    )


def test_the_poll_subflow_says_what_its_polls_came_to(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """veille-poll (a veille-run's subflow) ended Completed with no message, one of two sources
    at 404 or not: its message says what the polls came to; its result is still the rows."""
    from flows.runs import poll_flow

    seed_site(site)
    state: Any = poll_flow(str(_sources(tmp_path, site, "/feed.xml", "/missing.xml")), return_state=True)
    assert state.is_completed() and state.name == "Completed"
    assert state.message == "2 sources polled (1 in error), 5 new entries."
    assert sorted(s.outcome for s in state.result()) == ["error", "ok"]
    state = poll_flow(str(_sources(tmp_path, site, "/feed.xml", "/missing.xml")), return_state=True)
    assert state.message == "No source was due."  # the 404's source waits for its retry


def test_the_poll_subflow_logs_how_far_it_has_gone_before_the_last_source_answers(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """With the flows (VEILLE_PREFECT auto/on), the poll said nothing in the run's log from
    "3 sources in FILE, 3 due" until every source had answered: "polled 1 of 3 sources" is in
    veille-poll's log as the first answers, while the slow one is still asked."""
    import logging

    from flows.runs import poll_flow

    sources = str(_sources(tmp_path, site, "/feed.xml", "/other.xml", "/slow.xml"))
    flow_runs = logging.getLogger("prefect.flow_runs")
    level = flow_runs.level
    flow_runs.setLevel(logging.INFO)  # the tests' PREFECT_LOGGING_LEVEL (WARNING) keeps INFO out
    try:
        line = "polled 1 of 3 sources (0 in error)"
        with slow_feed_until_logged(site, "prefect.flow_runs", line) as released:
            state: Any = poll_flow(sources, return_state=True)
    finally:
        flow_runs.setLevel(level)
    assert state.message == "3 sources polled (0 in error), 5 new entries."
    assert released.is_set(), "the slow source answered before any progress line"
    assert line in _logs(state.state_details.flow_run_id)


def test_a_drain_run_on_its_own_publishes_its_report(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    from flows.runs import poll_flow

    seed_site(site)
    poll_flow(str(_sources(tmp_path, site, "/feed.xml")))
    state = ingest_flow(return_state=True)
    assert state.is_completed() and state.message is not None
    assert state.message.startswith("All good: 5 pages: 5 stored")
    artifacts = _artifacts(state.state_details.flow_run_id)
    assert {"veille-drain-summary", "veille-drain-report"} <= set(artifacts)
    assert "## New articles relevant to a topic (5)" in artifacts["veille-drain-report"].data
    # an empty drain is labelled as such and publishes no keyed report
    state = ingest_flow(return_state=True)
    assert state.message == "Nothing to do: no URL of the queue was due."  # it polled nothing
    assert list(_artifacts(state.state_details.flow_run_id)) == [None]


def test_a_drain_whose_pages_reach_no_server_says_so_first(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """The drain-queue deployment's run: every page on a host that does not resolve gives the
    cause first; the next drain, with nothing due, says what waits and why."""
    from flows.runs import poll_flow

    links = "".join(f"<item><title>t</title><link>http://{h}.invalid/a</link></item>" for h in ("un", "deux"))
    site.add("/dns.xml", f"<rss version='2.0'><channel><title>f</title>{links}</channel></rss>")
    poll_flow(str(_sources(tmp_path, site, "/dns.xml")))
    state = ingest_flow(return_state=True)
    hint = "none of the 2 hosts resolved: is the network up?"
    assert state.message is not None and state.message.startswith(f"Partly done ({hint}; 2 pages to retry)")
    state = ingest_flow(return_state=True)
    assert state.message is not None and state.message.startswith(
        "Nothing to do: no URL of the queue was due; 2 URLs wait for a retry after a failure, the first at "
    )
    assert state.message.endswith(
        ", and the last fetch of each reached no server (2 hosts did not resolve): is the network up?"
    )


def test_an_instance_keeps_its_own_latest_reports(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With VEILLE_INSTANCE set (several veille serve on one Prefect server, each with its
    database), a run's, a drain's and a maintenance's artifacts are keyed with the instance's
    name (lower case, "_" and "." as "-"): one database's latest report no longer hides the
    other's. Before, every instance published under veille-run-report and the others."""
    from datetime import UTC, datetime

    from flows.artifacts import run_artifacts
    from flows.maintenance import maintenance_flow
    from flows.runs import poll_flow

    monkeypatch.setenv("VEILLE_INSTANCE", "Paris_1.b")
    seed_site(site)
    poll_flow(str(_sources(tmp_path, site, "/feed.xml")))
    drain = ingest_flow(return_state=True)
    drained = set(_artifacts(drain.state_details.flow_run_id))
    assert drained == {"veille-drain-summary-paris-1-b", "veille-drain-report-paris-1-b"}, drained

    missing = write_sources(
        tmp_path / "missing.toml",
        [{"name": "Missing", "kind": "feed", "url": f"{site.base}/missing.xml", "owner": "media"}],
    )
    since = datetime.now(UTC)
    run = run_flow(sources_file=str(missing), return_state=True)
    run_id = run.state_details.flow_run_id
    assert set(_artifacts(run_id)) == {"veille-run-summary-paris-1-b", "veille-run-report-paris-1-b"}
    assert _latest("veille-run-report-paris-1-b").flow_run_id == run_id
    assert getattr(_latest("veille-run-report"), "flow_run_id", None) != run_id
    # a cycle recorded over the REST API (flows.record) takes the same keys
    assert {a.key for a in run_artifacts([], since, None)} == {"veille-run-report-paris-1-b"}

    daily = maintenance_flow(return_state=True)
    kept = set(_artifacts(daily.state_details.flow_run_id))
    assert "veille-maintenance-report-paris-1-b" in kept and "veille-maintenance-report" not in kept, kept

    monkeypatch.delenv("VEILLE_INSTANCE")  # unset: the keys as they were
    assert {a.key for a in run_artifacts([], since, None)} == {"veille-run-report"}
