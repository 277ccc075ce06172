"""Read a stream line by line without ever holding more than a set number of bytes of one line.

``for line in stream`` reads a whole line into memory however long it is: a 50 MB line of
``veille score`` input took the process past 2 GB. Here a line longer than ``max_bytes`` is
skipped in bounded chunks up to its newline and stands as a :class:`LineTooLong` (its size),
so the caller can report it on that line number and go on with the next.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

#: bytes (or characters, on a text stream) read at a time while skipping an overlong line
SKIP_CHUNK = 1 << 16
#: why a line of arrays or objects nested some thousand deep is not read: json.loads raises
#: RecursionError past Python's recursion limit (it ended the command with a traceback)
NESTED_TOO_DEEP = "nested too deep to read (RecursionError)"


def json_fault(exc: BaseException) -> str:
    """Why a JSON line could not be read: json's own message, or what json.loads' other
    faults mean: a document nested past Python's recursion limit (RecursionError), a number
    of more digits than Python converts (a ValueError that advised set_int_max_str_digits)."""
    if isinstance(exc, RecursionError):
        return NESTED_TOO_DEEP
    if not isinstance(exc, json.JSONDecodeError) and "integer string conversion" in str(exc):
        return f"a number too long to read (over {sys.get_int_max_str_digits()} digits)"
    return str(exc)


@dataclass(frozen=True)
class LineTooLong:
    """A line that was not read: ``size`` bytes (its newline excluded), over ``limit``."""

    size: int
    limit: int


def _size(piece: str | bytes) -> int:
    return len(piece.encode("utf-8")) if isinstance(piece, str) else len(piece)


def _ends(piece: str | bytes) -> bool:
    return piece.endswith("\n") if isinstance(piece, str) else piece.endswith(b"\n")


def bounded_lines(stream: IO[bytes] | IO[str], max_bytes: int) -> Iterator[str | bytes | LineTooLong]:
    """Each line of ``stream`` (newline kept), or a :class:`LineTooLong` in its place when it holds
    more than ``max_bytes`` bytes; memory stays within about ``max_bytes`` whatever the input.

    A text stream (``sys.stdin`` replaced by a ``StringIO``) is read the same way and its lines
    are measured in UTF-8 bytes.
    """
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        size = _size(line)
        ends = _ends(line)
        if ends:
            size -= 1
        if size <= max_bytes:
            yield line
            continue
        while not ends:  # skip the rest of the line in bounded chunks, counting it
            piece = stream.readline(SKIP_CHUNK)
            if not piece:
                break
            ends = _ends(piece)
            size += _size(piece) - (1 if ends else 0)
        yield LineTooLong(size=size, limit=max_bytes)


def line_too_long(line: LineTooLong) -> str:
    """What is wrong with a line ``bounded_lines`` did not read: its size, the limit, and the
    setting that raises it."""
    return (
        f"line too long: {line.size} bytes, over the limit of {line.limit} bytes "
        "(VEILLE_SCORE_MAX_LINE_BYTES)"
    )


#: the byte order marks of the wider Unicode encodings (UTF-32's first: FF FE 00 00 opens
#: with UTF-16 LE's FF FE), what an editor or PowerShell's ">" writes first
_WIDE_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def wide_text(first_line: bytes) -> str | None:
    """What an input's first line says it is when a UTF-16 or UTF-32 byte order mark opens
    it, one line cause first, or None. Read as UTF-8, such a file gave "not UTF-8 text: 'utf-8'
    codec can't decode byte 0xff" for its first line and "not JSON" for every other (each
    line holds NUL bytes): the encoding is the fault, said once."""
    for mark, name in _WIDE_MARKS:
        if first_line.startswith(mark):
            return (
                f"{name} text, not UTF-8 (a {name} byte order mark opens it): save it as UTF-8"
                f" (iconv -f {name} -t UTF-8)"
            )
    return None


class LabelledDataError(ValueError):
    """A labelled set veille cannot measure or train on; the message starts with FILE:LINE."""


def json_objects(path: str | Path, max_line_bytes: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line of a JSON-lines file as (line number, object). A line over
    ``max_line_bytes`` (default ``VEILLE_SCORE_MAX_LINE_BYTES``), not UTF-8, not JSON or not an
    object raises :class:`LabelledDataError` naming FILE:LINE: figures measured without that
    line would not be the set's."""
    from monitors.collect.encoding import loads_storable

    if max_line_bytes is None:
        from monitors.settings import get_settings

        max_line_bytes = get_settings().score_max_line_bytes
    with open(path, "rb") as handle:
        for at, raw in enumerate(bounded_lines(handle, max_line_bytes), 1):
            if isinstance(raw, LineTooLong):
                raise LabelledDataError(f"{path}:{at}: {line_too_long(raw)}; not read")
            assert isinstance(raw, bytes)  # a binary file
            wide = wide_text(raw) if at == 1 else None
            if wide:
                raise LabelledDataError(f"{path}:1: {wide}")
            if not raw.strip():
                continue
            try:
                # a lone surrogate escape: U+FFFD; a byte order mark (Notepad's UTF-8) is no JSON
                item = loads_storable(raw.decode("utf-8-sig" if at == 1 else "utf-8"))
            except UnicodeDecodeError as exc:
                raise LabelledDataError(f"{path}:{at}: not UTF-8 text: {exc}") from None
            except (ValueError, RecursionError) as exc:  # not JSON, nested or a number too long
                raise LabelledDataError(f"{path}:{at}: not JSON: {json_fault(exc)}") from None
            if not isinstance(item, dict):
                raise LabelledDataError(f"{path}:{at}: expected a JSON object, got {type(item).__name__}")
            yield at, item


def json_object_file(path: Path, what: str) -> dict[str, Any]:
    """A JSON file that holds one object (floors, a corpus's ground truth); one that is not UTF-8,
    not JSON or not an object raises :class:`LabelledDataError` naming ``FILE:LINE`` and ``what``
    it should hold."""
    try:
        value = json.loads(path.read_text("utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise LabelledDataError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise LabelledDataError(f"{path}:1: not UTF-8 text: {exc.reason}") from None
    if not isinstance(value, dict):
        raise LabelledDataError(f"{path}:1: expected a JSON object of {what}, got {type(value).__name__}")
    return value
