"""Argument types the benches share: a count or a duration that must be above zero is refused
by argparse with a usage error naming the option, not met later as a ZeroDivisionError or the
median of nothing. The commands' own types (flows/commands/common.py); not a bench."""

from __future__ import annotations

import argparse

from flows.commands.common import above_zero, at_least

#: a whole number of 1 or more (repetitions, pages, feeds)
positive_int = at_least(1)
#: a whole number of 0 or more (0 meaning none: warm-up pages, a skipped step)
non_negative_int = at_least(0)
#: a finite number above 0 (a target ratio, a latency in seconds)
positive_float = above_zero


def positive_ints(text: str) -> list[int]:
    """A comma-separated list of whole numbers of 1 or more (archive sizes, checkpoints)."""
    values = [positive_int(part.strip()) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"no number in {text!r}")
    return values
