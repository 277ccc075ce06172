"""When to poll a source next: an adaptive interval, the feed's declared period, backoff.

The interval halves when most entries of a poll are new (items may be slipping past) and
grows by half when most are already known or the server answered 304, always within the
bounds from settings (default 10 minutes to 24 hours). A feed that declares its update
period (RSS ``<ttl>``, ``sy:updatePeriod``) is not polled more often than that. After a
transient failure the next poll backs off exponentially with jitter, never sooner than the
server's ``Retry-After``; after a permanent one it waits the longest interval.
"""

from __future__ import annotations

import random

SHRINK = 0.5
GROW = 1.5
MOSTLY = 0.5  # share of new entries above which the interval shrinks


def clamp(seconds: float, low: int, high: int) -> int:
    return int(min(max(seconds, low), high))


def adapt_interval(current: int, new: int, known: int, low: int, high: int) -> int:
    """The next interval after a successful poll that listed ``new`` + ``known`` entries."""
    total = new + known
    if total == 0:
        return clamp(current * GROW, low, high)  # 304 or an empty source: nothing moving
    share = new / total
    if share > MOSTLY:
        return clamp(current * SHRINK, low, high)
    if share < MOSTLY:
        return clamp(current * GROW, low, high)
    return clamp(current, low, high)


def effective_interval(interval: int, declared: int | None, low: int, high: int) -> int:
    """The interval to wait: the adaptive one, but no shorter than the feed's declared period."""
    if declared:
        return max(interval, clamp(declared, low, high))
    return clamp(interval, low, high)


def failure_backoff(
    consecutive_failures: int,
    retry_after: float | None,
    low: int,
    high: int,
    rng: random.Random | None = None,
) -> float:
    """Seconds before polling a source again after its ``consecutive_failures``-th transient
    failure: ``low`` doubled per failure, capped at ``high``, with jitter in [half, full],
    and never before ``Retry-After``."""
    backoff = min(float(high), low * 2.0 ** max(0, consecutive_failures - 1))
    delay = (rng or random).uniform(backoff / 2, backoff)
    return max(delay, retry_after or 0.0)
