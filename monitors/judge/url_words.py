"""A page's address read as words of a topic: its URL path's slug, a weak zone of relevance.

``monitors.judge.relevance`` scans these words as a piece of their own (``[zones] url``) for a
text without a title: the address says what the page is about.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from monitors.judge.textfold import fold
from monitors.judge.topic import Topic

#: path words of no meaning: file extensions and the like
_URL_NOISE = frozenset({"html", "htm", "shtml", "php", "asp", "aspx", "jsp", "amp", "index"})
#: elided articles and prepositions that URL slugs glue to the next word ("sommet-pour-lia",
#: "lintelligence-artificielle", "daction")
_URL_ELISIONS = ("l", "d")
_VOWELS = frozenset("aeiouyh")


def url_words(url: str | None, topic: Topic) -> str:
    """The words of a URL's path as the topic reads them: ``https://x.fr/2025/02/10/sommet-pour-lia-a-paris``
    -> "2025 sommet pour l IA a paris".

    The host and query say nothing of the subject ("nation.ai", "?p=7562") and are left out; so
    are numbers other than years, identifiers mixing letters and digits (longer than 6
    characters: "g7" and "cop28" stay) and file extensions. An elided article glued to its word
    ("lia", "lintelligence") is split off when the rest is a word the topic's patterns start
    with, and words of case-sensitive patterns take their case ("ia" -> "IA"): slugs are lower
    case.
    """
    if not url:
        return ""
    try:
        path = unquote(urlsplit(url.strip()).path)
    except ValueError:
        return ""
    first = topic.matcher.first
    words: list[str] = []
    for token in fold(path).split():
        if token.isdigit():
            if len(token) == 4 and token[:2] in ("19", "20"):
                words.append(token)
            continue
        if token in _URL_NOISE or (len(token) > 6 and not token.isalpha()):
            continue
        if (
            len(token) > 2
            and token[0] in _URL_ELISIONS
            and token[1] in _VOWELS
            and token[1:].encode() in first
        ):
            words.append(token[0])
            token = token[1:]
        words.append(topic.url_cased.get(token, token))
    return " ".join(words)
