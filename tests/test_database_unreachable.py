"""A database veille cannot reach, as docs/operating.md shows it: every command that uses the
database stops with one line on stderr, cause first, libpq's hint folded in, and the exit code
the docs give. Before, libpq's hint was a second, tab-indented line of every command's error
(and of ``veille db status``)."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flows.cli import main

ROOT = Path(__file__).resolve().parents[1]

#: Each command that uses the database, as a user types it, and its exit code (docs/operating.md)
COMMANDS = [
    (["run"], 3),
    (["export"], 2),
    (["search", "élysée"], 2),
    (["stats"], 2),
    (["feed"], 2),
    (["stories"], 2),
    (["sources"], 2),
    (["rescore"], 2),
    (["migrate"], 2),
    (["psql"], 2),
    (["db-url"], 2),
    (["backfill", "--since", "2025-01-01"], 2),
    (["serve"], 2),
]


def _documented() -> tuple[str, str]:
    """The URL and the error line of docs/operating.md's example of a closed port."""
    text = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    found = re.search(r"^\$ VEILLE_DATABASE_URL=(\S+) veille stats\n(veille: error: .*)$", text, re.MULTILINE)
    assert found, "docs/operating.md shows no closed port's error"
    return found.group(1), found.group(2)


def _closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (one the system just handed out and took back)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(("argv", "code"), COMMANDS, ids=[argv[0] for argv, _ in COMMANDS])
def test_a_closed_port_is_one_line_cause_first_for_every_command(
    argv: list[str],
    code: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    url, line = _documented()
    documented_port = str(make_url(url).port)
    port = str(_closed_port())
    monkeypatch.setenv("VEILLE_DATABASE_URL", url.replace(documented_port, port))
    monkeypatch.setenv("VEILLE_DATA_DIR", str(tmp_path))
    capsys.readouterr()
    assert main(argv) == code
    out, err = capsys.readouterr()
    expected = line.replace(documented_port, port)
    if argv == ["run"]:  # docs/operating.md: "nothing could run: ..." and exit 3
        expected = expected.replace("veille: error: ", "veille: error: nothing could run: ")
    assert err == f"{expected}\n"
    assert "Connection refused (is the server running" in err  # libpq's hint, folded in


def test_db_status_says_the_same_in_its_state_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille db status` (the compose healthcheck): exit 1, the reason on its state line."""
    url, line = _documented()
    documented_port = str(make_url(url).port)
    port = str(_closed_port())
    monkeypatch.setenv("VEILLE_DATABASE_URL", url.replace(documented_port, port))
    assert main(["db", "status"]) == 1
    out = capsys.readouterr().out
    reason = line.removeprefix("veille: error: ").replace(documented_port, port)
    assert out.splitlines()[1:] == [f"state: not answering: {reason}"]


@pytest.mark.parametrize("wrong", ["database", "username"])
def test_a_wrong_database_or_user_is_one_line_naming_it(
    wrong: str, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server answers and refuses: its reason (no such database, no such role, a failed
    password) in the same line. A guard: it was one line when written."""
    name = "veille_no_such_name"
    good = make_url(database_url)
    url = good.set(database=name) if wrong == "database" else good.set(username=name)
    monkeypatch.setenv("VEILLE_DATABASE_URL", url.render_as_string(hide_password=False))
    for argv, code in COMMANDS[:4]:
        capsys.readouterr()
        assert main(argv) == code
        err = capsys.readouterr().err
        shown = url.render_as_string(hide_password=True)
        assert err.startswith(
            f"veille: error: {'nothing could run: ' if code == 3 else ''}cannot reach PostgreSQL at {shown}: "
        )
        assert err.count("\n") == 1 and "\t" not in err and name in err, err


#: Statements of opening the database (its revision, its clock): the loss comes after them
_OPENING = ("alembic_version", "veille_settings", "pg_catalog", "pg_backend_pid")


def _after_opening(sql: str, argv: list[str], code: int) -> list[str]:
    """``main(argv)`` (which must return ``code``), ``sql`` run on the session of its first
    statement after opening the database; that statement, in a list (empty: none came)."""
    met: list[str] = []

    def run_first(conn: object, cursor: Any, statement: str, *args: object) -> None:
        if not met and not any(part in statement for part in _OPENING):
            met.append(statement)
            cursor.execute(sql)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", run_first)
    try:
        assert main(argv) == code
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", run_first)
    return met


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["stories"], "veille stories"),
        (["stats"], "veille stats"),
        (["search", "sommet"], "veille search"),
        (["sources"], "veille sources"),
        (["feed"], "veille feed"),
    ],
)
def test_a_database_lost_while_a_command_reads_it_is_one_line_saying_during_what(
    argv: list[str],
    command: str,
    new_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A session the server ended (a restart, pg_terminate_backend) once the command had
    opened the database: `veille stories`, `stats`, `search` and `sources` ended on the
    driver's OperationalError traceback (exit 1), where `rescore` and `export` said it in one
    line. They say it as those do, during which command, exit 2; run again, it goes through.
    They commit nothing: the line says to run it again, not that what was committed stays."""
    import uuid

    from monitors.archive.schema import migrate

    migrate(new_database)
    fresh = make_url(new_database).set(query={"application_name": uuid.uuid4().hex[:8]})
    monkeypatch.setenv("VEILLE_DATABASE_URL", fresh.render_as_string(False))
    capsys.readouterr()
    ended = _after_opening("SELECT pg_terminate_backend(pg_backend_pid())", argv, 2)
    err = capsys.readouterr().err
    assert ended and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(
        f"veille: error: lost the database during `{command}` (terminating connection due to administrator"
    ), err
    # it only reads: "what was committed stays; run it again to go on" said what is not so
    assert err.rstrip().endswith(f"): run `{command}` again"), err
    assert main(argv) == 0


def test_a_statement_cancelled_while_a_command_reads_says_run_it_again(
    new_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A statement of `veille stories` the server cancelled (a statement_timeout): it commits
    nothing, so the line says to run it again, not "what was committed stays ... to go on"."""
    from monitors.archive.schema import migrate

    migrate(new_database)
    monkeypatch.setenv("VEILLE_DATABASE_URL", new_database)
    capsys.readouterr()
    cancelled = _after_opening("SET statement_timeout = 1; SELECT pg_sleep(1)", ["stories"], 2)
    err = capsys.readouterr().err
    assert cancelled and err.count("\n") == 1 and "Traceback" not in err, err
    assert "statement timeout" in err and "committed" not in err, err
    assert err.rstrip().endswith(": run `veille stories` again"), err
