"""The CLI's arguments, swept for bad input: an empty path or name read as "not given" (the
default sources file, stdout, the shipped model, the default shared folder, every site), a
--shared folder that does not exist passing the gate, a --report-dir that is a file found
after the probes, the check report naming the wrong sources file. Each is now a one-line
error, exit 2, before anything runs."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from tests.site import LocalSite, rss_feed, write_sources


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["run", "--sources", ""], "--sources"),
        (["serve", "--sources", ""], "--sources"),
        (["backfill", "--since", "2025-02-01", "--sources", ""], "--sources"),
        (["backfill", "--since", "2025-02-01", "--site", ""], "--site"),
        (["sources", "--sources", ""], "--sources"),
        (["sources", "check", "--sources", ""], "--sources"),
        (["sources", "check", "--report-dir", ""], "--report-dir"),
        (["sources", "enable", "X", "--sources", ""], "--sources"),
        (["export", "--format", "jsonl", "--output", ""], "--output/-o"),
        (["feed", "--output", ""], "--output/-o"),
        (["score", "", "--output", "x.jsonl"], "FILE"),
        (["score", "--output", ""], "--output/-o"),
        (["eval", "--shared", ""], "--shared"),
        (["eval", "--floors", ""], "--floors"),
        (["eval", "--topic", ""], "--topic"),
        (["eval", "--relevance-set", ""], "--relevance-set"),
        (["train-topic", "--output", ""], "--output/-o"),
        (["train-topic", "--data", ""], "--data"),
        (["rescore", "--topic", ""], "--topic"),
    ],
)
def test_an_empty_path_is_a_usage_error_naming_the_option(argv: list[str], option: str) -> None:
    """Before: `run --sources ""` polled the default sources, `train-topic -o ""` wrote over the
    topic's model, `eval --shared ""` read the default shared folder, `backfill --site ""`
    backfilled every source, `feed -o ""` wrote to stdout."""
    code, out, err = _run(argv)
    assert (code, out) == (2, ""), err
    last = err.strip().splitlines()[-1]
    assert last.endswith(
        f"error: argument {option}: empty (an unset variable?): give " + last.split("give ")[-1]
    )
    assert "Traceback" not in err


def test_stories_of_an_empty_topic_name_is_an_error(database_url: str) -> None:
    """Before: `stories --topic ""` listed every story, as if no topic was given (search,
    export, feed and stats say no topic has that name)."""
    code, out, err = _run(["stories", "--topic", ""])
    assert (code, out) == (2, "")
    assert err.startswith("veille: error: no topic named '' (topics in the folder ")


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_eval_of_a_shared_folder_that_is_not_one_is_an_error(tmp_path: Path, kind: str) -> None:
    """Before: a warning ("shared labelled sets not found"), nothing measured, exit 0: a typo in
    a CI gate passed."""
    shared = tmp_path / "eval"
    if kind == "file":
        shared.write_text("x", "utf-8")
    code, out, err = _run(["eval", "--shared", str(shared)])
    why = "no such folder" if kind == "missing" else "not a folder"
    assert (code, out) == (2, "")
    assert err == f"veille: error: {shared}: {why} (--shared DIR: the folder of relevance-dev.jsonl)\n"


def test_sources_check_report_names_the_file_checked_and_a_bad_folder_first(
    site: LocalSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With VEILLE_SOURCES set, the report named seeds/sources.toml and its SHA-256, not the
    file probed. A --report-dir that is a file failed after every probe ("File exists")."""
    site.add(
        "/f.xml",
        rss_feed(site.base, [("Un", "a/un.html", datetime(2025, 2, 10, tzinfo=UTC))]),
        content_type="application/rss+xml",
    )
    mine = write_sources(
        tmp_path / "mine.toml", [{"name": "A", "kind": "feed", "url": f"{site.base}/f.xml", "owner": "media"}]
    )
    monkeypatch.setenv("VEILLE_SOURCES", str(mine))
    taken = tmp_path / "taken"
    taken.write_text("", "utf-8")
    code, out, err = _run(["sources", "check", "--report-dir", str(taken)])
    assert (code, out) == (2, "") and err == f"veille: error: {taken}: not a folder (--report-dir DIR)\n"
    assert not site.hits("/f.xml")  # nothing probed
    code, out, err = _run(["sources", "check", "--report-dir", str(tmp_path / "r")])
    assert code == 0, out + err
    (report,) = (tmp_path / "r").glob("veille-sources-check-*.json")
    document = json.loads(report.read_text("utf-8"))
    assert document["sources_file"] == str(mine)
    assert document["sources_file_sha256"] == hashlib.sha256(mine.read_bytes()).hexdigest()


@pytest.mark.parametrize("value", ["inf", "1e999", "nan"])
def test_train_topic_c_must_be_finite(value: str) -> None:
    """Before: `--c inf` (or 1e999, read as inf) was taken, a model without regularisation."""
    code, out, err = _run(["train-topic", "--c", value])
    assert (code, out) == (2, "")
    assert err.strip().splitlines()[-1].endswith(f"argument --c: must be above 0 and finite, got {value}")


def test_a_sources_file_without_entries_is_warned_of(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a truncated or emptied sources file made every run poll nothing, silently."""
    import flows.commands.serve

    def started(*args: object, **kwargs: object) -> None:
        raise SystemExit(0)  # the schedule would start here: the check is done

    monkeypatch.setattr(flows.commands.serve, "serve_deployments", started)
    empty = tmp_path / "sources.toml"
    empty.write_text("# nothing yet\n", "utf-8")
    _, _, err = _run(["serve", "--sources", str(empty)])
    assert err.startswith(f"veille: warning: {empty} has no [[source]] entry: no source is polled\n")


def test_veille_sources_lists_the_bad_entries_runs_recorded(
    clean_db: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --sources: the archive's sources, then the bad entries runs recorded (of
    VEILLE_SOURCES once a run read it), not the file's as it is now."""
    from monitors.archive.db import session_scope
    from monitors.collect.sources import load_sources_file, record_problems

    mine = tmp_path / "mine.toml"
    mine.write_text(
        '[[source]]\nname = "A"\nkind = "feed"\nurl = "https://a.fr/"\nowner = "media"\n\n'
        '[[source]]\nname = "B"\nkind = "feed"\nurl = "b.fr"\nowner = "media"\n',
        "utf-8",
    )
    monkeypatch.setenv("VEILLE_SOURCES", str(mine))
    code, out, _ = _run(["sources"])
    assert code == 0 and "bad entr" not in out  # no run read it yet: no problem listed
    assert f"`veille run` polls those of {mine} (or of --sources FILE)" in out  # the archive is empty
    with session_scope() as session:  # a run's load
        record_problems(session, load_sources_file())
    code, out, _ = _run(["sources"])
    assert code == 0
    assert (
        "a bad entry of the sources file (table source_problems), skipped by runs until fixed:\n"
        f"  url must start with http:// or https:// — B, {mine.resolve()}:10, found by runs since"
    ) in out


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["export", "--until", "2025-02-09"], "usage: veille export [-h] [--format"),
        (["sources", "enable", "Le Monde", "Libération"], "usage: veille sources enable [-h]"),
        (["db", "status", "--json"], "usage: veille db status [-h]"),
        (["search", "sommet", "--lait"], "usage: veille search [-h] [--limit N]"),
    ],
)
def test_an_unknown_argument_is_said_with_the_command_s_usage(argv: list[str], usage: str) -> None:
    """`veille export --until D` answered with the usage of `veille` itself (`usage: veille
    [-h] COMMAND ...`), which does not show what the command takes; now the command's own
    usage and name, exit 2, as for its other usage errors."""
    code, out, err = _run(argv)
    assert code == 2 and out == ""
    command = usage.split(" [-h]")[0].removeprefix("usage: ")
    assert err.startswith(usage), err
    last = err.rstrip().splitlines()[-1]
    assert last.startswith(f"{command}: error: unrecognized arguments: ") and last.endswith(argv[-1]), err


@pytest.mark.parametrize(
    ("argv", "argparse_said"),
    [
        (["search", "sommet", "-lait"], "unrecognized arguments: -lait"),
        (["search", "sommet", "-nucleaire"], "argument --limit/-n: not a whole number: 'ucleaire'"),
        (["search", "sommet", "-hydrogene"], "argument -h/--help: ignored explicit argument 'ydrogene'"),
        (["search", "-macron"], "the following arguments are required: query"),
        (["search", "sommet", "-n", "3", "-Jean-Luc"], "unrecognized arguments: -Jean-Luc"),
    ],
)
def test_a_word_to_exclude_given_apart_is_said_to_be_read_as_an_option(
    argv: list[str], argparse_said: str
) -> None:
    """`veille search sommet -lait` (a -word given apart, as one types a web search) was read as
    an option: argparse said "unrecognized arguments: -lait", or about another option whose
    letter opens the word (-n for -nucleaire, -h for -hydrogene), or, for a -word alone, that the
    query is missing. The error now says first which word was read as an option, and where a
    word to exclude goes; exit 2, nothing searched."""
    code, out, err = _run(argv)
    assert code == 2 and out == ""
    last = err.rstrip().splitlines()[-1]
    word = argv[-1]
    assert last == (
        f"veille search: error: {word} was read as an option ({argparse_said}): a word to exclude"
        " goes after -- (veille search -- sommet -lait) or in the quoted query (veille search"
        " 'sommet -lait')"
    ), err


@pytest.mark.parametrize(
    ("argv", "last"),
    [
        (["search", "-n5"], "veille search: error: the following arguments are required: query"),
        (["search", "sommet", "--limt", "3"], "veille search: error: unrecognized arguments: --limt 3"),
        (["export", "-lait"], "veille export: error: unrecognized arguments: -lait"),
    ],
)
def test_an_option_is_not_said_to_be_a_word_read_as_one(argv: list[str], last: str) -> None:
    """The word-read-as-an-option error is search's alone, and not for what is an option: a
    short one with its value, a mistyped long one, another command's unknown argument."""
    code, out, err = _run(argv)
    assert code == 2 and out == ""
    assert err.rstrip().splitlines()[-1] == last, err


@pytest.mark.parametrize(
    ("argv", "given"),
    [
        (["export", "--rel"], "--rel"),  # --relevant
        (["search", "sommet", "--lim", "3"], "--lim 3"),  # --limit
        (["stats", "--js"], "--js"),  # --json
        (["sources", "check", "--al"], "--al"),  # --all
    ],
)
def test_an_abbreviated_option_is_an_unknown_argument(argv: list[str], given: str) -> None:
    """argparse took an option's unambiguous start for the option (`veille export --rel` ran as
    `--relevant`): an abbreviation that silently changes meaning, or stops working, once an
    option sharing its start is added. Options are written in full, as the docs write them;
    an abbreviation is an unknown argument, exit 2, with the command's usage."""
    code, out, err = _run(argv)
    assert code == 2 and out == ""
    assert err.rstrip().splitlines()[-1].endswith(f"error: unrecognized arguments: {given}"), err


def _parsers(parser: Any, path: tuple[str, ...] = ("veille",)) -> Iterator[tuple[str, Any]]:
    yield " ".join(path), parser
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_no_parser_takes_an_option_s_start_for_it() -> None:
    """Every (sub)command, the ones added later too: each long option's start, one letter short,
    is no option (``_parse_optional`` gives no action for it)."""
    from flows.cli import build_parser

    taken = []
    for path, parser in _parsers(build_parser()):
        for option in [o for o in parser._option_string_actions if o.startswith("--")]:  # noqa: SLF001
            start = option[:-1]
            if len(start) > 2 and start not in parser._option_string_actions:  # noqa: SLF001 ("--" ends options)
                try:  # an abbreviation of two options is an "ambiguous option" error
                    with contextlib.redirect_stderr(io.StringIO()):
                        found = parser._parse_optional(start)  # noqa: SLF001
                except SystemExit:
                    found = (start, "ambiguous")
                if found and found[0] is not None:
                    taken.append(f"{path} {start}")
    assert len(list(_parsers(build_parser()))) > 15
    assert taken == []
