"""What a run amounted to: all good, partly done, or nothing could run.

One judgement feeds the flow's final state (type, name and message in the Prefect UI), the
summary line on the parent run's log, the report artifact and ``veille run``'s exit code
(docs/operating.md lists them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flows.commands.common import counted
from monitors.collect.results import NOT_ASKED_AGAIN, UNREACHED
from monitors.errors import describe

if TYPE_CHECKING:  # Prefect is imported only by the flows (a direct run does without it)
    from prefect.states import State

    from monitors.archive.queue import Waiting

#: ``veille run`` exit codes.
EXIT_OK = 0  # every due source polled, every page settled (or nothing was due)
EXIT_PARTIAL = 1  # some sources or pages failed (or wait for a retry), or the run was cut short
EXIT_USAGE = 2  # bad command line, settings or sources file: nothing started
EXIT_NOTHING = 3  # nothing could run: database unreachable, or every polled source failed


@dataclass
class RunOutcome:
    status: str  # ok | partial | incomplete | failed
    summary: str  # one line: the counts
    problems: list[str] = field(default_factory=list)
    empty: bool = False  # nothing was due and the queue was empty
    #: the message when ``empty``: what there was to do, and that there was nothing
    nothing: str = "Nothing to do: no source was due and the queue was empty."

    @property
    def exit_code(self) -> int:
        return {"ok": EXIT_OK, "partial": EXIT_PARTIAL, "incomplete": EXIT_PARTIAL}.get(
            self.status, EXIT_NOTHING
        )

    @property
    def message(self) -> str:
        """The state message: the verdict, then the counts."""
        if self.empty:
            return self.nothing
        if self.status == "ok":
            return f"All good: {self.summary}."
        head = {"partial": "Partly done", "incomplete": "Incomplete"}.get(self.status, "Nothing could run")
        return f"{head} ({'; '.join(self.problems)}): {self.summary}."

    def state(self, data: Any) -> State[Any]:
        """The flow's final state, whose name :func:`exit_code_of` reads back: Completed (named
        Partial when something failed), Failed named Incomplete when the run was cut short
        with work left, Failed when nothing could run."""
        from prefect.states import Completed, Failed

        name = STATE_NAMES[self.status]
        if self.status in {"ok", "partial"}:
            return Completed(message=self.message, data=data, name=name)
        return Failed(message=self.message, data=RunFailed(self.message, data), name=name)


class RunFailed(Exception):
    """A run that could not do its work: raised where the flow is called directly; ``data``
    holds what it did (the per-source rows, or the ingest report)."""

    def __init__(self, message: str, data: Any) -> None:
        super().__init__(message)
        self.data = data


STATE_NAMES = {"ok": "Completed", "partial": "Partial", "incomplete": "Incomplete", "failed": "Failed"}


#: The start of the message of a run that ended because its body raised (Prefect's words).
RAISED = "Flow run encountered an exception"


def raised(exc: Exception) -> State[Any]:
    """The final state of a flow run whose body raised ``exc``: Failed, as Prefect ends it, with
    ``exc`` as its data (raised where the flow is called directly), but the exception described
    as every reason veille records is (:func:`monitors.errors.describe`): Prefect wrote
    "RuntimeError: " for an exception that says nothing, and dropped what it came from."""
    from prefect.states import Failed

    return Failed(message=f"{RAISED}: {describe(exc)}", data=exc)


def exit_code_of(state: State[Any]) -> int:
    """``veille run``'s exit code for the final state of its flow run."""
    if state.is_completed():
        return EXIT_PARTIAL if state.name == STATE_NAMES["partial"] else EXIT_OK
    return EXIT_PARTIAL if state.name == STATE_NAMES["incomplete"] else EXIT_NOTHING


def judge_run(
    rows: list[dict[str, Any]],
    interruptions: list[str],
    gave_up: bool,
    unreached: Sequence[Fetch] = (),
    left: int = 0,
    verb: str = "polled",
) -> RunOutcome:
    """Judge a ``veille run`` from its per-source rows (:func:`flows.pipeline.summarize`), what
    interrupted its workers and each of its fetches' host and how it reached no server
    (``unreached``, :func:`flows.pipeline.fetch_kinds`). ``left``: the URLs a ``--max-items``
    cap left pending, said in the summary (no failure: "All good" with 3 pages waiting said
    nothing of them). ``verb``: what the run did with its sources, "polled" (read for what is
    new) or, for a sitemap backfill, "read" (their sitemaps and feeds read back over a
    window): "3 sources polled" said a backfill polled them."""
    from monitors.archive.polls import BAD_ENTRY

    bad = [r for r in rows if r["poll"] == BAD_ENTRY]
    polled = [r for r in rows if r["poll"] not in {"not due", BAD_ENTRY}]
    errors = [r for r in polled if r["poll"] == "error"]
    totals = {
        k: sum(int(r.get(k, 0)) for r in rows)
        for k in ("new_urls", "stored", "revised", "duplicates", "relevant", "failed", "retry")
    }
    unread = sum(1 for r in polled if r["poll"] == NOT_READ)
    summary = (
        f"{counted(len(polled) - unread, 'source')} {verb} ({len(errors)} with errors),"
        + (f" {unread} not read," if unread else "")
        + f" {counted(totals['new_urls'], 'new URL')}, {stored_words(totals)},"
        f" {counted(totals['duplicates'], 'duplicate')}, {totals['relevant']} relevant,"
        f" {counted(totals['failed'], 'page')} failed"
    ) + (f", {totals['retry']} to retry" if totals["retry"] else "")
    if left:
        summary += f", {counted(left, 'URL')} left in the queue for the next run"
    problems = []
    if hint := offline_hint(unreached):
        problems.append(hint)  # the cause first: N lines of "does not resolve" say less
    elif errors and len(errors) == len(polled):
        problems.append(every_source_failed(errors, verb))  # why, not only how many
    if bad:  # the first one's file:line and reason; each one's is in its row
        problems.append(bad_entries_problem([r["error"].removeprefix("skipped: ") for r in bad]))
    if errors and (hint or len(errors) < len(polled)):
        problems.append(f"{len(errors)} of {counted(len(polled), 'source')} in error")
    if totals["failed"]:
        problems.append(f"{counted(totals['failed'], 'page')} failed")
    if totals["retry"]:  # not settled: a timeout or a 5xx, tried again by a later run
        problems.append(f"{counted(totals['retry'], 'page')} to retry")
    problems += interrupted(interruptions, gave_up)
    polled_ok = any(r["poll"] not in {"error", "not due"} for r in polled)
    done = totals["stored"] + totals["revised"] + totals["duplicates"] > 0 or polled_ok
    if not problems:
        return RunOutcome("ok", summary, empty=not rows)
    return RunOutcome(_status(done, bool(polled) and len(errors) == len(polled), gave_up), summary, problems)


#: A source's poll column when a backfill's budget was spent before it was read: it counts
#: among the backfill's sources, not among those it read ("40 sources read" with 37 not).
NOT_READ = "not read"


#: The causes :func:`every_source_failed` names; the sources of the others are counted.
CAUSES_NAMED = 3


def every_source_failed(errors: list[dict[str, Any]], verb: str = "polled") -> str:
    """A run's problem when every source it polled failed (its rows in ``errors``): why, each
    cause with the sources it stopped, the most frequent first ("every polled source failed:
    HTTP 404 Not Found (S0, S1)"); "2 of 2 sources in error" said how many, not why."""
    by_cause: dict[str, list[str]] = {}
    for row in errors:
        # a source not asked, its host unreachable earlier in the run, has that host's cause
        cause = (row.get("error") or "no reason recorded").removesuffix(NOT_ASKED_AGAIN)
        by_cause.setdefault(cause, []).append(str(row["source"]))
    ranked = sorted(by_cause.items(), key=lambda item: -len(item[1]))  # stable: first met first
    causes = [f"{cause} ({some_names(names)})" for cause, names in ranked[:CAUSES_NAMED]]
    if rest := sum(len(names) for _, names in ranked[CAUSES_NAMED:]):
        causes.append(f"{counted(rest, 'more source')} for other causes")
    every = "every polled source" if verb == "polled" else f"every source {verb}"
    who = f"{every} failed" if len(errors) > 1 else f"the one source {verb} failed"
    return f"{who}: {'; '.join(causes)}"


def some_names(names: list[str], shown: int = 3) -> str:
    """Up to ``shown`` names, and how many more ("S0, S1, S2 and 4 more")."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def disabled_words(disabled: Sequence[str]) -> str:
    """The disabled sources a backfill did not read, named, and how to turn one back on."""
    which = "the one source read is" if len(disabled) == 1 else f"{len(disabled)} sources read are"
    return f"{which} disabled: {some_names(list(disabled))}; `veille sources enable NAME` turns one back on"


def stored_words(totals: Mapping[str, int], noun: str = "") -> str:
    """ "N stored", and ", M revised" when the run re-fetched articles with a changed text: a
    revision updates an article already stored, it is no new article (it was counted as one)."""
    stored = totals.get("stored", 0)
    said = f"{counted(stored, noun)} stored" if noun else f"{stored} stored"
    revised = totals.get("revised", 0)
    return said + (f", {revised} revised" if revised else "")


def bad_entries_problem(bad: list[str]) -> str:
    """A run's problem when it left out bad entries of the sources file (each ``FILE:LINE:
    reason``): how many, and the first one."""
    many = f"{len(bad)} bad entries" if len(bad) > 1 else "a bad entry"
    return f"{many} of the sources file skipped ({bad[0]})"


#: One fetch of a run: the host it went to (``host:port`` as the URL gives it, None when no
#: request was sent: a poll not recorded, an address refused, a page robots.txt disallows, no
#: time left; a fetch never tried says nothing of its host) and how it reached no server (a key of
#: :data:`UNREACHED <monitors.collect.results.UNREACHED>`, None when a server answered, or
#: :data:`NOT_SENT <monitors.collect.results.NOT_SENT>`: no request sent, its host not told of either;
#: what a run with nothing due reads back from ``fetch_log``, where the host is the URL's).
Fetch = tuple[str | None, str | None]


def host_kinds(fetches: Iterable[Fetch]) -> dict[str, str | None]:
    """Each host the fetches went to, and how it was unreached: None when one of its fetches
    reached a server, else the way its fetches failed (the first in ``UNREACHED``'s order when
    they differ). A host, not a fetch, is what says something of the network: one dead host
    with many pages queued is one host."""
    from monitors.collect.results import NOT_SENT, UNREACHED

    order = {k: i for i, k in enumerate(UNREACHED)}
    seen: dict[str, set[str | None]] = {}
    for host, kind in fetches:
        if host is not None and kind != NOT_SENT:  # a fetch that sent nothing tells of no host
            seen.setdefault(host, set()).add(kind)
    return {
        host: None if None in kinds else min(kinds, key=lambda k: order.get(k or "", len(order)))
        for host, kinds in seen.items()
    }


def offline_hint(fetches: Iterable[Fetch]) -> str | None:
    """When no host a run's fetches went to was reached, two hosts or more, the likely cause:
    the machine is offline, or its DNS is down. ``fetches``: one for each fetch the run judges
    (each source polled, each page fetched), its host and how it reached no server
    (:attr:`FetchResult.unreached <monitors.collect.results.FetchResult.unreached>`). None when a
    host answered a fetch, or fewer than two hosts were tried (one host that does not resolve
    says nothing of the network, however many of its pages failed)."""
    from monitors.collect.results import DNS

    hosts = host_kinds(fetches)
    if not (detail := unreached_detail(hosts)):
        return None
    if set(hosts.values()) == {DNS}:
        return f"none of the {len(hosts)} hosts resolved: is the network up?"
    return f"none of the {len(hosts)} hosts was reached ({detail}): is the network up?"


def unreached_detail(hosts: dict[str, str | None]) -> str | None:
    """How two hosts or more (:func:`host_kinds`) were all unreached ("2 hosts did not
    resolve, 1 host refused the connection"), or None (fewer, or one was reached)."""
    from monitors.collect.results import UNREACHED

    if len(hosts) < 2 or None in hosts.values():
        return None
    counts = Counter(hosts.values())
    return ", ".join(  # in UNREACHED's order: the same words whatever order the fetches ended in
        f"{counts[k]} host{'s' if counts[k] > 1 else ''} {what}" for k, what in UNREACHED.items() if counts[k]
    )


def nothing_to_do(waiting: Waiting, drain: bool = False, no_source: str | None = None) -> str | None:
    """The message of a run that found nothing due, when queued URLs wait for a retry after a
    failure or were deferred (not asked, their host unreachable or on hold earlier: no attempt
    spent) (the queue is not empty: how many, when the first is due) and, when the last fetch
    of each source and URL that waits reached no server, that cause. None otherwise:
    the run's usual words are true. ``no_source``: why no source was due when its sources file
    has none or every one is disabled ("FILE has no source", :func:`flows.pipeline.none_to_poll`),
    said in place of "no source was due"."""
    detail = unreached_detail(host_kinds(waiting.sources + waiting.urls + waiting.deferred))
    said = {"source": waiting.sources if detail else [], "url": waiting.urls}
    if not any(said.values()) and not waiting.deferred:
        return None
    head = "no source was due and no URL of the queue"
    if drain or no_source:
        head = f"{no_source} and no URL of the queue was due" if no_source else "no URL of the queue was due"
    parts = []
    if any(said.values()):
        counts = [counted(len(v), "source" if k == "source" else "URL") for k, v in said.items() if v]
        first = _due(min(waiting.first[k] for k, v in said.items() if v))
        verb = "waits" if sum(map(len, said.values())) == 1 else "wait"
        parts.append(f"{' and '.join(counts)} {verb} for a retry after a failure, the first at {first}")
    if waiting.deferred:
        parts.append(
            f"{counted(len(waiting.deferred), 'URL')} deferred ({_deferred_why(waiting.deferred)}), "
            f"no attempt spent, the first due at {_due(waiting.first['deferred'])}"
        )
    message = f"Nothing to do: {head}; {'; '.join(parts)}"
    if detail:
        if untried := _not_tried(said):
            detail = f"{detail}; {untried}"
        return f"{message}, and the last fetch of each reached no server ({detail}): is the network up?"
    return f"{message}."


def _due(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _deferred_why(deferred: list[Fetch]) -> str:
    """Why URLs were deferred, from how their last fetch reached no server: their host did
    not resolve or refused the connection earlier in its run (the kind of that failure), or
    was on hold after a Retry-After (no kind: not sent)."""
    dead = {kind in UNREACHED for _, kind in deferred}
    if dead == {True}:
        return "host unreachable"
    return "host on hold after a Retry-After" if dead == {False} else "host unreachable or on hold"


def _not_tried(said: dict[str, list[Fetch]]) -> str | None:
    """How many of what waits were not tried (their last fetch sent no request, :data:`NOT_SENT
    <monitors.collect.results.NOT_SENT>`), in words, or None: they reached no server, but say
    nothing of theirs, nor of the network."""
    from monitors.collect.results import NOT_SENT

    counts = {k: sum(kind == NOT_SENT for _, kind in v) for k, v in said.items()}
    if not any(counts.values()):
        return None
    parts = [
        f"{n} {'source' if k == 'source' else 'URL'}{'s' if n > 1 else ''}" for k, n in counts.items() if n
    ]
    return (
        f"{' and '.join(parts)} not tried, no request sent: the fetch's time (VEILLE_FETCH_DEADLINE) "
        "ran out first, or its address or robots.txt refused it"
    )


def judge_ingest(
    statuses: list[tuple[int, str, bool]],
    interruptions: list[str],
    gave_up: bool,
    unreached: Sequence[Fetch] = (),
) -> RunOutcome:
    """Judge a queue drain (``veille-ingest`` run on its own); ``unreached``: each page's
    fetch, its host and how it reached no server (None: a server answered)."""
    counts: dict[str, int] = {}
    for _, status, _ in statuses:
        counts[status] = counts.get(status, 0) + 1
    failed = counts.get("failed", 0) + counts.get("skipped", 0)
    summary = (
        f"{counted(len(statuses), 'page')}: {stored_words(counts)}, "
        f"{counted(counts.get('duplicate', 0) + counts.get('unchanged', 0), 'duplicate')}, "
        f"{failed} failed, {counts.get('retry', 0)} to retry"
    )
    problems = [hint] if (hint := offline_hint(unreached)) else []  # the cause first
    if failed:
        problems.append(f"{counted(failed, 'page')} failed")
    if counts.get("retry"):  # not settled: a timeout or a 5xx, tried again by a later run
        problems.append(f"{counted(counts['retry'], 'page')} to retry")
    problems += interrupted(interruptions, gave_up)
    if not problems:
        # a drain polls nothing: it says so of the queue alone
        return RunOutcome(
            "ok", summary, empty=not statuses, nothing="Nothing to do: no URL of the queue was due."
        )
    return RunOutcome(_status(len(statuses) > 0, False, gave_up), summary, problems)


def _status(done: bool, all_sources_failed: bool, gave_up: bool) -> str:
    if not done and (all_sources_failed or gave_up):
        return "failed"
    return "incomplete" if gave_up else "partial"


def interrupted(interruptions: list[str], gave_up: bool) -> list[str]:
    """A run's problem when its work was interrupted (the database lost, a worker failed):
    cut short with work left (``gave_up``), or recovered and gone on."""
    if not interruptions:
        return []
    first = interruptions[0]
    if gave_up:
        return [f"incomplete: {first}; the pages left are for the next run"]
    return [f"interrupted {counted(len(interruptions), 'time')}, recovered ({first})"]
