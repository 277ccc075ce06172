"""`veille sources --failing`: the sources whose last poll failed, worst first (most failures in
a row, then longest since the last success, never first), with their last error and how many
of all they are. `veille sources` lists some sixty default sources by owner and name, the
failing ones among the healthy ones; `veille run`'s hint names this listing."""

from __future__ import annotations

import re
import shlex
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.collect.sources import load_sources_file, sync_sources
from tests.site import write_sources
from tests.test_direct_cycle import _run

#: name -> (failures in a row, hours since the last success or None for never, last error)
HEALTH: dict[str, tuple[int, int | None, str | None]] = {
    "Aa healthy": (0, 1, None),
    "Bb three, two days": (3, 48, "HTTP 503 Service Unavailable"),
    "Cc three, never": (3, None, "HTTP 404 Not Found"),
    "Dd one, an hour": (1, 1, "timed out after 20s"),
    "Ee three, five days": (3, 120, "TLS handshake failed"),
    "Ff healthy": (0, 2, None),
}
ROOT = Path(__file__).resolve().parent.parent
#: the line docs/sources.md gives, run here as written (tests/test_documented_lines.py)
DOCUMENTED = "veille sources --failing"
WORST_FIRST = ["Cc three, never", "Ee three, five days", "Bb three, two days", "Dd one, an hour"]


#: owners putting the listing's order (owner, then name) apart from the worst first
MEDIA = {"Aa healthy", "Dd one, an hour"}


def _archive(engine: sa.Engine, path: Path, names: list[str]) -> Path:
    """A sources file of ``names`` at ``path``, in the archive with the health HEALTH gives
    each (as the polls left it: failures in a row, last success, last error)."""
    path = write_sources(
        path,
        [
            {
                "name": n,
                "kind": "feed",
                "url": f"https://{i}.example/rss.xml",
                "owner": "media" if n in MEDIA else "party",
            }
            for i, n in enumerate(names)
        ],
    )
    with Session(engine) as session, session.begin():
        sync_sources(session, load_sources_file(path).specs)
    with engine.begin() as conn:
        for name in names:
            failures, hours, error = HEALTH[name]
            conn.execute(
                sa.text(
                    "UPDATE sources SET consecutive_failures = :f, last_error = :e, last_error_class = :c,"
                    " last_success_at = now() - CAST(:ago AS interval),"
                    " failing_since = now() - CAST(:since AS interval) WHERE name = :n"
                ),
                {
                    "f": failures,
                    "e": error,
                    "c": error and "transient",
                    "ago": None if hours is None else timedelta(hours=hours),
                    "since": timedelta(minutes=5) if failures else None,
                    "n": name,
                },
            )
    return path


def _listed(out: str) -> tuple[list[str], list[str], str]:
    """(the table's names, its rows, the closing line) of a `veille sources --failing` output."""
    header, *rows, blank, closing = out.splitlines()
    assert header.startswith("name ") and blank == "", out
    return [r[: header.index("kind")].rstrip() for r in rows], rows, closing


def test_failing_lists_the_sources_in_error_alone_worst_first(clean_db: sa.Engine, tmp_path: Path) -> None:
    _archive(clean_db, tmp_path / "s.toml", list(HEALTH))
    code, out, err = _run(shlex.split(DOCUMENTED)[1:])
    assert code == 0 and err == "", out + err
    names, rows, closing = _listed(out)
    assert names == WORST_FIRST, out
    for name, row in zip(names, rows, strict=True):
        assert row.endswith(f"[transient] {HEALTH[name][2]}"), row  # the last error, whole
    assert closing == "4 of 6 sources in error", out
    # the closing line the docs show is this one's
    for page in ("README.md", "docs/sources.md"):
        text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
        assert DOCUMENTED in text or "`veille sources [--sources FILE] [--failing]`" in text, page
        (shown,) = re.findall(r"\(`(\d+ of \d+ sources in error)`\)", text)
        assert re.sub(r"\d+", "N", shown) == re.sub(r"\d+", "N", closing), page
    # the listing keeps its order: by owner, then name, every source
    code, every, _ = _run(["sources"])
    assert code == 0 and "6 sources: 6 active" in every
    assert [line.split("  ")[0] for line in every.splitlines()[1:7]] == [
        "Aa healthy",
        "Dd one, an hour",
        "Bb three, two days",
        "Cc three, never",
        "Ee three, five days",
        "Ff healthy",
    ], every


def test_failing_with_a_sources_file_counts_that_files_sources(clean_db: sa.Engine, tmp_path: Path) -> None:
    _archive(clean_db, tmp_path / "all.toml", list(HEALTH))  # the archive: every source
    mine = write_sources(
        tmp_path / "mine.toml",
        [
            {"name": n, "kind": "feed", "url": f"https://{i}.example/rss.xml", "owner": "media"}
            for i, n in enumerate(
                ["Bb three, two days", "Dd one, an hour", "Ff healthy", "Gg not polled yet"]
            )
        ],
    )
    code, out, _ = _run(["sources", "--failing", "--sources", str(mine)])
    names, _, closing = _listed(out)
    assert code == 0 and names == ["Bb three, two days", "Dd one, an hour"], out
    assert closing == "2 of 4 sources in error", out  # the file's four, the one not polled yet too


def test_failing_with_none_in_error_says_so_in_one_line(clean_db: sa.Engine, tmp_path: Path) -> None:
    _archive(clean_db, tmp_path / "s.toml", ["Aa healthy", "Ff healthy"])
    code, out, err = _run(["sources", "--failing"])
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "no source in error (2 sources: the last poll of each succeeded, or is to come)"
    ], out


def test_failing_is_refused_with_an_action_that_would_ignore_it(clean_db: sa.Engine, tmp_path: Path) -> None:
    path = _archive(clean_db, tmp_path / "s.toml", ["Dd one, an hour"])
    for action in (["check"], ["enable", "Dd one, an hour"], ["disable", "Dd one, an hour"]):
        code, out, err = _run(["sources", "--failing", *action, "--sources", str(path)])
        assert code == 2 and out == "", out + err
        assert err == (
            f"veille: error: --failing filters the listing (`veille sources --failing`),"
            f" not `veille sources {action[0]}`\n"
        )
    with clean_db.connect() as conn:  # neither enabled nor disabled
        assert conn.scalar(sa.text("SELECT status || consecutive_failures FROM sources")) == "active1"
