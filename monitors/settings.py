"""Settings read from ``VEILLE_*`` environment variables, shared by the app and Alembic."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

PROJECT_URL = "https://github.com/veille-project/veille"
#: `veille score` refuses a longer input line, eval and train-topic a longer labelled line: 4 MiB,
#: ten times an article of a few hundred kB of text (even with its accents escaped as \u00e9);
#: scoring takes tens of times a line's size
SCORE_MAX_LINE_BYTES = 4 * 1024 * 1024


class SettingsError(ValueError):
    """A ``VEILLE_*`` variable holds a value veille cannot use; the message names it."""


#: The words a yes/no setting takes (any case); empty or unset is its default.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _bool(name: str, default: bool = False) -> bool:
    """A yes/no setting; another word is a :class:`SettingsError` (a typo such as
    ``VEILLE_RESPECT_ROBOTS=flase`` read as "no" turned robots.txt off without a word)."""
    raw = (os.environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw not in TRUE_WORDS + FALSE_WORDS:
        raise SettingsError(
            f"{name} must be {'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}, got {os.environ[name]!r}"
        )
    return raw in TRUE_WORDS


#: The longest wait a setting in seconds may ask for: a worker's answer is awaited with poll(2),
#: whose timeout is an int of milliseconds (2**31 - 1 ms, about 24.8 days). Past it the wait
#: raises OverflowError: VEILLE_ANALYSIS_DEADLINE=inf, or a year, hung every ingest worker.
SECONDS_MAX = 2_147_483
#: A source's poll interval is stored in seconds in an int4 column (about 68 years).
INTERVAL_MAX = 2**31 - 1
#: `veille serve`'s cycle, in minutes, within the same 68 years (10**13 minutes overflowed
#: the schedule's timedelta: OverflowError when the deployments were built).
INTERVAL_MINUTES_MAX = INTERVAL_MAX // 60
#: The sitemap window reaches back at most this many days (about 270 years): a date before
#: year 1 cannot be computed (1e9 days failed every sitemap with an OverflowError).
SITEMAP_DAYS_MAX = 100_000
#: The bad entries of a sources file no run reads are kept at most this many days (about 270
#: years): PostgreSQL's now() less an interval too long for a timestamp (1e9 days) is an error,
#: and every run would fail recording its file's bad entries.
PROBLEMS_DAYS_MAX = 100_000
#: At most this many worker processes: each is a Python process with trafilatura and the language
#: profiles loaded (about 90 MB once it has analysed a page) and holds 3 file descriptors in
#: veille's process, beside the HTTP connections; 256 is far past any machine's cores. With no
#: bound, VEILLE_PARSE_WORKERS=100000 was accepted, and a poll starts every worker at once.
PARSE_WORKERS_MAX = 256


#: The local clock's setting and default (monitors.dates reads it at each use; Settings checks
#: it when a command starts, so a wrong name stops it at once)
LOCAL_TIMEZONE_VARIABLE = "VEILLE_LOCAL_TIMEZONE"
DEFAULT_LOCAL_TIMEZONE = "Europe/Paris"

#: Where a backfill's fetch budget comes from, as its "stopped after" line names it.
BACKFILL_BUDGET = "--max-fetches, VEILLE_BACKFILL_MAX_FETCHES"


def stopped_at_budget(spent: int, what: str, setting: str, left: int, leftover: str, until: str) -> str:
    """The line a bounded read (a sitemap poll, a backfill) ends with when it spent its budget:
    how much, under which setting, and what it left for the next one."""
    return f"stopped after {spent} {what} ({setting}), {left} {leftover} left for the next {until}"


def _int(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer within ``minimum``..``maximum`` when given (a line cap of 0 would refuse every
    line); out of range is a :class:`SettingsError` naming the variable, the value and the range."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            allowed = f"of at least {minimum}"
        elif minimum is None:
            allowed = f"of at most {maximum}"
        else:
            allowed = f"from {minimum} to {maximum}"
        raise SettingsError(f"{name} must be an integer {allowed}, got {raw!r}")
    return value


def _float(
    name: str,
    default: float,
    positive: bool = False,
    maximum: float = SECONDS_MAX,
    unit: str = "seconds",
) -> float:
    """A finite number from 0 (above 0 with ``positive``: a deadline of 0 would fail every page)
    to ``maximum``; nan, inf, a negative or a too large value is a :class:`SettingsError`."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    low_ok = value > 0 if positive else value >= 0
    if not (math.isfinite(value) and low_ok and value <= maximum):
        most = int(maximum) if float(maximum).is_integer() else maximum
        allowed = f"above 0 and at most {most}" if positive else f"from 0 to {most}"
        raise SettingsError(f"{name} must be a number of {unit} {allowed}, got {raw!r}")
    return value


def _choice(name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first by default)."""
    raw = (os.environ.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


#: A name of ``veille serve``'s instance (VEILLE_INSTANCE): what a deployment's name may carry
#: after an "@", on Prefect's command line and in its UI.
INSTANCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def _instance(name: str) -> str | None:
    """A short name (letters, digits, ``-``, ``_``, ``.``; at most 40, starting with a letter or
    a digit), or None when unset."""
    raw = (os.environ.get(name) or "").strip()
    if raw and not INSTANCE_NAME.fullmatch(raw):
        raise SettingsError(
            f"{name} must be a short name (letters, digits, '-', '_' or '.', at most 40, starting"
            f" with a letter or a digit), got {raw!r}"
        )
    return raw or None


def zone_setting(name: str, default: str) -> str:
    """An IANA time zone's name (``Europe/Paris``, ``UTC``); one zoneinfo does not know is a
    :class:`SettingsError` naming the variable."""
    raw = (os.environ.get(name) or "").strip() or default
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(
            f"{name} must name an IANA time zone (Europe/Paris, America/Montreal, UTC), got {raw!r}"
        ) from exc
    return raw


#: The clock a process whose environment does not set ``VEILLE_LOCAL_TIMEZONE`` took from the
#: database it opened (monitors.archive.schema.record_local_timezone), so that its dates and days
#: are those of the views; None until then (and in a process that opens none).
_adopted_zone: str | None = None


def adopt_local_timezone(zone: str | None) -> None:
    """Take ``zone`` (the database's clock) as this process's local clock when its environment
    does not set ``VEILLE_LOCAL_TIMEZONE``; None goes back to the default."""
    global _adopted_zone
    _adopted_zone = zone


def adopted_local_timezone() -> str | None:
    """The clock :func:`adopt_local_timezone` took, if any (worker processes are sent it)."""
    return _adopted_zone


def local_timezone() -> str:
    """The local clock's name: ``VEILLE_LOCAL_TIMEZONE`` when the environment sets it, else the
    database's (:func:`adopt_local_timezone`), else Europe/Paris."""
    return zone_setting(LOCAL_TIMEZONE_VARIABLE, _adopted_zone or DEFAULT_LOCAL_TIMEZONE)


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; every field maps to a ``VEILLE_`` variable in ``.env.example``."""

    database_url: str | None
    data_dir: Path
    allow_private_network: bool
    contact_url: str
    user_agent: str
    timeout: float
    max_bytes: int
    concurrency: int
    per_host_concurrency: int
    per_host_delay: float
    max_attempts: int
    batch_size: int
    respect_robots: bool = True
    robots_ttl: float = 3600.0
    max_crawl_delay: float = 60.0
    min_poll_interval: int = 600
    max_poll_interval: int = 86400
    sitemap_window_days: float = 7.0
    #: sitemaps.org allows a sitemap 50 MB uncompressed (50,000 URLs), more than a page's cap
    sitemap_max_bytes: int = 50 * 1024 * 1024
    #: requests one poll of a sitemap source makes, the sitemap itself included; the child
    #: sitemaps beyond it are left for the next poll
    sitemap_max_fetches: int = 50
    #: pages (queued URLs, or archive captures) one `veille backfill` fetches; the rest is
    #: left queued for the next run
    backfill_max_fetches: int = 2000
    poll_interval_minutes: int = 10
    maintenance_cron: str = "30 4 * * *"
    parse_workers: int = 2
    wayback_url: str = "https://web.archive.org"
    commoncrawl_index_url: str = "https://index.commoncrawl.org"
    commoncrawl_data_url: str = "https://data.commoncrawl.org"
    wayback_delay: float = 1.0
    commoncrawl_delay: float = 1.0
    archive_concurrency: int = 2
    archive_page_size: int = 500
    archive_retries: int = 4
    archive_retry_base: float = 2.0
    sources_file: Path | None = None
    topics_dir: Path | None = None  # the topic folder (None: the shipped monitors/topics)
    db_wait: float = 30.0
    fetch_deadline: float = 60.0
    #: a stream (a CC-NEWS WARC file) bringing fewer bytes a second than this on average over
    #: `stream_rate_window` seconds of waiting for it is cut, a transient failure (0: no floor)
    stream_min_rate: int = 32768
    stream_rate_window: float = 60.0
    analysis_deadline: float = 60.0
    prefect: str = "auto"  # veille run as Prefect flows: auto (when a server is configured), on, off
    #: `veille serve`: seconds it waits for a Prefect server that stopped answering to come
    #: back before it stops (exit 4), and seconds between two checks of that server's health
    prefect_wait: float = 120.0
    prefect_check_interval: float = 5.0
    #: `veille serve`: the name of this instance, carried by its deployments' names
    #: ("poll-and-ingest@NAME"), for several of them, each with its database, on one Prefect server
    instance: str | None = None
    score_max_line_bytes: int = SCORE_MAX_LINE_BYTES  # score, eval, train-topic refuse longer lines
    #: days the bad entries (``source_problems``) of a sources file no run reads any more are
    #: kept: a file dropped, renamed or moved, or one of several files read now and then
    problems_kept_days: int = 7
    #: the clock of dates that name no zone, and of an article's day (monitors.dates): the
    #: setting, else the database's once the process has opened it
    local_timezone: str = DEFAULT_LOCAL_TIMEZONE

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(
            os.environ.get("VEILLE_DATA_DIR") or platformdirs.user_data_dir("veille", appauthor=False)
        )
        contact = os.environ.get("VEILLE_CONTACT_URL") or PROJECT_URL
        agent = os.environ.get("VEILLE_USER_AGENT") or f"veille/0.1 (+{contact})"
        timeout = _float("VEILLE_TIMEOUT", 20.0, positive=True)
        low = _int("VEILLE_MIN_POLL_INTERVAL", 600, minimum=1, maximum=INTERVAL_MAX)
        high = _int("VEILLE_MAX_POLL_INTERVAL", 86400, minimum=1, maximum=INTERVAL_MAX)
        if low > high:  # the adaptive interval would silently stay at the maximum
            raise SettingsError(
                f"VEILLE_MIN_POLL_INTERVAL ({low}) must not be above VEILLE_MAX_POLL_INTERVAL ({high})"
            )
        return cls(
            database_url=os.environ.get("VEILLE_DATABASE_URL") or None,
            data_dir=data_dir,
            allow_private_network=_bool("VEILLE_ALLOW_PRIVATE_NETWORK"),
            contact_url=contact,
            user_agent=agent,
            timeout=timeout,
            max_bytes=_int("VEILLE_MAX_BYTES", 10 * 1024 * 1024, minimum=1),
            concurrency=_int("VEILLE_CONCURRENCY", 16, minimum=1),
            per_host_concurrency=_int("VEILLE_PER_HOST_CONCURRENCY", 2, minimum=1),
            per_host_delay=_float("VEILLE_PER_HOST_DELAY", 1.0),
            max_attempts=_int("VEILLE_MAX_ATTEMPTS", 4, minimum=1),
            batch_size=_int("VEILLE_BATCH_SIZE", 25, minimum=1),
            respect_robots=_bool("VEILLE_RESPECT_ROBOTS", default=True),
            robots_ttl=_float("VEILLE_ROBOTS_TTL", 3600.0),
            max_crawl_delay=_float("VEILLE_MAX_CRAWL_DELAY", 60.0),
            min_poll_interval=low,
            max_poll_interval=high,
            sitemap_window_days=_float(
                "VEILLE_SITEMAP_WINDOW_DAYS", 7.0, positive=True, maximum=SITEMAP_DAYS_MAX, unit="days"
            ),
            sitemap_max_bytes=_int("VEILLE_SITEMAP_MAX_BYTES", 50 * 1024 * 1024, minimum=1),
            sitemap_max_fetches=_int("VEILLE_SITEMAP_MAX_FETCHES", 50, minimum=1),
            backfill_max_fetches=_int("VEILLE_BACKFILL_MAX_FETCHES", 2000, minimum=1),
            poll_interval_minutes=_int(
                "VEILLE_POLL_INTERVAL_MINUTES", 10, minimum=1, maximum=INTERVAL_MINUTES_MAX
            ),
            maintenance_cron=os.environ.get("VEILLE_MAINTENANCE_CRON") or "30 4 * * *",
            parse_workers=_int("VEILLE_PARSE_WORKERS", 2, minimum=0, maximum=PARSE_WORKERS_MAX),
            wayback_url=(os.environ.get("VEILLE_WAYBACK_URL") or "https://web.archive.org").rstrip("/"),
            commoncrawl_index_url=(
                os.environ.get("VEILLE_COMMONCRAWL_INDEX_URL") or "https://index.commoncrawl.org"
            ).rstrip("/"),
            commoncrawl_data_url=(
                os.environ.get("VEILLE_COMMONCRAWL_DATA_URL") or "https://data.commoncrawl.org"
            ).rstrip("/"),
            wayback_delay=_float("VEILLE_WAYBACK_DELAY", 1.0),
            commoncrawl_delay=_float("VEILLE_COMMONCRAWL_DELAY", 1.0),
            archive_concurrency=_int("VEILLE_ARCHIVE_CONCURRENCY", 2, minimum=1),
            archive_page_size=_int("VEILLE_ARCHIVE_PAGE_SIZE", 500, minimum=1),
            archive_retries=_int("VEILLE_ARCHIVE_RETRIES", 4, minimum=0),
            archive_retry_base=_float("VEILLE_ARCHIVE_RETRY_BASE", 2.0),
            sources_file=Path(os.environ["VEILLE_SOURCES"]) if os.environ.get("VEILLE_SOURCES") else None,
            topics_dir=Path(os.environ["VEILLE_TOPICS_DIR"]) if os.environ.get("VEILLE_TOPICS_DIR") else None,
            db_wait=_float("VEILLE_DB_WAIT", 30.0),
            fetch_deadline=_float("VEILLE_FETCH_DEADLINE", 3 * timeout, positive=True),
            stream_min_rate=_int("VEILLE_STREAM_MIN_RATE", 32768, minimum=0),
            stream_rate_window=_float("VEILLE_STREAM_RATE_WINDOW", 60.0, positive=True),
            analysis_deadline=_float("VEILLE_ANALYSIS_DEADLINE", 60.0, positive=True),
            prefect=_choice("VEILLE_PREFECT", ("auto", "on", "off")),
            prefect_wait=_float("VEILLE_PREFECT_WAIT", 120.0),
            prefect_check_interval=_float("VEILLE_PREFECT_CHECK_INTERVAL", 5.0, positive=True),
            instance=_instance("VEILLE_INSTANCE"),
            score_max_line_bytes=_int("VEILLE_SCORE_MAX_LINE_BYTES", SCORE_MAX_LINE_BYTES, minimum=1),
            problems_kept_days=_int("VEILLE_PROBLEMS_KEPT_DAYS", 7, minimum=1, maximum=PROBLEMS_DAYS_MAX),
            local_timezone=local_timezone(),
        )


def get_settings() -> Settings:
    """Settings as the environment says now (not cached: tests change the environment)."""
    return Settings.from_env()
