"""The suite's own guards against failing at random: the hour it runs at, a loaded machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import hypothesis
import pytest

import tests.clock
from tests.clock import one_day_for, seconds_to_midnight
from tests.test_processes import ROOT

PARIS = ZoneInfo("Europe/Paris")


def test_seconds_to_midnight_on_a_zone_s_clock() -> None:
    assert seconds_to_midnight(datetime(2026, 12, 5, 22, 59, 30, tzinfo=UTC), PARIS) == 30
    assert seconds_to_midnight(datetime(2026, 12, 5, 23, 0, 0, tzinfo=UTC), PARIS) == 86400
    # the night of a clock change: 23 hours from one midnight to the next in March
    assert seconds_to_midnight(datetime(2026, 3, 28, 23, 0, 0, tzinfo=UTC), PARIS) == 23 * 3600
    kiritimati = ZoneInfo("Pacific/Kiritimati")  # UTC+14: its day turns at 10:00 UTC
    assert seconds_to_midnight(datetime(2026, 12, 5, 9, 59, 0, tzinfo=UTC), kiritimati) == 60


def test_one_day_for_waits_past_a_near_midnight(monkeypatch: pytest.MonkeyPatch) -> None:
    """10 s before midnight in Paris a test needing 60 s of one day sleeps past midnight; at
    noon, or in a zone whose midnight is hours away, it does not sleep."""
    clock = [datetime(2026, 12, 5, 22, 59, 50, tzinfo=UTC)]
    slept: list[float] = []

    class Clock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return clock[0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    monkeypatch.setattr(tests.clock, "datetime", Clock)
    monkeypatch.setattr(tests.clock.time, "sleep", sleep)
    one_day_for(60, "Europe/Paris")
    assert slept == [10.5] and clock[0].astimezone(PARIS).date().isoformat() == "2026-12-06"
    one_day_for(60, "Europe/Paris", "Pacific/Kiritimati")
    assert slept == [10.5]
    clock[0] = datetime(2026, 12, 5, 22, 59, 50, tzinfo=UTC)
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "Europe/Paris")
    one_day_for()  # the local clock
    assert slept == [10.5, 10.5]


def test_hypothesis_runs_as_on_ci_everywhere() -> None:
    """Property tests without a per-example deadline (a loaded 2-core machine runs an example
    past Hypothesis's 200 ms default: DeadlineExceeded, or Flaky when the rerun is quick) and
    with the same examples on every run, as CI=true gives; tests/conftest.py loads it, and
    HYPOTHESIS_PROFILE=explore (docs/development.md) draws new examples, still undeadlined."""
    current = hypothesis.settings.default
    assert current is not None and current.deadline is None
    explore = os.environ.get("HYPOTHESIS_PROFILE") == "explore"
    assert current.derandomize is not explore
    assert (current.database is None) is not explore
    assert hypothesis.settings.get_profile("explore").deadline is None


#: A contributor's own settings, which the suite must not read.
CONTRIBUTORS = {
    "PREFECT_API_URL": "http://127.0.0.1:9/api",
    "PREFECT_HOME": "/nonexistent/prefect",
    "VEILLE_DATA_DIR": "/nonexistent/data",
    "VEILLE_LOCAL_TIMEZONE": "America/New_York",
    "VEILLE_BATCH_SIZE": "7",
}


def test_the_suite_reads_no_settings_of_the_contributors() -> None:
    """Run by the test below in a pytest of its own, with a contributor's settings set."""
    assert not {n for n in CONTRIBUTORS if os.environ.get(n) == CONTRIBUTORS[n]}


def test_a_contributors_settings_do_not_reach_the_tests() -> None:
    """A contributor with PREFECT_API_URL (their Prefect server), VEILLE_DATA_DIR or
    VEILLE_LOCAL_TIMEZONE set runs the suite as CI does: tests/conftest.py drops VEILLE_* and
    PREFECT_* (but the suite's own VEILLE_TEST_*) before anything reads them. Before, the
    tests registered their deployments on the contributor's server and wrote into their data
    folder."""
    env = {**os.environ, **CONTRIBUTORS}
    probe = "tests/test_suite_determinism.py::test_the_suite_reads_no_settings_of_the_contributors"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


#: A contributor's Prefect settings in a file of the repo's folder, which Prefect reads there.
STEERING = {
    ".env": "PREFECT_API_URL=http://127.0.0.1:9/api\n",
    "prefect.toml": '[api]\nurl = "http://127.0.0.1:9/api"\n',
    "pyproject.toml": '[tool.prefect.api]\nurl = "http://127.0.0.1:9/api"\n',
}
PROBE = """
def test_probe() -> None:
    import prefect.settings

    assert not prefect.settings.PREFECT_API_URL.value()
"""


def _clone_with(tmp_path: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """pytest run in a copy of the repo's tests/conftest.py with a probe test, ``files`` in
    its folder (never the repo's own folder)."""
    clone = tmp_path / "clone"
    (clone / "tests").mkdir(parents=True)
    for name in ("conftest.py", "__init__.py"):
        shutil.copy(ROOT / "tests" / name, clone / "tests" / name)
    (clone / "tests" / "test_probe.py").write_text(PROBE)
    for name, text in files.items():
        (clone / name).write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_probe.py"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("name", sorted(STEERING))
def test_a_prefect_file_in_the_repo_folder_does_not_steer_the_tests(name: str, tmp_path: Path) -> None:
    """A contributor's .env (or prefect.toml, or [tool.prefect] in pyproject.toml) setting
    PREFECT_API_URL in the repo's folder, where the tests and the commands they start run,
    would have Prefect talk to their server in every one of them (the environment is cleaned,
    not these files): the suite stops before any test, exit 4, naming the file and setting."""
    done = _clone_with(tmp_path, {name: STEERING[name]})
    assert done.returncode == 4, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"{tmp_path / 'clone' / name} set Prefect settings (PREFECT_API_URL" in done.stderr
    assert "passed" not in done.stdout


def test_the_compose_env_file_as_copied_lets_the_tests_run(tmp_path: Path) -> None:
    """The other side: `cp .env.example .env` (README's compose path) sets no Prefect setting
    (PREFECT_VERSION is the compose image's tag), so the suite runs with it; the probe passes."""
    done = _clone_with(tmp_path, {".env": (ROOT / ".env.example").read_text(encoding="utf-8")})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
