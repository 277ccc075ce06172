"""The sources file (TOML): parse, validate with line numbers, and sync into the database."""

from __future__ import annotations

import bisect
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from monitors.archive.bulk import as_rows, recordset_insert
from monitors.archive.models import OWNERS, SOURCE_KINDS, Source, SourceProblem
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
    line: int = 0
    source_name: str | None = None  # its name as written, if it has one
    url: str | None = None  # its url as written, if it is a string

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class SourcesFile:
    """A sources file as read: its valid sources, and its entries left out with their reason."""

    origin: str
    specs: list[SourceSpec]
    bad: list[BadEntry]
    path: Path | None = None  # the file read, absolute (None for a text read by itself)

    def refused(self) -> SourcesError:
        """The error a validation (``veille sources check``) gives: every bad entry, one a line."""
        lines = [str(b) for b in self.bad]
        if len(lines) > 1:
            lines.insert(0, f"{self.origin}: {len(lines)} bad entries (fix each line below)")
        return SourcesError("\n".join(lines))


class _Lines:
    """Where each source entry of a sources file starts, and the line of each of its keys.

    :mod:`tomllib` gives no positions, so the document (already parsed, hence valid TOML) is
    scanned once more: ``[[source]]`` headers (``[[ "source" ]]`` too), and the tables of an
    inline array (``source = [{...}, {...}]``), strings and comments skipped, so that a
    ``[[source]]`` inside a multi-line string is no header."""

    _SPACE = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
    _INLINE_SPACE = re.compile(r"[ \t]*")
    _STRING = re.compile(
        r'"""(?:\\[\s\S]|[^\\])*?"{3,5}|\'\'\'[\s\S]*?\'{3,5}|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\''
    )
    _BARE = re.compile(r"[A-Za-z0-9_-]+")
    _SCALAR = re.compile(r"[^\s,\]}#]+(?:[ T][0-9:.+Z-]+)?")  # a date-time may hold one space

    def __init__(self, text: str) -> None:
        self.text = text
        self.ends = [m.start() for m in re.finditer("\n", text)]
        #: per entry, in the order tomllib lists them: its first line, and its keys' lines
        self.entries: list[tuple[int, dict[str, int]]] = []
        self._scan()

    def line(self, at: int) -> int:
        return bisect.bisect_left(self.ends, at) + 1

    def _space(self, at: int) -> int:
        return self._SPACE.match(self.text, at).end()  # type: ignore[union-attr]  # matches ""

    def _key(self, at: int) -> tuple[list[str], int]:
        """A dotted key's parts (quotes taken off) and where it ends."""
        parts: list[str] = []
        while True:
            at = self._INLINE_SPACE.match(self.text, at).end()  # type: ignore[union-attr]
            m = self._STRING.match(self.text, at) or self._BARE.match(self.text, at)
            if m is None:
                return parts, at
            part = m.group()
            parts.append(part[1:-1] if part[0] in "\"'" else part)
            at = self._INLINE_SPACE.match(self.text, m.end()).end()  # type: ignore[union-attr]
            if not self.text.startswith(".", at):
                return parts, at
            at += 1

    def _value(self, at: int) -> int:
        """Where the value at ``at`` ends (a string, an array, an inline table, a scalar)."""
        text = self.text
        if at >= len(text):
            return at
        if text[at] in "[{":
            close = "]" if text[at] == "[" else "}"
            at = self._space(at + 1)
            while at < len(text) and text[at] != close:
                if close == "}":  # key = value
                    _, at = self._key(at)
                    at = self._INLINE_SPACE.match(text, at + 1).end()  # type: ignore[union-attr]  # past "="
                at = self._space(self._value(at))
                if text.startswith(",", at):
                    at = self._space(at + 1)
            return at + 1
        m = self._STRING.match(text, at) or self._SCALAR.match(text, at)
        return m.end() if m else at + 1

    def _entry_table(self, at: int) -> int:
        """An inline table of the source array: its line and its keys' lines; where it ends."""
        keys: dict[str, int] = {}
        self.entries.append((self.line(at), keys))
        text = self.text
        at = self._space(at + 1)
        while at < len(text) and text[at] != "}":
            key, end = self._key(at)
            if key:
                keys.setdefault(key[0], self.line(at))
            at = self._INLINE_SPACE.match(text, end + 1).end()  # type: ignore[union-attr]  # past "="
            at = self._space(self._value(at))
            if text.startswith(",", at):
                at = self._space(at + 1)
        return at + 1

    def _scan(self) -> None:
        text = self.text
        keys: dict[str, int] | None = None  # the keys of the [[source]] table being read
        root = True  # before any table header: a key there is a top-level one
        at = self._space(0)
        while at < len(text):
            if text.startswith("[", at):  # a table header, [[array]] or [table]
                double = text.startswith("[[", at)
                name, end = self._key(at + (2 if double else 1))
                root = False
                keys = None
                if double and name == ["source"]:
                    keys = {}
                    self.entries.append((self.line(at), keys))
                at = end + (2 if double else 1)
            else:  # key = value
                name, end = self._key(at)
                if not name:  # not a key (cannot be, the text parsed): on to the next line
                    at = text.find("\n", at)
                    at = len(text) if at < 0 else at
                else:
                    if keys is not None:
                        keys.setdefault(name[0], self.line(at))
                    at = self._INLINE_SPACE.match(text, end + 1).end()  # type: ignore[union-attr]
                    if root and name == ["source"] and text.startswith("[", at):  # an inline array
                        at = self._space(at + 1)
                        while at < len(text) and text[at] != "]":
                            if text[at] == "{":
                                at = self._entry_table(at)
                            else:  # not a table: its line, for the error saying so
                                self.entries.append((self.line(at), {}))
                                at = self._value(at)
                            at = self._space(at)
                            if text.startswith(",", at):
                                at = self._space(at + 1)
                        at += 1
                    else:
                        at = self._value(at)
            at = self._space(at)


class _Bad(Exception):
    """One entry's fault: the key whose line is named, and the reason."""

    def __init__(self, key: str | None, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def _check_url(key: str, url: str) -> None:
    """Raise :class:`_Bad` for a URL with a blank inside (write it ``%20``) or no host."""
    blank = re.search(r"\s", url)
    if blank:
        raise _Bad(
            key, f"{key} has a blank inside, at character {blank.start() + 1} (write a space as %20): {url!r}"
        )
    try:
        host = urlsplit(url).hostname
    except ValueError as exc:
        raise _Bad(key, f"{key} is no URL: {exc}: {url!r}") from None
    if not host:
        raise _Bad(key, f"{key} has no host: {url!r}")


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
    # a URL pasted with a blank around it is that URL (" https://..." was refused, a trailing
    # blank was sent and answered 404); one with a blank inside or no host is a bad entry
    url = entry["url"].strip()
    if not re.match(r"^https?://", url):
        raise _Bad("url", "url must start with http:// or https://")
    _check_url("url", url)
    fallback = entry.get("fallback")
    if isinstance(fallback, str):
        fallback = fallback.strip()
    if fallback is not None and not (isinstance(fallback, str) and re.match(r"^https?://", fallback)):
        raise _Bad("fallback", "fallback must be a URL starting with http:// or https://")
    if fallback is not None:
        _check_url("fallback", fallback)
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
        url=url,
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
    lines: list[tuple[int, dict[str, int]]] | None = None  # scanned for the first bad entry only
    specs: list[SourceSpec] = []
    bad: list[BadEntry] = []
    names: set[str] = set()
    for i, entry in enumerate(entries):
        try:
            spec = _check_entry(entry, i + 1, names)
        except _Bad as fault:
            lines = _Lines(text).entries if lines is None else lines
            head, keys = lines[i] if i < len(lines) else (0, {})
            name, url = (entry.get("name"), entry.get("url")) if isinstance(entry, dict) else (None, None)
            named = name if isinstance(name, str) and name.strip() else None
            line = keys.get(fault.key, head) if fault.key else head
            label = (named or f"source #{i + 1}")[:MAX_NAME_CHARS]
            bad.append(
                BadEntry(
                    f"{origin}:{line}",
                    label,
                    fault.reason,
                    line=line,
                    source_name=named[:MAX_NAME_CHARS] if named else None,
                    url=url if isinstance(url, str) else None,
                )
            )
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
        text = file.read_text(encoding="utf-8-sig")  # a byte order mark (Notepad's UTF-8) is no key
    except UnicodeDecodeError as exc:
        raise SourcesError(f"{file}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from exc
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {file}: {exc.strerror}") from exc
    read = read_sources(text, origin=str(file))
    return replace(read, path=file.resolve())


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


_PROBLEMS = recordset_insert(
    "source_problems",
    {"file": "text", "line": "integer", "name": "text", "url": "text", "reason": "text"},
    "ON CONFLICT (md5(file), line, md5(reason)) DO UPDATE SET name = excluded.name,"
    " url = excluded.url, last_seen_at = now()",
)
_PROBLEMS_FIXED = text(
    "DELETE FROM source_problems WHERE md5(file) = md5(:file) AND file = :file AND last_seen_at < now()"
)
#: The bad entries of a file no run reads any more are kept ``VEILLE_PROBLEMS_KEPT_DAYS``
#: (:attr:`Settings.problems_kept_days <monitors.settings.Settings.problems_kept_days>`). Every
#: load of a file sets its rows' ``last_seen_at`` (or deletes them), so a row not seen for that
#: long is of a file no run, backfill or worker has read since: a file dropped, renamed or moved.
_PROBLEMS_STALE = text(
    "DELETE FROM source_problems WHERE last_seen_at < now() - make_interval(days => :days)"
)


def pg_text(value: str | None) -> str | None:
    """A value PostgreSQL's text takes: a TOML string may hold a NUL (``\\u0000``), text may not."""
    return None if value is None else value.replace("\x00", "\ufffd")


def record_problems(session: Session, read: SourcesFile) -> None:
    """Keep ``source_problems`` to the bad entries of the file ``read`` as this load found
    them, where a user can query them: each one upserted (``last_seen_at`` now, its
    ``first_seen_at`` kept), the file's rows this load did not find (fixed, or moved to
    another line) deleted, and the rows of any file no load has seen for
    ``VEILLE_PROBLEMS_KEPT_DAYS`` (no run reads it any more). A text read without a file
    (``read.path`` None) records nothing."""
    if read.path is None:
        return
    session.execute(_PROBLEMS_STALE, {"days": get_settings().problems_kept_days})
    file = pg_text(str(read.path))
    rows = {  # one row per (line, reason): entries of one line (an inline array) may share one
        (bad.line, bad.reason): {
            "file": file,
            "line": bad.line,
            "name": pg_text(bad.source_name),
            "url": pg_text(bad.url),
            "reason": pg_text(bad.reason),
        }
        for bad in reversed(read.bad)  # the first entry of a line and reason wins
    }
    if rows:
        session.execute(_PROBLEMS, as_rows(list(rows.values())))
    session.execute(_PROBLEMS_FIXED, {"file": file})


def recorded_problems(session: Session, file: Path | None = None) -> list[SourceProblem]:
    """The rows of ``source_problems`` (of ``file``, absolute, if given): the bad entries each
    file's last load by a run, a backfill or a worker found, by file and line; not those of a
    file no load has seen for ``VEILLE_PROBLEMS_KEPT_DAYS`` (the next run deletes them)."""
    kept = func.now() - func.make_interval(0, 0, 0, get_settings().problems_kept_days)
    query = (
        select(SourceProblem)
        .where(SourceProblem.last_seen_at >= kept)
        .order_by(SourceProblem.file, SourceProblem.line, SourceProblem.reason)
    )
    if file is not None:
        query = query.where(SourceProblem.file == pg_text(str(file)))
    return list(session.scalars(query))


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
