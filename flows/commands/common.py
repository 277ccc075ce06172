"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import calendar
import contextlib
import errno
import math
import os
import re
import shlex
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TextIO

from flows import signals
from flows.closing import closing_line  # noqa: F401 - the commands import it from here
from monitors.errors import did_you_mean


def check_sources_and_topics(sources_file: str | None, names: Sequence[str] = ()) -> None:
    """Read the sources file and the topic folder before anything starts (the database, a
    flow, a schedule): a file that cannot be read or parsed, one with no valid entry, or a
    source ``names`` holds that the file does not, raises SourcesError or TopicError, one line
    with its file (and line), exit 2, instead of failing inside every run (``veille run``,
    ``serve``, ``backfill --source``). Bad entries among good ones are warned of on stderr and
    left out: the others are polled (each run's report lists them)."""
    from monitors.collect.sources import SourcesError, load_sources_file, sources_path
    from monitors.judge.topic_set import check_topics

    read = load_sources_file(sources_file)
    if read.bad and not read.specs:
        raise read.refused()
    valid = {s.name for s in read.specs}
    bad_names = {b.name: b for b in read.bad}
    for name in names:
        if name in bad_names and name not in valid:
            raise SourcesError(f"{bad_names[name]} (source {name!r} is skipped until it is fixed)")
    unknown = sorted(set(names) - valid)
    if unknown:
        hint = did_you_mean(unknown, valid).removesuffix(" ")
        raise SourcesError(
            f"{sources_path(sources_file)}: no source named {', '.join(map(repr, unknown))}"
            + (f" ({hint})" if hint else "")
        )
    if not read.specs:  # a truncated or emptied file: every run would poll nothing, silently
        print(f"veille: warning: {read.origin} has no [[source]] entry: no source is polled", file=sys.stderr)
    warn_bad_entries(read)
    check_topics()


def warn_bad_entries(read: Any) -> None:
    """One stderr line per bad entry of a sources file (:class:`SourcesFile`), cause first."""
    for bad in read.bad:
        print(f"veille: warning: {bad} (skipped; the file's other sources are polled)", file=sys.stderr)


def not_empty(what: str) -> Callable[[str], str]:
    """An argparse type: any string but the empty one, a usage error naming the option (exit 2).
    An unset shell variable gives one, and an empty value read as "not given": ``--sources ""``
    read the default sources file, ``-o ""`` wrote to stdout or over the topic's model,
    ``--shared ""`` read the default shared folder, ``--site ""`` backfilled every site."""

    def parse(value: str) -> str:
        if not value:
            raise argparse.ArgumentTypeError(f"empty (an unset variable?): give {what}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


#: an argparse type: a file or folder path, not empty
path_arg = not_empty("a file or folder")

# what Python makes of the bytes of an argument that are not UTF-8 (surrogateescape)
_UNDECODED = re.compile("[\udc80-\udcff]")


def text_arg(value: str) -> str:
    """An argparse type: text veille compares with the archive's or puts in its output (a
    search query, a source's name, a feed title), so UTF-8, as the archive is. An argument
    with other bytes (a Latin-1 terminal, a script in another encoding) is a usage error
    showing them, exit 2: the database driver refused it with a UnicodeEncodeError traceback
    (``veille search``, ``sources enable``), and the feed title lost those bytes silently.
    (A file's path is bytes to the system and may hold any: not this type.)"""
    if _UNDECODED.search(value):
        shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise argparse.ArgumentTypeError(
            f"'{shown}' is not UTF-8 text: veille reads its arguments as UTF-8 (is the terminal"
            " or the script in another encoding?)"
        )
    return value


def add_topic_option(parser: argparse.ArgumentParser) -> None:
    """``--topic NAME``: a topic of the topic folder by name, or a topic file's path (eval,
    rescore, train-topic; resolved by :func:`monitors.judge.topic_set.topic_file`)."""
    parser.add_argument(
        "--topic",
        metavar="NAME",
        type=path_arg,
        help="a topic of the topic folder (VEILLE_TOPICS_DIR) by name, or a topic file's path"
        " (default: the AI Action Summit)",
    )


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``n`` with ``word``, in the plural unless ``n`` is 1 ("1 party", "2 parties", "0
    articles"): the commands printed "1 parties", "1 sources polled". The plural is ``word``
    + s (a consonant + y: ies) unless given."""
    if n == 1:
        return f"{n} {word}"
    if plural is None:
        consonant_y = word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u")
        plural = word[:-1] + "ies" if consonant_y else word + "s"
    return f"{n} {plural}"


def prepare_database(args: argparse.Namespace | None = None) -> str:
    """Resolve, reach and migrate the database; pin its URL for this process's tasks. Then the
    dates of ``args`` (:func:`date_arg`) that name no zone are read on the local clock, which is
    now the database's when ``VEILLE_LOCAL_TIMEZONE`` is not set (:func:`on_local_clock_dates`)."""
    from monitors.archive.schema import migrate

    url = migrate()
    os.environ["VEILLE_DATABASE_URL"] = url
    if args is not None:
        on_local_clock_dates(args)
    return url


def date_arg(value: str) -> datetime:
    """An argparse type: an ISO date or timestamp, as given: one that names no zone stays naive
    until the command has opened the database, then :func:`on_local_clock_dates` reads it on
    the local clock, as an article's day is (VEILLE_LOCAL_TIMEZONE, else the database's clock:
    ``--since 2025-02-10`` takes the articles of 10 February from its first minute there).
    Anything else is a usage error naming the option (exit 2), not argparse's "invalid
    fromisoformat value". A value in a date's form that names no day says why, cause first:
    "'2025-02-30' is not a day: February 2025 has 28 days", not "is not a date (YYYY-MM-DD)"."""
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        form = _DATE_FORM.match(value.strip())
        if form is None or str(exc).startswith("Invalid isoformat"):
            raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        year, month, day = (int(part) for part in form.groups())
        reason = str(exc)  # Python's: "month must be in 1..12", "hour must be in 0..23"
        if 1 <= month <= 12 and day > 0 and reason.startswith("day is out of range"):
            days = calendar.monthrange(year, month)[1]
            reason = f"{calendar.month_name[month]} {year} has {days} days"
        what = "day" if any(word in reason for word in ("year", "month", "day")) else "time"
        raise argparse.ArgumentTypeError(f"{value!r} is not a {what}: {reason}") from None


#: a value with a date's form, YYYY-MM-DD first (a timestamp may follow)
_DATE_FORM = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")


def on_local_clock_dates(args: argparse.Namespace) -> None:
    """Read the command's dates that name no zone (:func:`date_arg`) on the local clock, in
    place: one place for every command, called once the database is open, so that a process
    without ``VEILLE_LOCAL_TIMEZONE`` reads them on the clock the database's views use (before,
    argparse read them on Europe/Paris's, whatever the database kept). A date with a zone
    stays as given."""
    from monitors.dates import on_local_clock_bounded

    for name, value in vars(args).items():
        if isinstance(value, datetime) and value.tzinfo is None:
            setattr(args, name, on_local_clock_bounded(value))


def at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``minimum`` (to ``maximum``). Anything else is a
    usage error naming the option (exit 2), not a traceback from the database or a library
    (``--limit -1`` was a SQL error, ``--batch-size 0`` a ValueError)."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
        if number < minimum or (maximum is not None and number > maximum):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {number}")
        return number

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


#: PostgreSQL's LIMIT is a bigint
BIGINT_MAX = 2**63 - 1
#: ``search_articles(query, max_results integer)`` takes an integer
INTEGER_MAX = 2**31 - 1


def row_count(ceiling: int = BIGINT_MAX) -> Callable[[str], int]:
    """An argparse type for a count of rows (``--limit N``, ``--batch-size N``): a whole number
    from 1, one beyond ``ceiling`` (a user's "all") taken as ``ceiling``. No table holds that
    many rows, and the database refuses more (a DataError traceback: LIMIT is a bigint)."""
    whole = at_least(1)

    def parse(value: str) -> int:
        return min(whole(value), ceiling)

    parse.__name__ = "whole number"
    return parse


def above_zero(value: str) -> float:
    """An argparse type: a finite number above 0 (``--c inf`` or ``1e999`` was taken)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < number < math.inf:
        raise argparse.ArgumentTypeError(f"must be above 0 and finite, got {value}")
    return number


# C0 and C1 control characters and DEL: an escape sequence in an article's title (ESC [ 2 J, an
# OSC 8 link, a colour) printed as it is would act on the reader's terminal, not be shown
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_BREAKS = re.compile("[\t\n\r\x0b\x0c]+")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # its control picture: ESC shows as ␛
    return "\u2421" if code == 0x7F else "\ufffd"


# Unicode's bidirectional embeddings and overrides (LRE, RLE, LRO, RLO), closed by PDF, and
# isolates (LRI, RLI, FSI), closed by PDI: one left open reorders the rest of its line
_EMBEDDINGS, _PDF = "\u202a\u202b\u202d\u202e", "\u202c"
_ISOLATES, _PDI = "\u2066\u2067\u2068", "\u2069"


def _bidi_closed(value: str) -> str:
    """``value`` with the bidirectional embeddings, overrides and isolates it leaves open closed
    at its end (as Unicode's algorithm pairs them, UAX #9), so right-to-left text shows as it
    is but cannot reverse what follows it on the line: a title's RLO (U+202E) turned the source,
    the date and the URL printed after it around."""
    if not any(c in _EMBEDDINGS or c in _ISOLATES for c in value):
        return value
    stack: list[str] = []
    for char in value:
        if char in _EMBEDDINGS:
            stack.append(_PDF)
        elif char in _ISOLATES:
            stack.append(_PDI)
        elif char == _PDF and stack and stack[-1] == _PDF:  # a PDF does not close an isolate
            stack.pop()
        elif char == _PDI and _PDI in stack:  # a PDI closes the embeddings opened inside it too
            while stack.pop() != _PDI:
                pass
    return value + "".join(reversed(stack))


def terminal_safe(value: str) -> str:
    """``value`` on one line with its control characters shown, not obeyed: tabs and line breaks
    as a space, the other C0 controls as their Unicode control pictures (ESC as ␛), DEL as ␡, C1
    controls as U+FFFD, and the bidirectional controls it leaves open closed at its end. For
    what the archive holds (titles, names, snippets, errors), printed to a terminal by
    ``veille search``, ``stories`` and the tables."""
    return _bidi_closed(_CONTROL.sub(_visible, _BREAKS.sub(" ", value)))


#: characters of an archive value (a title, a name, a snippet) a terminal line shows at most
LINE_WIDTH = 300


def terminal_line(value: str, width: int = LINE_WIDTH) -> str:
    """``value`` as :func:`terminal_safe` shows it, at most ``width`` characters (cut in the
    middle, keeping its start and its end): a title of 100,000 characters filled the screen
    with one search hit. ``--json`` and the exports keep the value whole. What the cut leaves is
    closed again: a value closing its own override in the part cut out kept only the opening."""
    from monitors.collect.health import shorten_middle

    return _bidi_closed(shorten_middle(terminal_safe(value), width))


def print_table(rows: list[dict[str, Any]], out: TextIO | None = None, width: int = 60) -> None:
    """Plain aligned columns, one line per row (to stdout as it is now). The last column
    (where tables put the error) is printed whole, for the terminal to wrap; another cell
    longer than ``width`` characters is shortened in the middle, so it keeps its start (an
    error's cause, written first) and its end."""
    if not rows:
        return
    out = out or sys.stdout
    cols = list(rows[0])
    cells = [{c: terminal_line(str(r[c]), 100_000 if c == cols[-1] else width) for c in cols} for r in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in cols[:-1]}
    widths[cols[-1]] = 0  # nothing follows it: no padding
    print("  ".join(c.ljust(widths[c]) for c in cols).rstrip(), file=out)
    for r in cells:
        print("  ".join(r[c].ljust(widths[c]) for c in cols).rstrip(), file=out)


def resolve_topic(command: str, args: argparse.Namespace) -> bool:
    """``--topic`` of search, export, feed, stats and stories made the topic's name; False
    (after saying why on stderr) when it names no topic. A name the archive holds scores of
    stays (a removed topic keeps its history); else a topic of the folder by name or a topic
    file's path, resolved as eval, rescore and score do (:func:`~monitors.judge.topic_set.topic_file`),
    is taken by the name its file declares: ``article_topics`` rows are keyed by name. A typo
    would otherwise print an empty result that looks like "nothing relevant"; a topic not
    scored yet gets a note to run `veille rescore`."""
    topic = args.topic
    if topic is None:
        return True
    from sqlalchemy import text

    from flows.cli import _cause_first
    from monitors.archive.db import session_scope
    from monitors.archive.reads import scored_topics
    from monitors.judge.topic_schema import TopicError, parse_topic_file
    from monitors.judge.topic_set import topic_file

    with session_scope() as session:
        scored = scored_topics(session)
        empty = not session.scalar(text("SELECT EXISTS (SELECT 1 FROM articles)"))
    if topic in scored:
        return True
    try:  # the file read and checked, not compiled
        args.topic = str(parse_topic_file(topic_file(topic))[0]["name"])
    except (TopicError, OSError) as exc:  # the cause alone: "no topic named 'x' (topics in ...)"
        print(f"veille: error: {_cause_first(exc)}", file=sys.stderr)
        return False
    if args.topic in scored:
        return True
    # an empty archive has nothing to rescore: `veille rescore` would change nothing
    rescore = "veille rescore" if args.topic == topic else f"veille rescore --topic {shlex.quote(topic)}"
    then = "the archive has no article yet (`veille run` stores some)" if empty else f"run: {rescore}"
    print(f"note: topic {args.topic} has no scores yet; {then}", file=sys.stderr)
    return True


#: temporary files of the outputs being written, removed when a signal ends the command
_partial: set[str] = set()
#: what a directory fsync raises where the OS or the file system does not do it
_NO_DIRECTORY_SYNC = {errno.EBADF, errno.EINVAL, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTSUP}


def _remove_partial(signal_name: str) -> None:
    for path in list(_partial):
        with contextlib.suppress(OSError):
            os.unlink(path)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one file: the same path, a symbolic or hard link to it (one
    that does not exist yet is no file read)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextlib.contextmanager
def replaced_when_complete(path: str | os.PathLike[str]) -> Iterator[str]:
    """A temporary file beside ``path`` (``.NAME.*.part``) to write a command's output to,
    moved onto ``path`` only when the block ends without error: an output cut short (an
    error, a full disk, Ctrl-C, SIGTERM) leaves the previous file as it was and no partial
    file. The temporary file is flushed to disk (fsync) before the move and the folder after
    it, so that a crash or power loss right after leaves the old file or the new one whole,
    never an empty one. The new file gets the old one's mode, or the umask's default (not the
    temporary file's 0600). A path that is no regular file (``/dev/stdout``, a FIFO) is
    written in place, as before. Errors name ``path``, never the temporary file."""
    path = os.fspath(path)
    target = os.path.realpath(path)  # a symbolic link keeps pointing at the new file
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a file where a folder should be (a.txt/out.csv), a symbolic link loop
        raise _naming(path, exc) from exc
    if mode is not None and not stat.S_ISREG(mode):
        try:
            yield path
        except OSError as exc:
            if exc.errno is not None and exc.filename in (None, path):
                raise _naming(path, exc) from exc  # /dev/full: say which file, as for the others
            raise
        return
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    folder, name = os.path.split(target)
    signals.on_signal(_remove_partial)  # the signal handler leaves without unwinding this block
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", suffix=".part", delete=False) as tmp:
            _partial.add(tmp.name)
    except OSError as exc:  # a folder that does not exist or cannot be written: name the file asked for
        raise _naming(path, exc) from exc
    try:
        yield tmp.name
        os.chmod(tmp.name, stat.S_IMODE(mode))
        _fsync(tmp.name)
        os.replace(tmp.name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp.name)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename in (None, tmp.name):
            raise _naming(path, exc) from exc  # a write that failed (a full disk): say which file
        raise
    finally:
        _partial.discard(tmp.name)
    _fsync_folder(folder, path)


def _naming(path: str, exc: OSError) -> OSError:
    """The error as one line naming the file asked for (no errno: it is not named again)."""
    return OSError(f"cannot write {path}: {exc.strerror or exc}")


def _fsync(name: str) -> None:
    """Flush a written file's data to disk (read-write: some systems refuse a read-only fsync)."""
    fd = os.open(name, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: str, path: str) -> None:
    """Flush the folder's entry for the renamed file, where the OS allows it (not on Windows,
    nor every file system): best effort there, an error (naming ``path``) otherwise."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIRECTORY_SYNC:
            raise _naming(path, exc) from exc
    finally:
        os.close(fd)
