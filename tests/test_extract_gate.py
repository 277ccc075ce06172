"""Extraction gate: veille's extraction on the shared corpus's real pages stays above its floors.

The floors (tests/eval/floors.json, ``extraction``) bound with-recall, title and date from
below and leaks from above, for the whole corpus and each fixed half, scored by
monitors/judge/extract_eval.py (bench/extract.py's scoring). Skipped when ../shared/corpus
(nor /work/shared/corpus) is absent: its pages are never copied into the repository.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from flows.commands.eval import check_floors
from monitors.judge.extract_eval import (
    HALVES,
    METRICS,
    PARTS,
    Page,
    Result,
    extract_pages,
    extraction_report,
    half,
    norm,
    read_corpus,
    score_pages,
    shared_corpus_dir,
)
from monitors.judge.lines import LabelledDataError

EVAL_DIR = Path(__file__).parent / "eval"
FLOORS: dict[str, Any] = json.loads((EVAL_DIR / "floors.json").read_text("utf-8"))["extraction"]
CORPUS = shared_corpus_dir()
ABSENT = "shared corpus absent (../shared/corpus, /work/shared/corpus): extraction not measured"


def failures(report: dict[str, Any]) -> list[str]:
    """The gate: `veille eval`'s check of the floors, on the extraction section alone."""
    return check_floors({"extraction": report}, {"extraction": FLOORS})


@pytest.fixture(scope="module")
def pages() -> list[Page]:
    if CORPUS is None:
        pytest.skip(ABSENT)
    return read_corpus(CORPUS)


@pytest.fixture(scope="module")
def results(pages: list[Page]) -> dict[str, Result]:
    """veille's extraction of every page, once for the module."""
    return extract_pages(pages)


def test_every_part_has_a_bound_on_every_figure() -> None:
    """A figure without a floor is not gated: leaks have a ceiling, the rest floors."""
    assert set(FLOORS) == {"min", "max"}
    assert set(FLOORS["max"]) == {f"{part}.leaks" for part in PARTS}
    assert set(FLOORS["min"]) == {f"{part}.{m}" for part in PARTS for m in METRICS if m != "leaks"}


def test_extraction_holds_its_floors(pages: list[Page], results: dict[str, Result]) -> None:
    report = extraction_report(score_pages(pages, results))
    assert (report["all"]["pages"], report["dev"]["pages"], report["held-out"]["pages"]) == (120, 64, 56)
    assert failures(report) == [], {part: report[part] for part in PARTS}


def test_veille_without_its_line_cleanup_falls_below_the_ceilings(
    pages: list[Page], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regression in monitors/judge/cleanup.py (here: its clean-up not applied) leaks the
    lines it removes (0.037 -> 0.103 on the whole corpus) and fails the gate on every part."""
    import monitors.judge.extract as extract

    monkeypatch.setattr(extract, "clean_lines", lambda text, titles: (text, []))
    report = extraction_report(score_pages(pages, extract_pages(pages)))
    below = failures(report)
    assert [line.split(" = ")[0] for line in below] == [f"extraction {part}.leaks" for part in PARTS], below


def _degradable(pages: list[Page], results: dict[str, Result], part: str, metric: str) -> list[str]:
    """Pages of ``part`` whose ``metric`` the extraction got right, worth one page each: three
    ``with`` strings all found, three ``without`` strings none leaked, the title, the date."""
    out = []
    for page in pages:
        if part != "all" and half(page.name) != part:
            continue
        exp, res = page.expected, results[page.name]
        text = norm(res.text)
        if metric == "with_recall":
            strings = exp.get("with") or []
            right = len(strings) == 3 and all(norm(s) in text for s in strings)
        elif metric == "leaks":
            strings = exp.get("without") or []
            right = len(strings) == 3 and not any(norm(s) in text for s in strings)
        elif metric == "title":
            right = bool(exp.get("title")) and norm(res.title) == norm(exp["title"])
        else:
            right = bool(exp.get("date")) and res.date == exp["date"][:10]
        if right:
            out.append(page.name)
    return out


def _spoil(page: Page, res: Result, metric: str) -> Result:
    """The page's result with ``metric`` wrong: its text lost, its boilerplate leaked, no title
    or no date."""
    if metric == "with_recall":
        return Result("", res.title, res.date)
    if metric == "leaks":
        return Result("\n".join([res.text, *page.expected["without"]]), res.title, res.date)
    if metric == "title":
        return Result(res.text, None, res.date)
    return Result(res.text, res.title, None)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("part", HALVES)
def test_the_floors_let_one_page_go_not_two(
    pages: list[Page], results: dict[str, Result], part: str, metric: str
) -> None:
    """Each half's bound is its measured figure less one page: one more page wrong passes, a
    second fails (when both pass, the floors are under the figures by more than a page:
    re-pin tests/eval/floors.json at what is measured)."""
    names = _degradable(pages, results, part, metric)
    assert len(names) >= 2
    by_name = {page.name: page for page in pages}
    worse = dict(results)
    for lost, name in enumerate(names[:2], 1):
        worse[name] = _spoil(by_name[name], results[name], metric)
        below = [line for line in failures(extraction_report(score_pages(pages, worse))) if part in line]
        if lost == 1:
            assert below == [], f"one {part} page's {metric} lost: {below}"
        else:
            assert [line.split(" = ")[0] for line in below] == [f"extraction {part}.{metric}"], below


@pytest.mark.parametrize("part", PARTS)
def test_the_leak_ceilings_let_one_page_leak_not_a_string_more(
    pages: list[Page], results: dict[str, Result], part: str
) -> None:
    """Each part's leak ceiling is its measured figure with one page's three strings leaked:
    that page passes, one string more fails (before: dev 0.08 and all 0.078, pinned on the
    figures before the clean-up of 2026-12-06 took two strings off each, let five strings
    past the figure, a page and two strings more, pass)."""
    names = [n for n in _degradable(pages, results, "all", "leaks") if part == "all" or half(n) == part]
    assert len(names) >= 2
    by_name = {page.name: page for page in pages}
    worse = dict(results)
    worse[names[0]] = _spoil(by_name[names[0]], results[names[0]], "leaks")
    own = f"extraction {part}."
    below = [line for line in failures(extraction_report(score_pages(pages, worse))) if line.startswith(own)]
    assert below == [], f"one {part} page's leaks: {below}"
    second = by_name[names[1]]
    res = results[second.name]
    worse[second.name] = Result("\n".join([res.text, second.expected["without"][0]]), res.title, res.date)
    below = [line for line in failures(extraction_report(score_pages(pages, worse))) if line.startswith(own)]
    assert [line.split(" = ")[0] for line in below] == [f"extraction {part}.leaks"], below


# ------------------------------------------------------------- veille eval --extraction


def _page(title: str, body: str) -> bytes:
    paragraphs = "".join(
        f"<p>{body} Phrase {i} de l'article, assez longue pour être du texte.</p>" for i in range(5)
    )
    return (
        f"<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta property='article:published_time' content='2025-02-10T09:00:00+01:00'></head><body>"
        f"<nav><a href='/'>Accueil</a> <a href='/a'>Rubrique</a></nav>"
        f"<main><article><h1>{title}</h1>{paragraphs}</article></main>"
        f"<footer><p>Mentions légales de l'éditeur</p></footer></body></html>"
    ).encode()


def _corpus(tmp_path: Path) -> Path:
    """Two pages written here, with their ground truth."""
    corpus = tmp_path / "corpus"
    (corpus / "pages").mkdir(parents=True)
    expected = {}
    for name, title, body in [
        ("sommet.html", "Le sommet s'ouvre à Paris", "Les délégations arrivent au Grand Palais."),
        ("budget.html", "Le budget est voté", "Les députés ont adopté le texte en première lecture."),
    ]:
        (corpus / "pages" / name).write_bytes(_page(title, body))
        expected[name] = {
            "url": f"https://journal.example/{name}",
            "with": [body],
            "without": ["Mentions légales de l'éditeur"],
            "title": title,
            "date": "2025-02-10",
        }
    (corpus / "expected.json").write_text(json.dumps(expected), "utf-8")
    return corpus


def test_veille_eval_measures_extraction_on_a_corpus_and_gates_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille eval --corpus DIR` (docs/extraction.md) prints the figures of each part and exits
    1 when one is under its floor (a floors file of the extraction section alone)."""
    corpus = _corpus(tmp_path)
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"extraction": {"min": {"all.title": 1.0}, "max": {"all.leaks": 0.0}}}))
    assert main(["eval", "--corpus", str(corpus), "--floors", str(floors), "--no-shared"]) == 0
    out = capsys.readouterr().out
    rows = out[out.index(f"extraction ({corpus})") :].splitlines()
    assert rows[1].split() == ["part", "pages", "with-recall", "leaks", "title", "date"]
    assert rows[2].split() == ["all", "2", "1.000", "0.000", "1.000", "1.000"]
    # the copies/stories floors were not checked (no stories set read): not "all 2 floors hold"
    assert f"2 floors hold ({floors}); not checked, their sets not measured: copies/stories of the" in out

    truth = json.loads((corpus / "expected.json").read_text("utf-8"))
    truth["budget.html"]["title"] = "Un autre titre"
    (corpus / "expected.json").write_text(json.dumps(truth), "utf-8")
    argv = ["eval", "--extraction", "--corpus", str(corpus), "--floors", str(floors), "--json"]
    assert main([*argv, "--no-shared"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["failures"] == ["extraction all.title = 0.5000 < floor 1.0000"]
    assert (half("sommet.html"), half("budget.html")) == ("dev", "held-out")
    assert report["extraction"]["dev"]["title"] == 1.0 and report["extraction"]["held-out"]["title"] == 0.0


def test_veille_eval_extraction_reads_the_shared_corpus_or_says_it_is_absent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`veille eval --extraction` measures the corpus shared_corpus_dir finds (here one written
    for the test), warns when there is none, and says how to ask for it when not asked."""
    import monitors.judge.extract_eval as extract_eval

    corpus = _corpus(tmp_path)
    monkeypatch.setattr(extract_eval, "shared_corpus_dir", lambda root=None: corpus)
    assert main(["eval", "--extraction", "--no-shared"]) == 0
    assert f"extraction ({corpus}): veille's extraction against expected.json" in capsys.readouterr().out

    monkeypatch.setattr(extract_eval, "shared_corpus_dir", lambda root=None: None)
    assert main(["eval", "--extraction", "--no-shared"]) == 0
    out, err = capsys.readouterr()
    assert "\nextraction (" not in out and "extraction: not measured" not in out  # no report
    assert "warning: shared corpus not found (../shared/corpus, /work/shared/corpus)" in err

    assert main(["eval", "--no-shared"]) == 0
    assert "extraction: not measured (--extraction" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["missing", "no truth", "truth not JSON", "no pages"])
def test_a_corpus_that_cannot_be_read_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A typo in ``--corpus`` would have measured nothing and passed the gate."""
    corpus = _corpus(tmp_path)
    says = {
        "missing": f"{tmp_path / 'nope'}: no such folder",
        "no truth": f"{corpus / 'expected.json'}: no such file",
        "truth not JSON": f"{corpus / 'expected.json'}:2: not JSON: Expecting value",
        "no pages": f"{corpus / 'pages'}: no *.html page to measure",
    }[kind]
    if kind == "missing":
        corpus = tmp_path / "nope"
    elif kind == "no truth":
        (corpus / "expected.json").unlink()
    elif kind == "truth not JSON":
        (corpus / "expected.json").write_text('{"a.html":\n  {"with": [nope]}}', "utf-8")
    else:
        for page in (corpus / "pages").iterdir():
            page.unlink()
    with pytest.raises(LabelledDataError, match="^" + re.escape(says)):
        read_corpus(corpus)
    assert main(["eval", "--corpus", str(corpus), "--no-shared"]) == 2
    assert capsys.readouterr().err.startswith(f"veille: error: {says}")
