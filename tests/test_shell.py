"""The shell side: `veille search`, `export` (jsonl, csv, parquet), `stats`, `feed`, and --help."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
import sqlalchemy as sa

from flows.cli import COMMAND_MODULES, main
from monitors.archive import export
from tests.archive import EXTRAS, extra_page
from tests.site import LocalSite, rss_feed, write_sources


@pytest.fixture
def archive(archive_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """The fixture archive as the database the commands use."""
    monkeypatch.setenv("VEILLE_DATABASE_URL", archive_url)
    engine = sa.create_engine(archive_url)
    yield engine
    engine.dispose()


def run(*argv: str) -> tuple[int, str, str]:
    # Not capsys: Prefect's log handler would keep a stream that capsys closes after the test.
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def scalar(engine: sa.Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_every_command_help_shows_an_example(module: str) -> None:
    out = io.StringIO()
    aliases = {"run": "run", "export": "export", "db": "migrate", "train": "train-topic"}
    command = aliases.get(module.rsplit(".", 1)[1])
    command = command or module.rsplit(".", 1)[1]
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    example = re.split(r"examples?:", out.getvalue(), maxsplit=1)[1]
    assert "veille " in example


def test_search_ranks_and_highlights(archive: sa.Engine) -> None:
    code, out, _ = run("search", '"centres de données"', "--json")
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    expected = scalar(archive, "SELECT count(*) FROM articles WHERE text ILIKE '%centres de données%'")
    assert len(hits) == expected and len(hits) >= 4
    assert [h["rank"] for h in hits] == sorted((h["rank"] for h in hits), reverse=True)
    assert all("**centres** de **données**" in h["snippet"] for h in hits)

    # web-search syntax: -word excludes
    code, out, _ = run("search", '"centres de données" -Lyon', "--json")
    excluded = [json.loads(line) for line in out.splitlines()]
    with archive.connect() as conn:
        texts: dict[int, str] = dict(
            conn.execute(sa.text("SELECT id, title || ' ' || text FROM articles")).all()
        )
    assert len(excluded) == len(hits) - 1  # La Tribune's edited copy adds a paragraph on Lyon
    assert all("Lyon" not in texts[h["id"]] for h in excluded)
    # ranked on the words kept: PostgreSQL's ts_rank of a query with a NOT is 1e-20 for every
    # match, which put the hits of any -word query in publication order (migration 0033)
    ranks = {h["id"]: h["rank"] for h in hits}
    assert [h["rank"] for h in excluded] == pytest.approx([ranks[h["id"]] for h in excluded])
    assert all(h["rank"] > 0.01 for h in excluded), excluded

    # words given as several arguments are one query, as the help's example (`veille search
    # sommet IA` was "unrecognized arguments: IA"); a -word given apart goes after --
    _, apart, _ = run("search", "centres", "de", "données", "--json")
    _, whole, _ = run("search", "centres de données", "--json")
    assert apart == whole and apart
    code, out, err = run("search", "--json", "--", '"centres de données"', "-Lyon")
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == [h["id"] for h in excluded]

    # the human form: title, source, snippet, link
    code, out, _ = run("search", "souveraineté numérique", "--limit", "1")
    assert code == 0
    assert (
        "Rassemblement national" in out and "souveraineté" in out and "/rn/communique-sommet-ia.html" in out
    )
    assert "**" not in out  # matches are styled, not starred
    code, out, _ = run("search", "cryptomonnaie")  # in no article
    assert code == 0 and "no article matches" in out
    # only words the index leaves out: said so, not "no article matches" (no word at all:
    # test_cli_input_faults)
    code, out, err = run("search", "le de la")
    assert code == 2 and "French stop words" in err and "no article matches" not in out
    # a word longer than PostgreSQL indexes (2047 characters) is its own cause, not a stop
    # word, and the error line shows the query shortened, not 3,000 characters of it
    code, out, err = run("search", "x" * 3000)
    assert code == 2 and out == "" and "French stop words" not in err, err
    assert "a word of more than 2047 characters" in err and len(err) < 600, err
    code, out, err = run("search", "x" * 2047)
    assert code == 0 and "no article matches" in out, err


def test_export_jsonl_with_filters(archive: sa.Engine) -> None:
    code, out, err = run("export", "--owner", "party", "--relevant", "--since", "2025-02-09")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["source"] for r in records} == {
        "Rassemblement national",
        "Parti communiste français",
        "Parti socialiste",
        "Renaissance",
    }
    assert all(r["owner"] == "party" and r["relevant"] for r in records)
    assert "exported 4 articles" in err
    code, out, _ = run("export", "--source", "Le Monde", "--no-progress")
    assert [json.loads(line)["source"] for line in out.splitlines()] == ["Le Monde"]


def test_export_of_a_source_holds_the_copies_it_ran(archive: sa.Engine) -> None:
    """`--source NAME` exports what NAME carried, as its `sightings` and the cookbook's views
    ("copies included") count it: the AFP dispatch that 20 Minutes, Le Parisien and Ouest-France
    ran word for word is one article, stored under whichever came first; each of the others
    gets it too (before, their export was empty, exit 0), once, its `source` still the first."""
    carriers: dict[str, int] = {}
    for name in ("20 Minutes", "Le Parisien", "Ouest-France"):
        code, out, err = run("export", "--source", name, "--no-progress")
        assert code == 0, err
        records = [json.loads(line) for line in out.splitlines()]
        carried = scalar(
            archive,
            "SELECT count(DISTINCT si.article_id) FROM sightings si JOIN sources s ON s.id = si.source_id"
            f" WHERE s.name = '{name}'",
        )
        assert len(records) == carried == 1, (name, records)
        assert name in [s["source"] for s in records[0]["sightings"]]
        assert f"exported {carried} article" in err
        carriers[name] = records[0]["id"]
    assert len(set(carriers.values())) == 1, carriers  # one article, the dispatch
    first = scalar(
        archive,
        "SELECT s.name FROM articles a JOIN sources s ON s.id = a.source_id"
        f" WHERE a.id = {carriers['Le Parisien']}",
    )
    assert first in carriers


def test_export_to_dash_is_stdout(
    archive: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-o -` writes to stdout, as a missing --output does (it wrote a file named "-"); Parquet
    still needs a file (exit 2, nothing written)."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run("export", "-o", "-", "--no-progress")
    assert code == 0, err
    assert len(out.splitlines()) == scalar(archive, "SELECT count(*) FROM articles")
    assert json.loads(out.splitlines()[0])["id"]
    code, out, err = run("export", "--format", "csv", "--output", "-", "--no-progress")
    assert code == 0, err
    assert out.startswith("id,") and len(list(csv.DictReader(io.StringIO(out)))) == scalar(
        archive, "SELECT count(*) FROM articles"
    )
    code, out, err = run("export", "--format", "parquet", "-o", "-")
    assert (code, out) == (2, "")
    assert (
        err
        == "veille: error: --format parquet needs --output FILE (not -: Parquet is not written to stdout)\n"
    )
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_export_csv_with_progress(archive: sa.Engine, tmp_path: Path) -> None:
    target = tmp_path / "articles.csv"
    code, _, err = run("export", "--format", "csv", "--output", str(target))
    assert code == 0
    total = scalar(archive, "SELECT count(*) FROM articles")
    # the progress bar (rich, stderr) ends at total/total
    assert "exporting csv" in err and f"{total}/{total}" in err
    with target.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == total
    assert {"id", "title", "source", "owner", "family", "published_at", "relevant", "text"} <= set(rows[0])
    dispatch = [r for r in rows if r["wire"] == "AFP" and json.loads(r["sightings"]).__len__() == 3]
    assert len(dispatch) == 1  # the verbatim AFP dispatch, with its three outlets
    multiline = [r for r in rows if "\n" in r["text"]]
    assert multiline  # texts with line breaks survive the round trip
    lfi = next(r for r in rows if r["source"] == "La France insoumise")
    assert "; " in lfi["relevance_terms"]


def test_export_parquet(archive: sa.Engine, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    target = tmp_path / "relevant.parquet"
    code, _, err = run("export", "--format", "parquet", "--relevant", "--output", str(target))
    assert code == 0, err
    table = pq.read_table(target)
    assert table.num_rows == scalar(archive, "SELECT count(*) FROM articles WHERE relevant")
    assert str(table.schema.field("published_at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("relevance_terms").type).startswith("list<")
    rows = table.to_pylist()
    assert all(r["relevant"] for r in rows)
    assert min(r["published_at"] for r in rows) == datetime(2024, 5, 21, 17, 12, tzinfo=UTC)
    assert all(json.loads(r["extraction_evidence"])["title_from"] for r in rows)
    assert {"paywalled", "truncated", "access_reasons", "modified_at"} <= set(rows[0])
    # the columns docs/operating.md lists, in its order (the CSV header's): cluster_sightings
    # was missing, and sightings came before modified_at
    assert tuple(table.column_names) == export.COLUMNS
    dispatch = next(r for r in rows if r["wire"] == "AFP" and len(json.loads(r["sightings"])) == 3)
    edited = {s["source"] for s in json.loads(dispatch["cluster_sightings"])} - {
        s["source"] for s in json.loads(dispatch["sightings"])
    }
    assert edited == {"La Tribune"}  # its near-copy's outlet, as in the JSON lines
    code, _, err = run("export", "--format", "parquet")
    assert code == 2 and "needs --output" in err


def test_stats(archive: sa.Engine) -> None:
    code, out, _ = run("stats", "--json")
    assert code == 0
    # the text as stored, as search, stories and export --json write it (it was "extr\\u00eame")
    assert "extrême droite" in out and "\\u00ea" not in out
    data = json.loads(out)
    totals = data["totals"][0]
    assert totals["articles"] == scalar(archive, "SELECT count(*) FROM articles")
    assert totals["relevant"] == scalar(archive, "SELECT count(*) FROM articles WHERE relevant")
    assert totals["wire_stories"] == 2 and totals["first_relevant_day"] == "2024-05-21"
    by_owner = {r["owner"]: r for r in data["by_owner"]}
    assert by_owner["party"]["articles"] == 6 and by_owner["party"]["relevant"] == 5
    assert {r["state"]: r["urls"] for r in data["queue"]}["failed"] == 1
    assert {r["health"]: r["sources"] for r in data["health"]}["erroring"] == 1
    code, out, _ = run("stats")
    assert code == 0
    for title in ("Archive", "By owner", "By political family", "URL queue", "Source health"):
        assert title in out
    assert "extrême droite" in out


def test_stats_by_owner_and_family_count_what_each_source_carried(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """An AFP dispatch run word for word by a media outlet and two parties (one article, stored
    under the first to carry it) counts under each owner and family that carried it, as
    daily_relevant_by_owner / _by_family and `veille export --owner` count it (before, under the
    first carrier's owner and family alone: the parties' rows were missing)."""
    afp = EXTRAS["afp"]
    carriers = [
        ("Le Parisien", "media", None),
        ("Parti du centre", "party", "centre"),
        ("Parti de gauche", "party", "gauche"),
    ]
    sources = []
    for i, (name, owner, family) in enumerate(carriers):
        slug = f"carrier{i}/sommet-ia-programme.html"
        site.add(slug, extra_page(afp, name))
        feed = f"/feeds/carrier{i}.xml"
        site.add(feed, rss_feed(site.base, [(afp.title, slug, afp.published)], title=name))
        entry = {"name": name, "kind": "feed", "url": f"{site.base}{feed}", "owner": owner}
        if family:
            entry["family"] = family
        sources.append(entry)
    assert main(["run", "--sources", str(write_sources(tmp_path / "s.toml", sources))]) == 0
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM sightings")) == 3
        views: dict[str, dict[object, object]] = {
            key: dict(
                conn.execute(
                    sa.text(f"SELECT {key}, sum(articles) FROM daily_relevant_by_{key} GROUP BY 1")
                ).all()
            )
            for key in ("owner", "family")
        }
    assert views == {"owner": {"media": 1, "party": 1}, "family": {"centre": 1, "gauche": 1}}
    code, out, err = run("stats", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {r["owner"]: (r["articles"], r["relevant"]) for r in data["by_owner"]} == {
        "media": (1, 1),
        "party": (1, 1),
    }
    assert {r["family"]: (r["articles"], r["relevant"]) for r in data["by_family"]} == {
        "centre": (1, 1),
        "gauche": (1, 1),
    }
    for owner in ("media", "party"):
        code, out, err = run("export", "--owner", owner, "--no-progress")
        assert code == 0 and len(out.splitlines()) == 1, err
    # one topic's tables, as daily_topic_relevant_by_owner counts them
    topics = scalar(clean_db, "SELECT array_agg(DISTINCT topic) FROM article_topics WHERE relevant")
    assert topics
    for topic in topics:  # type: ignore[attr-defined]
        code, out, err = run("stats", "--topic", topic, "--json")
        assert code == 0, err
        assert [(r["owner"], r["articles"]) for r in json.loads(out)["by_owner"]] == [
            ("media", 1),
            ("party", 1),
        ]
    code, out, _ = run("stats")
    assert "By owner (articles its sources carried, copies included)" in out


def _check_feed(body: bytes | str, engine: sa.Engine, limit: int) -> None:
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    with engine.connect() as conn:
        newest = conn.execute(
            sa.text(
                "SELECT url, title FROM articles WHERE relevant"
                " ORDER BY veille_instant(published_at) DESC NULLS LAST, fetched_at DESC, id DESC"
                " LIMIT :n"
            ),
            {"n": limit},
        ).all()
    assert [(e.link, e.title) for e in parsed.entries] == [tuple(r) for r in newest]
    first = parsed.entries[0]
    assert first.published_parsed[:3] == (2025, 2, 12) and first.author == "Renaissance"
    assert {t.term for t in first.tags} == {"Renaissance", "party", "centre"}
    assert first.summary


def test_feed_to_a_file(archive: sa.Engine, tmp_path: Path) -> None:
    target = tmp_path / "relevant.atom"
    code, _, _ = run("feed", "--output", str(target), "--limit", "5")
    assert code == 0
    _check_feed(target.read_bytes(), archive, 5)


def test_feed_and_score_to_dash_are_stdout(
    archive: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`feed -o -` and `score -o -` write to stdout, as `export -o -` and a missing --output do
    (they wrote a file named "-")."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run("feed", "-o", "-", "--limit", "5")
    assert code == 0, err
    _check_feed(out, archive, 5)
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        json.dumps({"id": "a", "title": "Sommet IA", "text": "Le sommet pour l'action sur l'IA s'ouvre."})
        + "\n",
        encoding="utf-8",
    )
    code, out, err = run("score", str(lines), "--output", "-")
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a"]
    assert err.startswith("scored 1 line, 0 errors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no file named "-"


def test_feed_served_over_http(archive: sa.Engine) -> None:
    from flows.commands.feed import make_server

    server = make_server("127.0.0.1", 0, 50, "veille test")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with urllib.request.urlopen(f"{base}/feed.atom", timeout=10) as response:
            assert response.status == 200
            assert response.headers["content-type"].startswith("application/atom+xml")
            content = response.read()
        _check_feed(content, archive, 50)
        assert feedparser.parse(content).feed.title == "veille test"
        head = urllib.request.Request(f"{base}/feed.atom", method="HEAD")
        with urllib.request.urlopen(head, timeout=10) as response:  # http.server's 501 before
            assert response.status == 200 and response.read() == b""
            assert response.headers["content-type"].startswith("application/atom+xml")
            assert int(response.headers["content-length"]) > 0
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/other", timeout=10)
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_feed_served_on_an_ipv6_address(archive: sa.Engine) -> None:
    """`--host ::1` (or `::`): the IPv4 server refused it, "Address family for hostname not
    supported"; it serves there now, and says where with the address in brackets."""
    from flows.commands.feed import feed_url, make_server

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    for host in ("::1", "::"):
        server = make_server(host, 0, 50, "veille test")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = feed_url("::1", server.server_port)
            assert url == f"http://[::1]:{server.server_port}/feed.atom"
            with urllib.request.urlopen(url, timeout=10) as response:
                _check_feed(response.read(), archive, 50)
        finally:
            server.shutdown()
            server.server_close()
    assert feed_url("127.0.0.1", 8080) == "http://127.0.0.1:8080/feed.atom"


def _start_feed_serve(archive_url: str, code: str, *options: str) -> tuple[subprocess.Popen[str], int]:
    """`veille feed --serve PORT [options]` on a free port, in a child process running
    ``code`` (which calls the CLI with its arguments) on the archive's database: the process
    and the port once it has said where it serves (killed if it says something else). The port
    is free when chosen, not held: another process may bind it before the child does, and the
    child then says so ("Address already in use"): started again on another port, five times
    at most."""
    env = {**os.environ, "VEILLE_DATABASE_URL": archive_url}
    for _ in range(5):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "feed", "--serve", str(port), *options],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = proc.stdout.readline() if proc.stdout else ""
        if line.startswith(f"serving the feed at http://127.0.0.1:{port}/feed.atom"):
            return proc, port
        proc.kill()
        _, err = proc.communicate(timeout=30)
        if line or "Address already in use" not in err:
            raise AssertionError(f"{line!r}, {err}")
    raise AssertionError(f"five ports taken before veille feed --serve bound them: {err}")


def test_feed_serve_as_the_help_shows(archive: sa.Engine, archive_url: str) -> None:
    """`veille feed --serve PORT --host ... --limit N --title T`, a real process as a user
    starts it: the address it prints answers with the feed, Ctrl-C stops it."""
    # Ctrl-C as at a terminal: a suite started in the background (`pytest &` in a script) runs
    # with SIGINT ignored, which its children inherit, and Python then never raises
    # KeyboardInterrupt (the `veille` script itself takes SIGINT back: flows/signals.py)
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from flows.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    options = ["--host", "127.0.0.1", "--limit", "3", "--title", "Mon fil"]
    proc, port = _start_feed_serve(archive_url, code, *options)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/feed.atom", timeout=10) as response:
                    content = response.read()
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        _check_feed(content, archive, 3)
        assert feedparser.parse(content).feed.title == "Mon fil"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode in (0, 130)


def test_feed_serve_stopped_by_a_signal_says_so_and_nothing_about_a_next_run(archive_url: str) -> None:
    """`veille feed --serve` stores nothing: stopped by SIGTERM it says it was terminated, not
    that "what was not stored is left for the next run" (the line of the commands that store
    as they go, tests/test_serve_signals.py)."""
    code = "import sys; from flows.cli import main; sys.exit(main())"  # as the veille script
    proc, _ = _start_feed_serve(archive_url, code)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "veille: terminated by SIGTERM", err


def test_a_second_signal_while_the_first_one_s_exit_runs_is_not_a_second_exit(archive_url: str) -> None:
    """Ctrl-C pressed again while veille leaves, or `timeout -s INT` (which signals the child,
    then its whole process group): the second signal ran the handler again inside the first's
    exit, "interrupted" was said twice and the exit handlers ran twice at once (on the embedded
    PostgreSQL, pgserver's cleanup then failed with a traceback, "RuntimeError: Unable to
    release an unaquired lock"). Now the first signal's exit runs once, its code kept. An exit
    handler that takes a second holds the exit open while the second signal comes."""
    code = (
        "import atexit, sys, time; atexit.register(time.sleep, 1.5); "
        "from flows.cli import main; sys.exit(main())"
    )
    proc, _ = _start_feed_serve(archive_url, code)
    proc.send_signal(signal.SIGTERM)
    assert proc.stderr is not None
    said = []
    for line in proc.stderr:  # the first signal's line: its exit is under way
        said.append(line)
        if line.startswith("veille: terminated by SIGTERM"):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = "".join(said) + err
    assert proc.returncode == 143, err
    assert err.count("veille: ") == 1 and "Traceback" not in err, err


def _jq_pipelines() -> list[tuple[str, str, str]]:
    """(where, veille command, jq filter) of every `veille ... | jq FILTER` the docs and the
    commands' help show, for the commands that read the archive."""
    from tests.test_docs import DOCS, ROOT, _help_texts

    texts = {p.relative_to(ROOT).as_posix(): p.read_text("utf-8") for p in DOCS}
    texts.update({f"{c} --help": t for c, t in _help_texts().items()})
    found = set()
    for where, text in texts.items():
        for command, jq in re.findall(
            r"(veille (?:search|export|stats|stories)\b[^|`\n]*)\| *jq ([^`#\n]*)", text
        ):
            found.add((where, command.strip(), jq.strip()))
    return sorted(found)


JQ_PIPELINES = _jq_pipelines()


def test_the_docs_pipe_commands_into_jq() -> None:
    assert {c.split()[1] for _, c, _ in JQ_PIPELINES} == {"search", "export", "stats", "stories"}


@pytest.mark.parametrize(("where", "command", "jq"), JQ_PIPELINES)
def test_every_key_a_documented_jq_filter_reads_is_in_the_output(
    archive: sa.Engine, where: str, command: str, jq: str
) -> None:
    """`veille stories --json | jq .first_publisher` and the like: the command, as written, on
    the fixture archive, prints JSON objects that have every key the filter reads."""
    code, out, err = run(*shlex.split(command)[1:])
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()] if "\n" in out.strip() else [json.loads(out)]
    assert records, f"{where}: `{command}` printed nothing"
    paths = [re.findall(r"\.(\w+)|\[(\d+)\]", path) for path in jq.strip("'[]").split(",")]
    assert all(paths)
    for record in records:
        for path in paths:  # each step of the path is there: a key of an object, an index of a list
            value: object = record
            for key, index in path:
                if key:
                    assert isinstance(value, dict) and key in value, (
                        f"{where}: `{command} | jq {jq}`: no {key!r} in {value!r:.200}"
                    )
                    value = value[key]
                else:
                    assert isinstance(value, list) and len(value) > int(index), (
                        f"{where}: `{command} | jq {jq}`: no [{index}] in {value!r:.200}"
                    )
                    value = value[int(index)]


#: the commands that only read the archive: each line of them the docs give whole runs on the
#: fixture archive as it is written
READERS = ("search", "stories", "stats", "export", "feed")


def _documented_reads() -> list[tuple[str, str]]:
    """(where, line) of every `veille search|stories|stats|export|feed ...` README and docs/
    show, in a code block or inline, that a user can type as it is: veille's parser takes it
    (`veille search` naming the command is not a line), no placeholder (QUERY, --since D), no
    optional part ([--json]), no alternatives (jsonl|csv), no --help, no --serve (it stays up)."""
    from flows.cli import build_parser
    from tests.test_docs import GUIDES, ROOT, _mentions

    def parses(argv: list[str]) -> bool:
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                build_parser().parse_args(argv)
        except SystemExit:
            return False
        return True

    found: dict[str, str] = {}  # line -> the first page that gives it
    for path in GUIDES:
        for mention in _mentions(path):
            line = mention.split(" | ")[0].split(" #")[0].strip()
            words = line.split()
            unquoted = re.sub(r"\"[^\"]*\"|'[^']*'", "", line)
            if (
                words[1:2]
                and words[1] in READERS
                and not re.search(r"[\[|]|\.\.\.|(?<![\w-])[A-Z][A-Z_]*(?![\w-])|--serve\b|--help", unquoted)
                and parses(shlex.split(line)[1:])
            ):
                found.setdefault(line, path.relative_to(ROOT).as_posix())
    return sorted((where, line) for line, where in found.items())


DOCUMENTED_READS = _documented_reads()


def test_the_docs_give_reading_commands_a_user_types_as_they_are() -> None:
    """The collection finds the README's first steps and the lines of docs/ (an inline one too)."""
    lines = {line for _, line in DOCUMENTED_READS}
    assert {
        'veille search "sommet IA Macron"',
        "veille export --format csv --relevant --output relevant.csv",
        "veille stories --since 2025-02-10 --topic ai_summit",
    } <= lines, lines
    assert not any("QUERY" in line or "[" in line for line in lines), lines


@pytest.mark.parametrize(("where", "command"), DOCUMENTED_READS)
def test_every_reading_command_the_docs_give_runs_as_written(
    archive: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, command: str
) -> None:
    """Parsing a documented line (tests/test_docs.py) does not run it: a topic it names that
    no longer exists, or a filter the archive refuses, would pass there. Here the line runs, in
    an empty folder (an --output lands there), on the fixture archive, and exits 0."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*shlex.split(command)[1:])
    assert code == 0, f"{where}: `{command}` exited {code}: {err}"
    written = [p for p in tmp_path.iterdir() if p.stat().st_size]
    assert out.strip() or written, f"{where}: `{command}` printed and wrote nothing"
