# ruff: noqa: E501
"""Benchmark: the fixed cost of a `veille run`, step by step.

Each step runs in a fresh Python process (as a user's ``veille run`` does), the steps in turn
within each repetition so that load from other processes hits them alike; medians of wall
time are printed. Steps:

- ``python``: interpreter start (the floor);
- ``import prefect``;
- ``import flows.direct``: what `veille run` imports without a Prefect server (SQLAlchemy,
  the pipeline's modules; no Prefect, trafilatura or datasketch);
- ``import flows.runs``: what it imports with one (Prefect and its flows, as well);
- ``migrations check``: ``monitors.archive.schema.migrate()`` on a database already at the head;
- ``temporary Prefect server``: start and stop of the server Prefect launches when no
  ``PREFECT_API_URL`` is set (``SubprocessASGIServer``), minus ``import prefect``;
- ``embedded PostgreSQL``: start and stop of pgserver on an existing data folder;
- ``veille run, nothing due``: the whole command on a migrated database whose only source
  was just polled, four ways: without a Prefect server (the direct run), with
  ``VEILLE_PREFECT=on`` and no server (the flows on Prefect's temporary server: how every
  run went before the direct run), and with ``PREFECT_API_URL`` pointing at a ``prefect
  server start`` the bench starts (its own PREFECT_HOME), as it runs by default (nothing
  due: the cycle runs directly and is recorded as one flow run, flows/record.py) and with
  ``VEILLE_PREFECT=on`` (the flows, a run and two subflows: how it ran before); the ratios
  to the temporary-server path, and of the recorded run to the flows, printed at the end.

Child processes get bytecode caches (PYTHONDONTWRITEBYTECODE is dropped), as an installed
veille has.

    python bench/startup.py [--repeat 3] [--skip embedded,server,api]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, default the local one) for the
scratch database; the embedded step needs pgserver (installed with veille).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arguments import positive_int  # noqa: E402
from bench.unwind import create_scratch_db, run, unwind_on_sigterm  # noqa: E402

ADMIN_URL = os.environ.get("VEILLE_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PY = sys.executable

# When the bench unwinds, it sends SIGTERM to the step running: the server step unwinds, so
# that Prefect's exit handler stops the server it started; the embedded step finishes first
# (a second or two), as pgserver stops its server only once get_server has returned.
SERVER = """
from bench.unwind import unwind_on_sigterm; unwind_on_sigterm()
import time
t = time.perf_counter()
from prefect.server.api.server import SubprocessASGIServer
t = time.perf_counter()
s = SubprocessASGIServer()
s.start()
s.stop()
print(time.perf_counter() - t)
"""

EMBEDDED = """
import signal; signal.signal(signal.SIGTERM, lambda *_: None)
import sys, time, pgserver
t = time.perf_counter()
s = pgserver.get_server(sys.argv[1], cleanup_mode="stop")
s.psql("select 1")
s.cleanup()
print(time.perf_counter() - t)
"""


def timed(cmd: list[str], env: dict[str, str], inner: bool = False) -> float:
    t = time.perf_counter()
    proc = run(cmd, env=env, cwd=ROOT)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return float(proc.stdout.strip().splitlines()[-1]) if inner else wall


def start_prefect_server(env: dict[str, str], home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``prefect server start`` on a free port with its own home; its API URL once healthy."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server_env = dict(env, PREFECT_HOME=str(home))
    server_env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [PY, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    return proc, url
            except OSError:
                time.sleep(0.5)
    except BaseException:  # interrupted while waiting: the server is not left behind
        os.killpg(proc.pid, 9)
        raise
    os.killpg(proc.pid, 9)
    raise SystemExit("prefect server start did not answer within 300 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=positive_int, default=3)
    ap.add_argument("--skip", default="", help="comma-separated: embedded, server, api")
    args = ap.parse_args()
    unwind_on_sigterm()  # so the `finally` below stops the children and drops the database
    skip = set(filter(None, args.skip.split(",")))

    import sqlalchemy as sa

    name = f"veille_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    create_scratch_db(admin, name)
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(False)
    server: subprocess.Popen[bytes] | None = None
    try:  # from here on, the scratch database is dropped whatever happens
        tmp = tempfile.mkdtemp(prefix="veille-startup-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # at exit, once the children are gone
        env = dict(os.environ, VEILLE_DATABASE_URL=url, VEILLE_DATA_DIR=tmp, PYTHONPATH=str(ROOT))
        env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # as veille sets it
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PREFECT_API_URL", None)
        env["PREFECT_HOME"] = str(Path(tmp) / "prefect-home")  # no profile of the user's
        sources = Path(tmp) / "sources.toml"
        # a source that is never due again during the bench: polled once below (it fails: nothing
        # listens on port 9), then its backoff keeps it out of the due list
        sources.write_text(
            '[[source]]\nname = "idle"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed.xml"\nowner = "media"\n'
        )
        veille = [PY, "-m", "flows.cli"]
        steps: dict[str, tuple[list[str], bool]] = {
            "python": ([PY, "-c", "pass"], False),
            "import prefect": ([PY, "-c", "import prefect"], False),
            "import flows.direct": ([PY, "-c", "import flows.direct"], False),
            "import flows.runs": ([PY, "-c", "import flows.runs"], False),
            "migrations check (at head)": (
                [PY, "-c", "from monitors.archive.schema import migrate; migrate()"],
                False,
            ),
            "veille stats": ([*veille, "stats"], False),
            "veille run, nothing due, no server (direct)": (
                [*veille, "run", "--sources", str(sources)],
                False,
            ),
            "veille run, nothing due, no server, VEILLE_PREFECT=on (before)": (
                ["env", "VEILLE_PREFECT=on", *veille, "run", "--sources", str(sources)],
                False,
            ),
        }
        if "server" not in skip:
            steps["temporary Prefect server start+stop"] = ([PY, "-c", SERVER], True)
        if "embedded" not in skip:
            pgdata = Path(tmp) / "pgdata"
            run([PY, "-c", EMBEDDED, str(pgdata)], env=env).check_returncode()
            steps["embedded PostgreSQL start+stop"] = ([PY, "-c", EMBEDDED, str(pgdata)], True)
        if "api" not in skip:
            server, api_url = start_prefect_server(env, Path(tmp) / "prefect-server-home")
            steps["veille run, nothing due, with a Prefect server (recorded run)"] = (
                ["env", f"PREFECT_API_URL={api_url}", *veille, "run", "--sources", str(sources)],
                False,
            )
            steps["veille run, nothing due, with a Prefect server, VEILLE_PREFECT=on (flows: before)"] = (
                [
                    "env",
                    f"PREFECT_API_URL={api_url}",
                    "VEILLE_PREFECT=on",
                    *veille,
                    "run",
                    "--sources",
                    str(sources),
                ],
                False,
            )
        run([*veille, "migrate"], env=env, cwd=ROOT).check_returncode()
        polled = run([*veille, "run", "--all", "--sources", str(sources)], env=env, cwd=ROOT)
        if polled.returncode != 3:  # its only source fails: "nothing could run"
            raise SystemExit(f"the first run ended {polled.returncode}:\n{polled.stderr}")
        for step, (cmd, _) in steps.items():  # one untimed round: caches, the server's first flow
            if step.startswith("veille run"):
                run(cmd, env=env, cwd=ROOT)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start (shared)")
        times: dict[str, list[float]] = {k: [] for k in steps}
        for _ in range(args.repeat):
            for step, (cmd, inner) in steps.items():
                times[step].append(timed(cmd, env, inner))
        for step, ts in times.items():
            print(f"{statistics.median(ts):6.2f} s  {step}   ({', '.join(f'{t:.2f}' for t in ts)})")
        runs = [k for k in times if k.startswith("veille run")]
        before = times[runs[1]]
        for step in (runs[0], *runs[2:3]):
            ratios = [b / a for a, b in zip(times[step], before, strict=True)]
            print(f"{statistics.median(ratios):6.2f}x faster than before, run by run: {step}")
        if len(runs) == 4:  # with a server: the recorded run against the flows
            ratios = [b / a for a, b in zip(times[runs[2]], times[runs[3]], strict=True)]
            print(f"{statistics.median(ratios):6.2f}x faster than the flows, run by run: {runs[2]}")
        print(f"machine: load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            server.wait(30)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
