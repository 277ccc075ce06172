"""The stories eval replays the store's candidate lookup: a key change that loses candidates shows."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.group import stories
from monitors.group.story_eval import evaluate_stories
from tests.test_stories import EN, FR, FR_OTHER_NEWSROOM, SAME_MINISTER_LATER, T0
from tests.test_story_store import _store, _story

# One event in three reports (two newsrooms, one English edition), and the same minister's
# other event 40 days later.
ARTICLES = [
    ("plan-a", "plan", FR, "fr", T0),
    ("plan-b", "plan", FR_OTHER_NEWSROOM, "fr", T0 + timedelta(hours=2)),
    ("plan-en", "plan", EN, "en", T0 + timedelta(hours=5)),
    ("louvre", "louvre", SAME_MINISTER_LATER, "fr", T0 + timedelta(days=40)),
]


def _stories_file(folder: Path) -> Path:
    path = folder / "stories-dev.jsonl"
    lines = [
        {
            "is_copy": False,
            "members": [
                {"key": key, "event": event, "text": text, "lang": lang, "published_at": at.isoformat()}
            ],
        }
        for key, event, text, lang, at in ARTICLES
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_keys_that_find_no_story_lower_the_evals_recall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store scores only the stories sharing a lookup key with the article; the eval scored
    every story, so keys that found nothing still measured recall 1.0 (main: 1.0 both times).
    With no feature a lookup key, each report seeds its own story: recall falls, and the report
    counts the two articles whose best story the keys did not find."""
    path = _stories_file(tmp_path)
    keyed = evaluate_stories(path)["stories"]
    assert (keyed["recall"], keyed["precision"], keyed["predicted"]) == (1.0, 1.0, 2)

    monkeypatch.setattr(stories, "is_lookup_key", lambda key, common=(): False)
    keyless = evaluate_stories(path)["stories"]
    assert keyless["recall"] == 0.5 and keyless["predicted"] == 4
    assert (keyed["missed_by_keys"], keyless["missed_by_keys"]) == (0, 2)

    from flows.commands.eval_stories import print_story_reports

    print_story_reports({"dev": evaluate_stories(path)})
    assert "; best story not found by lookup keys: 2" in capsys.readouterr().out


@pytest.mark.parametrize("usable", [True, False])
def test_the_replay_finds_candidates_as_the_store_does(
    db: Session, monkeypatch: pytest.MonkeyPatch, usable: bool
) -> None:
    """The replay's candidate lookup is the store's: the four articles stored in PostgreSQL and
    replayed in memory end in the same partition and write the same ``story_keys`` (key, day)
    rows, with the keys as they are and with no feature a lookup key (then each report is its
    own story in both)."""
    from monitors.group.stories import key_hash
    from monitors.group.story_eval import Replay
    from tests.test_neardup_store import _source

    if not usable:
        monkeypatch.setattr(stories, "is_lookup_key", lambda key, common=(): False)

    def partition(assigned: dict[str, int | None]) -> set[frozenset[str]]:
        groups: dict[object, set[str]] = {}
        for key, story in assigned.items():
            groups.setdefault(story if story is not None else key, set()).add(key)
        return {frozenset(g) for g in groups.values()}

    src = _source(db, "Alpha")
    stored = {
        key: _story(db, _store(db, src, f"https://a.example/{key}", text, at, lang=lang))
        for key, _, text, lang, at in ARTICLES
    }
    replay = Replay()
    replayed: dict[str, int | None] = {}
    for n, (key, _, text, lang, at) in enumerate(ARTICLES):
        story = replay.add(n, text, "Titre", lang, at)[1]  # the title _store gives
        replayed[key] = replay.index.story_of(story) if story is not None else None
    together = {frozenset({"plan-a", "plan-b", "plan-en"}), frozenset({"louvre"})}
    apart = {frozenset({key}) for key, *_ in ARTICLES}
    assert partition(stored) == partition(replayed) == (together if usable else apart)
    rows = db.execute(sa.text("SELECT key, day FROM story_keys")).all()
    assert set(rows) == {(key_hash(k), day) for k, days in replay.story_keys.items() for day, _, _ in days}
    assert bool(rows) is usable
