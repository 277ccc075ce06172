"""Bad entries of the sources file are rows of ``source_problems`` (a run keeps a file's rows to
what it found, the psql recipe of docs/sources.md lists them); the backfill flows, run on a
work pool without the command's warnings, warn of each on the run's log and end Partial; an
entry of an inline array is reported at its own line."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from monitors.collect.sources import read_sources
from tests.fake_archives import FakeArchives, seed_snapshots, seed_sources
from tests.site import LocalSite, seed_site, write_sources
from tests.test_archive_backfill import WINDOW, archives  # noqa: F401 - the fake archives fixture
from tests.test_archive_backfill import _run as backfill
from tests.test_run_states import _logs
from tests.test_sources_bad_entries import MIXED, _file, _run, direct_run  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = "SELECT line, name, url, reason, first_seen_at, last_seen_at FROM source_problems WHERE file = :f"


def _problems(engine: sa.Engine, path: Path) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(PROBLEMS + " ORDER BY line"), {"f": str(path.resolve())}))


@pytest.mark.usefixtures("direct_run")
def test_bad_entries_are_rows_a_user_can_query_until_they_are_fixed(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    seed_site(site)
    path = _file(tmp_path, MIXED, site.base)
    assert _run(["run", "--sources", str(path)])[0] == 1
    first = _problems(clean_db, path)
    assert [tuple(r)[:4] for r in first] == [
        (9, "Typo", f"{site.base}/other.xml", "unknown kind 'fed' (one of feed, sitemap, listing)"),
        (16, "No scheme", "x.fr/rss.xml", "url must start with http:// or https://"),
    ]
    # the docs' recipe, run as written, lists them
    docs = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    recipe = re.search(r"^ {6}(veille psql -c .*source_problems.*)$", docs, flags=re.M)
    assert recipe, "docs/sources.md shows no psql recipe of source_problems"
    argv = shlex.split(recipe.group(1))
    assert argv[:2] == ["veille", "psql"]
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())", *argv[1:]],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    listed = [line for line in done.stdout.splitlines() if str(path.resolve()) in line]
    assert len(listed) == 2 and "unknown kind 'fed'" in listed[0] and "url must start" in listed[1]

    # run again: the same rows, first seen kept, last seen later
    assert _run(["run", "--sources", str(path)])[0] == 1
    again = _problems(clean_db, path)
    assert [tuple(r)[:5] for r in again] == [tuple(r)[:5] for r in first]
    assert all(b.last_seen_at > a.last_seen_at for a, b in zip(first, again, strict=True))
    # one entry fixed: its row goes, the other stays (the fixed source's feed is not found:
    # the run's verdict is no matter here)
    path.write_text(path.read_text("utf-8").replace('kind = "fed"', 'kind = "feed"'), "utf-8")
    _run(["run", "--sources", str(path)])
    assert [(r.line, r.name) for r in _problems(clean_db, path)] == [(16, "No scheme")]
    # all fixed: no row left
    path.write_text(path.read_text("utf-8").replace('"x.fr/rss.xml"', f'"{site.base}/x.xml"'), "utf-8")
    _run(["run", "--sources", str(path)])
    assert _problems(clean_db, path) == []


def test_veille_sources_lists_the_recorded_problems_not_the_file_as_it_is_now(
    clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`veille sources` re-read the sources file it would run with: a problem a scheduled run
    recorded against a file since edited, or a worker against another file, was not shown, and
    an entry no run had read was. It lists the rows of source_problems, cause first, with the
    entry's file and line and when runs found it; with --sources FILE, that file's, with its
    bad entries no run recorded yet and the recorded ones it no longer has marked so."""
    from monitors.archive.db import session_scope
    from monitors.collect.sources import load_sources_file, record_problems

    path = _file(tmp_path, MIXED).resolve()  # the rows name a file by its absolute path
    worker = tmp_path.resolve() / "worker.toml"  # another file, a worker's, since gone
    worker.write_text(
        '[[source]]\nname = "W"\nkind = "feed"\nurl = "https://w.fr"\nowner = "nobody"\n', "utf-8"
    )
    with session_scope() as session:  # as the runs record them
        record_problems(session, load_sources_file(path))
        record_problems(session, load_sources_file(worker))
    worker.unlink()
    # the file edited since: Typo fixed, a new mistake at the end
    path.write_text(
        path.read_text("utf-8").replace('kind = "fed"', 'kind = "feed"')
        + '\n[[source]]\nname = "New"\nkind = "feed"\nurl = "https://n.fr"\nowner = "media"\nx = 1\n',
        "utf-8",
    )
    monkeypatch.setenv("VEILLE_SOURCES", str(path))
    with clean_db.connect() as conn:
        seen = {
            r.line: r
            for r in conn.execute(sa.text("SELECT line, first_seen_at, last_seen_at FROM source_problems"))
        }
    from monitors.dates import local_zone

    def when(line: int) -> str:
        first, last = (t.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M %Z") for t in seen[line][1:])
        return f"found by runs since {first}, last {last}"

    code, out, _ = _run(["sources"])
    assert code == 0
    listed = out.split("(table source_problems), skipped by runs until fixed:\n", 1)[1].splitlines()
    assert listed == [  # by file, then line: what the runs recorded, the Typo too
        f"  unknown kind 'fed' (one of feed, sitemap, listing) — Typo, {path}:9, {when(9)}",
        f"  url must start with http:// or https:// — No scheme, {path}:16, {when(16)}",
        f"  unknown owner 'nobody' (one of media, party) — W, {worker}:5, {when(5)}",
    ]
    assert out.split("\n\n")[-1].startswith("3 bad entries of the sources file")
    # the file now: its recorded rows, the one fixed and the one not recorded yet marked
    code, out, _ = _run(["sources", "--sources", str(path)])
    assert code == 0
    listed = out.split("(table source_problems), skipped by runs until fixed:\n", 1)[1].splitlines()
    assert listed == [
        f"  unknown kind 'fed' (one of feed, sitemap, listing) — Typo, {path}:9, {when(9)}"
        "; not in the file now (the next run clears it)",
        f"  url must start with http:// or https:// — No scheme, {path}:16, {when(16)}",
        "  unknown key 'x' (allowed: name, kind, url, owner, family, link_pattern, fallback,"
        f" fallback_kind, enabled) — New, {path}:24, not recorded yet (the next run records it)",
    ]


def test_values_no_index_or_text_takes_are_recorded(db: sa.orm.Session, tmp_path: Path) -> None:
    """A reason quoting a value of any length (past what a btree index entry takes), a NUL
    (text takes none), two entries of one line with one reason: each recorded, once."""
    from monitors.collect.sources import load_sources_file, record_problems

    path = tmp_path / "s.toml"
    huge = "k" * 5000
    path.write_text(
        f'source = [{{name = "A\\u0000", kind = "{huge}", url = "https://a.fr", owner = "media"}},'
        ' {name = "B", kind = "feed", url = "b", owner = "media"},'
        ' {name = "C", kind = "feed", url = "c", owner = "media"}]\n',
        "utf-8",
    )
    read = load_sources_file(path)
    assert len(read.bad) == 3
    record_problems(db, read)
    record_problems(db, read)  # a second load: no new row
    rows = db.execute(sa.text(PROBLEMS + " ORDER BY name"), {"f": str(path.resolve())}).all()
    assert [(r.line, r.name) for r in rows] == [(1, "A\ufffd"), (1, "B")]
    assert rows[0].reason.startswith("unknown kind 'kkkk") and len(rows[0].reason) > 5000


@pytest.mark.usefixtures("prefect_harness")
def test_the_backfill_flow_on_a_pool_warns_records_and_ends_partial(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """The `veille-backfill` flow as a work pool's worker runs it (no command, so no stderr
    warning): each bad entry a warning of its log, cause first, a row of source_problems, and
    the run Partial, as `veille run`."""
    from flows.backfill import backfill_flow

    seed_site(site)
    path = _file(tmp_path, MIXED, site.base)
    state = backfill_flow(
        datetime(2025, 2, 1, tzinfo=UTC),
        datetime(2025, 2, 28, tzinfo=UTC),
        sources_file=str(path),
        return_state=True,
    )
    assert state.is_completed() and state.name == "Partial", state.message
    assert (state.message or "").startswith(
        f"Partly done (2 bad entries of the sources file skipped ({path}:16: url must start with"
    )  # the first of the rows, by name, as `veille run` says it
    rows = state.result()
    assert [(r["source"], r["poll"]) for r in rows if r["poll"] == "bad entry"] == [
        ("No scheme", "bad entry"),
        ("Typo", "bad entry"),
    ]
    assert next(r for r in rows if r["source"] == "Good")["stored"] == 4
    logs = _logs(state.state_details.flow_run_id)
    assert any(m.startswith(f"{path}:9: unknown kind 'fed'") and "entry skipped" in m for m in logs), logs
    assert any(m.startswith(f"{path}:16: url must start with http://") for m in logs), logs
    assert [r.line for r in _problems(clean_db, path)] == [9, 16]


def _seed_sources_and_two_bad(tmp_path: Path) -> tuple[Path, int, int]:
    """The seed sites' sources, a bad entry on pcf.fr and one on another site; their lines."""
    path = write_sources(tmp_path / "sources.toml", seed_sources())
    bad = (
        '\n[[source]]\nname = "PCF typo"\nkind = "fed"\nurl = "https://www.pcf.fr/rss"\nowner = "party"\n'
        '\n[[source]]\nname = "Other"\nkind = "fed"\nurl = "https://autre.fr/rss"\nowner = "media"\n'
    )
    path.write_text(path.read_text("utf-8") + bad, "utf-8")
    lines = path.read_text("utf-8").splitlines()
    pcf, other = (lines.index(f'name = "{n}"') + 2 for n in ("PCF typo", "Other"))  # their kind line
    return path, pcf, other


@pytest.mark.usefixtures("prefect_harness")
def test_the_archive_backfill_flow_on_a_pool_warns_records_and_ends_partial(
    archives: FakeArchives,  # noqa: F811 - the fixture imported above
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    """`veille-archive-backfill` as a pool runs it, for one site: the bad entry that may be of
    that site is warned of and makes the run Partial; one of another site is only recorded."""
    from flows.archive_backfill import archive_backfill_flow

    archives.snapshots = seed_snapshots()
    path, pcf, other = _seed_sources_and_two_bad(tmp_path)
    state: Any = archive_backfill_flow(  # a flow returning Any: typed as awaitable too
        "wayback",
        datetime(2025, 2, 1, tzinfo=UTC),
        datetime(2025, 2, 28, tzinfo=UTC),
        site="pcf.fr",
        sources_file=str(path),
        return_state=True,
    )
    assert state.is_completed() and state.name == "Partial", state.message
    assert state.message.startswith(
        f"Partly done (a bad entry of the sources file skipped ({path}:{pcf}: unknown kind 'fed'"
    )
    assert sum(r["stored"] for r in state.result()) == 1  # the site's capture, read all the same
    logs = _logs(state.state_details.flow_run_id)
    assert any(m.startswith(f"{path}:{pcf}: unknown kind 'fed'") for m in logs), logs
    assert not any(m.startswith(f"{path}:{other}:") for m in logs), logs
    assert [(r.line, r.name) for r in _problems(clean_db, path)] == [(pcf, "PCF typo"), (other, "Other")]


@pytest.mark.usefixtures("prefect_harness")
def test_veille_backfill_from_an_archive_exits_partly_done_on_a_bad_entry(
    archives: FakeArchives,  # noqa: F811 - the fixture imported above
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    """The command said all was well (exit 0) while the file's entry of that site was left out."""
    archives.snapshots = seed_snapshots()
    path, pcf, _ = _seed_sources_and_two_bad(tmp_path)
    code, _, err = backfill([*WINDOW, "--from", "wayback", "--site", "pcf.fr", "--sources", str(path)])
    assert code == 1, err
    assert f"veille: warning: {path}:{pcf}: unknown kind 'fed'" in err  # before the run, as before
    assert err.rstrip().splitlines()[-1] == (
        f"veille: a bad entry of the sources file skipped ({path}:{pcf}: unknown kind 'fed'"
        " (one of feed, sitemap, listing))"
    )


def test_a_backfill_of_a_site_whose_only_entries_are_bad_says_they_are_there_but_bad(
    archives: FakeArchives,  # noqa: F811 - the fixture imported above
    clean_db: sa.Engine,
    tmp_path: Path,
) -> None:
    """`--site pcf.fr` with pcf.fr's entries of the file all bad said "no source on pcf.fr: add
    one for it to the sources file", which it holds: the error gives each entry's line and
    reason, those its rows of source_problems hold (recorded, the backfill refused)."""
    archives.snapshots = seed_snapshots()
    path = write_sources(tmp_path / "sources.toml", [s for s in seed_sources() if "pcf.fr" not in s["url"]])
    bad = (  # pcf.fr's entries: one of an unknown kind, one whose url has no scheme; another site's
        '\n[[source]]\nname = "PCF typo"\nkind = "fed"\nurl = "https://www.pcf.fr/rss"\nowner = "party"\n'
        '\n[[source]]\nname = "Other"\nkind = "fed"\nurl = "https://autre.fr/rss"\nowner = "media"\n'
        '\n[[source]]\nname = "PCF bare"\nkind = "feed"\nurl = "pcf.fr/rss"\nowner = "party"\n'
    )
    path.write_text(path.read_text("utf-8") + bad, "utf-8")
    code, out, err = backfill([*WINDOW, "--from", "wayback", "--site", "pcf.fr", "--sources", str(path)])
    rows = _problems(clean_db, path)
    assert [r.name for r in rows] == ["PCF typo", "Other", "PCF bare"]
    typo, bare = rows[0], rows[2]
    assert code == 2 and out == "", out
    assert err.splitlines()[-1] == (
        f"veille: error: {path}:{typo.line}: {typo.reason}; {path}:{bare.line}: {bare.reason}"
        " (no usable source on pcf.fr: its 2 entries are skipped until fixed, see `veille sources`)"
    )
    assert "no source on pcf.fr" not in err
    # a site the file does not name at all: the error as before
    code, _, err = backfill([*WINDOW, "--from", "wayback", "--site", "nowhere.fr", "--sources", str(path)])
    assert code == 2 and err.splitlines()[-1].startswith("veille: error: no source on nowhere.fr: add one")


INLINE = """\
# the entries as an inline array
source = [
  { name = "A", kind = "feed", url = "https://a.fr/rss", owner = "media" },
  # a comment holding { and [[source]]
  { name = "B", kind = "fed", url = "https://b.fr/rss", owner = "media" },
  "not a table",
  { name = "C", kind = "feed", url = "https://c.fr/rss", owner = "media", link_pattern = "x]}{" },
  { name = "D", kind = "feed", url = "d.fr", owner = "media" },
]
"""

QUOTED = """\
[["source"]]
name = "A"
kind = "feed"
url = "https://a.fr/rss"
owner = "media"
family = '''
[[source]]
name = "in a string"
'''

[[ 'source' ]]  # a quoted key
name = "B"
kind = "fed"
url = "https://b.fr/rss"
owner = "media"
"""


@pytest.mark.parametrize(
    ("text", "reported"),
    [
        (
            INLINE,
            [
                "s.toml:5: unknown kind 'fed' (one of feed, sitemap, listing)",
                "s.toml:6: source #3 is not a table",
                "s.toml:8: url must start with http:// or https://",
            ],
        ),
        (
            'source = [{name = "A", kind = "feed", url = "https://a.fr", owner = "media"},\n'
            '  {name = "B", kind = "feed", url = "https://b.fr", owner = "media", x = 1}]\n',
            [
                "s.toml:2: unknown key 'x' (allowed: name, kind, url, owner, family, link_pattern,"
                " fallback, fallback_kind, enabled)"
            ],
        ),
        (QUOTED, ["s.toml:13: unknown kind 'fed' (one of feed, sitemap, listing)"]),
    ],
    ids=["inline-array", "inline-one-line-each", "quoted-header-and-string"],
)
def test_entries_are_reported_at_their_own_line(text: str, reported: list[str]) -> None:
    """An entry of an inline array was reported at line 0; a quoted `[["source"]]` header too,
    and a `[[source]]` line inside a multi-line string shifted the entries after it."""
    assert [str(b) for b in read_sources(text, "s.toml").bad] == reported


_TRICKY = st.text(alphabet="ab \"'[]{}#=,.\\\n\t", max_size=12)  # what could pass for TOML syntax


@st.composite
def _sources_texts(draw: st.DrawFn) -> tuple[str, list[int]]:
    """A sources file, as [[source]] tables or an inline array, whose strings and comments hold
    brackets, braces, quotes and `[[source]]` lines; and the line each bad entry is to be
    reported at (its `kind` line; an inline table's own line)."""
    inline = draw(st.booleans())
    lines = ["source = ["] if inline else []
    expected: list[int] = []
    for i in range(draw(st.integers(1, 6))):
        bad = draw(st.booleans())
        name = json.dumps(f"S{i}{draw(_TRICKY)}", ensure_ascii=False)  # a TOML basic string too
        family = "'''\n[[source]]\n" + draw(_TRICKY).replace("'", "") + "'''"
        comment = "# " + draw(_TRICKY).replace("\n", " ")
        kind = '"fed"' if bad else '"feed"'
        fields = [f"name = {name}", f"kind = {kind}", 'url = "https://a.fr/x"', 'owner = "media"']
        if inline:  # TOML 1.0: an inline table on one line (a multi-line string would break it)
            lines.append(comment)
            if bad:
                expected.append(len(lines) + 1)
            lines.append("  { " + ", ".join(fields) + " },  " + comment)
        else:
            lines += [comment, "[[ source ]]" if draw(st.booleans()) else '[["source"]]']
            lines += [fields[0], f"family = {family}"]
            if bad:
                expected.append(len("\n".join(lines).splitlines()) + 1)
            lines += [f"{fields[1]}  {comment}", *fields[2:], ""]
    if inline:
        lines.append("]")
    return "\n".join(lines) + "\n", expected


@given(_sources_texts())
def test_a_bad_entry_is_reported_at_its_line_however_the_file_is_written(
    case: tuple[str, list[int]],
) -> None:
    text, expected = case
    assert [b.line for b in read_sources(text, "s.toml").bad] == expected, text


@pytest.mark.parametrize(("setting", "kept_days"), [(None, 7), ("30", 30)])
def test_the_bad_entries_of_a_file_no_run_reads_any_more_go(
    clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, kept_days: int
) -> None:
    """Each load of a file sets its rows' last_seen_at (or deletes them), so rows not seen for
    VEILLE_PROBLEMS_KEPT_DAYS (default 7) are of a file no run reads any more (dropped, renamed,
    moved): `veille sources` no longer lists them and the next load of any file deletes them.
    They were listed forever, with their last-seen time; then kept 7 days, a constant a user of
    several files read now and then could not raise."""
    from monitors.archive.db import session_scope
    from monitors.collect.sources import load_sources_file, record_problems

    if setting is not None:
        monkeypatch.setenv("VEILLE_PROBLEMS_KEPT_DAYS", setting)

    def bad(name: str) -> Path:
        path = tmp_path.resolve() / f"{name}.toml"
        path.write_text(
            f'[[source]]\nname = "{name}"\nkind = "fed"\nurl = "https://{name}.fr"\nowner = "media"\n'
        )
        return path

    old, recent, read = bad("old"), bad("recent"), bad("read")
    with session_scope() as session:
        for path in (old, recent, read):
            record_problems(session, load_sources_file(path))
    with clean_db.begin() as conn:  # old: read last kept_days + 1 days ago; recent: 1 day less
        for path, days in ((old, kept_days + 1), (recent, kept_days - 1)):
            conn.execute(
                sa.text(
                    "UPDATE source_problems SET last_seen_at = now() - make_interval(days => :d)"
                    " WHERE file = :f"
                ),
                {"d": days, "f": str(path)},
            )
    monkeypatch.setenv("VEILLE_SOURCES", str(read))
    code, out, _ = _run(["sources"])
    assert code == 0
    listed = out.split("(table source_problems), skipped by runs until fixed:\n", 1)[1]
    assert str(recent) in listed and str(read) in listed and str(old) not in listed, listed
    with session_scope() as session:  # the next run reads its own file
        record_problems(session, load_sources_file(read))
    with clean_db.connect() as conn:
        files = (
            conn.execute(sa.text("SELECT DISTINCT file FROM source_problems ORDER BY file")).scalars().all()
        )
    assert files == sorted([str(read), str(recent)])
