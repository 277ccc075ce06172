"""The ``veille`` command. Each subcommand lives in ``flows/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``handler``."""

from __future__ import annotations

import argparse
import atexit
import codecs
import contextlib
import contextvars
import errno
import importlib
import io
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from flows import bare_threads

COMMAND_MODULES = (
    "flows.commands.run",
    "flows.commands.export",
    "flows.commands.db",
    "flows.commands.score",
    "flows.commands.eval",
    "flows.commands.train",
    "flows.commands.rescore",
    "flows.commands.sources",
    "flows.commands.serve",
    "flows.commands.deploy",
    "flows.commands.search",
    "flows.commands.stories",
    "flows.commands.stats",
    "flows.commands.feed",
    "flows.commands.backfill",
)


def formatter(prog: str) -> argparse.HelpFormatter:
    """Keep the examples in epilogs laid out as written."""
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


#: a word after a dash (-lait, -Bletchley, -Jean-Luc), which argparse reads as an option
_DASH_WORD = re.compile(r"-[^\W\d_](?:[^\W\d_]|['’-])*")


class CommandParser(argparse.ArgumentParser):
    """The parser of ``veille`` and its commands. A command whose positional arguments are
    words to search sets ``dash_words`` to how to give a word that begins with a dash: argparse
    reads ``veille search sommet -lait`` as an option, and said "unrecognized arguments: -lait",
    "argument --limit/-n: not a whole number: 'ucleaire'" (-nucleaire), "argument -h/--help:
    ignored explicit argument 'ydrogene'" (-hydrogene) or, for ``veille search -macron``, "the
    following arguments are required: query". Its error now names first the word read as an
    option, then argparse's words, then ``dash_words``."""

    dash_words = ""
    #: the command line being parsed, set by :func:`main` (argparse does not pass it on)
    arguments: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """No abbreviated options (``--rel`` for ``--relevant``), in ``veille`` and each of its
        (sub)commands alike (``add_parser`` makes them of this class): an abbreviation would
        silently change meaning, or become ambiguous, once an option that shares its start is
        added; the documentation writes every option in full."""
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if self.dash_words:
            given = list(CommandParser.arguments)
            before = given[: given.index("--")] if "--" in given else given
            read = [a for a in before if _DASH_WORD.fullmatch(a) and a not in self._option_string_actions]
            if read:
                words = " ".join(read)
                what = "an option" if len(read) == 1 else "options"
                message = f"{words} was read as {what} ({message}): {self.dash_words}"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="veille",
        description="veille: media monitoring of French news and party sites into PostgreSQL.",
        epilog="Settings come from VEILLE_* environment variables (see .env.example).\n"
        "Run `veille COMMAND --help` for a command's options and an example.",
        formatter_class=formatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """Give each (sub)command's own ``--help`` the line ``veille --help`` lists it with, as
    its description: ``veille stats --help`` said nothing of what the command does."""
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            lines = {choice.dest: choice.help for choice in action._choices_actions}  # noqa: SLF001
            for word, subparser in action.choices.items():
                if subparser.description is None and lines.get(word):
                    subparser.description = lines[word]
                _describe(subparser)


def _command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub)command ``args`` were parsed for: ``veille export --until D``
    is refused with the usage of ``veille export``, which lists the options it has, where
    argparse gave that of ``veille`` itself."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
        name = getattr(args, subs[0].dest, None) if subs else None
        if name not in (subs[0].choices if subs else {}):
            return parser
        parser = subs[0].choices[name]


def _cause_first(exc: BaseException) -> str:
    """An error as one line; a file the system refused is named first, like FILE:LINE errors
    ("topic.toml: No such file or directory", not "[Errno 2] No such file ...: 'topic.toml'")."""
    if (
        isinstance(exc, OSError)
        and exc.filename is not None
        and exc.strerror
        and str(exc).startswith("[Errno")
    ):
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


class _ClosedStream(io.TextIOBase):
    """A standard stream the caller closed (``veille score <&-``, ``veille stats >&-``): reading
    or writing it is an OSError naming it, one line and exit 2 (as ``cat`` says "Bad file
    descriptor"), where Python's None ended ``score`` on an AttributeError traceback."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def _refuse(self) -> NoReturn:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF), self.name)

    def read(self, size: int | None = -1) -> str:
        self._refuse()

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        self._refuse()

    def write(self, text: str) -> int:
        self._refuse()

    def fileno(self) -> int:
        self._refuse()


def _plug_closed_standard_streams() -> None:
    """Put /dev/null on a standard file descriptor the caller closed, so that no file, socket
    or child process veille opens later takes its number, and say what a read or write of it
    means: a closed stdin or stdout is an error when used (:class:`_ClosedStream`); a closed
    stderr is silence, as asked. Before, Python's print sent what was meant for a closed stderr
    to stdout: ``veille export 2>&- > out.jsonl`` ended the export with "exported 17 articles"."""
    for fd, attr, name in (
        (0, "stdin", "standard input"),
        (1, "stdout", "standard output"),
        (2, "stderr", ""),
    ):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        stream = _ClosedStream(name) if name else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        setattr(sys, attr, stream)


class _StandardOutput(io.FileIO):
    """File descriptor 1 whose write errors name it: ``veille stats > /dev/full`` said
    "[Errno 28] No space left on device" and not what could not be written."""

    NAME = "standard output"

    def write(self, data: Any) -> int | None:  # type: ignore[override]
        try:
            return super().write(data)
        except OSError as exc:
            if exc.filename is not None or exc.errno is None:
                raise
            # OSError(EPIPE, ...) is a BrokenPipeError still: a closed pipe ends quietly
            raise OSError(exc.errno, exc.strerror, self.NAME) from None


def _name_standard_output_errors() -> None:
    """Put :class:`_StandardOutput` under ``sys.stdout``, with its encoding and buffering: no
    buffer under ``PYTHONUNBUFFERED=1`` (``python -u``), as Python's own (buffered, a line
    printed by ``veille feed --serve`` waited in the buffer for ever)."""
    out = sys.stdout
    if not isinstance(out, io.TextIOWrapper) or out.fileno() != 1:
        return
    named = _StandardOutput(1, "w", closefd=False)
    binary: io.RawIOBase | io.BufferedWriter = (
        io.BufferedWriter(named) if isinstance(out.buffer, io.BufferedWriter) else named
    )
    sys.stdout = io.TextIOWrapper(
        binary,
        encoding=out.encoding,
        errors=out.errors,
        line_buffering=out.line_buffering,
        write_through=out.write_through,
    )


#: the error handler of a standard stream that cannot encode every character (registered by main)
UNENCODABLE = "veille.json_escape"


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    """What the stream cannot encode, as JSON's escapes (``\\u00e9``; a pair of surrogates past
    U+FFFF): a JSON line stays JSON meaning the same text, a line of text stays readable."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chars = error.object[error.start : error.end]
    escaped = []
    for char in chars:
        point = ord(char)
        if point > 0xFFFF:
            point -= 0x10000
            escaped.append(f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{point:04x}")
    return "".join(escaped), error.end


def _escape_what_standard_streams_cannot_encode() -> None:
    """On a standard stream whose encoding is not UTF-8 (``PYTHONIOENCODING=ascii``, a C or POSIX
    locale with ``PYTHONUTF8=0``, an ISO-8859-1 locale), write a character it cannot encode as its
    JSON escape (:func:`_json_escape`): a title with an accent ended ``veille score`` or ``veille
    search`` run from cron on a UnicodeEncodeError traceback. Errors named in PYTHONIOENCODING
    (``ascii:replace``) are the caller's choice and kept; stderr's are Python's backslashreplace."""
    named = "" if sys.flags.ignore_environment else os.environ.get("PYTHONIOENCODING", "")
    if named.partition(":")[2]:
        return
    codecs.register_error(UNENCODABLE, _json_escape)
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper) or stream.errors not in ("strict", "surrogateescape"):
            continue
        if codecs.lookup(stream.encoding).name != "utf-8":
            stream.reconfigure(errors=UNENCODABLE)


#: commands that write nothing to the database: a loss of it leaves nothing half done
_READ_ONLY = frozenset(
    f"veille {c}" for c in ("stories", "stats", "search", "export", "feed", "sources", "sources check")
)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the command itself: its standard streams are the caller's
        _plug_closed_standard_streams()
        _name_standard_output_errors()
        _escape_what_standard_streams_cannot_encode()
    parser = build_parser()
    CommandParser.arguments = tuple(sys.argv[1:] if argv is None else argv)
    args, extras = parser.parse_known_args(argv)
    if extras:  # said by the command's own parser, with its usage (not `veille [-h] COMMAND ...`)
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extras)}")
    if argv is None:  # the command itself (tests call main with their own arguments)
        _end_with_veille(args.command, _left_after_signal(args))
    # Prefect's temporary server can take longer than its 20 s default on a busy machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.commands.common import closing_line
    from monitors.archive.db import DatabaseUnavailable, StatementCancelled, lost_database_reported
    from monitors.collect.sources import SourcesError
    from monitors.judge.topic_schema import TopicError
    from monitors.settings import SettingsError

    command = " ".join(["veille", *(w for w in (args.command, getattr(args, "action", None)) if w)])
    from monitors.archive.db import name_connections

    # the command in its connections' application_name: a refused lock names its holder by it
    earlier = name_connections(command)
    try:
        # a command that says nothing of its own about a lost database (`veille stories`, `stats`,
        # `search`, `sources`) says it as the others do: it ended on the driver's traceback. One
        # that only reads committed nothing: "what was committed stays ... to go on" is not said
        advice = (
            {"when_lost": "", "when_cancelled": f"run `{command}` again"} if command in _READ_ONLY else {}
        )
        with lost_database_reported(f"`{command}`", command, **advice):
            code: int = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handling below
        return code
    except BrokenPipeError:
        return _reader_went_away()
    except (DatabaseUnavailable, StatementCancelled, SourcesError, SettingsError, TopicError, OSError) as exc:
        closing_line(f"veille: error: {_cause_first(exc)}")
        if isinstance(exc, OSError) and exc.filename == _StandardOutput.NAME:
            _drop_standard_output()  # said once: not again as "Exception ignored" at exit
        return 2
    except ValueError as exc:
        # a labelled set eval or train-topic cannot use (its module is loaded by then)
        lines = sys.modules.get("monitors.judge.lines")
        if lines is None or not isinstance(exc, lines.LabelledDataError):
            raise
        closing_line(f"veille: error: {exc}")
        return 2
    except RuntimeError as exc:
        if "ephemeral Prefect API server" not in str(exc):
            raise
        closing_line(
            f"veille: error: {exc} Start one with `prefect server start` and set PREFECT_API_URL, "
            "or raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS."
        )
        return 2
    except KeyboardInterrupt:
        closing_line("veille: interrupted")
        if argv is None:
            _exit_now(130)
        return 130
    except BaseException as exc:
        # Prefect turns SIGTERM inside a flow run into its own TerminationSignal
        if type(exc).__name__ != "TerminationSignal":
            raise
        closing_line("veille: terminated")
        if argv is None:
            _exit_now(143)
        return 143
    finally:
        name_connections(earlier)


#: Seconds the exit handlers get after a signal; the watcher (flows/reaper.py) does the rest.
EXIT_HANDLERS_SECONDS = 15.0
#: Seconds the hooks of :mod:`flows.signals` get, all together: each bounds its own requests
#: (veille serve's, the longest: 3 s to hold its runners, 3 s for the marks, 8 s for the pauses).
HOOKS_SECONDS = 15.0
#: Seconds to end the worker processes (:func:`_end_worker_processes`).
WORKERS_SECONDS = 4.0
#: Seconds for the output still buffered, for the line on stderr, for logging's last flush, each.
SAY_SECONDS = 1.0
#: Seconds after which a command stopped by a signal leaves, whatever it still waits for (the
#: steps above are bounded each: this is for what no one thought of).
LEAVE_SECONDS = EXIT_HANDLERS_SECONDS + HOOKS_SECONDS + WORKERS_SECONDS + 3 * SAY_SECONDS + 5.0


def _exit_now(code: int, line: str | None = None, signal_name: str | None = None) -> None:
    """Say ``line`` on stderr, let the hooks of :mod:`flows.signals` record the interruption
    by ``signal_name``, end the worker processes, run the exit handlers (stop Prefect's
    temporary server, the embedded PostgreSQL, the watcher) and leave with ``code``, without
    waiting for worker threads still inside a request.

    Called from the signal handler, at whatever instruction of the main thread the signal
    came: that code may hold a lock (threading's own, taken to start or list threads; a
    stream's, while it writes to a full pipe; a logging handler's) which the main thread
    would wait for forever, or which raises "reentrant call". So the main thread takes no
    lock: each step runs in a bare thread of its own (``_thread``, not ``threading``) and the
    main thread waits for it a bounded time on a lock of its own; the line is written with
    ``os.write``; and a watchdog leaves after :data:`LEAVE_SECONDS` whatever still waits.
    (Nothing is imported here either: an import takes the import system's locks.)"""
    bare_threads.started(_watchdog, code)  # first: whatever comes next may wait
    context = contextvars.copy_context()  # the settings in force (Prefect's API URL) go along
    # what was written before goes first; a stream's flush waits for its lock (held by the main
    # thread when the signal came in a write) or for a reader (a full pipe)
    bare_threads.bounded(context, _flush, SAY_SECONDS)
    if line is not None:
        bare_threads.bounded(context, _say, SAY_SECONDS, line)
    signals = sys.modules.get("flows.signals")  # imported by _end_with_veille, with the hooks
    if signal_name is not None and signals is not None:
        bare_threads.bounded(context, signals.run_hooks, HOOKS_SECONDS, signal_name)
    bare_threads.bounded(context, _end_worker_processes, WORKERS_SECONDS)
    reaper = sys.modules.get("flows.reaper")
    if reaper is not None:
        reaper.leave_without_waiting()  # the watcher ends the rest once this process is gone
    # logging's flush takes each handler's lock, which the interrupted code may hold (a
    # handler writing to a full pipe): on its own, after the others, and short
    logging = sys.modules.get("logging")
    if logging is not None:
        atexit.unregister(logging.shutdown)
    # bounded: whatever an exit handler waits for, veille leaves; the watcher still ends what
    # carries its token and stops an embedded server left unused
    bare_threads.bounded(context, atexit._run_exitfuncs, EXIT_HANDLERS_SECONDS)
    if logging is not None:
        bare_threads.bounded(context, logging.shutdown, SAY_SECONDS)
    os._exit(code)


def _flush() -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()


def _say(line: str) -> None:
    data = f"{line}\n".encode(errors="replace")
    while data:
        try:
            data = data[os.write(2, data) :]
        except InterruptedError:
            continue
        except OSError:  # no stderr
            return


def _watchdog(code: int) -> None:
    time.sleep(LEAVE_SECONDS)
    os._exit(code)


def _end_worker_processes(grace: float = 2.0) -> None:
    """End this process's multiprocessing children (the feed-parser and page-analysis
    workers): multiprocessing's exit handler would wait for them, and idle workers wait for
    work for ever. SIGTERM, then SIGKILL after ``grace`` seconds. (Their resource tracker
    ignores both signals and ends when this process does.)"""
    if "multiprocessing" not in sys.modules:
        return
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        with contextlib.suppress(Exception):
            child.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            with contextlib.suppress(Exception):
                child.kill()
                child.join(1.0)


#: The commands that store their work as they go: stopped by a signal, the rest of it waits for
#: the next run. The others only read (or write a file only once complete), and a signal
#: leaves nothing half done to mention.
STORING_COMMANDS = frozenset({"run", "serve", "backfill", "rescore"})


#: What a signal leaves of ``veille rescore --all``: its place is kept (``rescore_runs``), the
#: next rescore, ``--all`` or plain, goes on after its last committed batch.
RESCORE_ALL_LEFT = (
    ": the articles not reached are left for the next `veille rescore --all` (or `veille"
    " rescore`), which goes on after the last committed batch, not from the first article"
)


def _left_after_signal(args: argparse.Namespace) -> str | None:
    """What the signal line says is left, when the command's default ("left for the next run")
    says too little: an interrupted ``rescore --all`` is resumed, not started over."""
    if args.command == "rescore" and getattr(args, "all", False):
        return RESCORE_ALL_LEFT
    return None


def _end_with_veille(command: str, left: str | None = None) -> None:
    """Every process veille starts ends with it (:mod:`flows.reaper`). SIGTERM and SIGINT end
    veille at once (:mod:`flows.signals`): one line on stderr, the flow runs in progress
    marked Interrupted when a Prefect server is there, the exit handlers run (Prefect's
    temporary server and the embedded PostgreSQL are stopped, the watcher ends the worker
    processes), exit code 128 + the signal's number (143, 130); no wait for worker threads
    inside a request. A signal that comes while that exit runs is ignored. Claimed queue rows
    are free again as their holder's connection closes. The line says what is left for the
    next run only for the :data:`STORING_COMMANDS`, or ``left`` (": " then what to run)."""
    import signal

    from flows import reaper, signals

    reaper.start()
    stopping: list[int] = []

    def stop(signum: int, frame: object) -> None:
        # a second signal (Ctrl-C pressed again, `timeout -s INT` signalling the child and then
        # its process group) comes inside the first one's exit: that exit runs once (run twice at
        # once, pgserver's cleanup failed on its lock with a traceback), with its code
        if stopping:
            return
        stopping.append(signum)
        name = signal.Signals(signum).name
        verb = "interrupted" if signum == signal.SIGINT else "terminated"
        said = left if left is not None else ""
        if left is None and command in STORING_COMMANDS:
            said = ": what was not stored is left for the next run"
        # not print: the signal may have come in the middle of a write to stderr
        _exit_now(128 + signum, f"veille: {verb} by {name}{said}", name)

    signals.install(stop)


def _reader_went_away() -> int:
    """``veille stats | head``: the reader closed the pipe. Stop quietly, as ``cat`` does.

    Output still buffered would fail again when Python flushes it at exit (an "Exception
    ignored" message), so stdout is pointed at /dev/null first. 141 = 128 + SIGPIPE, what a
    shell reports for a command killed by a closed pipe.
    """
    _drop_standard_output()
    return 141


def _drop_standard_output() -> None:
    """Point stdout at /dev/null: what is still buffered for a stdout that failed (a closed
    pipe, a full disk) would fail again when Python flushes it at exit."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # stdout replaced by an object without one
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
