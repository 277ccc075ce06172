"""Check a topic file before it is used: known keys only, non-empty patterns, dates that parse.

A topic is data that users edit by hand, so a mistake must stop with the file and the line
(``TopicError``: "path:line: message"), not with a KeyError deep in scoring or, worse, a
misspelt key silently ignored. tomllib reports syntax errors with their line; the other
checks find the line of the offending key or value in the source text.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

from monitors.judge.lines import wide_text

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
#: what a regular expression or a glob would use: folding drops it, so a pattern holding one
#: would silently match other words than meant ("(a+)+b" is the words "a b", "intel* artif*"
#: is "intel artif*")
_REGEX_SYNTAX = re.compile(r"[\\|()\[\]{}^$+?*]")
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
    wide = wide_text(raw)
    if wide:  # UTF-16 or UTF-32 (an editor's "Unicode"): said once, with how to convert it
        raise TopicError(f"{path}:1: {wide}")
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark (Notepad's UTF-8) is no key
    except UnicodeDecodeError as exc:
        # the line of the first byte that is no UTF-8 (it was always line 1), and the byte
        line = raw[: exc.start].count(b"\n") + 1
        raise TopicError(
            f"{path}:{line}: not UTF-8 ({exc.reason}: byte 0x{raw[exc.start]:02x}): save it as UTF-8"
            " (iconv -f latin1 -t UTF-8 for a Latin-1 file)"
        ) from None
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
    _check_values(data, lines, fail)
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
    period = data.get("period", {})
    for first, last in (("start", "end"), ("peak_start", "peak_end")):
        low, high = period.get(first), period.get(last)
        if low is not None and high is not None and _day(low) > _day(high):
            fail(_line_of(lines, rf"^\s*{last}\s*="), f"[period] {last} {high} is before {first} {low}")
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


def _day(value: Any) -> date:
    """A [period] value already checked: a TOML date or datetime, or an ISO date string."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _number(value: Any) -> bool:
    """An int or a float that is finite (TOML has inf and nan; a bool is not a number)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _kind_error(value: Any, kind: str, low: float | None, high: float | None) -> str | None:
    """What is wrong with ``value`` as a ``kind`` ("number", "integer", "boolean", "string",
    "strings": a list of them) within [low, high], or None."""
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "string":
        return None if isinstance(value, str) and value.strip() else "must be a non-empty string"
    if kind == "strings":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of strings"
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return "must be a whole number"
    if not _number(value):
        return "must be a finite number" if isinstance(value, float) else "must be a number"
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        return f"must be {span}, not {value!r}"
    return None


#: a topic's name: it becomes an identifier (the feed's id ``urn:veille:relevant:NAME``, eval's
#: ``relevance-NAME.jsonl``, ``--topic NAME`` beside a file's path, article_topics rows), so
#: letters and digits (of any script: "météo" is a French user's name), ``_`` and ``-``, a letter
#: or digit first, at most 64 characters: no space, slash, dot or other punctuation
TOPIC_NAME = re.compile(r"[^\W_][\w-]{0,63}")


#: the type (and range) of each value: key -> (kind, low, high)
Kinds = dict[str, tuple[str, float | None, float | None]]
TOP_KINDS: Kinds = {
    "name": ("string", None, None),
    "description": ("string", None, None),
    "threshold": ("number", 0, 1),
    "active": ("boolean", None, None),
    "labels": ("strings", None, None),
}
SECTION_KINDS: dict[str, Kinds] = {
    "zones": {
        **{zone: ("number", 0, None) for zone in ("title", "lead", "body", "tail", "url")},
        "lead_chars": ("integer", 0, None),
        "tail_after_chars": ("integer", 0, None),
    },
    "scoring": {
        **{key: ("number", 0, 1) for key in ("anchor_floor", "penalty_floor", "missing_group_cap")},
        "outside_factor": ("number", 0, 1),
        "tie_min": ("number", 0, None),
        "dominance": ("number", 0, None),
    },
    "background": {"window": ("integer", 1, None), "factor": ("number", 0, 1)},
    "model": {
        "file": ("string", None, None),
        "threshold": ("number", 0, 1),
        "rule_floor": ("number", 0, 1),
        "weight": ("number", 0, None),
    },
    "short_text": {
        "max_words": ("integer", 0, None),
        "score": ("number", 0, 1),
        **{key: ("number", 0, None) for key in ("peak_min", "period_min", "alone_min")},
    },
}
TABLE_KINDS: dict[str, Kinds] = {
    "terms": {
        "name": ("string", None, None),
        "weight": ("number", 0, None),
        "case_sensitive": ("boolean", None, None),
    },
    "proximity": {
        "name": ("string", None, None),
        "weight": ("number", 0, None),
        "window": ("integer", 1, None),
    },
    "disambiguation": {"case": ("string", None, None), "weight": ("number", 0, None)},
}
#: the keys each [[table]] entry must have (besides ``group``, checked with the groups)
TABLE_REQUIRED = {
    "terms": ("name", "patterns"),
    "proximity": ("name", "left", "right"),
    "disambiguation": ("case",),
}


def _name_like(name: str) -> str:
    """A name the rule takes, near ``name`` ("mon sujet" -> "mon_sujet")."""
    like = re.sub(r"[^\w-]+", "_", unicodedata.normalize("NFC", name)).strip("_-")[:64]
    return like or "my_topic"


def _check_values(data: dict[str, Any], lines: list[str], fail: Any) -> None:
    """Raise (``fail``) for a value of the wrong type or out of range: before, ``threshold =
    "high"`` ended in a ValueError traceback when the topic was compiled, ``active = "no"``
    left the topic active, ``required_groups = []`` divided by zero."""

    def check(kinds: Kinds, values: dict[str, Any], where: str, start: int) -> None:
        if not isinstance(values, dict):
            return  # "must be a table": said where the section's keys are checked
        for key, (kind, low, high) in kinds.items():
            if key in values and (problem := _kind_error(values[key], kind, low, high)):
                fail(_line_of(lines, rf"^\s*{re.escape(key)}\s*=", start), f"{where}{key} {problem}")

    check(TOP_KINDS, data, "", 0)
    name = data["name"]
    if isinstance(name, str) and name.strip() and not TOPIC_NAME.fullmatch(name):
        fail(
            _line_of(lines, r"^\s*name\s*="),
            f"name {name!r}: a topic's name is letters, digits, _ and - (a letter or digit first,"
            " at most 64): it names the topic in the feed's id, eval's files and --topic; such as"
            f" {_name_like(name)!r}",
        )
    version = data["version"]
    if not (isinstance(version, str) and version.strip()) and not _number(version):
        fail(_line_of(lines, r"^\s*version\s*="), 'version must be a string such as "1.0"')
    groups = data.get("groups", {})
    if not isinstance(groups, dict) or not all(isinstance(spec, dict) for spec in groups.values()):
        fail(_line_of(lines, r"^\s*\[?\s*groups\b"), "groups must be tables: [groups.NAME]")
    required = data["required_groups"]
    where = _line_of(lines, r"^\s*required_groups\s*=")
    if not isinstance(required, list) or not required or not all(isinstance(g, str) for g in required):
        fail(where, "required_groups must be a non-empty list of group names")
    for name in required:
        if name not in groups:
            fail(where, f"required_groups: unknown group {name!r} (declare it as [groups.{name}])")
    for section, kinds in SECTION_KINDS.items():
        start = _line_of(lines, rf"^\s*\[\s*{section}\s*\]") - 1
        check(kinds, data.get(section, {}), f"[{section}] ", start)
    scoring = data.get("scoring", {})
    saturation = scoring.get("saturation", {}) if isinstance(scoring, dict) else {}
    start = _line_of(lines, r"^\s*\[\s*scoring\s*\]") - 1
    at = _line_of(lines, r"^\s*saturation\b", start)
    if not isinstance(saturation, dict):
        fail(at, "[scoring] saturation must be a table of group = number, such as { ai = 3.0 }")
    for name, value in saturation.items():
        if name not in groups:
            fail(at, f"[scoring] saturation: unknown group {name!r}")
        if not _number(value) or value <= 0:
            fail(at, f"[scoring] saturation {name} must be a number above 0, not {value!r}")
    for name, spec in groups.items():
        start = _line_of(lines, rf"^\s*\[\s*groups\.{re.escape(name)}\s*\]") - 1
        anchor = spec.get("anchor", False)
        if not isinstance(anchor, bool) and anchor != "in_period":
            fail(
                _line_of(lines, r"^\s*anchor\s*=", start),
                f'group {name!r}: anchor must be true, false or "in_period", not {anchor!r}',
            )
        if "description" in spec and not isinstance(spec["description"], str):
            fail(
                _line_of(lines, r"^\s*description\s*=", start),
                f"group {name!r}: description must be a string",
            )
        satisfies = spec.get("satisfies", [])
        at = _line_of(lines, r"^\s*satisfies\s*=", start)
        if not isinstance(satisfies, list) or not all(isinstance(g, str) for g in satisfies):
            fail(at, f"group {name!r}: satisfies must be a list of group names")
        for other in satisfies:
            if other not in groups:
                fail(at, f"group {name!r}: satisfies an unknown group {other!r}")
    for table, kinds in TABLE_KINDS.items():
        entries = data.get(table, [])
        if not isinstance(entries, list) or not all(isinstance(spec, dict) for spec in entries):
            fail(_line_of(lines, rf"^\s*\[*\s*{table}\b"), f"{table} must be tables: [[{table}]]")
        starts = _table_starts(lines, table)
        for index, spec in enumerate(entries):
            start = starts[index] if index < len(starts) else 0
            for key in TABLE_REQUIRED[table]:
                if key not in spec:
                    fail(start + 1, f"[[{table}]] {spec.get('name', spec.get('case'))!r}: missing {key!r}")
            if (
                table == "disambiguation"
                and not spec.get("patterns")
                and not spec.get("case_sensitive_patterns")
            ):
                fail(start + 1, f"[[disambiguation]] {spec['case']!r}: missing 'patterns'")
            check(kinds, spec, f"[[{table}]] ", start)


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
            syntax = _REGEX_SYNTAX.search(value.rstrip().rstrip("*"))
            if syntax:
                fail(
                    _line_of(lines, f"[\"']{re.escape(value)}[\"']", start),
                    f"{where} pattern {value!r} in {key}: patterns are words, not regular"
                    f" expressions; {syntax.group()!r} would be ignored as punctuation is (only a * at"
                    " the end means something: any ending of the last word)",
                )
