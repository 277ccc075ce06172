"""docker-compose.yml against the Compose specification's JSON schema and, where the tool is
installed, `docker compose config` (or `docker-compose config`); what a server needs from it
(loopback ports, a required password, pinned images that match the client, healthchecks, a
mountable sources file, a small build context); prefect.yaml against the deployments
`veille serve` builds. No Docker engine needed."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.utilities.templating import apply_values

from flows.commands.deploy import on_interval, placeholders
from flows.deployments import build_deployments
from monitors.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "compose_spec" / "compose-spec.json").read_text(encoding="utf-8"))


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return data


def _validator() -> jsonschema.protocols.Validator:
    # The file says draft 2019-09 (with a "#" jsonschema does not recognise): use that draft.
    jsonschema.Draft201909Validator.check_schema(SCHEMA)
    return jsonschema.Draft201909Validator(SCHEMA)


def test_compose_file_follows_the_compose_specification() -> None:
    errors = sorted(_validator().iter_errors(_compose()), key=lambda e: list(e.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_the_schema_rejects_a_broken_compose_file() -> None:
    broken = _compose()
    broken["services"]["postgres"]["helthcheck"] = broken["services"]["postgres"].pop("healthcheck")
    broken["services"]["veille"]["depends_on"]["postgres"] = {"condition": "when_ready"}
    messages = [e.message for e in _validator().iter_errors(broken)]
    assert any("helthcheck" in m for m in messages)
    assert any("when_ready" in m for m in messages)


def _readme_services() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("\n| service | what it is |\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([\w.-]+)` \|", table, flags=re.M)


def test_every_service_the_readme_names_exists() -> None:
    named = _readme_services()
    services = _compose()["services"]
    assert named, "the README's Docker Compose table lists no service"
    assert set(named) == set(services)


def test_the_stack_is_wired_as_the_readme_says() -> None:
    services = _compose()["services"]
    pg = services["postgres"]
    assert pg["image"].startswith("postgres:16")
    assert any(v.startswith("pgdata:") for v in pg["volumes"]) and "pgdata" in _compose()["volumes"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    server = services["prefect-server"]
    assert "@postgres:5432/prefect" in server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert [p.rsplit(":", 2)[1:] for p in server["ports"]] == [["4200", "4200"]]
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    veille = services["veille"]
    assert veille["build"]["context"] == "." and (ROOT / "Dockerfile").is_file()
    assert veille["command"] == ["veille", "serve"]
    assert veille["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert "@postgres:5432/veille" in veille["environment"]["VEILLE_DATABASE_URL"]
    assert veille["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    worker = services["worker"]
    assert worker["command"][:4] == ["prefect", "worker", "start", "--pool"]
    assert worker["command"][4] == "veille" and worker["profiles"] == ["scale-out"]
    assert "CREATE DATABASE prefect" in (ROOT / "docker" / "initdb" / "10-prefect-database.sql").read_text()
    assert "http://localhost:4200" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_prefect_yaml_needs_no_checkout_path() -> None:
    """Prefect's step templating has no filters: `{{ $X | default(...) }}` was taken literally
    and every worker run failed in its pull step. Workers import the installed package."""
    data = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    assert data["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "."}}]
    assert "|" not in json.dumps(data)  # no filter anywhere in a template


ARCHIVE_BACKFILL = "archive-backfill-pool"


def _yaml_deployments() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in data["deployments"]}


def _schedule(config: dict[str, Any]) -> CronSchedule | IntervalSchedule:
    """A prefect.yaml schedule as `prefect deploy` reads it: its "{{ $VAR }}" placeholders
    filled from the environment (an unset one left as written), then Prefect's schedule class."""
    filled = apply_values(copy.deepcopy(config), {}, remove_notset=False)  # it writes in place
    assert isinstance(filled, dict)
    config = filled
    if "cron" in config:
        return CronSchedule(cron=config["cron"], timezone=config["timezone"])
    return IntervalSchedule(
        interval=config["interval"], anchor_date=config["anchor_date"], timezone=config["timezone"]
    )


#: settings that are not the defaults, so that a schedule fixed in prefect.yaml shows
SCHEDULE_SETTINGS = {
    "VEILLE_POLL_INTERVAL_MINUTES": "15",
    "VEILLE_MAINTENANCE_CRON": "0 5 * * 1",
    "VEILLE_LOCAL_TIMEZONE": "America/Montreal",
}


def test_prefect_yaml_declares_the_served_deployments(monkeypatch: pytest.MonkeyPatch) -> None:
    """prefect.yaml's deployments are serve's under their own names, on serve's schedules once
    `veille deploy` has given it the settings (test_work_pool.py deploys so with a server)."""
    for name, value in SCHEDULE_SETTINGS.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    # what `veille deploy` deploys: a copy on the settings' interval, the placeholders' values
    raw = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployed = {d["name"]: d for d in on_interval(raw, settings.poll_interval_minutes)["deployments"]}
    for name, value in placeholders(settings.maintenance_cron, settings.local_timezone).items():
        monkeypatch.setenv(name, value)
    served = {d.name: d for d in build_deployments(settings)}
    # what `veille deploy` sets for prefect.yaml's placeholders (test_work_pool.py deploys so)
    declared = _yaml_deployments()
    archive = declared.pop(ARCHIVE_BACKFILL)
    # the same deployments under their own names: `prefect deploy` must not overwrite serve's
    assert set(declared) == {f"{name}-pool" for name in served}
    # and the archive backfill's, on no schedule (run by hand, once per worker sharing it)
    assert archive["entrypoint"] == "flows.backfill_flows:archive_backfill_flow"
    assert "schedules" not in archive and archive["work_pool"]["name"] == "veille"
    assert archive["concurrency_limit"] > 1
    for name, d in declared.items():
        s = served[name.removesuffix("-pool")]
        # a module path: workers import the installed package, wherever their checkout is
        module, func = d["entrypoint"].split(":")
        assert f"{module.replace('.', '/')}.py:{func}" == s.entrypoint, name
        assert sorted(d["tags"]) == sorted(s.tags), name
        assert d["work_pool"]["name"] == "veille"
        assert len(d["schedules"]) == 1 and s.schedules, name
        expected = s.schedules[0].schedule
        assert isinstance(expected, CronSchedule | IntervalSchedule), (name, expected)
        # serve's schedule as `veille deploy` deploys it: the settings' interval, cron line
        # and clock (prefect.yaml's 600 s or a fixed "30 4 * * *" would not follow them)
        assert expected.timezone == "America/Montreal", name
        assert _schedule(deployed[name]["schedules"][0]) == expected, name
        # One run at a time, except drain-queue on a pool: one per worker; a run due while
        # the limit is reached is skipped (cancelled), not queued, as with `veille serve`
        assert s.concurrency_limit == 1
        assert s.concurrency_options is not None
        assert s.concurrency_options.collision_strategy.value == "CANCEL_NEW"
        limit = d["concurrency_limit"]
        assert limit["limit"] == (4 if name == "drain-queue-pool" else 1), name
        assert limit["collision_strategy"] == "CANCEL_NEW", name
    # a plain `prefect deploy` without the cron line is refused, not deployed on another one
    monkeypatch.delenv("VEILLE_MAINTENANCE_CRON")
    with pytest.raises(ValueError, match="Invalid cron string"):
        _schedule(declared["daily-pool"]["schedules"][0])


# --- ready for a server ---------------------------------------------------------------------

PASSWORD_REQUIRED = "${POSTGRES_PASSWORD:?"
LONG_RUNNING = ("postgres", "prefect-server", "veille", "worker")


def _raw() -> str:
    return (ROOT / "docker-compose.yml").read_text(encoding="utf-8")


def test_the_password_is_required_and_has_no_default() -> None:
    raw = _raw()
    assert "POSTGRES_PASSWORD:-" not in raw and ":veille@" not in raw
    services = _compose()["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(PASSWORD_REQUIRED)
    assert (
        PASSWORD_REQUIRED in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    )
    assert PASSWORD_REQUIRED in services["veille"]["environment"]["VEILLE_DATABASE_URL"]


def test_ports_are_bound_to_loopback_unless_the_operator_opts_out() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), (name, port)


def _pinned_prefect() -> str:
    image = _compose()["services"]["prefect-server"]["image"]
    match = re.fullmatch(r"prefecthq/prefect:\$\{PREFECT_VERSION:-([\d.]+)\}-python3\.11", image)
    assert match, image
    return match.group(1)


def test_images_are_pinned_and_the_prefect_server_matches_the_client() -> None:
    services = _compose()["services"]
    assert re.fullmatch(r"postgres:16\.\d+", services["postgres"]["image"])
    version = _pinned_prefect()
    # the veille image installs that same Prefect: build arg and Dockerfile default agree
    for name in ("veille", "deploy", "worker"):
        assert services[name]["build"]["args"]["PREFECT_VERSION"] == f"${{PREFECT_VERSION:-{version}}}", name
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG PREFECT_VERSION={version}" in dockerfile
    assert '"prefect==${PREFECT_VERSION}"' in dockerfile
    # and the version is one the package accepts
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (spec,) = [d for d in project["dependencies"] if d.startswith("prefect")]
    assert version in SpecifierSet(spec.removeprefix("prefect")), (version, spec)
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert f"PREFECT_VERSION={version}" in example


def test_the_ui_api_url_is_not_fixed_and_api_auth_is_possible() -> None:
    server = _compose()["services"]["prefect-server"]["environment"]
    assert server["PREFECT_UI_API_URL"].startswith("${PREFECT_UI_API_URL:-")
    # null: passed on from .env only when set (an empty value would enable an empty secret)
    assert "PREFECT_SERVER_API_AUTH_STRING" in server and server["PREFECT_SERVER_API_AUTH_STRING"] is None
    assert _compose()["services"]["veille"]["environment"]["PREFECT_API_AUTH_STRING"] is None


def test_long_running_services_have_healthchecks() -> None:
    services = _compose()["services"]
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
    assert services["veille"]["healthcheck"]["test"] == ["CMD", "veille", "db", "status"]
    assert "--with-healthcheck" in services["worker"]["command"]


def _mount(service: dict[str, Any], target: str) -> dict[str, Any]:
    (mount,) = [v for v in service["volumes"] if isinstance(v, dict) and v["target"] == target]
    return mount


def test_the_sources_file_is_mountable() -> None:
    services = _compose()["services"]
    for name in ("veille", "worker"):
        assert services[name]["environment"]["VEILLE_SOURCES"] == "/etc/veille/sources.toml"
        mount = _mount(services[name], "/etc/veille/sources.toml")
        assert mount["source"] == "${VEILLE_SOURCES:-./seeds/sources.toml}", name
        assert mount["type"] == "bind" and mount["read_only"] is True


def test_the_topic_folder_is_mountable() -> None:
    """VEILLE_TOPICS_DIR on the host (.env) names a folder the containers see, at the path their
    own VEILLE_TOPICS_DIR gives; it was passed to no container (a host path they cannot see),
    so the containers scored the image's shipped topics whatever it said. Unset or empty: the
    shipped folder, which holds topics veille loads."""
    from monitors.judge.topic_set import load_topics

    services = _compose()["services"]
    for name in ("veille", "worker"):
        assert services[name]["environment"]["VEILLE_TOPICS_DIR"] == "/etc/veille/topics", name
        mount = _mount(services[name], "/etc/veille/topics")
        assert mount["source"] == "${VEILLE_TOPICS_DIR:-./monitors/topics}", name
        assert mount["type"] == "bind" and mount["read_only"] is True
    default = ROOT / "monitors" / "topics"
    assert {t.name for t in load_topics(default)} >= {"ai_summit"}


def test_scale_out_deploys_before_workers_start() -> None:
    services = _compose()["services"]
    deploy = services["deploy"]
    assert deploy["profiles"] == ["scale-out"] and deploy["working_dir"] == "/app"
    script = deploy["command"][-1]
    assert "prefect work-pool create veille --type process" in script
    assert script.endswith("&& veille deploy")  # prefect deploy --all on the local clock
    assert deploy["depends_on"]["postgres"]["condition"] == "service_healthy"  # its clock
    assert services["worker"]["depends_on"]["deploy"]["condition"] == "service_completed_successfully"
    assert "prefect.yaml" in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_the_build_context_leaves_out_the_heavy_and_the_secret() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for pattern in (".git", ".venv", ".env", "**/__pycache__"):
        assert pattern in ignored, pattern


def _compose_tool() -> list[str] | None:
    """`docker compose` (v2), else `docker-compose` (v1), whichever answers `version`."""
    for tool in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(tool[0]) is None:
            continue
        done = subprocess.run([*tool, "version"], capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            return tool
    return None


def _config(extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    tool = _compose_tool()
    if tool is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"POSTGRES_PASSWORD", "BIND_ADDRESS", "VEILLE_SOURCES", "VEILLE_TOPICS_DIR"}
    }
    return subprocess.run(
        [*tool, *args, "config"],
        cwd=ROOT,
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _host_ips(service: dict[str, Any]) -> list[str]:
    ips = []
    for port in service.get("ports", []):
        ips.append(port["host_ip"] if isinstance(port, dict) else port.split(":")[0])
    return ips


def test_docker_compose_config_accepts_the_file() -> None:
    refused = _config({})
    assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr  # no default password
    done = _config({"POSTGRES_PASSWORD": "s3cret"})
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert {"postgres", "prefect-server", "veille"} <= set(services)
    assert _host_ips(services["postgres"]) == ["127.0.0.1"] == _host_ips(services["prefect-server"])
    assert services["veille"]["environment"]["VEILLE_DATABASE_URL"].endswith(":s3cret@postgres:5432/veille")

    opened = _config(
        {
            "POSTGRES_PASSWORD": "s3cret",
            "BIND_ADDRESS": "0.0.0.0",
            "VEILLE_SOURCES": "/srv/veille/mine.toml",
            "VEILLE_TOPICS_DIR": "/srv/veille/topics",
        },
        "--profile",
        "scale-out",
    )
    assert opened.returncode == 0, opened.stderr
    services = yaml.safe_load(opened.stdout)["services"]
    assert {"deploy", "worker"} <= set(services)
    assert _host_ips(services["postgres"]) == ["0.0.0.0"]
    for name in ("veille", "worker"):
        assert _mount(services[name], "/etc/veille/sources.toml")["source"] == "/srv/veille/mine.toml", name
        assert _mount(services[name], "/etc/veille/topics")["source"] == "/srv/veille/topics", name
        assert services[name]["environment"]["VEILLE_TOPICS_DIR"] == "/etc/veille/topics", name
    default = yaml.safe_load(done.stdout)["services"]["veille"]
    assert _mount(default, "/etc/veille/topics")["source"] == str(ROOT / "monitors" / "topics")


def test_env_example_says_which_settings_reach_the_containers() -> None:
    """A VEILLE_* line of .env is interpolated by compose only where docker-compose.yml names
    it (${VEILLE_...}); every setting of .env.example is, but those its compose note names as
    not passed (or set otherwise), so a user knows which keep their defaults in the containers."""
    interpolated = set(re.findall(r"\$\{(VEILLE_[A-Z_]+)", (ROOT / "docker-compose.yml").read_text("utf-8")))
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    settings, compose_part = example.split("# --- docker compose only", 1)
    note = compose_part.split("\n\n", 1)[0]
    named = set(re.findall(r"VEILLE_[A-Z_]+", note))
    documented = set(re.findall(r"^(VEILLE_[A-Z_]+)=", settings, re.MULTILINE))
    assert interpolated and interpolated <= documented
    assert documented - interpolated <= named
