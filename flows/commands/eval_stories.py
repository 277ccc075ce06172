"""`veille eval`'s copies and stories part: both splits of ``stories-*.jsonl``, test-split floors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from flows.commands.common import counted

FLOORS = Path(__file__).resolve().parents[2] / "tests" / "eval" / "story_floors.json"


def story_reports(eval_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """The copies/stories report of each split found (empty when the shared sets are absent)."""
    from monitors.group.story_eval import evaluate_stories, shared_eval_dir

    directory = eval_dir or shared_eval_dir()
    if directory is None:
        return {}
    return {
        split: evaluate_stories(directory / f"stories-{split}.jsonl")
        for split in ("dev", "test")
        if (directory / f"stories-{split}.jsonl").is_file()
    }


def story_failures(reports: dict[str, dict[str, Any]], floors_path: Path = FLOORS) -> list[str]:
    """One line per copies/stories figure of the test split outside its floor (or ceiling)."""
    if "test" not in reports:
        return []
    floors = json.loads(floors_path.read_text("utf-8"))
    test = reports["test"]
    failures = []
    for section in ("copies", "stories"):
        for metric, floor in sorted(floors[section].items()):
            value = float(test[section][metric])
            if value < float(floor):
                failures.append(f"{section} {metric} (test) = {value:.4f} < floor {float(floor):.4f}")
    mixed = test["stories"]["mixed_stories"]
    if mixed > int(floors["max_mixed_stories"]):
        failures.append(f"stories mixing two events (test) = {mixed} > {floors['max_mixed_stories']}")
    return failures


def print_story_reports(
    reports: dict[str, dict[str, Any]],
    errors: bool = False,
    folder: Path | None = None,
    skipped: str | None = None,
) -> None:
    """The copies and stories figures of each split, as `veille eval` prints them; ``folder``
    is where the stories sets were looked for (None: no shared folder found); ``skipped``: why
    none was looked for (``--no-shared``)."""
    if not reports:
        where = f"in {folder}" if folder is not None else "next to the repository (../shared/eval)"
        print(f"\ncopies/stories: skipped ({skipped or f'no stories-*.jsonl {where}'})")
        return
    for split, r in reports.items():
        c, s = r["copies"], r["stories"]
        print(
            f"\ncopies ({split}, {counted(r['articles'], 'article')}): precision {c['precision']:.3f}"
            f" recall {c['recall']:.3f} ({counted(c['pairs'], 'copy pair')}, {c['predicted']} linked)"
        )
        print(
            f"stories ({split}): B-cubed precision {s['precision']:.3f} recall {s['recall']:.3f}"
            f" F1 {s['f1']:.3f}; {counted(s['predicted'], 'story')} for {counted(s['events'], 'event')};"
            f" stories mixing two events: {s['mixed_stories']};"
            f" best story not found by lookup keys: {s['missed_by_keys']}"
        )
        if errors:
            for pair in c["missed"]:
                print(f"  copy missed: {pair}", file=sys.stdout)
            for pair in c["wrong"]:
                print(f"  wrongly linked: {pair}", file=sys.stdout)
            for events in s["mixed"]:
                print(f"  one story, several events: {', '.join(events)}", file=sys.stdout)
