"""`veille score --topic` takes a topic's name in the topic folder (VEILLE_TOPICS_DIR), as
search, export, feed and stats do, or a topic file's path; without it, the folder's topic."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from flows.cli import main
from monitors.judge.topic import DEFAULT_TOPIC_PATH, load_topic

WEATHER = (
    'name = "weather"\nversion = "0.1"\nthreshold = 0.3\nrequired_groups = ["weather"]\n'
    "[groups.weather]\n"
    '[[terms]]\nname = "weather"\ngroup = "weather"\npatterns = ["weather", "forecaster*"]\n'
)
LINE = json.dumps({"text": "The weather in London will stay mild, forecasters said on Monday."})


def _score(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved, sys.stdin = sys.stdin, io.StringIO(LINE + "\n")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["score", *argv])
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A topic folder of one's own holding one topic, weather."""
    topics = tmp_path / "topics"
    topics.mkdir()
    (topics / "weather.toml").write_text(WEATHER, "utf-8")
    monkeypatch.setenv("VEILLE_TOPICS_DIR", str(topics))
    return topics


def test_score_uses_the_configured_folder(folder: Path) -> None:
    """Before: VEILLE_TOPICS_DIR was ignored, the summit scored every line."""
    for argv in ([], ["--topic", "weather"]):
        code, out, err = _score(argv)
        assert code == 0, err
        row = json.loads(out)
        assert row["relevant"] is True and row["topic_version"].startswith("0.1+"), argv


def test_score_takes_a_topic_name_or_a_path(folder: Path, tmp_path: Path) -> None:
    shutil.copy(DEFAULT_TOPIC_PATH.parent / "eu_ai_act.toml", folder / "eu_ai_act.toml")
    code, out, err = _score(["--topic", "eu_ai_act"])  # before: "eu_ai_act: No such file or directory"
    assert code == 0 and json.loads(out)["relevant"] is False, err
    other = tmp_path / "elsewhere.toml"
    other.write_text(WEATHER.replace('"weather"', '"meteo"', 1), "utf-8")
    code, out, _ = _score(["--topic", str(other)])
    assert code == 0 and json.loads(out)["relevant"] is True


def test_an_unknown_topic_name_lists_the_folder(folder: Path) -> None:
    shutil.copy(DEFAULT_TOPIC_PATH.parent / "eu_ai_act.toml", folder / "eu_ai_act.toml")
    code, out, err = _score(["--topic", "eu_ai_ac"])
    assert (code, out) == (2, "")
    assert err == (
        f"veille: error: no topic named 'eu_ai_ac' (did you mean 'eu_ai_act'? topics in the folder"
        f" {folder}: eu_ai_act, weather; or give a topic file's path)\n"
    )
    # two topics, neither the summit: which one scores is not guessed
    code, out, err = _score([])
    assert (code, out) == (2, "")
    assert err == f"veille: error: {folder} holds 2 topics: name one with --topic NAME (eu_ai_act, weather)\n"


def test_the_shipped_folder_still_scores_with_the_summit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEILLE_TOPICS_DIR", raising=False)
    code, out, _ = _score([])
    assert code == 0 and json.loads(out)["topic_version"] == load_topic().version


def test_eval_rescore_and_train_topic_take_a_topic_name_too(new_database: str, tmp_path: Path) -> None:
    """Before: `--topic eu_ai_act` was `eu_ai_act: No such file or directory` in each."""
    code, out, err = _run_cli(["eval", "--topic", "eu_ai_act", "--no-shared", "--json"])  # no shared split
    assert code in (0, 1), err
    assert (
        json.loads(out)["relevance"]["topic_version"]
        == load_topic(DEFAULT_TOPIC_PATH.parent / "eu_ai_act.toml").version
    )
    code, out, err = _run_cli(["rescore", "--topic", "eu_ai_act"])
    assert code == 0, err
    assert "left as they are: they hold topic ai_summit's scores, not eu_ai_act's" in out
    for argv in (["rescore", "--topic", "eu_ai_ac"], ["train-topic", "--topic", "eu_ai_ac"]):
        code, out, err = _run_cli(argv)
        assert (code, out) == (2, "")
        assert err.startswith("veille: error: no topic named 'eu_ai_ac' (did you mean 'eu_ai_act'? "), err


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()
