"""Input a user gets wrong on the command line: each is a one-line error naming the cause,
exit 2, never a traceback (docs/operating.md, "Errors")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flows.cli import main

EVAL = Path(__file__).parent / "eval"


@pytest.mark.parametrize(
    ("argv", "option", "says"),
    [
        (["search", "sommet", "--limit", "-3"], "--limit", "must be 1 or more, got -3"),
        (["search", "sommet", "-n", "ten"], "--limit", "not a whole number: 'ten'"),
        (["feed", "--limit", "-1"], "--limit", "must be 1 or more, got -1"),
        (["feed", "--serve", "99999"], "--serve", "must be from 0 to 65535, got 99999"),
        (["stories", "--limit", "-1"], "--limit", "must be 1 or more, got -1"),
        (["rescore", "--batch-size", "0"], "--batch-size", "must be 1 or more, got 0"),
        (["serve", "--interval", "0"], "--interval", "must be from 1 to 35791394, got 0"),
        (["serve", "--interval", "10000000000000"], "--interval", "must be from 1 to 35791394"),
        (["run", "--max-items", "-1", "--sources", "no-such-file.toml"], "--max-items", "must be 1 or more"),
        (["train-topic", "--c", "0", "--data", str(EVAL / "relevance.jsonl")], "--c", "must be above 0"),
        (["search", "  "], "query", "the query has no word to search for ('  '): give one"),
        (["search", "&&&"], "query", "the query has no word to search for ('&&&'): give one"),
        (["export", "--since", "notadate"], "--since", "'notadate' is not a date (YYYY-MM-DD)"),
        (["stories", "--since", "hier"], "--since", "'hier' is not a date (YYYY-MM-DD)"),
        (
            ["backfill", "--since", "2025-13-01"],
            "--since",
            "'2025-13-01' is not a day: month must be in 1..12",
        ),
        # in a date's form, but no day: the reason, not "is not a date (YYYY-MM-DD)"
        (
            ["export", "--since", "2025-02-30"],
            "--since",
            "'2025-02-30' is not a day: February 2025 has 28 days",
        ),
        (
            ["stories", "--since", "2024-02-30"],
            "--since",
            "'2024-02-30' is not a day: February 2024 has 29 days",
        ),
        (["export", "--since", "2025-04-31"], "--since", "'2025-04-31' is not a day: April 2025 has 30 days"),
        (["backfill", "--since", "2025-02-30"], "--since", "'2025-02-30' is not a day: February 2025 has 28"),
        (
            ["backfill", "--since", "2025-02-01", "--until", "2025-02-29"],
            "--until",
            "February 2025 has 28 days",
        ),
        (
            ["export", "--since", "2025-02-28T25:00"],
            "--since",
            "'2025-02-28T25:00' is not a time: hour must be",
        ),
        (["backfill", "--since", "2025-02-01", "--until", "fin"], "--until", "'fin' is not a date"),
    ],
)
def test_a_number_or_date_option_out_of_range_is_a_usage_error(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    option: str,
    says: str,
) -> None:
    """Before: a SQL error (LIMIT -1), a ValueError or an OverflowError with its traceback; for
    export's --since, argparse's "invalid fromisoformat value", for backfill's "invalid _date value"."""
    if argv[0] == "train-topic":
        argv = [*argv, "--output", str(tmp_path / "model.npz")]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}" in err and says in err, err
    assert not (tmp_path / "model.npz").exists()


@pytest.mark.parametrize("from_env", [False, True])
def test_serve_with_a_bad_cron_line_says_which_and_serves_nothing(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, from_env: bool
) -> None:
    if from_env:
        monkeypatch.setenv("VEILLE_MAINTENANCE_CRON", "61 * * * *")
        argv = ["serve"]
    else:
        argv = ["serve", "--maintenance-cron", "every day"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    where = "VEILLE_MAINTENANCE_CRON" if from_env else "--maintenance-cron"
    assert err.startswith(f"veille: error: {where}: Invalid cron string"), err


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b'{"text": "Le sommet", "relevant": tru', b"2: not JSON: Expecting value"),
        (b'["Le sommet", true]', b"2: expected a JSON object, got list"),
        (b'{"title": "Sommet IA", "relevant": true}', b'2: missing or non-string "text"'),
        (b'{"text": "\xe9t\xe9", "relevant": true}', b"2: not UTF-8 text"),
    ],
)
@pytest.mark.parametrize("command", ["eval", "train-topic"])
def test_a_bad_line_of_a_labelled_set_names_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, line: bytes, says: bytes
) -> None:
    """Before: a JSONDecodeError, TypeError or KeyError traceback (or a figure that silently
    left the line out). Nothing is measured or written from a set that is not read whole."""
    data = tmp_path / "labels.jsonl"
    data.write_bytes(b'{"text": "Le sommet pour l\'action sur l\'IA.", "relevant": true}\n' + line + b"\n")
    model = tmp_path / "model.npz"
    if command == "eval":
        argv = ["eval", "--relevance-set", str(data), "--no-shared"]
    else:
        argv = ["train-topic", "--data", str(data), "--output", str(model)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"veille: error: {data}:"), err
    assert says.decode("ascii") in err, err
    assert "Traceback" not in err and out == ""
    assert not model.exists()


def test_train_topic_on_one_label_only_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "labels.jsonl"
    data.write_text('{"text": "Le sommet pour l\'action sur l\'IA.", "relevant": true}\n', "utf-8")
    assert main(["train-topic", "--data", str(data), "--output", str(tmp_path / "model.npz")]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        == f"veille: error: {data}: training needs relevant and non-relevant items for topic ai_summit"
    )


def test_train_topic_on_too_few_items_to_cross_validate_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both labels, but a fold whose training items are all of one class: before, sklearn's
    ValueError traceback ("This solver needs samples of at least 2 classes"), exit 1."""
    data = tmp_path / "labels.jsonl"
    lines = [("Le sommet pour l'action sur l'IA s'ouvre à Paris.", True)] * 2
    lines += [("La météo annonce de la pluie.", False)]
    data.write_text("".join(json.dumps({"text": t, "relevant": r}) + "\n" for t, r in lines), "utf-8")
    model = tmp_path / "model.npz"
    assert main(["train-topic", "--data", str(data), "--output", str(model)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"veille: error: {data}: 3 items are too few to cross-validate"), err
    assert "Traceback" not in err and not model.exists()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("localhost/veille", "Could not parse SQLAlchemy URL"),
        ("sqlite:///veille.db", "PostgreSQL only, got a 'sqlite' URL"),
        ("postgresql://veille:secret@localhost:port/veille", "invalid literal for int()"),
    ],
)
def test_a_database_url_that_is_not_one_is_a_setting_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, says: str
) -> None:
    """Before: an ArgumentError or ValueError traceback. The value is not echoed (a password)."""
    monkeypatch.setenv("VEILLE_DATABASE_URL", url)
    for command in (["stats"], ["db", "status"], ["db-url"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.startswith("veille: error: VEILLE_DATABASE_URL is not a PostgreSQL URL"), (command, err)
        assert says in err and "secret" not in err, err


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("connect_timeout=abc", "connect_timeout must be a whole number of seconds, got 'abc'"),
        ("sslmod=require", 'invalid connection option "sslmod"'),
    ],
)
def test_a_database_url_option_the_driver_refuses_is_a_setting_error(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    query: str,
    says: str,
) -> None:
    """Before: psycopg's ProgrammingError traceback from every command that connects. The
    password is not echoed."""
    url = make_url(database_url).set(password="secret").render_as_string(hide_password=False)
    monkeypatch.setenv("VEILLE_DATABASE_URL", f"{url}?{query}")
    for command in (["stats"], ["db", "status"], ["db-url"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert err.startswith(f"veille: error: VEILLE_DATABASE_URL: {says}"), (command, err)
        assert "Traceback" not in err and "secret" not in err and err.count("\n") == 1, err


BAD_SOURCES = '[[source]]\nname = "X"\nkind = "feed"\nurl = "x.fr/rss.xml"\nowner = "media"\n'


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve"], "sources.toml:4: url must start with http:// or https://"),
        (["backfill", "--since", "2025-02-01"], "sources.toml:4: url must start with http:// or https://"),
        (
            ["backfill", "--since", "2025-02-01", "--source", "Y", "--source", "X", "--source", "Z"],
            "no source named 'Y', 'Z'",
        ),
        (["backfill", "--since", "2025-02-01", "--source", "x"], "no source named 'x' (did you mean 'X'?)"),
    ],
    ids=["serve", "backfill", "backfill-unknown-source", "backfill-source-in-another-case"],
)
def test_serve_and_backfill_check_the_sources_file_before_starting(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    says: str,
) -> None:
    """As `veille run` does. Before: `serve` served, and every scheduled run failed on the file;
    `backfill` failed inside its flow, with Prefect's traceback (exit 1 for an unknown --source)."""
    import flows.backfill
    import flows.commands.serve

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("a flow or a schedule started")

    monkeypatch.setattr(flows.commands.serve, "serve_deployments", started)
    monkeypatch.setattr(flows.backfill, "backfill_flow", started)
    sources = tmp_path / "sources.toml"
    sources.write_text(
        BAD_SOURCES if "--source" not in argv else BAD_SOURCES.replace("x.fr/", "https://x.fr/")
    )
    assert main([*argv, "--sources", str(sources)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"veille: error: {sources}") and err.count("\n") == 1 and says in err, err


def test_feed_serve_on_a_port_in_use_names_the_address(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: "veille: error: [Errno 98] Address already in use", no address named."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["feed", "--serve", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"veille: error: cannot serve the feed on 127.0.0.1:{port}: Address already in use", err


def _labelled_argv(command: str, option: str, data: Path, tmp_path: Path) -> list[str]:
    if command == "eval":
        return ["eval", option, str(data), "--no-shared"]
    return ["train-topic", "--data", str(data), "--output", str(tmp_path / "model.npz")]


@pytest.mark.parametrize(
    ("command", "option"),
    [("eval", "--relevance-set"), ("eval", "--language-set"), ("train-topic", "--data")],
)
def test_a_line_of_a_labelled_set_over_the_line_cap_names_its_file_line_and_size(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    option: str,
) -> None:
    """A labelled line over VEILLE_SCORE_MAX_LINE_BYTES (as ``veille score``'s input) stops the
    command as a bad line does, naming FILE:LINE, its size and the limit, exit 2. Before, the
    whole line was read, however long, and measured or trained on."""
    monkeypatch.setenv("VEILLE_SCORE_MAX_LINE_BYTES", "5000")
    first = {"text": "Le sommet pour l'action sur l'IA s'ouvre à Paris.", "relevant": True, "language": "fr"}
    huge = {"text": "The AI Action Summit opens in Paris. " * 1_000, "relevant": False, "language": "en"}
    long_line = json.dumps(huge).encode()
    data = tmp_path / "labels.jsonl"
    short = json.dumps(first).encode()
    data.write_bytes(short + b"\n" + long_line + b"\n" + short + b"\n")
    assert main(_labelled_argv(command, option, data, tmp_path)) == 2
    out, err = capsys.readouterr()
    assert err.strip() == (
        f"veille: error: {data}:2: line too long: {len(long_line)} bytes, over the limit of 5000 bytes "
        "(VEILLE_SCORE_MAX_LINE_BYTES); not read"
    ), err
    assert out == ""
    assert not (tmp_path / "model.npz").exists()


@pytest.mark.parametrize("command", ["eval", "train-topic"])
def test_the_default_line_cap_applies_to_a_labelled_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Without the setting, the cap is veille score's 4 MiB: a line one byte over is refused
    unread (before: read whole, then 'not JSON')."""
    monkeypatch.delenv("VEILLE_SCORE_MAX_LINE_BYTES", raising=False)
    data = tmp_path / "labels.jsonl"
    with data.open("wb") as handle:
        handle.write(b'{"text": "Le sommet pour l\'action sur l\'IA.", "relevant": true}\n')
        handle.write(b"x" * (4 * 1024 * 1024 + 1) + b"\n")
    assert main(_labelled_argv(command, "--relevance-set", data, tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"veille: error: {data}:2: line too long: 4194305 bytes, over the limit of 4194304 bytes"
    ), err


def _story_member(key: str, text: str, published_at: object = "2031-03-02") -> dict[str, object]:
    return {
        "key": key,
        "outlet": "Exemple",
        "url": f"https://example.org/{key}",
        "lang": "fr",
        "published_at": published_at,
        "title": None,
        "text": text,
        "event": "e-1",
    }


GOOD_GROUP = {
    "group_id": "g1",
    "relation": "wire_copy",
    "event": "e-1",
    "is_copy": True,
    "members": [
        _story_member("a", "Le conseil municipal de Villebrune a voté mardi le budget de la piscine."),
        _story_member("b", "Le conseil municipal de Villebrune a voté mardi soir le budget de la piscine."),
    ],
    "note": "our own text",
}


@pytest.mark.parametrize(
    ("bad_line", "says"),
    [
        ("{not json", "not JSON"),
        # past Python's recursion limit json.loads raises RecursionError: it was a traceback
        ('{"a": ' * 5000 + "1" + "}" * 5000, "not JSON: nested too deep to read (RecursionError)"),
        # a number of more digits than Python converts: a ValueError traceback too
        ('{"n": ' + "9" * 5000 + "}", "not JSON: a number too long to read (over 4300 digits)"),
        ('["a list"]', "expected a JSON object, got list"),
        (json.dumps({**GOOD_GROUP, "members": []}), '"members" must be a non-empty list'),
        (json.dumps({**GOOD_GROUP, "is_copy": "yes"}), 'missing or non-boolean "is_copy"'),
        (
            json.dumps({**GOOD_GROUP, "members": [{"key": "c", "text": 3}]}),
            'member 1 (c) has no string "text"',
        ),
        (
            json.dumps({**GOOD_GROUP, "members": [_story_member("d", "Un texte.", "mardi dernier")]}),
            "member 1 (d): \"published_at\" 'mardi dernier' is not a date",
        ),
    ],
)
def test_a_bad_line_of_a_stories_set_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad_line: str, says: str
) -> None:
    """`veille eval --shared DIR` reads DIR's stories-*.jsonl: a line it cannot use is one error
    naming FILE:LINE, exit 2 (before: a JSONDecodeError, KeyError or ValueError traceback)."""
    stories = tmp_path / "stories-dev.jsonl"
    stories.write_text(json.dumps(GOOD_GROUP, ensure_ascii=False) + "\n" + bad_line + "\n", encoding="utf-8")
    # beside a relevance split of ours: a --shared folder holding neither is an error of its own
    (tmp_path / "relevance-dev.jsonl").write_text(
        json.dumps({"text": "Il pleut sur Brest.", "label": "politics_other", "kind": "article"}) + "\n",
        "utf-8",
    )
    assert main(["eval", "--shared", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"veille: error: {stories}:2: ") and says in err


@pytest.mark.parametrize(
    "argv",
    [
        ["score", "{missing}"],
        ["score", "--topic", "{missing}"],
        ["rescore", "--topic", "{missing}"],
        ["train-topic", "--topic", "{missing}"],
        ["eval", "--topic", "{missing}", "--shared", "{tmp}"],
    ],
)
def test_a_missing_file_is_named_first(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Before: "veille: error: [Errno 2] No such file or directory: '...'", the file last."""
    missing = tmp_path / "nope.toml"
    argv = [a.format(missing=missing, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"veille: error: {missing}: No such file or directory\n"


def test_sources_check_of_an_unknown_name_says_which_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: "no source named 'Y'", not saying which sources file was read."""
    sources = tmp_path / "mine.toml"
    sources.write_text(BAD_SOURCES.replace("x.fr/rss.xml", "https://x.fr/rss.xml"), "utf-8")
    assert main(["sources", "check", "X", "Y", "--sources", str(sources)]) == 2
    err = capsys.readouterr().err
    hint = f"(its names: `veille sources --sources {sources}`)"
    assert err == f"veille: error: no source named 'Y' in {sources} {hint}\n"


#: a sources file of one source, the one the name tests below misspell
PIXELS = (
    '[[source]]\nname = "Le Monde - Pixels"\nkind = "feed"\nurl = "https://x.fr/rss.xml"\nowner = "media"\n'
)


def test_sources_check_of_a_misspelt_name_offers_the_file_s_near_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`veille sources check NAME` stores nothing and needs no database, but its only hint was
    `veille sources --sources FILE`, which opens one: a typo now gets the file's near names, as
    `veille export --source` does, with no database there at all."""
    monkeypatch.setenv("VEILLE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    sources = tmp_path / "mine.toml"
    sources.write_text(PIXELS, "utf-8")
    assert main(["sources", "check", "Le Monde Pixels", "--sources", str(sources)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"veille: error: no source named 'Le Monde Pixels' in {sources} (did you mean 'Le Monde - Pixels'?"
        f" its names: `veille sources --sources {sources}`)\n"
    )


def test_enable_or_disable_of_a_name_in_another_case_names_the_source_meant(
    clean_db: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille sources enable le monde - pixels` (the source is "Le Monde - Pixels") said "no
    source named ... in the archive (name its sources file with --sources FILE to add it)", and
    with that file "no source named ... in FILE": a source the archive and the file hold, sent
    round in a circle. Both now name the source meant, as `sources check` and `export --source`
    do; a name nothing is close to keeps the hint to add it from its file."""
    sources = tmp_path / "mine.toml"
    sources.write_text(PIXELS, "utf-8")
    assert main(["sources", "disable", "Le Monde - Pixels", "--sources", str(sources)]) == 0
    capsys.readouterr()
    assert main(["sources", "enable", "le monde - pixels"]) == 2
    assert capsys.readouterr().err == (
        "veille: error: no source named 'le monde - pixels' in the archive"
        " (did you mean 'Le Monde - Pixels'? its sources: veille sources)\n"
    )
    assert main(["sources", "enable", "le monde - pixels", "--sources", str(sources)]) == 2
    assert capsys.readouterr().err == (
        f"veille: error: no source named 'le monde - pixels' in {sources}"
        " (did you mean 'Le Monde - Pixels'?)\n"
    )
    assert main(["sources", "enable", "Nobody"]) == 2
    assert capsys.readouterr().err == (
        "veille: error: no source named 'Nobody' in the archive"
        " (name its sources file with --sources FILE to add it)\n"
    )
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT status FROM sources")) == "disabled"  # nothing changed


def test_sources_of_a_file_with_no_source_lists_none_of_the_archive_s(
    clean_db: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille sources --sources FILE` lists that file's sources; of an emptied file, or one
    whose entries are all commented out or bad, it listed every source of the archive as if
    the file held them ("6 sources: 6 active"). It says the file has none."""
    mine = tmp_path / "mine.toml"
    mine.write_text(PIXELS, "utf-8")
    assert main(["sources", "disable", "Le Monde - Pixels", "--sources", str(mine)]) == 0
    empty, commented, bad = (tmp_path / f"{n}.toml" for n in ("empty", "commented", "bad"))
    empty.write_text("", "utf-8")
    commented.write_text("".join(f"# {line}\n" for line in mine.read_text("utf-8").splitlines()), "utf-8")
    bad.write_text(mine.read_text("utf-8").replace('"feed"', '"nope"'), "utf-8")
    capsys.readouterr()
    for file in (empty, commented):
        assert main(["sources", "--sources", str(file)]) == 0
        assert capsys.readouterr().out == f"{file} has no source\n"
    assert main(["sources", "--sources", str(bad)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{bad} has no source but bad entries (below)\n"), out
    assert "unknown kind 'nope'" in out and "disabled" not in out
    assert main(["sources"]) == 0  # the archive's, as before
    assert "Le Monde - Pixels" in capsys.readouterr().out


BOM = "\ufeff"  # what Windows Notepad writes first in a file saved as "UTF-8"


def test_a_sources_file_with_a_byte_order_mark_is_read(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: "sources.toml:1: not valid TOML: Invalid statement (at line 1, column 1)", exit 2."""
    sources = tmp_path / "sources.toml"
    sources.write_text(BOM + BAD_SOURCES.replace("x.fr/rss.xml", "https://x.fr/rss.xml"), "utf-8")
    assert main(["sources", "--sources", str(sources)]) == 0
    out, err = capsys.readouterr()
    assert "X" in out.split() and "new" in out.split() and err == "", (out, err)


def test_a_topic_file_with_a_byte_order_mark_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: "topic.toml:1: TOML syntax error: Invalid statement (at line 1, column 1)", exit 2."""
    from monitors.judge.topic_set import topic_file

    topic = tmp_path / "topic.toml"
    topic.write_text(BOM + topic_file("eu_ai_act").read_text("utf-8"), "utf-8")
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "Le règlement européen sur l\'IA entre en application."}\n', "utf-8")
    assert main(["score", str(data), "--topic", str(topic)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["topic_version"].startswith("1.0+"), out
    assert err.startswith("scored 1 line, 0 errors"), err


def test_a_labelled_set_with_a_byte_order_mark_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: "labels.jsonl:1: not JSON: Unexpected UTF-8 BOM", where `veille score` reads
    the same line."""
    data = tmp_path / "labels.jsonl"
    data.write_text(BOM + '{"text": "Le sommet pour l\'action sur l\'IA.", "relevant": true}\n', "utf-8")
    assert main(["train-topic", "--data", str(data), "--output", str(tmp_path / "model.npz")]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        == f"veille: error: {data}: training needs relevant and non-relevant items for topic ai_summit"
    )


def test_train_topic_tries_its_output_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output folder that does not exist: before, the whole cross-validated training ran
    (its table printed, minutes on a large set) and only then "cannot write"."""
    model = tmp_path / "missing" / "model.npz"
    assert main(["train-topic", "--data", str(EVAL / "relevance.jsonl"), "--output", str(model)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"veille: error: cannot write {model}: No such file or directory\n", (
        out,
        err,
    )


@pytest.mark.parametrize("command", [["score", "{data}"], ["train-topic", "--data", "{data}"]])
def test_an_output_under_a_file_names_the_output_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """`-o notes.txt/out.jsonl`: before, "veille: error: /abs/path/notes.txt/out.jsonl: Not a
    directory" (the resolved path, no "cannot write"), after the training for train-topic."""
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "Le sommet pour l\'action sur l\'IA.", "relevant": true}\n', "utf-8")
    (tmp_path / "notes.txt").write_text("x", "utf-8")
    monkeypatch.chdir(tmp_path)
    argv = [part.format(data=data) for part in command]
    assert main([*argv, "-o", "notes.txt/out.jsonl"]) == 2
    assert capsys.readouterr().err == "veille: error: cannot write notes.txt/out.jsonl: Not a directory\n"


WIDE = (
    "UTF-16 text, not UTF-8 (a UTF-16 byte order mark opens it): save it as UTF-8 (iconv -f UTF-16 -t UTF-8)"
)


def test_a_utf16_input_is_said_once_for_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file saved as UTF-16 (an editor's "Unicode", PowerShell's `>`): before, `veille score`
    wrote "not UTF-8 text: 'utf-8' codec can't decode byte 0xff" for its first line and "not
    JSON" for each other line; train-topic and eval the codec's words alone."""
    lines = [
        {"text": f"Le sommet pour l'action sur l'IA, jour {n}.", "relevant": n % 2 == 0} for n in range(3)
    ]
    data = tmp_path / "unicode.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-16")
    assert main(["score", str(data)]) == 1
    out, err = capsys.readouterr()
    assert [json.loads(line) for line in out.splitlines()] == [{"line": 1, "error": WIDE}], out
    assert err.startswith("scored 0 lines, 1 error,"), err
    assert main(["train-topic", "--data", str(data), "--output", str(tmp_path / "model.npz")]) == 2
    assert capsys.readouterr().err == f"veille: error: {data}:1: {WIDE}\n"


@pytest.mark.parametrize("command", [["stats"], ["db", "start"], ["db-url"]])
def test_a_data_folder_that_is_a_file_is_said_with_its_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """VEILLE_DATA_DIR naming a file: before, "a.txt/pgdata: Not a directory" (`db start`:
    "a.txt: File exists"), not what the path is nor which setting gave it."""
    data = tmp_path / "notes.txt"
    data.write_text("x", "utf-8")
    monkeypatch.delenv("VEILLE_DATABASE_URL", raising=False)
    monkeypatch.setenv("VEILLE_DATA_DIR", str(data))
    assert main(command) == 2
    assert capsys.readouterr().err == (
        f"veille: error: cannot create the embedded PostgreSQL's folder {data / 'pgdata'}: Not a directory"
        " (VEILLE_DATA_DIR: a folder veille can write, or VEILLE_DATABASE_URL)\n"
    )


def test_a_misspelt_topic_name_gets_did_you_mean(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--topic ai_sumit` was refused with the folder's topics but no hint, as source names get
    one (ad5563b): the same helper names the topic meant."""
    assert main(["stories", "--topic", "ai_sumit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("veille: error: no topic named 'ai_sumit' (did you mean 'ai_summit'? topics in"), (
        err
    )
    assert main(["stories", "--topic", "zzzzzz"]) == 2  # nothing close: no hint
    assert "did you mean" not in capsys.readouterr().err


def test_sources_check_of_a_file_with_no_source_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille sources check --sources FILE` of an emptied file printed "0 sources probed" alone;
    it says the file has no source, as `veille sources --sources FILE` does (2758016)."""
    empty, commented = tmp_path / "empty.toml", tmp_path / "commented.toml"
    empty.write_text("", "utf-8")
    commented.write_text('# [[source]]\n# name = "Le Monde - Pixels"\n', "utf-8")
    for file in (empty, commented):
        assert main(["sources", "check", "--sources", str(file)]) == 0
        assert capsys.readouterr().out == f"{file} has no source: nothing probed\n"
