"""JSON Feed (https://www.jsonfeed.org/version/1.1/ and 1.0) read into what feedparser gives of an
RSS or Atom feed, so :func:`monitors.collect.feeds.parse_feed` turns both into entries alike.

A body is a JSON Feed by its top-level ``version`` (``https://jsonfeed.org/version/...``); the
content type (``application/feed+json``, ``application/json``) is only a hint. Each item gives
a link (``url``, else ``external_url``, else an ``id`` that is an http(s) URL), a title, a
summary (``summary``, else ``content_text``, else ``content_html`` cleaned by feedparser's
sanitizer as an RSS description is), its authors (1.1 ``authors``, 1.0 ``author``, else the
feed's), its dates, read by feedparser's date parsers as RSS dates are, and its own
``language`` (the declared language of its row, before the feed's). Tags have no place in
veille's entries (RSS categories have none either). A feed that says it is finished
(``"expired": true``: it will not update again) is read, and said (``feed["expired"]``): the
poll warns of it, not as a malformed feed (the spec allows it; nothing in it is wrong).

An item that cannot be read (not an object, no http(s) URL) is left out and a value of the
wrong type or a date that does not parse is ignored, each with a reason; the rest of the feed
is read. Invalid JSON, or JSON that is not a JSON Feed, raises :class:`JsonFeedError`; JSON
that ends before its document does (a response cut short) raises it marked ``cut``, which the
poll records as a transient error (retried with backoff), as feedparser reads a cut RSS feed
as malformed, not absent, and Media Cloud's rss-fetcher counts a parse error as a soft
failure.

Written here rather than taken from a library: the JSON Feed packages on PyPI are small and
unmaintained (jsonfeed 0.0.1 of 2017, pyjsonfeed 1.0.0 of 2018) or fail a whole feed on one bad
item (jsonfeed-util raises when an item has no id); fastfeedparser and feedparser-rs read
JSON Feed but neither takes ``external_url``, parses dates by feedparser's rules or says why
an item was left out, and fastfeedparser raises on ``"items": {}``. The format is plain JSON
with a dozen fields; the standard library's parser reads it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin

from feedparser.sanitizer import _sanitize_html
from feedparser.urls import resolve_relative_uris

from monitors.collect.encoding import loads_storable
from monitors.dates import parse_feed_date, unreal_date
from monitors.errors import describe

JSON_TYPES = ("application/feed+json", "application/json")
_VERSION = re.compile(r"https?://jsonfeed\.org/version/")
_HTTP = ("http://", "https://")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
MAX_REASONS = 3  # reasons spelled out in the warning; the others are counted


class JsonFeedError(ValueError):
    """The body is JSON (or labelled JSON) but no JSON Feed can be read from it; ``cut`` when
    the body ends before its document does (a transfer cut short: worth trying again)."""

    def __init__(self, message: str, cut: bool = False) -> None:
        super().__init__(message)
        self.cut = cut


# a whole string, a bracket, or the quote that opens a string the text ends inside
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[][{}]|"')


def _ends_early(text: str, error: json.JSONDecodeError) -> bool:
    """Whether ``text`` is a JSON document cut short: it ends inside a string or with a bracket
    still open, and the decoder failed there (in that last string, or at the very end), not
    on something wrong before it."""
    depth, open_string = 0, None
    for token in _TOKENS.finditer(text):
        mark = token.group()
        if mark == '"':
            open_string = token.start()
            break
        if mark in "[{":
            depth += 1
        elif mark in "]}":
            depth -= 1
    if open_string is not None:
        return error.pos >= open_string
    return depth > 0 and error.pos >= len(text.rstrip())


def looks_like_json(content: bytes, encoding: str, content_type: str | None) -> bool:
    """Whether to read the body as JSON: it opens with ``{`` or ``[``, or it is labelled JSON
    and does not open with ``<`` (an XML feed served as JSON is read as XML)."""
    head = content[:1024].decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")
    if head[:1] in ("{", "["):
        return True
    mime = (content_type or "").split(";")[0].strip().lower()
    return mime in JSON_TYPES and not head.startswith("<")


def _show(value: Any, width: int = 60) -> str:
    """A value as it would be written in JSON, ASCII only (a reason is stored: no NUL, no lone
    surrogate), shortened."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= width else text[: width - 3] + "..."


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for reasons."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def parse_json_feed(
    content: bytes, encoding: str, base_url: str
) -> tuple[dict[str, Any], list[str], int, bool]:
    """feedparser's shape of a JSON Feed body (``version``, ``feed``, ``entries`` with the keys
    :func:`~monitors.collect.feeds.parse_feed` reads), the first reasons for what was left
    out or ignored, how many there were in all, and whether any is more than a date that does
    not parse (the feed is malformed, not only some of its dates). Raises :class:`JsonFeedError`."""
    text = content.decode(encoding, errors="replace").lstrip("\ufeff")
    try:
        doc = loads_storable(text)
    except json.JSONDecodeError as exc:
        # json's "Unterminated string starting at" names its place after it
        where = f"{exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}"
        if _ends_early(text, exc):
            reason = f"the body ends before its document does ({where}; {len(content)} bytes received)"
            raise JsonFeedError(reason, cut=True) from None
        raise JsonFeedError(f"invalid JSON: {where}") from None
    except (ValueError, RecursionError) as exc:  # nested too deep, a number too long
        raise JsonFeedError(f"invalid JSON: {describe(exc)}") from None
    if not isinstance(doc, dict):
        raise JsonFeedError(f"JSON, but not a JSON Feed: the document is {_kind(doc)}, not an object")
    version = doc.get("version")
    if not (isinstance(version, str) and _VERSION.match(version)):
        found = "missing" if "version" not in doc else _show(version)
        raise JsonFeedError(
            f'JSON, but not a JSON Feed: its top-level "version" is {found}'
            ' (a JSON Feed\'s is "https://jsonfeed.org/version/1.1")'
        )
    reader = _Reader(base_url)
    feed: dict[str, Any] = {
        key: value for key in ("title", "language") if (value := reader.text(doc, key, "feed")) is not None
    }
    feed_authors = reader.authors(doc, "feed")
    if doc.get("expired") is True:  # the spec's only value that means it: true
        feed["expired"] = True  # said by the poll's warning; no problem of the feed (it is allowed)
    items = doc.get("items")
    entries: list[dict[str, Any]] = []
    if not isinstance(items, list):
        reader.problem('no "items" array' if items is None else f'"items" is {_kind(items)}, not an array')
    else:
        for number, item in enumerate(items, 1):
            entry = reader.item(item, number, feed_authors)
            if entry is not None:
                entries.append(entry)
    return (
        {"version": version, "feed": feed, "entries": entries},
        reader.reasons,
        reader.count,
        reader.malformed,
    )


class _Reader:
    """Reads the values of one feed's objects, keeping the first reasons for what it ignores."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.reasons: list[str] = []
        self.count = 0
        self.malformed = False  # a problem other than a date that does not parse

    def problem(self, reason: str, date: bool = False) -> None:
        self.count += 1
        self.malformed = self.malformed or not date
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(reason)

    def text(self, obj: dict[str, Any], key: str, where: str) -> str | None:
        """A string member; another type is ignored with a reason."""
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value
        self.problem(f'{where}: "{key}" is {_kind(value)}, not a string')
        return None

    def authors(self, obj: dict[str, Any], where: str) -> str | None:
        """The names of 1.1's ``authors`` (else 1.0's ``author``), joined with commas."""
        many = obj.get("authors")
        if many is not None and not isinstance(many, list):
            self.problem(f'{where}: "authors" is {_kind(many)}, not an array')
            many = None
        one = obj.get("author")
        people = many if many else [one] if one is not None else []
        names = []
        for person in people:
            name = person.get("name") if isinstance(person, dict) else person  # or a bare name
            if isinstance(name, str) and name.strip():
                names.append(name.strip())
        return ", ".join(dict.fromkeys(names)) or None

    def link(self, item: dict[str, Any], where: str) -> str | None:
        """``url`` (resolved against the feed's URL, as RSS links are), else ``external_url``,
        else an ``id`` that is an http(s) URL, the first that is http(s)."""
        for key in ("url", "external_url", "id"):
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                continue
            value = value.strip()
            if _CONTROL.search(value):  # a JSON escape can carry NUL, which no database column takes
                if key != "id":
                    self.problem(f'{where}: "{key}" {_show(value)} holds a control character')
                continue
            if key == "id":
                if value.startswith(_HTTP):
                    return value
                continue
            try:
                if urljoin(self.base_url, value).startswith(_HTTP):
                    return value
            except ValueError:  # e.g. a malformed IPv6 host: not a URL
                continue
        return None

    def date(self, item: dict[str, Any], key: str, where: str) -> Any:
        """A date by feedparser's rules (RFC 3339 and the others RSS dates are read by), as the
        UTC ``struct_time`` feedparser gives; one that does not parse is ignored with a reason."""
        value = self.text(item, key, where)
        if value is None or not value.strip():
            return None
        parsed = parse_feed_date(value.strip())
        if parsed is None:
            why = unreal_date(value)
            said = f'{where}: "{key}" {_show(value)} is not a date' + (f" ({why})" if why else "")
            self.problem(said, date=True)
        return parsed

    def item(self, item: Any, number: int, feed_authors: str | None) -> dict[str, Any] | None:
        """One item as feedparser's entry, or None (with a reason) when it cannot be an entry."""
        if not isinstance(item, dict):
            self.problem(f"item {number} is {_kind(item)}, not an object")
            return None
        ident = item.get("id")
        where = f"item {number}" + (f" (id {_show(ident)})" if isinstance(ident, str | int) else "")
        link = self.link(item, where)
        if link is None:
            self.problem(f'{where} has no http(s) "url", "external_url" or "id" (left out)')
            return None
        entry: dict[str, Any] = {"link": link}
        title = self.text(item, "title", where)
        if title is not None:
            entry["title"] = title
        summary = self.text(item, "summary", where) or self.text(item, "content_text", where)
        html = self.text(item, "content_html", where)
        if not (summary and summary.strip()) and html and html.strip():
            summary = self._html(html)
        if summary is not None:
            entry["summary"] = summary
        author = self.authors(item, where) or feed_authors
        if author is not None:
            entry["author"] = author
        language = self.text(item, "language", where)
        if language is not None and language.strip():
            entry["language"] = language
        for key, out in (("date_published", "published_parsed"), ("date_modified", "updated_parsed")):
            when = self.date(item, key, where)
            if when is not None:
                entry[out] = when
        return entry

    def _html(self, html: str) -> str:
        """HTML content made safe as feedparser makes an RSS description: relative links
        resolved against the feed's URL, scripts and styles dropped."""
        resolved = resolve_relative_uris(html, self.base_url, "utf-8", "text/html")
        return str(_sanitize_html(resolved, "utf-8", "text/html"))
