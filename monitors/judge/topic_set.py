"""Topics as files in a folder: every ``*.toml`` there is a topic, scored on every article.

The folder is ``VEILLE_TOPICS_DIR`` (default: the package's ``monitors/topics``). A topic with
``active = false`` stays in the folder but is not scored; its stored scores stay too (removing
or deactivating a topic keeps its history in ``article_topics``). An empty folder is an error,
and so are two files declaring one name.
"""

from __future__ import annotations

import re
from pathlib import Path

from monitors.judge.topic import DEFAULT_TOPIC_PATH, Topic, load_topic
from monitors.judge.topic_schema import TopicError, parse_topic_file

DEFAULT_TOPICS_DIR = DEFAULT_TOPIC_PATH.parent


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
            line = _name_line(raw.decode("utf-8"))
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
    """A topic by file path, or by name among the folder's topics (None: the summit's file)."""
    if name_or_path is None:
        return load_topic()
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        return load_topic(candidate)
    for topic in load_topics(folder, include_inactive=True):
        if topic.name == name_or_path:
            return topic
    raise TopicError(f"no topic named {name_or_path!r} in {Path(folder) if folder else topics_dir()}")
