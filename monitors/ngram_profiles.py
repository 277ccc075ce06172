"""langdetect's n-gram profiles as arrays, and the likelihood of a text under them.

What language identification (:mod:`monitors.judge.language`) and charset detection
(:mod:`monitors.collect.encoding`: which reading of a page's bytes is text) both weigh: a
module of its own, so that collecting pages does not import the judging modules. The model is
built from langdetect's profiles at its first use (cached on disk under
``VEILLE_DATA_DIR/cache``), and numpy is imported then: importing this module costs langdetect's
import alone. How the sums are computed, and why in C, is told in
:mod:`monitors.judge.language`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import re
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.utils.ngram import NGram

if TYPE_CHECKING:  # numpy is imported at the first likelihood: a run with no page does without it
    import numpy as np

try:  # compiled where a C compiler was found at install time (pyproject.toml: ext-modules)
    from monitors import _ngrams
except ImportError:  # pragma: no cover - depends on the install
    _ngrams = None  # type: ignore[assignment]
#: How n-gram sums are computed here: "compiled" (monitors/_ngrams.c) or "numpy".
NGRAM_SUMS = "numpy" if _ngrams is None else "compiled"

#: Characters of cleaned text handed to the detector; the head of an article is enough. The
#: cost is linear in the sample; eval accuracy (tests/eval/language.jsonl) is the same from
#: 150 to 2000 characters (titles 0.953, texts of 20+ words 1.0); 250 leaves a margin.
SAMPLE_CHARS = 250


#: langdetect's smoothing: each n-gram contributes log(P(n-gram | language) + ALPHA / BASE_FREQ).
ALPHA, BASE_FREQ = 0.5, 10000

_model_lock = threading.Lock()
_model: _Model | None = None
_normalized: dict[int, str] = {}  # code point -> langdetect's normalised char, filled lazily
_known_chars: set[str] = set()  # the characters _normalized holds
# langdetect's cleaning_text: "Latin" is 'A' <= ch <= 'z'; non-Latin is from U+0300 up, except
# the Latin Extended Additional block (Vietnamese)
_LATIN_RE = re.compile(r"[A-z]")
_LATIN_BYTES = bytes(range(ord("A"), ord("z") + 1))
_NON_LATIN_RE = re.compile("[\u0300-\u1dff\u1f00-\U0010ffff]")

#: Above every n-gram code (three 16-bit code units use 48 bits).
_SENTINEL = 2**64 - 1
#: Cut a window of four UTF-16 code units down to its first one, two and three.
_GRAM_MASKS = (0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF)


@functools.cache
def _gram_masks() -> np.ndarray:
    import numpy as np

    return np.array(_GRAM_MASKS, dtype="<u8")


#: Read past the end of a sample by the last windows: a code unit that no profile holds.
_PADDING = b"\xff\xff" * 3
_NO_GRAM = "\uffff"
#: Stands in for an upper-case character beyond the BMP: upper case, in no profile.
_UPPER_STAND_IN = "\u2c00"
_CAPITAL_PAIR_RE = re.compile("(?=UU)")


@dataclass(frozen=True)
class _Model:
    """langdetect's profiles as one matrix: n-gram -> row of log(P(n-gram | language) + smoothing).

    Rows are in the order of the n-grams' integer codes (``_gram_code``): a row number is the
    code's position in ``codes``, which ends with a sentinel above every code so that a search
    always lands on a real position.
    """

    log_probs: np.ndarray  # (n-grams, languages), float32: 87,598 x 55, about 19 MB
    languages: tuple[str, ...]
    codes: np.ndarray  # uint64, sorted; row i is codes[i]'s, then the sentinel
    packed: np.ndarray | None  # monitors._ngrams.build_index(codes), where it is compiled

    @functools.cached_property
    def index(self) -> dict[str, int]:
        """n-gram -> row (for tests and diagnostics; detection searches ``codes``)."""
        return {_gram_of(int(code)): i for i, code in enumerate(self.codes[:-1].tolist())}


#: Bump when what the cached arrays mean changes (the smoothing is in the file's key already).
_CACHE_FORMAT = 1


def _cache_file() -> Path | None:
    """Where the built model is cached: ``VEILLE_DATA_DIR/cache``, named by what it is built
    from (langdetect's profile files, the smoothing, the compiled index or not)."""
    try:
        from monitors.settings import get_settings

        folder = get_settings().data_dir / "cache"
        profiles = sorted(
            (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
            for entry in Path(PROFILES_DIRECTORY).iterdir()
        )
    except Exception:  # noqa: BLE001 - no usable settings or profiles folder: no cache
        return None
    key = repr((_CACHE_FORMAT, ALPHA, BASE_FREQ, NGRAM_SUMS, profiles)).encode()
    return folder / f"language-model-{hashlib.blake2b(key, digest_size=10).hexdigest()}.npz"


def _read_cached(path: Path) -> _Model | None:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            log_probs, codes = data["log_probs"], data["codes"]
            languages = tuple(str(lang) for lang in data["languages"])
            packed = data["packed"] if "packed" in data.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # absent, or written by a process that died: built again
    if log_probs.shape != (len(codes) - 1, len(languages)) or (packed is None) != (_ngrams is None):
        return None
    for array in (log_probs, codes, packed):
        if array is not None:
            array.setflags(write=False)
    return _Model(log_probs, languages, codes, packed)


def _write_cached(path: Path, model: _Model) -> None:
    """Write the cache atomically (a temporary file renamed), best effort."""
    import numpy as np

    arrays: dict[str, Any] = {
        "log_probs": model.log_probs,
        "codes": model.codes,
        "languages": np.array(model.languages),
    }
    if model.packed is not None:
        arrays["packed"] = model.packed
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".language-", delete=False) as tmp:
            np.savez(tmp, **arrays)
        os.replace(tmp.name, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp.name)


def _build_model() -> _Model:
    """langdetect's profiles read and turned into arrays (about 0.5 s of CPU, 1 s when loaded)."""
    import numpy as np

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    grams = sorted(factory.word_lang_prob_map, key=_gram_code)
    probs = np.array([factory.word_lang_prob_map[g] for g in grams], dtype=np.float64)
    log_probs = np.log(probs + ALPHA / BASE_FREQ).astype(np.float32)
    log_probs.setflags(write=False)
    codes = np.array([*map(_gram_code, grams), _SENTINEL], dtype=np.uint64)
    codes.setflags(write=False)
    packed = None
    if _ngrams is not None:
        # copied into numpy memory: numpy asks for huge pages for large arrays (fewer
        # TLB misses on lookups), and aligns it
        packed = np.frombuffer(_ngrams.build_index(codes), np.uint8).copy()
        packed.setflags(write=False)
    return _Model(log_probs, tuple(factory.langlist), codes, packed)


def _get_model() -> _Model:
    """Load langdetect's profiles once, under a lock (detection is called from threads).

    The arrays built from them are cached on disk (:func:`_cache_file`): every worker process
    that analyses pages loads them, and reading the cache costs milliseconds where reading the
    profiles costs half a second of CPU."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                path = _cache_file()
                model = _read_cached(path) if path is not None else None
                if model is None:
                    model = _build_model()
                    if path is not None:
                        _write_cached(path, model)
                _model = model
    return _model


def _gram_code(gram: str) -> int:
    """An n-gram of 1 to 3 characters as one integer: its UTF-16 code units, the first lowest.

    That is what its little-endian UTF-16 bytes read as an unsigned integer. Every profile
    character is in the Basic Multilingual Plane (one code unit), and none is NUL, so n-grams of
    different lengths cannot share a code.
    """
    return int.from_bytes(gram.encode("utf-16-le"), "little")


def _gram_of(code: int) -> str:
    """The n-gram whose :func:`_gram_code` is ``code``."""
    return code.to_bytes(6, "little").decode("utf-16-le").rstrip("\x00")


def _spaced(text: str) -> str:
    """langdetect's cleaning_text and character normalisation of a sample, its words joined by
    single spaces, with the space its n-gram buffer starts from (and one at the end when the
    text ends on one): the string whose n-grams langdetect's Detector scores.
    """
    if any(mark in text for mark in NGram.DMARK_CLASS):  # Vietnamese letters written with marks
        text = NGram.normalize_vi(text)
    # the non-Latin count is at most the non-ASCII one: count exactly only when that could win
    ascii_bytes = text.encode("ascii", "ignore")
    latin = len(ascii_bytes) - len(ascii_bytes.translate(None, _LATIN_BYTES))
    if len(text) - len(ascii_bytes) > 2 * latin and len(_NON_LATIN_RE.findall(text)) > 2 * latin:
        # mostly non-Latin script: drop the Latin letters, as langdetect does
        text = _LATIN_RE.sub("", text)
    missing = set(text).difference(_known_chars)
    if missing:
        # dict and set updates are atomic under the GIL; a race only computes an entry twice
        _normalized.update({ord(ch): NGram.normalize(ch) for ch in missing})
        _known_chars.update(missing)
    words = text.translate(_normalized).split(" ")
    return " " + " ".join(filter(None, words)) + ("" if words[-1] else " ")


def _window_codes(spaced: str) -> np.ndarray:
    """Codes of the 1-, 2- and 3-grams starting at each character of ``spaced``, shape (n, 3).

    One overlapping view of the UTF-16 bytes (four code units from each position, read as one
    integer) masked three ways: no Python step per n-gram. Windows that run past the end read
    padding that no profile holds, and so do n-grams across a space ("e l"), which langdetect
    never emits. Where langdetect takes no n-gram (inside an all-capitals run), the code is 0.
    """
    import numpy as np

    raw = spaced.encode("utf-16-le", "surrogatepass")  # a lone surrogate is one code unit
    if len(raw) != 2 * len(spaced):  # characters beyond the BMP (emoji): one code unit each
        spaced = "".join(
            ch if ch <= "\uffff" else _UPPER_STAND_IN if ch.isupper() else _NO_GRAM for ch in spaced
        )
        raw = spaced.encode("utf-16-le", "surrogatepass")
    windows = np.ndarray((len(spaced), 1), dtype="<u8", buffer=raw + _PADDING, strides=(2, 0))
    codes: np.ndarray = windows & _gram_masks()
    if not spaced.islower():
        capitals = {ch for ch in set(spaced) if ch.isupper()}
        marks = spaced.translate(dict.fromkeys(map(ord, capitals), "U")) if capitals else ""
        # NGram.add_char: a character that is upper case after an upper-case one ends no n-gram
        ends = [match.start() + 1 for match in _CAPITAL_PAIR_RE.finditer(marks)]
        if ends:
            # in the flattened codes, the k-gram ending at e is item 3 * (e - k + 1) + k - 1
            codes.ravel()[[3 * e + shift for e in ends for shift in (0, -2, -4)]] = 0
    return codes


def _found_rows(codes: np.ndarray, model: _Model) -> np.ndarray:
    """Profile rows of the codes that have one, in the codes' order (the others are dropped)."""
    at = model.codes.searchsorted(codes)
    rows: np.ndarray = at[model.codes[at] == codes]
    return rows


def _ngram_rows(sample: str, model: _Model) -> list[int]:
    """Profile row numbers of the n-grams langdetect would score, in its order (by the character
    each ends at, shortest first): what the detection sums, listed for the tests."""
    import numpy as np

    codes = _window_codes(_spaced(sample))
    # the n-gram of length k ending at character e starts at e - k + 1
    ordered = [codes[e - k + 1, k - 1] for e in range(1, len(codes)) for k in (1, 2, 3) if e - k + 1 >= 0]
    rows: list[int] = _found_rows(np.array(ordered, dtype=np.uint64), model).tolist()
    return rows


def _log_likelihood(sample: str, model: _Model) -> list[float] | None:
    """log P(n-grams | language) for each language: the sum of the rows of the sample's n-grams
    (None when no n-gram is in a profile).

    Summed in float64, where the float32 terms (multiples of 2**-23 between -10 and -1) add up
    exactly, so the total does not depend on the order of the terms.
    """
    if model.packed is not None:
        return _ngrams.log_likelihood(_spaced(sample), model.packed, model.log_probs)
    return _numpy_log_likelihood(sample, model)


def _numpy_log_likelihood(sample: str, model: _Model) -> list[float] | None:
    """_log_likelihood with numpy calls, where monitors._ngrams is not compiled."""
    import numpy as np

    codes = _window_codes(_spaced(sample)).ravel()
    codes.sort()  # searches and row reads then go through the profile arrays in memory order
    rows = _found_rows(codes, model)
    if not len(rows):
        return None
    total: list[float] = model.log_probs.take(rows, axis=0).sum(axis=0, dtype=np.float64).tolist()
    return total


def reading_likelihood(text: str, languages: tuple[str, ...]) -> float:
    """How likely the likeliest profile of ``languages`` finds ``text`` read in lower case: the
    sum of its n-grams' log-probabilities, one no profile holds at the smoothing floor (log of
    ALPHA / BASE_FREQ). Readings of the same bytes in different charsets, their letters and
    spaces in the same places, compare by it: the likelier one is text (a charset's choice,
    :func:`monitors.collect.encoding.cyrillic_reading`); the floor keeps a reading whose n-grams
    no profile holds from scoring as if it had fewer."""
    import numpy as np

    model = _get_model()
    rows = _ngram_rows(text.lower(), model)
    found = model.log_probs.take(rows, axis=0).sum(axis=0, dtype=np.float64).tolist() if rows else []
    wanted = [i for i, lang in enumerate(model.languages) if lang in languages]
    best = max((found[i] for i in wanted), default=0.0) if found else 0.0
    # every reading has as many n-gram positions: those not found count at the floor
    return best - len(rows) * math.log(ALPHA / BASE_FREQ)
