"""Small things a new operator meets on the command line: a closed pipe, a listing that must not
write, options after the source name, no warning noise from the embedded server's import."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.cli import main
from tests.site import LocalSite

ROOT = Path(__file__).resolve().parent.parent


def _veille(argv: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())", *argv],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        text=True,
        timeout=300,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.parametrize("argv", [["stats"], ["search", "sommet"]], ids=["stats", "search"])
def test_stats_into_a_closed_pipe_ends_quietly(database_url: str, argv: list[str]) -> None:
    """`veille stats | head -1`: the reader is gone before veille writes; no "Broken pipe".
    `veille search` prints through rich, whose own answer was exit 1 (a failure) and not 141."""
    read, write = os.pipe()
    os.close(read)  # as head does after its first line: every write now fails with EPIPE
    try:
        done = _veille(
            argv,
            {**os.environ, "VEILLE_DATABASE_URL": database_url},
            stdout=write,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write)
    assert "Broken pipe" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.returncode == 141  # 128 + SIGPIPE, as a shell reports a command a pipe closed


@pytest.mark.parametrize("to_file", [True, False], ids=["output-file", "stdout"])
def test_export_with_a_closed_stderr_writes_everything(
    archive_url: str, tmp_path: Path, to_file: bool
) -> None:
    """`veille export -o FILE 2> >(head -1)`, or a logger that died: the progress bar's stderr is
    a closed pipe. rich then pointed stdout at /dev/null and exited 1: no file, no word. The
    bar is decoration: the export is written whole, exit 0."""
    out = tmp_path / "out.jsonl"
    read, write = os.pipe()
    os.close(read)
    try:
        done = _veille(
            ["export", "--format", "jsonl", *(["-o", str(out)] if to_file else [])],
            {**os.environ, "VEILLE_DATABASE_URL": archive_url},
            stdout=subprocess.PIPE,
            stderr=write,
        )
    finally:
        os.close(write)
    engine = sa.create_engine(archive_url)
    with engine.connect() as conn:
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
    engine.dispose()
    assert done.returncode == 0
    written = out.read_text(encoding="utf-8") if to_file else done.stdout
    assert (
        stored
        and [json.loads(line)["id"] for line in written.splitlines()]
        and (len(written.splitlines()) == stored)
    )


def test_rescore_with_a_closed_stderr_exits_on_its_outcome(new_database: str) -> None:
    """`veille rescore 2> >(head -1)` with nothing to do: the work was done, then its closing
    "nothing to do" note on the closed stderr ended it with 141, as a failure. Exit 0."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = _veille(
            ["rescore"],
            {**os.environ, "VEILLE_DATABASE_URL": new_database},
            stdout=subprocess.PIPE,
            stderr=write,
        )
    finally:
        os.close(write)
    assert done.returncode == 0
    assert "article_topics: 0 articles scored for topic ai_summit" in done.stdout, done.stdout


@pytest.mark.parametrize(
    "argv",
    [["feed", "-o", "OUT"], ["score", "IN", "-o", "OUT"], ["score", "IN"]],
    ids=["feed-output", "score-output", "score-stdout"],
)
def test_a_closing_note_on_a_closed_stderr_leaves_the_exit_to_the_work(
    archive_url: str, tmp_path: Path, argv: list[str]
) -> None:
    """`veille feed -o FILE 2> >(head -1)`, `veille score FILE [-o OUT]` so: the work was done
    (the feed written, every line scored), then the closing note ("wrote FILE", "scored 1
    line, ...") on the closed stderr ended the command with 141, as a failure, as `rescore`'s
    did. Exit 0, the output whole."""
    data, out = tmp_path / "in.jsonl", tmp_path / "out"
    data.write_text(SCORED, "utf-8")
    argv = [str(out) if a == "OUT" else str(data) if a == "IN" else a for a in argv]
    read, write = os.pipe()
    os.close(read)
    try:
        done = _veille(
            argv, {**os.environ, "VEILLE_DATABASE_URL": archive_url}, stdout=subprocess.PIPE, stderr=write
        )
    finally:
        os.close(write)
    assert done.returncode == 0
    written = out.read_text("utf-8") if str(out) in argv else done.stdout
    if argv[0] == "feed":
        assert written.startswith("<?xml") and written.rstrip().endswith("</feed>"), written[-200:]
    else:
        assert json.loads(written)["relevant"] is True, written


def _exit_with_stderr(argv: list[str], env: dict[str, str], closed: bool) -> subprocess.CompletedProcess[str]:
    """``veille ARGV`` with its stderr read, or a pipe whose reader is gone (``2> >(head -1)``)."""
    if not closed:
        return _veille(argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    read, write = os.pipe()
    os.close(read)
    try:
        return _veille(argv, env, stdout=subprocess.PIPE, stderr=write)
    finally:
        os.close(write)


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["run", "--all", "--sources", "PARTLY"], 1),
        (["run", "--all", "--sources", "NONE"], 3),
        (["run"], 3),
        (["backfill", "--since", "2025-01-01", "--sources", "NONE"], 3),
        (["backfill", "--since", "2025-01-01"], 2),
    ],
    ids=[
        "run-partly",
        "run-every-source-failed",
        "run-no-database",
        "backfill-nothing",
        "backfill-no-database",
    ],
)
def test_the_exit_code_holds_with_a_closed_stderr(
    database_url: str, clean_db: sa.Engine, site: LocalSite, tmp_path: Path, argv: list[str], code: int
) -> None:
    """`veille run 2> >(head -1)` partly done or with nothing run, `veille backfill` so: the
    verdict line on the closed stderr ended the command with 141 (or a traceback, exit 1),
    where README's contract says 1, 2 or 3 whatever stderr is. The same code as with stderr read."""
    from tests.site import seed_site, write_sources

    seed_site(site)
    files = {
        name: write_sources(
            tmp_path / f"{name}.toml",
            [
                {"name": f"{name} {i}", "kind": "feed", "url": f"{site.base}{path}", "owner": "media"}
                for i, path in enumerate(paths)
            ],
        )
        for name, paths in (("PARTLY", ["/feed.xml", "/nope.xml"]), ("NONE", ["/nope.xml", "/gone.xml"]))
    }
    argv = [str(files[a]) if a in files else a for a in argv]
    url = database_url if "--sources" in argv else _closed_port_url(database_url)
    env = {
        **os.environ,
        "VEILLE_DATABASE_URL": url,
        "VEILLE_PREFECT": "off",
        "VEILLE_DATA_DIR": str(tmp_path),
    }
    said = _exit_with_stderr(argv, env, closed=False)
    assert said.returncode == code, said.stderr
    done = _exit_with_stderr(argv, env, closed=True)
    assert done.returncode == code, done.stdout


@pytest.mark.parametrize("how", ["reader-gone", "closed"])
@pytest.mark.parametrize("refused", ["already-serving", "prefect-unreachable"])
def test_serve_keeps_its_exit_code_with_a_closed_stderr(
    database_url: str, clean_db: sa.Engine, tmp_path: Path, refused: str, how: str
) -> None:
    """`veille serve 2> >(head -1)` (or `2>&-`) refused, another veille serve holding the
    database or the Prefect API configured not answering: its one line on the dead stderr ended
    it with 141, where docs/operating.md says 3 (nothing could run, or another veille serve),
    whatever stderr is. The same code as with stderr read."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(VEILLE_DATABASE_URL=database_url, PREFECT_HOME=str(tmp_path / "prefect"))
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    argv = ["serve", "--sources", str(ROOT / "seeds" / "sources.toml")]
    admin = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with admin.connect() as other:
        if refused == "already-serving":  # the lock a veille serve holds on its database
            from flows.serve_locks import SERVE_LOCK

            held = "SELECT pg_try_advisory_lock(:c, :o)"
            assert other.scalar(sa.text(held), {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]})
        said = _veille(argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert said.returncode == 3, said.stderr
        expected = "another veille serve" if refused == "already-serving" else "nothing could run"
        assert expected in said.stderr, said.stderr
        if how == "closed":
            done = _veille(
                argv, env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=_close_stderr
            )
        else:
            done = _exit_with_stderr(argv, env, closed=True)
    admin.dispose()
    assert done.returncode == 3, done.stdout


def _close_stderr() -> None:
    """In the child, before veille starts: its stderr closed, as `2>&-` leaves it."""
    os.close(2)


def _closed_port_url(url: str) -> str:
    """``url`` on a port of this machine nothing listens on."""
    import socket

    from sqlalchemy.engine import make_url

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def test_stats_json_says_null_for_no_language(clean_db: sa.Engine) -> None:
    """An article with no language detected: `veille stats --json` wrote "?", which a JSON
    reader cannot tell from a value; it writes null. The table still shows "?"."""
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Journal', 'feed', 'http://j/', 'media') RETURNING id"
            )
        )
        for i, language in enumerate(["fr", None]):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash,"
                    " language) VALUES (:u, :u, :s, 'Sommet', 'Le sommet.', :h, :l)"
                ),
                {"u": f"http://j/{i}", "s": source, "h": f"h{i}", "l": language},
            )
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["stats", "--json"]) == 0
    assert json.loads(out.getvalue())["by_language"] == [
        {"language": "fr", "articles": 1},
        {"language": None, "articles": 1},
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["stats"]) == 0
    table = out.getvalue().split("By language")[1].split("URL queue")[0]
    assert [line.split()[0] for line in table.splitlines()[3:] if line.strip()] == ["fr", "?"], table


def test_stats_of_an_empty_archive_says_none_not_python_none(new_database: str) -> None:
    """`veille stats` on a new archive: its first and last relevant days were "None"."""
    from monitors.archive.schema import migrate

    migrate(new_database)
    for argv in (["stats"], ["stats", "--topic", "ai_summit"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main(argv) == 0
        days = [line for line in out.getvalue().splitlines() if "relevant_day" in line]
        assert [line.split()[1] for line in days] == ["(none)", "(none)"], out.getvalue()
        assert "None" not in out.getvalue()


def test_sources_listing_does_not_enrol_the_default_sources(clean_db: sa.Engine) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sources"]) == 0
    assert "no source in the archive yet" in out.getvalue()
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM sources")) == 0


@pytest.mark.slow
def test_no_runtime_dir_warning_without_xdg_runtime_dir() -> None:
    """The embedded server's import asked platformdirs for XDG_RUNTIME_DIR and warned on every
    command when it is unset (cron, containers, ssh without a login session)."""
    env = {k: v for k, v in os.environ.items() if k not in {"XDG_RUNTIME_DIR", "VEILLE_DATABASE_URL"}}
    # not under tmp_path, which other pytest sessions run as root make private again (the
    # embedded server then runs as its own user)
    data = Path(tempfile.mkdtemp(prefix="veille-xdg-"))
    env["VEILLE_DATA_DIR"] = str(data / "data")
    env["PYTHONWARNINGS"] = "default"  # show every warning, as a fresh interpreter would once
    try:
        done = _veille(["db-url", "--plain"], env, capture_output=True)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    assert "RuntimeDirWarning" not in done.stderr and "XDG_RUNTIME_DIR" not in done.stderr, done.stderr
    assert done.stdout.startswith("postgresql://")


def test_veille_sources_names_the_default_sources_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VEILLE_SOURCES: the file a command without --sources reads (compose mounts one there)."""
    from monitors.collect.sources import load_sources
    from tests.site import write_sources

    mine = write_sources(
        tmp_path / "mine.toml",
        [{"name": "Mon journal", "kind": "feed", "url": "https://example.org/rss.xml", "owner": "media"}],
    )
    assert len(load_sources()) > 1  # the shipped file
    monkeypatch.setenv("VEILLE_SOURCES", str(mine))
    assert [s.name for s in load_sources()] == ["Mon journal"]
    assert [s.name for s in load_sources(mine)] == ["Mon journal"]


def test_veille_sources_of_an_empty_archive_names_the_file_runs_read(
    clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille sources` on an archive with no source says which file `veille run` polls: the
    shipped list, or the one VEILLE_SOURCES names (it named seeds/sources.toml whatever the
    setting, the file compose mounts in its place included)."""
    from flows.cli import main

    assert main(["sources"]) == 0
    assert "`veille run` polls those of seeds/sources.toml (or of --sources FILE)" in capsys.readouterr().out
    monkeypatch.setenv("VEILLE_SOURCES", str(tmp_path / "mine.toml"))
    assert main(["sources"]) == 0
    assert (
        f"`veille run` polls those of {tmp_path / 'mine.toml'} (or of --sources FILE)"
        in capsys.readouterr().out
    )


@pytest.mark.skipif(shutil.which("psql") is None, reason="the psql client is not installed")
def test_veille_psql_passes_its_arguments_to_psql_as_the_docs_say(archive_url: str, tmp_path: Path) -> None:
    """README: "`veille psql --help` is psql's own: its arguments go to psql"; `veille psql -f
    my_queries.sql` (its help's example) runs a file of queries on the archive."""
    env = {**os.environ, "VEILLE_DATABASE_URL": archive_url}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`veille psql --help` is psql's own" in readme
    done = _veille(["psql", "--help"], env, capture_output=True)
    assert done.returncode == 0 and done.stdout.startswith("psql is the PostgreSQL interactive terminal")
    queries = tmp_path / "my_queries.sql"
    queries.write_text("SELECT count(*) FROM articles;\nSELECT count(*) FROM sources;\n", "utf-8")
    done = _veille(["psql", "-X", "-tA", "-f", str(queries)], env, capture_output=True)
    engine = sa.create_engine(archive_url)
    try:
        with engine.connect() as conn:
            counts = [conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in ("articles", "sources")]
    finally:
        engine.dispose()
    assert (done.returncode, done.stdout.split()) == (0, [str(n) for n in counts]), done.stderr
    assert counts[0]


SCORED = '{"title": "Sommet IA", "text": "Le sommet pour l action sur l IA s ouvre a Paris."}\n'


@pytest.mark.parametrize(("closed", "says"), [(0, "standard input"), (1, "standard output")])
def test_score_with_a_closed_stdin_or_stdout_says_which(tmp_path: Path, closed: int, says: str) -> None:
    """`veille score <&-`, `veille score FILE >&-`: before, an AttributeError traceback ('NoneType'
    object has no attribute 'readline' / 'write'); now one line naming the stream, exit 2."""
    data = tmp_path / "in.jsonl"
    data.write_text(SCORED, "utf-8")
    argv = ["score"] if closed == 0 else ["score", str(data)]
    done = _veille(argv, dict(os.environ), capture_output=True, preexec_fn=lambda: os.close(closed))
    assert done.returncode == 2, done
    assert done.stderr == f"veille: error: {says}: Bad file descriptor\n", done.stderr


def test_a_closed_stderr_does_not_put_messages_in_the_output(tmp_path: Path) -> None:
    """`veille score FILE 2>&- > out.jsonl`: before, the summary meant for stderr ("scored 1
    lines, ...") went to stdout, a last line of the scores that is not one."""
    data = tmp_path / "in.jsonl"
    data.write_text(SCORED, "utf-8")
    done = _veille(
        ["score", str(data)], dict(os.environ), stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2)
    )
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["relevant"] is True, done.stdout


@pytest.mark.skipif(
    not os.path.exists("/dev/full"), reason="no /dev/full (a device whose writes fail: disk full)"
)
@pytest.mark.parametrize("to_stdout", [True, False])
def test_a_full_disk_is_said_with_what_could_not_be_written(
    archive_url: str, tmp_path: Path, to_stdout: bool
) -> None:
    """`veille stats > /dev/full`, `veille export -o /dev/full`: before, "veille: error: [Errno 28]
    No space left on device", not saying what; now what could not be written, once (no
    "Exception ignored" at exit), exit 2, and `score`'s summary does not claim lines written first."""
    data = tmp_path / "in.jsonl"
    data.write_text(SCORED, "utf-8")
    env = {**os.environ, "VEILLE_DATABASE_URL": archive_url}  # articles to write
    commands = [["stats"], ["score", str(data)], ["export", "--no-progress"], ["feed"]]
    with open("/dev/full", "w") as full:
        for argv in commands:
            done = _veille(
                argv if to_stdout else [*argv, "-o", "/dev/full"],
                env,
                stdout=full if to_stdout else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if argv == ["stats"] and not to_stdout:
                continue  # no -o: stats prints
            what = "standard output" if to_stdout else "cannot write /dev/full"
            assert done.returncode == 2, (argv, done.stderr)
            assert done.stderr == f"veille: error: {what}: No space left on device\n", (argv, done.stderr)


def test_an_unbuffered_stdout_stays_unbuffered(tmp_path: Path) -> None:
    """PYTHONUNBUFFERED=1 (python -u, many container images): each scored line reaches the
    reader as it is written, as with Python's own stdout. The stdout that names its errors
    (flows/cli.py) was first given a buffer of its own: `veille feed --serve` never showed
    its address."""
    import select

    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())", "score"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(SCORED)
        proc.stdin.flush()  # and the input left open: the line must come out now
        readable, _, _ = select.select([proc.stdout], [], [], 120)
        assert readable, "no scored line while the input is still open"
        assert json.loads(proc.stdout.readline())["relevant"] is True
    finally:
        proc.communicate(timeout=120)  # closes the input: score ends
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("argv", "argument"),
    [
        ([b"search", b"sommet \xe9t\xe9"], "query"),
        ([b"sources", b"enable", b"Lib\xe9ration"], "NAME"),
        ([b"sources", b"disable", b"Lib\xe9ration"], "NAME"),
        ([b"sources", b"check", b"Lib\xe9ration"], "NAME"),
        ([b"export", b"--source", b"Lib\xe9ration"], "--source"),
        ([b"feed", b"--title", b"Veille \xe9t\xe9"], "--title"),
    ],
    ids=["search", "enable", "disable", "check", "export", "feed"],
)
def test_an_argument_that_is_not_utf8_is_a_usage_error(
    archive_url: str, argv: list[bytes], argument: str
) -> None:
    """Latin-1 bytes on the command line (a terminal or a script in another encoding): `veille
    search` and `sources enable/disable` ended on the database driver's UnicodeEncodeError
    traceback, `feed --title` dropped the bytes silently. Now a usage error showing them, exit
    2, nothing written."""
    env = {**os.environ, "VEILLE_DATABASE_URL": archive_url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable.encode(), b"-c", b"import sys; from flows.cli import main; sys.exit(main())", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    err = done.stderr.decode("utf-8", "backslashreplace")
    assert done.returncode == 2, err
    assert done.stdout == b""
    assert "Traceback" not in err
    assert f"error: argument {argument}: '" in err and "\\xe9" in err, err
    assert "is not UTF-8 text: veille reads its arguments as UTF-8" in err, err


@pytest.mark.parametrize(
    "encoding",
    [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}],
    ids=["PYTHONIOENCODING=ascii", "C locale"],
)
def test_output_a_stream_cannot_encode_is_escaped_not_a_traceback(encoding: dict[str, str]) -> None:
    """The installed `veille` under a cron job's ASCII stdout: an accent is written as its JSON
    escape (the JSON line still reads as the same text), where score died on UnicodeEncodeError."""
    text = "Le sommet pour l’IA à l’Élysée 🤖, Paris, février 2025"
    unset = ("PYTHONIOENCODING", "PYTHONUTF8", "LANG")
    env = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith("LC_")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("veille")), "score"],
        input=(json.dumps({"text": text}, ensure_ascii=False) + "\n").encode(),
        env={**env, **encoding},
        capture_output=True,
        timeout=300,
    )
    assert b"Traceback" not in done.stderr and done.returncode == 0, done.stderr
    assert done.stdout.isascii()
    assert text in json.loads(done.stdout)["relevance_why"]


def test_errors_named_in_pythonioencoding_are_kept() -> None:
    """`PYTHONIOENCODING=ascii:replace` is the caller's choice: a `?` for what ASCII lacks."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("veille")), "score"],
        input='{"text": "Le sommet à l’Élysée"}\n'.encode(),
        env={**os.environ, "PYTHONIOENCODING": "ascii:replace"},
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert b"Le sommet ? l??lys?e" in done.stdout


@pytest.mark.parametrize("title", ["", "   ", "\t\n"], ids=["empty", "spaces", "blank"])
def test_feed_with_an_empty_title_is_a_usage_error(
    title: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille feed --title ''` gave the default title, as if --title had been ignored, and a
    blank one an Atom feed whose title reads as nothing. Both are usage errors, exit 2, that
    say how to get the default; nothing written."""
    out = tmp_path / "feed.atom"
    with pytest.raises(SystemExit) as ended:
        main(["feed", "--title", title, "-o", str(out)])
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument --title: the feed title is empty ({title!r}): give one, or leave" in err, err
    assert not out.exists()
