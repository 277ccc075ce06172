"""The runs' own words agree in number, as the commands' do (``counted``): a run with one
source polled says "1 source polled", not "1 sources polled" (run state, summary artifact,
ingest and archive-backfill verdicts). Pure functions: no database, no flow."""

from __future__ import annotations

from typing import Any

from flows.archive_backfill import judge_backfill
from flows.artifacts import run_report
from flows.outcome import judge_ingest, judge_run


def _row(poll: str, **counts: int) -> dict[str, Any]:
    zero = dict.fromkeys(("new_urls", "stored", "duplicates", "relevant", "failed", "retry"), 0)
    error = "HTTP 500" if poll == "error" else None
    return {"source": "Le Fil", "poll": poll, "error": error} | zero | counts


def test_a_run_with_one_source_says_it_in_the_singular() -> None:
    one = [_row("ok", new_urls=1, stored=1, duplicates=1, relevant=1, failed=1, retry=1)]
    outcome = judge_run(one, ["a worker restarted"], False)
    assert outcome.message == (
        "Partly done (1 page failed; 1 page to retry; interrupted 1 time, recovered (a worker restarted)):"
        " 1 source polled (0 with errors), 1 new URL, 1 stored, 1 duplicate, 1 relevant, 1 page failed,"
        " 1 to retry."
    )
    assert "1 source polled or ingested: 1 new URL, 1 article stored, 1 duplicate," in run_report(one, [])
    failing = judge_run([_row("error"), _row("ok", new_urls=2, stored=2)], [], False)
    assert failing.message.startswith(
        "Partly done (1 of 2 sources in error): 2 sources polled (1 with errors),"
    )
    assert "2 new URLs, 2 stored, 0 duplicates" in failing.message
    alone = judge_run([_row("error")], [], False).message
    assert alone.startswith(
        "Nothing could run (the one source polled failed: HTTP 500 (Le Fil)): 1 source polled (1 with errors)"
    )


def test_a_drain_and_an_archive_backfill_of_one_say_it_in_the_singular() -> None:
    drained = judge_ingest([(1, "stored", True), (2, "failed", False)], [], False).message
    assert drained == "Partly done (1 page failed): 2 pages: 1 stored, 0 duplicates, 1 failed, 0 to retry."
    job = {"state": "error", "captures": 1, "stored": 0, "pending": 0, "error": "HTTP 503"}
    backfill = judge_backfill([job]).message
    assert backfill.startswith("Nothing could run (1 job stopped on an archive error (HTTP 503)")
    assert backfill.endswith("1 job, 1 capture found, 0 stored, 0 waiting.")


def test_an_archive_backfill_whose_every_job_stopped_after_storing_is_partly_done() -> None:
    """Every job stopped on an archive error, one after storing a capture: partly done (exit 1),
    as a `veille run` whose every source failed but that stored pages; it ended Failed."""
    stopped = {"state": "error", "captures": 2, "stored": 0, "pending": 1, "error": "HTTP 503"}
    outcome = judge_backfill([stopped, {**stopped, "stored": 1}])
    assert (outcome.status, outcome.exit_code) == ("partial", 1), outcome.message
    assert outcome.message.startswith("Partly done (2 jobs stopped on an archive error (HTTP 503)")
    assert (judge_backfill([stopped, stopped]).status, judge_backfill([stopped]).exit_code) == ("failed", 3)
