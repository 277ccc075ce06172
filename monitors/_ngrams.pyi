"""Compiled n-gram sums for monitors.judge.language (monitors/_ngrams.c). Arrays are read through the
buffer protocol: C-contiguous numpy arrays, or bytes."""

import numpy as np

_Buffer = np.ndarray | bytes

def build_index(codes: _Buffer, /) -> bytes: ...
def log_likelihood(spaced: str, index: _Buffer, log_probs: _Buffer, /) -> list[float] | None: ...
