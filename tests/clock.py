"""Tests that take today's date, then run a command that takes its own: both on one day."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitors.dates import local_zone


def seconds_to_midnight(now: datetime, zone: ZoneInfo) -> float:
    """Seconds from ``now`` to the next midnight on ``zone``'s clock."""
    day = now.astimezone(zone).date() + timedelta(days=1)
    return (datetime(day.year, day.month, day.day, tzinfo=zone) - now).total_seconds()


def one_day_for(seconds: float = 60.0, *zones: str) -> None:
    """Return once at least ``seconds`` are left before midnight on each of ``zones``' clocks
    (the local clock without any): a test whose "today" (or "tomorrow") a command takes again
    later sees the same day, also when it starts just before midnight (it waits past it)."""
    clocks = [ZoneInfo(z) for z in zones] or [local_zone()]
    while (left := min(seconds_to_midnight(datetime.now(UTC), z) for z in clocks)) < seconds:
        time.sleep(left + 0.5)
