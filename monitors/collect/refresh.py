"""An HTML meta refresh read as a browser reads it: where a stub page sends its reader
(:func:`meta_refresh`), and why one is not followed (:func:`refresh_refused`); :func:`fetch
<monitors.collect.http.fetch>` follows one, for articles."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from monitors.collect.results import HTML_TYPES, FetchResult

#: The longest meta refresh delay followed, in seconds: a stub's "redirected in 5 seconds";
#: a page that reloads itself, or goes to the home page, after minutes is a page to read.
REFRESH_MAX_DELAY = 10.0


_REFRESH_HINT = re.compile(rb"http-equiv\s*=\s*[\"']?\s*refresh", re.I)


#: A ``<meta>`` tag that names ``http-equiv`` somewhere: a candidate, whose attributes are then
#: read by :class:`_MetaAttributes` (the name may sit in another attribute's value)
_META_TAG = re.compile(rb"<meta\b[^>]*?http-equiv[^>]*>", re.I)
_META_TAG_TEXT = re.compile(_META_TAG.pattern.decode(), re.I)


class _MetaAttributes(HTMLParser):
    """The attributes of the first start tag fed, as the stdlib's HTML tokenizer reads them:
    names in lower case, values unquoted and their character references decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, str] = {}
        self.seen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.seen:
            self.seen = True
            for name, value in attrs:  # a repeated attribute: the first counts, as in a browser
                self.attrs.setdefault(name, value or "")

    handle_startendtag = handle_starttag


def _refresh_contents(tags: Iterable[str]) -> Iterator[str]:
    """The ``content`` of each of ``tags`` (``<meta>`` tags) whose ``http-equiv`` attribute
    is ``refresh``: not a tag that only names it in another attribute's value
    (``content="... http-equiv=refresh"``, ``data-x="http-equiv"``)."""
    for tag in tags:
        parser = _MetaAttributes()
        parser.feed(tag)
        parser.close()
        attrs = parser.attrs
        if attrs.get("http-equiv", "").strip(_WHITESPACE).lower() == "refresh" and "content" in attrs:
            yield attrs["content"]


def _decoded(tag: bytes) -> str:
    try:
        return tag.decode("utf-8")
    except UnicodeDecodeError:
        return tag.decode("cp1252", "replace")


#: what a browser running scripts does not read: comments, and <noscript> (a "please enable
#: JavaScript" page that a refresh there leads to is no article)
_NOT_READ = re.compile(rb"<!--.*?-->|<noscript\b.*?</noscript\s*>", re.I | re.S)


def meta_refresh(result: FetchResult) -> str | None:
    """Where an HTML page's ``<meta http-equiv="refresh" content="0; url=...">`` sends a
    browser (the URL, resolved against the page's), when it does so within
    :data:`REFRESH_MAX_DELAY` seconds; None for any other page, or a refresh with no URL (a
    reload). Read as the HTML standard reads ``content``: a delay, then ``;`` or ``,``, an
    optional ``url=``, the URL, quoted or not."""
    body = result.content or b""
    if not result.ok or result.content_type not in {"", *HTML_TYPES} or not _REFRESH_HINT.search(body):
        return None
    tags = (_decoded(m.group(0)) for m in _META_TAG.finditer(_NOT_READ.sub(b"", body)))
    for value in _refresh_contents(tags):
        target = _refresh_url(value)
        if target is not None:
            try:
                return urljoin(result.final_url, target)
            except ValueError:
                return target  # refused as a malformed URL by the next hop's check
    return None


_WHITESPACE = " \t\n\r\f"  # the HTML standard's ASCII whitespace


def parse_refresh(value: str) -> tuple[float, str] | None:
    """A refresh's ``content`` read by the HTML standard's shared declarative refresh steps:
    its delay and its URL ("" for none: the page reloads itself), or None when a browser
    ignores it (no delay; a delay followed by anything but ``;``, ``,`` or a space:
    ``"0url=/a"``, ``"5abc"``). After the delay, an optional ``;`` or ``,``, an optional
    ``url`` and ``=`` (any case, spaces around ``=``), the URL, quoted or not."""
    rest = value.lstrip(_WHITESPACE)
    m = re.match(r"(\d*)[\d.]*", rest)
    if m is None or not m.group(0):
        return None
    delay = float(m.group(1) or 0)
    rest = rest[m.end() :]
    if rest and rest[0] not in f";,{_WHITESPACE}":
        return None
    rest = rest.lstrip(_WHITESPACE)
    if rest[:1] in {";", ","}:
        rest = rest[1:].lstrip(_WHITESPACE)
    if named := re.match(rf"url[{_WHITESPACE}]*=[{_WHITESPACE}]*", rest, re.I):
        rest = rest[named.end() :]
    if rest[:1] in {"'", '"'}:
        rest = rest[1:].split(rest[0], 1)[0]
    return delay, rest.strip(_WHITESPACE)


def refreshes_to_url(html: str) -> bool:
    """Whether ``html`` holds a meta refresh that names a URL, whatever its delay: a redirect
    page's, whole without a body (not a reload timer, ``content="300"``)."""
    for value in _refresh_contents(m.group(0) for m in _META_TAG_TEXT.finditer(html)):
        parsed = parse_refresh(value)
        if parsed is not None and parsed[1]:
            return True
    return False


def _refresh_url(value: str) -> str | None:
    """The URL of a refresh's ``content`` when its delay is short enough, else None."""
    parsed = parse_refresh(value)
    if parsed is None or parsed[0] > REFRESH_MAX_DELAY:
        return None
    return parsed[1] or None


def refresh_refused(target: str, current: str, visited: list[str], refreshed: bool) -> str | None:
    """Why a meta refresh from ``current`` to ``target`` is not followed (a permanent failure),
    or None: a URL that is not http(s), one fetched already (a loop), a second refresh."""
    try:
        scheme = urlsplit(target).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in {"http", "https"}:
        return f"meta refresh to a non-http URL: {current} refreshes to {target[:200]!r}"
    if target in visited:
        return f"meta refresh loop: {current} refreshes to {target}, already fetched"
    if refreshed:
        return f"meta refresh again: {current} refreshes to {target} (veille follows one meta refresh)"
    return None
