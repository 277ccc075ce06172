"""`veille eval --extraction`'s part: extraction quality on the shared corpus, per half.

Optional (about 10 s of extraction on a loaded machine, where the rest of `veille eval` takes
about 6): without ``--extraction`` (or ``--corpus DIR``) it is not measured and its floors
(tests/eval/floors.json, ``extraction``) are not checked; tests/test_extract_gate.py checks them
in the test suite whenever the corpus is there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def extraction_report(corpus: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The extraction report of ``corpus`` (None: the shared corpus, ../shared/corpus else
    /work/shared/corpus), or None and a warning when no corpus is given and none is found. A
    corpus given that cannot be read raises
    :class:`~monitors.judge.lines.LabelledDataError` (a typo would otherwise pass a CI gate)."""
    from monitors.judge.extract_eval import evaluate_extraction, shared_corpus_dir

    folder = Path(corpus) if corpus is not None else shared_corpus_dir()
    if folder is None:
        return (
            None,
            "shared corpus not found (../shared/corpus, /work/shared/corpus): extraction not measured",
        )
    return evaluate_extraction(folder), None


def print_extraction(report: dict[str, Any] | None, asked: bool) -> None:
    """The figures of each part as `veille eval` prints them, or why there are none."""
    from flows.commands.common import print_table
    from monitors.judge.extract_eval import PARTS

    if report is None:
        if not asked:
            print("\nextraction: not measured (--extraction: on the shared corpus, about 10 s more)")
        return
    print(f"\nextraction ({report['corpus']}): veille's extraction against expected.json")
    print_table(
        [
            {
                "part": part,
                "pages": report[part]["pages"],
                "with-recall": f"{report[part]['with_recall']:.3f}",
                "leaks": f"{report[part]['leaks']:.3f}",
                "title": f"{report[part]['title']:.3f}",
                "date": f"{report[part]['date']:.3f}",
            }
            for part in PARTS
        ],
        out=sys.stdout,
    )
