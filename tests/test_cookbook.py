"""The SQL cookbook, read from docs/cookbook.md and run against the fixture archive.

Each question has a check of what its answer must be, derived from what the fixture archive
(tests/archive.py) holds; a question added to the cookbook without a check fails the suite.
The same queries also run in psql on the embedded database right after a `veille run`, the
way a new user reaches them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.archive import EXTRAS
from tests.site import LocalSite, seed_site, write_sources

COOKBOOK = Path(__file__).resolve().parent.parent / "docs" / "cookbook.md"


def cookbook() -> dict[str, str]:
    """Question (a ``## ...?`` heading) -> SQL of the block under it, from docs/cookbook.md."""
    text = COOKBOOK.read_text(encoding="utf-8")
    found = re.findall(r"^## (.+?\?)\n+```sql\n(.+?)```", text, flags=re.M | re.S)
    return {question.strip(): sql.strip() for question, sql in found}


Rows = list[dict]


def check_parties_week_before(rows: Rows, conn: sa.Connection) -> None:
    assert [(r["source"], r["day"]) for r in rows] == [
        ("La France insoumise", date(2025, 2, 5)),
        ("Rassemblement national", date(2025, 2, 9)),
    ]  # the PCF spoke on the 10th, the PS on the 11th; LR's note of the 6th is about milk


def check_afp_dispatch(rows: Rows, conn: sa.Connection) -> None:
    by_title = {r["dispatch_title"]: r for r in rows}
    dispatch = by_title[EXTRAS["afp"].title]
    assert dispatch["outlets"] == 4
    assert dispatch["ran_it"] == "20 Minutes, La Tribune, Le Parisien, Ouest-France"
    # franceinfo's own piece "avec AFP" the same day is a story of its own
    others = [r for r in rows if r is not dispatch]
    assert [r["ran_it"] for r in others] == ["franceinfo"]


def check_by_family(rows: Rows, conn: sa.Connection) -> None:
    assert [(r["day"].day, r["family"], r["articles"]) for r in rows] == [
        (5, "gauche radicale", 1),
        (9, "extrême droite", 1),
        (10, "gauche radicale", 1),
        (11, "gauche", 1),
        (12, "centre", 1),
    ]


def check_by_owner(rows: Rows, conn: sa.Connection) -> None:
    table = {(r["day"].day, r["owner"]): (r["articles"], r["sources"]) for r in rows}
    # 8 Feb: the AFP dispatch (3 verbatim outlets), its edited copy, franceinfo's piece
    assert table[(8, "media")] == (3, 5)
    assert table[(7, "media")] == (1, 1)
    assert {k: v for k, v in table.items() if k[1] == "party"} == {
        (5, "party"): (1, 1),
        (9, "party"): (1, 1),
        (10, "party"): (1, 1),
        (11, "party"): (1, 1),
        (12, "party"): (1, 1),
    }


def check_by_source(rows: Rows, conn: sa.Connection) -> None:
    got = {r["source"]: int(r["relevant_articles"]) for r in rows}
    expected: dict[str, int] = dict(
        conn.execute(
            sa.text(
                "SELECT s.name, count(DISTINCT si.article_id) FROM sightings si"
                " JOIN articles a ON a.id = si.article_id JOIN sources s ON s.id = si.source_id"
                " WHERE a.relevant GROUP BY s.name"
            )
        ).all()
    )
    assert got == expected
    assert got["Le Parisien"] == 1 and "Les Républicains" not in got and "Horizons" not in got


def _containing(conn: sa.Connection, needle: str, where: str = "TRUE") -> set[str]:
    rows = conn.execute(
        sa.text(f"SELECT source, title, description, text FROM articles_with_source WHERE {where}")
    ).all()
    return {r.source for r in rows if any(needle in (f or "") for f in (r.title, r.description, r.text))}


def check_data_centres(rows: Rows, conn: sa.Connection) -> None:
    assert {r["source"] for r in rows} == _containing(conn, "centres de données")
    sources = {r["source"] for r in rows}
    assert {"La France insoumise", "Rassemblement national", "La Tribune"} <= sources
    # the verbatim AFP dispatch is one article, filed under whichever outlet was fetched first
    assert len(sources & {"Le Parisien", "20 Minutes", "Ouest-France"}) == 1
    ranks = [r["rank"] for r in rows]
    assert ranks == sorted(ranks, reverse=True) and all(rank > 0 for rank in ranks)
    for r in rows:
        assert "**centres** de **données**" in r["snippet"], r


def check_macron(rows: Rows, conn: sa.Connection) -> None:
    assert {r["source"] for r in rows} == _containing(conn, "Macron", "owner = 'party' AND relevant")
    assert {"La France insoumise", "Rassemblement national", "Renaissance"} <= {r["source"] for r in rows}
    assert [r["day"] for r in rows] == sorted(r["day"] for r in rows)
    assert all("**Macron**" in r["snippet"] for r in rows)


def check_topic_search(rows: Rows, conn: sa.Connection) -> None:
    relevant = "id IN (SELECT article_id FROM article_topics WHERE topic = 'ai_summit' AND relevant)"
    assert {r["source"] for r in rows} == _containing(conn, "Grand Palais", relevant)
    assert len(rows) >= 3
    assert all("**Grand** **Palais**" in r["snippet"] for r in rows)


def check_query_size(rows: Rows, conn: sa.Connection) -> None:
    assert rows == [
        {"query": "'sommet' & 'ia' & 'sommet' & !'lait'", "items": 8}
    ]  # repeats kept: 4 words, 3 &, 1 !


def check_terms(rows: Rows, conn: sa.Connection) -> None:
    terms: Counter[str] = Counter()
    for (names,) in conn.execute(
        sa.text(
            "SELECT a.relevance_terms FROM articles a JOIN sources s ON s.id = a.source_id"
            " WHERE s.owner = 'party' AND a.relevant"
        )
    ):
        terms.update(names or [])
    assert {r["term"]: r["articles"] for r in rows} == dict(terms)
    assert len(rows) >= 3


def check_health(rows: Rows, conn: sa.Connection) -> None:
    assert [(r["name"], r["health"], r["consecutive_failures"]) for r in rows] == [
        ("Horizons", "erroring", 1)
    ]
    assert rows[0]["last_error"].startswith("HTTP 404")


def check_failed_pages(rows: Rows, conn: sa.Connection) -> None:
    assert [(r["source"], r["url"].rsplit("/", 2)[-2:], r["state"]) for r in rows] == [
        ("Le Parisien", ["leparisien", "supprime.html"], "failed")
    ]
    assert rows[0]["reason"].startswith("HTTP 404") and rows[0]["attempts"] == 1


FAMILY_PER_DAY = "How many relevant articles did each political family publish per day around the summit?"
CHECKS: dict[str, Callable[[Rows, sa.Connection], None]] = {
    "Which parties talked about the summit the week before it?": check_parties_week_before,
    "Who ran the AFP dispatch of 8 February?": check_afp_dispatch,
    FAMILY_PER_DAY: check_by_family,
    "Media or parties: who covered the summit, day by day?": check_by_owner,
    "Which outlets ran the most relevant articles, copies included?": check_by_source,
    "What was said about data centres?": check_data_centres,
    "How did the parties talk about Macron in their communiqués on the summit?": check_macron,
    "Which articles relevant to the summit topic mention the Grand Palais?": check_topic_search,
    "How big is the query a search runs?": check_query_size,
    "Which terms made party communiqués relevant?": check_terms,
    "Which sources need attention?": check_health,
    "Which pages could not be fetched, and why?": check_failed_pages,
}


def test_every_cookbook_query_has_a_check() -> None:
    queries = cookbook()
    assert len(queries) >= 8
    assert set(queries) == set(CHECKS)


@pytest.mark.parametrize("question", sorted(CHECKS))
def test_cookbook_query(question: str, archive_url: str) -> None:
    sql = cookbook()[question]
    engine = sa.create_engine(archive_url)
    try:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.text(sql)).mappings()]
            assert rows, question
            CHECKS[question](rows, conn)
    finally:
        engine.dispose()


def test_afp_dispatch_counts_an_outlet_once_whatever_its_urls(archive_url: str) -> None:
    """An outlet that ran the dispatch under a second URL (another section of its site, an
    updated copy) has two rows in wire_copies: the recipe counted it twice ("5 outlets",
    "Le Parisien, Le Parisien, ...")."""
    engine = sa.create_engine(archive_url)
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            conn.execute(
                sa.text(
                    "INSERT INTO sightings (article_id, source_id, url)"
                    " SELECT si.article_id, si.source_id, si.url || '?section=economie' FROM sightings si"
                    " JOIN sources s ON s.id = si.source_id JOIN articles a ON a.id = si.article_id"
                    " WHERE s.name = 'Le Parisien' AND a.title = :t"
                ),
                {"t": EXTRAS["afp"].title},
            )
            sql = cookbook()["Who ran the AFP dispatch of 8 February?"]
            check_afp_dispatch([dict(r) for r in conn.execute(sa.text(sql)).mappings()], conn)
            transaction.rollback()
    finally:
        engine.dispose()


def _shell(
    command: str, env: dict[str, str], stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["sh", "-c", command], env=env, input=stdin, capture_output=True, text=True, timeout=600, cwd=cwd
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def readme_next_steps() -> list[str]:
    """The README's next steps after the first run (its block after "Then, with `.venv/bin` on
    your `PATH`"), one command a line, comments out: the test below runs each as written."""
    readme = (COOKBOOK.parent.parent / "README.md").read_text(encoding="utf-8")
    steps = (
        readme.split("Then, with `.venv/bin` on your `PATH`", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    )
    return [command for line in steps.splitlines() if (command := line.split("  #", 1)[0].strip())]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("psql") is None, reason="the psql client is not installed")
def test_cookbook_in_psql_on_the_embedded_database_after_the_quickstart(
    prefect_harness: None, tmp_path: Path
) -> None:
    """The new user's path: `veille run` on the embedded database (local sources instead of
    the network), the README's next steps as written, then `veille db start`, every cookbook
    query in `psql "$(veille db-url --plain)"` as documented, `veille psql`, `veille db stop`."""
    from prefect.settings import PREFECT_API_URL

    # Not under tmp_path: every pytest session run as root makes /tmp/pytest-of-root private
    # again, and the embedded server then runs as its own user (pgserver's rule for root).
    data_dir = Path(tempfile.mkdtemp(prefix="veille-psql-")) / "data"
    env = {k: v for k, v in os.environ.items() if k != "VEILLE_DATABASE_URL"}
    env.update(
        VEILLE_DATA_DIR=str(data_dir),
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    assert shutil.which("veille", path=env["PATH"]), "the veille command is not installed next to python"
    with LocalSite() as site:
        seed_site(site)
        sources = write_sources(
            tmp_path / "sources.toml",
            [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
        )
        _shell(f"veille run --sources {sources}", env)
    # the README's next steps, line by line, as written
    ran = [_shell(command, env, cwd=tmp_path).stdout for command in readme_next_steps()]
    assert len(ran) >= 5 and (tmp_path / "relevant.csv").is_file()
    try:
        assert "stays up until `veille db stop`" in _shell("veille db start", env).stdout
        assert "state: running" in _shell("veille db status", env).stdout
        # every question in one psql session, stopping at the first error
        script = "".join(f"\\echo {question}\n{sql};\n" for question, sql in cookbook().items())
        done = _shell('psql "$(veille db-url --plain)" -X -v ON_ERROR_STOP=1 -f -', env, stdin=script)
        assert all(question in done.stdout for question in cookbook()), done.stdout
        count = _shell('veille psql -X -tA -c "SELECT count(*) FROM articles"', env).stdout.split()
        assert count == ["5"]
        # accent-free search on the embedded server, which has no unaccent extension
        hits = [json.loads(line) for line in _shell("veille search elysee --json", env).stdout.splitlines()]
        assert hits and all("\n" not in h["snippet"] for h in hits)
        texts = _shell(
            'veille psql -X -tA -c "SELECT count(*) FROM articles'
            " WHERE concat_ws(' ', title, description, text) ~ '[EeÉé]lys[ée]e'\"",
            env,
        ).stdout.split()
        assert len(hits) == int(texts[0]) > 0
    finally:
        stopped = _shell("veille db stop", env).stdout
    assert "embedded PostgreSQL stopped" in stopped
    assert "state: stopped" in _shell("veille db status", env).stdout
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    shutil.rmtree(data_dir.parent, ignore_errors=True)
