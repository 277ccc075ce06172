"""Pathological pages through the analysis stage (extraction, metadata, language): a page
either gives its article or fails with a reason that says why, cause first; nothing in a
page's metadata may cost its text.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitors.judge.extract import extract_article

URL = "https://example.fr/politique/sommet.html"
PARA = (
    "Le sommet sur l'intelligence artificielle se tient à Paris cette semaine, avec des "
    "dirigeants venus du monde entier pour débattre de la régulation des modèles. "
)


def page(head: str = "", body: str = "", lang: str = "fr") -> str:
    """An article page: a title, a heading and eight paragraphs, with ``head`` and ``body``
    added to its head and to the top of its article."""
    paragraphs = "".join(f"<p>{PARA * 3} Paragraphe {i}.</p>" for i in range(8))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>Sommet IA à Paris</title>'
        f"{head}</head><body><article><h1>Sommet IA à Paris</h1>{body}{paragraphs}</article></body></html>"
    )


@pytest.mark.parametrize(
    ("head", "body"),
    [
        ('<meta property="article:published_time" content="2025-02-08T10:00:00+25:00">', ""),
        ("", '<time datetime="2025-02-08T10:00:00+25:00">8 février</time>'),
    ],
    ids=["meta", "time"],
)
def test_a_date_with_an_impossible_offset_costs_the_date_not_the_text(head: str, body: str) -> None:
    """Before: htmldate raised ValueError on the offset, trafilatura discarded the whole page
    for it, and the page failed with "no article text found in the page"."""
    got = extract_article(page(head, body).encode(), URL)
    assert got.text.startswith("Le sommet sur l'intelligence artificielle") and "Paragraphe 7." in got.text
    assert got.published_at == datetime(2025, 2, 8, tzinfo=UTC)  # the day; its time is unreadable


ACCENTED = "L’Élysée œuvre pour que l’IA « serve » l’intérêt général, dit-on à 20 € près."


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_keeps_its_characters_and_language(codec: str) -> None:
    """Before: read as windows-1252 with a NUL between letters, the characters outside
    latin-1 (’ œ €) garbled, and ``<html lang>`` not found (its bytes hold zeros)."""
    got = extract_article(page(body=f"<p>{ACCENTED * 4}</p>").encode(codec), URL)
    assert ACCENTED in got.text and "\x00" not in got.text
    assert got.declared_language == "fr"
