"""The sources file (TOML): parse, validate with line numbers, and sync into the database."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitors.archive.bulk import as_rows, recordset_insert
from monitors.archive.models import OWNERS, SOURCE_KINDS, Source
from monitors.settings import get_settings

DEFAULT_SOURCES = Path(__file__).resolve().parents[2] / "seeds" / "sources.toml"
SYNC_CHUNK = 5000  # sources per upsert statement
_COLUMNS = ("name", "kind", "url", "owner", "family", "link_pattern", "fallback_url", "fallback_kind")
_SYNC = recordset_insert(
    "sources",
    {name: "text" for name in _COLUMNS},
    "ON CONFLICT (name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
    # a new or removed fallback URL: back to the primary URL, the streak starts again
    + ", fallback_since = CASE WHEN sources.fallback_url IS NOT DISTINCT FROM excluded.fallback_url"
    " THEN sources.fallback_since END RETURNING name, id",
)
REQUIRED = ("name", "kind", "url", "owner")
OPTIONAL = ("family", "link_pattern", "fallback", "fallback_kind", "enabled")
_HEADER = re.compile(r"^\s*\[\[\s*source\s*\]\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
#: the longest source name: ``sources.name`` is unique, and PostgreSQL's btree index takes a
#: value of at most 2,704 bytes (past it, an insert fails); 500 characters are at most 2,000
#: bytes in UTF-8, so any name within the limit fits
MAX_NAME_CHARS = 500


class SourcesError(ValueError):
    """The sources file is wrong; the message names the file and line."""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: str
    url: str
    owner: str
    family: str | None = None
    link_pattern: str | None = None
    fallback: str | None = None  # polled when ``url`` fails for good a few polls in a row
    fallback_kind: str | None = None  # default sitemap (a news sitemap)
    enabled: bool = True


@dataclass(frozen=True)
class BadEntry:
    """A ``[[source]]`` entry left out of the file's sources, and why (``where`` is FILE:LINE)."""

    where: str
    name: str  # its name, or "source #N" when it has none
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class SourcesFile:
    """A sources file as read: its valid sources, and its entries left out with their reason."""

    origin: str
    specs: list[SourceSpec]
    bad: list[BadEntry]

    def refused(self) -> SourcesError:
        """The error a validation (``veille sources check``) gives: every bad entry, one a line."""
        lines = [str(b) for b in self.bad]
        if len(lines) > 1:
            lines.insert(0, f"{self.origin}: {len(lines)} bad entries (fix each line below)")
        return SourcesError("\n".join(lines))


def _line_index(text: str) -> tuple[list[int], list[dict[str, int]]]:
    """Line numbers of each ``[[source]]`` header and of each key inside it."""
    headers: list[int] = []
    keys: list[dict[str, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _HEADER.match(line):
            headers.append(number)
            keys.append({})
        elif keys and (m := _KEY.match(line)):
            keys[-1].setdefault(m.group(1), number)
    return headers, keys


class _Bad(Exception):
    """One entry's fault: the key whose line is named, and the reason."""

    def __init__(self, key: str | None, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def _check_entry(entry: object, number: int, names: set[str]) -> SourceSpec:
    """Validate the ``number``-th ``[[source]]`` table; raise :class:`_Bad` at its first fault."""
    if not isinstance(entry, dict):
        raise _Bad(None, f"source #{number} is not a table")
    for key in entry:
        if key not in REQUIRED + OPTIONAL:
            raise _Bad(key, f"unknown key {key!r} (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    for key in REQUIRED:
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise _Bad(key, f"source #{number} needs a non-empty {key!r}")
    if len(entry["name"]) > MAX_NAME_CHARS:
        raise _Bad(
            "name",
            f"source #{number}'s name is {len(entry['name']):,} characters long,"
            f" more than a name takes ({MAX_NAME_CHARS}): shorten it (it begins"
            f" {entry['name'][:40]!r})",
        )
    if entry["kind"] not in SOURCE_KINDS:
        raise _Bad("kind", f"unknown kind {entry['kind']!r} (one of {', '.join(SOURCE_KINDS)})")
    if entry["owner"] not in OWNERS:
        raise _Bad("owner", f"unknown owner {entry['owner']!r} (one of {', '.join(OWNERS)})")
    if not re.match(r"^https?://", entry["url"]):
        raise _Bad("url", "url must start with http:// or https://")
    fallback = entry.get("fallback")
    if fallback is not None and not (isinstance(fallback, str) and re.match(r"^https?://", fallback)):
        raise _Bad("fallback", "fallback must be a URL starting with http:// or https://")
    fallback_kind = entry.get("fallback_kind")
    if fallback_kind is not None and fallback is None:
        raise _Bad("fallback_kind", "fallback_kind without a fallback URL")
    if fallback is not None and (fallback_kind := fallback_kind or "sitemap") not in SOURCE_KINDS:
        raise _Bad(
            "fallback_kind",
            f"unknown fallback_kind {fallback_kind!r} (one of {', '.join(SOURCE_KINDS)})",
        )
    for key in ("family", "link_pattern"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise _Bad(key, f"{key} must be a string")
    if not isinstance(entry.get("enabled", True), bool):
        raise _Bad("enabled", "enabled must be true or false")
    pattern = entry.get("link_pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _Bad("link_pattern", f"bad regular expression: {exc}") from exc
    if entry["name"] in names:
        raise _Bad("name", f"duplicate source name {entry['name']!r} (the first entry of that name is kept)")
    return SourceSpec(
        name=entry["name"],
        kind=entry["kind"],
        url=entry["url"],
        owner=entry["owner"],
        family=entry.get("family"),
        link_pattern=pattern,
        fallback=fallback,
        fallback_kind=fallback_kind,
        enabled=entry.get("enabled", True),
    )


_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)$")


def read_sources(text: str, origin: str = "<sources>") -> SourcesFile:
    """Parse a sources TOML document into its valid sources and its bad entries (each with its
    line and reason), so that one bad entry does not stop the others being polled. A document
    that is not TOML, or not ``[[source]]`` tables, raises :class:`SourcesError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = _TOML_AT.search(str(exc))
        raise SourcesError(f"{origin}{':' + at.group(1) if at else ''}: not valid TOML: {exc}") from exc
    extra = sorted(set(data) - {"source"})
    if extra:
        raise SourcesError(f"{origin}: unknown top-level key(s) {extra}; expected [[source]] tables")
    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise SourcesError(f"{origin}: 'source' must be an array of tables ([[source]])")
    headers, key_lines = _line_index(text)
    specs: list[SourceSpec] = []
    bad: list[BadEntry] = []
    names: set[str] = set()
    for i, entry in enumerate(entries):
        head = headers[i] if i < len(headers) else 0
        lines = key_lines[i] if i < len(key_lines) else {}
        try:
            spec = _check_entry(entry, i + 1, names)
        except _Bad as fault:
            name = entry.get("name") if isinstance(entry, dict) else None
            label = name if isinstance(name, str) and name.strip() else f"source #{i + 1}"
            line = lines.get(fault.key, head) if fault.key else head
            bad.append(BadEntry(f"{origin}:{line}", label[:MAX_NAME_CHARS], fault.reason))
            continue
        names.add(spec.name)
        specs.append(spec)
    return SourcesFile(origin, specs, bad)


def parse_sources(text: str, origin: str = "<sources>") -> list[SourceSpec]:
    """Parse a sources TOML document, every entry valid: raise :class:`SourcesError` naming the
    line of each bad one (a validation; a run reads a file with :func:`read_sources`)."""
    read = read_sources(text, origin)
    if read.bad:
        raise read.refused()
    return read.specs


def sources_path(path: str | Path | None = None) -> Path:
    """The sources file a run reads: ``path``, else ``VEILLE_SOURCES``, else the default list."""
    return Path(path) if path else (get_settings().sources_file or DEFAULT_SOURCES)


def sources_label(path: str | Path | None = None) -> str:
    """How logs name the sources file a run reads ("the default list" for the shipped one)."""
    file = sources_path(path)
    return "the default list" if file == DEFAULT_SOURCES else str(file)


def load_sources_file(path: str | Path | None = None) -> SourcesFile:
    """Read a sources file (default: ``VEILLE_SOURCES``, else ``seeds/sources.toml``): its valid
    sources and its bad entries; a file that cannot be read or parsed raises SourcesError."""
    file = sources_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourcesError(f"{file}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from exc
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {file}: {exc.strerror}") from exc
    return read_sources(text, origin=str(file))


def load_sources(path: str | Path | None = None) -> list[SourceSpec]:
    """The valid sources of a sources file (its bad entries left out: :func:`load_sources_file`
    has them)."""
    return load_sources_file(path).specs


def sync_sources(session: Session, specs: list[SourceSpec]) -> list[int]:
    """Insert new sources and update changed ones by name; health columns are left alone.

    Returns the ids of the sources named in ``specs`` (a source left out of the file is
    kept in the database with its history, just not polled by this run).
    """
    rows = {  # by name: the last spec of a name wins, as when they were written one by one
        spec.name: {
            "name": spec.name,
            "kind": spec.kind,
            "url": spec.url,
            "owner": spec.owner,
            "family": spec.family,
            "link_pattern": spec.link_pattern,
            "fallback_url": spec.fallback,
            "fallback_kind": spec.fallback_kind,
        }
        for spec in specs
    }
    ordered = list(rows.values())
    ids: dict[str, int] = {}
    for start in range(0, len(ordered), SYNC_CHUNK):  # one statement per chunk, not per source
        chunk = as_rows(ordered[start : start + SYNC_CHUNK])
        ids.update((name, id_) for name, id_ in session.execute(_SYNC, chunk))
    disabled = [ids[spec.name] for spec in specs if not spec.enabled]
    if disabled:
        session.execute(update(Source).where(Source.id.in_(disabled)).values(status="disabled"))
    return [ids[spec.name] for spec in specs]


def source_ids_by_name(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Source.name, Source.id)).all())


def set_source_enabled(session: Session, name: str, enabled: bool) -> bool:
    """Re-enable a source (status active, failure streak cleared, due now) or disable it.

    Returns False when no source has that name. History (totals, last error) is kept.
    """
    values: dict[str, object]
    if enabled:
        values = {
            "status": "active",
            "consecutive_failures": 0,
            "failing_since": None,
            "next_poll_at": None,
            "fallback_since": None,  # the primary URL is tried first again
        }
    else:
        values = {"status": "disabled"}
    result = session.execute(update(Source).where(Source.name == name).values(**values).returning(Source.id))
    return result.scalar_one_or_none() is not None
