"""`veille export -o FILE` replaces FILE only when the export is complete (an error, a full
disk or a signal mid-way leaves the previous export and no partial file); `--source` naming
no source of the archive is refused like an unknown `--topic`."""

from __future__ import annotations

import contextlib
import io
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.cli import main
from monitors.archive import export
from tests.output_files import ROOT, command_env, umask

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def archive(clean_db: sa.Engine) -> sa.Engine:
    """Three articles of the source "Le Monde"."""
    with clean_db.begin() as conn:
        source_id = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Le Monde', 'feed', 'http://x/f', 'media') RETURNING id"
            )
        )
        for n in range(3):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, text, text_hash)"
                    " VALUES (:u, :u, :s, :x, :h)"
                ),
                {"u": f"http://x/{n}", "s": source_id, "x": f"Article {n}.", "h": str(n)},
            )
    return clean_db


def _failing_after(rows: int, exc: BaseException) -> Any:
    """``iter_rows`` that yields ``rows`` real rows, then raises ``exc`` (the database went
    away, the disk is full, Ctrl-C)."""
    real = export.iter_rows

    def iter_rows(session: Any, **filters: Any) -> Iterator[dict[str, Any]]:
        for n, row in enumerate(real(session, **filters)):
            if n == rows:
                raise exc
            yield row

    return iter_rows


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_an_export_cut_short_leaves_the_previous_file(
    archive: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    out = tmp_path / f"archive.{fmt}"
    argv = ["export", "--format", fmt, "--no-progress", "-o", str(out)]
    assert main(argv) == 0
    before = out.read_bytes()
    assert before and stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask()  # not 0600
    with archive.begin() as conn:  # a later export would differ
        conn.execute(sa.text("UPDATE articles SET title = 'changed'"))
    for exc in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        monkeypatch.setattr(export, "iter_rows", _failing_after(2, exc))
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.suppress(KeyboardInterrupt):
            assert main(argv) == 2  # the OSError: one line, exit 2
            assert "No space left on device" in err.getvalue()
        assert out.read_bytes() == before, exc
        assert sorted(p.name for p in tmp_path.iterdir()) == [out.name], exc
    monkeypatch.undo()
    out.chmod(0o640)
    assert main(argv) == 0  # complete: replaced, its mode kept
    assert out.read_bytes() != before and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


# a veille command whose export stops after two rows, says so in a file, and waits for a signal
_STALLED = """
import sys, time
from pathlib import Path
from monitors.archive import export
real, ready = export.iter_rows, Path(sys.argv[1])
def iter_rows(session, **filters):
    for n, row in enumerate(real(session, **filters)):
        if n == 2:
            ready.touch()
            time.sleep(120)
        yield row
export.iter_rows = iter_rows
from flows.cli import main
sys.argv = ["veille", *sys.argv[2:]]
sys.exit(main())
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_export_leaves_the_previous_file(
    archive: sa.Engine, database_url: str, tmp_path: Path, sig: signal.Signals
) -> None:
    """The signal handler leaves without unwinding the export: its temporary file goes too."""
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "archive.jsonl"
    out.write_text('{"previous": "export"}\n', encoding="utf-8")
    ready = tmp_path / "ready"
    env = command_env(VEILLE_DATABASE_URL=database_url, VEILLE_DATA_DIR=str(tmp_path))
    command = [sys.executable, "-c", _STALLED, str(ready), "export", "--no-progress", "-o", str(out)]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), proc.communicate(timeout=10)[1]
        assert any(p.name.endswith(".part") for p in folder.iterdir())  # being written
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err
    assert out.read_text(encoding="utf-8") == '{"previous": "export"}\n'
    assert [p.name for p in folder.iterdir()] == [out.name]


def test_an_export_that_loses_the_database_says_so_in_one_line_and_leaves_the_file(
    archive: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/operating.md: a lost database in `veille export` is `lost the database during the
    export (...)`, exit 2, as a cancelled statement is: one line, cause first, its `--output`
    file left as it was. The server ends the export's connection (a restart, an
    administrator's pg_terminate_backend) as the export's query is about to run."""
    out = tmp_path / "archive.jsonl"
    out.write_text("before\n", encoding="utf-8")
    real = export.iter_rows

    def iter_rows(session: Any, **filters: Any) -> Iterator[dict[str, Any]]:
        pid = session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with archive.begin() as conn:
            assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        yield from real(session, **filters)

    monkeypatch.setattr(export, "iter_rows", iter_rows)
    stdout, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
        code = main(["export", "--no-progress", "-o", str(out)])
    said = err.getvalue()
    assert code == 2 and said.count("\n") == 1 and "Traceback" not in said, said
    assert said.startswith("veille: error: lost the database during the export ("), said
    assert f"{out} is left as it was" in said and "run `veille export` again" in said, said
    assert out.read_text(encoding="utf-8") == "before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no partial file
    monkeypatch.undo()
    assert main(["export", "--no-progress", "-o", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_an_unknown_source_is_an_error(archive: sa.Engine, tmp_path: Path) -> None:
    """A typo in --source stops with exit 2 naming it (it exported 0 articles, exit 0, before),
    and leaves an existing file alone; the right name exports its articles."""
    out = tmp_path / "monde.jsonl"
    out.write_text("before\n", encoding="utf-8")
    stdout, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
        assert main(["export", "--source", "Le Mond", "--no-progress", "-o", str(out)]) == 2
        assert main(["export", "--source", "Le Mond", "--no-progress"]) == 2
    assert stdout.getvalue() == "" and out.read_text(encoding="utf-8") == "before\n"
    assert (
        "veille: error: no source named 'Le Mond' in the archive "
        "(did you mean 'Le Monde'? its sources: veille sources)"
    ) in err.getvalue()
    assert main(["export", "--source", "Le Monde", "--no-progress", "-o", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_a_folder_that_does_not_exist_is_named_as_the_user_wrote_it(
    archive: sa.Engine, tmp_path: Path
) -> None:
    """The error names the file asked for, not the temporary one written beside it."""
    out = tmp_path / "nowhere" / "export.csv"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["export", "--format", "csv", "--no-progress", "-o", str(out)]) == 2
    assert err.getvalue().strip() == f"veille: error: cannot write {out}: No such file or directory"
    assert not out.parent.exists()
