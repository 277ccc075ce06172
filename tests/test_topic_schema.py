"""A topic file with a mistake stops with the file and the line, before any scoring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from monitors.judge.topic import DEFAULT_TOPIC_PATH, load_topic
from monitors.judge.topic_schema import TopicError

GOOD = """name = "weather"
version = "0.1"
threshold = 0.3
required_groups = ["weather"]

[groups.weather]
description = "the weather"

[[terms]]
name = "weather"
group = "weather"
patterns = ["weather", "forecaster*"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_topic_loads(tmp_path: Path) -> None:
    assert load_topic(_write(tmp_path, GOOD)).name == "weather"
    for name in ("EU-AI_act2", "7x", "w" * 64, "météo", "souveraineté_numérique"):  # names it takes
        assert load_topic(_write(tmp_path, GOOD.replace('"weather"', f'"{name}"', 1))).name == name
    load_topic(DEFAULT_TOPIC_PATH)


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (lambda t: t.replace("threshold = 0.3", "threshold = = 0.3"), 3, "TOML syntax error"),
        (
            lambda t: t.replace('version = "0.1"\n', 'version = "0.1"\nthreshhold = 0.4\n'),
            3,
            "unknown key 'threshhold'",
        ),
        (
            lambda t: t.replace('group = "weather"\n', 'group = "weather"\nwieght = 2\n'),
            12,
            "unknown key 'wieght'",
        ),
        (lambda t: t.replace('description = "the weather"', 'descr = "x"'), 7, "unknown key 'descr'"),
        (lambda t: t.replace('"forecaster*"', '"forecaster*", " "'), 12, "empty pattern"),
        (lambda t: t.replace('"forecaster*"', '"forecaster*", "*"'), 12, "empty pattern"),
        (lambda t: t.replace('patterns = ["weather", "forecaster*"]', "patterns = []"), 12, "non-empty list"),
        (lambda t: t.replace('group = "weather"\n', 'group = "wether"\n'), 11, "unknown group"),
        (lambda t: t + '\n[period]\nstart = "Feb 2025"\n', 15, "not a date"),
        (lambda t: t + "\n[zones]\ntitel = 2.0\n", 15, "unknown key 'titel' in [zones]"),
        (lambda t: t + '\n[period]\npeak_end = "fin"\n', 15, "[period] peak_end: not a date"),
        (lambda t: t + "\n[short_text]\nmax_word = 80\n", 15, "unknown key 'max_word' in [short_text]"),
        (lambda t: t + '\n[short_text]\ngroups = ["wether"]\n', 15, "unknown group 'wether'"),
        (
            lambda t: t + '\n[short_text]\ngroups = ["weather"]\nevent_groups = ["wether"]\n',
            16,
            "[short_text] event_groups: unknown group 'wether'",
        ),
        (lambda t: t + '\n[short_text]\npeak_subjects = ["x"]\n', 15, "[short_text] peak_subjects: unknown"),
        (
            lambda t: t + '\n[short_text]\ntheme_groups = ["weather", ["weather", "wether"]]\n',
            15,
            "[short_text] theme_groups: unknown group 'wether'",
        ),
        (lambda t: t + '\n[short_text]\nother_groups = ["x"]\n', 15, "[short_text] other_groups: unknown"),
        (lambda t: t + "\n[short_text]\ntheme_groups = [1]\n", 15, "[short_text] theme_groups: a list of"),
        (
            lambda t: t + '\n[short_text]\npeak_theme_groups = ["x"]\n',
            15,
            "[short_text] peak_theme_groups: unknown",
        ),
        (
            lambda t: t + '\n[short_text]\nbare_groups = [["weather"], ["wether"]]\n',
            15,
            "[short_text] bare_groups: unknown group 'wether'",
        ),
        # values of the wrong type or out of range (before: a traceback when the topic was
        # compiled, or silently wrong: active = "no" left it active, [] divided by zero)
        (lambda t: t.replace("threshold = 0.3", 'threshold = "high"'), 3, "threshold must be a number"),
        (lambda t: t.replace("threshold = 0.3", "threshold = 5"), 3, "threshold must be from 0 to 1"),
        (lambda t: t.replace("threshold = 0.3", "threshold = nan"), 3, "threshold must be a finite number"),
        (lambda t: t.replace('name = "weather"', 'name = ["weather"]', 1), 1, "name must be a non-empty"),
        # a name becomes an identifier (the feed's id, eval's file names): it went in raw
        (
            lambda t: t.replace('name = "weather"', 'name = "le temps / météo"', 1),
            1,
            "name 'le temps / météo': a topic's name is letters, digits, _ and -",
        ),
        (lambda t: t.replace('name = "weather"', 'name = "IA/UE"', 1), 1, "such as 'IA_UE'"),
        (lambda t: t.replace('name = "weather"', 'name = "mon sujet : été"', 1), 1, "as 'mon_sujet_été'"),
        (lambda t: t.replace('name = "weather"', 'name = "_w"', 1), 1, "a letter or digit first"),
        (lambda t: t.replace('name = "weather"', 'name = "eu.ai"', 1), 1, "such as 'eu_ai'"),
        (lambda t: t.replace('name = "weather"', f'name = "{"w" * 65}"', 1), 1, "at most 64"),
        (lambda t: t.replace('version = "0.1"', "version = [1]"), 2, "version must be a string"),
        (
            lambda t: t.replace('version = "0.1"\n', 'version = "0.1"\nactive = "no"\n'),
            3,
            "active must be true",
        ),
        (lambda t: t.replace('["weather"]\n', "[]\n", 1), 4, "required_groups must be a non-empty list"),
        (
            lambda t: t.replace('["weather"]\n', '"weather"\n', 1),
            4,
            "required_groups must be a non-empty list",
        ),
        (
            lambda t: t.replace('["weather"]\n', '["wether"]\n', 1),
            4,
            "required_groups: unknown group 'wether'",
        ),
        (
            lambda t: t.replace('group = "weather"\n', 'group = "weather"\nweight = "x"\n'),
            12,
            "weight must be",
        ),
        (lambda t: t.replace('"the weather"\n', '"x"\nanchor = "maybe"\n'), 8, "anchor must be true, false"),
        (lambda t: t.replace('"the weather"\n', '"x"\nsatisfies = ["x"]\n'), 8, "satisfies an unknown group"),
        (lambda t: t + '\n[zones]\ntitle = "x"\n', 15, "[zones] title must be a number"),
        (lambda t: t + "\n[zones]\nlead_chars = 1.5\n", 15, "[zones] lead_chars must be a whole number"),
        (lambda t: t + "\n[scoring]\nsaturation = 3\n", 15, "[scoring] saturation must be a table"),
        (lambda t: t + "\n[scoring]\nsaturation = { weather = 0 }\n", 15, "must be a number above 0"),
        (lambda t: t + "\n[scoring]\nsaturation = { wether = 1.0 }\n", 15, "unknown group 'wether'"),
        (lambda t: t + "\n[scoring]\nanchor_floor = 1.5\n", 15, "[scoring] anchor_floor must be from 0"),
        (
            lambda t: t + '\n[[terms]]\nname = "t"\ngroup = "weather"\n',
            14,
            "[[terms]] 't': missing 'patterns'",
        ),
        (lambda t: t + '\n[[disambiguation]]\ncase = "other"\n', 14, "'other': missing 'patterns'"),
        (
            lambda t: (
                t
                + '\n[[proximity]]\nname = "p"\ngroup = "weather"\nwindow = 0\nleft = ["a"]\nright = ["b"]\n'
            ),
            17,
            "[[proximity]] window must be at least 1",
        ),
        (lambda t: t + "\n[period]\nstart = 2025-02-01\nend = 2025-01-31\n", 16, "end 2025-01-31 is before"),
        # patterns are words, not regular expressions: before, "(a+)+b" silently meant "a b"
        # and "forecast* model*" meant "forecast model*"
        (lambda t: t.replace('"forecaster*"', '"(a+)+b"'), 12, "not regular expressions; '('"),
        (lambda t: t.replace('"forecaster*"', '"forecast* model*"'), 12, "not regular expressions; '*'"),
        (lambda t: t.replace('"forecaster*"', '"rain|snow"'), 12, "not regular expressions; '|'"),
    ],
)
def test_a_bad_topic_stops_with_file_and_line(
    tmp_path: Path, change: Callable[[str], str], line: int, message: str
) -> None:
    path = _write(tmp_path, change(GOOD))
    with pytest.raises(TopicError) as exc:
        load_topic(path)
    assert str(exc.value).startswith(f"{path}:{line}: "), str(exc.value)
    assert message in str(exc.value)


def test_a_topic_file_not_in_utf8_stops_at_the_line_of_its_first_bad_byte(tmp_path: Path) -> None:
    """A Latin-1 topic file names the line of its first byte that is no UTF-8, and the byte
    (it said line 1 whatever the line); a UTF-16 one is said once as UTF-16, with how to
    convert it (it was "invalid start byte" at line 1)."""
    path = tmp_path / "t.toml"
    path.write_bytes(GOOD.replace('"the weather"', '"la météo"').encode("latin-1"))
    with pytest.raises(TopicError) as exc:
        load_topic(path)
    assert str(exc.value).startswith(f"{path}:7: not UTF-8 (invalid continuation byte: byte 0xe9)")
    assert "save it as UTF-8" in str(exc.value)
    path.write_bytes(GOOD.encode("utf-16"))
    with pytest.raises(TopicError) as exc:
        load_topic(path)
    assert str(exc.value) == (
        f"{path}:1: UTF-16 text, not UTF-8 (a UTF-16 byte order mark opens it): save it as UTF-8"
        " (iconv -f UTF-16 -t UTF-8)"
    )
