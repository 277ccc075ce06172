"""One bad entry of the sources file no longer stops every source: a run polls the others and
reports each bad entry (file:line, reason) in its table, summary and final state;
`veille sources` lists them; `veille sources check` fails on any of them."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.cli import main
from monitors.collect.sources import SourcesError, load_sources_file, parse_sources, read_sources
from tests.site import LocalSite, seed_site

MIXED = """\
[[source]]
name = "Good"
kind = "feed"
url = "{base}/feed.xml"
owner = "media"

[[source]]
name = "Typo"
kind = "fed"
url = "{base}/other.xml"
owner = "media"

[[source]]
name = "No scheme"
kind = "feed"
url = "x.fr/rss.xml"
owner = "media"
"""


@pytest.fixture
def direct_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """`veille run` without a Prefect server (its direct cycle)."""
    monkeypatch.setenv("VEILLE_PREFECT", "off")
    monkeypatch.delenv("PREFECT_LOGGING_LEVEL", raising=False)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _file(tmp_path: Path, text: str, base: str = "http://127.0.0.1:9") -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text.format(base=base), encoding="utf-8")
    return path


def test_a_file_is_read_entry_by_entry() -> None:
    read = read_sources(MIXED.format(base="http://x.fr"), "s.toml")
    assert [s.name for s in read.specs] == ["Good"]
    assert [(b.name, str(b)) for b in read.bad] == [
        ("Typo", "s.toml:9: unknown kind 'fed' (one of feed, sitemap, listing)"),
        ("No scheme", "s.toml:16: url must start with http:// or https://"),
    ]
    with pytest.raises(SourcesError) as strict:  # a validation names every bad line
        parse_sources(MIXED.format(base="http://x.fr"), "s.toml")
    assert str(strict.value).splitlines() == [
        "s.toml: 2 bad entries (fix each line below)",
        "s.toml:9: unknown kind 'fed' (one of feed, sitemap, listing)",
        "s.toml:16: url must start with http:// or https://",
    ]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ('enabled = "no"', "s.toml:6: enabled must be true or false"),
        ("family = 3", "s.toml:6: family must be a string"),
        ("link_pattern = 3", "s.toml:6: link_pattern must be a string"),
    ],
)
def test_values_of_the_wrong_type_are_bad_entries(entry: str, says: str) -> None:
    """Before: `enabled = "no"` enabled the source (bool("no")); `link_pattern = 3` was a
    TypeError traceback."""
    text = '[[source]]\nname = "A"\nkind = "feed"\nurl = "https://a.fr/"\nowner = "media"\n' + entry
    read = read_sources(text, "s.toml")
    assert read.specs == [] and [str(b) for b in read.bad] == [says]


def test_a_file_that_is_not_toml_stops_with_its_line(tmp_path: Path) -> None:
    path = _file(tmp_path, MIXED + "\n[[source]\n")
    with pytest.raises(SourcesError) as err:
        load_sources_file(path)
    assert str(err.value).startswith(f"{path}:19: not valid TOML: Expected ']]'")
    code, _, err_text = _run(["run", "--sources", str(path)])
    assert code == 2 and err_text.startswith(f"veille: error: {path}:19: not valid TOML")


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    """Before: a UnicodeDecodeError traceback."""
    path = tmp_path / "latin1.toml"
    path.write_bytes('[[source]]\nname = "Le Télégramme"\n'.encode("latin-1"))
    for argv in (["run", "--sources", str(path)], ["sources", "check", "--sources", str(path)]):
        code, _, err = _run(argv)
        assert code == 2 and err == f"veille: error: {path}: not UTF-8 text (byte 23): save it as UTF-8\n"


@pytest.mark.usefixtures("direct_run")
def test_a_run_polls_the_good_sources_and_reports_the_bad_entries(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    seed_site(site)
    path = _file(tmp_path, MIXED, site.base)
    code, out, err = _run(["run", "--sources", str(path)])
    assert code == 1, out + err  # partly done
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM articles")).scalar() == 5
        assert conn.execute(sa.text("SELECT name FROM sources")).scalars().all() == ["Good"]
    # the per-source table: one row per bad entry, with its line and reason
    assert f"skipped: {path}:9: unknown kind 'fed'" in out
    assert "1 source polled (0 with errors), 5 new URLs, 5 stored" in out
    assert "2 bad entries of the sources file skipped (the other sources were polled):" in out
    assert f"  {path}:16: url must start with http:// or https://" in out
    # warned of before the run, logged by it, and in its final state
    assert f"veille: warning: {path}:9: unknown kind 'fed'" in err
    assert (
        err.rstrip()
        .splitlines()[-1]
        .startswith(
            f"veille: Partly done (2 bad entries of the sources file skipped ({path}:16: url must start"
        )
    )


def test_veille_sources_lists_the_bad_entries_and_check_fails_on_them(
    database_url: str, tmp_path: Path
) -> None:
    path = _file(tmp_path, MIXED)
    code, out, _ = _run(["sources", "--sources", str(path)])
    assert code == 0 and "Good" in out
    assert (  # no run read it yet: nothing recorded (tests/test_source_problems.py)
        "2 bad entries of the sources file (table source_problems), skipped by runs until fixed:\n"
        f"  unknown kind 'fed' (one of feed, sitemap, listing) — Typo, {path}:9, not recorded yet"
    ) in out
    code, out, err = _run(["sources", "check", "--sources", str(path)])
    assert code == 2 and out == ""  # nothing probed
    assert err.splitlines() == [
        f"veille: error: {path}: 2 bad entries (fix each line below)",
        f"{path}:9: unknown kind 'fed' (one of feed, sitemap, listing)",
        f"{path}:16: url must start with http:// or https://",
    ]
    code, _, err = _run(["sources", "enable", "Typo", "--sources", str(path)])
    assert code == 2 and err == (
        f"veille: error: {path}:9: unknown kind 'fed' (one of feed, sitemap, listing)"
        " (fix source 'Typo' first)\n"
    )


def test_a_file_with_no_valid_entry_is_refused(database_url: str, tmp_path: Path) -> None:
    path = _file(tmp_path, MIXED.split("\n\n", 1)[1])  # the two bad entries only
    code, _, err = _run(["run", "--sources", str(path)])
    assert code == 2 and err.startswith(f"veille: error: {path}: 2 bad entries")


def test_backfill_of_a_bad_entry_says_why(database_url: str, tmp_path: Path) -> None:
    path = _file(tmp_path, MIXED)
    code, _, err = _run(["backfill", "--since", "2025-02-01", "--source", "Typo", "--sources", str(path)])
    assert code == 2 and err == (
        f"veille: error: {path}:9: unknown kind 'fed' (one of feed, sitemap, listing)"
        " (source 'Typo' is skipped until it is fixed)\n"
    )


def test_a_duplicate_name_keeps_the_first_entry_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second entry of one name was a file refused whole (tests/test_faults.py before):
    the first is kept, the second warned of, and the run starts."""
    import flows.direct

    started: list[str | None] = []

    def run_direct(sources_file: str | None = None, **kwargs: object) -> None:
        started.append(sources_file)
        raise SystemExit(0)  # the run would start here

    monkeypatch.setattr(flows.direct, "run_direct", run_direct)
    monkeypatch.setenv("VEILLE_PREFECT", "off")
    entry = '[[source]]\nname = "X"\nkind = "feed"\nurl = "https://x.fr/{}"\nowner = "media"\n'
    path = tmp_path / "sources.toml"
    path.write_text(entry.format("a") + entry.format("b"), "utf-8")
    assert [s.url for s in load_sources_file(path).specs] == ["https://x.fr/a"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit):
        main(["run", "--sources", str(path)])
    assert started == [str(path)]
    assert err.getvalue().startswith(
        f"veille: warning: {path}:7: duplicate source name 'X' (the first entry of that name is kept)"
    )


def test_a_url_pasted_with_blanks_around_it_is_that_url() -> None:
    """`url = " https://a.fr/feed.xml "`: the leading blank made it a bad entry ("url must
    start with http://"), a trailing one was sent and answered 404. A blank inside, no host or
    a broken address is a bad entry saying so, not a refused fetch at every poll."""
    entry = '[[source]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\nowner = "media"\n'
    text = "\n".join(
        entry.format(name=name, url=url)
        for name, url in (
            ("Around", " https://a.fr/feed.xml\\t "),
            ("Inside", "https://a.fr/flux rss.xml"),
            ("No host", "https:///feed.xml"),
            ("Broken", "http://[::1/feed.xml"),
        )
    )
    text = text.replace('owner = "media"\n', 'owner = "media"\nfallback = " https://a.fr/sitemap.xml "\n', 1)
    read = read_sources(text, "s.toml")
    assert [(s.name, s.url, s.fallback) for s in read.specs] == [
        ("Around", "https://a.fr/feed.xml", "https://a.fr/sitemap.xml")
    ]
    assert [str(b) for b in read.bad] == [
        "s.toml:11: url has a blank inside, at character 18 (write a space as %20):"
        " 'https://a.fr/flux rss.xml'",
        "s.toml:17: url has no host: 'https:///feed.xml'",
        "s.toml:23: url is no URL: Invalid IPv6 URL: 'http://[::1/feed.xml'",
    ]
