"""Tests for monitors.group.dedup: hashing, MinHash signatures and band keys, wire detection, diffs."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from monitors.group.dedup import (
    BANDS,
    NUM_PERM,
    ROWS,
    SEED,
    THRESHOLD,
    _minhash,
    _permutations,
    _words,
    band_keys,
    detect_wire,
    diff_summary,
    fingerprint,
    is_near_duplicate,
    normalize_text,
    shingles,
    signature,
    similarity,
    text_hash,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _seed(prefix: str) -> str:
    return next(p for p in SEEDS if p.name.startswith(prefix)).read_text(encoding="utf-8")


# --- normalize_text / text_hash ------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "L’intelligence artificielle « doit servir » l’intérêt général — dit-il.",
        "L'intelligence artificielle \"doit servir\" l'intérêt général - dit-il.",
        "  L'INTELLIGENCE   artificielle\n« doit\u00a0servir\u00a0» l'intérêt\tgénéral – dit-il. ",
        "L\u2019intelligence artificielle \u201cdoit servir\u201d "
        "l\u2019int\u00e9r\u00eat g\u00e9n\u00e9ral \u2014 dit-il.",
        "L'intelligence artificielle «\u202fdoit servir\u202f» "
        "l'inte\u0301re\u0302t ge\u0301ne\u0301ral — dit-il.",
    ],
)
def test_text_hash_stable_under_cosmetic_variants(variant: str) -> None:
    reference = "L'intelligence artificielle « doit servir » l'intérêt général — dit-il."
    assert text_hash(variant) == text_hash(reference)


def test_text_hash_changes_with_words() -> None:
    assert text_hash("Le sommet s'ouvre lundi.") != text_hash("Le sommet s'ouvre mardi.")
    assert len(text_hash("x")) == 64


def test_normalize_text() -> None:
    assert normalize_text("  Ｆｕｌｌ\u00a0WIDTH  ’quote’  ") == "full width'quote'"
    assert normalize_text("Stra\u00dfe") == "strasse"  # casefold, not lower


# --- signatures and LSH --------------------------------------------------------------------------


def test_parameters_consistent() -> None:
    assert BANDS * ROWS == NUM_PERM
    assert 0 < THRESHOLD < 1
    # The LSH S-curve must give candidates for most pairs the similarity rule accepts.
    assert (1 / BANDS) ** (1 / ROWS) <= THRESHOLD


def test_signature_shape_and_range() -> None:
    sig = signature(_seed("000"))
    assert len(sig) == NUM_PERM
    assert all(isinstance(v, int) and 0 <= v < 2**32 for v in sig)
    json.dumps(sig)


def test_band_keys_fit_signed_int64() -> None:
    for path in SEEDS:
        keys = band_keys(signature(path.read_text(encoding="utf-8")))
        assert [band for band, _ in keys] == list(range(BANDS))
        assert all(isinstance(k, int) and INT64_MIN <= k <= INT64_MAX for _, k in keys)
    # extreme values too
    assert all(INT64_MIN <= k <= INT64_MAX for _, k in band_keys([2**32 - 2] * NUM_PERM))
    assert all(INT64_MIN <= k <= INT64_MAX for _, k in band_keys([0] * NUM_PERM))


def test_identical_bands_give_identical_keys() -> None:
    a = signature(_seed("001"))
    b = list(a)
    b[ROWS * 3] ^= 1  # change one row of band 3 only
    ka, kb = dict(band_keys(a)), dict(band_keys(b))
    assert {band for band in ka if ka[band] != kb[band]} == {3}


def test_signature_deterministic_across_processes() -> None:
    text = _seed("002")
    code = (
        "import json, sys; from monitors.group.dedup import signature, band_keys;"
        "s = signature(sys.stdin.read()); print(json.dumps([s, band_keys(s)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    sig, keys = json.loads(out)
    assert sig == signature(text)
    assert [tuple(k) for k in keys] == band_keys(signature(text))


# sha256 of json.dumps([[text_hash, signature, band_keys] for each seed, in name order]), as
# stored in article rows: a change of normalisation, tokens, shingle hashes, permutations or
# band keys makes stored articles incomparable with new ones and must come with a migration.
STORED_FORM_DIGEST = "27e1288267d888a2810e15d889f3d1ad57205dc67f24313a98668fb2f73b1170"


def test_stored_hashes_signatures_and_band_keys_do_not_change() -> None:
    out = []
    for path in SEEDS:
        digest, sig = fingerprint(path.read_text(encoding="utf-8"))
        out.append([digest, sig, band_keys(sig)])
    assert hashlib.sha256(json.dumps(out).encode()).hexdigest() == STORED_FORM_DIGEST


@pytest.mark.parametrize("size", [0, 1, 7, 600])
def test_minhash_is_datasketchs(size: int) -> None:
    hashes = np.random.default_rng(size).integers(0, 2**32, size=size, dtype=np.uint32)
    reference = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", hashfunc=int)
    reference.update_batch(hashes.tolist())
    assert _minhash(hashes) == reference.hashvalues.tolist()


def test_permutations_are_datasketchs() -> None:
    a, b = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations
    ours = _permutations()
    assert ours[0].dtype == a.dtype and ours[1].dtype == b.dtype
    assert ours[0].tolist() == a.tolist() and ours[1].tolist() == b.tolist()


def test_a_signature_does_not_import_datasketch_or_scipy() -> None:
    # datasketch imports scipy: over a second of CPU on a loaded machine, in every worker
    code = (
        "import sys; from monitors.group.dedup import fingerprint; fingerprint('un texte assez long ' * 20);"
        "print(sorted(m for m in ('datasketch', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "line",
    ["l'ia, c'est (vraiment) l'avenir_2025 !", "œuvre · straße • 東京 ½ x²", "", "  -- ", "a\tb\x1fc"],
)
def test_words_are_the_word_regex_matches(line: str) -> None:
    assert _words(line) == [w.encode() for w in re.findall(r"\w+", line)]


def test_near_duplicate_detection_on_real_text() -> None:
    original = _seed("000")
    paragraphs = [p for p in original.splitlines() if p.strip()]
    # another outlet's copy: own header, one paragraph cut, one added
    copy = "\n".join(
        ["Sommet IA : Mélenchon s'en prend à Macron", "Par Le Figaro avec AFP", "Publié le 8 février"]
        + paragraphs[8:-4]
        + ["Le sommet se tient lundi et mardi au Grand Palais, en présence d'une centaine de pays."]
        + paragraphs[-3:-2]
    )
    assert is_near_duplicate(signature(original), signature(copy))
    for other in SEEDS[1:]:
        assert not is_near_duplicate(signature(original), signature(other.read_text("utf-8")))


def test_similarity_properties() -> None:
    a, b = signature(_seed("003")), signature(_seed("004"))
    assert similarity(a, a) == 1.0
    assert similarity(a, b) == similarity(b, a) < 0.1
    with pytest.raises(ValueError):
        similarity(a[:10], b)


def test_boilerplate_lines_do_not_count() -> None:
    body = _seed("004")
    dressed = "\n".join(
        [
            "Article rédigé par franceinfo avec AFP",
            "Publié le 11/02/2025 09:12",
            "Temps de lecture : 3min",
            "Lire aussi : Sommet sur l'IA, ce qu'il faut retenir",
            body,
            "Commentaires",
            "Partager",
        ]
    )
    assert shingles(dressed) == shingles(body)


def test_fingerprint_is_text_hash_and_signature() -> None:
    for text in [*(p.read_text(encoding="utf-8") for p in SEEDS), "", "Sommet IA", "« Bonjour » : oui !"]:
        assert fingerprint(text) == (text_hash(text), signature(text))


def test_short_and_empty_texts() -> None:
    """Empty text: empty signature, no band keys, similar to nothing. Short texts still work."""
    empty = signature("")
    assert empty == signature("   \n ")
    assert band_keys(empty) == []
    assert similarity(empty, empty) == 0.0 and not is_near_duplicate(empty, empty)
    short = "Le sommet sur l'IA s'ouvre lundi au Grand Palais."
    assert len(shingles("Sommet IA")) == 1
    assert is_near_duplicate(signature(short), signature(short.upper()))
    assert len(band_keys(signature(short))) == BANDS


# --- wire detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "author", "expected"),
    [
        ("Article rédigé par franceinfo avec AFP\nFrance Télévisions\n\nLe texte.", None, "AFP"),
        ("Le Figaro avec AFP\n\nLe président a annoncé...", None, "AFP"),
        ("PARIS (AFP) - Le sommet s'est ouvert lundi.", None, "AFP"),
        ("Paris, 10 février 2025 (AFP) – Le sommet s'est ouvert lundi.", None, "AFP"),
        ("Le sommet s'est ouvert lundi au Grand Palais (AFP).", None, "AFP"),
        ("AFP - Le sommet s'est ouvert lundi.", None, "AFP"),
        ("Le texte de la dépêche.\n\nAvec AFP", None, "AFP"),
        ("Le texte de la dépêche.\n\n(avec l'AFP)", None, "AFP"),
        ("Le sommet s'est ouvert lundi au Grand Palais. (Avec AFP)", None, "AFP"),
        ("Le texte de la dépêche (Avec l'AFP) se termine ici.", None, "AFP"),
        ("Le texte de la dépêche.\nSource : AFP", None, "AFP"),
        ("Le texte.", "franceinfo avec AFP", "AFP"),
        ("Le texte.", "Agence France-Presse", "AFP"),
        ("PARIS, Feb 10 (Reuters) - Leaders gathered in Paris.", None, "Reuters"),
        ("Reuters - Les dirigeants se sont réunis à Paris.", None, "Reuters"),
        ("Le texte.", "Reuters", "Reuters"),
        ("WASHINGTON (AP) — Vice President JD Vance said.", None, "AP"),
        ("Le texte. (Associated Press)", None, "AP"),
        ("Le texte.", "Associated Press", "AP"),
        ("Le texte.", "The AP", "AP"),
        ("Le Monde avec AFP et Reuters\n\nLe texte.", None, "AFP"),
        (_seed("000"), None, "AFP"),
        # datelines crediting several agencies: the first of ours
        ("PARIS (AFP/Reuters) - Le sommet s'est ouvert lundi.", None, "AFP"),
        ("BERLIN (dpa/AFP) – Le chancelier a salué l'accord.", None, "AFP"),
        ("LONDRES (Reuters / AFP) — Le Premier ministre a signé.", None, "Reuters"),
        ("MADRID, 10 février (EFE, AP) - El Gobierno anunció.", None, "AP"),
    ],
)
def test_detect_wire_positive(text: str, author: str | None, expected: str) -> None:
    assert detect_wire(text, author) == expected


@pytest.mark.parametrize(
    ("text", "author"),
    [
        # photo credits alone are not a wire copy
        ("Emmanuel Macron au Louvre. (Bertrand Guay/Reuters)\n\nLe reportage de Libération.", None),
        ("Jean-Luc Mélenchon à Angers. (FREDERIC PETRY / HANS LUCAS / AFP)\n\nTexte.", None),
        ("© AFP\n\nNotre reportage au Grand Palais.", None),
        ("Photo AFP\n\nNotre reportage au Grand Palais.", None),
        # a photographer and an agency, even before a dash, or an agency and a picture library
        ("Emmanuel Macron à Paris (Jean Dupont/AFP) - Notre reportage au Grand Palais.", None),
        ("Le chancelier à Berlin. (JOHN MACDOUGALL / AFP) – Notre reportage.", None),
        ("Le chancelier à Berlin (AFP/Getty Images) - Notre reportage.", None),
        ("BERLIN (dpa) - Le chancelier a salué l'accord.", None),  # not an agency we track
        # agencies as sources of a quote
        ("« Nous avançons », a déclaré le ministre à l'AFP.", None),
        ("Selon Reuters, l'accord sera signé mardi.", None),
        ("Dans un entretien avec Reuters, le dirigeant a confirmé l'information.", None),
        ("Interrogé par l'AFP, il n'a pas souhaité commenter.", None),
        # AP inside other words or acronyms
        ("L'AP-HP utilise déjà des outils d'IA pour le tri des urgences.", None),
        ("Le texte.", "Claire Dumont"),
        ("Le texte.", "AP-HP"),
        ("", None),
        (_seed("002"), None),  # Libération's own report with a Reuters photo
        (_seed("001"), None),
        (_seed("003"), None),
        (_seed("004"), None),
    ],
)
def test_detect_wire_negative(text: str, author: str | None) -> None:
    assert detect_wire(text, author) is None


# --- diff_summary --------------------------------------------------------------------------------


def test_diff_summary_shape() -> None:
    old = "Premier paragraphe.\n\nDeuxième paragraphe.\n\nTroisième paragraphe."
    new = "Premier paragraphe.\n\nDeuxième paragraphe, complété.\n\nQuatrième paragraphe.\n\nCinquième."
    d = diff_summary(old, new, "Titre", "Titre modifié")
    json.dumps(d)
    assert set(d) == {
        "title_changed",
        "old_title",
        "new_title",
        "old_length",
        "new_length",
        "chars_added",
        "chars_removed",
        "paragraphs_added",
        "paragraphs_removed",
        "paragraphs_changed",
        "diff",
        "diff_truncated",
    }
    assert d["title_changed"] is True
    assert (d["old_length"], d["new_length"]) == (len(old), len(new))
    assert d["paragraphs_changed"] == 2 and d["paragraphs_added"] == 1
    assert d["paragraphs_removed"] == 0
    assert d["chars_added"] > 0 and d["chars_removed"] > 0
    assert "+Cinquième." in d["diff"] and "-Troisième paragraphe." in d["diff"]
    assert d["diff_truncated"] is False


def test_diff_summary_identical_and_whitespace_only() -> None:
    d = diff_summary("Un.\n\nDeux.", "Un.\n\n\n  Deux.  \n", "T", "T")
    assert d["title_changed"] is False
    assert d["paragraphs_added"] == d["paragraphs_removed"] == d["paragraphs_changed"] == 0
    assert d["chars_added"] == d["chars_removed"] == 0 and d["diff"] == ""


def test_diff_summary_unknown_title_is_not_a_change() -> None:
    assert diff_summary("a", "a", None, "Titre")["title_changed"] is False


def test_diff_summary_excerpt_is_capped() -> None:
    old = "\n".join(f"Paragraphe {i} " + "x" * 500 for i in range(100))
    new = "\n".join(f"Paragraphe {i} " + "y" * 500 for i in range(100))
    d = diff_summary(old, new)
    assert d["diff_truncated"] is True and len(d["diff"]) <= 2000
    assert d["paragraphs_changed"] == 100
