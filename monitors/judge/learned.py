"""The learned part of a topic: a linear model over hashed words and character n-grams.

Trained from labelled text by ``veille train-topic`` (``train``), stored next to the topic as
a compressed ``.npz`` of weights only: features are hashed (scikit-learn's HashingVectorizer,
murmurhash3 of each n-gram), so the file holds no vocabulary and no text of the training set,
and nothing is downloaded at run time. Explanations are recovered by re-featurising the
scored text: each n-gram of the input is hashed again and its contribution (value x weight)
read from the model, so the strongest features of *this* text appear in the evidence.

Inputs are the folded text (accents, case, punctuation: ``textfold.fold``) of the title and
the first ``max_chars`` of the text, plus a few features read off the rules' evidence (published
inside the topic's period, outside it, AI-group strength, rule score), so the model learns how
much to trust them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:  # numpy is imported at the first use: a run with nothing to score does without it
    import numpy as np

N_FEATURES = 2**18
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (3, 5)
MAX_CHARS = 1000
DENSE = ("rules:published_in_period", "rules:published_outside_period", "rules:first_group", "rules:score")
FORMAT = 1


#: what a topic's [model] and ``veille train-topic`` need, and how to get it
NEEDS_LEARN = "scikit-learn is not installed (pip install 'veille[learn]')"


def learn_installed() -> bool:
    """Whether scikit-learn can be imported (without importing it: that takes a second)."""
    import importlib.util

    try:
        return importlib.util.find_spec("sklearn") is not None
    except (ImportError, ValueError):
        return False


def _vectorizers() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import HashingVectorizer

    words = HashingVectorizer(
        n_features=N_FEATURES, ngram_range=WORD_NGRAMS, alternate_sign=False, token_pattern=r"(?u)\b\w+\b"
    )
    chars = HashingVectorizer(
        n_features=N_FEATURES, analyzer="char_wb", ngram_range=CHAR_NGRAMS, alternate_sign=False
    )
    return words, chars


def model_text(text: str, title: str | None) -> str:
    """What the model reads: the folded title and first MAX_CHARS of the text."""
    from monitors.judge.textfold import fold

    return fold(f"{title or ''}\n{text[:MAX_CHARS]}")


def dense_features(dated: bool, inside: bool, first_group: float, score: float) -> list[float]:
    """The rules' evidence the model weighs (names in DENSE): published inside the period,
    outside it, the strength of the topic's first required group, the rule score."""
    return [float(dated and inside), float(dated and not inside), float(first_group), float(score)]


@dataclass(frozen=True)
class LinearModel:
    """Weights of a logistic regression over [word hashes | char hashes | DENSE]."""

    word_weights: np.ndarray
    char_weights: np.ndarray
    dense_weights: np.ndarray
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> LinearModel:
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"{path}: model format {meta.get('format')}, expected {FORMAT}")
            words = np.zeros(N_FEATURES, dtype=np.float64)
            chars = np.zeros(N_FEATURES, dtype=np.float64)
            words[data["word_index"]] = data["word_value"]
            chars[data["char_index"]] = data["char_value"]
            return cls(words, chars, data["dense"].astype(np.float64), float(data["intercept"]), meta)

    def save(self, path: str | Path | BinaryIO) -> None:
        """Write the weights as a compressed .npz (numpy adds ``.npz`` to a name without it;
        a file object is written as it is)."""
        import numpy as np

        w_idx = np.flatnonzero(self.word_weights).astype(np.int32)
        c_idx = np.flatnonzero(self.char_weights).astype(np.int32)
        np.savez_compressed(
            path,
            word_index=w_idx,
            word_value=self.word_weights[w_idx].astype(np.float32),
            char_index=c_idx,
            char_value=self.char_weights[c_idx].astype(np.float32),
            dense=self.dense_weights.astype(np.float32),
            intercept=np.float64(self.intercept),
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
        )

    def _rows(self, text: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """The L2-normalised hashed word and char rows of a model_text() as (indices, values),
        as HashingVectorizer makes them (checked in tests), from cached per-token hashes."""
        import numpy as np

        tokens = text.split()
        word_idx: list[int] = []
        char_idx: list[int] = []
        previous = ""
        for token in tokens:
            word_idx.append(_word_hash(token))
            if previous:
                word_idx.append(_word_hash(f"{previous} {token}"))
            previous = token
            char_idx.extend(_char_hashes(token))
        rows = []
        for idx in (word_idx, char_idx):
            unique, counts = np.unique(np.asarray(idx, dtype=np.int64), return_counts=True)
            values = counts.astype(np.float64)
            norm = float(np.sqrt(values @ values)) if len(values) else 1.0
            rows.append((unique, values / norm))
        return rows[0], rows[1]

    def probability(self, text: str, dense: Sequence[float]) -> float:
        """P(relevant) for a model_text() and its dense features."""
        import numpy as np

        (wi, wv), (ci, cv) = self._rows(text)
        z = float(wv @ self.word_weights[wi]) + float(cv @ self.char_weights[ci])
        z += float(np.dot(self.dense_weights, dense)) + self.intercept
        return float(1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z)))))

    def explain(self, text: str, dense: Sequence[float], top: int = 5) -> list[list[Any]]:
        """The ``top`` features of this text that push most towards relevant: [feature, weight]."""
        (wi, wv), (ci, cv) = self._rows(text)
        words = dict(zip(wi.tolist(), wv.tolist(), strict=True))
        chars = dict(zip(ci.tolist(), cv.tolist(), strict=True))
        tokens = text.split()
        grams = {*tokens, *(f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False))}
        contributions: dict[str, float] = {}
        for gram in grams:
            index = _word_hash(gram)
            contributions[f"w:{gram}"] = words[index] * float(self.word_weights[index])
        for token in dict.fromkeys(tokens):
            for gram in _char_grams(token):
                index = _hash(gram)
                name, value = f"c:{gram.strip()}", chars[index] * float(self.char_weights[index])
                # " he" and "he " share a name: the stronger is shown, whatever the order of the
                # tokens (a set's order changed with the process's hash seed, and so did the evidence)
                if value > contributions.get(name, -math.inf):
                    contributions[name] = value
        for name, value, weight in zip(DENSE, dense, self.dense_weights.tolist(), strict=True):
            contributions[name] = float(value) * weight
        best = sorted(contributions.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        return [[name, round(value, 4)] for name, value in best if value > 0]


def _hash(gram: str) -> int:
    from sklearn.utils import murmurhash3_32

    # as sklearn's _hashing_fast: the signed 32-bit murmurhash3 (seed 0) of the UTF-8, its
    # absolute value modulo n_features
    return abs(int(murmurhash3_32(gram, positive=False))) % N_FEATURES


_WORD_CACHE: dict[str, int] = {}
_CHAR_CACHE: dict[str, tuple[int, ...]] = {}
_CACHE_MAX = 200_000


def _word_hash(gram: str) -> int:
    found = _WORD_CACHE.get(gram)
    if found is None:
        found = _hash(gram)
        if len(_WORD_CACHE) < _CACHE_MAX:
            _WORD_CACHE[gram] = found
    return found


def _char_grams(token: str) -> list[str]:
    """sklearn's char_wb n-grams of one word (padded with spaces), in its order."""
    padded = f" {token} "
    grams = []
    for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
        offset = 0
        grams.append(padded[offset : offset + n])
        while offset + n < len(padded):
            offset += 1
            grams.append(padded[offset : offset + n])
        if offset == 0:  # the word is shorter than n: once
            break
    return grams


def _char_hashes(token: str) -> tuple[int, ...]:
    found = _CHAR_CACHE.get(token)
    if found is None:
        found = tuple(_hash(g) for g in _char_grams(token))
        if len(_CHAR_CACHE) < _CACHE_MAX:
            _CHAR_CACHE[token] = found
    return found


def train(
    items: Sequence[dict[str, Any]],
    labels: Sequence[bool],
    dense: Sequence[Sequence[float]],
    c: float,
    source: str,
) -> LinearModel:
    """Fit the logistic regression (balanced classes, lbfgs: deterministic) on the items."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    words, chars = _vectorizers()
    texts = [model_text(item.get("text", ""), item.get("title")) for item in items]
    x = hstack(
        [words.transform(texts), chars.transform(texts), csr_matrix(np.asarray(dense, dtype=float))]
    ).tocsr()
    fit = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(
        x, np.asarray(labels, dtype=bool)
    )
    coef = fit.coef_[0]
    import sklearn

    meta = {
        "format": FORMAT,
        "trained_on": source,
        "n_items": len(items),
        "n_relevant": int(sum(labels)),
        "c": c,
        "sklearn": sklearn.__version__,
        "data_sha256": hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16],
    }
    return LinearModel(
        coef[:N_FEATURES].copy(),
        coef[N_FEATURES : 2 * N_FEATURES].copy(),
        coef[2 * N_FEATURES :].copy(),
        float(fit.intercept_[0]),
        meta,
    )
