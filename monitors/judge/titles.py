"""The article's title, chosen among the candidates a page offers (:func:`choose_title`), and
the site's names taken off it (:func:`site_keys`, :func:`strip_site`).

The page's own heading wins when it agrees with the metadata (``og:title``, JSON-LD
``headline``, ``twitter:title``, ``<title>``): the ``<h1>`` keeps the typography editors chose,
while metadata titles carry the site's name and SEO rewrites. An ``<h1>`` that only adds a
kicker before a metadata title gives way to that title. With no agreeing ``<h1>``, a single
``<h1>`` of three words or more that is not the site's name is the title; else the first
metadata title, with the site's name taken off (segments after or before a separator that name
the site: ``og:site_name``, the host name, or the affixes learned from the site's other pages).
Measured on the shared corpus (``bench/extract.py``; see docs/extraction.md).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from urllib.parse import urlsplit

from monitors.judge.metadata import PageMeta

_SEPARATORS = re.compile(r"\s+[|\-–—•»«›‹·/:~]{1,2}\s+|\s*[|•»«›‹]\s*|\s*:\s+|\s+::?\s+|\s*//\s*")


def _key(value: str) -> str:
    """Comparison key: letters and digits only, case-folded, accents kept."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", value).casefold() if ch.isalnum())


#: Labels that themes put between a site's name and a headline (WordPress's "Blog Archive").
_ARCHIVE_LABELS = {"blogarchive", "blogarchiv"}


_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe"})


def _forms(value: str) -> set[str]:
    """The comparison keys of a name: as written, without its accents ("Télérama":
    "telerama") and with German's umlauts spelt out ("Süddeutsche": "sueddeutsche"), as host
    names write them."""
    key = _key(value)
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", key) if not unicodedata.combining(ch))
    spelt = "".join(
        ch for ch in unicodedata.normalize("NFKD", key.translate(_TRANSLIT)) if not unicodedata.combining(ch)
    )
    return {k for k in (key, bare, spelt) if k}


def _is_site(segment: str, site_keys: set[str]) -> bool:
    forms = _forms(segment)
    if not forms:
        return True
    return any(
        key == s or (len(key) >= 3 and key in s) or (len(s) >= 4 and s in key and 2 * len(s) >= len(key))
        for key in forms
        for s in site_keys
    )


#: Words an institution's own account adds to its name ("lemonde_officiel", "franceinfo_tv"),
#: besides a two-letter country or language code ("lemondefr", "de_welt", "cducsubt").
_ACCOUNT_AFFIXES = frozenset(
    {"info", "infos", "news", "actu", "actus", "officiel", "officielle", "official", "offiziell"}
    | {"online", "live", "tv", "direct", "presse", "press", "media", "medias", "medien", "hq"}
)


def _account_affix(value: str) -> bool:
    """Whether what stands beside the site's name in an account may (nothing, a code, a word)."""
    return not value or (len(value) == 2 and value.isalpha()) or value in _ACCOUNT_AFFIXES


def names_site(value: str, keys: set[str]) -> bool:
    """Whether a post's author or account is the site's own (:func:`site_keys`): one of its
    names, ignoring case, accents and separators, with at most a two-letter code or a word
    such as "news", "info", "officiel" before or after it ("lemondefr", "Le Monde Officiel").

    Stricter than a title's segment (:func:`_is_site`, a name containing or contained in
    one): a fan's ("lemondefr_fan"), a person's ("Marie" on mariefrance.fr) or another
    institution's ("Weltbank" on welt.de) post is what the article quotes."""
    for form in _forms(value):
        for key in keys:
            if form == key:
                return True
            if len(key) < 3:
                continue
            start = form.find(key)
            while start >= 0:
                if _account_affix(form[:start]) and _account_affix(form[start + len(key) :]):
                    return True
                start = form.find(key, start + 1)
    return False


#: Second-level labels under a country's domain (``example.com.br``, ``example.co.uk``):
#: the site's name is the label before them.
_SECOND_LEVEL = {"com", "co", "org", "net", "gov", "gouv", "ac", "edu", "or", "ne", "go", "gv", "nic"}


def site_keys(meta: PageMeta, url: str | None, learned: tuple[str, ...] = ()) -> set[str]:
    """Comparison keys of the names the site goes by: declared names, host labels, learned affixes."""
    keys = {k for n in [*meta.site_names, *learned] for k in _forms(n)}
    host = (urlsplit(url).hostname or "") if url else ""
    labels = [lab for lab in host.split(".") if lab not in {"www", "m", "amp"}]
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL:
        labels = [*labels[:-2], "".join(labels[-2:])]
    if len(labels) >= 2:
        keys.add(_key(labels[-2]))
        keys.add(_key("".join(labels[-2:])))
    return {k for k in keys if len(k) >= 2}


def _ends_with_site(segment: str, keys: set[str]) -> bool:
    """A title's end segment names the site: it is one of its names (:func:`_is_site`), or
    a name of three words at most led by one of them ("ZEIT ONLINE", "heise online", "NDR
    Info" on zeit.de, heise.de, ndr.de: the host's label, the edition's word after it)."""
    if _is_site(segment, keys):
        return True
    words = segment.split()
    return 1 < len(words) <= 3 and any(len(k) >= 3 and k in keys for k in _forms(words[0]))


def strip_site(title: str, keys: set[str]) -> str:
    """Take the site's name off the ends of a title ("Headline | Site", "Site - Headline").

    A segment that repeats a part of a segment naming the site ("Jugendwerk (ejw) - EJW") or
    is a generic archive label ("Blog Archive") names the site too."""
    parts = [p for p in _SEPARATORS.split(title)]
    seps = _SEPARATORS.findall(title)
    if len(parts) < 2:
        return title
    keys = keys | {k for p in parts if _is_site(p, keys) for k in _forms(p)} | _ARCHIVE_LABELS
    start, end = 0, len(parts)
    while end - start > 1 and _ends_with_site(parts[end - 1], keys):
        end -= 1
    while end - start > 1 and _ends_with_site(parts[start], keys):
        start += 1
    if (start, end) == (0, len(parts)):
        return title
    out = parts[start]
    for i in range(start + 1, end):
        out += seps[i - 1] + parts[i]
    return out.strip()


def _agrees(h1: str, ref: str) -> str | None:
    """How an <h1> relates to a metadata title: 'same', 'kicker' (h1 = kicker + ref), 'h1'
    (h1 is the ref, shortened or completed), or None."""
    a, b = _key(h1), _key(ref)
    if not a or not b:
        return None
    if a == b:
        return "same"
    if len(a) > len(b) and a.endswith(b) and len(b) >= 12:
        return "kicker"
    if (b.startswith(a) or a.startswith(b) or b.endswith(a)) and min(len(a), len(b)) >= 12:
        return "h1"
    wa, wb = set(_key_words(h1)), set(_key_words(ref))
    if wa and wb and len(wa & wb) / len(wa | wb) >= 0.6:
        return "h1"
    return None


def _key_words(value: str) -> list[str]:
    return [w for w in (_key(w) for w in value.split()) if w]


_ELLIPSIS = re.compile(r"\s*(?:…|\.{3})\s*$")


def cut_or_padded(title: str, other: str) -> bool:
    """Whether a metadata title is another one of the page's cut short (``"Le sommet de
    Paris réunit…"`` for ``"Le sommet de Paris réunit cent pays"``: share cards cut titles
    at a length) or with segments around it that the other has not, shorter than what they
    share (``"Le sommet de Paris réunit cent pays | Économie"``: a section's or a site's
    name that the page does not declare as its name)."""
    a, b = _key(title), _key(other)
    if len(b) < 12 or a == b:
        return False
    if _ELLIPSIS.search(title):
        cut = _key(_ELLIPSIS.sub("", title))
        return len(cut) >= 12 and len(b) > len(cut) and b.startswith(cut)
    if len(b) >= len(a):
        return False
    parts = _SEPARATORS.split(title)
    words = [len(p.split()) for p in parts]
    for i, j in itertools.combinations(range(len(parts) + 1), 2):
        if (i, j) != (0, len(parts)) and "".join(_key(p) for p in parts[i:j]) == b:
            return sum(words) - sum(words[i:j]) < sum(words[i:j])
    return False


def choose_title(meta: PageMeta, keys: set[str]) -> tuple[str | None, str]:
    """The article's title and where it came from (for the evidence)."""
    metas = [
        ("og:title", meta.og_title),
        ("json-ld headline", meta.ld_headline),
        ("twitter:title", meta.twitter_title),
        ("<title>", meta.html_title),
    ]
    refs = [(src, strip_site(t, keys)) for src, t in metas if t]
    refs = [(src, t) for src, t in refs if t and not _is_site(t, keys)]
    # a metadata title that another one shows to be cut or padded comes after the others
    others = list(refs)  # (list.sort empties the list it sorts while it sorts)
    refs.sort(key=lambda r: any(cut_or_padded(r[1], o[1]) for o in others))
    h1s = [h for h in meta.h1 if not _is_site(h, keys) and len(h) <= 300]
    verdicts = [(src, ref, h, _agrees(h, ref)) for src, ref in refs for h in h1s]
    for src, ref, h, verdict in sorted(verdicts, key=lambda v: {"kicker": 0, "same": 1}.get(v[3] or "", 2)):
        if verdict == "kicker":
            return ref, f"{src} (the <h1> adds a kicker)"
        if verdict:
            return h, f"<h1> ({verdict} as {src})"
    if len(h1s) == 1 and len(h1s[0].split()) >= 3:
        return h1s[0], "<h1> (the only one)"
    if refs:
        return refs[0][1], refs[0][0]
    return None, "none"
