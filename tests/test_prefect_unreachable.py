"""A Prefect API configured (PREFECT_API_URL) that does not answer: `veille run`, `veille
serve` and `veille backfill` stop with one line naming the URL and the cause, exit 3 (nothing
could run). Before, Prefect's client failed with a traceback of a hundred lines (exit 1)."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from tests.test_processes import ROOT, _command


@pytest.mark.parametrize("command", ["run", "serve", "backfill --since 2025-02-01 --until 2025-02-28"])
def test_an_unreachable_prefect_api_is_one_line_naming_it(database_url: str, command: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PYTHONPATH=str(ROOT), VEILLE_DATABASE_URL=database_url, PREFECT_API_URL=url)
    done = subprocess.run(
        [*_command(), *command.split(), "--sources", str(ROOT / "seeds" / "sources.toml")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"nothing could run: cannot reach the Prefect API at {url} (PREFECT_API_URL)" in lines[0], lines
