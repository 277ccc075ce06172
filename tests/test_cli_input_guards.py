"""Command lines that asked for something veille would not do, or would do harmfully: each is
a one-line error naming the cause, exit 2, before anything is read or written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flows.cli import build_parser, main
from monitors.dates import article_day
from tests.clock import one_day_for

LINES = (
    json.dumps({"id": "a", "title": "Sommet IA", "text": "Le sommet pour l'action sur l'IA s'ouvre à Paris."})
    + "\n"
    + json.dumps({"id": "b", "text": "Il pleut sur Brest."})
    + "\n"
)


@pytest.mark.parametrize("how", ["same path", "symbolic link", "hard link"])
def test_score_refuses_to_write_over_its_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """`veille score F -o F`: the scores replaced F once written, and the texts were lost. Now
    an error naming both, the file left as it was, whatever path names it."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(LINES, encoding="utf-8")
    output = corpus
    if how == "symbolic link":
        output = tmp_path / "scored.jsonl"
        output.symlink_to(corpus)
    elif how == "hard link":
        output = tmp_path / "scored.jsonl"
        output.hardlink_to(corpus)
    assert main(["score", str(corpus), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"veille: error: --output {output} is the file being scored ({corpus}): it would be"
        " replaced by the scores; write them to another file\n"
    )
    assert corpus.read_text(encoding="utf-8") == LINES
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"corpus.jsonl", output.name})

    # another file is written as before
    other = tmp_path / "other.jsonl"
    assert main(["score", str(corpus), "-o", str(other)]) == 0
    assert [json.loads(line)["id"] for line in other.read_text(encoding="utf-8").splitlines()] == ["a", "b"]
    assert corpus.read_text(encoding="utf-8") == LINES


@pytest.mark.parametrize("rest", [[], ["--output", "feed.atom"]])
def test_feed_host_without_serve_is_an_error(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    rest: list[str],
) -> None:
    """`veille feed --host H` without `--serve`: --host is where the served feed listens, and it
    was ignored without a word (the feed written to stdout or the file as if it were not given)."""
    monkeypatch.chdir(tmp_path)
    assert main(["feed", "--host", "0.0.0.0", *rest]) == 2
    out, err = capsys.readouterr()
    assert err == (
        "veille: error: --host 0.0.0.0 is the address --serve listens on, and no --serve PORT was"
        " given: add --serve PORT to serve the feed, or leave --host out to write it\n"
    )
    assert out == ""
    assert list(tmp_path.iterdir()) == []


def _local_today() -> str:
    one_day_for()  # the command's today is this one, also if the test starts at 23:59:59
    today = article_day(datetime.now(UTC))
    assert today is not None
    return today.isoformat()


def _local_tomorrow() -> str:
    return (datetime.fromisoformat(_local_today()) + timedelta(days=1)).date().isoformat()


@pytest.mark.parametrize(
    ("argv", "option", "says"),
    [
        (["--since", "0001-01-01"], "--since", "0001-01-01 is before 1996-01-01, the web archives'"),
        (["--since", "1995-12-31"], "--since", "1995-12-31 is before 1996-01-01"),
        (["--since", "2025-02-01", "--until", "1990-01-01"], "--until", "1990-01-01 is before 1996-01-01"),
        (["--since", "tomorrow"], "--since", "is after today"),
        (["--since", "2025-02-01", "--until", "tomorrow"], "--until", "is after today"),
        (["--since", "9999-12-31", "--from", "wayback"], "--since", "9999-12-31 is after today"),
    ],
)
def test_backfill_dates_outside_the_archives_era_are_usage_errors(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    option: str,
    says: str,
) -> None:
    """`veille backfill --since 0001-01-01` was taken (and asked the archives for two thousand
    years of months); one after today read nothing. Days from 1996-01-01 (the Wayback Machine's
    first captures) to today on the local clock, the rule in the error (docs/backfill.md),
    before the sources file is read (today once the database, and its clock, is open)."""
    argv = [_local_tomorrow() if a == "tomorrow" else a for a in argv]
    missing = tmp_path / "no-sources.toml"  # nothing to read, were the dates taken
    with pytest.raises(SystemExit) as stop:
        main(["backfill", *argv, "--sources", str(missing)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: " in err and says in err, err
    assert "give a day from 1996-01-01 to today" in err, err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        # one refused as read (no day), the other after today: before, only the first was said
        (
            ["--since", "2025-02-30", "--until", "9999-12-31"],
            [
                "argument --since: '2025-02-30' is not a day: February 2025 has 28 days",
                "argument --until: 9999-12-31 is after today",
            ],
        ),
        (
            ["--since", "1990-01-01", "--until", "2025-13-01"],
            [
                "argument --since: 1990-01-01 is before 1996-01-01",
                "argument --until: '2025-13-01' is not a day: month must be in 1..12",
            ],
        ),
        # both after today, on the database's clock
        (
            ["--since", "9999-01-01", "--until", "9999-12-31"],
            ["argument --since: 9999-01-01 is after today", "argument --until: 9999-12-31 is after today"],
        ),
    ],
)
def test_backfill_reports_every_bad_date_at_once(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: list[str]
) -> None:
    """`veille backfill --since 2025-02-30 --until 9999-12-31` said only that --since names no
    day; once it was fixed, --until was refused in turn. Every bad date is said at once, one
    usage error line each (exit 2), the cause first, before the sources file is read."""
    missing = tmp_path / "no-sources.toml"
    with pytest.raises(SystemExit) as stop:
        main(["backfill", *argv, "--sources", str(missing)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == len(says), err
    for line, said in zip(lines, says, strict=True):
        assert line.startswith(f"veille backfill: error: {said}"), err
    assert err.startswith("usage: veille backfill") and str(missing) not in err, err


def _day(instant: datetime) -> str:
    day = article_day(instant)
    assert day is not None
    return day.isoformat()


def test_backfill_takes_the_era_s_first_day_and_today() -> None:
    """The bounds themselves are taken: 1 January 1996, and today (to its end) on the local clock."""
    today = _local_today()
    args = build_parser().parse_args(["backfill", "--since", "1996-01-01", "--until", today])
    assert (_day(args.since), _day(args.until)) == ("1996-01-01", today)
    args = build_parser().parse_args(["backfill", "--since", today])
    assert _day(args.since) == today


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_backfill_s_today_is_the_database_s(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clock_restored: None,
    zone: str,
) -> None:
    """Without VEILLE_LOCAL_TIMEZONE, `veille backfill`'s today is the database's clock's, the
    one its days are counted on. Argparse held --since/--until to the process's (Europe/Paris)
    before the database was open: on a database kept at UTC+14 its today was refused ("after
    today") for most of the day, at UTC-11 its tomorrow was taken."""
    from monitors.archive.schema import migrate
    from monitors.settings import adopt_local_timezone

    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", zone)  # `VEILLE_LOCAL_TIMEZONE=... veille migrate`
    migrate(database_url)
    monkeypatch.delenv("VEILLE_LOCAL_TIMEZONE")
    adopt_local_timezone(None)  # a new process: it has not read the database's clock yet
    one_day_for(60, zone, "Europe/Paris")  # neither clock turns a day during the test
    there = datetime.now(ZoneInfo(zone)).date()
    if there == datetime.now(ZoneInfo("Europe/Paris")).date():
        pytest.skip(f"{zone}'s today is Paris's at this hour ({there}): the clocks agree")
    missing = tmp_path / "no-sources.toml"  # the command stops there once the dates are taken
    assert main(["backfill", "--since", str(there), "--until", str(there), "--sources", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "after today" not in err and str(missing) in err, err
    tomorrow = there + timedelta(days=1)
    with pytest.raises(SystemExit) as stop:
        main(["backfill", "--since", str(tomorrow), "--sources", str(missing)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument --since: {tomorrow} is after today ({there} on the local clock" in err, err
