"""Artifacts a run leaves in the Prefect UI: what each source gave, and what was found.

:func:`run_artifacts` says what they are (plain data, no Prefect import); a flow publishes
them with Prefect's artifact functions (:func:`publish_run_artifacts`), a cycle recorded
over the REST API (:mod:`flows.record`) posts the same.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from flows.commands.common import counted, terminal_line
from flows.outcome import stored_words
from monitors.archive.db import session_scope
from monitors.archive.polls import BAD_ENTRY
from monitors.dates import article_day

if TYPE_CHECKING:
    from flows.outcome import RunOutcome

RUN_TABLE_KEY = "veille-run-summary"
RUN_REPORT_KEY = "veille-run-report"
DRAIN_TABLE_KEY = "veille-drain-summary"
DRAIN_REPORT_KEY = "veille-drain-report"
BACKFILL_TABLE_KEY = "veille-backfill-summary"
ARCHIVE_BACKFILL_TABLE_KEY = "veille-archive-backfill"


def artifact_key(key: str) -> str:
    """``key``, or with ``VEILLE_INSTANCE`` set ``key-NAME`` (the name in lower case, "_" and
    "." as "-": Prefect's keys take lower-case letters, digits and "-" alone): several `veille
    serve` (or `veille backfill`) on one Prefect server, each with its database, keep each its
    own latest report, one database's no longer hiding the other's."""
    from monitors.settings import get_settings

    instance = get_settings().instance
    return f"{key}-{re.sub(r'[^a-z0-9-]', '-', instance.lower())}" if instance else key


TOTALS = ("new_urls", "stored", "duplicates", "relevant", "failed", "retry")


#: ASCII punctuation that means something inline in markdown (backslash escapes, code, emphasis,
#: strikethrough, links and images (no link without its brackets), raw HTML and autolinks,
#: entities, table cells): escaped in archive text.
_MARKUP = re.compile(r"([\\`*_~\[\]<>&|])")
#: Characters of archive text in a report at most (a title, a source name, an error, a why).
TEXT_WIDTH = 300
#: The new relevant articles a report lists at most, the most relevant first.
REPORT_ARTICLES = 50
#: The sources in error a report lists at most, those with the most failed pages first.
REPORT_ERRORS = 50


def markdown_text(text: str | None, width: int = TEXT_WIDTH) -> str:
    """Archive text (an article's title, a source's name, an error) as literal markdown text:
    on one line, its control characters shown as their pictures and its bidi controls closed
    (``terminal_line``), at most ``width`` characters, and every character markdown gives a
    meaning to escaped. The UI renders the report: a title must not add a heading, a link, an
    image or HTML, nor end the list item or the table row it is in."""
    one_line = terminal_line(text or "", width)
    return _MARKUP.sub(r"\\\1", one_line)


#: What a link destination must not hold as it is: it would end the link or break the line.
_URL_SAFE = "!#$%&'*+,-./:;=?@[]^_{|}~"


def _link(label: str, url: str | None) -> str:
    """A markdown link to an article, or its label alone when its URL is not http(s)."""
    if not url or urlsplit(url).scheme.lower() not in {"http", "https"}:
        return label
    return f"[{label}]({quote(url, safe=_URL_SAFE)})"


def run_report(
    rows: list[dict[str, Any]],
    new_relevant: list[dict[str, Any]],
    stories: list[dict[str, Any]] | None = None,
    outcome: RunOutcome | None = None,
    title: str = "veille run",
) -> str:
    """The markdown summary of a run: its verdict, totals, new relevant articles as links,
    new and growing stories, sources in error."""
    totals = {k: sum(int(r[k]) for r in rows) for k in TOTALS} | {
        "revised": sum(int(r.get("revised", 0)) for r in rows)
    }
    lines = [f"# {title}", ""]
    if outcome is not None:
        lines += [f"**{markdown_text(outcome.message, 1000)}**", ""]
    sources = sum(r.get("poll") != BAD_ENTRY for r in rows)
    lines += [
        f"{counted(sources, 'source')} polled or ingested: {counted(totals['new_urls'], 'new URL')}, "
        f"{stored_words(totals, 'article')}, {counted(totals['duplicates'], 'duplicate')}, "
        f"{totals['relevant']} relevant, {totals['failed']} failed, {totals['retry']} to retry.",
        "",
    ]
    shown = new_relevant[:REPORT_ARTICLES]
    if len(new_relevant) > REPORT_ARTICLES:  # the query was asked for one more: there are others
        lines += [
            f"## New articles relevant to a topic (the {REPORT_ARTICLES} most relevant; more were stored)",
            "",
            "The others are in the archive: `veille export`, or the view `topic_relevant_sightings`.",
            "",
        ]
    else:
        lines += [f"## New articles relevant to a topic ({len(shown)})", ""]
    if shown:
        for a in shown:
            when = day.isoformat() if (day := article_day(a["published_at"])) else "undated"
            label = _link(markdown_text(a["title"]) or "(untitled)", a["url"])
            lines.append(f"- {label} ({markdown_text(a['source'])}, {when}, relevance {a['relevance']:.2f})")
            if a.get("topics"):
                lines.append(f"  topics: {markdown_text(', '.join(a['topics']))}")
            if a.get("why"):
                lines.append(f"  why: {markdown_text(a['why'])}")
    else:
        lines.append("None this run.")
    lines += _stories_section(stories or [])
    lines += _errors_section(rows)
    return "\n".join(lines) + "\n"


def _errors_section(rows: list[dict[str, Any]]) -> list[str]:
    """The sources in error, at most :data:`REPORT_ERRORS` of them (the most failed pages
    first), then how many more: with hundreds of failing sources the report grew without end.
    Then the sources read with a warning (a malformed feed read in part, a listing with no
    links): the verdict does not count them in error, and the report listed them as such."""
    errors = sorted(
        (r for r in rows if (r["error"] or r["failed"]) and _in_error(r)), key=lambda r: -int(r["failed"])
    )
    warned = [r for r in rows if r["error"] and not _in_error(r)]
    lines: list[str] = []
    if errors:
        lines += ["", "## Sources with errors", ""]
        if len(errors) > REPORT_ERRORS:
            lines += [
                f"{len(errors)} sources in error: the {REPORT_ERRORS} with the most failed pages are"
                f" listed, {len(errors) - REPORT_ERRORS} more are not. Every one is in the run's"
                " per-source table, `veille sources` and the view `source_health`.",
                "",
            ]
        lines += ["| source | failed pages | error |", "|---|---|---|"]
        lines += [
            f"| {markdown_text(r['source'])} | {r['failed']} | {markdown_text(str(r['error']))} |"
            for r in errors[:REPORT_ERRORS]
        ]
    if warned:
        lines += ["", "## Sources read with a warning", ""]
        if len(warned) > REPORT_ERRORS:
            lines += [
                f"{len(warned)} sources read with a warning: {REPORT_ERRORS} are listed,"
                f" {len(warned) - REPORT_ERRORS} more are not (all are in the run's per-source table).",
                "",
            ]
        lines += ["| source | warning |", "|---|---|"]
        lines += [
            f"| {markdown_text(r['source'])} | {markdown_text(str(r['error']))} |"
            for r in warned[:REPORT_ERRORS]
        ]
    return lines


def _in_error(row: dict[str, Any]) -> bool:
    """Whether a source's row is an error of the run (as :func:`flows.outcome.judge_run` counts
    them): its poll failed, its entry of the sources file was bad, or pages of it failed."""
    return row["poll"] in {"error", BAD_ENTRY} or bool(row["failed"])


def _stories_section(stories: list[dict[str, Any]]) -> list[str]:
    """New and growing stories of the run (monitors/archive/story_report.py's ``stories_since``)."""
    if not stories:
        return ["", "## Stories: 0 new, 0 growing", "", "None this run."]
    listed_new = sum(1 for s in stories if s["new"])
    # the run's counts, not the list's: stories_since lists the 20 that got the most articles
    new = int(stories[0].get("all_new", listed_new))
    total = int(stories[0].get("all_stories", len(stories)))
    lines = ["", f"## Stories: {new} new, {total - new} growing", ""]
    if total > len(stories):
        lines += [
            f"The {len(stories)} that got the most articles this run are listed; `veille stories"
            " --since DATE` lists every one.",
            "",
        ]
    lines += [
        "| story | title | status | added | articles | outlets | media | parties |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {s['id']} | {markdown_text(s['title']) or '(untitled)'} | {'new' if s['new'] else 'growing'}"
        f" | {s['added']} | {s['articles']} | {s['outlets']} | {s['media']} | {s['parties']} |"
        for s in stories
    ]
    return lines


def publish_run_artifacts(
    rows: list[dict[str, Any]], since: datetime, outcome: RunOutcome | None = None
) -> None:
    """Publish the per-source table and the markdown summary of the run that started at
    ``since`` (:func:`run_artifacts`)."""
    _publish(rows, since, outcome, artifact_key(RUN_TABLE_KEY), artifact_key(RUN_REPORT_KEY), "veille run")


def publish_drain_artifacts(rows: list[dict[str, Any]], since: datetime, outcome: RunOutcome) -> None:
    """The same for a queue drain run on its own (the drain-queue deployment)."""
    title = "veille queue drain"
    _publish(rows, since, outcome, artifact_key(DRAIN_TABLE_KEY), artifact_key(DRAIN_REPORT_KEY), title)


@dataclass(frozen=True)
class Artifact:
    """One artifact as Prefect stores it: ``kind`` is ``table`` (``data`` the rows) or
    ``markdown``; ``key`` None for one that is not the latest of a series."""

    kind: str
    key: str | None
    data: Any
    description: str

    def api_data(self) -> str:
        """``data`` as the REST API takes it (a table as JSON text, as Prefect's client sends it)."""
        return json.dumps(self.data, default=str) if self.kind == "table" else str(self.data)


def note(title: str, message: str, description: str) -> Artifact:
    """A short markdown report under no key (the latest keyed one stays the last run that had
    rows): a run that had nothing to show still says in the UI what it came to."""
    return Artifact("markdown", None, f"# {title}\n\n{message}\n", description)


def run_artifacts(
    rows: list[dict[str, Any]],
    since: datetime,
    outcome: RunOutcome | None,
    table_key: str | None = None,
    report_key: str | None = None,
    title: str = "veille run",
) -> list[Artifact]:
    """What a run publishes: a short report under no key when it had nothing to do (so that
    the latest ``report_key`` stays the last cycle that did work), else the per-source table
    and the markdown summary of what was found since ``since``. The keys are a run's
    (:func:`artifact_key`) unless given."""
    table_key = table_key or artifact_key(RUN_TABLE_KEY)
    report_key = report_key or artifact_key(RUN_REPORT_KEY)
    if outcome is not None and outcome.empty:
        empty = "Empty cycle: nothing was due (not the latest report)"
        return [note(f"{title}: nothing to do", outcome.message, empty)]
    from monitors.archive.reads import new_relevant_since
    from monitors.archive.story_report import stories_since

    found = []
    if rows:
        found.append(
            Artifact(
                "table",
                table_key,
                rows,
                "Per source: poll outcome, new URLs, stored, revised, duplicates, relevant, failed, error",
            )
        )
    with session_scope() as session:
        new_relevant = new_relevant_since(session, since, limit=REPORT_ARTICLES + 1, why_width=TEXT_WIDTH)
        stories = stories_since(session, since)
    found.append(
        Artifact(
            "markdown",
            report_key,
            run_report(rows, new_relevant, stories, outcome, title),
            "Run summary with links to the new relevant articles",
        )
    )
    return found


def _publish(
    rows: list[dict[str, Any]],
    since: datetime,
    outcome: RunOutcome | None,
    table_key: str,
    report_key: str,
    title: str,
) -> None:
    """Publish a run's artifacts from inside its flow run."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    for artifact in run_artifacts(rows, since, outcome, table_key, report_key, title):
        if artifact.kind == "table":
            create_table_artifact(key=artifact.key, table=artifact.data, description=artifact.description)
        else:
            create_markdown_artifact(
                key=artifact.key, markdown=artifact.data, description=artifact.description
            )
