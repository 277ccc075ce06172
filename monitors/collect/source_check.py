"""`veille sources check`: one probe of each source as a row, and the dated report a user
can attach to a bug report (JSON for machines, the same table as text for people)."""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from monitors.collect.health import suggestion_text
from monitors.collect.poll import PollOutcome, SourceState

REPORT_PREFIX = "veille-sources-check"


def _status(out: PollOutcome) -> str:
    if not out.error:
        return "ok"
    if out.error_class == "blocked":
        return "blocked"
    return out.fetch.outcome if out.fetch.outcome != "ok" else "error"


def check_row(source: SourceState, out: PollOutcome) -> dict[str, Any]:
    """What one probe of a source found: the primary URL's answer, then the fallback's
    when the primary failed for good and the source has one."""
    primary = out.primary if out.via_fallback and out.primary is not None else out
    note = primary.error or primary.warning or ""
    if primary.suggested_feeds is not None:
        note = f"{note}; {suggestion_text(primary.suggested_feeds)}"
    fallback = "-"
    if out.via_fallback:
        fallback = f"ok, {len(out.entries)} entries" if not out.error else f"{_status(out)}: {out.error}"
    elif source.fallback_url:
        fallback = "not needed" if not primary.error else "not tried (failure not for good)"
    return {
        "name": source.name,
        "kind": source.kind,
        "status": _status(primary),
        "http": primary.fetch.status or "-",
        "ms": primary.fetch.elapsed_ms,
        "entries": len(primary.entries),
        "bytes": primary.fetch.size,
        "fallback": fallback,
        "error": note,
    }


def check_fetch(out: PollOutcome) -> tuple[str | None, str | None]:
    """The probe's host and how it reached no server (None: a server answered), as a run's
    offline hint counts them (``flows.outcome.offline_hint``): the primary URL's fetch."""
    primary = out.primary if out.via_fallback and out.primary is not None else out
    return primary.fetch.host, primary.fetch.unreached


def report_document(
    rows: list[dict[str, Any]],
    states: list[SourceState],
    checked_at: datetime,
    sources_file: Path,
    user_agent: str,
) -> dict[str, Any]:
    """The JSON report: when, what veille and which file, and one entry per source with its
    URLs. No secret goes in (no database URL, no environment)."""
    try:
        veille_version = version("veille")
    except PackageNotFoundError:
        veille_version = "unknown"
    text = sources_file.read_bytes() if sources_file.is_file() else b""
    by_name = {s.name: s for s in states}
    return {
        "report": "veille sources check",
        "checked_at": checked_at.isoformat(timespec="seconds"),
        "veille_version": veille_version,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "user_agent": user_agent,
        "sources_file": str(sources_file),
        "sources_file_sha256": hashlib.sha256(text).hexdigest(),
        "summary": {
            "sources": len(rows),
            "ok": sum(r["status"] == "ok" for r in rows),
            "blocked": sum(r["status"] == "blocked" for r in rows),
            "failed": sum(r["status"] != "ok" for r in rows),
            "rescued_by_fallback": sum(r["status"] != "ok" and r["fallback"].startswith("ok") for r in rows),
        },
        "sources": [
            {
                **row,
                "url": by_name[row["name"]].url,
                "fallback_url": by_name[row["name"]].fallback_url,
            }
            for row in rows
        ],
    }


def report_files(document: dict[str, Any], table: str) -> dict[str, str]:
    """The report's two files, name to text: ``veille-sources-check-<UTC time>.json`` (for
    machines) and ``.txt`` (the table, for people). The command writes them."""
    stamp = datetime.fromisoformat(document["checked_at"]).strftime("%Y%m%dT%H%M%SZ")
    head = (
        f"veille sources check, {document['checked_at']} (veille {document['veille_version']}, "
        f"user agent {document['user_agent']})\nsources file: {document['sources_file']} "
        f"(sha256 {document['sources_file_sha256'][:12]})\n\n"
    )
    return {
        f"{REPORT_PREFIX}-{stamp}.json": json.dumps(document, ensure_ascii=False, indent=2) + "\n",
        f"{REPORT_PREFIX}-{stamp}.txt": head + table,
    }
