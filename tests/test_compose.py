"""docker-compose.yml against the Compose specification's JSON schema; prefect.yaml against
the deployments `veille serve` builds. No Docker engine needed."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import yaml

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
    section = text.split("\n### Docker Compose\n", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([\w.-]+)` \|", section, flags=re.M)


def test_every_service_the_readme_names_exists() -> None:
    named = _readme_services()
    services = _compose()["services"]
    assert named, "the README's Docker Compose section lists no service"
    assert set(named) == set(services)


def test_the_stack_is_wired_as_the_readme_says() -> None:
    services = _compose()["services"]
    pg = services["postgres"]
    assert pg["image"].startswith("postgres:16")
    assert any(v.startswith("pgdata:") for v in pg["volumes"]) and "pgdata" in _compose()["volumes"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    server = services["prefect-server"]
    assert "@postgres:5432/prefect" in server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert "4200:4200" in server["ports"]
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    veille = services["veille"]
    assert veille["build"] == "." and (ROOT / "Dockerfile").is_file()
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


def _yaml_deployments() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in data["deployments"]}


def test_prefect_yaml_declares_the_served_deployments() -> None:
    served = {d.name: d for d in build_deployments(get_settings())}
    declared = _yaml_deployments()
    # the same deployments under their own names: `prefect deploy` must not overwrite serve's
    assert set(declared) == {f"{name}-pool" for name in served}
    for name, d in declared.items():
        s = served[name.removesuffix("-pool")]
        # a module path: workers import the installed package, wherever their checkout is
        module, func = d["entrypoint"].split(":")
        assert f"{module.replace('.', '/')}.py:{func}" == s.entrypoint, name
        assert sorted(d["tags"]) == sorted(s.tags), name
        assert d["work_pool"]["name"] == "veille"
        (schedule,) = d["schedules"]
        expected = s.schedules[0].schedule
        assert schedule["timezone"] == expected.timezone == "Europe/Paris"
        if "cron" in schedule:
            assert schedule["cron"] == expected.cron
        else:
            assert timedelta(seconds=schedule["interval"]) == expected.interval
            assert datetime.fromisoformat(schedule["anchor_date"]) == expected.anchor_date
        # One run at a time, except drain-queue on a pool: one per worker.
        assert s.concurrency_limit == 1
        assert d["concurrency_limit"] == (4 if name == "drain-queue-pool" else 1), name
