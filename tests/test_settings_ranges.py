"""Every numeric ``VEILLE_*`` setting has a range, checked when the settings load: a value out
of it is one line naming the variable, the value and the range, exit 2, before anything runs.

What each value did before (one-off `veille run` probes against a local site and a scratch
database, CHANGELOG): an analysis deadline of inf or a year hung every ingest worker; a
timeout of 0, -5, nan or inf and a per-host delay of inf failed every poll with a ValueError or
OverflowError; a batch size of 0 left the queue pending, -1 ended the run Incomplete on
PostgreSQL's "LIMIT must not be negative"; a size cap of 0 or -1 refused every body; a sitemap
window of 0 or -1 days queued nothing, nan or 1e9 failed every sitemap; 100000 parse workers
were accepted (a run starts every one of them, about 90 MB each); the others were
silently clamped or ignored (a concurrency of 0 ran with no total cap, a minimum poll interval
above the maximum stayed at the maximum).
"""

from __future__ import annotations

import pytest

from monitors.settings import (
    INTERVAL_MAX,
    INTERVAL_MINUTES_MAX,
    PARSE_WORKERS_MAX,
    PROBLEMS_DAYS_MAX,
    SECONDS_MAX,
    SITEMAP_DAYS_MAX,
    get_settings,
)

AT_LEAST_0 = "an integer of at least 0"
AT_LEAST_1 = "an integer of at least 1"
SECONDS = f"a number of seconds from 0 to {SECONDS_MAX}"
POSITIVE_SECONDS = f"a number of seconds above 0 and at most {SECONDS_MAX}"
INTERVAL = f"an integer from 1 to {INTERVAL_MAX}"
DAYS = f"a number of days above 0 and at most {SITEMAP_DAYS_MAX}"
MINUTES = f"an integer from 1 to {INTERVAL_MINUTES_MAX}"
WORKERS = f"an integer from 0 to {PARSE_WORKERS_MAX}"
KEPT_DAYS = f"an integer from 1 to {PROBLEMS_DAYS_MAX}"

#: (variable, bad value, the range the message states)
BAD = [
    ("VEILLE_TIMEOUT", "0", POSITIVE_SECONDS),
    ("VEILLE_TIMEOUT", "-5", POSITIVE_SECONDS),
    ("VEILLE_TIMEOUT", "nan", POSITIVE_SECONDS),
    ("VEILLE_TIMEOUT", "inf", POSITIVE_SECONDS),
    ("VEILLE_TIMEOUT", "1e300", POSITIVE_SECONDS),
    ("VEILLE_MAX_BYTES", "-1", AT_LEAST_1),
    ("VEILLE_MAX_BYTES", "0", AT_LEAST_1),
    ("VEILLE_SITEMAP_MAX_BYTES", "0", AT_LEAST_1),
    ("VEILLE_CONCURRENCY", "0", AT_LEAST_1),
    ("VEILLE_CONCURRENCY", "-3", AT_LEAST_1),
    ("VEILLE_PER_HOST_CONCURRENCY", "0", AT_LEAST_1),
    ("VEILLE_PER_HOST_DELAY", "-1", SECONDS),
    ("VEILLE_PER_HOST_DELAY", "inf", SECONDS),
    ("VEILLE_PER_HOST_DELAY", "nan", SECONDS),
    ("VEILLE_MAX_ATTEMPTS", "0", AT_LEAST_1),
    ("VEILLE_BATCH_SIZE", "0", AT_LEAST_1),
    ("VEILLE_BATCH_SIZE", "-1", AT_LEAST_1),
    ("VEILLE_ROBOTS_TTL", "-1", SECONDS),
    ("VEILLE_ROBOTS_TTL", "nan", SECONDS),
    ("VEILLE_MAX_CRAWL_DELAY", "-1", SECONDS),
    ("VEILLE_MIN_POLL_INTERVAL", "0", INTERVAL),
    ("VEILLE_MIN_POLL_INTERVAL", "-600", INTERVAL),
    ("VEILLE_MAX_POLL_INTERVAL", "3000000000", INTERVAL),
    ("VEILLE_SITEMAP_WINDOW_DAYS", "0", DAYS),
    ("VEILLE_SITEMAP_WINDOW_DAYS", "-1", DAYS),
    ("VEILLE_SITEMAP_WINDOW_DAYS", "nan", DAYS),
    ("VEILLE_SITEMAP_WINDOW_DAYS", "1e9", DAYS),
    ("VEILLE_POLL_INTERVAL_MINUTES", "0", MINUTES),
    ("VEILLE_POLL_INTERVAL_MINUTES", "10000000000000", MINUTES),
    ("VEILLE_PARSE_WORKERS", "-1", WORKERS),
    ("VEILLE_PARSE_WORKERS", "100000", WORKERS),
    ("VEILLE_PARSE_WORKERS", "257", WORKERS),
    ("VEILLE_WAYBACK_DELAY", "-1", SECONDS),
    ("VEILLE_COMMONCRAWL_DELAY", "inf", SECONDS),
    ("VEILLE_ARCHIVE_CONCURRENCY", "0", AT_LEAST_1),
    ("VEILLE_ARCHIVE_PAGE_SIZE", "0", AT_LEAST_1),
    ("VEILLE_ARCHIVE_RETRIES", "-1", AT_LEAST_0),
    ("VEILLE_ARCHIVE_RETRY_BASE", "-2", SECONDS),
    ("VEILLE_ARCHIVE_RETRY_BASE", "nan", SECONDS),
    ("VEILLE_DB_WAIT", "-1", SECONDS),
    ("VEILLE_DB_WAIT", "nan", SECONDS),
    ("VEILLE_FETCH_DEADLINE", "inf", POSITIVE_SECONDS),
    ("VEILLE_STREAM_MIN_RATE", "-1", AT_LEAST_0),
    ("VEILLE_STREAM_RATE_WINDOW", "0", POSITIVE_SECONDS),
    ("VEILLE_STREAM_RATE_WINDOW", "nan", POSITIVE_SECONDS),
    ("VEILLE_ANALYSIS_DEADLINE", "inf", POSITIVE_SECONDS),
    ("VEILLE_ANALYSIS_DEADLINE", "31536000", POSITIVE_SECONDS),
    ("VEILLE_SCORE_MAX_LINE_BYTES", "0", AT_LEAST_1),
    ("VEILLE_SITEMAP_MAX_FETCHES", "0", AT_LEAST_1),
    ("VEILLE_BACKFILL_MAX_FETCHES", "0", AT_LEAST_1),
    ("VEILLE_PREFECT_WAIT", "-1", SECONDS),
    ("VEILLE_PREFECT_WAIT", "inf", SECONDS),
    ("VEILLE_PREFECT_CHECK_INTERVAL", "0", POSITIVE_SECONDS),
    ("VEILLE_PROBLEMS_KEPT_DAYS", "0", KEPT_DAYS),
    ("VEILLE_PROBLEMS_KEPT_DAYS", "-7", KEPT_DAYS),
    ("VEILLE_PROBLEMS_KEPT_DAYS", "1000000000", KEPT_DAYS),
]


def _run_stops_at_the_settings(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """`veille run`'s exit code and stderr; reaching the database or a flow fails the test (the
    value passed the settings), so a value that would hang or crash the run cannot."""
    import flows.commands.run
    import flows.direct
    import flows.runs
    from flows.cli import main

    def not_reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run went on past the settings")

    monkeypatch.setattr(flows.commands.run, "prepare_database", not_reached)
    monkeypatch.setattr(flows.runs, "run_flow", not_reached)
    monkeypatch.setattr(flows.direct, "run_direct", not_reached)
    assert main(["run"]) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(("name", "value", "allowed"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_setting_out_of_its_range_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, allowed: str
) -> None:
    monkeypatch.setenv(name, value)
    err = _run_stops_at_the_settings(monkeypatch, capsys)
    assert err == f"veille: error: {name} must be {allowed}, got {value!r}\n"


def test_a_minimum_poll_interval_above_the_maximum_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the adaptive interval silently stayed at the maximum."""
    monkeypatch.setenv("VEILLE_MIN_POLL_INTERVAL", "90000")  # the maximum's default is 86400
    err = _run_stops_at_the_settings(monkeypatch, capsys)
    assert err == (
        "veille: error: VEILLE_MIN_POLL_INTERVAL (90000) must not be above VEILLE_MAX_POLL_INTERVAL (86400)\n"
    )


def test_the_ends_of_each_range_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """0 means something for these (no delay, no retry, parse in the polling threads, stop at
    once when the database is lost), and the largest values are usable."""
    for name in (
        "VEILLE_PER_HOST_DELAY",
        "VEILLE_ROBOTS_TTL",
        "VEILLE_MAX_CRAWL_DELAY",
        "VEILLE_WAYBACK_DELAY",
        "VEILLE_COMMONCRAWL_DELAY",
        "VEILLE_ARCHIVE_RETRY_BASE",
        "VEILLE_DB_WAIT",
        "VEILLE_PARSE_WORKERS",
        "VEILLE_ARCHIVE_RETRIES",
        "VEILLE_STREAM_MIN_RATE",
    ):
        monkeypatch.setenv(name, "0")
    settings = get_settings()
    assert (settings.per_host_delay, settings.db_wait, settings.parse_workers, settings.archive_retries) == (
        0,
        0,
        0,
        0,
    )
    assert settings.stream_min_rate == 0  # no floor
    for name in ("VEILLE_TIMEOUT", "VEILLE_FETCH_DEADLINE", "VEILLE_ANALYSIS_DEADLINE", "VEILLE_DB_WAIT"):
        monkeypatch.setenv(name, str(SECONDS_MAX))
    monkeypatch.setenv("VEILLE_MIN_POLL_INTERVAL", str(INTERVAL_MAX))
    monkeypatch.setenv("VEILLE_MAX_POLL_INTERVAL", str(INTERVAL_MAX))
    monkeypatch.setenv("VEILLE_SITEMAP_WINDOW_DAYS", str(SITEMAP_DAYS_MAX))
    monkeypatch.setenv("VEILLE_POLL_INTERVAL_MINUTES", str(INTERVAL_MINUTES_MAX))
    monkeypatch.setenv("VEILLE_PARSE_WORKERS", str(PARSE_WORKERS_MAX))
    monkeypatch.setenv("VEILLE_PROBLEMS_KEPT_DAYS", str(PROBLEMS_DAYS_MAX))
    settings = get_settings()
    assert settings.problems_kept_days == PROBLEMS_DAYS_MAX
    assert settings.parse_workers == PARSE_WORKERS_MAX
    assert settings.poll_interval_minutes == INTERVAL_MINUTES_MAX
    assert settings.analysis_deadline == SECONDS_MAX and settings.min_poll_interval == INTERVAL_MAX
    assert settings.sitemap_window_days == SITEMAP_DAYS_MAX


def test_every_numeric_setting_is_checked_here_with_the_range_env_example_gives() -> None:
    """README: each number of .env.example comes "with its range: a value out of it stops any
    command". Every number of Settings is refused out of its range above, and the bounds the
    message names are written in .env.example, beside the variable or in the file's header."""
    import re
    import typing

    from monitors.settings import Settings
    from tests.test_docs import ENV_EXAMPLE, _example_blocks

    hints = typing.get_type_hints(Settings)
    numeric = {f"VEILLE_{name.upper()}" for name, kind in hints.items() if kind in (int, float)}
    assert "VEILLE_TIMEOUT" in numeric and "VEILLE_ALLOW_PRIVATE_NETWORK" not in numeric
    assert numeric - {name for name, _, _ in BAD} == set(), "numeric settings no test takes out of range"
    blocks, header = _example_blocks(), ENV_EXAMPLE.read_text("utf-8").split("\n\n", 1)[0]
    unsaid = [
        (name, bound)
        for name, _, allowed in BAD
        for bound in re.findall(r"\d+", allowed)
        if bound not in blocks[name].replace(",", "") and bound not in header
    ]
    assert unsaid == [], "bounds .env.example does not give"


YES_NO = "1/true/yes/on or 0/false/no/off"


@pytest.mark.parametrize(
    ("name", "value"), [("VEILLE_RESPECT_ROBOTS", "flase"), ("VEILLE_ALLOW_PRIVATE_NETWORK", "2")]
)
def test_a_yes_no_setting_with_another_word_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    """Before: any word but 1/true/yes/on read as "no", so VEILLE_RESPECT_ROBOTS=flase turned
    robots.txt off without a word."""
    monkeypatch.setenv(name, value)
    err = _run_stops_at_the_settings(monkeypatch, capsys)
    assert err == f"veille: error: {name} must be {YES_NO}, got {value!r}\n"


def test_the_yes_no_words_env_example_gives_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Either case, blanks around; empty is the default (robots.txt honoured, private
    addresses refused), as .env.example says."""
    from tests.test_docs import _example_blocks

    blocks = _example_blocks()
    for name in ("VEILLE_RESPECT_ROBOTS", "VEILLE_ALLOW_PRIVATE_NETWORK"):
        assert YES_NO in blocks[name], name
    words = (("ON", True), (" yes ", True), ("1", True), ("Off", False), ("no", False), ("0", False))
    for word, meaning in words:
        monkeypatch.setenv("VEILLE_RESPECT_ROBOTS", word)
        monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", word)
        settings = get_settings()
        assert (settings.respect_robots, settings.allow_private_network) == (meaning, meaning), word
    monkeypatch.setenv("VEILLE_RESPECT_ROBOTS", "")
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "")
    settings = get_settings()
    assert (settings.respect_robots, settings.allow_private_network) == (True, False)
