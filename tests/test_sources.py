"""The sources file: validation with line numbers, and the default list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitors.archive.models import Source
from monitors.collect.sources import (
    MAX_NAME_CHARS,
    SourcesError,
    load_sources,
    parse_sources,
    sources_label,
    sync_sources,
)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

GOOD = """
[[source]]
name = "Le Monde - Pixels"
kind = "feed"
url = "https://www.lemonde.fr/pixels/rss_full.xml"
owner = "media"

[[source]]
name = "PCF"
kind = "listing"
url = "https://www.pcf.fr/actualites"
owner = "party"
family = "gauche radicale"
link_pattern = "/actualites/"
"""


def test_parses_a_valid_file() -> None:
    specs = parse_sources(GOOD, "s.toml")
    assert [s.name for s in specs] == ["Le Monde - Pixels", "PCF"]
    assert specs[1].family == "gauche radicale" and specs[1].link_pattern == "/actualites/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace('kind = "listing"', 'kind = "telegram"'), "s.toml:10: unknown kind 'telegram'"),
        (GOOD.replace('owner = "media"', 'owner = "blog"'), "s.toml:6: unknown owner 'blog'"),
        (GOOD.replace('family = "gauche radicale"', 'colour = "red"'), "s.toml:13: unknown key 'colour'"),
        (
            GOOD.replace('url = "https://www.pcf.fr/actualites"', 'url = "ftp://pcf.fr"'),
            "s.toml:11: url must",
        ),
        (GOOD.replace('name = "PCF"', 'name = "Le Monde - Pixels"'), "s.toml:9: duplicate source name"),
        (GOOD.replace('link_pattern = "/actualites/"', 'link_pattern = "(["'), "s.toml:14: bad regular"),
        (GOOD.replace('name = "PCF"\n', ""), "s.toml:8: source #2 needs a non-empty 'name'"),
        (GOOD + "\n[[source]\n", "s.toml:16: not valid TOML"),
        ("[feeds]\nx = 1\n", "unknown top-level key(s) ['feeds']"),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(SourcesError) as err:
        parse_sources(text, "s.toml")
    assert message in str(err.value)


def test_default_list_covers_media_and_parties() -> None:
    specs = load_sources()
    media = [s for s in specs if s.owner == "media"]
    parties = [s for s in specs if s.owner == "party"]
    assert len([s for s in media if s.kind == "feed"]) >= 12
    assert len(parties) >= 8
    assert all(s.family for s in parties)
    # as many as README says it lists
    said = re.search(r"\[`seeds/sources.toml`\]\(seeds/sources.toml\) lists (\d+) sources", README)
    assert said and int(said.group(1)) == len(specs)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="cannot read sources file"):
        load_sources(tmp_path / "nope.toml")


def test_sync_is_an_upsert_by_name(db: Session) -> None:
    specs = parse_sources(GOOD, "s.toml")
    first = sync_sources(db, specs)
    again = sync_sources(db, parse_sources(GOOD.replace("rss_full.xml", "rss.xml"), "s.toml"))
    assert first == again
    urls = db.scalars(select(Source.url).where(Source.id.in_(first)).order_by(Source.id)).all()
    assert urls[0].endswith("/pixels/rss.xml")


def test_sources_label_names_the_file_a_run_reads(tmp_path, monkeypatch):
    """The run's log line names VEILLE_SOURCES when it is set (it said "the default list")."""
    monkeypatch.delenv("VEILLE_SOURCES", raising=False)
    assert sources_label() == "the default list"
    mine = tmp_path / "mine.toml"
    monkeypatch.setenv("VEILLE_SOURCES", str(mine))
    assert sources_label() == str(mine)
    assert sources_label(tmp_path / "other.toml") == str(tmp_path / "other.toml")


def test_the_documented_source_tables_parse_and_their_mistake_reads_as_shown() -> None:
    """README's table to add a source and docs/sources.md's file format, as written there; the
    mistake docs/sources.md shows is the message veille gives for it."""
    (table,) = re.findall(r"```toml\n(.*?)```", README, flags=re.S)
    assert [s.name for s in parse_sources(table, "README.md")] == ["Le Monde - Pixels"]
    doc = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    block = doc.split("## The file format\n\n", 1)[1].split("\n\n", 1)[0]
    fmt = "\n".join(line.removeprefix("    ") for line in block.splitlines())
    (spec,) = parse_sources(fmt, "s.toml")
    assert (spec.fallback_kind, spec.link_pattern, spec.enabled) == ("sitemap", "/communiques/[^/]+/?$", True)
    shown = re.search(r"is `(s\.toml:\d+: unknown fallback_kind 'page'[^`]*)`", doc)
    assert shown, "docs/sources.md no longer shows the mistake"
    with pytest.raises(SourcesError) as mistake:
        parse_sources(fmt.replace('fallback_kind = "sitemap"', 'fallback_kind = "page"'), "s.toml")
    assert str(mistake.value) == shown.group(1)


def _incompressible(chars: int, seed: int, alphabet: str) -> str:
    """A name PostgreSQL cannot compress (its btree index stores values compressed)."""
    import random

    rnd = random.Random(seed)
    return "".join(rnd.choice(alphabet) for _ in range(chars))


def test_a_source_name_too_long_to_index_is_an_error_naming_its_line(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name of 3,000 characters broke the sync with PostgreSQL's traceback (index row size
    exceeds btree maximum 2704 for "sources_name_key"); it is refused as any invalid entry is,
    naming the file and line: `veille sources check` exits 2 (a run leaves it out, polling
    the others: tests/test_sources_bad_entries.py)."""
    from flows.cli import main

    long_name = "Le " + _incompressible(3000, 1, "abcdefghijklmnopqrstuvwxyz0123456789 ")
    text = GOOD.replace('name = "PCF"', f'name = "{long_name}"')
    with pytest.raises(SourcesError) as err:
        parse_sources(text, "s.toml")
    assert str(err.value).startswith(
        f"s.toml:9: source #2's name is 3,003 characters long, more than a name takes ({MAX_NAME_CHARS})"
    )
    sources = tmp_path / "long.toml"
    sources.write_text(text, encoding="utf-8")
    assert main(["sources", "check", "--sources", str(sources)]) == 2
    err_text = capsys.readouterr().err
    assert f"{sources}:9: source #2's name is 3,003 characters long" in err_text
    assert "Traceback" not in err_text and "btree" not in err_text


def test_the_longest_name_allowed_fits_the_index(db: Session) -> None:
    """MAX_NAME_CHARS characters of 4-byte UTF-8 that do not compress are stored and found."""
    name = _incompressible(MAX_NAME_CHARS, 2, "😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗")
    assert len(name.encode()) == 4 * MAX_NAME_CHARS
    text = GOOD.replace('name = "PCF"', f'name = "{name}"')
    ids = sync_sources(db, parse_sources(text, "s.toml"))
    assert db.scalar(select(Source.name).where(Source.id == ids[1])) == name
