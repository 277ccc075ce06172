"""Artifacts a run leaves in the Prefect UI: what each source gave, and what was found."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from monitors.archive.db import session_scope
from monitors.archive.reads import new_relevant_since
from monitors.archive.story_report import stories_since

if TYPE_CHECKING:
    from flows.outcome import RunOutcome

RUN_TABLE_KEY = "veille-run-summary"
RUN_REPORT_KEY = "veille-run-report"
DRAIN_TABLE_KEY = "veille-drain-summary"
DRAIN_REPORT_KEY = "veille-drain-report"
TOTALS = ("new_urls", "stored", "duplicates", "relevant", "failed", "retry")


def _md(text: str | None) -> str:
    """Escape what would break a markdown link label or table cell."""
    return (text or "(untitled)").replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")


def run_report(
    rows: list[dict[str, Any]],
    new_relevant: list[dict[str, Any]],
    stories: list[dict[str, Any]] | None = None,
    outcome: RunOutcome | None = None,
    title: str = "veille run",
) -> str:
    """The markdown summary of a run: its verdict, totals, new relevant articles as links,
    new and growing stories, sources in error."""
    totals = {k: sum(int(r[k]) for r in rows) for k in TOTALS}
    lines = [f"# {title}", ""]
    if outcome is not None:
        lines += [f"**{outcome.message}**", ""]
    lines += [
        f"{len(rows)} sources polled or ingested: {totals['new_urls']} new URLs, "
        f"{totals['stored']} articles stored, {totals['duplicates']} duplicates, "
        f"{totals['relevant']} relevant, {totals['failed']} failed, {totals['retry']} to retry.",
        "",
        f"## New relevant articles ({len(new_relevant)})",
        "",
    ]
    if new_relevant:
        for a in new_relevant:
            when = a["published_at"].date().isoformat() if a["published_at"] else "undated"
            label = f"[{_md(a['title'])}]({a['url']})"
            lines.append(f"- {label} ({_md(a['source'])}, {when}, relevance {a['relevance']:.2f})")
            if a.get("topics"):
                lines.append(f"  topics: {_md(', '.join(a['topics']))}")
            if a.get("why"):
                lines.append(f"  why: {_md(a['why'])}")
    else:
        lines.append("None this run.")
    lines += _stories_section(stories or [])
    errors = [r for r in rows if r["error"] or r["failed"]]
    if errors:
        lines += ["", "## Sources with errors", "", "| source | failed pages | error |", "|---|---|---|"]
        lines += [f"| {_md(r['source'])} | {r['failed']} | {_md(str(r['error']))} |" for r in errors]
    return "\n".join(lines) + "\n"


def _stories_section(stories: list[dict[str, Any]]) -> list[str]:
    """New and growing stories of the run (monitors/archive/story_report.py's ``stories_since``)."""
    new = [s for s in stories if s["new"]]
    growing = [s for s in stories if not s["new"]]
    lines = ["", f"## Stories: {len(new)} new, {len(growing)} growing", ""]
    if not stories:
        return [*lines, "None this run."]
    lines += [
        "| story | title | status | added | articles | outlets | media | parties |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {s['id']} | {_md(s['title'])} | {'new' if s['new'] else 'growing'} | {s['added']}"
        f" | {s['articles']} | {s['outlets']} | {s['media']} | {s['parties']} |"
        for s in stories
    ]
    return lines


def publish_run_artifacts(
    rows: list[dict[str, Any]], since: datetime, outcome: RunOutcome | None = None
) -> None:
    """Publish the per-source table and the markdown summary of the run that started at ``since``.

    A cycle with nothing to do gets a short report under no key, so that the latest report
    (what the UI shows under ``veille-run-report``) stays the last cycle that did work.
    """
    _publish(rows, since, outcome, RUN_TABLE_KEY, RUN_REPORT_KEY, "veille run")


def publish_drain_artifacts(rows: list[dict[str, Any]], since: datetime, outcome: RunOutcome) -> None:
    """The same for a queue drain run on its own (the drain-queue deployment)."""
    _publish(rows, since, outcome, DRAIN_TABLE_KEY, DRAIN_REPORT_KEY, "veille queue drain")


def _publish(
    rows: list[dict[str, Any]],
    since: datetime,
    outcome: RunOutcome | None,
    table_key: str,
    report_key: str,
    title: str,
) -> None:
    if outcome is not None and outcome.empty:
        create_markdown_artifact(
            markdown=f"# {title}: nothing to do\n\n{outcome.message}\n",
            description="Empty cycle: nothing was due (not the latest report)",
        )
        return
    if rows:
        create_table_artifact(
            key=table_key,
            table=rows,
            description="Per source: poll outcome, new URLs, stored, duplicates, relevant, failed, error",
        )
    with session_scope() as session:
        new_relevant = new_relevant_since(session, since)
        stories = stories_since(session, since)
    create_markdown_artifact(
        key=report_key,
        markdown=run_report(rows, new_relevant, stories, outcome, title),
        description="Run summary with links to the new relevant articles",
    )
