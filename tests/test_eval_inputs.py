"""`veille eval`'s inputs: a misspelt label or key in a labelled set, a misspelt section of the
floors file, were silently counted or skipped; each is an error naming the file and line.
(``--shared`` names an empty folder: no shared split is read.)"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from flows.cli import main
from monitors.judge.evaluation import evaluate_relevance, relevance_truth
from monitors.judge.lines import LabelledDataError
from monitors.judge.topic import load_topic

SUMMIT = "Le sommet pour l'action sur l'IA s'ouvre au Grand Palais les 10 et 11 février."
OTHER = "La météo restera douce à Lyon cette semaine, selon les prévisionnistes."


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _set(tmp_path: Path, *items: dict[str, object]) -> Path:
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8")
    return path


@pytest.mark.parametrize(
    ("second", "says"),
    [
        (
            {"text": OTHER, "relevent": False},
            'mine.jsonl:2: no "relevant" (true or false) nor "label" (\'relevent\' misspelt?)',
        ),
        (
            {"text": OTHER, "relevant": "false"},
            "mine.jsonl:2: \"relevant\" must be true or false, not 'false'",
        ),
        (
            {"text": SUMMIT, "label": "sumit"},
            "mine.jsonl:2: label 'sumit' is not the topic's label 'summit' (misspelt?)",
        ),
    ],
    ids=["misspelt-key", "string-bool", "misspelt-label"],
)
def test_a_misspelt_truth_is_an_error_naming_its_line(
    tmp_path: Path, second: dict[str, object], says: str
) -> None:
    """Before: each was counted (as not relevant, or `"false"` as relevant), F1 measured on a
    truth nobody wrote."""
    path = _set(tmp_path, {"text": SUMMIT, "relevant": True}, second)
    with pytest.raises(LabelledDataError) as err:
        evaluate_relevance(path, load_topic())
    assert str(err.value).startswith(f"{tmp_path}/{says}")
    code, out, err_text = _run(["eval", "--shared", str(tmp_path), "--relevance-set", str(path)])
    assert code == 2 and out == "" and err_text.startswith(f"veille: error: {tmp_path}/{says}")


def test_the_truths_still_read_as_written() -> None:
    assert relevance_truth({"relevant": False}, {"summit"}, "x:1") is False
    assert relevance_truth({"label": "summit"}, {"summit"}, "x:1") is True
    assert relevance_truth({"label": "ai_other"}, {"summit"}, "x:1") is False  # a negative label
    assert relevance_truth({"label": "summit_other"}, {"summit"}, "x:1") is False


def test_a_misspelt_language_key_is_an_error_naming_its_line(tmp_path: Path) -> None:
    """Before: a KeyError traceback ('language')."""
    path = tmp_path / "lang.jsonl"
    path.write_text(json.dumps({"text": OTHER, "langauge": "fr"}) + "\n", "utf-8")
    code, _, err = _run(["eval", "--shared", str(tmp_path), "--language-set", str(path)])
    assert (
        code == 2
        and err == f'veille: error: {path}:1: no "language" (a code such as "fr") (\'langauge\' misspelt?)\n'
    )


@pytest.mark.parametrize(
    ("floors", "says"),
    [
        (
            '{\n  "relevence": {"relevant.f1": 0.99}\n}',
            "floors.json:2: unknown floors section 'relevence' ('relevance' misspelt?)",
        ),
        (
            '{"_c": "x",\n "relevance_tset": {"min": {"kinds.article.f1": 0.99}}}',
            "floors.json:2: unknown floors section 'relevance_tset' ('relevance_test' misspelt?)",
        ),
    ],
    ids=["relevence", "relevance_tset"],
)
def test_a_misspelt_floors_section_is_an_error_not_skipped(tmp_path: Path, floors: str, says: str) -> None:
    """Before: the gate passed, the section skipped as if not measured."""
    path = tmp_path / "floors.json"
    path.write_text(floors, "utf-8")
    code, out, err = _run(["eval", "--shared", str(tmp_path), "--floors", str(path)])
    assert code == 2 and out == "", err
    assert err.startswith(
        f"veille: error: {tmp_path}/{says}, never checked; the sections: relevance, language,"
    )


def test_the_shipped_floors_sections_are_known() -> None:
    from flows.commands.eval import EVAL_DIR, check_floor_sections, floor_sections
    from monitors.judge.topic_set import topic_files

    path = EVAL_DIR / "floors.json"
    check_floor_sections(path, json.loads(path.read_text("utf-8")), floor_sections(list(topic_files())))
