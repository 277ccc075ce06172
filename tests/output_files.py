"""Helpers for the tests of the files veille commands write (replaced only when complete):
the umask, the environment of a veille command run as a process, and such a run whose
writes fail with EFBIG once a file reaches a size (a full disk, as a test can make one)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the `veille` command as a user runs it (its signal handlers, its exit handlers)
VEILLE = "import sys; from flows.cli import main; sys.argv[0] = 'veille'; sys.exit(main())"


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def command_env(**settings: str) -> dict[str, str]:
    """This environment without its Prefect and veille settings, plus ``settings``; no .pyc
    written (a child under a file size limit would fail to write one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VEILLE_"))}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", **settings)
    return env


def run_veille(
    argv: list[str], env: dict[str, str], file_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``veille *argv`` in a process; with ``file_limit``, one that cannot write a file past
    that many bytes: the write that would fails with EFBIG ("File too large"), SIGXFSZ being
    ignored."""

    def limit_files() -> None:
        if file_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run(
        [sys.executable, "-c", VEILLE, *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=limit_files,  # noqa: PLW1509 - the child only sets a limit, no thread involved
        check=False,
    )


def contents(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` (temporary ones too), name to bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
