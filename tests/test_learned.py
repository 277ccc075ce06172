"""The learned part: same features as scikit-learn's HashingVectorizer, reproducible training,
explanations from re-featurised text, combined with the rules. Trained here on our own
examples (tests/eval/relevance.jsonl), never on the shared sets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.judge.evaluation import read_labelled
from monitors.judge.learned import N_FEATURES, LinearModel, _vectorizers, model_text, train
from monitors.judge.relevance import score_relevance
from monitors.judge.topic import DEFAULT_TOPIC_PATH, load_topic
from monitors.judge.topic_schema import TopicError
from monitors.judge.training import _rule_features, train_topic

EVAL = Path(__file__).parent / "eval" / "relevance.jsonl"


def _rows(model: LinearModel, text: str) -> tuple[list[int], list[float], list[int], list[float]]:
    (wi, wv), (ci, cv) = model._rows(text)
    return wi.tolist(), wv.tolist(), ci.tolist(), cv.tolist()


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abcdeéèàl' IA-\n0123", max_size=80))
def test_features_are_hashing_vectorizers(text: str) -> None:
    model = LinearModel(np.zeros(N_FEATURES), np.zeros(N_FEATURES), np.zeros(4), 0.0)
    folded = model_text(text, None)
    words, chars = _vectorizers()
    w, c = words.transform([folded]), chars.transform([folded])
    w.sort_indices()
    c.sort_indices()
    wi, wv, ci, cv = _rows(model, folded)
    assert wi == w.indices.tolist() and np.allclose(wv, w.data)
    assert ci == c.indices.tolist() and np.allclose(cv, c.data)


@pytest.fixture(scope="module")
def topic_with_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("topic")
    topic_file = folder / "summit.toml"
    text = DEFAULT_TOPIC_PATH.read_text("utf-8") + '\n[model]\nfile = "summit.model.npz"\nthreshold = 0.4\n'
    topic_file.write_text(text, "utf-8")
    rules = load_topic(DEFAULT_TOPIC_PATH)
    model, report = train_topic(rules, EVAL)
    model.save(folder / "summit.model.npz")
    items = read_labelled(EVAL)
    dense, _, _ = _rule_features(rules, items)
    again = train(items, [bool(i["relevant"]) for i in items], dense, 1.0, EVAL.name)
    again.save(folder / "again.npz")
    assert (folder / "summit.model.npz").read_bytes() == (folder / "again.npz").read_bytes()  # reproducible
    assert set(report["0.40"]) >= {"rules only", "text"}
    return topic_file


def test_model_file_holds_weights_not_text(topic_with_model: Path) -> None:
    raw = (topic_with_model.parent / "summit.model.npz").read_bytes()
    with np.load(topic_with_model.parent / "summit.model.npz") as data:
        assert set(data.files) == {
            "word_index", "word_value", "char_index", "char_value", "dense", "intercept", "meta"
        }  # fmt: skip
        assert json.loads(str(data["meta"]))["n_items"] == sum(1 for _ in EVAL.open())
    assert b"sommet" not in raw and b"Bouverot" not in raw


def test_model_lifts_with_explained_features(topic_with_model: Path) -> None:
    topic = load_topic(topic_with_model)
    assert topic.model is not None and topic.version != load_topic().version
    items = read_labelled(EVAL)
    consulted = 0
    for item in items:
        result = score_relevance(topic, item["text"], title=item.get("title"))
        learned = result.evidence["model"]
        if learned is None:
            continue
        consulted += 1
        assert 0.0 <= learned["probability"] <= 1.0
        if learned["decided"]:
            assert result.relevant and learned["features"], learned
            assert all(isinstance(name, str) and weight > 0 for name, weight in learned["features"])
    assert consulted > 0


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    topic_file = tmp_path / "t.toml"
    topic_file.write_text(DEFAULT_TOPIC_PATH.read_text("utf-8") + '\n[model]\nfile = "absent.npz"\n', "utf-8")
    with pytest.raises(TopicError, match="veille train-topic"):
        load_topic(topic_file)


def test_train_topic_on_a_topic_whose_comments_name_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped topic's comments show a "[model]" section; with the real section added after
    them, `veille train-topic` trains (before: it cut the text at the comment, kept the real
    section and stopped on the model file it was asked to build)."""
    from flows.cli import main

    topic_file = tmp_path / "summit.toml"
    topic_file.write_text(
        DEFAULT_TOPIC_PATH.read_text("utf-8") + '\n[model]\nfile = "summit.model.npz"\nthreshold = 0.4\n',
        "utf-8",
    )
    assert "#   [model]" in DEFAULT_TOPIC_PATH.read_text("utf-8")  # the case: a comment names it first
    assert main(["train-topic", "--topic", str(topic_file), "--data", str(EVAL)]) == 0, (
        capsys.readouterr().err
    )
    assert (tmp_path / "summit.model.npz").is_file()
    assert load_topic(topic_file).model is not None


def test_without_scikit_learn_a_model_and_training_say_what_to_install(
    topic_with_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """scikit-learn is optional (veille[learn]): without it, a topic with a [model] stops when it
    is loaded, and train-topic before it starts (before: an ImportError traceback on the first
    text the model was consulted on, in `veille score` as in a run's analysis)."""
    import sys

    from flows.cli import main

    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn raises ImportError
    with pytest.raises(TopicError, match=r"\[model\] needs scikit-learn.*veille\[learn\]"):
        load_topic(topic_with_model)
    argv = ["train-topic", "--data", str(EVAL), "--output", str(tmp_path / "m.npz")]
    assert main(argv) == 2
    assert "veille train-topic needs scikit-learn" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()


def test_explained_features_do_not_depend_on_the_hash_seed() -> None:
    """Two character n-grams that differ by their padding (" he" and "he ") share a feature name
    ("c:he"): the stronger is shown, the same in every process (the tokens' set order, which
    the hash seed changes, chose it, and a re-run gave other evidence)."""
    import subprocess
    import sys

    from monitors.judge.learned import _hash

    script = (
        "import numpy as np\n"
        "from monitors.judge.learned import N_FEATURES, LinearModel, _hash\n"
        "chars = np.zeros(N_FEATURES)\n"
        "chars[_hash(' he')] = 1.0\n"
        "chars[_hash('he ')] = 3.0\n"
        "model = LinearModel(np.zeros(N_FEATURES), chars, np.zeros(4), 0.0)\n"
        "print(model.explain('hex the', [0.0, 0.0, 0.0, 0.0]))\n"
    )
    assert _hash(" he") != _hash("he ")
    seen = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(8)
    }
    assert len(seen) == 1, seen
    (shown,) = seen
    assert shown.startswith("[['c:he', "), shown
    model = LinearModel(np.zeros(N_FEATURES), np.zeros(N_FEATURES), np.zeros(4), 0.0)
    (_, _), (ci, cv) = model._rows("hex the")
    strongest = 3.0 * dict(zip(ci.tolist(), cv.tolist(), strict=True))[_hash("he ")]
    assert shown == f"{[['c:he', round(strongest, 4)]]}\n"


def test_train_topic_errors_start_as_every_commands_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A topic without a [model] file and no --output stops with `veille: error: ...`, exit 2,
    the line every command's errors start with (before: a bare `error: ...`)."""
    from flows.cli import main

    topic_file = tmp_path / "plain.toml"
    topic_file.write_text(DEFAULT_TOPIC_PATH.read_text("utf-8"), "utf-8")
    assert main(["train-topic", "--topic", str(topic_file), "--data", str(EVAL)]) == 2
    assert capsys.readouterr().err == (
        f"veille: error: {topic_file} has no [model] file and no --output was given\n"
    )
