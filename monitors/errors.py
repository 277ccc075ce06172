"""Exceptions as the one-line reasons veille records for users (fetch_log and queue rows, a
poll's error, a worker's failure, a run's final state): the exception's type, then what it
says, cause first. Before, each place wrote ``f"{type(exc).__name__}: {exc}"``: an exception
with no message (``TimeoutError()``, a bare ``assert``) gave "TimeoutError: " and one whose
message is a page of text pasted all of it, line breaks included, into a column."""

import re
import unicodedata

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
    """The first line of ``message`` that says something, in one line, with no trailing colon."""
    for line in message.splitlines():
        words = " ".join(_UNSTORABLE.sub("\ufffd", _spaced(line)).split()).rstrip(" :")
        if words:
            return words
    return ""


def _spaced(line: str) -> str:
    """``line`` with its control characters as spaces (a tab, a NUL, an escape)."""
    if line.isprintable():
        return line
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in line)
