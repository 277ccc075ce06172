"""Boilerplate learned per site: blocks that recur across a site's pages are its chrome.

A monitor sees many pages of each site. A block (a line of the extracted text) that comes
back on several of a site's pages — a "Lire aussi" box, a newsletter prompt, a share bar, a
subscription pitch the extractor kept — is that site's boilerplate, whatever its words. The
same goes for the segments of its ``<title>``s: the one every title shares is the site's name.

Pure functions here (fingerprints, the profile, removal); :mod:`monitors.judge.site_profiles`
keeps the counts in PostgreSQL (table ``site_blocks``, migration 0014). A block counts once
per page, and becomes boilerplate when :data:`MIN_PAGES` distinct pages of the site carried
it. Removal never empties an article: when the known blocks are most of a text, the text is
kept as extracted.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: Pages of a site that must carry a block before it is boilerplate.
MIN_PAGES = 3
#: Longer lines are article paragraphs even when they repeat (a syndicated copy, a quote).
MAX_BLOCK_CHARS = 400
#: Learned removal keeps the text as extracted when it would leave less than this share.
MIN_KEPT_SHARE = 0.3
#: Separators between a title and a site's name; not ":" nor quotes, which headlines use.
_SEPARATORS = re.compile(r"\s+[|\-–—•·~]{1,2}\s+|\s*[|•]\s*|\s+//\s+")


def site_of(url: str) -> str:
    """The site a page belongs to: its host name without ``www.``."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


#: A run of characters that are not alphanumeric (``str.isalnum``): ``[\W_]`` matches exactly
#: those (checked over every code point), in one C scan instead of a Python test per character.
_NOT_ALNUM = re.compile(r"[\W_]+")


def _norm(line: str) -> str:
    folded = unicodedata.normalize("NFKC", line).casefold()
    return " ".join(_NOT_ALNUM.sub(" ", folded).split())


def _digest(normed: str) -> int:
    digest = hashlib.blake2b(normed.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def fingerprint(line: str) -> int:
    """A signed 64-bit fingerprint of a block, blind to case, punctuation and spacing."""
    return _digest(_norm(line))


def block_fingerprint(line: str) -> int | None:
    """The fingerprint of a line that could be boilerplate (short enough, with some letters),
    else None."""
    s = line.strip()
    if not 2 <= len(s) <= MAX_BLOCK_CHARS:
        return None
    normed = _norm(s)
    return _digest(normed) if normed else None


def block_fingerprints(text: str) -> list[int]:
    """The distinct fingerprints of a text's blocks that could be boilerplate (short enough,
    with some letters), sorted (the database takes their row locks in that order)."""
    return sorted({fp for line in text.split("\n") if (fp := block_fingerprint(line)) is not None})


def title_segments(title: str | None) -> list[str]:
    """The parts of a ``<title>`` between separators ("Headline | Site" -> both)."""
    if not title:
        return []
    parts = [p.strip() for p in _SEPARATORS.split(title)]
    return [p for p in parts if p and _norm(p)] if len(parts) > 1 else []


@dataclass(frozen=True)
class SiteProfile:
    """What a site's earlier pages taught: its boilerplate blocks and its title affixes."""

    site: str
    blocks: frozenset[int] = frozenset()
    title_affixes: tuple[str, ...] = ()


@dataclass
class Removal:
    text: str
    removed: list[str] = field(default_factory=list)
    kept_all: bool = False  # the known blocks were most of the text: nothing removed


def remove_known(text: str, profile: SiteProfile | None) -> Removal:
    """The text without the site's known boilerplate blocks; never emptied."""
    if profile is None or not profile.blocks:
        return Removal(text)
    kept: list[str] = []
    removed: list[str] = []
    for line in text.split("\n"):
        s = line.strip()
        if s and len(s) <= MAX_BLOCK_CHARS and fingerprint(s) in profile.blocks:
            removed.append(s[:80])
        else:
            kept.append(line)
    if not removed:
        return Removal(text)
    out = "\n".join(kept).strip()
    if len(out) < MIN_KEPT_SHARE * len(text.strip()):
        return Removal(text, [], kept_all=True)
    return Removal(out, removed)
