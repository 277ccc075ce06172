"""Soft 404s: a 200 page that is a "not found" page in disguise (its title or first heading
says so). A removed article answered this way was stored as an article whose text was the
error page's; a web-archive capture of it is no page of the site's either."""

from __future__ import annotations

import re

_SOFT_404 = re.compile(
    r"\b(?:404|page (?:introuvable|non trouv[ée]e|inexistante)|(?:page|article|contenu) (?:not found|"
    r"introuvable)|not found|cette page n.existe (?:pas|plus)|erreur 404)\b",
    re.I,
)
_TITLE = re.compile(rb"<(title|h1)\b[^>]*>(.*?)</\1\s*>", re.I | re.S)

#: A live page whose text has at least this many words is an article even if its title says
#: "404" (an article about the Peugeot 404): error pages are a few lines.
ARTICLE_MIN_WORDS = 150


def soft_404(html: bytes, what: str = "capture") -> str | None:
    """Why a 200 page is a "not found" page in disguise (its title or first heading says
    so), or None. ``what`` names the page in the reason (a web-archive capture, a page)."""
    for match in _TITLE.finditer(html[:200_000]):
        text = re.sub(rb"<[^>]+>", b" ", match.group(2)).decode("utf-8", "replace")
        if _SOFT_404.search(text):
            return f"soft 404: the {what}'s {match.group(1).decode().lower()} says {text.strip()[:80]!r}"
    return None
