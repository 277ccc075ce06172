"""Text deduplication: exact hashes, MinHash near-duplicates with LSH band keys, wire detection, diffs.

Everything here is pure (no database): the store keeps ``text_hash`` for exact duplicates, the
``signature`` (NUM_PERM unsigned 32-bit ints) for verification and one ``band_keys`` row per band
in ``article_bands(band, key, article_id)``. A candidate lookup is one indexed query on
(band, key); candidates are then confirmed with ``is_near_duplicate``.

Parameters (tuned on the pairs of tests/eval/make_dedup_pairs.py, measured by tests/test_dedup_eval.py):
word 5-gram shingles of the accent-folded body text, each hashed to 32 bits from its words'
CRC-32 (``_shingle_hashes``: vectorised, no string per shingle; datasketch's default SHA-1 per
shingle was half the stage's cost), then datasketch's affine32 MinHash applied to the array
(``_minhash``); NUM_PERM = 128 permutations in BANDS = 32
bands of ROWS = 4 rows. A pair with Jaccard J shares at least one band key with probability
1 - (1 - J**4)**32: 0.56 at J = 0.4, 0.74 at 0.45, 0.87 at 0.5, 0.99 at 0.6, but 3e-3 at
J = 0.1 and 3e-7 at J = 0.01 (unrelated news), so at 1M stored articles a lookup returns a
handful of candidates, not thousands (with 40 bands of 3 rows, LSH candidate precision fell
to 0.84 on the eval set's topic-alike pairs). THRESHOLD = 0.45 on the estimated Jaccard sits between the
lightly edited copies of the eval set (true Jaccard >= 0.5, most above 0.6) and independent
reports of the same event or one party's template statements (true Jaccard <= 0.15, estimates
<= 0.25), leaning to precision: merging two different articles loses one, missing a
duplicate only shows it twice.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import unicodedata
import zlib
from typing import TYPE_CHECKING, Any

from monitors.group.copies import INVISIBLE, split_words

if TYPE_CHECKING:  # numpy is imported at the first signature: a run with no page does without it
    import numpy as np

__all__ = [
    "SIGNATURE_SCHEME",
    "BANDS",
    "MIN_SHINGLE_TOKENS",
    "NUM_PERM",
    "ROWS",
    "SHINGLE_SIZE",
    "THRESHOLD",
    "band_keys",
    "detect_wire",
    "diff_summary",
    "fingerprint",
    "is_near_duplicate",
    "normalize_text",
    "shingles",
    "signature",
    "similarity",
    "text_hash",
]

NUM_PERM: int = 128
BANDS: int = 32
ROWS: int = 4
THRESHOLD: float = 0.45
SHINGLE_SIZE: int = 5
#: The words signatures are made of (articles.signature_scheme): 1 before Chinese, Japanese and
#: the other scripts written without spaces were cut into character bigrams (a run was one
#: word), 2 since. Only a text holding such a run signs differently under the two.
SIGNATURE_SCHEME: int = 2
# Lines with fewer words than this are dropped before shingling (bylines, dates, captions'
# credits, "Lire aussi", section labels), unless that would leave too little text.
MIN_LINE_WORDS: int = 6
# Below this many tokens after boilerplate removal, all lines are kept.
MIN_SHINGLE_TOKENS: int = 40
SEED: int = 20250210  # fixed: signatures are stored, so they must never change between runs
# datasketch >= 2.0's "affine32" hashing scheme (computed here, checked against datasketch by
# tests/test_dedup.py), pinned so stored signatures stay comparable across upgrades.
_MAX_HASH = (1 << 32) - 1

assert BANDS * ROWS == NUM_PERM

# --- normalisation -------------------------------------------------------------------------

_TRANSLATE: dict[str, str] = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u00b4\u0060", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\u2039\u203a", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63", "-"),
    **dict.fromkeys(INVISIBLE, ""),
}
# A regex touches only the few matching characters; str.translate with a dict looks up every
# character of non-ASCII text and was the costliest step of hashing and shingling.
_TRANSLATE_RE = re.compile("[" + "".join(_TRANSLATE) + "]")


def _translate(text: str) -> str:
    return _TRANSLATE_RE.sub(lambda m: _TRANSLATE[m.group()], text)


_WS = re.compile(r"\s+")
# French typography puts (narrow) spaces inside guillemets and before ;:!? - English does not.
_PUNCT = r"[\"'();:!?,.\[\]]"
# On whitespace collapsed to single spaces: a space before or after punctuation. Starting with
# the literal space lets the regex engine skip to spaces (a leading lookbehind cost 5x more).
_SPACE_AROUND_PUNCT = re.compile(r" (?:(?=" + _PUNCT + r")|(?<=" + _PUNCT + r" ))")


def _normalize_lines(text: str) -> str:
    """NFKC, casefold and one character per quote/dash, line breaks kept: the common first
    step of ``text_hash`` and ``signature`` (``fingerprint`` does it once for both)."""
    return _translate(unicodedata.normalize("NFKC", text).casefold())


def normalize_text(text: str) -> str:
    """Canonical form for exact-duplicate hashing.

    NFKC, casefold, one apostrophe/quote/dash character each, soft hyphens and zero-width
    characters removed, whitespace collapsed and removed around punctuation (so French and
    English spacing around guillemets, colons, etc. hash the same).
    """
    return _collapse(_normalize_lines(text))


def _collapse(normalized: str) -> str:
    return _SPACE_AROUND_PUNCT.sub("", " ".join(normalized.split()))


def _hash_normalized(normalized: str) -> str:
    return hashlib.sha256(_collapse(normalized).encode("utf-8")).hexdigest()


def text_hash(text: str) -> str:
    """sha256 hex digest of ``normalize_text(text)``: equal for exact duplicates."""
    return _hash_normalized(_normalize_lines(text))


# --- shingles and MinHash ------------------------------------------------------------------

_WORD = re.compile(r"\w+")
# What _WORD matches in ASCII text ([0-9A-Za-z_]) kept, every other byte made a space: most lines
# of a folded text are ASCII, and a byte table plus split() is several times faster than findall.
_ASCII_WORD_BYTES = bytes(b if chr(b).isalnum() and b < 128 or b == 0x5F else 0x20 for b in range(256))
# Lines that are page furniture whatever their length.
_BOILERPLATE_START = re.compile(
    r"(?:article r[ée]dig[ée] par|publi[ée] le|publi[ée]$|mis [àa] jour|modifi[ée] le"
    r"|temps de lecture|lire aussi|lire plus tard|[àa] lire aussi|voir aussi|sur le m[êe]me sujet"
    r"|partager$|commentaires?$|connectez-vous|abonnez-vous|inscrivez-vous|newsletter\b"
    r"|il vous reste \d|la suite est r[ée]serv[ée]e|cet article est r[ée]serv[ée]"
    r"|veuillez v[ée]rifier|(?:photo|cr[ée]dit)s?\b|©|\(c\)|source ?:|contact presse)"
)
# Photo captions end with a credit such as "(FREDERIC PETRY / HANS LUCAS / AFP)".
_CAPTION_CREDIT = re.compile(r"\([^()]*/[^()]*\)$")
_BOILERPLATE_MAX_WORDS = 25


def _is_boilerplate(line: str) -> bool:
    """A line (whitespace collapsed, none at its ends) that is page furniture."""
    return bool(_BOILERPLATE_START.match(line) or (line.endswith(")") and _CAPTION_CREDIT.search(line)))


def _words(line: str) -> list[bytes]:
    """``_WORD.findall(line)``, each word UTF-8 encoded (what the shingle hashes read); a
    script written without spaces gives character bigrams (:func:`monitors.group.copies.split_words`)."""
    if line.isascii():
        return line.encode().translate(_ASCII_WORD_BYTES).split()
    return [word.encode() for word in split_words(_WORD, line)]


def _content_tokens(normalized: str) -> list[bytes]:
    """Words (UTF-8) of the body text's lines (normalised and accent-folded), boilerplate and
    very short lines dropped.

    Headlines, bylines, dates and "Lire aussi" links are what differs between copies of one
    dispatch, so they are left out; if that leaves too little (a short or single-line text)
    the words of every non-empty line are kept instead.
    """
    every: list[bytes] = []
    kept: list[bytes] = []
    seen: set[str] = set()
    for raw in normalized.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        words = _words(line)
        every += words
        if line in seen:
            continue
        seen.add(line)
        if len(words) < MIN_LINE_WORDS or (len(words) <= _BOILERPLATE_MAX_WORDS and _is_boilerplate(line)):
            continue
        kept += words
    return every if len(kept) < MIN_SHINGLE_TOKENS else kept


# Combining marks (NFD splits "é" into "e" + U+0301); the main blocks, enough for French.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _fold_accents(text: str) -> str:
    """Drop diacritics: outlets differ on "Etat"/"État", and accents are a common typo."""
    return _COMBINING.sub("", unicodedata.normalize("NFD", text))


def _tokens(normalized: str) -> list[bytes]:
    """Accent-folded words of the body text (UTF-8), in order: what the shingles are made of."""
    return _content_tokens(_fold_accents(normalized))


def shingles(text: str) -> set[str]:
    """Word SHINGLE_SIZE-grams of the normalised body text (what ``signature`` hashes).

    Texts shorter than SHINGLE_SIZE words give one shingle (the whole text); an empty text
    gives no shingles.
    """
    tokens = [t.decode() for t in _tokens(_normalize_lines(text))]
    if not tokens:
        return set()
    if len(tokens) < SHINGLE_SIZE:
        return {" ".join(tokens)}
    return {" ".join(tokens[i : i + SHINGLE_SIZE]) for i in range(len(tokens) - SHINGLE_SIZE + 1)}


# Odd 64-bit multipliers, one per position in a shingle (fixed: they define stored signatures).
_POSITION_MULTIPLIERS = (
    0x9E3779B97F4A7C15,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0xD6E8FEB86659FD93,
    0xFF51AFD7ED558CCD,
)
assert len(_POSITION_MULTIPLIERS) == SHINGLE_SIZE


@functools.cache
def _multipliers() -> np.ndarray:
    import numpy as np

    return np.array(_POSITION_MULTIPLIERS, dtype=np.uint64)


def _shingle_hashes(tokens: list[bytes]) -> np.ndarray:
    """One deterministic 32-bit hash (uint32) per word SHINGLE_SIZE-gram, from token hashes.

    Each word is hashed once (CRC-32 of its UTF-8 bytes); a shingle's hash is the
    high half of sum(word hash * position multiplier) mod 2**64, vectorised over the text.
    This replaces one SHA-1 per shingle string; datasketch's affine32 scheme mixes the value
    again (MurmurHash3 finalizer) before its permutations, so a fast hash is enough.
    """
    import numpy as np

    if not tokens:
        return np.empty(0, dtype=np.uint32)
    words = np.fromiter(map(zlib.crc32, tokens), dtype=np.uint64, count=len(tokens))
    size = min(SHINGLE_SIZE, len(words))
    count = len(words) - size + 1
    acc = np.zeros(count, dtype=np.uint64)
    multipliers = _multipliers()
    for position in range(size):
        acc += words[position : position + count] * multipliers[position]
    return (acc >> np.uint64(32)).astype(np.uint32)


@functools.cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutations for (NUM_PERM, SEED, affine32): a_k odd and b_k, uint32,
    drawn as ``MinHash._init_permutations`` draws them (NumPy's legacy ``RandomState``, whose
    stream NumPy keeps stable). Not through datasketch: importing it imports scipy, 0.3 s of
    CPU on a quiet machine and over 1 s on a loaded one, in every worker that analyses pages;
    tests/test_dedup.py checks these against datasketch's."""
    import numpy as np

    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


@functools.cache
def _fmix32() -> tuple[Any, ...]:
    """MurmurHash3's 32-bit finalizer constants, datasketch's pre-mix for the affine32 scheme."""
    import numpy as np

    return tuple(np.uint32(c) for c in (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16))


def _minhash(hashes: np.ndarray) -> list[int]:
    """``MinHash(NUM_PERM, SEED, scheme="affine32")`` updated with ``hashes`` (uint32): its hash
    values, computed here on the array.

    datasketch's ``update_batch`` takes a Python list and hashes it again through ``hashfunc``:
    the round trip through Python ints cost as much as the permutations. Same arithmetic
    (tests/test_dedup.py checks the values against datasketch's).
    """
    if not len(hashes):
        return [_MAX_HASH] * NUM_PERM
    import numpy as np

    s1, m1, s2, m2, s3 = _fmix32()
    h = hashes ^ (hashes >> s1)
    h *= m1
    h ^= h >> s2
    h *= m2
    h ^= h >> s3
    a, b = _permutations()
    values: list[int] = (np.multiply.outer(h, a) + b).min(axis=0).tolist()
    return values


def _signature_normalized(normalized: str) -> list[int]:
    return _minhash(_shingle_hashes(_tokens(normalized)))


def signature(text: str) -> list[int]:
    """MinHash signature: NUM_PERM unsigned 32-bit ints, deterministic (fixed seed and hash).

    An empty text gives the empty signature (all 2**32 - 1), which ``band_keys`` does not index
    and ``similarity`` treats as similar to nothing.
    """
    return _signature_normalized(_normalize_lines(text))


def fingerprint(text: str) -> tuple[str, list[int]]:
    """``(text_hash(text), signature(text))``, normalising the text once for both (ingest)."""
    normalized = _normalize_lines(text)
    return _hash_normalized(normalized), _signature_normalized(normalized)


def _as_array(sig: list[int]) -> np.ndarray:
    if len(sig) != NUM_PERM:
        raise ValueError(f"signature must have {NUM_PERM} values, got {len(sig)}")
    import numpy as np

    return np.asarray(sig, dtype=np.uint64)


def _is_empty(arr: np.ndarray) -> bool:
    return bool((arr == _MAX_HASH).all())


def band_keys(sig: list[int]) -> list[tuple[int, int]]:
    """One (band index, signed 64-bit key) per band, for ``article_bands``.

    The key is the first 8 bytes of blake2b over the band's ROWS values (not Python's hash(),
    which is salted per process), read as a signed int so it fits PostgreSQL bigint. Identical
    bands give identical keys. The empty signature gives no keys: otherwise all empty texts
    would pile into one huge bucket.
    """
    arr = _as_array(sig)
    if _is_empty(arr):
        return []
    # Same bytes as struct.pack("<4I", *rows) per band, packed once for the whole signature.
    data = arr.astype("<u4").tobytes()
    width = 4 * ROWS
    return [
        (
            band,
            int.from_bytes(
                hashlib.blake2b(data[band * width : (band + 1) * width], digest_size=8).digest(),
                "big",
                signed=True,
            ),
        )
        for band in range(BANDS)
    ]


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of the two shingle sets (share of equal MinHash values).

    0.0 when either signature is empty.
    """
    x, y = _as_array(a), _as_array(b)
    if _is_empty(x) or _is_empty(y):
        return 0.0
    return float((x == y).sum()) / NUM_PERM


def is_near_duplicate(a: list[int], b: list[int]) -> bool:
    """True when ``similarity(a, b) >= THRESHOLD``."""
    return similarity(a, b) >= THRESHOLD


# --- wire agencies ---------------------------------------------------------------------------

_AGENCY_NAMES = {
    "afp": "AFP",
    "agence france-presse": "AFP",
    "agence france presse": "AFP",
    "reuters": "Reuters",
    "ap": "AP",
    "associated press": "AP",
}
_AG = r"(AFP|Agence France[- ]Presse|REUTERS|Reuters|AP|Associated Press)"
# Same as r"\bavec\s+...", written to start with the literal so the regex engine can jump to
# each "avec" instead of trying every position (this was the costliest wire pattern).
_AVEC_CREDIT = re.compile(r"avec(?<=\bavec)\s+" + _AG + r"(?![\w-])")
_INTERVIEW = re.compile(
    r"entretien|interview|[ée]change|contact|conversation|partenariat|accord", re.IGNORECASE
)
# Agencies a dateline credits beside ours ("BERLIN (dpa/AFP) -"): one word or a fixed name each,
# so that a photo credit, a photographer's name and an agency ("(Jean Dupont/AFP)"), is no dateline.
_CO_AGENCY = (
    r"(?:AFP|Agence France[- ]Presse|REUTERS|Reuters|AP|Associated Press|dpa|DPA|EFE|ANSA|Belga|ATS"
    r"|APA|ANP|Kyodo|Xinhua|TASS|PAP|AAP|UPI|Anadolu|AA|Yonhap|Lusa|Europa Press|Bloomberg|SDA|KNA)"
)
_AND = r"\s*[/,]\s*"
_WIRE_PATTERNS = [
    # Dateline: "PARIS (AFP) - ", "Paris, 10 février 2025 (Reuters) – ", "(AP) —", and with
    # several agencies, the first of ours: "PARIS (AFP/Reuters) -", "BERLIN (dpa/AFP) –".
    re.compile(
        r"\((?:" + _CO_AGENCY + _AND + r")*?" + _AG + r"(?:" + _AND + _CO_AGENCY + r")*\)\s*[-\u2013\u2014]"
    ),
    # "(AFP)" / "(Reuters)" / "(avec AFP)" / "(Avec l'AFP)" anywhere. Bare "(AP)" is not enough.
    re.compile(
        r"\((?:[Aa]vec\s+(?:l['\u2019])?)?(AFP|Reuters|REUTERS|Agence France[- ]Presse"
        r"|Associated Press)\)"
    ),
    # Credit: "franceinfo avec AFP", "Le Figaro avec AFP et Reuters" (no article: a credit,
    # not "un entretien avec l'AFP").
    _AVEC_CREDIT,
    # Line starting with the agency and a dash: "AFP - Le président...", "Reuters – ".
    re.compile(r"(?m)^\s*" + _AG + r"\s+[-\u2013\u2014]\s"),
    # Short credit line: "AFP", "Par AFP", "Source : Reuters", "Avec l'AFP", "Avec AFP".
    re.compile(
        r"(?m)^\s*(?:(?:par|source\s*:|avec)\s+)?(?:l['\u2019])?" + _AG + r"\s*\.?\s*$",
        re.IGNORECASE,
    ),
]
_AUTHOR_PATTERN = re.compile(r"(?<![\w-])" + _AG + r"(?![\w-])")


def _agency(name: str) -> str | None:
    return _AGENCY_NAMES.get(name.casefold().replace("\u2019", "'"))


def detect_wire(text: str, author: str | None = None) -> str | None:
    """Which wire agency the article is a copy of: "AFP", "Reuters", "AP" or None.

    Counts credits, not mentions: the author field naming an agency, datelines ("PARIS (AFP) -",
    "BERLIN (dpa/AFP) -": the first of ours among several agencies),
    "(AFP)", "avec AFP" credits ("Article rédigé par franceinfo avec AFP"), a line starting
    "Reuters - ", and short credit lines ("AFP", "Source : Reuters"). Deliberately ignored:
    photo credits ("(Bertrand Guay/Reuters)", "© AFP", "Photo AFP") since outlets illustrate
    their own reporting with agency photos; quotes sourced to an agency ("a déclaré à l'AFP",
    "selon Reuters"); and "AP" inside words such as "AP-HP". When several agencies are
    credited, the author field wins, then the earliest credit in the text.
    """
    if author:
        match = _AUTHOR_PATTERN.search(author)
        if match:
            return _agency(match.group(1))
    best: tuple[int, str] | None = None
    for pattern in _WIRE_PATTERNS:
        for match in pattern.finditer(text):
            if pattern is _AVEC_CREDIT and _INTERVIEW.search(text, max(0, match.start() - 40), match.start()):
                continue  # "dans un entretien avec Reuters": a source, not a credit
            agency = _agency(match.group(1))
            if agency and (best is None or match.start() < best[0]):
                best = (match.start(), agency)
            break
    return best[1] if best else None


# --- revisions ---------------------------------------------------------------------------------

DIFF_MAX_CHARS = 2000
DIFF_MAX_LINE = 240


def _paragraphs(text: str) -> list[str]:
    return [p for p in (_WS.sub(" ", line).strip() for line in text.splitlines()) if p]


_TOKEN = re.compile(r"\S+\s*")


def _char_delta(old: str, new: str) -> tuple[int, int]:
    """(chars added, chars removed) between two paragraphs, diffed word by word.

    Word granularity keeps the cost near-linear for long one-line texts, where a character
    SequenceMatcher would be quadratic.
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    added = removed = 0
    for tag, a1, a2, b1, b2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += sum(len(t) for t in a[a1:a2])
            added += sum(len(t) for t in b[b1:b2])
    return added, removed


def _clean_title(title: str | None) -> str | None:
    return None if title is None else _WS.sub(" ", title).strip()


def diff_summary(
    old_text: str,
    new_text: str,
    old_title: str | None = None,
    new_title: str | None = None,
) -> dict[str, Any]:
    """JSON-serialisable summary of a revision, for the article history.

    Paragraphs are non-empty lines (whitespace-only changes ignored). ``title_changed`` is False
    when either title is unknown (None). ``diff`` is a unified diff of paragraphs with no
    context, lines cut at DIFF_MAX_LINE chars and the whole cut at DIFF_MAX_CHARS
    (``diff_truncated`` says so).
    """
    old_paras, new_paras = _paragraphs(old_text), _paragraphs(new_text)
    added = removed = changed = chars_added = chars_removed = 0
    matcher = difflib.SequenceMatcher(None, old_paras, new_paras, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old_block, new_block = old_paras[i1:i2], new_paras[j1:j2]
        pairs = min(len(old_block), len(new_block)) if tag == "replace" else 0
        changed += pairs
        removed += len(old_block) - pairs
        added += len(new_block) - pairs
        for k in range(pairs):
            a_chars, r_chars = _char_delta(old_block[k], new_block[k])
            chars_added += a_chars
            chars_removed += r_chars
        chars_removed += sum(len(p) for p in old_block[pairs:])
        chars_added += sum(len(p) for p in new_block[pairs:])

    lines: list[str] = []
    size = 0
    truncated = False
    for line in difflib.unified_diff(old_paras, new_paras, "old", "new", n=0, lineterm=""):
        if len(line) > DIFF_MAX_LINE:
            line = line[: DIFF_MAX_LINE - 1] + "\u2026"
        if size + len(line) + 1 > DIFF_MAX_CHARS:
            truncated = True
            break
        lines.append(line)
        size += len(line) + 1

    t_old, t_new = _clean_title(old_title), _clean_title(new_title)
    return {
        "title_changed": t_old is not None and t_new is not None and t_old != t_new,
        "old_title": t_old,
        "new_title": t_new,
        "old_length": len(old_text),
        "new_length": len(new_text),
        "chars_added": chars_added,
        "chars_removed": chars_removed,
        "paragraphs_added": added,
        "paragraphs_removed": removed,
        "paragraphs_changed": changed,
        "diff": "\n".join(lines),
        "diff_truncated": truncated,
    }
