"""Database resolution: URL normalisation and the embedded server."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitors.archive.db import DatabaseUnavailable, check_connection, normalize_url
from monitors.archive.embedded import embedded_url, stop_embedded
from monitors.archive.schema import migrate


def test_urls_get_the_psycopg_driver() -> None:
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ValueError, match="PostgreSQL only"):
        normalize_url("sqlite:///x.db")


def test_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailable, match="cannot reach PostgreSQL at"):
        check_connection("postgresql+psycopg://nobody@127.0.0.1:9/none")


@pytest.fixture
def own_dir() -> Iterator[Path]:
    """A folder of the test's own under /tmp: pgserver (run as its own user under root) must
    reach it, and pytest's shared base folder is reset to mode 0700 by concurrent sessions;
    removed after the test."""

    folder = Path(tempfile.mkdtemp(prefix="veille-db-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_embedded_server_starts_and_migrates(own_dir: Path) -> None:
    tmp_path = own_dir
    url = embedded_url(tmp_path / "data")
    assert (tmp_path / "data" / "pgdata").is_dir()
    migrate(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
            version = conn.scalar(sa.text("SELECT version()"))
    finally:
        engine.dispose()
        stop_embedded(tmp_path / "data")
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert {"sources", "url_queue", "articles", "fetch_log", "sightings"} <= tables
    assert "PostgreSQL" in (version or "")


def _veille_env(data_dir: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("VEILLE_")}
    env["VEILLE_DATA_DIR"] = str(data_dir)
    return env


@pytest.mark.slow
def test_three_migrates_at_once_on_a_new_data_folder(own_dir: Path) -> None:
    """Three `veille migrate` started together on a folder that does not exist yet: the
    embedded server is set up once, the database created once, and all three succeed; the
    server stops when the last of them exits."""
    import subprocess

    from tests.test_concurrent_runs import ROOT, _command

    data = own_dir / "new" / "data"
    procs = [
        subprocess.Popen(
            [*_command(), "migrate"],
            env=_veille_env(data),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert all("Traceback" not in err for _, err in outputs), outputs
    assert all("schema at head" in out for out, _ in outputs), outputs
    assert not (data / "pgdata" / "postmaster.pid").exists()  # stopped with its last user


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a dead backend behind a port
    forward; a firewall dropping packets behaves alike for the client): its port."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_is_an_error_after_the_connect_timeout(
    silent_server: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: every command waited for good (or the system's TCP timeout, minutes, for a
    firewall dropping packets) before any message."""
    import threading
    import time

    from flows.cli import main
    from monitors.archive.db import CONNECT_TIMEOUT

    monkeypatch.setenv("VEILLE_DATABASE_URL", f"postgresql://veille@127.0.0.1:{silent_server}/veille")
    codes: list[int] = []
    started = time.monotonic()
    command = threading.Thread(target=lambda: codes.append(main(["migrate"])), daemon=True)
    command.start()
    command.join(timeout=CONNECT_TIMEOUT + 20)
    assert codes == [2], "still waiting"
    assert time.monotonic() - started < CONNECT_TIMEOUT + 10
    err = capsys.readouterr().err
    assert err.startswith(
        f"veille: error: cannot reach PostgreSQL at postgresql+psycopg://veille@127.0.0.1:{silent_server}"
    )
    assert "timeout" in err


def test_db_commands_with_a_configured_server(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/operating.md: with VEILLE_DATABASE_URL set, `db start` and `db stop` have nothing
    to do and `veille db status` says whether that server answers, exit 1 if not (the compose
    healthcheck). A guard: it passed when written."""
    from flows.cli import main

    monkeypatch.setenv("VEILLE_DATABASE_URL", database_url)
    assert main(["db", "status"]) == 0
    assert "state: answering" in capsys.readouterr().out
    for action in ("start", "stop"):
        assert main(["db", action]) == 0
        assert f"no embedded server to {action}" in capsys.readouterr().out
    monkeypatch.setenv("VEILLE_DATABASE_URL", "postgresql://veille@127.0.0.1:9/veille")
    assert main(["db", "status"]) == 1
    assert "state: not answering: cannot reach PostgreSQL at" in capsys.readouterr().out


@pytest.mark.slow
def test_db_stop_leaves_the_server_to_a_veille_command_using_it(own_dir: Path) -> None:
    """docs/operating.md: the embedded server "runs as long as a veille process uses it".
    Before, `veille db stop` in another terminal stopped it under a running command (fast
    shutdown): its sessions ended and it failed on a lost database. Now db stop says which
    commands use it (exit 1), the command finishes, and the server stops as it exits."""
    import subprocess
    import time

    from tests.test_concurrent_runs import ROOT, _command

    data = own_dir / "data"
    env = _veille_env(data)

    def veille(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_command(), *argv], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
        )

    assert veille("db", "start").returncode == 0
    user = subprocess.Popen(
        [*_command(), "psql", "-X", "-tA", "-c", "SELECT pg_sleep(4), 'done'"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    handles = data / "pgdata" / ".handle_pids.json"
    deadline = time.monotonic() + 120
    while (
        str(user.pid) not in (handles.read_text() if handles.exists() else "") and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    stop = veille("db", "stop")
    out, err = user.communicate(timeout=300)
    assert (user.returncode, out.strip(), err) == (0, "|done", ""), (out, err)
    assert stop.returncode == 1, stop
    assert stop.stdout.startswith(
        f"embedded PostgreSQL left running: veille commands use it (pid {user.pid})"
    )
    deadline = time.monotonic() + 30  # its watcher stops the server once it has exited
    while (data / "pgdata" / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "state: stopped" in veille("db", "status").stdout
    assert veille("db", "stop").stdout == "embedded PostgreSQL was not running\n"


@pytest.mark.slow
def test_db_url_of_an_embedded_server_not_kept_up_says_to_start_it(own_dir: Path) -> None:
    """`psql "$(veille db-url --plain)"` (db-url's --help example) on the embedded server with
    no `veille db start`: db-url started the server, printed its URL and stopped it on exit, so
    psql met "No such file or directory" on the socket, the cause untold. Now a warning on
    stderr says the server is not kept up and how to keep it; stdout is the URL alone, and
    after `veille db start` no warning."""
    import subprocess

    from tests.test_concurrent_runs import ROOT, _command

    data = own_dir / "data"
    env = _veille_env(data)

    def veille(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_command(), *argv], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
        )

    try:
        alone = veille("db-url", "--plain")
        assert alone.returncode == 0, alone.stderr
        assert alone.stdout.startswith("postgresql://") and alone.stdout.count("\n") == 1
        assert "state: stopped" in veille("db", "status").stdout  # the URL answers nothing now
        warning = "veille: warning: the embedded PostgreSQL is not kept up"
        assert alone.stderr.startswith(warning), alone.stderr
        assert "`veille db start`" in alone.stderr
        assert veille("db", "start").returncode == 0
        kept = veille("db-url", "--plain")
        assert (kept.returncode, kept.stdout, kept.stderr) == (0, alone.stdout, "")
    finally:
        veille("db", "stop")
