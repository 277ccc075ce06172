"""Argument types the benches share: a count or a duration that must be above zero is refused
by argparse with a usage error naming the option, not met later as a ZeroDivisionError or the
median of nothing. Not a bench."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A whole number of 1 or more (repetitions, pages, feeds, sizes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1: at least 1 is needed")
    return value


def non_negative_int(text: str) -> int:
    """A whole number of 0 or more (0 meaning none: warm-up pages, a skipped step)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0 (a target ratio, a latency in seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def positive_ints(text: str) -> list[int]:
    """A comma-separated list of whole numbers of 1 or more (archive sizes, checkpoints)."""
    return [positive_int(part.strip()) for part in text.split(",") if part.strip()] or _empty(text)


def _empty(text: str) -> list[int]:
    raise argparse.ArgumentTypeError(f"{text!r} names no number")
