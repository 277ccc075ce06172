# ruff: noqa: E501
"""`veille sources check` probes each source once and reports; the default sources file
covers the national press and every party the issue names, each with its family."""

from __future__ import annotations

import contextlib
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.cli import main
from monitors.collect.sources import load_sources
from tests.site import LocalSite, rss_feed, write_sources


def test_sources_check_reports_status_time_entries_and_suggestions(site: LocalSite, tmp_path: Path) -> None:
    site.add("/rss.xml", rss_feed(site.base, [("Un", "a/un-article-de-test.html", datetime.now(UTC))]))
    site.add(
        "/", "<html><head><link rel='alternate' type='application/rss+xml' href='/rss.xml'></head></html>"
    )
    site.add(
        "/actualites",
        "<html><body><main><a href='/actualites/une-annonce-du-bureau'>Annonce</a></main></body></html>",
    )
    sources = write_sources(
        tmp_path / "s.toml",
        [
            {"name": "Bon flux", "kind": "feed", "url": f"{site.base}/rss.xml", "owner": "media"},
            {"name": "Flux mort", "kind": "feed", "url": f"{site.base}/ancien.xml", "owner": "media"},
            {"name": "Parti", "kind": "listing", "url": f"{site.base}/actualites", "owner": "party"},
        ],
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["sources", "check", "--sources", str(sources)])
    assert code == 1  # one source failed
    lines = {line.split("  ")[0]: line for line in out.getvalue().splitlines()}
    assert out.getvalue().splitlines()[0].split() == [
        "name",
        "kind",
        "status",
        "http",
        "ms",
        "entries",
        "bytes",
        "fallback",
        "error",
    ]
    assert " ok " in lines["Bon flux"] and " 200 " in lines["Bon flux"]
    assert "HTTP 404" in lines["Flux mort"] and f"try: {site.base}/rss.xml" in lines["Flux mort"]
    assert lines["Parti"].split()[2:6][0] == "ok"
    assert "3 sources probed, 2 ok, 1 failed" in out.getvalue()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["sources", "check", "Bon flux", "--sources", str(sources)]) == 0
    assert main(["sources", "check", "Inconnu", "--sources", str(sources)]) == 2


def test_default_sources_cover_press_and_parties() -> None:
    specs = load_sources()
    media = [s for s in specs if s.owner == "media"]
    parties = {s.name: s for s in specs if s.owner == "party"}
    assert len(media) >= 20
    names = " ".join(s.name for s in media)
    for title in (
        "Le Monde",
        "Le Figaro",
        "Libération",
        "franceinfo",
        "Les Echos",
        "L'Humanité",
        "Mediapart",
        "20 Minutes",
        "Le Parisien",
        "La Tribune",
        "Ouest-France",
    ):
        assert title in names, title
    assert set(parties) == {
        "La France insoumise",
        "Parti socialiste",
        "Parti communiste français",
        "Les Écologistes",
        "Renaissance",
        "MoDem",
        "Horizons",
        "Les Républicains",
        "Rassemblement national",
        "Union des droites pour la République",
        "Reconquête",
    }
    assert all(p.family for p in parties.values())
    # the kind that works: WordPress feeds where the site runs WordPress, listings otherwise
    assert {p.kind for p in parties.values()} == {"feed", "listing"}


def _origins(text: str) -> dict[str, str]:
    """Each source's name -> the comment block just above its [[source]] header."""
    origins: dict[str, str] = {}
    comment: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#"):
            comment.append(line.lstrip("# "))
        elif line.strip() == "[[source]]":
            name = lines[i + 1].split("=", 1)[1].strip().strip('"')
            origins[name] = " ".join(comment)
            comment = []
        else:  # a key or a blank line: the block above the next header starts afresh
            comment = []
    return origins


def test_default_sources_state_their_origin_and_fix_the_doubtful_ones() -> None:
    """Issue 21: at least 45 sources, each with where its URL comes from and when it was last
    seen answering; the doubtful URLs replaced by the ones dated checks saw answer."""
    from monitors.collect.sources import DEFAULT_SOURCES

    specs = {s.name: s for s in load_sources()}
    assert len(specs) >= 45
    origins = _origins(DEFAULT_SOURCES.read_text(encoding="utf-8"))
    assert set(origins) == set(specs)
    for name, comment in origins.items():
        assert "origin:" in comment, name
        assert "last seen answering" in comment or "unverified" in comment, name
    assert specs["La Croix"].url == "https://www.la-croix.com/feeds/rss/site.xml"
    assert specs["L'Express"].url == "https://www.lexpress.fr/rss/alaune.xml"
    assert specs["Le Point"].url == "https://www.lepoint.fr/arc/outboundfeeds/rss/?outputType=xml"
    assert specs["Le Point"].fallback == "https://www.lepoint.fr/sitemap-news.xml"
    assert specs["Les Echos - Tech et médias"].fallback == "https://www.lesechos.fr/sitemap_news.xml"
    assert specs["L'Obs"].url == "https://www.nouvelobs.com/rss.xml"
    assert specs["Libération"].url == "https://www.liberation.fr/arc/outboundfeeds/rss/?outputType=xml"
    assert specs["Reconquête"].url == "https://www.parti-reconquete.fr/communiques"
    assert specs["Parti socialiste"].url.endswith("/feed/")  # the site runs WordPress now
    assert specs["Les Écologistes"].url.startswith("https://lesecologistes.fr/")  # no www
    names = " ".join(specs)
    for outlet in (
        "BFMTV",
        "CNews",
        "Le JDD",
        "L'Opinion",
        "Europe 1",
        "TF1 Info",
        "Courrier international",
        "France Inter",
        "Sud Ouest",
        "La Dépêche",
    ):
        assert outlet in names, outlet
    assert all(s.fallback_kind in {"sitemap", "listing"} for s in specs.values() if s.fallback)


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        (
            "Rassemblement national",
            "https://rassemblementnational.fr/communiques/le-sommet-sur-l-ia",
            "https://rassemblementnational.fr/communiques/page/2",
        ),
        (
            "MoDem",
            "https://www.mouvementdemocrate.fr/actualites/sommet-ia-une-ambition-europeenne",
            "https://www.mouvementdemocrate.fr/actualites",
        ),
        (
            "Les Républicains",
            "https://republicains.fr/actualites/2025/02/10/intelligence-artificielle/",
            "https://republicains.fr/actualites/page/2/",
        ),
        (
            "Les Écologistes",
            "https://lesecologistes.fr/posts/4321/sommet-ia-ecologie",
            "https://lesecologistes.fr/agenda",
        ),
    ],
)
def test_confirmed_listings_have_link_patterns(name: str, good: str, bad: str) -> None:
    pattern = {s.name: s for s in load_sources()}[name].link_pattern
    assert pattern is not None
    assert re.search(pattern, good) and not re.search(pattern, bad)


def test_check_all_writes_its_report_in_the_current_directory_and_names_alone_write_none(
    site: LocalSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/sources.md, as written: `veille sources check --all` writes its two files in the
    current directory (`--report-dir DIR` for another), the JSON with veille's version and the
    sources file; a check by name writes no report "unless you add `--report-dir`", which
    `--help` says "implies a report". Only the --report-dir form was tested."""
    import json

    site.add("/rss.xml", rss_feed(site.base, [("Un", "a/un-article-de-test.html", datetime.now(UTC))]))
    sources = write_sources(
        tmp_path / "s.toml",
        [
            {"name": "Le Point", "kind": "feed", "url": f"{site.base}/rss.xml", "owner": "media"},
            {"name": "Renaissance", "kind": "feed", "url": f"{site.base}/rss.xml", "owner": "party"},
        ],
    )
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)

    def check(*argv: str) -> int:
        with contextlib.redirect_stdout(io.StringIO()):
            return main(["sources", "check", *argv, "--sources", str(sources)])

    assert check("Le Point", "Renaissance") == 0
    assert list(here.iterdir()) == []
    assert check("--all") == 0
    (json_path,) = here.glob("veille-sources-check-*.json")
    assert sorted(p.name for p in here.iterdir()) == [json_path.name, json_path.stem + ".txt"]
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert report["veille_version"] and report["sources_file"] == str(sources)
    assert [s["name"] for s in report["sources"]] == ["Le Point", "Renaissance"]
    assert check("Le Point", "--report-dir", "reports") == 0
    (named,) = (here / "reports").glob("veille-sources-check-*.json")
    assert [s["name"] for s in json.loads(named.read_text(encoding="utf-8"))["sources"]] == ["Le Point"]


def test_check_of_an_unresolvable_host_says_what_a_check_does(tmp_path: Path) -> None:
    """A robots.txt the check could not fetch read "(… unreachable; will retry)": a check
    stores nothing and asks nothing again; it says so, and what a run would do."""
    sources = write_sources(
        tmp_path / "s.toml",
        [
            {
                "name": "Perdu",
                "kind": "feed",
                "url": "http://nonexistent-host.invalid/feed.xml",
                "owner": "media",
            }
        ],
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["sources", "check", "Perdu", "--sources", str(sources)])
    assert code == 1
    line = next(ln for ln in out.getvalue().splitlines() if ln.startswith("Perdu"))
    assert "host nonexistent-host.invalid does not resolve" in line, line
    assert line.endswith(
        "(robots.txt of http://nonexistent-host.invalid unreachable; a check stores nothing; a run would try again)"
    ), line
    assert "will retry" not in out.getvalue()


def test_a_check_that_reaches_no_host_says_the_network_may_be_down(site: LocalSite, tmp_path: Path) -> None:
    """Every source's host unresolvable (the machine offline): the check's last line ends with
    the likely cause, as `veille run`'s verdict does ("none of the 2 hosts resolved: is the
    network up?"); it said "2 sources probed, 0 ok, 2 failed" alone, 49 times "does not resolve"
    above it on the default list. One host that answered: no such guess. Hosts use the reserved
    ``.invalid`` domain: no real network."""
    dead = [
        {"name": f"Mort {n}", "kind": "feed", "url": f"https://journal{n}.invalid/rss.xml", "owner": "media"}
        for n in range(2)
    ]
    sources = write_sources(tmp_path / "s.toml", dead)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sources", "check", "--sources", str(sources)]) == 1
    assert out.getvalue().endswith(
        "\n2 sources probed, 0 ok, 2 failed (0 blocked, 0 answered at their fallback);"
        " none of the 2 hosts resolved: is the network up?\n"
    ), out.getvalue()

    site.add("/rss.xml", rss_feed(site.base, [("Un", "a/un-article-de-test.html", datetime.now(UTC))]))
    alive = {"name": "Vivant", "kind": "feed", "url": f"{site.base}/rss.xml", "owner": "media"}
    sources = write_sources(tmp_path / "t.toml", [*dead, alive])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sources", "check", "--sources", str(sources)]) == 1
    assert out.getvalue().endswith(
        "3 sources probed, 1 ok, 2 failed (0 blocked, 0 answered at their fallback)\n"
    )
