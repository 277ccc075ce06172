# ruff: noqa: E501
"""`veille sources check` probes each source once and reports; the default sources file
covers the national press and every party the issue names, each with its family."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from pathlib import Path

from flows.cli import main
from monitors.sources import load_sources
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
    assert {p.kind for p in parties.values()} >= {"sitemap", "listing"}
