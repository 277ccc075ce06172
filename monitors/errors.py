"""Exceptions as the one-line reasons veille records for users (fetch_log and queue rows, a
poll's error, a worker's failure, a run's final state): the exception's type, then what it
says, cause first. Before, each place wrote ``f"{type(exc).__name__}: {exc}"``: an exception
with no message (``TimeoutError()``, a bare ``assert``) gave "TimeoutError: " and one whose
message is a page of text pasted all of it, line breaks included, into a column. libpq's
messages run to several lines, a hint indented by a tab under the statement ("connection to
server at ... failed: Connection refused" then "\tIs the server running on that host and
accepting TCP/IP connections?"): the hint is folded into its statement, in parentheses."""

import re
import unicodedata
from collections.abc import Iterable, Iterator

#: Characters at most in a description; a reason is read in one line of a table or a log.
LIMIT = 300

_UNSTORABLE = re.compile("[\ud800-\udfff]")  # lone surrogates: no UTF-8 for PostgreSQL


def describe(exc: BaseException, limit: int = LIMIT, message: str | None = None) -> str:
    """``exc`` as "Type: message": the first non-empty line of its message, whitespace and
    control characters (NUL, which PostgreSQL's text refuses) collapsed to one space, cut to
    ``limit`` characters with "…". ``message`` stands in for ``str(exc)`` (a driver's error with
    its DETAIL). An exception that says nothing is named alone, or with what it was raised
    from ("TimeoutError from ConnectionResetError: [Errno 104] ...") or raised while handling:
    that one's message is then the cause; the type name is never cut."""
    name = type(exc).__name__
    text = _first_line(_message(exc) if message is None else message)
    if not text:
        chained = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        text = _first_line(_message(chained)) if chained is not None else ""
        if not text:
            return name
        how = "from" if exc.__cause__ is not None else "while handling"
        name = f"{name} {how} {type(chained).__name__}"
    return _cut(f"{name}: {text}", limit, len(name)) or type(exc).__name__


def said(exc: BaseException, limit: int = LIMIT, message: str | None = None) -> str:
    """What ``exc`` (or ``message``) says, as :func:`describe` words it but without the type
    name, for a reason that puts the error in its own sentence ("lost the database during the
    rescore (connection reset)"); its type name when it says nothing."""
    text = _first_line(_message(exc) if message is None else message)
    return _cut(text, limit, 0) or type(exc).__name__


def one_line(message: str) -> str:
    """A message of several lines in one, each line kept: every statement with its tab-indented
    hint folded in (:func:`_statements`), joined by "; ", or by a space after a colon (libpq's
    "All failures were:" then one "- host: ..." line per host tried, their "- " dropped). For
    the whole of a driver's message where a user reads it (``veille: error: cannot reach
    PostgreSQL at ...``), where :func:`describe` keeps the first statement."""
    text = ""
    for statement in _statements(message):
        if not text:
            text = statement
        elif text.endswith(":"):
            text = f"{text} {statement.removeprefix('- ')}"
        else:
            text = f"{text}; {statement.removeprefix('- ')}"
    return text.rstrip(" :")


def _cut(text: str, limit: int, keep: int) -> str:
    """``text`` in ``limit`` characters, "…" for what was cut; "" when that leaves no more than
    its first ``keep`` characters (a type name alone)."""
    if len(text) <= limit:
        return text
    kept = text[: max(limit - 1, keep)].rstrip(" :")
    return f"{kept}…" if len(kept) > keep else ""


def _message(exc: BaseException) -> str:
    """``str(exc)``, or "" when even that raises (a class whose ``__str__`` is broken)."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - the description must not raise in place of the error
        return ""


def _first_line(message: str) -> str:
    """The first statement of ``message`` (:func:`_statements`), with no trailing colon."""
    for statement in _statements(message):
        words = statement.rstrip(" :")
        if words:
            return words
    return ""


def _statements(message: str) -> Iterator[str]:
    """The lines of ``message`` that say something, each in one line (whitespace and control
    characters collapsed), the lines indented by a tab that follow one (libpq's hint) folded
    into it: "connection to server at ... failed: Connection refused (is the server running on
    that host and accepting TCP/IP connections?)". Lazily: a description reads no further than
    its first statement of a message of megabytes."""
    head, hints = "", []
    for line in message.splitlines():
        words = " ".join(_UNSTORABLE.sub("\ufffd", _spaced(line)).split())
        if not words:
            continue
        if line.startswith("\t") and head:
            hints.append(words)
            continue
        if head:
            yield _folded(head, hints)
        head, hints = words, []
    if head:
        yield _folded(head, hints)


def _folded(head: str, hints: list[str]) -> str:
    """``head`` with ``hints`` (its continuation lines) in parentheses, as a clause: the first
    word in lower case unless it is an acronym ("SSL"), no final full stop."""
    hint = " ".join(hints).strip(" .:")
    if not hint:
        return head
    first, _, rest = hint.partition(" ")
    if first[1:].islower():
        hint = f"{first.lower()} {rest}".rstrip()
    return f"{head.rstrip(' :')} ({hint})"


def _spaced(line: str) -> str:
    """``line`` with its control characters as spaces (a tab, a NUL, an escape)."""
    if line.isprintable():
        return line
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in line)


def did_you_mean(unknown: Iterable[str], names: Iterable[str]) -> str:
    """The hint of a "no source named ..." or "no topic named ..." error: ``"did you mean
    'Mort'? "`` for the ``names`` close to the ``unknown`` ones, whatever their case (a name
    matches exactly, so "mort" is no source, yet "Mort" is the one meant, and then the only one
    named), else ``""``."""
    import difflib

    folded: dict[str, set[str]] = {}
    for name in names:
        folded.setdefault(name.casefold(), set()).add(name)
    near: set[str] = set()
    for name in unknown:
        key = name.casefold()  # the same name in another case is the one meant, alone
        keys = [key] if key in folded else difflib.get_close_matches(key, list(folded), n=3, cutoff=0.6)
        near.update(match for k in keys for match in folded[k])
    return f"did you mean {', '.join(map(repr, sorted(near)))}? " if near else ""
