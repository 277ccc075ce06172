"""The archive backfill's fetch budget shared by its jobs' workers (flows.archive_backfill
FetchBudget, claim_within): never more fetches than the budget, and a run that leaves captures
unread has spent it; a worker that finds all that is left reserved by others waits for what they
give back rather than leaving its job's captures for the next run."""

from __future__ import annotations

import random
import threading
import time

import pytest

from flows.archive_backfill import FetchBudget, Reservation, claim_within


class Job:
    """A job's captures in memory: claimed in batches, each fetched or held (not asked)."""

    def __init__(self, captures: int, held: set[int], start: threading.Barrier) -> None:
        self.pending = list(range(captures))
        self.held = held
        self.fetched: list[int] = []
        self.deferred: list[int] = []
        self._lock = threading.Lock()
        self._start = start

    def claim(self, wanted: int) -> list[int]:
        time.sleep(0.001)  # a database round trip: the other workers go on meanwhile
        with self._lock:
            claimed, self.pending = self.pending[:wanted], self.pending[wanted:]
            return claimed

    def settle(self, capture: int, reserved: Reservation) -> None:
        with self._lock:
            if capture in self.held:  # not asked: its archive on hold
                self.deferred.append(capture)
            else:
                self.fetched.append(capture)
        if capture in self.held:
            reserved.give_back(1)

    def worker(self, budget: FetchBudget, batch_size: int) -> None:
        self._start.wait()  # every job's workers at once, as the flow's task runner starts them
        claim_within(budget, batch_size, self.claim, self.settle)


def _run(rng: random.Random) -> tuple[FetchBudget, list[Job]]:
    """A run of random jobs, workers and budget, every job's workers on their own threads."""
    n_jobs, workers, batch_size = rng.randint(1, 5), rng.randint(1, 4), rng.randint(1, 25)
    sizes = [rng.randint(0, 30) for _ in range(n_jobs)]
    budget = FetchBudget(rng.randint(1, max(1, sum(sizes) + 5)))
    start = threading.Barrier(n_jobs * workers)
    jobs = [Job(n, {c for c in range(n) if rng.random() < 0.1}, start) for n in sizes]
    threads = [
        threading.Thread(target=job.worker, args=(budget, batch_size)) for job in jobs for _ in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a worker still waits for the budget: deadlock"
    return budget, jobs


def test_a_run_leaves_captures_unread_only_once_its_budget_is_spent() -> None:
    rng = random.Random(20251208)
    for case in range(300):
        budget, jobs = _run(rng)
        fetched = sum(len(job.fetched) for job in jobs)
        unread = sum(len(job.pending) for job in jobs)
        assert fetched == budget.spent <= budget.limit, (case, fetched, budget.spent, budget.limit)
        if unread:
            assert budget.spent == budget.limit, (case, unread, budget.spent, budget.limit)


def test_small_budget_over_many_workers_reads_every_job() -> None:
    """100 fetches over 5 jobs of 10 captures, 4 workers each reserving 25: the 50 captures
    are read, though the first workers reserve the whole budget."""
    start = threading.Barrier(20)
    budget = FetchBudget(100)
    jobs = [Job(10, set(), start) for _ in range(5)]
    threads = [threading.Thread(target=job.worker, args=(budget, 25)) for job in jobs for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [len(job.fetched) for job in jobs] == [10] * 5
    assert budget.spent == 50


def test_a_reservation_waits_for_what_another_gives_back() -> None:
    """All the budget reserved by one worker: another's reservation waits, and gets what the
    first gives back; once the first spends the rest, a reservation gets 0 at once."""
    budget = FetchBudget(10)
    got: list[int] = []
    with budget.reserve(25) as first:
        assert first.granted == 10

        def second() -> None:
            with budget.reserve(25) as reserved:
                got.append(reserved.granted)

        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(timeout=0.2)
        assert waiter.is_alive() and not got  # waiting: all is reserved, some may come back
        first.give_back(4)
        waiter.join(timeout=30)
        assert got == [4]
    assert budget.spent == 10
    with budget.reserve(25) as third:
        assert third.granted == 0


def test_a_job_stopped_by_an_error_gives_back_the_captures_it_did_not_fetch() -> None:
    """A batch of 5 whose second capture raises (the database lost): 2 fetches spent (the
    first, and the one that raised), not 5; the run's "stopped after" counts what was made."""
    budget = FetchBudget(10)
    seen: list[int] = []

    def settle(capture: int, reserved: Reservation) -> None:
        seen.append(capture)
        if capture == 1:
            raise RuntimeError("database lost")

    with pytest.raises(RuntimeError, match="database lost"):
        claim_within(budget, 5, lambda wanted: list(range(wanted)), settle)
    assert seen == [0, 1]
    assert budget.spent == 2
