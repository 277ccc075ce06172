"""Topics as files in a folder: every ``*.toml`` there is a topic, scored on every article.

The folder is ``VEILLE_TOPICS_DIR`` (default: the package's ``monitors/topics``). A topic with
``active = false`` stays in the folder but is not scored; its stored scores stay too (removing
or deactivating a topic keeps its history in ``article_topics``). An empty folder is an error,
and so are two files declaring one name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from monitors.errors import did_you_mean
from monitors.judge.topic import DEFAULT_TOPIC_PATH, Topic, load_topic
from monitors.judge.topic_schema import TopicError, parse_topic_file

DEFAULT_TOPICS_DIR = DEFAULT_TOPIC_PATH.parent
#: the shipped default topic's name (monitors/topics/ai_summit.toml)
DEFAULT_TOPIC_NAME = "ai_summit"


def topics_dir() -> Path:
    """The topic folder: ``VEILLE_TOPICS_DIR`` (monitors.settings) or the shipped one."""
    from monitors.settings import Settings

    return Settings.from_env().topics_dir or DEFAULT_TOPICS_DIR


def topic_files(folder: str | Path | None = None) -> dict[str, tuple[Path, bool]]:
    """Each topic of a folder by name: its file and whether it is active, every file read and
    checked but not compiled (cheap); TopicError for a missing or empty folder, a bad file, or
    two files declaring one name."""
    folder = Path(folder) if folder is not None else topics_dir()
    if folder.exists() and not folder.is_dir():
        raise TopicError(f"{folder}: not a folder: the topic folder holds the topic files (*.toml)")
    if not folder.is_dir():
        raise TopicError(f"{folder}: topic folder not found")
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise TopicError(f"{folder}: no topic file (*.toml) in the topic folder")
    found: dict[str, tuple[Path, bool]] = {}
    for path in files:
        data, raw = parse_topic_file(path)
        if data["name"] in found:
            line = _name_line(raw.decode("utf-8-sig"))
            raise TopicError(
                f"{path}:{line}: topic name {data['name']!r} already declared by {found[data['name']][0]}"
            )
        found[data["name"]] = (path, bool(data.get("active", True)))
    return found


def _name_line(text: str) -> int:
    """The line of the top-level ``name = ...`` of a topic file's text (1 when not found)."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("["):
            break  # past the top-level keys
        if re.match(r"\s*name\s*=", line):
            return number
    return 1


def check_topics(folder: str | Path | None = None, include_inactive: bool = False) -> list[Path]:
    """The files of a folder's active topics, by file name, each read and checked but not
    compiled (cheap: what a command checks before it starts, so that a bad topic file stops it
    with the file and line); TopicError for an empty folder or a bad file."""
    found = topic_files(folder)
    active = [path for path, is_active in found.values() if is_active or include_inactive]
    if not active:
        where = Path(folder) if folder is not None else topics_dir()
        raise TopicError(f"{where}: every topic file there has active = false")
    return active


def load_topics(folder: str | Path | None = None, include_inactive: bool = False) -> list[Topic]:
    """The active topics of a folder, by file name; TopicError for an empty folder or a bad file."""
    return [load_topic(path) for path in check_topics(folder, include_inactive)]


def find_topic(name_or_path: str | None, folder: str | Path | None = None) -> Topic:
    """A topic by name among the folder's topics or by file path (:func:`topic_file`); None:
    the folder's default topic (:func:`default_topic_path`)."""
    if name_or_path is None:
        return load_topic(default_topic_path(folder))
    return load_topic(topic_file(name_or_path, folder))


def topic_file(name_or_path: str, folder: str | Path | None = None) -> Path:
    """The file of a topic given by name among the folder's topics (``VEILLE_TOPICS_DIR``), as
    ``search``, ``export``, ``feed`` and ``stats`` take it, or by file path (a value ending in
    ``.toml`` or holding a ``/``, or naming a file when no topic has that name). A bare file
    name ("eu_ai_act.toml") that is no file here is the folder's file of that name, when there
    is one (it was "No such file or directory"). An unknown name is a TopicError listing the
    folder's topics, and the names close to it ("did you mean")."""
    candidate = Path(name_or_path)
    if "/" in name_or_path or os.sep in name_or_path:
        return candidate
    if candidate.suffix == ".toml":
        in_folder = (Path(folder) if folder is not None else topics_dir()) / name_or_path
        return in_folder if not candidate.exists() and in_folder.is_file() else candidate
    found = topic_files(folder)
    if name_or_path in found:
        return found[name_or_path][0]
    if candidate.is_file():
        return candidate
    where = Path(folder) if folder is not None else topics_dir()
    hint = did_you_mean([name_or_path], found)  # "did you mean 'ai_summit'? " for "ai_sumit"
    raise TopicError(
        f"no topic named {name_or_path!r} ({hint}topics in the folder {where}: {', '.join(sorted(found))};"
        " or give a topic file's path)"
    )


def default_topic_path(folder: str | Path | None = None) -> Path:
    """The topic a command scores with when none is named: in the shipped folder, the summit;
    in ``VEILLE_TOPICS_DIR``, the topic of that name if the folder has it, else its only
    active topic; a folder of several others is a TopicError asking for ``--topic NAME``."""
    where = Path(folder) if folder is not None else topics_dir()
    if where.resolve() == DEFAULT_TOPICS_DIR.resolve():
        return DEFAULT_TOPIC_PATH
    found = topic_files(where)
    summit = found.get(DEFAULT_TOPIC_NAME)
    if summit is not None and summit[1]:
        return summit[0]
    active = sorted(name for name, (_, is_active) in found.items() if is_active)
    if len(active) == 1:
        return found[active[0]][0]
    if not active:
        raise TopicError(f"{where}: every topic file there has active = false")
    raise TopicError(f"{where} holds {len(active)} topics: name one with --topic NAME ({', '.join(active)})")
