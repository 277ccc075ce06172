"""Every hint a command prints is a line the user can type as printed: each `veille ...` it names
(in backticks, or after "run:", "with:", "sources:") is taken by veille's own parser, options
and all, and each SQL statement it shows runs on a database at the schema's head, given as
`veille psql -c "..."`: a bare SELECT (`veille run` ended with one) has no place to be typed
for a user of the embedded database, who has no psql connection string.

The hints are read from the string literals of flows/ and monitors/ (docstrings out): a hint
added or reworded later is checked without a test of its own."""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.cli import build_parser
from tests.docs_reader import WHOLE_STATEMENT

ROOT = Path(__file__).resolve().parent.parent
#: what an f-string's replacement field becomes in the text read: a value the hint fills in
HOLE = "\x00"
#: a value the user fills in: a replacement field, a metavar (NAME, FILE, DATE), an ellipsis
PLACEHOLDER = re.compile(rf"{HOLE}|[A-Z][A-Z_]*|\.\.\.")
#: what a placeholder is given as, taken by any argument (:func:`_placeholders_taken`)
PLACEHOLDER_VALUE = "placeholder-value"
#: a command named outside backticks, after the words that introduce one ("build it with:
#: veille train-topic --topic ai_summit", "run: veille rescore", "its sources: veille sources")
INTRODUCED = re.compile(r"(?:\bwith|\brun|\bsources): (veille [a-z][^;)`\n]*)")
#: a literal that is a command line with options, printed once filled in (the `veille rescore
#: --topic {topic}` a note gives to run); not a title (`veille queue drain`) nor a message
WHOLE_COMMAND = re.compile(r"veille [a-z][a-z-]*(?: [a-z][a-z-]*)* --[a-z][^:`\n]*")


@dataclass(frozen=True)
class Hint:
    where: str  # file:line of the string literal
    text: str  # the command or statement, as printed (HOLE for a filled-in value)


def _text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's with HOLE for each replacement field."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else HOLE for v in node.values)
    return None


def _literals(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal of a module but its docstrings and bare string
    statements (attribute docs): what the code can print."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    skipped |= {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        text = None if id(node) in skipped else _text(node)
        if text is not None and isinstance(node, ast.expr):
            yield node.lineno, text


def hints_in(text: str) -> tuple[list[str], list[str]]:
    """(commands, bare SQL statements) a printed text names: backticked spans opening with
    `veille ` (and the `$(veille ...)` of a psql line), commands introduced outside backticks,
    and backticked spans that are a whole SQL statement."""
    commands, sql = [], []
    for span in re.findall(r"`([^`]+)`", text):
        if span.startswith("veille "):
            commands.append(span)
        elif WHOLE_STATEMENT.fullmatch(span):
            sql.append(span)
    commands += re.findall(r"\$\((veille [^)]*)\)", text)
    commands += [c.strip() for c in INTRODUCED.findall(re.sub(r"`[^`]*`", "", text))]
    if WHOLE_COMMAND.fullmatch(text):
        commands.append(text)
    return commands, sql


def _hints() -> tuple[list[Hint], list[Hint]]:
    commands, sql = [], []
    for path in sorted([*(ROOT / "flows").rglob("*.py"), *(ROOT / "monitors").rglob("*.py")]):
        for line, text in _literals(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            found_commands, found_sql = hints_in(text)
            commands += [Hint(where, c) for c in found_commands]
            sql += [Hint(where, s) for s in found_sql]
    return commands, sql


COMMANDS, BARE_SQL = _hints()


def _placeholders_taken(parser: argparse.ArgumentParser, value: str) -> None:
    """Make every argument of ``parser`` and its subcommands take ``value`` as it is (a
    placeholder stands for whatever the user types), other values converted as veille does."""
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in action.choices.values():
                _placeholders_taken(sub, value)
        elif action.type is not None:
            convert = action.type
            action.type = lambda given, convert=convert: given if given == value else convert(given)


def _filled(words: list[str]) -> tuple[list[str], bool]:
    """The arguments of ``veille WORDS``, a placeholder where a subcommand goes (`veille
    COMMAND --help`) made the first of them, another one PLACEHOLDER_VALUE; and whether the
    words are command words alone ("run `veille backfill` again" names the command: its
    required options are the ones the user gave)."""
    parser, argv, commands_only = build_parser(), [], True
    for word in words:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
        if subs and PLACEHOLDER.fullmatch(word):
            word = next(iter(subs[0].choices))
        if subs and word in subs[0].choices:
            parser = subs[0].choices[word]
        else:
            commands_only = False
            word = PLACEHOLDER_VALUE if PLACEHOLDER.fullmatch(word) else word.replace(HOLE, "x")
        argv.append(word)
    return argv, commands_only


def refusal(command: str) -> str | None:
    """Why veille's parser refuses ``command`` (None if it takes it); a placeholder word is
    taken as any value of its argument, a command named alone need not give its required
    options."""
    words = shlex.split(command)
    if words[0] != "veille":
        return f"not a veille command: {command}"
    argv, commands_only = _filled(words[1:])
    parser = build_parser()
    _placeholders_taken(parser, PLACEHOLDER_VALUE)
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as exc:
        why = said.getvalue().strip().splitlines()[-1] if exc.code else None
        if why and commands_only and "the following arguments are required" in why:
            return None
        return why
    return None


def psql_statements(command: str) -> list[str]:
    """The SQL of a `veille psql ... -c "SQL"` hint."""
    words = shlex.split(command)
    if words[:2] != ["veille", "psql"]:
        return []
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-c", "--command")]


def test_the_hints_are_read_from_the_code() -> None:
    """The reader finds the hints in their forms: backticked, introduced, in an f-string (a
    placeholder where a value is filled in); a command's own prefix is not one."""
    assert hints_in("see `veille sources`; `veille stories --since 2025-02-01`") == (
        ["veille sources", "veille stories --since 2025-02-01"],
        [],
    )
    assert hints_in(f"{HOLE}: file {HOLE} not found; build it with: veille train-topic --topic {HOLE}") == (
        [f"veille train-topic --topic {HOLE}"],
        [],
    )
    assert hints_in("veille serve: stopped; run `SELECT 1 FROM sources` then `UPDATE sightings`") == (
        [],
        ["SELECT 1 FROM sources"],
    )
    assert hints_in('open it with: psql "$(veille db-url --plain)"') == (["veille db-url --plain"], [])
    printed = {h.text for h in COMMANDS}
    assert {
        "veille sources enable NAME",
        "veille stories --since DATE",
        f"veille train-topic --topic {HOLE}",
        f"veille rescore --topic {HOLE}",
    } <= printed, sorted(printed)
    assert len(COMMANDS) >= 40, COMMANDS


def test_a_broken_hint_is_told() -> None:
    """What the checks below refuse: a renamed option, a command that does not exist, a value
    its argument does not take (placeholders aside), an SQL statement given bare."""
    assert refusal("veille sources check --report-dir DIR") is None
    assert refusal(f"veille sources --sources {HOLE}") is None
    assert "--report-folder" in (refusal("veille sources check --report-folder DIR") or "")
    assert "invalid choice: 'check-all'" in (refusal("veille sources check-all") or "")
    assert refusal("veille stories --since yesterday-ish") is not None
    assert "unrecognized arguments: --all" in (refusal("veille sources enable NAME --all") or "")
    assert refusal("veille sources enable") is None  # the command named: its NAME is the user's
    assert psql_statements('veille psql -c "SELECT name FROM sources"') == ["SELECT name FROM sources"]


@pytest.mark.parametrize("hint", COMMANDS, ids=lambda h: f"{h.where} {h.text}")
def test_every_command_a_hint_names_is_taken_by_veilles_parser(hint: Hint) -> None:
    assert refusal(hint.text) is None, f"{hint.where}: `{hint.text}`: {refusal(hint.text)}"


def test_no_hint_gives_bare_sql() -> None:
    """A statement is given as `veille psql -c "..."` (or a veille command that shows the same):
    a bare one has no place to be typed on the embedded database."""
    assert BARE_SQL == [], [f"{h.where}: `{h.text}`" for h in BARE_SQL]


PSQL_SQL = [Hint(h.where, s) for h in COMMANDS for s in psql_statements(h.text)]


def _bad_sql(engine: sa.Engine, statement: str) -> str | None:
    """Why ``statement`` fails on the migrated test database (None if it runs): run inside a
    transaction rolled back, so a hint's UPDATE leaves nothing."""
    with engine.connect() as conn:
        try:
            conn.execute(sa.text(statement.replace(":", r"\:")))
        except sa.exc.DBAPIError as exc:
            return str(exc.orig).splitlines()[0]
        finally:
            conn.rollback()
    return None


def test_every_sql_a_hint_gives_runs_at_the_schemas_head(engine: sa.Engine) -> None:
    """The check runs statements as a user would (a wrong column is told), on every hint's."""
    assert _bad_sql(engine, "SELECT name, last_error FROM sources WHERE consecutive_failures > 0") is None
    assert "last_eror" in (_bad_sql(engine, "SELECT last_eror FROM sources") or "")
    bad = {f"{h.where}: {h.text}": _bad_sql(engine, h.text) for h in PSQL_SQL + BARE_SQL}
    assert {k: v for k, v in bad.items() if v} == {}
