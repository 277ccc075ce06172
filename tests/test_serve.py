"""`veille serve`'s deployments: their schedules, tags and limits, and one served cycle's artifacts."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.flows import load_flow_from_entrypoint

from flows.deployments import build_deployments
from monitors.judge.topic import load_topic
from monitors.settings import get_settings
from tests.site import LocalSite, rss_feed, seed_site, write_sources

pytestmark = pytest.mark.usefixtures("prefect_harness")
ROOT = Path(__file__).resolve().parent.parent
NAMES = {"veille-run/poll-and-ingest", "veille-ingest/drain-queue", "veille-maintenance/daily"}


def _by_name(deployments: list[Any]) -> dict[str, Any]:
    return {f"{d.flow_name}/{d.name}": d for d in deployments}


def test_deployments_have_schedules_tags_and_one_run_at_a_time() -> None:
    deps = _by_name(build_deployments(get_settings()))
    assert set(deps) == {
        "veille-run/poll-and-ingest",
        "veille-ingest/drain-queue",
        "veille-maintenance/daily",
    }
    cycle, drain, daily = (
        deps["veille-run/poll-and-ingest"],
        deps["veille-ingest/drain-queue"],
        deps["veille-maintenance/daily"],
    )
    assert cycle.schedules[0].schedule.interval == timedelta(minutes=10)
    assert drain.schedules[0].schedule.interval == timedelta(minutes=10)
    offset = drain.schedules[0].schedule.anchor_date - cycle.schedules[0].schedule.anchor_date
    assert offset == timedelta(minutes=5)
    assert daily.schedules[0].schedule.cron == "30 4 * * *"
    assert daily.schedules[0].schedule.timezone == "Europe/Paris"
    for d in deps.values():
        assert d.concurrency_limit == 1
        assert "veille" in d.tags
        # the entrypoint resolves to the flow the runner will load
        assert load_flow_from_entrypoint(str(ROOT / d.entrypoint)).name == d.flow_name
    assert set(cycle.tags) == {"veille", "poll", "ingest"}
    assert set(daily.tags) == {"veille", "maintenance"}

    custom = _by_name(build_deployments(get_settings(), interval_minutes=3, maintenance_cron="0 6 * * 1"))
    assert custom["veille-run/poll-and-ingest"].schedules[0].schedule.interval == timedelta(minutes=3)
    assert custom["veille-maintenance/daily"].schedules[0].schedule.cron == "0 6 * * 1"
    with pytest.raises(ValueError, match="at least 1 minute"):
        build_deployments(get_settings(), interval_minutes=-5)


def test_schedules_are_on_the_local_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The maintenance cron ("30 4 * * *") is 04:30 on VEILLE_LOCAL_TIMEZONE's clock, as an
    article's day is; it was Europe/Paris whatever the setting."""
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "America/Montreal")
    for name, d in _by_name(build_deployments(get_settings())).items():
        assert d.schedules[0].schedule.timezone == "America/Montreal", name


def test_an_instance_name_goes_into_the_deployments_names_and_the_database_into_a_tag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """VEILLE_INSTANCE: several veille serve, each with its database, on one Prefect server
    (tests/test_serve_instances.py serves two); unset, the names stay as docs and prefect.yaml say."""
    from flows.cli import main

    url = "postgresql+psycopg://veille:secret@db:5433/veille"
    assert set(_by_name(build_deployments(get_settings(), database_url=url))) == NAMES
    monkeypatch.setenv("VEILLE_INSTANCE", "paris-2")
    deps = _by_name(build_deployments(get_settings(), database_url=url))
    assert set(deps) == {f"{name}@paris-2" for name in NAMES}
    for d in deps.values():
        assert "database:db:5433/veille" in d.tags and not any("secret" in t for t in d.tags)
    socket = "postgresql+psycopg://postgres:@/veille?host=/home/me/.local/share/veille/pgdata"
    (cycle, *_) = build_deployments(get_settings(), database_url=socket)
    assert "database:/home/me/.local/share/veille/pgdata/veille" in cycle.tags

    monkeypatch.setenv("VEILLE_INSTANCE", "paris/2")  # Prefect reads "/" as flow/deployment
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "veille: error: VEILLE_INSTANCE must be a short name (letters, digits, '-', '_' or '.',"
        " at most 40, starting with a letter or a digit), got 'paris/2'\n"
    )


def test_serve_command_serves_the_deployments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import flows.commands.serve
    from flows.cli import main

    served: list[Any] = []
    monkeypatch.setattr(flows.commands.serve, "serve_deployments", served.extend)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.toml").write_text(  # read before serving, as `veille run` does
        '[[source]]\nname = "Mon journal"\nkind = "feed"\nurl = "https://journal.fr/rss"\nowner = "media"\n'
    )
    assert (
        main(["serve", "--interval", "3", "--sources", "mine.toml", "--maintenance-cron", "0 6 * * 1"]) == 0
    )
    deps = _by_name(served)
    assert set(deps) == NAMES
    cycle = deps["veille-run/poll-and-ingest"]
    assert cycle.schedules[0].schedule.interval == timedelta(minutes=3)
    assert deps["veille-maintenance/daily"].schedules[0].schedule.cron == "0 6 * * 1"
    # served runs start in their own process: the sources file is passed as an absolute path
    assert cycle.parameters["sources_file"] == str(tmp_path / "mine.toml")


def test_deployments_register_with_the_server() -> None:
    """What `serve` registers: the server keeps the schedules, tags and concurrency limit."""
    deployments = build_deployments(get_settings())

    async def register_and_read() -> list[Any]:
        async with get_client() as client:
            ids = [await d.aapply() for d in deployments]  # what apply() runs in an event loop
            return [await client.read_deployment(i) for i in ids]

    stored = {d.name: d for d in asyncio.run(register_and_read())}
    cycle = stored["poll-and-ingest"]
    assert cycle.schedules[0].schedule.interval == timedelta(minutes=10)
    assert cycle.global_concurrency_limit is not None and cycle.global_concurrency_limit.limit == 1
    assert set(cycle.tags) == {"veille", "poll", "ingest"}
    assert stored["daily"].schedules[0].schedule.cron == "30 4 * * *"
    assert all(d.global_concurrency_limit.limit == 1 for d in stored.values())


def _artifacts(flow_run_id: Any) -> dict[str | None, Any]:
    """A flow run's artifacts by key (None: the one without a key)."""

    async def read() -> dict[str | None, Any]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
            )
            return {a.key: a for a in found}

    return asyncio.run(read())


def _flow(deployment_name: str) -> Any:
    deployment = _by_name(build_deployments(get_settings()))[deployment_name]
    return load_flow_from_entrypoint(str(ROOT / deployment.entrypoint)), deployment


def test_one_served_cycle_then_maintenance_publish_their_artifacts(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    pages = seed_site(site)
    # A feed with two seeds, the same page again under another URL, and a dead link.
    site.add("/copie/sommet.html", site.routes["/" + pages[0].spec.slug].body)
    items = [(p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages[:2]]
    items += [("Copie", "copie/sommet.html", pages[0].spec.published)]
    items += [("Disparu", "gone.html", pages[0].spec.published)]
    site.add("/mixed.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"},
            {"name": "Mixed", "kind": "feed", "url": f"{site.base}/mixed.xml", "owner": "party"},
        ],
    )

    run_flow, deployment = _flow("veille-run/poll-and-ingest")
    parameters = {**deployment.parameters, "sources_file": str(sources)}
    state = run_flow(**parameters, return_state=True)
    assert state.is_completed()
    artifacts = _artifacts(state.state_details.flow_run_id)
    assert {"veille-run-summary", "veille-run-report"} <= set(artifacts)

    table = artifacts["veille-run-summary"]
    assert table.type == "table"
    rows = {r["source"]: r for r in (json.loads(table.data) if isinstance(table.data, str) else table.data)}
    assert set(rows) == {"Seeds", "Mixed"}
    seeds, mixed = rows["Seeds"], rows["Mixed"]
    # Sources are polled concurrently: a URL both feeds list is queued by whichever came first,
    # and of the page and its copy, whichever was fetched first is stored, the other a duplicate.
    assert seeds["poll"] == mixed["poll"] == "ok"
    assert seeds["new_urls"] + mixed["new_urls"] == 7 and mixed["new_urls"] >= 2
    assert seeds["stored"] + mixed["stored"] == 5
    assert seeds["relevant"] + mixed["relevant"] == 5
    assert seeds["duplicates"] + mixed["duplicates"] == 1
    assert mixed["failed"] == 1 and seeds["failed"] == 0  # the dead link is Mixed's alone

    report = artifacts["veille-run-report"]
    assert report.type == "markdown"
    assert "## New articles relevant to a topic (5)" in report.data
    links = set(re.findall(r"\]\((http[^)]+)\)", report.data))
    first = {f"{site.base}/{pages[0].spec.slug}", f"{site.base}/copie/sommet.html"}
    assert len(links) == 5 and len(links & first) == 1
    assert {f"{site.base}/{p.spec.slug}" for p in pages[1:]} <= links
    assert "| Mixed | 1 |" in report.data  # listed among the sources with errors
    assert re.search(r"## Stories: [1-9]\d* new, 0 growing", report.data)

    # A topic edit leaves one article scored with another version: maintenance rescores it.
    with clean_db.begin() as conn:
        conn.execute(
            sa.text("UPDATE articles SET topic_version = '0.9+old' WHERE id = (SELECT min(id) FROM articles)")
        )
    maintenance, _ = _flow("veille-maintenance/daily")
    state = maintenance(return_state=True)
    assert state.is_completed()
    result = state.result()
    assert result["stale"] == 1 and result["rescored"] == 1 and result["unhealthy"] == []
    assert result["topics"] == {"ai_summit": 0, "eu_ai_act": 0}  # the run scored every topic
    with clean_db.connect() as conn:
        versions = set(conn.scalars(sa.text("SELECT DISTINCT topic_version FROM articles")))
    assert versions == {load_topic().version}
    artifacts = _artifacts(state.state_details.flow_run_id)
    health = artifacts["veille-source-health"]
    health_rows = json.loads(health.data) if isinstance(health.data, str) else health.data
    assert {r["name"]: r["health"] for r in health_rows} == {"Seeds": "ok", "Mixed": "ok"}
    assert {r["name"]: r["failed_urls"] for r in health_rows} == {"Seeds": 0, "Mixed": 1}
    text = artifacts["veille-maintenance-report"].data
    assert "1 article rescored, 0 became relevant, 0 became not relevant" in text
    assert "ai_summit: up to date, eu_ai_act: up to date" in text
    assert "2 ok" in text and "6 fetched" in text and "1 failed" in text


def test_a_cycle_due_while_the_previous_one_runs_is_skipped_not_queued() -> None:
    """An overrunning cycle (a slow site, a backlog longer than the interval): the next cycle
    the schedule brings is cancelled by the server, with the reason, rather than kept waiting
    for the slot (Prefect's default, AwaitingConcurrencySlot), where cycles would pile up and
    run back to back. The same for each served deployment."""
    from prefect.states import Completed, Pending, Running

    async def collide(deployment: Any) -> tuple[Any, Any]:
        async with get_client() as client:
            deployment_id = await deployment.aapply()
            first = await client.create_flow_run_from_deployment(deployment_id)
            second = await client.create_flow_run_from_deployment(deployment_id)
            await client.set_flow_run_state(first.id, Pending())
            await client.set_flow_run_state(first.id, Running())
            await client.set_flow_run_state(second.id, Pending())  # what the runner proposes
            skipped = (await client.read_flow_run(second.id)).state
            # the previous cycle ends: the slot is free again for the next one
            await client.set_flow_run_state(first.id, Completed())
            third = await client.create_flow_run_from_deployment(deployment_id)
            await client.set_flow_run_state(third.id, Pending())
            return skipped, (await client.read_flow_run(third.id)).state

    for deployment in build_deployments(get_settings()):
        skipped, next_one = asyncio.run(collide(deployment))
        assert skipped.type.value == "CANCELLED", (deployment.name, skipped)
        assert skipped.message == "Deployment concurrency limit reached.", skipped
        assert next_one.type.value == "PENDING", (deployment.name, next_one)
