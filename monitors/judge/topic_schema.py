"""Check a topic file before it is used: known keys only, non-empty patterns, dates that parse.

A topic is data that users edit by hand, so a mistake must stop with the file and the line
(``TopicError``: "path:line: message"), not with a KeyError deep in scoring or, worse, a
misspelt key silently ignored. tomllib reports syntax errors with their line; the other
checks find the line of the offending key or value in the source text.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

#: the keys each part of a topic file may hold
TOP_KEYS = {
    "name", "version", "description", "threshold", "required_groups", "active",
    "zones", "scoring", "groups", "terms", "proximity", "disambiguation", "period", "background",
    "model", "labels", "short_text",
}  # fmt: skip
SECTION_KEYS: dict[str, set[str]] = {
    "zones": {"title", "lead", "body", "tail", "url", "lead_chars", "tail_after_chars"},
    "scoring": {
        "saturation",
        "anchor_floor",
        "penalty_floor",
        "tie_min",
        "missing_group_cap",
        "outside_factor",
        "dominance",
    },  # fmt: skip
    "period": {"start", "end", "peak_start", "peak_end"},
    "short_text": {
        "max_words",
        "groups",
        "score",
        "event_groups",
        "peak_groups",
        "alone_groups",
        "peak_subjects",
        "theme_groups",
        "theme_subjects",
        "peak_theme_groups",
        "other_groups",
        "bare_groups",
        "peak_min",
        "period_min",
        "alone_min",
    },  # fmt: skip
    "background": {"patterns", "window", "factor"},
    "model": {"file", "threshold", "rule_floor", "weight"},
}
TABLE_KEYS: dict[str, set[str]] = {
    "terms": {"name", "group", "weight", "patterns", "case_sensitive", "not_after", "exclude"},
    "proximity": {"name", "group", "weight", "window", "left", "right"},
    "disambiguation": {"case", "weight", "patterns", "case_sensitive_patterns"},
}
GROUP_KEYS = {"description", "anchor", "satisfies"}
REQUIRED = ("name", "version", "threshold", "required_groups")
#: keys whose value is a list of patterns (each must hold a letter or digit)
PATTERN_KEYS = ("patterns", "case_sensitive_patterns", "exclude", "left", "right", "not_after")


class TopicError(ValueError):
    """A topic file that cannot be used, with where: "path:line: message"."""


def _line_of(lines: list[str], pattern: str, start: int = 0) -> int:
    """1-based number of the first line from ``start`` matching ``pattern`` (else start + 1)."""
    regex = re.compile(pattern)
    for number in range(start, len(lines)):
        if regex.search(lines[number]):
            return number + 1
    return start + 1


def _table_starts(lines: list[str], table: str) -> list[int]:
    """0-based line numbers of each ``[[table]]`` header, in order."""
    header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
    return [i for i, line in enumerate(lines) if header.match(line)]


def parse_topic_file(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """Read and check a topic file; returns its data and raw bytes, or raises TopicError."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TopicError(f"{path}:1: not UTF-8 ({exc.reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise TopicError(f"{path}:{found.group(1) if found else 1}: TOML syntax error: {exc}") from None
    check_topic_data(data, text, path)
    return data, raw


def check_topic_data(data: dict[str, Any], text: str, path: str | Path) -> None:
    """Raise TopicError for an unknown key, a missing required key, an empty pattern, a bad date."""
    lines = text.splitlines()

    def fail(line: int, message: str) -> None:
        raise TopicError(f"{path}:{line}: {message}")

    for key in data:
        if key not in TOP_KEYS:
            fail(_line_of(lines, rf"^\s*(\[+\s*)?{re.escape(key)}\b"), f"unknown key {key!r}")
    for key in REQUIRED:
        if key not in data:
            fail(1, f"missing required key {key!r}")
    for section, allowed in SECTION_KEYS.items():
        body = data.get(section, {})
        start = _line_of(lines, rf"^\s*\[\s*{section}\s*\]") - 1
        if not isinstance(body, dict):
            fail(start + 1, f"{section} must be a table")
        for key in body:
            if key not in allowed:
                fail(
                    _line_of(lines, rf"^\s*{re.escape(key)}\s*=", start),
                    f"unknown key {key!r} in [{section}]",
                )
    for name, spec in data.get("groups", {}).items():
        start = _line_of(lines, rf"^\s*\[\s*groups\.{re.escape(name)}\s*\]") - 1
        for key in spec:
            if key not in GROUP_KEYS:
                fail(
                    _line_of(lines, rf"^\s*{re.escape(key)}\s*=", start),
                    f"unknown key {key!r} in group {name!r}",
                )
    groups = set(data.get("groups", {}))
    for table, allowed in TABLE_KEYS.items():
        starts = _table_starts(lines, table)
        for index, spec in enumerate(data.get(table, [])):
            start = starts[index] if index < len(starts) else 0
            for key in spec:
                if key not in allowed:
                    fail(
                        _line_of(lines, rf"^\s*{re.escape(key)}\s*=", start),
                        f"unknown key {key!r} in [[{table}]]",
                    )
            if table != "disambiguation" and spec.get("group") not in groups:
                fail(
                    _line_of(lines, r"^\s*group\s*=", start),
                    f"[[{table}]] {spec.get('name')!r}: unknown group {spec.get('group')!r}",
                )
            _check_patterns(spec, lines, start, f"[[{table}]]", fail)
    background = data.get("background")
    if background is not None:
        start = _line_of(lines, r"^\s*\[\s*background\s*\]") - 1
        _check_patterns(background, lines, start, "[background]", fail)
    for key in ("start", "end", "peak_start", "peak_end"):
        value = data.get("period", {}).get(key)
        if value is not None and not isinstance(value, date):
            try:
                date.fromisoformat(str(value))
            except ValueError:
                fail(
                    _line_of(lines, rf"^\s*{key}\s*="), f"[period] {key}: not a date (YYYY-MM-DD): {value!r}"
                )
    short = data.get("short_text", {})
    for key in (
        "groups", "event_groups", "peak_groups", "alone_groups", "peak_subjects",
        "theme_groups", "theme_subjects", "peak_theme_groups", "other_groups", "bare_groups",
    ):  # fmt: skip
        entries = short.get(key, [])
        where = _line_of(lines, rf"^\s*{key}\s*=", _line_of(lines, r"^\s*\[\s*short_text\s*\]") - 1)
        if not isinstance(entries, list) or not all(
            isinstance(e, str) or (isinstance(e, list) and e and all(isinstance(n, str) for n in e))
            for e in entries
        ):
            fail(
                where,
                f"[short_text] {key}: a list of group names"
                " (or, in theme_groups and bare_groups, of lists of them)",
            )
        names = [n for entry in entries for n in ([entry] if isinstance(entry, str) else entry)]
        for name in names:
            if name not in groups:
                fail(where, f"[short_text] {key}: unknown group {name!r}")


def _check_patterns(spec: dict[str, Any], lines: list[str], start: int, where: str, fail: Any) -> None:
    for key in PATTERN_KEYS:
        if key not in spec:
            continue
        values = spec[key]
        if not isinstance(values, list) or (key != "not_after" and not values):
            fail(
                _line_of(lines, rf"^\s*{key}\s*=", start),
                f"{where} {key} must be a non-empty list of strings",
            )
        for value in values:
            if not isinstance(value, str) or not re.search(r"[^\W_]", value.rstrip("*")):
                fail(
                    _line_of(
                        lines, f"[\"']{re.escape(value)}[\"']" if isinstance(value, str) else key, start
                    ),
                    f"{where} empty pattern {value!r} in {key}",
                )
