"""Progress bars (rich, on stderr) for long commands: export, backfill, rescore."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
