"""tests/eval/story_cv.py: the leave-one-story-out estimate documented in docs/topics.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from monitors.judge.relevance import score_item
from monitors.judge.topic import load_topic
from tests.eval.story_cv import main, site, site_folds

ROOT = Path(__file__).resolve().parents[1]

# Our own sentences. Story "roost" alone names ROOST, story "envoy" alone Martin Tisné (two
# `entity` terms of the summit topic); with the rule that only its own story matches dropped,
# each paragraph must stand on what is left, and nothing else ties it to the summit.
ITEMS: list[dict[str, str | None]] = [
    {"id": "a", "story": "roost", "kind": "paragraph", "label": "summit", "published_at": None,
     "text": "ROOST proposera des outils libres pour repérer les contenus illicites avec l'IA."},
    {"id": "b", "story": "envoy", "kind": "paragraph", "label": "summit", "published_at": None,
     "text": "Martin Tisné a présenté un modèle d'IA entraîné sur des archives de presse."},
    {"id": "c", "story": "other", "kind": "paragraph", "label": "ai_other", "published_at": "2025-02-12",
     "text": "Une application de cuisine utilise l'IA pour proposer des recettes."},
]  # fmt: skip


def _labelled(tmp_path: Path, items: list[Any]) -> Path:
    """A labelled set of ``items`` as the shared splits are written: one JSON object a line."""
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8")
    return data


def test_story_cv_drops_what_only_the_held_out_story_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _labelled(tmp_path, ITEMS)
    assert main(["--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "leave-one-story-out, labelled.jsonl" in out
    # both summit paragraphs lose their only event term: found as scored, missed held out
    assert all(score_item(load_topic(), i).relevant for i in ITEMS[:2])
    assert "paragraph undated      P 0.000 R 0.000  tp 0 fp 0 fn 2" in out
    assert "paragraph dated        P 0.000 R 0.000  tp 0 fp 0 fn 2" in out


def test_story_cv_runs_as_documented(tmp_path: Path) -> None:
    data = _labelled(tmp_path, ITEMS)
    done = subprocess.run(
        [sys.executable, "tests/eval/story_cv.py", "--data", str(data), "--drop-groups", "entity,cast"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "without ['cast', 'entity']" in done.stdout


def test_story_cv_with_the_url_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--url-weight 1`` (docs/topics.md, "The page's URL"): the items' URLs as a zone; a
    paragraph that names nothing of the summit is found by its page's URL."""
    items = [
        {"id": "u", "story": "union", "kind": "paragraph", "label": "summit", "published_at": "2025-02-11",
         "url": "https://www.exemple.fr/2025/02/11/au-sommet-de-lia-a-paris-les-syndicats-reclament",
         "text": "Les syndicats promettent de revenir à la charge dans les entreprises."},
        # another story naming the summit: its names are not the held-out story's alone, so kept
        {"id": "o", "story": "opening", "kind": "article", "label": "summit", "published_at": "2025-02-10",
         "title": "Le sommet pour l'action sur l'IA s'ouvre à Paris",
         "text": "Le sommet pour l'action sur l'IA s'ouvre au Grand Palais à Paris, sommet de l'IA."},
    ]  # fmt: skip
    data = _labelled(tmp_path, items)
    assert main(["--data", str(data)]) == 0
    assert "URL zone weight 0" in capsys.readouterr().out
    assert main(["--data", str(data), "--url-weight", "1"]) == 0
    out = capsys.readouterr().out
    assert "URL zone weight 1" in out
    assert "paragraph dated        P 1.000 R 1.000  tp 1 fp 0 fn 0" in out


def test_story_cv_by_pattern_with_the_articles_paragraphs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--patterns --pieces``: a pattern of any group found in one story only is dropped when
    that story is held out (here Fluidstack, and MGX and Data4, patterns of one `entity` term
    that the term rules keep since both stories match it), and the articles' paragraphs are
    scored as untitled pieces."""
    items: list[dict[str, str | None]] = [
        {"id": "f", "story": "funds", "kind": "paragraph", "label": "summit", "published_at": None,
         "text": "Le fonds Brookfield et Fluidstack construiront des centres de données pour l'IA."},
        {"id": "g", "story": "other-funds", "kind": "paragraph", "label": "summit", "published_at": None,
         "text": "Le fonds MGX et Data4 construiront des centres de données pour l'IA en France."},
        {"id": "h", "story": "opening", "kind": "article", "label": "summit", "published_at": "2025-02-10",
         "title": "Le sommet pour l'action sur l'IA s'ouvre au Grand Palais",
         "text": "Le sommet pour l'action sur l'IA s'ouvre au Grand Palais\n"
                 "Des chefs d'État venus d'une centaine de pays participent à ce rendez-vous "
                 "international de deux jours, ouvert lundi par le président de la République."},
    ]  # fmt: skip
    data = _labelled(tmp_path, items)
    assert all(score_item(load_topic(), i).relevant for i in items[:2])
    assert main(["--data", str(data), "--url-weight", "0"]) == 0
    by_term = capsys.readouterr().out
    assert "paragraph undated      P 1.000 R 1.000  tp 2 fp 0 fn 0" in by_term  # terms shared: kept
    assert main(["--data", str(data), "--url-weight", "0", "--pieces"]) == 0
    # the article's second line, read untitled in the peak: the gathering (bare_groups)
    assert "piece dated            P 1.000 R 1.000  tp 1 fp 0 fn 0" in capsys.readouterr().out
    assert main(["--data", str(data), "--url-weight", "0", "--patterns", "--pieces"]) == 0
    out = capsys.readouterr().out
    assert "patterns found in one story only dropped, with the articles' paragraphs (piece)" in out
    # each paragraph's fund and firm are its story's alone: held out, nothing of the event is left
    assert "paragraph undated      P 0.000 R 0.000  tp 0 fp 0 fn 2" in out
    # and the piece's leaders, hundred countries and rendez-vous are its story's alone
    assert "piece dated            P 0.000 R 0.000  tp 0 fp 0 fn 1" in out


def test_story_cv_in_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--context`` (docs/topics.md, "Paragraphs in context"): each held-out story's items are
    also judged in the batch of the whole split; a paragraph of the article's follow-up that names
    nothing of the summit is found by its article, a paragraph on the same town only is not.
    Our own text: a firm, a place and a person that do not exist."""
    items: list[dict[str, str | None]] = [
        {"id": "a", "story": "valorine", "kind": "article", "label": "summit", "published_at": "2025-02-10",
         "title": "Sommet pour l'action sur l'IA : Valorine promet 4,2 milliards d'euros à Villeurbanne",
         "text": "En marge du Sommet pour l'action sur l'intelligence artificielle, au Grand Palais, "
                 "l'entreprise Valorine a annoncé un investissement de 4,2 milliards d'euros à "
                 "Villeurbanne, a dit sa directrice, Hélène Corbière."},
        {"id": "p", "story": "valorine", "kind": "paragraph", "label": "summit", "published_at": "2025-02-11",
         "text": "Le chantier de Valorine à Villeurbanne doit commencer à l'automne, a précisé Hélène "
                 "Corbière, qui évoque 4,2 milliards d'euros et plusieurs centaines d'emplois."},
        {"id": "n", "story": "pool", "kind": "paragraph", "label": "politics_other",
         "published_at": "2025-02-11",
         "text": "Le chantier de la nouvelle piscine de Villeurbanne doit commencer à l'automne, selon "
                 "la mairie, pour un coût de 12 millions d'euros."},
        # another story naming the summit, so that its names are not the held-out story's alone
        {"id": "o", "story": "opening", "kind": "article", "label": "summit", "published_at": "2025-02-10",
         "title": "Le Sommet pour l'action sur l'IA s'ouvre à Paris",
         "text": "Le Sommet pour l'action sur l'intelligence artificielle s'ouvre au Grand Palais."},
    ]  # fmt: skip
    data = _labelled(tmp_path, items)
    assert main(["--data", str(data), "--patterns", "--context", "--choose"]) == 0
    out = capsys.readouterr().out
    alone, rest = out.split("in the batch of the whole split", 1)
    in_context, chosen = rest.split("options chosen by nested", 1)
    assert "each line alone:" in alone
    assert "paragraph dated        P 0.000 R 0.000  tp 0 fp 0 fn 1  politics_other 0/1" in alone
    assert "paragraph dated        P 1.000 R 1.000  tp 1 fp 0 fn 0  politics_other 0/1" in in_context
    assert "paragraph undated      P 1.000 R 1.000  tp 1 fp 0 fn 0  politics_other 0/1" in in_context
    assert "the whole split chooses" in chosen
    assert main(["--data", str(data), "--patterns", "--context", "--other-sources"]) == 0
    assert "neighbours from other pages only" in capsys.readouterr().out


# Our own text: known coverage of the event (an invented firm, town and person), as a topic
# could ship it, and a labelled set whose paragraphs name nothing of the summit.
EXEMPLAR = (
    "Sommet pour l'action sur l'IA : Valorine promet 4,2 milliards d'euros à Villeurbanne\n"
    "En marge du Sommet pour l'action sur l'intelligence artificielle, au Grand Palais, "
    "l'entreprise Valorine a annoncé un investissement de 4,2 milliards d'euros à Villeurbanne, "
    "a dit sa directrice, Hélène Corbière.\n"
)
EXEMPLAR_ITEMS: list[dict[str, str | None]] = [
    {"id": "p", "story": "valorine", "kind": "paragraph", "label": "summit", "published_at": None,
     "text": "Le chantier de Valorine à Villeurbanne doit commencer à l'automne, a précisé Hélène "
             "Corbière, qui évoque 4,2 milliards d'euros et plusieurs centaines d'emplois."},
    {"id": "n", "story": "pool", "kind": "paragraph", "label": "politics_other", "published_at": None,
     "text": "Le chantier de la nouvelle piscine de Villeurbanne doit commencer à l'automne, selon "
             "la mairie, pour un coût de 12 millions d'euros."},
]  # fmt: skip


def test_story_cv_with_exemplars(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--exemplars DIR`` (docs/topics.md, "Exemplar documents as standing seeds"): each
    held-out line alone is also judged as if the documents in DIR were seeds of its batch; the
    paragraph sharing the exemplar's firm, person and sum is lifted, the one sharing its town
    only is not. ``--background``: names and numbers of 2+ background pages are not distinctive."""
    data = _labelled(tmp_path, EXEMPLAR_ITEMS)
    known = tmp_path / "exemplars"
    known.mkdir()
    (known / "valorine.txt").write_text(EXEMPLAR, "utf-8")
    assert not any(score_item(load_topic(), i).relevant for i in EXEMPLAR_ITEMS)
    assert main(["--data", str(data), "--exemplars", str(known)]) == 0
    alone, lifted = capsys.readouterr().out.split("as standing seeds", 1)
    assert "paragraph undated      P 0.000 R 0.000  tp 0 fp 0 fn 1  politics_other 0/1" in alone
    assert "(documents, distinctive in <= 1, similarity >= 0.3, 2 shared)" in lifted
    assert "paragraph undated      P 1.000 R 1.000  tp 1 fp 0 fn 0  politics_other 0/1" in lifted
    assert main(["--data", str(data), "--exemplars", str(known), "--exemplar-paragraphs"]) == 0
    assert "paragraph dated        P 1.000 R 1.000  tp 1 fp 0 fn 0" in capsys.readouterr().out
    # a background where the firm, the town and the person are common: one distinctive sum is left
    pages = tmp_path / "pages"
    pages.mkdir()
    for n in range(2):
        body = " ".join(["Chez Valorine à Villeurbanne, Hélène Corbière range les archives."] * 6)
        (pages / f"{n}.html").write_text(
            f"<html><body><article><p>{body}</p></article></body></html>", "utf-8"
        )
    assert main(["--data", str(data), "--exemplars", str(known), "--background", str(pages)]) == 0
    with_background = capsys.readouterr().out.split("as standing seeds")[1]
    assert "paragraph undated      P 0.000 R 0.000  tp 0 fp 0 fn 1" in with_background
    assert main(["--data", str(data), "--exemplars", str(known), "--exemplar-grid"]) == 0
    grid = capsys.readouterr().out
    assert "paragraphs, distinctive in <= 5, similarity >= 0.35, 3 shared" in grid
    assert "documents, distinctive in <= 1, similarity >= 0.3, 2 shared paragraph dated +1/+0" in grid


# Two stories on one site both name ROOST (a pattern of the summit topic's `entity` group), a
# third story on another site is a negative. Held out one story at a time, ROOST is found in
# the other story and kept; held out by site, both stories sit in one fold and lose it.
ON_ONE_SITE: list[dict[str, str | None]] = [
    {"id": "a", "story": "roost", "kind": "paragraph", "label": "summit", "published_at": None,
     "url": "https://www.exemple.fr/a",
     "text": "ROOST proposera des outils libres pour repérer les contenus illicites avec l'IA."},
    {"id": "b", "story": "roost-later", "kind": "paragraph", "label": "summit", "published_at": None,
     "url": "https://exemple.fr/b",
     "text": "ROOST a publié ses premiers outils d'IA libres pour la sécurité des enfants."},
    {"id": "c", "story": "other", "kind": "paragraph", "label": "ai_other", "published_at": "2025-02-12",
     "url": "https://ailleurs.org/c",
     "text": "Une application de cuisine utilise l'IA pour proposer des recettes."},
]  # fmt: skip


def test_site_folds_keep_a_story_and_a_site_in_one_fold() -> None:
    items = ON_ONE_SITE + [dict(ON_ONE_SITE[2], id="d", url="https://autre.net/d")]
    for seed in range(4):
        folds = site_folds(items, 2, seed)
        assert folds[0] == folds[1]  # www.exemple.fr and exemple.fr: one site
        assert folds[2] == folds[3]  # one story on two sites
        assert folds[0] != folds[2]  # two folds, each the lightest when dealt
    assert site("https://www.lemonde.fr/x") == "lemonde.fr" and site("") == ""


def test_story_cv_by_folds_of_stories_and_sites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _labelled(tmp_path, ON_ONE_SITE)
    assert all(score_item(load_topic(), i).relevant for i in ON_ONE_SITE[:2])
    assert main(["--data", str(data), "--patterns"]) == 0
    assert "paragraph undated      P 1.000 R 1.000  tp 2 fp 0 fn 0" in capsys.readouterr().out
    assert main(["--data", str(data), "--patterns", "--folds", "2", "--shuffles", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 folds of stories and sites, 2 shuffle(s)" in out
    assert "shuffle 1, relevant paragraphs dated found per fold: 0/2" in out
    # pooled over the two shuffles: each item counted twice
    assert "paragraph undated      P 0.000 R 0.000  tp 0 fp 0 fn 4  ai_other 0/2" in out


def test_story_cv_drops_what_no_other_story_motivates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--motivated``: ROOST is matched by another story, but only by a negative there, so
    nothing outside the summit paragraph's story could have motivated the term."""
    negative = dict(ON_ONE_SITE[1], label="ai_other", story="garden", url="https://autre.fr/x",
                    text="Un outil nommé ROOST aide les jardiniers à arroser grâce à l'IA.")  # fmt: skip
    data = _labelled(tmp_path, [ON_ONE_SITE[0], negative, ON_ONE_SITE[2]])
    assert main(["--data", str(data), "--patterns"]) == 0
    assert "paragraph undated      P 0.500 R 1.000  tp 1 fp 1 fn 0" in capsys.readouterr().out
    assert main(["--data", str(data), "--patterns", "--motivated"]) == 0
    out = capsys.readouterr().out
    assert "patterns no other story motivates dropped" in out
    # the summit paragraph loses ROOST; the negative keeps it (the summit paragraph motivates it)
    assert "paragraph undated      P 0.000 R 0.000  tp 0 fp 1 fn 1" in out
