"""Every `veille ...` line README.md and docs/ give, accounted for: run as written by a test,
or at least taken by veille's parser, or on a short allow-list with the reason it cannot run
here. The lines no other test ran as written run here: the archive backfills of
docs/backfill.md (against the local fake archives), the topic loop of docs/relevance.md, the
`sources check` of docs/sources.md (a local server standing in for the sites), the
`rescore` of docs/topics.md and the `psql "$(veille db-url --plain)"` shell line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from flows.cli import build_parser, main
from tests.docs_reader import read_code
from tests.fake_archives import FakeArchives, seed_snapshots
from tests.site import LocalSite, rss_feed, seed_site, write_sources
from tests.test_archive_backfill import archives  # noqa: F401
from tests.test_cookbook import readme_next_steps
from tests.test_docs import GUIDES, ROOT, _commands, _mentions, _subparser
from tests.test_rescore_resume import RESTART as RESCORE_RESTART
from tests.test_shell import DOCUMENTED_READS, archive, scalar  # noqa: F401
from tests.test_sources_failing import DOCUMENTED as SOURCES_FAILING

#: a synopsis, not a line to type: an optional part ([--json]), alternatives (jsonl|csv, once
#: a pipe into another program is cut off), a placeholder (QUERY, --since D, <name>), "..."
#: (quoted too: `veille psql -c "SELECT ..."`)
SYNOPSIS = re.compile(r"[\[|<]|\.\.\.|(?<![\w-])[A-Z][A-Z_]*(?![\w-])")

#: documented lines no test runs as written, and why: they cannot run here (each still has to
#: parse, as every other line). Any other line a code block shows, or an inline span that is more
#: than prose naming a command, is run as written by a test.
CANNOT_RUN: dict[str, str] = {
    "veille deploy": "registers the deployments with a real Prefect server (prefect deploy --all)",
    "veille serve": "serves until stopped, its schedule on a Prefect server",
    "veille serve --interval 1": "serves until stopped, its schedule on a Prefect server",
    "veille run": "polls the default list's real sites (the network)",
    "veille run --all": "polls the default list's real sites (the network)",
    "veille eval": "reads the shared test split, which no test reads",
    "veille eval --json": "reads the shared test split, which no test reads",
    "veille eval --errors": "reads the shared test split, which no test reads",
    "veille eval --extraction": "reads the shared test split and corpus, which no test reads",
}


def _line(mention: str) -> str:
    """The veille part of a mention: before a pipe into another program or a comment."""
    return mention.split(" | ")[0].split(" #")[0].strip()


def _invocations() -> list[tuple[str, str, bool]]:
    """(page, line, inline) of every `veille ...` README and docs/ show, in a code block,
    inline, or in a command substitution (`psql "$(veille db-url --plain)"`), synopses left
    out; ``inline`` when no code block of any page shows it."""
    found: dict[str, tuple[str, bool]] = {}
    for path in GUIDES:
        where = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        blocks = [c for c in read_code(text) if c.kind != "inline"]
        inner = [s for c in read_code(text) for s in re.findall(r"\$\((veille [^)]*)\)", c.text)]
        in_blocks = {_line(m) for m in _commands(path)}
        in_blocks |= {s for c in blocks for s in re.findall(r"\$\((veille [^)]*)\)", c.text)}
        for mention in [*_mentions(path), *inner]:
            line = _line(mention)
            if "..." in line or SYNOPSIS.search(re.sub(r"\"[^\"]*\"|'[^']*'", "", line)):
                continue
            first, inline = found.get(line, (where, True))
            found[line] = (first, inline and line not in in_blocks)
    return sorted((where, line, inline) for line, (where, inline) in found.items())


INVOCATIONS = _invocations()


def _refusal(line: str) -> str | None:
    """What veille's parser says refusing ``line``; None when it takes it."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(shlex.split(line)[1:])
    except SystemExit as exc:
        return None if exc.code == 0 else err.getvalue().strip().splitlines()[-1]  # 0: --help
    return None


#: a refusal for what a mention leaves out, not for what it says: prose naming a command and an
#: option (`veille eval --topic`, `veille backfill --from wayback`) gives no value, no query
INCOMPLETE = re.compile(r"the following arguments are required|expected one argument")


def _names_a_command(line: str) -> bool:
    """`veille search`, `veille sources check`: the prose naming a command, not a line to run."""
    words = line.split()
    return len(_subparser(words[1:])[1]) == len(words)


def _doc_lines(page: str, pattern: str) -> list[str]:
    """The lines of a page's code blocks that match ``pattern``, cut before a pipe or comment."""
    text = (ROOT / page).read_text(encoding="utf-8")
    return [
        _line(line)
        for block in read_code(text)
        if block.kind != "inline"
        for line in block.text.splitlines()
        if re.match(pattern, line.strip())
    ]


BACKFILLS = _doc_lines("docs/backfill.md", r"veille backfill .*--from ")
RELEVANCE = [
    *_doc_lines("docs/relevance.md", r"veille (score|eval) .*my_"),
    *re.findall(
        r"`(veille eval --topic my_topic\.toml [^`]*--no-shared)`",
        (ROOT / "docs" / "relevance.md").read_text("utf-8"),
    ),
]
EVALS = [line for line in RELEVANCE if line.startswith("veille eval")]
SOURCES_CHECK = 'veille sources check "Le Point" Renaissance'
RESCORE = "veille rescore --topic monitors/topics/eu_ai_act.toml"
RESCORE_ALL = "veille rescore --all"
SOURCES_CHECK_ALL = "veille sources check --all"
EVAL_DEV_ONLY = "veille eval --shared dev-only/"
SCORE_CONTEXT = "veille score --context"
SOURCE_PROBLEMS = _doc_lines("docs/sources.md", r"veille psql -c .*source_problems")
HELPS = ["veille psql --help", "veille search --help"]
#: docs/operating.md's lines to reach the embedded database with psql
DB_LINES = _doc_lines("docs/operating.md", r"(veille db |psql \")")
PSQL = 'psql "$(veille db-url --plain)"'

#: the lines run as written here, in tests/test_shell.py, tests/test_cookbook.py,
#: tests/test_rescore_resume.py (RESCORE_RESTART, on an interrupted --all) and
#: tests/test_sources_failing.py (SOURCES_FAILING)
RUN_AS_WRITTEN = {
    *(line for _, line in DOCUMENTED_READS),
    *BACKFILLS,
    *RELEVANCE,
    SOURCES_CHECK,
    SOURCES_CHECK_ALL,
    RESCORE,
    RESCORE_ALL,
    RESCORE_RESTART,
    EVAL_DEV_ONLY,
    SCORE_CONTEXT,
    *SOURCE_PROBLEMS,
    SOURCES_FAILING,
    *HELPS,
    *DB_LINES,
    "veille db-url --plain",  # inside PSQL
    *readme_next_steps(),  # tests/test_cookbook.py, on the embedded database
}


def test_the_inventory_finds_the_lines_of_every_kind() -> None:
    """Code blocks, inline spans and command substitutions are read; synopses are not lines."""
    lines = {line for _, line, _ in INVOCATIONS}
    assert {*BACKFILLS, *RELEVANCE, SOURCES_CHECK, RESCORE, "veille db-url --plain"} <= lines, lines
    assert len(BACKFILLS) == 4 and len(RELEVANCE) == 3 and len(SOURCE_PROBLEMS) == 1
    assert {RESCORE_ALL, RESCORE_RESTART, SOURCES_CHECK_ALL, EVAL_DEV_ONLY, SCORE_CONTEXT, *HELPS} <= lines
    assert not any("..." in line or SYNOPSIS.search(re.sub(r"\"[^\"]*\"", "", line)) for line in lines)
    assert SOURCES_CHECK in (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    assert RESCORE in (ROOT / "docs" / "topics.md").read_text(encoding="utf-8")
    assert PSQL in (ROOT / "README.md").read_text(encoding="utf-8")
    assert DB_LINES == ["veille db start", PSQL, "veille db status", "veille db stop"], DB_LINES


@pytest.mark.parametrize(("where", "line", "inline"), INVOCATIONS)
def test_every_documented_line_runs_in_a_test_or_parses(where: str, line: str, inline: bool) -> None:
    """The mechanical check: a documented line veille's parser refuses fails here, inline ones
    too (tests/test_docs.py parses those of code blocks only), unless a test runs it as written;
    and a line no test runs is on CANNOT_RUN with its reason. Inline prose may name a command
    (`veille search`, `veille rescore`) or a command and an option (`veille eval --topic`)
    without the rest of a line; an option or a value the parser does not know fails there too."""
    if line in RUN_AS_WRITTEN:
        return
    refusal = _refusal(line)
    if inline and (_names_a_command(line) or (refusal and INCOMPLETE.search(refusal))):
        return
    assert refusal is None, f"{where}: `{line}` is refused by veille's parser: {refusal}"
    assert line in CANNOT_RUN, f"{where}: `{line}` is run by no test as written (nor on CANNOT_RUN)"


def test_the_allow_list_holds_only_documented_lines_that_cannot_run() -> None:
    lines = {line for _, line, _ in INVOCATIONS}
    for line, reason in CANNOT_RUN.items():
        assert line in lines, f"`{line}` is no longer documented: take it off CANNOT_RUN"
        assert reason.strip() and line not in RUN_AS_WRITTEN, line


def test_the_check_refuses_a_wrong_line_and_takes_prose() -> None:
    """The check can fail: an unknown option, a bad choice, a code block's incomplete line."""
    assert "unrecognized arguments: --sauce" in (_refusal("veille export --sauce x") or "")
    assert "invalid choice" in (_refusal("veille backfill --since 2025-02-01 --from archive") or "")
    assert INCOMPLETE.search(_refusal("veille eval --topic") or "")
    assert INCOMPLETE.search(_refusal("veille backfill --from wayback") or "")
    assert _names_a_command("veille sources check") and not _names_a_command("veille search sommet")


def _run(line: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(shlex.split(line)[1:])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("line", BACKFILLS)
def test_every_archive_backfill_line_runs_as_written(
    archives: FakeArchives,  # noqa: F811
    clean_db: sa.Engine,
    line: str,
) -> None:
    """docs/backfill.md's `veille backfill --from ...` lines, as written (the default sources
    list, no --sources), with only the archives' addresses (VEILLE_WAYBACK_URL,
    VEILLE_COMMONCRAWL_*_URL) and no politeness delay in the environment: the five seed pages
    the fake archives hold at the seeds' own sites are found, filtered as the line says."""
    archives.snapshots = seed_snapshots()
    archives.build_warc()
    archives.build_ccnews(files=1)
    code, out, err = _run(line)
    assert code == 0, f"`{line}` exited {code}: {err}"
    with clean_db.connect() as conn:
        urls = list(conn.scalars(sa.text("SELECT url FROM articles WHERE captured_at IS NOT NULL")))
        kept = list(conn.scalars(sa.text("SELECT relevant FROM articles")))
    if "--site liberation.fr" in line:
        assert urls and all(urlsplit(u).hostname == "www.liberation.fr" for u in urls), urls
    else:
        assert len(urls) == 5, urls
    if "--relevant-only" in line:
        assert kept and all(kept)


@pytest.fixture
def topic_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """docs/relevance.md's "Writing another topic": ai_summit.toml copied and renamed, a few
    texts of our own and their labels, in the current folder."""
    topic = (ROOT / "monitors" / "topics" / "ai_summit.toml").read_text(encoding="utf-8")
    topic, renamed = re.subn(r'(?m)^name = "[^"]*"', 'name = "my_topic"', topic, count=1)
    assert renamed == 1
    (tmp_path / "my_topic.toml").write_text(topic, encoding="utf-8")
    about = "Le sommet pour l'action sur l'intelligence artificielle s'ouvre au Grand Palais à Paris."
    other = "Le conseil municipal a voté le budget de la piscine et des écoles pour l'an prochain."
    texts = [(about, True), (other, False)]
    (tmp_path / "my_corpus.jsonl").write_text(
        "".join(json.dumps({"title": t[:20], "text": t}, ensure_ascii=False) + "\n" for t, _ in texts),
        encoding="utf-8",
    )
    (tmp_path / "my_labels.jsonl").write_text(
        "".join(
            json.dumps({"title": t[:20], "text": t, "relevant": r}, ensure_ascii=False) + "\n"
            for t, r in texts
        ),
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _shell(command: str, env: dict[str, str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _path_env() -> dict[str, str]:
    """The environment with the veille script (beside this Python) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    assert shutil.which("veille", path=env["PATH"]), "the veille command is not installed next to python"
    return env


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_topic_loop_s_score_line_runs_as_written(topic_folder: Path) -> None:
    """`veille score my_corpus.jsonl --topic my_topic.toml | jq -c '[.relevance, .relevance_terms]'`
    through bash, the whole line with its jq: one array per text, the summit text relevant."""
    (whole,) = [
        line.strip()
        for line in (ROOT / "docs" / "relevance.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("veille score my_corpus.jsonl")
    ]
    done = _shell(whole, _path_env(), topic_folder)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 2 and all(len(r) == 2 for r in rows), rows
    assert rows[0][0] > rows[1][0] and rows[0][1], rows


@pytest.mark.parametrize("line", EVALS)
def test_the_topic_loop_s_eval_lines_run_as_written(
    topic_folder: Path, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    """`veille eval --topic my_topic.toml --relevance-set my_labels.jsonl --errors` (and its
    `--no-shared` form): the user's labels measured with the user's topic. The shared splits
    the first would also read are kept out (tests never read the test split): as on a machine
    without them."""
    import flows.commands.eval as eval_command

    monkeypatch.setattr(eval_command, "default_shared_dir", lambda: None)
    code, out, err = _run(line)
    assert code in (0, 1), err  # 1: below a floor, which the loop is there to find
    assert "my_labels.jsonl" in out + err and "F1" in out + err, out + err


def test_the_eval_of_a_dev_only_folder_runs_as_written(
    topic_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`veille eval --shared dev-only/` (docs/topics.md), in a folder holding a `dev-only/` of
    our own labelled lines: that folder's dev split is measured, no other shared folder."""
    (topic_folder / "dev-only").mkdir()
    labels = (topic_folder / "my_labels.jsonl").read_text(encoding="utf-8")
    (topic_folder / "dev-only" / "relevance-dev.jsonl").write_text(labels, encoding="utf-8")
    code, out, err = _run(EVAL_DEV_ONLY)
    assert code in (0, 1), err
    assert "warning: no relevance-test.jsonl in dev-only" in err, out + err  # this folder's, alone


def test_the_score_context_line_runs_as_written(topic_folder: Path) -> None:
    """`veille score --context` (docs/relevance.md) through bash, JSON lines on its stdin: one
    score a line, as one batch."""
    corpus = (topic_folder / "my_corpus.jsonl").read_text(encoding="utf-8")
    done = _shell(SCORE_CONTEXT, _path_env(), topic_folder, stdin=corpus)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 2 and all("relevance" in r for r in rows), rows


def _seed_entry(name: str, base: str) -> dict[str, str]:
    """The seeds' entry of ``name``, its sites' addresses moved to ``base`` (path kept)."""
    seeds = tomllib.loads((ROOT / "seeds" / "sources.toml").read_text(encoding="utf-8"))
    (entry,) = [s for s in seeds["source"] if s["name"] == name]
    moved = {}
    for key, value in entry.items():
        if key in ("url", "fallback"):
            parts = urlsplit(value)
            value = f"{base}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        moved[key] = value
    return moved


def test_the_sources_check_line_runs_as_written(
    site: LocalSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`veille sources check "Le Point" Renaissance` (docs/sources.md), as written, the
    seeds' two entries as they are but for their sites' address (VEILLE_SOURCES names a copy
    whose URLs point at a local server serving the same paths): both probed, both ok."""
    now = datetime.now(UTC)
    site.add(
        "/arc/outboundfeeds/rss/",
        rss_feed(site.base, [("Sommet IA", "politique/sommet-ia-paris.php", now)], title="Le Point"),
        content_type="application/rss+xml",
    )
    site.add(
        "/actualites",
        "<html><body><main><a href='/actualites/sommet-ia-notre-position'>Sommet IA</a>"
        "<a href='/actualites/programme-europeen'>Programme</a></main></body></html>",
    )
    sources = write_sources(
        tmp_path / "sources.toml",
        [_seed_entry("Le Point", site.base), _seed_entry("Renaissance", site.base)],
    )
    monkeypatch.setenv("VEILLE_SOURCES", str(sources))
    code, out, err = _run(SOURCES_CHECK)
    assert code == 0, out + err
    rows = {line.split("  ")[0]: line for line in out.splitlines()}
    assert " ok " in rows["Le Point"] and " ok " in rows["Renaissance"], out
    assert "2 sources probed, 2 ok" in out, out
    assert list(tmp_path.glob("veille-sources-check-*")) == []  # by name: no report
    # README's `veille sources check --all`: every source of the file, a report where it runs
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(SOURCES_CHECK_ALL)
    assert code == 0 and "2 sources probed, 2 ok" in out, out + err
    assert len(list(tmp_path.glob("veille-sources-check-*"))) == 2


@pytest.mark.usefixtures("prefect_harness")
def test_the_rescore_line_runs_as_written(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`veille rescore --topic monitors/topics/eu_ai_act.toml` (docs/topics.md), from the
    repository's root as the path says, on an archive a run filled: the other topic's rows are
    written, the summit topic's columns left as they were."""
    seed_site(site)
    sources = write_sources(
        tmp_path / "s.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    assert main(["run", "--sources", str(sources)]) == 0
    before = "SELECT array_agg((id, relevant, relevance) ORDER BY id)::text FROM articles"
    with clean_db.connect() as conn:
        columns = conn.scalar(sa.text(before))
    monkeypatch.chdir(ROOT)
    code, out, err = _run(RESCORE)
    assert code == 0, err
    with clean_db.connect() as conn:
        scored = conn.scalar(sa.text("SELECT count(*) FROM article_topics WHERE topic = 'eu_ai_act'"))
        assert conn.scalar(sa.text(before)) == columns
        articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
    assert scored == articles > 0, out
    assert "eu_ai_act" in out, out
    # docs/operating.md's `veille rescore --all`: every article again, whatever its version
    code, out, err = _run(RESCORE_ALL)
    assert code == 0, err
    assert f"rescored {articles} article" in out, out


@pytest.mark.skipif(shutil.which("psql") is None, reason="the psql client is not installed")
def test_the_psql_shell_line_runs_as_written(
    archive: sa.Engine,  # noqa: F811
    archive_url: str,
    tmp_path: Path,
) -> None:
    """`psql "$(veille db-url --plain)"` (README, docs/cookbook.md, docs/operating.md) through
    bash, psql and veille on PATH, VEILLE_DATABASE_URL naming the test archive: it opens that
    archive (its statements read from stdin, as a script piped into it). The `veille psql`
    and `--help` lines too."""
    env = _path_env()
    env["VEILLE_DATABASE_URL"] = archive_url
    done = _shell(PSQL, env, tmp_path, stdin="SELECT count(*) AS n FROM articles;\n")
    assert done.returncode == 0, done.stderr
    count = scalar(archive, "SELECT count(*) FROM articles")
    assert re.search(rf"^\s*{count}\s*$", done.stdout, flags=re.M), done.stdout
    # `veille psql` with psql's own arguments (docs/sources.md's query, README's --help), and
    # docs/operating.md's block around the psql line: on a database that is not the embedded
    # one, `db start` and `db stop` have nothing to do, `db status` says that server answers
    for line in [*SOURCE_PROBLEMS, *HELPS, *DB_LINES]:
        done = _shell(line, env, tmp_path, stdin="SELECT 1;\n")
        assert done.returncode == 0 and done.stdout, f"`{line}`: {done.stderr}"
