"""Progress bars (rich, on stderr) for long commands: export, backfill, rescore, a run's poll."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def track(items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
    """Yield ``items`` while a progress bar on stderr counts them against ``total``.

    On a terminal the bar is live; elsewhere (a pipe, a log) rich prints its final state once.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
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
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=total)

        def update(done: int, note: str) -> None:
            label = f"{description} ({note})" if note else description
            progress.update(task, completed=done, description=label)

        yield update
