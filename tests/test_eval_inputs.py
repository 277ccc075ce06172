"""`veille eval`'s inputs: a misspelt label or key in a labelled set, a misspelt section of the
floors file, were silently counted or skipped; each is an error naming the file and line.
(``--no-shared``: no shared split is read.)"""

from __future__ import annotations

import contextlib
import io
import json
import re
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
    code, out, err_text = _run(["eval", "--no-shared", "--relevance-set", str(path)])
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
    code, _, err = _run(["eval", "--no-shared", "--language-set", str(path)])
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
    code, out, err = _run(["eval", "--no-shared", "--floors", str(path)])
    assert code == 2 and out == "", err
    assert err.startswith(
        f"veille: error: {tmp_path}/{says}, never checked; the sections: relevance, language,"
    )


def test_the_shipped_floors_sections_are_known() -> None:
    from flows.commands.eval import EVAL_DIR, check_floor_sections, floor_sections
    from monitors.judge.topic_set import topic_files

    path = EVAL_DIR / "floors.json"
    check_floor_sections(path, json.loads(path.read_text("utf-8")), floor_sections(list(topic_files())))


def _dev_split(folder: Path) -> Path:
    """A folder holding a shared-style dev split of ours (two items, ``label`` and ``kind``)."""
    folder.mkdir(exist_ok=True)
    items = [
        {"id": "a", "kind": "article", "label": "summit", "title": "Sommet IA", "text": SUMMIT},
        {"id": "b", "kind": "article", "label": "politics_other", "title": "Météo", "text": OTHER},
    ]
    (folder / "relevance-dev.jsonl").write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8"
    )
    return folder


@pytest.mark.parametrize("held", [[], ["README.md"], ["relevance-dev.json", "stories-test.txt"]])
def test_a_shared_folder_without_a_relevance_split_is_an_error(tmp_path: Path, held: list[str]) -> None:
    """`veille eval --shared DIR`, DIR holding neither relevance-dev.jsonl nor relevance-test.jsonl
    (an empty folder, a wrong one): before, "all 12 floors hold", exit 0, nothing of DIR read: a
    gate that could not fail. Now an input error naming DIR and the files, before anything is
    measured."""
    shared = tmp_path / "eval"
    shared.mkdir()
    for name in held:
        (shared / name).write_text("{}\n", "utf-8")
    code, out, err = _run(["eval", "--shared", str(shared)])
    assert (code, out) == (2, ""), out + err
    assert err == (
        f"veille: error: {shared}: no relevance-dev.jsonl nor relevance-test.jsonl in this folder"
        " (--shared DIR: the folder of the shared labelled splits; --no-shared to measure without them)\n"
    )


#: The last line's claim that every floor holds ("all 34 floors hold (PATH)"): matched as words,
#: not as "all" anywhere in the line, which names the repository's path (a folder called
#: "install" or "wt-h10small" failed these tests).
ALL_HOLD = re.compile(r"\ball \d+ floors hold\b")


def test_a_folder_of_the_dev_split_alone_says_which_floors_were_not_checked(tmp_path: Path) -> None:
    """What the house uses (`--shared` a folder of relevance-dev.jsonl alone): measured, exit 0,
    and the last line no longer says "all floors hold": the test split's floors (and the
    copies/stories ones, and extraction's without --extraction) were not checked."""
    shared = _dev_split(tmp_path / "devonly")
    code, out, err = _run(["eval", "--shared", str(shared)])
    assert code == 0, err
    assert f"no relevance-test.jsonl in {shared}: the test split is not measured" in err
    last = out.strip().splitlines()[-1]
    assert not ALL_HOLD.search(last) and " floors hold (" in last, last
    floors = json.loads((Path(__file__).parent / "eval" / "floors.json").read_text("utf-8"))
    test_floors = len(floors["relevance_test"]["min"]) + len(floors["relevance_test"]["max"])
    assert f"not checked, their sets not measured: relevance_test ({test_floors})" in last, last
    assert "extraction (" in last and "copies/stories of the test split (" in last, last
    assert f"copies/stories: skipped (no stories-*.jsonl in {shared})" in out  # the folder read
    code, out, err = _run(["eval", "--shared", str(shared), "--json"])
    assert code == 0 and json.loads(out)["not_checked"][0] == f"relevance_test ({test_floors})"


def test_without_the_shared_sets_eval_says_which_floors_it_could_not_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`veille eval` where neither ../shared/eval nor /work/shared/eval holds the shared splits
    (a clone elsewhere): our own sets are measured and gated (exit 0 while they hold), and the
    floors of the shared splits are said not checked, not "all floors hold"."""
    import monitors.group.story_eval as story_eval
    import monitors.judge.evaluation as evaluation

    # where the shared folder is looked for holds nothing (raising if the lookup were renamed)
    monkeypatch.setattr(evaluation, "shared_eval_dir", lambda root=None: None)
    monkeypatch.setattr(story_eval, "shared_eval_dir", lambda: None)
    code, out, err = _run(["eval"])
    assert code == 0, err
    assert "warning: shared labelled sets not found (../shared/eval, /work/shared/eval)" in err
    last = out.strip().splitlines()[-1]
    assert not ALL_HOLD.search(last), last
    assert "not checked, their sets not measured: relevance_test (" in last, last
    assert "copies/stories: skipped (no stories-*.jsonl next to the repository (../shared/eval))" in out


def test_train_topic_reads_the_dev_split_eval_reads_and_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille train-topic` without --data takes relevance-dev.jsonl of the folder `veille eval`
    reads by default, from any current directory (found next to the repository, not the
    directory); its help and its refusal when there is none name both places looked in, as
    eval's warning does (before: only ../shared/eval/relevance-dev.jsonl, read from the current
    directory, while /work/shared/eval was read as well)."""
    import monitors.judge.evaluation as evaluation
    from flows.commands.eval import default_shared_dir

    monkeypatch.chdir(tmp_path)  # elsewhere than the repository and its parent
    shared = default_shared_dir()
    assert evaluation.dev_split() == (shared / "relevance-dev.jsonl" if shared else None)
    with pytest.raises(SystemExit) as done:
        main(["train-topic", "--help"])
    helps = " ".join(capsys.readouterr().out.split())
    assert done.value.code == 0 and "--data FILE" in helps, helps
    for place in ("../shared/eval next to the repository", "/work/shared/eval"):
        assert place in helps.split("--data FILE labelled")[1].split("--c C")[0], place  # --data's help

    monkeypatch.setattr(evaluation, "shared_eval_dir", lambda root=None: None)
    code, out, err = _run(["train-topic", "--output", str(tmp_path / "m.npz")])
    assert code == 2 and out == "", err
    assert "no --data, and no relevance-dev.jsonl in ../shared/eval next to the repository nor in" in err
    assert "/work/shared/eval" in err
    assert not (tmp_path / "m.npz").exists()


def test_no_shared_measures_our_sets_alone(tmp_path: Path) -> None:
    """`veille eval --no-shared`: no shared folder is read (not the default one either): our
    sets measured and gated, the shared splits' floors said not checked; with --shared, a usage
    error."""
    code, out, err = _run(["eval", "--no-shared", "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert not any(key in report for key in ("relevance_dev", "relevance_test")) and report["stories"] == {}
    assert report["not_checked"][0].startswith("relevance_test (")
    assert not any("not found" in line for line in report["warnings"])
    code, out, err = _run(["eval", "--no-shared"])
    assert "copies/stories: skipped (--no-shared)" in out
    with pytest.raises(SystemExit) as stop:
        _run(["eval", "--no-shared", "--shared", str(tmp_path)])
    assert stop.value.code == 2


@pytest.mark.parametrize("option", ["--relevance-set", "--language-set"])
@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "{path}: no labelled item (an empty file measures nothing; "),
        ("\n   \n\n", "{path}: no labelled item (an empty file measures nothing; "),
        (None, "{path}: No such file or directory"),
        (
            '{"text": "Il pleut.", "relevant": false, "language": "fr"}\n{"text": oops}\n',
            "{path}:2: not JSON: ",
        ),
    ],
    ids=["empty", "blank-lines", "missing", "malformed-line"],
)
def test_an_own_set_that_cannot_be_measured_is_an_input_error(
    tmp_path: Path, option: str, content: str | None, says: str
) -> None:
    """`veille eval --relevance-set FILE` / `--language-set FILE`: an empty file (or blank lines
    alone) was measured as figures of nothing, every floor of the set "below" it (exit 1, as if
    the rules had failed). Now, as a missing file or a malformed line, an input error naming
    FILE (and the line), exit 2, before anything is measured."""
    shared = _dev_split(tmp_path / "devonly")
    path = tmp_path / "set.jsonl"
    if content is not None:
        path.write_text(content, "utf-8")
    code, out, err = _run(["eval", option, str(path), "--shared", str(shared)])
    assert (code, out) == (2, ""), out + err
    assert err.startswith(f"veille: error: {says.format(path=path)}"), err
    assert "Traceback" not in err and len(err.splitlines()) == 1
