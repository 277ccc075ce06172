"""Progress bars (rich, on stderr) for long commands: export, backfill, rescore, a run's poll."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")


def stderr_console() -> Console:
    """A rich console on stderr that a closed stderr silences instead of ending the command.

    rich's own answer to a broken pipe is to point *stdout* at /dev/null and exit 1: a progress
    bar whose stderr reader was gone (``2> >(head -1)``, a logger that died) ended ``veille
    export -o FILE`` with no file, exit 1 and no word. A bar is decoration: without its reader
    the work goes on, unseen.
    """
    from rich.console import Console

    class _QuietWhenClosed(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more is written to the closed stderr

    return _QuietWhenClosed(stderr=True)


def stdout_console(*, highlight: bool = True, soft_wrap: bool = False) -> Console:
    """A rich console on stdout whose closed pipe (``veille search ... | head -1``) raises
    BrokenPipeError, which ``veille`` ends quietly with 141 as every command (rich's own answer,
    exit 1, says the command failed)."""
    from rich.console import Console

    class _PipeClosed(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _PipeClosed(highlight=highlight, soft_wrap=soft_wrap)


def track(items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
    """Yield ``items`` while a progress bar on stderr counts them against ``total``.

    On a terminal the bar is live; elsewhere (a pipe, a log) rich prints its final state once.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr_console()) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


@contextmanager
def counter(description: str, total: int) -> Iterator[Callable[[int, str], None]]:
    """A progress bar on stderr for work done on other threads: it yields what to call with how
    many of ``total`` are done and a note shown after the description (thread-safe).

    While the bar is live, lines written to ``sys.stderr`` (the ``veille`` logger's) print above it.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr_console()) as progress:
        task = progress.add_task(description, total=total)

        def update(done: int, note: str) -> None:
            label = f"{description} ({note})" if note else description
            progress.update(task, completed=done, description=label)

        yield update
