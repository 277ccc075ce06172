"""How a flow hands a step of a cycle its arguments (``flows.runs.submit_task``):
a batch of sources reaches its task run as it was made, retries included."""

from __future__ import annotations

from typing import Any

import pytest
from prefect import flow
from prefect.states import Completed, State
from urllib3.exceptions import ProtocolError

from flows import runs
from flows.retries import transient_task
from monitors.collect.poll import SourceState

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _batch(n: int) -> list[SourceState]:
    return [SourceState(i, f"feed {i}", "feed", f"http://127.0.0.1:9/{i}.xml") for i in range(n)]


def test_a_batch_reaches_its_task_run_as_submitted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect does not look inside the batch (for futures or states to wait for and replace
    by their results, source by source, field by field): the task run gets the very list the
    flow made, whatever it holds; its name still comes from the other arguments."""
    seen: list[list[Any]] = []

    def step(batch: list[Any], index: int, count: int) -> int:
        seen.append(batch)
        return count

    monkeypatch.setitem(runs.TASKS, step, transient_task("batch {index} ({count} sources)")(step))
    state: State[str] = Completed(data="a result")
    batch: list[Any] = [*_batch(50), state]

    @flow
    def one() -> int:
        return runs.submit_task(step, batch, 3, len(batch)).result()

    assert one() == 51
    assert len(seen) == 1 and seen[0] is batch and seen[0][-1] is state


def test_a_quoted_batch_is_retried_after_a_transient_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[SourceState]] = []

    def step(batch: list[SourceState], index: int) -> int:
        seen.append(batch)
        if len(seen) == 1:
            raise ProtocolError("connection reset")
        return len(batch)

    monkeypatch.setitem(runs.TASKS, step, transient_task("batch {index}", delays=(0, 0))(step))
    batch = _batch(5)

    @flow
    def one() -> int:
        return runs.submit_task(step, batch, 0).result()

    assert one() == 5
    assert len(seen) == 2 and all(b is batch for b in seen)
