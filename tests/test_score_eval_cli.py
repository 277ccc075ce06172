"""`veille score` and `veille eval` from the command line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import main
from monitors.judge.evaluation import EXPECTED_LINE
from tests.test_context import PARAGRAPH, SEED

LINES = [
    {
        "id": "a",
        "title": "Sommet pour l'action sur l'IA",
        "text": "Le sommet s'ouvre au Grand Palais les 10 et 11 février.",
    },
    {
        "id": "b",
        "text": "The weather in London will stay mild today and tomorrow, forecasters said on Monday.",
    },
]


def _run(argv: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if stdin is None:
            code = main(argv)
        else:
            import sys

            saved, sys.stdin = sys.stdin, io.StringIO(stdin)
            try:
                code = main(argv)
            finally:
                sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def test_score_reads_stdin_and_writes_json_lines() -> None:
    payload = "\n".join(json.dumps(x) for x in LINES) + "\n[1, 2]\n{'text': 'x'}\n"
    code, out, err = _run(["score"], stdin=payload)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r.get("id") for r in rows] == ["a", "b", None, None]
    a, b, bad, not_json = rows
    assert set(a) >= {"language", "language_confidence", "relevance", "relevant", "relevance_terms"}
    assert (a["language"], a["relevant"]) == ("fr", True)
    assert (b["language"], b["relevant"], b["relevance_terms"]) == ("en", False, [])
    # the first line score cannot read says what it reads (EXPECTED_LINE), the others are short
    assert bad == {"line": 3, "error": f"expected a JSON object; {EXPECTED_LINE}"}
    # the cause first: what the line is not, then the parser's words (they were alone)
    assert not_json == {
        "line": 4,
        "error": "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    }
    assert "scored 2 lines, 2 errors" in err


def test_plain_text_given_to_score_is_told_what_score_reads() -> None:
    """Plain text, not JSON lines: each line was "not JSON: Expecting value: line 1 column 1",
    which said nothing of what to give. The first error says it, with an example that scores."""
    code, out, err = _run(["score"], stdin="Le sommet de Paris sur l'IA.\nUne autre ligne.\n")
    assert code == 1 and "scored 0 lines, 2 errors" in err
    first, second = (json.loads(line) for line in out.splitlines())
    cause = "not JSON: Expecting value: line 1 column 1 (char 0)"
    assert first == {"line": 1, "error": f"{cause}; {EXPECTED_LINE}"}
    assert second == {"line": 2, "error": cause}
    assert "JSON lines" in first["error"] and '"text"' in first["error"]
    example = EXPECTED_LINE.split("such as ", 1)[1]
    code, out, _ = _run(["score"], stdin=example + "\n")  # the example given is a line score reads
    assert code == 0 and json.loads(out)["language"] == "fr"


def test_score_reads_a_file_with_another_topic(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(x) for x in LINES), encoding="utf-8")
    topic = tmp_path / "weather.toml"
    topic.write_text(
        'name = "weather"\nversion = "0.1"\nthreshold = 0.3\nrequired_groups = ["weather"]\n'
        "[groups.weather]\n"
        '[[terms]]\nname = "weather"\ngroup = "weather"\npatterns = ["weather", "forecaster*"]\n',
        encoding="utf-8",
    )
    code, out, _ = _run(["score", str(corpus), "--topic", str(topic)])
    assert code == 0
    a, b = (json.loads(line) for line in out.splitlines())
    assert (a["relevant"], b["relevant"]) == (False, True)
    assert b["relevance_terms"] == ["weather"] and b["topic_version"].startswith("0.1+")


def test_eval_prints_metrics_and_passes_the_shipped_floors() -> None:
    code, out, _ = _run(["eval"])
    assert code == 0, out
    for label in ("relevant", "not_relevant", "fr", "en"):
        assert any(line.split()[:1] == [label] for line in out.splitlines()), label
    assert "precision" in out and "recall" in out and "f1" in out
    assert "floors hold" in out


def test_eval_fails_below_a_floor(tmp_path: Path) -> None:
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"relevance": {"relevant.f1": 1.01}, "language": {}}), encoding="utf-8")
    code, _, err = _run(["eval", "--floors", str(floors)])
    assert code == 1
    assert "relevance relevant.f1" in err and "< floor 1.0100" in err


@pytest.mark.parametrize("command", ["score", "eval", "rescore", "train-topic"])
def test_help_has_an_example(command: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "example:" in out.getvalue()


def test_score_uses_published_at_and_warns_on_a_bad_one() -> None:
    text = "Le sommet sur l'IA s'ouvre lundi. Les dirigeants y parlent d'intelligence artificielle."
    lines = [
        {"id": "in", "text": text, "published_at": "2025-02-09"},
        {"id": "bad", "text": text, "published_at": "le 9 février"},
        {"id": "out", "text": text, "published_at": "2019-06"},
    ]
    code, out, err = _run(["score"], stdin="\n".join(json.dumps(x) for x in lines))
    assert code == 0
    rows = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert set(rows) == {"in", "bad", "out"}  # the bad date's line is still scored
    assert "warning: line 2:" in err and "published_at" in err
    assert rows["in"]["relevance"] > rows["out"]["relevance"]
    assert "error" not in rows["bad"] and isinstance(rows["bad"]["relevance"], float)


def test_a_lone_surrogate_escape_is_u_fffd_not_a_crash(tmp_path: Path) -> None:
    """JSON may escape half a surrogate pair alone ("\\ud800"); decoded as is, nothing can
    encode it, and writing the line's result (its id, its best sentence) ended `veille score`
    with a UnicodeEncodeError traceback, the lines after it lost. Read as U+FFFD, as the
    pipeline reads JSON-LD; a labelled set's items too."""
    from monitors.judge.evaluation import read_labelled

    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "a\\udc00", "text": "Le sommet de Paris sur l\'IA \\ud800 s\'ouvre au Grand Palais."}\n'
        '{"id": "b", "text": "ok", "title": "\\ud83d", "url": "http://x.fr/\\ud800"}\n',
        "utf-8",
    )
    out = tmp_path / "out.jsonl"
    code, _, err = _run(["score", str(source), "-o", str(out)])
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r.get("id") for r in rows] == ["a\ufffd", "b"]
    assert rows[0]["relevant"] and "error" not in rows[1]
    items = read_labelled(source)
    assert items[0]["id"] == "a\ufffd" and "\ud800" not in items[0]["text"] and "\ufffd" in items[0]["text"]


def test_score_dash_is_stdin() -> None:
    """`veille score -` reads stdin, as cat and jq do (before: "-: No such file or directory")."""
    line = json.dumps(
        {"id": "x", "text": "Le sommet pour l'action sur l'IA s'ouvre au Grand Palais à Paris."}
    )
    code, out, err = _run(["score", "-"], stdin=line + "\n")
    assert code == 0, err
    assert json.loads(out)["id"] == "x"


def test_score_reads_a_timestamp_whole_or_warns() -> None:
    """A timestamp gives its day on the local clock (Europe/Paris, as the pipeline scores); one
    whose time does not read is ignored with a warning, the line scored (before, its first ten
    characters were taken: "2025-02-10T99:99" and "2025-02-10 whatever" read as 10 February).
    A month out of range says what is wrong with it after the value."""
    values = {
        "z": "2025-02-10T10:00:00Z",
        "offset": "2025-02-28T23:30:00-05:00",
        "space": "2025-02-10 10:00",
        "hour": "2025-02-10T99:99",
        "words": "2025-02-10 whatever",
        "month": "2025-13",
    }
    lines = [{"id": key, "text": "Le sommet sur l'IA.", "published_at": v} for key, v in values.items()]
    code, out, err = _run(["score"], stdin="\n".join(json.dumps(x) for x in lines))
    assert code == 0
    rows = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert {k: rows[k]["published_at"] for k in values} == {
        "z": "2025-02-10", "offset": "2025-03-01", "space": "2025-02-10",  # 05:30 on 1 March in Paris
        "hour": None, "words": None, "month": None,
    }  # fmt: skip
    assert "warning: line 4: published_at '2025-02-10T99:99' is not an ISO date" in err
    assert "hour must be in 0..23; scored without a date" in err
    assert "warning: line 5: published_at '2025-02-10 whatever' is not an ISO date" in err
    assert (
        "warning: line 6: published_at '2025-13' is not an ISO date" in err
        and "month must be in 1..12" in err
    )


#: A paragraph the summit topic finds only in its peak: no AI word, a gathering of world
#: leaders in Paris (docs/topics.md, "The gathering itself"); undated it is not relevant
GATHERING = (
    "Chefs d'État et dirigeants d'une centaine de pays se retrouvent à Paris pour ce sommet de deux jours."
)


def test_score_reads_published_at_as_feeds_pages_and_tools_write_it() -> None:
    """A ``published_at`` as an RSS feed (RFC 2822), a French page, an English one, a US
    export or a program (Unix seconds or milliseconds, as a number or a string) writes it is
    that day, as ISO is, and the verdict is the dated one. Before, only ISO was read: each of
    these was ignored with a warning and the paragraph scored undated, not relevant."""
    written = {
        "iso": "2025-02-10",
        "rfc2822": "Mon, 10 Feb 2025 09:00:00 +0100",
        "rfc2822_gmt_late": "Sun, 09 Feb 2025 23:30:00 GMT",  # 10 February in Paris
        "rfc2822_cet": "Mon, 10 Feb 2025 09:00:00 CET",
        "rfc822_french": "lun., 10 févr. 2025 09:00:00 +0100",
        "french": "10 février 2025",
        "french_time": "lundi 10 février 2025 à 14h30",
        "french_numeric": "10/02/2025",
        "english": "February 10, 2025",
        "english_weekday": "Monday, Feb. 10th, 2025",
        "year_first": "2025/02/10",
        "epoch": 1739174400,
        "epoch_text": "1739174400",
        "epoch_ms": 1739174400000,
        "named_zone": "2025-02-10 09:00 Europe/Paris",
        "iso_zone_name": "2025-02-09 23:30:00 UTC",  # as BigQuery and logs write it
        "rfc9557": "2025-02-10T09:00:00+01:00[Europe/Paris]",
        "english_day_first": "Monday 10th February, 2025",
        "english_time": "February 10, 2025 at 9:00 AM",
    }
    months = {"month_fr": "février 2025", "month_en": "February 2025"}
    lines = [{"id": k, "text": GATHERING, "published_at": v} for k, v in {**written, **months}.items()]
    lines.append({"id": "undated", "text": GATHERING})
    code, out, err = _run(["score"], stdin="\n".join(json.dumps(x, ensure_ascii=False) for x in lines))
    assert code == 0 and "warning" not in err, err
    rows = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert {k: rows[k]["published_at"] for k in written} == dict.fromkeys(written, "2025-02-10")
    assert {k: rows[k]["published_at"] for k in months} == dict.fromkeys(months, "2025-02-01")
    assert all(rows[k]["relevant"] for k in (*written, *months))
    assert not rows["undated"]["relevant"]


def test_score_a_line_nested_too_deep_is_an_error_line_and_the_rest_is_scored() -> None:
    """A line of arrays nested some thousand deep (json.loads raises RecursionError past
    Python's recursion limit) is an error line; the lines after it are scored. Before, the
    command ended on a RecursionError traceback, the rest unscored. A number of 5,000 digits
    (over Python's conversion limit) is said as such, not as Python's advice to call
    sys.set_int_max_str_digits()."""
    deep = '{"text": "x", "meta": ' + "[" * 100_000 + "]" * 100_000 + "}"
    long_number = '{"text": "x", "n": ' + "9" * 5000 + "}"
    code, out, err = _run(["score"], stdin="\n".join([deep, json.dumps(LINES[0]), long_number]) + "\n")
    assert code == 0, err
    bad, good, too_long = (json.loads(line) for line in out.splitlines())
    assert bad == {"line": 1, "error": f"not JSON: nested too deep to read (RecursionError); {EXPECTED_LINE}"}
    assert good["id"] == "a" and good["relevant"]
    assert too_long == {"line": 3, "error": "not JSON: a number too long to read (over 4300 digits)"}
    # the topic named with its version: "(topic 1.0+7c2740e0)" named a version alone
    assert err.endswith(
        f"scored 1 line, 2 errors, each line alone (topic ai_summit {good['topic_version']})\n"
    )


def test_score_warns_on_a_date_it_cannot_read_and_scores_the_line() -> None:
    """What no format reads, or names no real day (31 February), is ignored with a warning
    naming the line and the formats read; the line is scored undated. ``true`` is not a
    date, a blank string is none (as null)."""
    values = ["hier", "31 février 2025", "Mon, 31 Feb 2025 10:00:00 GMT", "10 Feb 25", True, "  ",
              "sommet du 10 février 2025", "10 February 2025 hier"]  # fmt: skip
    lines = [{"id": str(n), "text": GATHERING, "published_at": v} for n, v in enumerate(values)]
    code, out, err = _run(["score"], stdin="\n".join(json.dumps(x, ensure_ascii=False) for x in lines))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["relevant"] for r in rows] == [False] * len(values)
    assert [r["published_at"] for r in rows] == [None] * len(values)
    assert "warning: line 1: published_at 'hier' is not a date veille reads: ISO 8601" in err
    assert "RFC 2822" in err and "Unix seconds; scored without a date" in err
    assert "warning: line 2: published_at '31 février 2025'" in err
    assert "warning: line 3: published_at 'Mon, 31 Feb 2025 10:00:00 GMT'" in err
    assert "warning: line 5: published_at must be a string or a number, not bool" in err
    assert "line 6" not in err  # blank: no date, nothing to warn about
    assert "line 7: published_at 'sommet du 10 février 2025'" in err  # a date in a phrase: no date
    assert "line 8: published_at '10 February 2025 hier'" in err


def test_a_bad_topic_file_or_an_empty_folder_is_an_error_with_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nversion = "0.1"\nthreshold = 0.3\nrequired_groups = ["a"]\ntreshold = 1\n')
    code, out, err = _run(["score", "--topic", str(bad)], stdin=json.dumps(LINES[0]))
    assert (code, out) == (2, "")
    assert err.startswith(f"veille: error: {bad}:5: unknown key 'treshold'"), err
    empty = tmp_path / "topics"
    empty.mkdir()
    monkeypatch.setenv("VEILLE_TOPICS_DIR", str(empty))
    code, _, err = _run(["eval"])
    assert code == 2 and err.startswith(f"veille: error: {empty}: no topic file (*.toml)"), err


def test_score_says_why_per_zone_with_the_best_sentence_with_or_without_title_url_date() -> None:
    """Each scored line carries relevance_why, the line search, export and the feed show: the
    matched terms per zone and the sentence that weighed most (docs/relevance.md's example)."""
    text = "Le sommet pour l action sur l IA s ouvre a Paris."
    lines = [
        {
            "id": "full",
            "title": "Sommet IA",
            "text": text,
            "url": "https://example.org/a",
            "published_at": "2025-02-10",
        },
        {"id": "bare", "text": text},
        {"id": "baddate", "text": text, "published_at": "hier"},
        {"id": "off", "text": "The weather in London will stay mild today, forecasters said."},
    ]
    code, out, err = _run(["score"], stdin="\n".join(json.dumps(x) for x in lines))
    assert code == 0
    rows = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert rows["full"]["relevance_why"].startswith("title: ")
    for key in ("full", "bare", "baddate"):
        why = rows[key]["relevance_why"]
        assert "lead: " in why and why.endswith(f"«{text}»"), why
    assert rows["off"]["relevance_why"] == ""
    assert "warning: line 3: published_at 'hier'" in err


def test_score_reads_a_long_text_without_sentence_ends(tmp_path: Path) -> None:
    """A text of 4 MB with no sentence end (a dump of headlines, a page of tags) is one piece
    holding 250,000 matches of a case-kept term ("IA"). Each match split the piece again up to
    itself: quadratic, about half an hour for this line, a worker stuck as long on such a page.
    The timeout is a hang guard (a few seconds here), not a measure of speed."""
    import subprocess
    import sys

    corpus = tmp_path / "long.jsonl"
    corpus.write_text(json.dumps({"id": "long", "text": "sommet IA Paris " * 250_000}) + "\n", "utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from flows.cli import main; sys.exit(main())",
            "score",
            str(corpus),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["id"] == "long" and "IA" in row["relevance_terms"] and "sommet" in row["relevance_terms"]


def test_score_refuses_a_line_over_the_cap_unread_and_scores_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line over VEILLE_SCORE_MAX_LINE_BYTES is an error line naming its number, its size and
    the limit, as a bad JSON line is; the lines after it are scored. Before, the whole line was
    read and scored (a 50 MB line took the process past 2 GB)."""
    monkeypatch.setenv("VEILLE_SCORE_MAX_LINE_BYTES", "5000")
    huge = json.dumps({"id": "huge", "text": "sommet IA Paris " * 2_000})  # 32,029 bytes
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join([json.dumps(LINES[0]), huge, json.dumps(LINES[1])]) + "\n", "utf-8")
    code, out, err = _run(["score", str(corpus)])
    assert code == 0
    a, bad, b = (json.loads(line) for line in out.splitlines())
    assert (a["id"], a["relevant"], b["id"], b["language"]) == ("a", True, "b", "en")
    assert bad == {
        "line": 2,
        "error": f"line too long: {len(huge)} bytes, over the limit of 5000 bytes "
        "(VEILLE_SCORE_MAX_LINE_BYTES); not read, not scored",
    }
    assert "scored 2 lines, 1 error," in err
    # stdin, read as text (a StringIO): the same, the size in UTF-8 bytes; alone, it fails (exit 1)
    accented = huge.replace("sommet", "été")  # 26,029 characters, 30,029 bytes
    code, out, _ = _run(["score"], stdin=accented + "\n")
    assert code == 1
    assert json.loads(out)["error"].startswith(f"line too long: {len(accented.encode())} bytes,")


def test_score_takes_an_article_of_hundreds_of_kb_by_default() -> None:
    """The default cap (4 MiB) is far above a long article's text, accents escaped included."""
    text = "Le sommet pour l'action sur l'IA s'ouvre au Grand Palais, à Paris, dès février. " * 6_000
    line = json.dumps({"id": "long", "text": text})  # ~560 kB, each é as \\u00e9
    assert len(line) > 500_000
    code, out, _ = _run(["score"], stdin=line + "\n")
    assert code == 0
    assert json.loads(out)["relevant"] is True


@pytest.mark.parametrize("value", ["0", "-1", "lots"])
def test_a_line_cap_that_is_not_a_positive_integer_is_an_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("VEILLE_SCORE_MAX_LINE_BYTES", value)
    code, out, err = _run(["score"], stdin=json.dumps(LINES[0]) + "\n")
    assert code == 2 and out == ""
    assert "VEILLE_SCORE_MAX_LINE_BYTES must be an integer" in err


# our own text (tests/test_context.py): a summit article, and a paragraph of its follow-up that
# names nothing of the summit
BATCH = [dict(SEED, id="article"), dict(PARAGRAPH, id="paragraph")]


def test_score_judges_a_file_as_a_batch_with_context(tmp_path: Path) -> None:
    """As documented in `veille score --help`: --context reads the lines as one batch; by
    default each line is scored alone."""
    corpus = tmp_path / "batch.jsonl"
    corpus.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in BATCH) + "\n", encoding="utf-8")
    code, out, err = _run(["score", str(corpus), "--context"])
    assert code == 0
    article, paragraph = (json.loads(line) for line in out.splitlines())
    assert article["relevant"] and "relevance_context" not in article
    assert paragraph["relevant"]
    context = paragraph["relevance_context"]
    assert (context["neighbour"], context["neighbour_id"]) == (1, "article")
    assert {"e:valorine", "n:4.2e9"} <= set(context["shared"])
    assert "in context: like line 1" in paragraph["relevance_why"]
    assert "1 relevant by their context" in err

    code, out, err = _run(["score", str(corpus)])
    assert code == 0
    article, paragraph = (json.loads(line) for line in out.splitlines())
    assert article["relevant"] and not paragraph["relevant"]
    assert "relevance_context" not in paragraph
    assert "each line alone" in err


def test_eval_prints_our_examples_with_the_set_as_context(tmp_path: Path) -> None:
    """`veille eval` shows what the batch adds (veille score --context) beside the figures the
    floors apply to (each item alone). ``--no-shared``: no shared split read."""
    code, out, err = _run(["eval", "--no-shared"])
    assert code == 0, err
    assert "not checked, their sets not measured: relevance_test (" in out.strip().splitlines()[-1]
    line = next(x for x in out.splitlines() if x.startswith("with the set as context"))
    assert "(veille score --context): relevant P " in line and "precision on hard negatives" in line


def test_eval_measures_a_folder_holding_the_dev_split_alone(tmp_path: Path) -> None:
    """`veille eval --shared DIR` with DIR holding relevance-dev.jsonl alone (what the house
    rules ask for: tuning never reads the test split) measures dev and says test is not
    measured (before: both files were needed, and such a folder measured nothing). Labelled
    items we wrote here, in the shared sets' form (``label``, ``kind``); an empty dev file is a
    warning, not figures of nothing."""
    items = [
        {"id": "a", "kind": "article", "label": "summit", "title": "Sommet pour l'action sur l'IA",
         "text": "Le sommet pour l'action sur l'intelligence artificielle s'ouvre au Grand Palais à Paris."},
        {"id": "b", "kind": "article", "label": "politics_other", "title": "Budget",
         "text": "Le gouvernement présente son budget rectificatif à l'Assemblée nationale mardi."},
    ]  # fmt: skip
    (tmp_path / "relevance-dev.jsonl").write_text(
        "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), "utf-8"
    )
    code, out, err = _run(["eval", "--shared", str(tmp_path), "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["relevance_dev"]["n"] == 2
    assert report["relevance_dev"]["kinds"]["article"]["recall"] == 1.0
    assert "relevance_test" not in report
    assert f"no relevance-test.jsonl in {tmp_path}: the test split is not measured" in report["warnings"][0]
    assert not any("not found" in line for line in report["warnings"])
    (tmp_path / "relevance-dev.jsonl").write_text("", "utf-8")
    code, out, err = _run(["eval", "--shared", str(tmp_path)])
    assert code == 0
    assert f"{tmp_path / 'relevance-dev.jsonl'} holds no item: the dev split measures nothing" in err


@pytest.mark.parametrize(
    ("floors", "message"),
    [
        ('{"relevance": {"relevant.f1": 0.9,}}', "floors.json:1: not JSON: "),
        ("[0.9]", "floors.json:1: expected a JSON object of floors, got list"),
        (
            '{"relevance": {"relevant.f2": 0.9}}',
            "floors.json: relevance: 'relevant.f2' is no figure of the report",
        ),
        (
            '{"relevance": {"relevant.f1": "0.9"}}',
            "floors.json: relevance relevant.f1: the bound must be a number",
        ),
    ],
    ids=["syntax", "list", "unknown-metric", "string"],
)
def test_eval_with_a_bad_floors_file_says_what_is_wrong(tmp_path: Path, floors: str, message: str) -> None:
    """`veille eval --floors FILE` (its gate): a file that is not JSON stops at once with its
    line, a metric no report has or a bound that is not a number names it; exit 2 (before: a
    JSONDecodeError, KeyError or ValueError traceback, after the whole evaluation)."""
    path = tmp_path / "floors.json"
    path.write_text(floors, "utf-8")
    code, out, err = _run(["eval", "--no-shared", "--floors", str(path)])
    assert code == 2, err
    assert err.startswith(f"veille: error: {tmp_path}/{message}"), err
    assert "Traceback" not in err


def test_a_floor_beside_min_and_max_is_an_error_not_skipped() -> None:
    """In a section with "min"/"max", a metric beside them (or "mx" for "max") was never
    checked: the gate passed whatever the figure. It names the key, as an unknown metric."""
    from flows.commands.eval import check_floors
    from monitors.judge.lines import LabelledDataError

    reports = {"relevance": {"relevant": {"f1": 0.5, "precision": 0.5}}}
    assert check_floors(reports, {"relevance": {"min": {"relevant.f1": 0.9}}}) == [
        "relevance relevant.f1 = 0.5000 < floor 0.9000"
    ]
    for spec in (
        {"min": {"relevant.f1": 0.4}, "relevant.precision": 0.99},
        {"min": {"relevant.f1": 0.4}, "mx": {"relevant.precision": 0.1}},
    ):
        stray = next(key for key in spec if key != "min")
        with pytest.raises(LabelledDataError, match=rf"^relevance: '{re.escape(stray)}' beside"):
            check_floors(reports, {"relevance": spec})


def test_eval_errors_lists_every_misclassified_item(tmp_path: Path) -> None:
    """`veille eval --errors` (README, `veille eval --help`: "list every misclassified item"):
    as many relevance lines as false positives and negatives, each naming its item, and every
    language error. ``--no-shared``: no shared split read."""
    code, out, _ = _run(["eval", "--no-shared", "--json"])
    assert code == 0
    report = json.loads(out)
    confusion = report["relevance"]["confusion"]
    code, out, _ = _run(["eval", "--no-shared", "--errors"])
    assert code == 0
    listed = out.split("relevance errors:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(listed) == confusion["fp"] + confusion["fn"] > 0
    assert [line.split(":")[0].strip() for line in listed] == [e["id"] for e in report["relevance"]["errors"]]
    languages = out.split("language errors:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split(":")[0].strip() for line in languages] == [
        e["id"] for e in report["language"]["errors"]
    ]
    # and what was not measured says why
    assert "copies/stories: skipped (--no-shared)" in out


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_writing_another_topic_as_docs_relevance_says(tmp_path: Path) -> None:
    """docs/relevance.md, "Writing another topic": labels of one's own as it gives them,
    `{"text", "title", "relevant"}` per line (no id), then its two commands as written (eval
    with ``--no-shared`` added: no shared split read). Each error is named by its
    file and line, and the figures by the set they come from."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "relevance.md").read_text(encoding="utf-8")
    block = doc.split("**Writing another topic**", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    score, evaluate = block.strip().splitlines()
    (tmp_path / "my_topic.toml").write_text(
        'name = "weather"\nversion = "0.1"\nthreshold = 0.3\nrequired_groups = ["weather"]\n'
        '[groups.weather]\n[[terms]]\nname = "weather"\ngroup = "weather"\npatterns = ["weather", "météo"]\n',
        encoding="utf-8",
    )
    labels = [
        {"text": "La météo annonce de la pluie demain sur Paris.", "title": "Météo", "relevant": True},
        {"text": "Le sommet sur l'IA s'ouvre au Grand Palais.", "title": "Sommet IA", "relevant": False},
        {"text": "Un hiver doux et sec est attendu partout.", "title": "Hiver", "relevant": True},
    ]
    for name in ("my_labels.jsonl", "my_corpus.jsonl"):
        (tmp_path / name).write_text("".join(json.dumps(x) + "\n" for x in labels), encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def sh(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    done = sh(score)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        [0.4866, ["weather"]],
        [0, []],
        [0, []],
    ]
    done = sh(f"{evaluate} --no-shared")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1  # the shipped floors are the summit's
    assert "relevance (my_labels.jsonl): 3 items" in done.stdout
    errors = done.stdout.split("relevance errors:\n", 1)[1].split("\n", 1)[0]
    assert errors.startswith("  my_labels.jsonl:3: expected True, score 0")


def test_eval_on_sets_and_floors_of_ones_own_as_docs_relevance_says(tmp_path: Path) -> None:
    """docs/relevance.md's `veille eval --relevance-set FILE --language-set FILE --floors FILE`,
    as written (``--no-shared`` added): figures of those sets, gated by those floors."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "relevance.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"`(veille eval --relevance-set [^`]+)`", " ".join(doc.split()))
    summit = "Le sommet pour l'action sur l'IA s'ouvre au Grand Palais à Paris les 10 et 11 février."
    relevance = [{"text": summit, "title": "Sommet IA", "relevant": True}, {**LINES[1], "relevant": False}]
    weather = "La météo annonce de la pluie demain sur Paris et un vent fort sur toute la côte atlantique."
    language = [
        {"text": weather, "language": "fr", "kind": "text"},
        {**LINES[1], "language": "en", "kind": "text"},
    ]
    for name, items in (("rel.jsonl", relevance), ("lang.jsonl", language)):
        (tmp_path / name).write_text("".join(json.dumps(x) + "\n" for x in items), encoding="utf-8")
    floors = tmp_path / "floors.json"
    argv = command.split()[1:]
    for path in (tmp_path / "rel.jsonl", tmp_path / "lang.jsonl", floors):
        argv[argv.index("FILE")] = str(path)
    argv += ["--no-shared"]
    floors.write_text(json.dumps({"relevance": {"relevant.f1": 0.9}, "language": {"accuracy": 1.0}}), "utf-8")
    code, out, err = _run(argv)
    assert (code, "Traceback" in err) == (0, False), err
    assert f"relevance ({tmp_path / 'rel.jsonl'}): 2 items" in out and "language: 2 items" in out
    # the copies/stories floors were not checked (--no-shared): not "all 2 floors hold"
    assert f"\n2 floors hold ({floors}); not checked, their sets not measured: copies/stories of" in out
    language[0]["language"] = "en"  # now one of the two is misread: accuracy 0.5, below its floor
    (tmp_path / "lang.jsonl").write_text("".join(json.dumps(x) + "\n" for x in language), encoding="utf-8")
    code, out, err = _run(argv)
    assert code == 1 and "language accuracy" in out + err, out + err


def _echo_pipelines() -> list[tuple[str, str]]:
    """(where, shell line) of each `echo '{...}' | veille score ...` the docs and the help show
    (those that need a topic file of the reader's own, `--topic url.toml`, aside: see
    tests/test_relevance_url.py)."""
    from tests.test_docs import DOCS, ROOT, _help_texts

    texts = {p.relative_to(ROOT).as_posix(): p.read_text("utf-8") for p in DOCS}
    texts.update({f"{c} --help": t for c, t in _help_texts().items()})
    return sorted(
        {
            (where, line.strip())
            for where, text in texts.items()
            for line in re.findall(r"^\s*(echo '\{.*\}' \| veille score\b.*)$", text, flags=re.M)
            if "--topic" not in line
        }
    )


ECHO_PIPELINES = _echo_pipelines()


def test_the_docs_pipe_echo_into_score() -> None:
    assert {where for where, _ in ECHO_PIPELINES} >= {"docs/relevance.md", "veille score --help"}


@pytest.mark.parametrize(("where", "line"), ECHO_PIPELINES)
def test_every_echo_into_score_runs_as_written(where: str, line: str) -> None:
    """The line in sh, as a reader pastes it (jq included when installed): exit 0, and what it
    prints is the scored line (or the field jq picks), not an error or a null."""
    command = line.split("  #", 1)[0].strip()
    if shutil.which("jq") is None:
        command = command.split(" | jq", 1)[0]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{where}: {command}\n{done.stderr}"
    out = done.stdout.strip()
    assert out and out != "null" and '"error"' not in out, f"{where}: {command} printed {out!r}"
    if "| jq" not in command:
        assert {"relevance", "relevant", "relevance_why", "language"} <= set(json.loads(out))
