"""The docs stay true to the command: every `veille ...` line in a code block of README.md or
docs/*.md parses with veille's own parser, every command is in the README's table, every link
to a file of the repository leads somewhere, and the README stays a ten-minute read."""

from __future__ import annotations

import argparse
import functools
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from flows.cli import build_parser
from monitors.archive.queue import REFUSED_PRIVATE, requeue_private_refusals
from tests.docs_reader import anchors, code_lines, read_code, sql_statements

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
README_MAX_LINES = 320


def _existing(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.is_file()]


def _commands(path: Path) -> list[str]:
    found = []
    for line in code_lines(path.read_text(encoding="utf-8")):
        line = line.removeprefix("$ ")
        # the veille part of a shell line: after `&&`, `;` or an env assignment, before a pipe
        for part in re.split(r"&&|;|\|\|", line):
            part = part.split(" | ")[0].split(" #")[0].strip()
            part = re.sub(r"^(?:[A-Z_]+=\S+\s+)+", "", part)
            part = re.sub(r"^\S*/veille\b", "veille", part)  # .venv/bin/veille
            if part.startswith("veille ") and "$(" not in part:
                found.append(part)
        # a command substitution's: psql "$(veille db-url --plain)"
        found += [inner.strip() for inner in re.findall(r"\$\((veille [^)]*)\)", line)]
    return found


COMMANDS = [(path.relative_to(ROOT).as_posix(), cmd) for path in _existing(DOCS) for cmd in _commands(path)]


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) >= 10, COMMANDS


@pytest.mark.parametrize(("where", "command"), COMMANDS)
def test_every_documented_command_parses(where: str, command: str) -> None:
    argv = shlex.split(command)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 0, f"{where}: `{command}` is refused by veille's parser"


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser, by its command line (those without options too: db start)."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        found[name] = parser
        for action in parser._actions:  # noqa: SLF001
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                for sub, subparser in action.choices.items():
                    walk(subparser, f"{name} {sub}")

    walk(build_parser(), "veille")
    return found


def _help_commands() -> list[tuple[str, str]]:
    """(`veille X --help`, command) for each `veille ...` line of a help's text: its examples,
    cut before a pipe, a comment or a redirection, as _commands reads the docs."""
    found = []
    for name, parser in _parsers().items():
        for line in parser.format_help().splitlines():
            command = line.strip().split(" | ")[0].split(" #")[0].split(" > ")[0].strip()
            command = re.sub(r"^(?:[A-Z_]+=\S+\s+)+", "", command)
            if command.startswith("veille ") and "$(" not in command and not line.startswith("usage:"):
                found.append((f"{name} --help", command))
    return sorted(set(found))


HELP_COMMANDS = _help_commands()


def test_the_helps_show_commands() -> None:
    """Every command's help has an example (tests/test_shell.py), those of sources check, db
    start and the like too: their lines are collected."""
    helps = {where for where, _ in HELP_COMMANDS}
    assert {"veille sources check --help", "veille backfill --help", "veille db --help"} <= helps, helps
    assert len(HELP_COMMANDS) >= 50, HELP_COMMANDS


@pytest.mark.parametrize(("where", "command"), HELP_COMMANDS)
def test_every_command_a_help_shows_parses(where: str, command: str) -> None:
    """A `--help` is documentation as README is: each example it shows is a command line
    veille's parser takes (the docs' were checked, the helps' were not)."""
    argv = shlex.split(command)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 0, f"{where}: `{command}` is refused by veille's parser"


def test_every_command_is_in_the_readme_table() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in text.splitlines() if line.startswith("| `veille "))
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]  # noqa: SLF001
    assert sub.choices is not None
    missing = [name for name in sub.choices if f"`veille {name}" not in table]
    assert not missing, f"commands missing from README's table: {missing}"


def _table_cells() -> dict[str, str]:
    """The command cell of each row of README's commands table, by the command lines it gives
    (`veille db start` / `status` / `stop`: a span that is no command line puts its word in
    place of the previous one's last)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    cells: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("| `veille "):
            continue
        cell = re.split(r"(?<!\\)\|", line)[1]
        command: list[str] = []
        for span in re.findall(r"`([^`]+)`", cell):
            words = span.split()
            if words[0] == "veille":
                _, command = _subparser(words[1:])
            elif command:
                command = [*command[:-1], words[0]]
            cells[" ".join(command)] = cells.get(" ".join(command), "") + cell
    return cells


def test_every_option_of_a_command_is_in_its_readme_row() -> None:
    """Each row's command cell gives every option (`--help` aside) and argument of its command:
    the `sources check` row left `--report-dir` out, and the checks above only read what the
    docs name (an option named must exist; one left out went unseen)."""
    cells = _table_cells()
    assert {"veille sources check", "veille db status", "veille backfill"} <= set(cells), sorted(cells)
    left_out = []
    for command, action in _options():
        cell = cells.get(command)
        if cell is None:
            left_out.append(f"{command}: no row")
            continue
        named = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", cell))
        shown = (
            bool(set(action.option_strings) & named)
            if action.option_strings
            else str(action.metavar or action.dest.upper()) in cell
        )
        if not shown:
            left_out.append(f"{command} {'/'.join(action.option_strings) or action.metavar or action.dest}")
    assert left_out == [], "options of a command its README row leaves out"


def _broken_links(path: Path, text: str) -> list[str]:
    """The links of a page to a file of the repository that is not there, or to a heading
    (`file#anchor`, `#anchor`) its page does not have."""
    broken = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        linked = path.parent / target
        if not linked.exists():
            broken.append(f"{path.relative_to(ROOT)} -> {target}")
        elif anchor and anchor not in anchors(linked.read_text("utf-8") if target else text):
            broken.append(f"{path.relative_to(ROOT)} -> {target}#{anchor}")
    return broken


def test_links_to_repository_files_lead_somewhere() -> None:
    """A link to a file leads to it, and a link to a heading (`docs/operating.md#...`, `#...`)
    to a heading of that page: a heading renamed left its links pointing nowhere, and no test
    read the part after `#`."""
    broken = [b for path in _existing(DOCS) for b in _broken_links(path, path.read_text(encoding="utf-8"))]
    assert not broken, broken


def test_a_link_to_a_heading_the_page_lacks_is_broken() -> None:
    """The check above sees a wrong anchor, in the page or in another, with GitHub's anchors
    of headings holding code, punctuation or a title said twice."""
    page = ROOT / "docs" / "operating.md"
    headings = "## What `veille export` writes\n\n## Notes, again?\n\n## Notes, again?\n\n"
    good = "[a](#what-veille-export-writes) [b](#notes-again-1)\n"
    good += "[c](backfill.md#on-a-work-pool) [d](stories.md)"
    bad = "[a](#what-veille-export-write) [b](#notes-again-2)\n[c](backfill.md#on-a-pool) [d](nowhere.md)"
    assert _broken_links(page, headings + good) == []
    assert _broken_links(page, headings + bad) == [
        "docs/operating.md -> #what-veille-export-write",
        "docs/operating.md -> #notes-again-2",
        "docs/operating.md -> backfill.md#on-a-pool",
        "docs/operating.md -> nowhere.md",
    ]


def test_the_readme_is_a_short_guide() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move the depth to docs/"


# .env.example: every setting, each at its default, and a file the shell can source as it says

ENV_EXAMPLE = ROOT / ".env.example"
#: VEILLE_* variables the code reads that are not settings: set by veille for its own processes
#: or by the tests
INTERNAL_VARIABLES = {"VEILLE_PROCESS_TOKEN", "VEILLE_TEST_HANG_ANALYSIS"}


def _read_variables() -> set[str]:
    """The VEILLE_* names the app's code (monitors/, flows/, migrations/) spells out."""
    names: set[str] = set()
    for folder in ("monitors", "flows", "migrations"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(re.findall(r"\b(VEILLE_[A-Z_]+)\b", path.read_text(encoding="utf-8")))
    return names - INTERNAL_VARIABLES


def _example_variables() -> set[str]:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return set(re.findall(r"^#? ?(VEILLE_[A-Z_]+)=", text, flags=re.M))


def test_env_example_lists_exactly_the_settings_veille_reads() -> None:
    read, listed = _read_variables(), _example_variables()
    assert read - listed == set(), "read by veille, missing from .env.example"
    assert listed - read == set(), "in .env.example, read by nothing"


def _settings_after_sourcing(env_file: Path, env: dict[str, str]) -> dict[str, str]:
    """Each setting (repr) after `set -a; . FILE` in sh, as .env.example's first line says."""
    code = "from dataclasses import asdict; from monitors.settings import Settings\n"
    code += "for k, v in asdict(Settings.from_env()).items(): print(k, repr(v))"
    done = subprocess.run(
        ["sh", "-c", 'set -a; . "$1" && exec "$2" -c "$3"', "sh", str(env_file), sys.executable, code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr, f"{env_file.name}: {done.stderr}"
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())


def test_env_example_sourced_as_it_says_sets_the_defaults(tmp_path: Path) -> None:
    """`set -a; . ./.env` on an untouched copy runs in sh, silently, and changes no setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEILLE_")}
    env["PYTHONPATH"] = str(ROOT)
    empty = tmp_path / "empty.env"
    empty.write_text("")
    defaults = _settings_after_sourcing(empty, env)
    sourced = _settings_after_sourcing(ENV_EXAMPLE, env)
    assert {k: (v, defaults[k]) for k, v in sourced.items() if defaults[k] != v} == {}


#: a value other than the default for the settings .env.example leaves empty or gives as a word
#: (a number's is its default plus one)
OTHER_VALUES = {
    "VEILLE_SOURCES": "/srv/veille/sources.toml",
    "VEILLE_DATABASE_URL": "postgresql+psycopg://veille@db.example:5432/veille",
    "VEILLE_DATA_DIR": "/srv/veille/data",
    "VEILLE_CONTACT_URL": "https://example.org/contact",
    "VEILLE_USER_AGENT": "my-agent/1.0",
    "VEILLE_ALLOW_PRIVATE_NETWORK": "1",
    "VEILLE_FETCH_DEADLINE": "7",
    "VEILLE_PREFECT": "off",
    "VEILLE_TOPICS_DIR": "/srv/veille/topics",
    "VEILLE_LOCAL_TIMEZONE": "America/Montreal",
    "VEILLE_RESPECT_ROBOTS": "0",
    "VEILLE_MAINTENANCE_CRON": "0 5 * * *",
    "VEILLE_INSTANCE": "paris",
    "VEILLE_WAYBACK_URL": "http://archive.example",
    "VEILLE_COMMONCRAWL_INDEX_URL": "http://index.example",
    "VEILLE_COMMONCRAWL_DATA_URL": "http://data.example",
}


def test_every_setting_env_example_lists_changes_what_veille_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each VEILLE_* setting of .env.example, set to another value than its default, changes
    the settings every command loads (Settings.from_env), and each of their fields has such a
    setting: a name in .env.example that the code spells only in a message, a comment or a
    dead branch is read by nothing, which the name check above does not see."""
    from dataclasses import asdict, fields

    from monitors.settings import Settings

    for name in [n for n in os.environ if n.startswith("VEILLE_")]:
        monkeypatch.delenv(name)
    defaults = asdict(Settings.from_env())
    moved: dict[str, set[str]] = {}
    for name, value in _example_values().items():
        other = OTHER_VALUES.get(name)
        if other is None:
            assert re.fullmatch(r"[0-9.]+", value), f"{name}: give it another value in OTHER_VALUES"
            other = str(int(value) + 1) if value.isdigit() else str(float(value) + 1)
        monkeypatch.setenv(name, other)
        moved[name] = {k for k, v in asdict(Settings.from_env()).items() if v != defaults[k]}
        monkeypatch.delenv(name)
    assert sorted(name for name, changed in moved.items() if not changed) == [], "read by nothing"
    unset = {f.name for f in fields(Settings)} - set().union(*moved.values())
    assert unset == set(), "settings fields no VEILLE_* variable of .env.example sets"


def _prose(text: str) -> str:
    """Text with comment marks, backticks and line breaks taken out, to find a phrase in it."""
    return " ".join(re.sub(r"(?m)^\s*#", " ", text).replace("`", "'").split())


def test_the_instance_name_rule_is_stated_whole_where_the_setting_is_documented(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """.env.example and docs/operating.md give VEILLE_INSTANCE's rule as the refusal states it
    (before: they left out that the name starts with a letter or a digit, so '-fr' or '.fr'
    followed the doc and stopped veille serve)."""
    from monitors.settings import Settings, SettingsError

    monkeypatch.setenv("VEILLE_INSTANCE", "-fr")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    rule = re.search(r"\((letters, digits, .*?)\)", str(refused.value))
    assert rule is not None, str(refused.value)
    for path in (ENV_EXAMPLE, ROOT / "docs" / "operating.md"):
        assert rule[1].lower() in _prose(path.read_text(encoding="utf-8")).lower(), path.name


# --help: every option explained, with its default when it has one


def _options() -> list[tuple[str, argparse.Action]]:
    found: list[tuple[str, argparse.Action]] = []

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        for action in parser._actions:  # noqa: SLF001
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                for sub, subparser in action.choices.items():
                    walk(subparser, f"{name} {sub}")
            elif not isinstance(action, argparse._HelpAction):  # noqa: SLF001
                found.append((name, action))

    walk(build_parser(), "veille")
    return found


def _stated(default: object, text: str) -> bool:
    """The default as help shows it: the value, or a path by its place in the repository."""
    shown = str(default)
    if isinstance(default, str) and Path(default).is_absolute() and Path(default).is_relative_to(ROOT):
        shown = Path(default).relative_to(ROOT).as_posix()
    return shown in text


def test_every_option_of_every_command_is_explained_with_its_default() -> None:
    unexplained, silent = [], []
    for command, action in _options():
        name = "/".join(action.option_strings) or action.dest
        if not action.help or action.help == argparse.SUPPRESS:
            unexplained.append(f"{command} {name}")
        elif action.default not in (None, False, argparse.SUPPRESS) and not _stated(
            action.default, action.help
        ):
            silent.append(f"{command} {name} (default {action.default!r})")
    assert unexplained == [], "options without help"
    assert silent == [], "a default the help does not state"


# every option a doc names for a command, in a code block or inline, is an option of it


def _subparser(words: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser of ``veille WORDS...`` and the command words that led to it."""
    parser, path = build_parser(), ["veille"]
    for word in words:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
        if not subs or word not in subs[0].choices:
            break
        parser = subs[0].choices[word]
        path.append(word)
    return parser, path


def _comments(path: Path) -> str:
    """The comments of a shell or YAML file (.env.example, docker-compose.yml), the marks out,
    other lines blank: read as a page of prose."""
    return "\n".join(
        re.sub(r"^\s*# ?", "", line) if line.lstrip().startswith("#") else ""
        for line in path.read_text(encoding="utf-8").splitlines()
    )


#: files whose comments name commands a user types
COMMENTED = [ENV_EXAMPLE, ROOT / "docker-compose.yml"]


def _mentions(path: Path) -> list[str]:
    """`veille ...` spans: inline code (of a page, or of a commented file's comments; one
    broken over two lines too) and lines of code blocks."""
    text = _comments(path) if path in COMMENTED else path.read_text(encoding="utf-8")
    spans = [c.text for c in read_code(text) if c.kind == "inline" and c.text.startswith("veille ")]
    return spans if path in COMMENTED else spans + _commands(path)


MENTIONS = sorted(
    {(p.relative_to(ROOT).as_posix(), m) for p in [*_existing(DOCS), *COMMENTED] for m in _mentions(p)}
)


def test_the_docs_mention_commands_inline() -> None:
    assert len(MENTIONS) > len(COMMANDS), MENTIONS


@pytest.mark.parametrize(("where", "mention"), MENTIONS)
def test_every_option_the_docs_name_exists(where: str, mention: str) -> None:
    words = mention.split()
    parser, path = _subparser(words[1:])
    assert len(path) > 1 or words[1:2] == ["--help"], f"{where}: `{mention}`: no such command"
    if path[1:] == ["psql"]:
        return  # its arguments are psql's
    known = {s for a in parser._actions for s in a.option_strings}  # noqa: SLF001
    shell = re.sub(r"\"[^\"]*\"|'[^']*'", "", mention.split(" | ")[0].split(" #")[0])  # not quoted words
    unknown = [o for o in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", shell) if o not in known]
    assert not unknown, f"{where}: `{mention}`: {' '.join(path)} has no {unknown}"


def _choices_given(mention: str) -> list[tuple[str, list[str], list[str]]]:
    """(option, values shown, its choices) for each option with choices a `veille ...` line
    gives a value: `--format jsonl|csv|parquet` (each alternative), `db start|status|stop` (a
    subcommand or a positional's), a placeholder (`--from ARCHIVE`, `...`) left out."""
    words = mention.split(" | ")[0].split(" #")[0].split()
    parser, path = _subparser(words[1:])
    rest = words[len(path) :]
    named = {s: a for a in parser._actions for s in a.option_strings if a.choices}  # noqa: SLF001
    positional = [a for a in parser._actions if not a.option_strings and a.choices]  # noqa: SLF001
    given = []
    for i, word in enumerate(rest):
        option, _, value = word.partition("=")
        if option in named and (value or i + 1 < len(rest)):
            action, value = named[option], value or rest[i + 1]
        elif i == 0 and positional and not word.strip("[(").startswith("-"):
            action, value = positional[0], word
        else:
            continue
        values = [
            v for v in re.split(r"\\?\|", value.strip("\"'[]()")) if not re.fullmatch(r"[A-Z_]+|\.\.\.", v)
        ]
        if values:
            given.append(
                (
                    action.option_strings[0] if action.option_strings else action.dest,
                    values,
                    [str(choice) for choice in action.choices or ()],
                )
            )
    return given


def test_every_value_the_docs_give_an_option_with_choices_is_one() -> None:
    """A value a doc or a help shows for an option that takes one of a few (`--format`, `--from`,
    `--owner`, `db`'s and `sources`' action), inline or in a block, alternatives too, is one
    of them: the parse check above reads code lines only, and takes `a|b` for one value."""
    assert _choices_given("veille export --format jsonl|csv --owner party") == [
        ("--format", ["jsonl", "csv"], ["jsonl", "csv", "parquet"]),
        ("--owner", ["party"], ["media", "party"]),
    ]
    assert _choices_given("veille db start|halt")[0][1] == ["start", "halt"]
    found = [(where, m, *g) for where, m in MENTIONS + HELP_COMMANDS for g in _choices_given(m)]
    assert len(found) >= 20, found
    wrong = [
        f"{where}: `{m}`: {option} {sorted(set(values) - set(choices))}"
        for where, m, option, values, choices in found
        if set(values) - set(choices)
    ]
    assert wrong == [], "values that are none of the option's choices"


# every SQL statement the docs and the commands' help show runs on an archive as written


def _sql_statements(text: str) -> list[str]:
    """SQL of fenced ```sql blocks (in a list item too), of blocks and inline spans holding a
    statement (SELECT, WITH, UPDATE, DELETE, INSERT), of `psql ... -c "..."` lines and of a
    help's "In psql:" line, one statement each (tests/docs_reader.py)."""
    return sql_statements(text)


def _help_texts() -> dict[str, str]:
    """Each command's --help text, by its command line: every command, those without options
    too (db start, deploy, migrate: collecting commands from _options() left them out)."""
    return {command: parser.format_help() for command, parser in _parsers().items()}


def test_the_help_texts_scanned_are_every_commands() -> None:
    """The helps whose SQL, jq and echo lines are run hold the option-less commands' too."""
    texts = _help_texts()
    assert {"veille db start", "veille deploy", "veille migrate"} <= set(texts), sorted(texts)
    assert set(texts) == set(_parsers())


SQL = sorted(
    {
        (p.relative_to(ROOT).as_posix(), s)
        for p in _existing(DOCS)
        for s in _sql_statements(p.read_text("utf-8"))
    }
    | {(f"{c} --help", s) for c, text in _help_texts().items() for s in _sql_statements(text)}
)


READER_PAGE = """\
1. In a list item, a fenced block:

   ```sql
   -- a comment
   SELECT count(*) FROM articles;
   ```

2. And an indented one:

       WITH recent AS (SELECT id FROM articles) SELECT count(*) FROM recent;
       UPDATE sources SET status = 'active' WHERE false

Inline, `SELECT DISTINCT topic FROM article_topics`, and
`DELETE FROM sources WHERE false`; not a word (`UPDATE sightings`, `INSERT`) nor a shape
(`SELECT ... FOR UPDATE`, `WHERE transport IS NOT NULL`). `veille
stats --json` is a command broken over two lines. Shell lines:

    psql "$(veille db-url --plain)" -c "SELECT 1 FROM sources"
    python -u bench/poll.py --feeds 2
"""


def test_the_docs_reader_finds_sql_in_every_form(tmp_path: Path) -> None:
    """A ```sql block in a list item, a block in a list item opening with WITH or holding an
    UPDATE, an inline statement: each is read and run (before, only ```sql fences at column 0,
    4-space blocks opening with SELECT and psql -c lines were)."""
    assert _sql_statements(READER_PAGE) == [
        "SELECT count(*) FROM articles",
        "WITH recent AS (SELECT id FROM articles) SELECT count(*) FROM recent",
        "UPDATE sources SET status = 'active' WHERE false",
        "SELECT DISTINCT topic FROM article_topics",
        "DELETE FROM sources WHERE false",
        "SELECT 1 FROM sources",
    ]
    page = tmp_path / "page.md"
    page.write_text(READER_PAGE, encoding="utf-8")
    assert _commands(page) == ["veille db-url --plain"]
    assert "veille stats --json" in _mentions(page)
    assert _script_runs(READER_PAGE) == ["bench/poll.py --feeds 2"]


def test_the_docs_show_sql_in_every_form() -> None:
    places = {where for where, _ in SQL}
    assert {"README.md", "docs/stories.md", "docs/operating.md", "veille search --help"} <= places, places
    assert len(SQL) >= 30


@pytest.mark.parametrize(("where", "statement"), SQL)
def test_every_documented_sql_statement_runs(where: str, statement: str, archive_url: str) -> None:
    engine = sa.create_engine(archive_url)
    try:
        with engine.connect() as conn:  # rolled back: a documented UPDATE leaves the archive
            result = conn.execute(sa.text(statement))
            rows = result.all() if result.returns_rows else []
            conn.rollback()
    finally:
        engine.dispose()
    if where == "README.md":  # the guide's examples answer on the fixture archive
        assert rows, statement


def test_the_requeue_recipe_for_pages_refused_earlier_does_what_the_drain_does(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/operating.md's and CHANGELOG's UPDATE for pages refused for their private address
    by an earlier veille (reason unmarked) leaves them as ``queue.requeue_private_refusals``
    leaves the marked ones: pending, due, attempts 0, reason cleared, ``updated_at`` now, a
    web-archive capture still failed. The CHANGELOG's first recipe re-queued captures and kept
    the old reason."""
    recipes = [s for where, s in SQL if where == "docs/operating.md" and "resolves to non-public" in s]
    assert len(recipes) == 1, recipes
    changelog = " ".join((ROOT / "CHANGELOG.md").read_text("utf-8").split())
    assert recipes[0] in changelog
    source = db.scalar(
        sa.text(
            "INSERT INTO sources (name, kind, url, owner) VALUES ('s', 'feed', 'u', 'media') RETURNING id"
        )
    )
    old = "refused: intranet.example resolves to non-public address 10.0.0.7"
    rows = {
        1: old,
        2: old,  # a capture
        3: REFUSED_PRIVATE + old,
        4: REFUSED_PRIVATE + old,  # a capture
        5: "HTTP 404",
    }
    ids = {
        i: db.scalar(
            sa.text(
                "INSERT INTO url_queue (url, canonical_url, source_id, state, reason, attempts,"
                " next_attempt_at, updated_at) VALUES (:u, :u, :s, 'failed', :r, 3,"
                " now() + interval '30 days', now() - interval '2 days') RETURNING id"
            ),
            {"u": f"https://intranet.example/{i}", "s": source, "r": reason},
        )
        for i, reason in rows.items()
    }
    for i in (2, 4):
        db.execute(
            sa.text(
                "INSERT INTO archive_captures (queue_id, archive, archived_url, captured_at)"
                " VALUES (:q, 'wayback', 'https://web.archive.org/x', now())"
            ),
            {"q": ids[i]},
        )
    db.execute(sa.text(recipes[0]))
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "1")
    assert requeue_private_refusals(db) == 1
    after = db.execute(
        sa.text(
            "SELECT id, state, reason, attempts, next_attempt_at <= now() AS due,"
            " updated_at > now() - interval '1 minute' AS touched FROM url_queue"
            " WHERE source_id = :s ORDER BY id"
        ),
        {"s": source},
    ).all()
    assert [(i, *r[1:]) for i, r in zip(rows, after, strict=True)] == [
        (1, "pending", None, 0, True, True),
        (2, "failed", old, 3, False, False),
        (3, "pending", None, 0, True, True),
        (4, "failed", REFUSED_PRIVATE + old, 3, False, False),
        (5, "failed", "HTTP 404", 3, False, False),
    ]


def test_the_development_layout_names_every_module() -> None:
    """docs/development.md's layout lists each module of monitors/, flows/ and bench/."""
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    layout = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([\w/.]+)`", layout))
    modules = [p for p in (ROOT / "monitors").rglob("*.py") if p.parent.name != "topics"]
    modules += [*(ROOT / "flows").glob("*.py"), *(ROOT / "bench").glob("*.py")]
    missing = []
    for path in modules:
        if path.stem == "__init__":
            continue
        if path.parent.parent == ROOT / "monitors" or path.parent == ROOT / "monitors":
            if path.stem not in named:
                missing.append(path.relative_to(ROOT).as_posix())
        elif path.name not in named:
            missing.append(path.relative_to(ROOT).as_posix())
    assert missing == [], "modules docs/development.md's layout does not name"


def _example_values() -> dict[str, str]:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return {k: v.strip('"') for k, v in re.findall(r"^(VEILLE_[A-Z_]+)=(.*)$", text, flags=re.M)}


def test_settings_tables_of_the_docs_give_the_defaults() -> None:
    """A docs table row `| VEILLE_X[, VEILLE_Y] | value[, value] | ...` states the value
    .env.example holds (its defaults, test above); a row in words ("unset: ...") is left."""
    values, checked = _example_values(), 0
    for path in _existing(DOCS):
        for names, cell in re.findall(
            r"^\| ((?:`VEILLE_[A-Z_]+`(?:, )?)+) \| ([^|]+) \|", path.read_text("utf-8"), re.M
        ):
            shown = re.findall(r"`?([\w.:/-]+)`?(?:, |$)", cell.strip())
            if not all(re.fullmatch(r"[\d.]+|https?://[\w./-]+|[\w/.-]+\.toml", v) for v in shown):
                continue
            for name, value in zip(re.findall(r"VEILLE_[A-Z_]+", names), shown * 2, strict=False):
                default = values[name] or {"VEILLE_SOURCES": "seeds/sources.toml"}.get(name, "")
                assert value == default, (
                    f"{path.relative_to(ROOT)}: {name} shown as {value}, default {default}"
                )
                checked += 1
    assert checked >= 10


def test_serve_help_states_the_settings_defaults() -> None:
    from monitors.settings import Settings

    serve, _ = _subparser(["serve"])
    text = " ".join(serve.format_help().split())
    defaults = Settings.__dataclass_fields__
    assert f"VEILLE_POLL_INTERVAL_MINUTES, {defaults['poll_interval_minutes'].default})" in text
    assert f'VEILLE_MAINTENANCE_CRON, "{defaults["maintenance_cron"].default}")' in text


# the scripts the docs run (bench/, tests/eval/): each exists and takes the options shown


def _script_runs(text: str) -> list[str]:
    """`bench/x.py ...` and `tests/eval/x.py ...` as a page runs them with python (python3,
    .venv/bin/python, `python -u`), up to a pipe, a comment or the end of the span."""
    return [
        " ".join(m.split())
        for m in re.findall(r"python3?(?: -\w+)* ((?:bench|tests/eval)/\w+\.py(?:[ \t]+[^`|\n#]*)?)", text)
    ]


SCRIPT_MENTIONS = sorted(
    {
        (path.relative_to(ROOT).as_posix(), run)
        for path in _existing(DOCS)
        for run in _script_runs(path.read_text("utf-8"))
    }
)


@functools.cache
def _script_options(script: str) -> frozenset[str]:
    done = subprocess.run(
        [sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{script} --help: {done.stderr[-2000:]}"
    return frozenset(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", done.stdout))


def test_the_docs_run_scripts() -> None:
    assert len({m.split()[0] for _, m in SCRIPT_MENTIONS}) >= 8, SCRIPT_MENTIONS


@pytest.mark.parametrize(("where", "mention"), SCRIPT_MENTIONS)
def test_every_script_the_docs_run_takes_the_options_shown(where: str, mention: str) -> None:
    script, *rest = mention.split()
    assert (ROOT / script).is_file(), f"{where}: {script} does not exist"
    named = re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", " ".join(rest))
    unknown = [o for o in named if o not in _script_options(script)]
    assert not unknown, f"{where}: `python {mention}`: {script} has no {unknown}"


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    """README: "`.ci/run` runs exactly that test command" (the block under "Run the tests")."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("Run the tests", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0].strip()
    assert "`.ci/run` runs exactly that test command" in readme
    script = [
        line for line in (ROOT / ".ci" / "run").read_text("utf-8").splitlines() if line and line[0] != "#"
    ]
    assert script[-1] == block, (script[-1], block)


def test_every_extra_the_docs_install_exists() -> None:
    """`pip install 'veille[parquet]'`, `veille[learn]`: extras of pyproject.toml."""
    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    )
    texts = [p.read_text("utf-8") for p in _existing(DOCS)]
    texts += [p.read_text("utf-8") for p in (ROOT / "monitors").rglob("*.py")]
    named = {extra for text in texts for extra in re.findall(r"pip install '?veille\[(\w+)\]", text)}
    assert {"parquet", "learn"} <= named and named <= extras, (named, extras)


#: the command that stops without each extra of pyproject.toml (dev: the tests' own)
_NEEDS_EXTRA = {"parquet": "export", "learn": "train-topic"}


def test_the_readme_row_of_a_command_that_needs_an_extra_names_it() -> None:
    """The quickstart installs `pip install -e .`, no extra: a command that stops without one
    says which in its README row (`veille train-topic` said nothing of scikit-learn there, and
    a new user learned it from its error)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    assert set(_NEEDS_EXTRA) == set(extras) - {"dev"}, extras
    rows = [
        row for row in (ROOT / "README.md").read_text("utf-8").splitlines() if row.startswith("| `veille ")
    ]
    for extra, command in _NEEDS_EXTRA.items():
        (row,) = [row for row in rows if row.startswith(f"| `veille {command} ")]
        assert f"pip install 'veille[{extra}]'" in row, (command, row)


def test_env_example_leaves_a_default_that_follows_another_setting_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value .env.example writes out is that setting's default whatever the other settings
    are: one whose default follows another (VEILLE_FETCH_DEADLINE, three times VEILLE_TIMEOUT)
    is left empty, or a user who sets VEILLE_TIMEOUT=30 in .env would still get a 60 s deadline."""
    from monitors.settings import Settings

    values = {k: v for k, v in _example_values().items() if re.fullmatch(r"\d+(?:\.\d+)?", v)}
    changed = {k: str(float(v) * 2 if "." in v else int(v) * 2) for k, v in values.items() if float(v) > 1}
    assert "VEILLE_TIMEOUT" in changed and len(values) >= 20, values
    fields = Settings.__dataclass_fields__
    followed = {}
    for name, value in values.items():
        for key in [k for k in os.environ if k.startswith("VEILLE_")]:
            monkeypatch.delenv(key)
        for other, doubled in changed.items():
            if other != name:
                monkeypatch.setenv(other, doubled)
        field = name.removeprefix("VEILLE_").lower()
        assert field in fields, name
        default = getattr(Settings.from_env(), field)
        if float(default) != float(value):
            followed[name] = (value, default)
    assert followed == {}, "written out in .env.example, but its default follows other settings"


# every command, subcommand and option of veille's parser is documented: README or docs/

GUIDES = _existing([ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _documentation() -> dict[str, str]:
    """What README and docs/ say of each command line (`veille sources check`): the `veille ...`
    spans and code lines that call it, and the README table rows whose first cell names it."""
    said: dict[str, list[str]] = {}
    for path in GUIDES:
        for mention in _mentions(path):
            said.setdefault(" ".join(_subparser(mention.split()[1:])[1]), []).append(mention)
    for row in (ROOT / "README.md").read_text("utf-8").splitlines():
        if row.startswith("| `veille "):
            for span in re.findall(r"`(veille [^`]+)`", row.split(" | ", 1)[0]):
                said.setdefault(" ".join(_subparser(span.split()[1:])[1]), []).append(row)
    return {command: "\n".join(texts) for command, texts in said.items()}


def _named(options: Sequence[str], text: str) -> bool:
    return any(re.search(rf"(?<![\w-]){option}(?![\w-])", text) for option in options)


def test_every_command_and_option_is_documented() -> None:
    """`veille X --help` is not the only place a user learns of X or of its options."""
    said = _documentation()
    commands = []

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
        if not subs:
            commands.append(name)
        for sub in subs:
            for word, subparser in sub.choices.items():
                walk(subparser, f"{name} {word}")

    walk(build_parser(), "veille")
    assert {"veille run", "veille migrate", "veille db stop", "veille sources check"} <= set(commands)
    undocumented = sorted(c for c in commands if c not in said)
    unsaid = sorted(
        f"{command} {action.option_strings[0]}"
        for command, action in _options()
        if action.option_strings and not _named(action.option_strings, said.get(command, ""))
    )
    assert undocumented == [], "commands no `veille ...` of README or docs/ names"
    assert unsaid == [], "options no `veille ...` of README or docs/ names"


def test_the_readme_table_names_every_option_of_its_commands() -> None:
    """README's command table is where a user first looks a command up: its row names every
    option `veille X --help` lists (the details may be in docs/). Before, `veille eval`'s row
    left out --relevance-set, --language-set and --floors, and `veille train-topic`'s --c."""
    rows: dict[str, str] = {}
    for row in (ROOT / "README.md").read_text("utf-8").splitlines():
        if row.startswith("| `veille "):
            for span in re.findall(r"`(veille [^`]+)`", row.split(" | ", 1)[0]):
                command = " ".join(_subparser(span.split()[1:])[1])
                rows[command] = rows.get(command, "") + "\n" + row
    unsaid = sorted(
        f"{command} {action.option_strings[0]}"
        for command, action in _options()
        if action.option_strings and not _named(action.option_strings, rows.get(command, ""))
    )
    assert unsaid == [], "options README's command table does not name"


# the sizes the docs give of our labelled sets are the files'


def _labelled(name: str) -> list[dict]:
    import json

    path = ROOT / "tests" / "eval" / name
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_the_docs_count_our_labelled_sets_as_they_are() -> None:
    """docs/relevance.md ("`relevance.jsonl`: N items, H of them hard negatives ...; P of them
    single paragraphs", "`language.jsonl`: N items ..., T titles") and docs/topics.md (the EU AI
    Act's "N examples we wrote, R relevant and H hard negatives") count tests/eval's files."""
    relevance_md = " ".join((ROOT / "docs" / "relevance.md").read_text("utf-8").split())
    topics_md = " ".join((ROOT / "docs" / "topics.md").read_text("utf-8").split())
    said = re.search(
        r"`relevance\.jsonl`: (\d+) items, (\d+) of them hard negatives.*?; (\d+) of them single "
        r"paragraphs.*?`language\.jsonl`: (\d+) items.*?(\d+) titles",
        relevance_md,
    )
    eu = re.search(
        r"the EU AI Act: (\d+) examples we wrote, "
        r"(\d+) relevant and (\d+) hard negatives",
        topics_md,
    )
    assert said and eu, "the counts' sentences changed: change this test with them"
    relevance, language, eu_set = (
        _labelled("relevance.jsonl"),
        _labelled("language.jsonl"),
        _labelled("relevance-eu_ai_act.jsonl"),
    )
    counted = (
        len(relevance),
        sum("hard_negative" in item["tags"] for item in relevance),
        sum(item.get("kind") == "paragraph" for item in relevance),
        len(language),
        sum(item["kind"] == "title" for item in language),
    )
    assert tuple(map(int, said.groups())) == counted, "docs/relevance.md, `veille eval`"
    eu_counted = (
        len(eu_set),
        sum(item["relevant"] for item in eu_set),
        sum("hard_negative" in item["tags"] for item in eu_set),
    )
    assert tuple(map(int, eu.groups())) == eu_counted, "docs/topics.md, the EU AI Act's examples"


def test_every_test_file_the_docs_cite_exists() -> None:
    """`tests/test_x.py` cited by README, docs/, bench/README.md or CHANGELOG.md as the test that
    does something is a file of tests/ (a branch's file that did not land is named so: "the
    branch's `tests/...`")."""
    cited, missing = 0, []
    for path in [*_existing(DOCS), ROOT / "CHANGELOG.md"]:
        text = " ".join(path.read_text("utf-8").split())
        for match in re.finditer(r"(the branch's )?`?(tests/test_\w+\.py)", text):
            cited += 1
            if not match.group(1) and not (ROOT / match.group(2)).is_file():
                missing.append(f"{path.relative_to(ROOT)}: {match.group(2)}")
    assert cited >= 50 and missing == [], missing


def test_every_variable_the_tests_and_benches_offer_is_documented() -> None:
    """A `VEILLE_*` that tests/ or bench/ read with a default (`os.environ.get`: a knob for
    whoever runs them, such as the tests' server) is a setting of .env.example or is named in
    docs/development.md or bench/README.md."""
    offered: set[str] = set()
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]:
        offered.update(re.findall(r"environ\.get\(\s*\"(VEILLE_[A-Z_]+)\"", path.read_text("utf-8")))
    said = (ROOT / "docs" / "development.md").read_text("utf-8") + (ROOT / "bench" / "README.md").read_text(
        "utf-8"
    )
    assert {"VEILLE_TEST_ADMIN_URL", "VEILLE_BENCH_ADMIN_URL"} <= offered
    missing = sorted(name for name in offered - _example_variables() if f"`{name}`" not in said)
    assert missing == [], "read by tests/ or bench/ with a default, documented nowhere"


def _example_blocks() -> dict[str, str]:
    """Each VEILLE_* of .env.example -> the comment lines just above its block of assignments."""
    blocks: dict[str, str] = {}
    comment: list[str] = []
    names: list[str] = []
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        if line.startswith("#") and not re.match(r"^# ?VEILLE_[A-Z_]+=", line):
            if names:
                comment, names = [], []
            comment.append(line.lstrip("# "))
        elif found := re.match(r"^#? ?(VEILLE_[A-Z_]+)=", line):
            names.append(found.group(1))
            blocks[found.group(1)] = " ".join(comment)
        else:
            comment, names = [], []
    return blocks


def test_env_example_says_what_each_setting_left_empty_defaults_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """A setting .env.example leaves empty has its default in words in the comment above it, and
    a default that is a plain string (the contact URL) is given as it is."""
    from monitors.settings import Settings

    for key in [k for k in os.environ if k.startswith("VEILLE_")]:
        monkeypatch.delenv(key)
    defaults = Settings.from_env()
    blocks, values = _example_blocks(), _example_values()
    empty = sorted(name for name, value in values.items() if value == "")
    assert {"VEILLE_CONTACT_URL", "VEILLE_DATABASE_URL", "VEILLE_FETCH_DEADLINE"} <= set(empty)
    unsaid = [n for n in empty if not re.search(r"\bdefault\b|\bUnset\b", blocks[n], flags=re.I)]
    assert unsaid == [], "left empty, with no default said"
    assert defaults.contact_url in blocks["VEILLE_CONTACT_URL"]


# the figures the docs give of veille's fixed limits are the code's


def _limits() -> list[tuple[str, str, object]]:
    """(doc, the sentence with its figure as a group, the code's value) for each fixed limit a
    user reads about."""
    from flows.artifacts import REPORT_ARTICLES, REPORT_ERRORS, TEXT_WIDTH
    from flows.commands.common import LINE_WIDTH
    from flows.direct import STEP_THREADS
    from monitors.archive.polls import DISABLE_AFTER_FAILURES, FAILING_AFTER
    from monitors.archive.queue import CLAIM_LEASE
    from monitors.archive.web_query import MAX_QUERY_WORDS
    from monitors.collect.archives.common import MAX_RETRY_AFTER
    from monitors.collect.fallback import FALLBACK_AFTER, PRIMARY_RETRY_AFTER
    from monitors.collect.http import MAX_HEADERS
    from monitors.collect.poll import MAX_CHILD_SITEMAPS, POLL_BATCH
    from monitors.collect.sources import MAX_NAME_CHARS
    from monitors.group.urls import MAX_URL_BYTES

    limits = {
        "README.md": [
            (r"disables a source after (\d+) consecutive failures", DISABLE_AFTER_FAILURES),
            (r"moves to it after (\d+) failures in a row", FALLBACK_AFTER),
            (r"more than (\d+) words is a usage error", MAX_QUERY_WORDS),
        ],
        "docs/sources.md": [
            (r"after (\d+) consecutive failures it is `disabled`", DISABLE_AFTER_FAILURES),
            (r"A source failing for (\d+) days becomes `failing`", FAILING_AFTER.days),
            (r"once the `url` has failed (\d+) polls in a row", FALLBACK_AFTER),
            (r"Every (\d+) days veille tries the primary URL again", PRIMARY_RETRY_AFTER.days),
            (r"at most (\d+) characters, shown in reports", MAX_NAME_CHARS),
            (r"up to ([\d,]+) header lines", MAX_HEADERS),
        ],
        "docs/operating.md": [
            (r"an index's (\d+) most recent children", MAX_CHILD_SITEMAPS),
            (r"one Prefect task per batch of (\d+)", POLL_BATCH),
            (r"a batch of (\d+) sources, an ingest worker", POLL_BATCH),
            (r"on the same (\d+) threads", STEP_THREADS),
            (r"at most the (\d+) most relevant new articles", REPORT_ARTICLES),
            (r"the (\d+) sources in error with the most failed pages", REPORT_ERRORS),
            (r"report lists at most the (\d+) sources not ok", REPORT_ERRORS),
            (r"on one line, shortened to (\d+) characters", TEXT_WIDTH),
            (r"at most (\d+) characters of a title or a name", LINE_WIDTH),
            (r"a search takes at most (\d+)", MAX_QUERY_WORDS),
            (r"a lease not renewed for (ten) minutes", CLAIM_LEASE.seconds // 60),
            (r"free as soon as its connection closes, or after (\d+) minutes", CLAIM_LEASE.seconds // 60),
        ],
        "docs/backfill.md": [
            (r"base × 2\^\*n\*, at most (\d+) s", int(MAX_RETRY_AFTER)),
        ],
        "docs/deduplication.md": [
            (r"A link longer than (\d+) bytes", MAX_URL_BYTES),
        ],
    }
    return [(doc, sentence, value) for doc, pairs in limits.items() for sentence, value in pairs]


def test_the_figures_of_veilles_limits_in_the_docs_are_the_codes() -> None:
    words = {"ten": 10}
    wrong = []
    for doc, sentence, value in _limits():
        text = " ".join((ROOT / doc).read_text("utf-8").split())
        found = re.search(sentence, text)
        assert found, f"{doc}: no longer says /{sentence}/: change this test with it"
        said = found.group(1)
        if int(words.get(said, said.replace(",", ""))) != value:
            wrong.append(f"{doc}: {found.group(0)!r}, the code's {value}")
    assert wrong == []


def test_bench_readme_lists_every_bench() -> None:
    """bench/README.md's table has a row per bench script (bench/unwind.py and
    bench/arguments.py are no benches: the paragraphs above the table describe them), and no
    row for a script that is gone."""
    text = (ROOT / "bench" / "README.md").read_text("utf-8")
    rows = set(re.findall(r"^\| `(bench/\w+\.py)` \|", text, flags=re.M))
    scripts = {p.relative_to(ROOT).as_posix() for p in (ROOT / "bench").glob("*.py")}
    assert "`bench/unwind.py`" in text.split("| bench |", 1)[0]
    assert "`bench/arguments.py`" in text.split("| bench |", 1)[0]
    assert rows == scripts - {"bench/unwind.py", "bench/arguments.py", "bench/__init__.py"}


QUERYABLE = sa.text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')"
    " UNION SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = 'public'"
    " AND p.prorettype NOT IN ('trigger'::regtype, 'void'::regtype, 'internal'::regtype)"
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
)


def test_every_view_and_function_a_user_can_query_is_named_in_the_docs(database_url: str) -> None:
    """Each view and each function a query can call (what `\\dv+` and `\\df` list, the
    triggers' internals aside) is named in README or docs/: the archive holds nothing to query
    that the docs never mention."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            names = set(conn.scalars(QUERYABLE))
    finally:
        engine.dispose()
    text = "\n".join(path.read_text("utf-8") for path in GUIDES)
    assert {"articles_with_source", "source_health", "story_outlets", "search_articles"} <= names
    unnamed = sorted(name for name in names if not re.search(rf"\b{name}\b", text))
    assert unnamed == [], "views and functions README and docs/ never name"


def test_the_cookbook_gives_every_health_label_of_source_health(database_url: str) -> None:
    """docs/cookbook.md's table lists the `health` labels of `source_health` a query may meet
    (`WHERE health <> 'ok'`): the view's own labels and the sources' statuses it passes on.
    It lacked `blocked` and `on fallback` (migration 0010), which docs/sources.md names."""
    from monitors.archive.models import SOURCE_STATUSES

    row = next(
        line
        for line in (ROOT / "docs" / "cookbook.md").read_text("utf-8").splitlines()
        if "| `source_health` |" in line
    )
    said = set(re.findall(r"`([a-z][a-z ]*)`", row.split("label (", 1)[1].split(")", 1)[0]))
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            definition = conn.scalar(sa.text("SELECT pg_get_viewdef('source_health')"))
    finally:
        engine.dispose()
    labels = set(re.findall(r"(?:THEN|ELSE) '([a-z ]+)'::text", definition))
    assert "THEN s.status" in definition and {"ok", "blocked"} <= labels
    assert said == labels | (set(SOURCE_STATUSES) - {"active"})


def test_the_cookbooks_table_names_every_view(database_url: str) -> None:
    """docs/cookbook.md's table is where a user looks up what there is to query: every view
    `\\dv` lists is a row of it (article_topics_with_source, language_disagreements,
    stories_by_day and story_outlets were named elsewhere only)."""
    text = (ROOT / "docs" / "cookbook.md").read_text("utf-8")
    table = "\n".join(line.split("|")[1] for line in text.splitlines() if line.startswith("| `"))
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            views = set(conn.scalars(sa.text("SELECT viewname FROM pg_views WHERE schemaname = 'public'")))
    finally:
        engine.dispose()
    assert {"source_health", "story_outlets"} <= views
    assert sorted(v for v in views if f"`{v}`" not in table) == []


def test_every_setting_is_named_in_the_guides_too() -> None:
    """.env.example lists the settings; README or a page of docs/ names each one where its
    behaviour is told, so that a reader of the page finds the knob (`VEILLE_BATCH_SIZE` and
    `VEILLE_RESPECT_ROBOTS` were in .env.example alone)."""
    text = "\n".join(path.read_text("utf-8") for path in GUIDES)
    read = _read_variables()
    assert {"VEILLE_BATCH_SIZE", "VEILLE_RESPECT_ROBOTS"} <= read
    assert sorted(name for name in read if not re.search(rf"\b{name}\b", text)) == []


def test_the_export_fields_the_docs_list_are_the_exports_in_order() -> None:
    """docs/operating.md, "What `veille export` writes": its table names every field of the
    export in the order of the CSV header (monitors.archive.export.COLUMNS, the header of an
    empty export, which tests/test_export.py holds to the records' keys)."""
    from monitors.archive.export import COLUMNS

    text = (ROOT / "docs" / "operating.md").read_text("utf-8")
    section = text.split("## What `veille export` writes\n", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    assert tuple(name for cell in cells for name in re.findall(r"`([a-z_]+)`", cell)) == COLUMNS


def test_the_archive_backfill_deployment_s_parameters_are_the_flow_s() -> None:
    """docs/backfill.md's list of the veille-archive-backfill deployment's parameters names
    every parameter of the flow and no other (it left `max_fetches` out)."""
    import inspect

    from flows.backfill_flows import archive_backfill_flow

    text = " ".join((ROOT / "docs" / "backfill.md").read_text("utf-8").split())
    found = re.search(r"Parameters: (.*?)\. Each run plans", text)
    assert found, "docs/backfill.md no longer lists the deployment's parameters: change this test with it"
    archives = {"wayback", "commoncrawl", "ccnews"}  # the values of `archive`
    named = set(re.findall(r"`([a-z_]+)`", found.group(1))) - archives
    assert named == set(inspect.signature(archive_backfill_flow.fn).parameters)


def test_the_docs_name_no_folder_of_the_machine_they_were_written_on() -> None:
    """A measurement's command names a folder a reader can make (`dev-only/`, docs/topics.md says
    how), not the scratch folder of the machine it ran on: no /work path but `../shared`'s
    documented fallback `/work/shared`."""
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in _existing([*DOCS, ROOT / "CHANGELOG.md"])
        for m in re.finditer(r"(?<![\w./-])/work/(?!shared\b)[\w./-]+", p.read_text("utf-8"))
    ]
    assert not found, found


def test_every_commands_help_says_what_it_does() -> None:
    """`veille X --help` opens with the line `veille --help` lists X with: before, it showed
    the usage and the options only (`veille stats --help` never said what stats does)."""
    silent, checked = [], 0
    for name, parser in _parsers().items():
        for sub in [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]:  # noqa: SLF001
            for choice in sub._choices_actions:  # noqa: SLF001
                checked += 1
                parts = sub.choices[choice.dest].format_help().split("\n\n")
                shown = [" ".join(part.split()) for part in parts]
                if not choice.help or len(shown) < 2 or shown[1] != " ".join(choice.help.split()):
                    silent.append(f"{name} {choice.dest}")
    assert checked >= 20, checked
    assert silent == [], "commands whose --help does not open with what they do"
