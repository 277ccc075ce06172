"""What veille shows users (the Atom feed, `search`, `stories`, exports) with hostile article
content in the archive: characters XML cannot hold, `]]>` and `<script>`, a 100,000-character
title, bidi overrides, line breaks and quotes, a formula-like title, terminal escape sequences,
a NaN and an infinite score, no publication date, URLs with spaces, accents and brackets."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import feedparser
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from flows.cli import main

pytestmark = pytest.mark.usefixtures("prefect_harness")

ATOM = "{http://www.w3.org/2005/Atom}"
# (slug, title, text); PostgreSQL text holds no NUL and no lone surrogate, so those cannot be stored
HOSTILE = [
    ("ctl", "Bell\x07 back\x08 vt\x0b ff\x0c so\x0e us\x1f del\x7f nonchar\ufffe\uffff end", "ctl \x01\x02"),
    ("cdata", "Close ]]> then <script>alert(1)</script> & done", "text ]]> <script>x</script>"),
    ("long", "L" * 100_000, "long text"),
    ("bidi", "abc \u202edlrow\u202c \u2066iso\u2069 rtl", "bidi text"),
    ("csv", 'Line1\nLine2\r\n"quoted", comma;', 'text "q" \r\n x'),
    ("formula", '=HYPERLINK("http://evil","x")', "+1+1"),
    ("ansi", "\x1b[31mRED\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07 \x1b[2J cleared", "ansi \x1b[1m"),
]
SOURCE = "Src \x1b[5mblink"


def url(n: int, slug: str) -> str:
    """A URL with a space and an accent; brackets in the second one's."""
    return f"http://x/{slug} é space/" + ("a[1]=]" if slug == "cdata" else str(n))


@pytest.fixture
def hostile(clean_db: sa.Engine) -> sa.Engine:
    """The HOSTILE articles, all relevant and in one story; the first with a NaN relevance, the
    second an infinite one, the third no publication date."""
    with clean_db.begin() as conn:
        source_id = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES (:n, 'feed', 'http://x/f', 'media') RETURNING id"
            ),
            {"n": SOURCE},
        )
        story_id = conn.scalar(
            sa.text(
                "INSERT INTO stories (first_seen, last_seen, title, language, articles, outlets, media)"
                " VALUES (now(), now(), :t, 'fr\x1b[0m', 7, 1, 1) RETURNING id"
            ),
            {"t": HOSTILE[-1][1]},
        )
        for n, (slug, title, body) in enumerate(HOSTILE):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, description, text,"
                    " text_hash, relevant, relevance, published_at, story_id)"
                    " VALUES (:u, :u, :s, :t, :t, :x || ' sommet', :h, true, :r, :p, :story)"
                ),
                {
                    "u": url(n, slug),
                    "s": source_id,
                    "t": title,
                    "x": body,
                    "h": str(n),
                    "r": [float("nan"), float("inf")][n] if n < 2 else 0.5,
                    "p": None if n == 2 else f"2025-02-10T10:0{n}:00+01:00",
                    "story": story_id,
                },
            )
    return clean_db


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_atom_feed_is_well_formed_xml_whatever_the_articles_hold(
    hostile: sa.Engine, tmp_path: Path
) -> None:
    """A control character, U+FFFE or U+FFFF in one title made the whole feed ill-formed XML,
    unreadable to every feed reader; they are left out, the rest is kept as it is."""
    from monitors.archive.atom import xml_safe

    target = tmp_path / "feed.atom"
    assert run("feed", "--output", str(target)) == (0, "", f"wrote {target}\n")
    body = target.read_bytes()
    root = ET.fromstring(body)  # a real XML parser: raises on an ill-formed document
    entries = {unquote(e.findtext(f"{ATOM}id") or ""): e for e in root.iter(f"{ATOM}entry")}
    assert len(entries) == len(HOSTILE)
    for n, (slug, title, _) in enumerate(HOSTILE):
        entry = entries[url(n, slug)]
        shown = entry.findtext(f"{ATOM}title")
        assert shown == xml_safe(title).replace("\r\n", "\n"), slug  # XML reads CR LF as LF
        assert unquote(entry.find(f"{ATOM}link").get("href")) == url(n, slug)  # type: ignore[union-attr,arg-type]
        assert entry.findtext(f"{ATOM}author/{ATOM}name") == xml_safe(SOURCE)
        assert (entry.find(f"{ATOM}published") is None) == (slug == "long")  # no publication date
    assert entries[url(0, "ctl")].findtext(f"{ATOM}title") == "Bell back vt ff so us del\x7f nonchar end"
    assert entries[url(1, "cdata")].findtext(f"{ATOM}title") == HOSTILE[1][1]  # ]]> and <script> as text
    assert len(entries[url(2, "long")].findtext(f"{ATOM}title") or "") == 100_000
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(HOSTILE)


# What RFC 3987 leaves out of an IRI: space, controls, "<>\"{}|\\^`", a "%" that starts no
# escape, brackets after the host, bidi controls
_NOT_IRI = re.compile(
    r"[\x00-\x20\x7f-\x9f<>\"{}|\\^`\u200e\u200f\u202a-\u202e\u2066-\u2069]|%(?![0-9A-Fa-f]{2})"
)


def test_atom_ids_and_links_are_iris(hostile: sa.Engine, tmp_path: Path) -> None:
    """RFC 4287 wants IRIs: an entry's id and link were the URL as stored, a raw space or
    bracket in them, which strict readers refuse. They are percent-encoded where an IRI cannot
    hold a character (accents stay), and decode back to the stored URL."""
    from monitors.archive.atom import atom_feed, iri

    target = tmp_path / "feed.atom"
    assert run("feed", "--output", str(target))[0] == 0
    root = ET.fromstring(target.read_bytes())
    ids = [e.findtext(f"{ATOM}id") or "" for e in root.iter(f"{ATOM}entry")]
    hrefs = [link.get("href") or "" for link in root.iter(f"{ATOM}link")]
    assert len(ids) == len(HOSTILE) and len(hrefs) == len(HOSTILE)
    for value in ids + hrefs:
        assert not _NOT_IRI.search(value) and "[" not in value.split("//", 1)[1].split("/", 1)[1], value
    assert sorted(unquote(i) for i in ids) == sorted(url(n, slug) for n, (slug, _, _) in enumerate(HOSTILE))
    assert iri(url(1, "cdata")) == "http://x/cdata%20é%20space/a%5B1%5D=%5D"
    served = ET.fromstring(atom_feed([], title="t", self_url="http://x/feed here.atom"))
    assert served.find(f"{ATOM}link").get("href") == "http://x/feed%20here.atom"  # type: ignore[union-attr]
    # a valid IRI is kept as it is (its entry keeps its id in the readers), escapes too
    for valid in ("https://ex.fr/caf%C3%A9/été?q=1&r=2#haut", "http://[::1]:8080/a", "urn:veille:relevant"):
        assert iri(valid) == valid
    assert iri("https://ex.fr/100%/\u202eevil\x07#a#b") == "https://ex.fr/100%25/%E2%80%AEevil%07#a%23b"


def test_search_shows_escape_sequences_not_obey_them(hostile: sa.Engine) -> None:
    """`veille search` printed titles, snippets and source names as they are: an ESC sequence
    (a colour, ESC [2J clearing the screen, an OSC 8 link) acted on the reader's terminal. Now
    control characters are shown (ESC as ␛) and line breaks as spaces."""
    code, out, err = run("search", "ansi")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert "␛[31mRED␛[0m ␛]8;;http://evil␇link␛]8;;␇ ␛[2J cleared" in out
    assert "Src ␛[5mblink" in out and "ansi ␛[1m" in out
    code, out, err = run("search", "sommet")
    assert code == 0, err
    assert not any(ord(c) < 32 and c != "\n" or 0x7F <= ord(c) < 0xA0 for c in out)
    assert 'Line1 Line2 "quoted", comma;' in out  # a title on one line
    assert "us␟ del␡ nonchar" in out
    for n, (slug, _, _) in enumerate(HOSTILE):
        assert url(n, slug) in out
    code, out, err = run("search", "sommet", "--json")  # JSON escapes control characters itself
    assert code == 0, err
    titles = [json.loads(line)["title"] for line in out.splitlines()]
    assert sorted(titles) == sorted(t for _, t, _ in HOSTILE)


def test_search_shows_brackets_and_markup_as_they_are(hostile: sa.Engine) -> None:
    """A "]" in an article's URL ended `veille search` with a rich MarkupError traceback (the
    URL went into console markup unescaped)."""
    code, out, err = run("search", "Close")
    assert code == 0, err
    assert url(1, "cdata") in out and HOSTILE[1][1] in out


def test_stories_show_escape_sequences_not_obey_them(hostile: sa.Engine) -> None:
    """`veille stories` printed a story's title, language and outlet names as they are."""
    code, out, err = run("stories")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert "␛[31mRED␛[0m" in out and "first: Src ␛[5mblink" in out and "language fr␛[0m" in out


def test_a_jsonl_export_is_strict_json(hostile: sa.Engine) -> None:
    """A NaN or infinite relevance was written as bare NaN / Infinity: not JSON (JSON.parse,
    PostgreSQL's jsonb refuse it; jq turned Infinity into 1.797e308). It is null now."""
    code, out, err = run("export", "--no-progress")
    assert code == 0, err

    def strict(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    records = {r["url"]: r for r in (json.loads(line, parse_constant=strict) for line in out.splitlines())}
    assert records[url(0, "ctl")]["relevance"] is None and records[url(1, "cdata")]["relevance"] is None
    assert records[url(3, "bidi")]["relevance"] == 0.5
    assert records[url(2, "long")]["published_at"] is None
    for n, (slug, title, body) in enumerate(HOSTILE):  # the rest as stored, to the character
        assert (records[url(n, slug)]["title"], records[url(n, slug)]["text"]) == (title, body + " sommet")


def test_json_outputs_escape_del_and_c1_and_write_no_nan(hostile: sa.Engine) -> None:
    """`search --json`, `stories --json` and the JSON lines export wrote DEL and the C1 controls
    as they are (JSON allows them, but a terminal obeys C1's CSI and OSC as it does ESC, which
    JSON writes escaped); the export's `topics` wrote a NaN or infinite topic score as the
    string "NaN" (PostgreSQL's json) where `relevance` is null. All read back as stored."""
    c1 = "C1 \x9b31m csi \x9d8;;http://evil\x9c osc \x85 nel \x7f del"
    with hostile.begin() as conn:
        source_id, story_id, ctl = conn.execute(
            sa.text("SELECT source_id, story_id, id FROM articles WHERE url = :u"), {"u": url(0, "ctl")}
        ).one()
        conn.execute(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, relevant,"
                " relevance, story_id) VALUES ('http://x/c1', 'http://x/c1', :s, :t, 'csi sommet', 'c1',"
                " true, 0.5, :story)"
            ),
            {"s": source_id, "t": c1, "story": story_id},
        )
        conn.execute(sa.text("UPDATE stories SET title = :t"), {"t": c1})
        for topic, score in (("a", "NaN"), ("b", "Infinity"), ("c", "0.25")):
            conn.execute(
                sa.text(
                    "INSERT INTO article_topics (article_id, topic, version, score, relevant)"
                    " VALUES (:a, :t, 'v1', CAST(:s AS real), true)"
                ),
                {"a": ctl, "t": topic, "s": score},
            )

    def strict(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    def lines(*argv: str) -> list[dict]:
        code, out, err = run(*argv)
        assert code == 0, err
        assert not any(0x7F <= ord(c) <= 0x9F for c in out), argv
        return [json.loads(line, parse_constant=strict) for line in out.splitlines()]

    assert [r["title"] for r in lines("search", "csi", "--json")] == [c1]
    assert [r["title"] for r in lines("stories", "--json")] == [c1]
    records = {r["url"]: r for r in lines("export", "--no-progress")}
    assert records["http://x/c1"]["title"] == c1
    assert records[url(0, "ctl")]["topics"] == {"a": None, "b": None, "c": 0.25}
    assert records[url(0, "ctl")]["relevance"] is None


def test_csv_and_parquet_exports_read_back_as_stored(hostile: sa.Engine, tmp_path: Path) -> None:
    """(Behaved already: a guard.) The csv module and pyarrow read back every title and text
    as stored: line breaks, quotes, bidi controls, and a formula-like title unchanged
    (docs/operating.md says why veille does not prefix it with ')."""
    import pyarrow.parquet as pq

    table = tmp_path / "a.csv"
    assert run("export", "--format", "csv", "--no-progress", "-o", str(table))[0] == 0
    with table.open(encoding="utf-8", newline="") as f:
        rows = {r["url"]: r for r in csv.DictReader(f)}
    parquet = tmp_path / "a.parquet"
    assert run("export", "--format", "parquet", "--no-progress", "-o", str(parquet))[0] == 0
    records = {r["url"]: r for r in pq.read_table(parquet).to_pylist()}
    for n, (slug, title, body) in enumerate(HOSTILE):
        for row in (rows[url(n, slug)], records[url(n, slug)]):
            assert (row["title"], row["text"], row["source"]) == (title, body + " sommet", SOURCE), slug
    assert rows[url(5, "formula")]["title"].startswith("=HYPERLINK(")
    assert rows[url(2, "long")]["published_at"] == "" and records[url(2, "long")]["published_at"] is None
    relevance = records[url(0, "ctl")]["relevance"]
    assert relevance != relevance and records[url(1, "cdata")]["relevance"] == float("inf")  # NaN, inf


def test_a_csv_export_for_a_spreadsheet_neutralises_formulas(hostile: sa.Engine, tmp_path: Path) -> None:
    """A title such as `=HYPERLINK(...)` went into every CSV export as it is, a formula to the
    spreadsheet that opens the file; there was no way to ask for a file safe to open there.
    `--spreadsheet` puts a `'` before each text cell a spreadsheet evaluates (= + - @, a tab,
    a carriage return) and leaves every other cell, numbers included, as the plain export."""
    from monitors.archive.export import FORMULA_START

    plain, safe = tmp_path / "plain.csv", tmp_path / "safe.csv"
    assert run("export", "--format", "csv", "--no-progress", "-o", str(plain))[0] == 0
    assert run("export", "--format", "csv", "--spreadsheet", "--no-progress", "-o", str(safe)) == (
        0,
        "",
        f"exported {len(HOSTILE)} articles\n",
    )

    def rows(path: Path) -> dict[str, dict[str, str]]:
        with path.open(encoding="utf-8", newline="") as f:
            return {r["id"]: r for r in csv.DictReader(f)}

    before, after = rows(plain), rows(safe)
    assert after.keys() == before.keys()
    changed = 0
    for key, row in before.items():
        for column, cell in row.items():
            if cell.startswith(FORMULA_START):
                assert after[key][column] == "'" + cell, column
                changed += 1
            else:
                assert after[key][column] == cell, column
    by_url = {r["url"]: r for r in after.values()}
    assert by_url[url(5, "formula")]["title"] == "'" + HOSTILE[5][1]
    assert by_url[url(5, "formula")]["text"] == "'+1+1 sommet"
    assert changed == 3  # the formula's title, description and text
    code, out, err = run("export", "--spreadsheet", "--no-progress")
    assert (code, out, err) == (2, "", "veille: error: --spreadsheet is for --format csv (not jsonl)\n")


def test_tables_show_control_characters_not_obey_them() -> None:
    """The tables of `stats`, `sources`, `run` (print_table) printed cells as they are: an error
    message or a name holding an ESC sequence acted on the terminal."""
    from flows.commands.common import print_table

    out = io.StringIO()
    print_table(
        [{"name": "Src \x1b[5mblink", "last_error": "HTTP 500: \x1b]8;;http://evil\x07x\r\nmore"}], out
    )
    assert out.getvalue().splitlines()[1] == "Src ␛[5mblink  HTTP 500: ␛]8;;http://evil␇x more"


def _bidi_depth(line: str, upto: int) -> int:
    """How many bidirectional embeddings, overrides and isolates are open before ``upto`` in
    ``line`` (paired as UAX #9 pairs them)."""
    stack: list[str] = []
    for char in line[:upto]:
        if char in "\u202a\u202b\u202d\u202e":
            stack.append("e")
        elif char in "\u2066\u2067\u2068":
            stack.append("i")
        elif char == "\u202c" and stack and stack[-1] == "e":
            stack.pop()
        elif char == "\u2069" and "i" in stack:
            while stack.pop() != "i":
                pass
    return len(stack)


OPEN_BIDI = [
    "Titre \u202einversé",
    "RLE \u202b dans \u2067 un isolat",
    "fermé \u202e ok \u202c \u2069 orphelin",
]


def test_an_unclosed_bidi_override_does_not_reverse_the_rest_of_the_line(clean_db: sa.Engine) -> None:
    """A title or a name that opens a right-to-left override (U+202E) or isolate and does not
    close it reordered what the line printed after it: in `veille search` the source, the date
    and the rank; in a table the next cells (the error). Each is closed at the end of its value;
    right-to-left text and balanced controls are shown as they are."""
    from flows.commands.common import print_table, terminal_safe

    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Journal \u202e', 'feed', 'http://j/', 'media') RETURNING id"
            )
        )
        for n, title in enumerate(OPEN_BIDI):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash)"
                    " VALUES (:u, :u, :s, :t, 'Le sommet de Paris.', :h)"
                ),
                {"u": f"http://j/{n}", "s": source, "t": title, "h": f"h{n}"},
            )
    code, out, err = run("search", "sommet")
    assert code == 0, err
    heads = [line for line in out.splitlines() if line[:3] in {"1. ", "2. ", "3. "}]
    assert len(heads) == 3
    for line in heads:
        after_title = line.index("  Journal")
        assert _bidi_depth(line, after_title) == 0, line
        assert _bidi_depth(line, line.index(" (media)")) == 0, line  # the source name's own RLO
    table = io.StringIO()
    print_table([{"name": OPEN_BIDI[1], "error": "HTTP 500"}], table)
    row = table.getvalue().splitlines()[1]
    assert _bidi_depth(row, row.index("HTTP 500")) == 0
    assert terminal_safe("مرحبا \u202bعربي\u202c \u2067x\u2069") == "مرحبا \u202bعربي\u202c \u2067x\u2069"
    assert terminal_safe(OPEN_BIDI[0]) == OPEN_BIDI[0] + "\u202c"
    assert terminal_safe(OPEN_BIDI[1]) == OPEN_BIDI[1] + "\u2069\u202c"


def test_a_very_long_title_is_shortened_on_the_terminal_and_whole_in_json(hostile: sa.Engine) -> None:
    """`veille search` and `veille stories` printed a 100,000-character title whole: one hit
    filled the screen. The terminal shows 300 characters of it (its start and end, cut in the
    middle); `--json` keeps it whole."""
    code, out, err = run("search", "long")
    assert code == 0, err
    (head,) = [line for line in out.splitlines() if line.startswith("1. ")]
    assert head.startswith("1. " + "L" * 200) and "…" in head and len(head) < 400
    assert len(out) < 2_000
    code, out, err = run("search", "long", "--json")
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["title"] == "L" * 100_000
    code, out, err = run("stories")
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) < 1_000


def test_a_long_value_cut_in_the_middle_leaves_no_bidi_control_open() -> None:
    """A value that closes its override (or isolate) itself, past the part `terminal_line` cuts
    out, kept its opening and lost its closing: the cut title reversed the source, date and rank
    printed after it, as an unclosed one did. What is left after the cut is closed."""
    from flows.commands.common import terminal_line

    for opening, closing in (("\u202e", "\u202c"), ("\u2067", "\u2069"), ("\u202b\u2066", "\u2069\u202c")):
        value = opening + "a" * 1_000 + closing + "b" * 1_000
        line = terminal_line(value)
        assert line.startswith(opening + "a") and "…" in line and len(line) <= 300 + len(opening), line
        assert _bidi_depth(line, len(line)) == 0, repr(line[:5] + line[-5:])
    assert terminal_line("\u202eshort\u202c") == "\u202eshort\u202c"


def test_a_long_cell_cut_in_a_table_leaves_no_bidi_control_open() -> None:
    """The same in the tables (``print_table``: a cell past 60 characters is cut in the
    middle): the name's override reversed the next cells (the error)."""
    from flows.commands.common import print_table

    table = io.StringIO()
    print_table([{"name": "\u202e" + "a" * 100 + "\u202c" + "b" * 100, "error": "HTTP 500"}], table)
    row = table.getvalue().splitlines()[1]
    assert row.startswith("\u202ea") and "…" in row
    assert _bidi_depth(row, row.index("HTTP 500")) == 0, repr(row)


def test_a_long_title_cut_in_a_report_leaves_no_bidi_control_open() -> None:
    """The same in the run and maintenance reports (``markdown_text``, 300 characters): the
    title's override reversed the cells after it in the report's table."""
    from flows.artifacts import markdown_text

    cell = markdown_text("\u202e" + "a" * 1_000 + "\u202c" + "b" * 1_000)
    assert cell.startswith("\u202ea") and "…" in cell
    assert _bidi_depth(cell, len(cell)) == 0, repr(cell[:5] + cell[-5:])


def test_a_story_of_outlets_with_long_names_lists_them_on_one_short_line(hostile: sa.Engine) -> None:
    """`veille stories` cut a story's title and first publisher to 300 characters but printed its
    outlets' names whole: source names may be 500 characters long, so three such outlets made a
    line of 1,500. The outlets' list is cut as the title is; `--json` keeps the names whole."""
    names = [f"Outlet {n} " + "N" * 490 for n in range(3)]
    with hostile.begin() as conn:
        story_id = conn.scalar(sa.text("SELECT story_id FROM articles LIMIT 1"))
        for n, name in enumerate(names):
            source_id = conn.scalar(
                sa.text(
                    "INSERT INTO sources (name, kind, url, owner)"
                    " VALUES (:n, 'feed', :u, 'media') RETURNING id"
                ),
                {"n": name, "u": f"http://x/long{n}"},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash,"
                    " relevant, published_at, story_id)"
                    " VALUES (:u, :u, :s, 'Long outlet', 'sommet', :h, true, now(), :story)"
                ),
                {"u": f"http://x/long{n}/a", "s": source_id, "h": f"long{n}", "story": story_id},
            )
    code, out, err = run("stories")
    assert code == 0, err
    (outlets,) = [line for line in out.splitlines() if "outlets: " in line]
    assert "Outlet 0" in outlets and "…" in outlets
    assert len(outlets.split("outlets: ", 1)[1]) <= 301, len(outlets)
    code, out, err = run("stories", "--json")
    assert code == 0, err
    listed = json.loads(out.splitlines()[0])
    assert set(names) <= set(listed.get("outlets_list") or listed.get("outlet_names") or []), listed.keys()


def test_dates_python_cannot_hold_read_as_none_everywhere(clean_db: sa.Engine, tmp_path: Path) -> None:
    """PostgreSQL holds dates Python cannot: infinity, -infinity, a year BC or past 9999. One
    article with such a date (written by hand or by another program: veille writes none)
    stopped `search`, `feed`, `export` and `stats` with psycopg's DataError traceback. They read
    as none (an undated article), every other date as stored."""
    odd = {"inf": "infinity", "bc": "0044-03-15 12:00:00+00 BC", "big": "12025-01-01 00:00:00+00"}
    with clean_db.begin() as conn:
        source_id = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('S', 'feed', 'http://x/f', 'media') RETURNING id"
            )
        )
        story_id = conn.scalar(
            sa.text(
                "INSERT INTO stories (first_seen, last_seen, title, language, articles, outlets, media)"
                " VALUES ('-infinity', 'infinity', 'Sommet', 'fr', 4, 1, 1) RETURNING id"
            )
        )
        for slug, published in [*odd.items(), ("ok", "2025-02-10 10:00:00+01")]:
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, relevant,"
                    " relevance, published_at, fetched_at, story_id)"
                    " VALUES (:u, :u, :s, :t, :t, :t, true, 0.5, CAST(:p AS timestamptz),"
                    " CAST(:f AS timestamptz), :story)"
                ),
                {
                    "u": f"http://x/{slug}",
                    "s": source_id,
                    "t": f"sommet {slug}",
                    "p": published,
                    "f": "-infinity" if slug == "inf" else "2025-02-11 10:00:00+00",
                    "story": story_id,
                },
            )
    commands = (
        ["search", "sommet"],
        ["stories"],
        ["stories", "--json"],
        ["stats"],
        ["feed", "-o", str(tmp_path / "f.atom")],
    )
    for argv in commands:
        code, _, err = run(*argv)
        assert (code, "Traceback" in err) == (0, False), (argv, err)
    code, out, err = run("search", "sommet", "--json")
    assert code == 0, err
    dates = {json.loads(line)["url"]: json.loads(line)["published_at"] for line in out.splitlines()}
    assert dates == {
        "http://x/inf": None,
        "http://x/bc": None,
        "http://x/big": None,
        "http://x/ok": "2025-02-10T09:00:00+00:00",  # no offset in its evidence: UTC
    }
    code, out, err = run("export", "--no-progress")
    assert code == 0, err
    records = {r["url"]: r for r in map(json.loads, out.splitlines())}
    assert [records[f"http://x/{slug}"]["published_at"] for slug in odd] == [None, None, None]
    assert records["http://x/inf"]["fetched_at"] is None
    assert records["http://x/ok"]["fetched_at"] == "2025-02-11T10:00:00+00:00"
    from monitors.archive.db import _unrepresentable

    for plain in (
        b"2025-02-10 10:00:00+01",
        b"0001-01-01",
        b"9999-12-31 23:59:59.999999+00",
        b"1995-01-01 00:00:00",
    ):
        assert not _unrepresentable(plain) and not _unrepresentable(memoryview(plain))


#: every view with a day, and its day column
VIEW_DAYS = {
    "articles_with_source": "day",
    "relevant_sightings": "day",
    "daily_relevant_by_source": "day",
    "daily_relevant_by_owner": "day",
    "daily_relevant_by_family": "day",
    "topic_relevant_sightings": "day",
    "daily_topic_relevant_by_source": "day",
    "daily_topic_relevant_by_owner": "day",
    "daily_topic_relevant_by_family": "day",
    "article_topics_with_source": "day",
    "stories_by_day": "day",
    "story_outlets": "first_day",
    "wire_copies": "dispatch_day",
}


def test_the_views_give_no_day_to_a_date_the_commands_read_as_none(clean_db: sa.Engine) -> None:
    """An article dated 'infinity', '-infinity', a year BC or after 9999 (written by hand: veille
    writes none) is undated in the commands, but the views gave it a day: infinity, a BC day,
    the year 12025, which sorted before or after every real day, so `veille stats` read none as
    the first and last relevant day. Every view's day is NULL for it (SQL users and the
    commands agree); veille_day(instant) gives the same in one's own query (the cookbook's)."""
    odd = {
        "inf": "infinity",
        "neg": "-infinity",
        "bc": "0044-03-15 12:00:00+00 BC",
        "big": "12025-01-01 00:00:00+00",
    }
    with clean_db.begin() as conn:
        source_id = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner, family)"
                " VALUES ('S', 'feed', 'http://x/f', 'media', 'centre') RETURNING id"
            )
        )
        for slug, published in [*odd.items(), ("ok", "2025-02-10 23:30:00+00")]:
            # each its own story and dispatch, so that every grouped view has a row of it alone
            story_id = conn.scalar(
                sa.text(
                    "INSERT INTO stories (first_seen, last_seen, title, language, articles, outlets, media)"
                    " VALUES (now(), now(), :t, 'fr', 1, 1, 1) RETURNING id"
                ),
                {"t": slug},
            )
            article_id = conn.scalar(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, relevant,"
                    " relevance, published_at, fetched_at, story_id, wire)"
                    " VALUES (:u, :u, :s, :t, :t, :t, true, 0.5, CAST(:p AS timestamptz),"
                    " CAST(:p AS timestamptz), :story, 'AFP') RETURNING id"
                ),
                {
                    "u": f"http://x/{slug}",
                    "s": source_id,
                    "t": f"sommet {slug}",
                    "p": published,
                    "story": story_id,
                },
            )
            conn.execute(
                sa.text("INSERT INTO sightings (article_id, source_id, url) VALUES (:a, :s, :u)"),
                {"a": article_id, "s": source_id, "u": f"http://x/{slug}"},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO article_topics (article_id, topic, version, score, relevant)"
                    " VALUES (:a, 'ai_summit', 'v1', 0.9, true)"
                ),
                {"a": article_id},
            )
    with clean_db.connect() as conn:
        for view, column in VIEW_DAYS.items():
            days = conn.execute(sa.text(f"SELECT CAST({column} AS text) FROM {view}")).scalars().all()
            # 23:30 UTC is the 11th in Paris (the local clock the views keep, migration 0025)
            assert set(days) == {"2025-02-11", None}, (view, days)  # the grouped views: one NULL day
        recipe = conn.execute(
            sa.text(
                "SELECT CAST(veille_day(published_at) AS text) AS day FROM search_articles('sommet', 20)"
                " ORDER BY day"
            )
        ).scalars()
        assert list(recipe) == ["2025-02-11", None, None, None, None]
    code, out, err = run("stats", "--json")
    assert code == 0, err
    totals = json.loads(out)["totals"][0]
    assert (totals["first_relevant_day"], totals["last_relevant_day"]) == ("2025-02-11", "2025-02-11")
    code, out, err = run("stats", "--topic", "ai_summit", "--json")
    assert code == 0, err
    stats = json.loads(out)
    assert stats["by_day"] == [{"day": "2025-02-11", "relevant": 1}], stats  # days only: none of the odd ones


def test_the_views_first_publication_ignores_a_date_the_commands_read_as_none(clean_db: sa.Engine) -> None:
    """story_outlets and wire_copies took the earliest instant as written: an outlet whose article
    is dated '-infinity' or a year BC (written by hand: veille writes none) was the story's first
    publisher (rank 1, and `veille stories`' first, "undated") and that article the dispatch
    (its time and title) of the wire copies, where 0042 gives it no day. Such a date is
    ignored there now, as the days do: the dated outlet ranks first, the odd ones after."""
    dated = {
        "neg": "-infinity",
        "bc": "0044-03-15 12:00:00+00 BC",
        "ok": "2025-02-10 08:00:00+00",
        "big": "12025-01-01 00:00:00+00",
        "inf": "infinity",
    }
    with clean_db.begin() as conn:
        story_id = conn.scalar(
            sa.text(
                "INSERT INTO stories (first_seen, last_seen, title, language, articles, outlets, media)"
                " VALUES (now(), now(), 'sommet', 'fr', 5, 5, 5) RETURNING id"
            )
        )
        cluster_id = None
        for slug, published in dated.items():
            source_id = conn.scalar(
                sa.text(
                    "INSERT INTO sources (name, kind, url, owner, family)"
                    " VALUES (:n, 'feed', :u, 'media', 'centre') RETURNING id"
                ),
                {"n": f"S-{slug}", "u": f"http://{slug}/f"},
            )
            # one dispatch: the copies point at the first article inserted
            article_id = conn.scalar(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, relevant,"
                    " relevance, published_at, fetched_at, story_id, wire, cluster_id)"
                    " VALUES (:u, :u, :s, :t, :t, :t, true, 0.5, CAST(:p AS timestamptz),"
                    " '2025-02-12 10:00:00+00', :story, 'AFP', :c) RETURNING id"
                ),
                {
                    "u": f"http://{slug}/a",
                    "s": source_id,
                    "t": f"sommet {slug}",
                    "p": published,
                    "story": story_id,
                    "c": cluster_id,
                },
            )
            cluster_id = cluster_id or article_id
            conn.execute(
                sa.text("INSERT INTO sightings (article_id, source_id, url) VALUES (:a, :s, :u)"),
                {"a": article_id, "s": source_id, "u": f"http://{slug}/a"},
            )
    with clean_db.connect() as conn:
        outlets = conn.execute(
            sa.text(
                "SELECT source, CAST(first_published AS text), publication_rank, a.title"
                " FROM story_outlets o JOIN articles a ON a.id = o.first_article_id"
                " WHERE o.story_id = :s ORDER BY publication_rank, source"
            ),
            {"s": story_id},
        ).all()
        assert [tuple(row) for row in outlets] == [
            ("S-ok", "2025-02-10 08:00:00+00", 1, "sommet ok"),
            ("S-bc", None, 2, "sommet bc"),
            ("S-big", None, 2, "sommet big"),
            ("S-inf", None, 2, "sommet inf"),
            ("S-neg", None, 2, "sommet neg"),
        ], outlets
        dispatch = conn.execute(
            sa.text(
                "SELECT DISTINCT CAST(dispatch_published_at AS text), dispatch_title,"
                " CAST(dispatch_day AS text), count(*) OVER () FROM wire_copies"
            )
        ).all()
        assert [tuple(row) for row in dispatch] == [("2025-02-10 08:00:00+00", "sommet ok", "2025-02-10", 5)]
    code, out, err = run("stories", "--json")
    assert code == 0, err
    (story,) = [json.loads(line) for line in out.splitlines()]
    first = (story["first_publisher"], story["first_published"])
    assert first == ("S-ok", "2025-02-10T08:00:00+00:00"), story


#: instants at and about the ends of years 1 to 9999, and a plain one
EDGES = [
    "-infinity",
    "0044-03-15 12:00:00+00 BC",
    "0001-12-02 00:00:00+00 BC",
    "0001-12-31 23:59:59.999999+00 BC",
    "0001-01-01 00:00:00+00",
    "0001-01-01 12:00:00+00",
    "0001-01-08 23:59:59+00",
    "0001-01-09 00:00:01+00",
    "2025-02-10 23:30:00+00",
    "9999-12-22 23:59:59+00",
    "9999-12-23 00:00:01+00",
    "9999-12-31 12:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "10000-01-01 00:00:00+00",
    "10000-01-31 00:00:00+00",
    "12025-01-01 00:00:00+00",
    "infinity",
]
#: the first and last instants PostgreSQL holds: on a clock west or east of UTC, a local time
#: out of its range
EXTREMES = ["4714-11-24 00:00:00+00 BC", "294276-12-31 23:59:59.999999+00"]
#: clocks east and west of UTC, to the farthest PostgreSQL takes (POSIX: 167 hours, 169 in summer)
CLOCKS = (
    "Europe/Paris",
    "America/New_York",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "<+167>-167",
    "<-167>+167",
    "XYZ-167:59:59ABC,M3.2.0,M11.1.0",
)


def test_the_views_day_is_0042_s_on_every_clock_at_the_ends_of_the_years(db: Session) -> None:
    """Migration 0048 writes the views' day as 0025's bare cast when the instant is eight days or
    more inside years 1 to 9999, as 0042's veille_day(instant, clock) within a month of their
    ends and NULL further out: the day is veille_day's for every instant it reads, on clocks
    east and west of UTC, NULL where the local day leaves years 1 to 9999. The first and last
    instants PostgreSQL holds have none either, in the views and through veille_day, where 0025
    and 0042 failed the whole query ("timestamp out of range": their local time on a clock west
    or east of UTC is out of PostgreSQL's range)."""
    conn = db.connection()
    source_id = conn.scalar(
        sa.text(
            "INSERT INTO sources (name, kind, url, owner, family)"
            " VALUES ('S', 'feed', 'http://x/f', 'media', 'centre') RETURNING id"
        )
    )
    for n, instant in enumerate([*EDGES, *EXTREMES]):
        conn.execute(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, text, text_hash, relevant,"
                " published_at, fetched_at) VALUES (:u, :u, :s, 't', :u, true, CAST(:p AS timestamptz),"
                " '2025-02-12 10:00:00+00')"
            ),
            {"u": f"http://x/{n}", "s": source_id, "p": instant},
        )
    conn.execute(
        sa.text("INSERT INTO sightings (article_id, source_id, url) SELECT id, source_id, url FROM articles")
    )
    days: dict[str, dict[str, str | None]] = {}
    for zone in CLOCKS:
        conn.execute(sa.text("UPDATE veille_settings SET local_timezone = :z"), {"z": zone})
        expected: dict[str, str | None] = dict(
            conn.execute(
                sa.text(
                    "SELECT url, CAST(veille_day(coalesce(published_at, fetched_at), :z) AS text)"
                    " FROM articles"
                ),
                {"z": zone},
            ).all()
        )
        own = conn.execute(
            sa.text("SELECT url, CAST(veille_day(coalesce(published_at, fetched_at)) AS text) FROM articles")
        ).all()
        assert dict(own) == expected, zone  # one's own query's day, on the stored clock
        for view in ("articles_with_source", "relevant_sightings"):
            found = conn.execute(sa.text(f"SELECT url, CAST(day AS text) FROM {view}")).all()
            assert dict(found) == expected and len(found) == len(expected), (zone, view, found)
        days[zone] = expected
    # the ends fall on both sides: a day at 9999-12-31 23:59 UTC west of UTC, none east of it
    assert (days["America/New_York"]["http://x/12"], days["Europe/Paris"]["http://x/12"]) == (
        "9999-12-31",
        None,
    )
    assert (days["America/New_York"]["http://x/4"], days["Europe/Paris"]["http://x/4"]) == (
        None,
        "0001-01-01",
    )
    # the nearest instants to the ends where the views take the bare cast, 167 hours off
    assert days["<-167>+167"]["http://x/7"] == "0001-01-02"
    assert days["<+167>-167"]["http://x/9"] == "9999-12-29"
    assert days["Europe/Paris"]["http://x/8"] == "2025-02-11"
    assert {days[zone][f"http://x/{n}"] for zone in CLOCKS for n in (0, 1, 2, 14, 15, 16, 17, 18)} == {None}


@pytest.mark.parametrize("view", VIEW_DAYS)
def test_a_dated_row_s_day_in_the_views_is_the_bare_cast_behind_a_range_test(db: Session, view: str) -> None:
    """0042's day, veille_day(instant, (SELECT veille_local_timezone())), is inlined but clamps
    and nullifs every row's local day (four calls of date comparisons, about 20 ns a row: 4-7%
    more of the server's CPU than 0025's bare cast grouping 300,000 articles by day,
    bench/view_days.py). Migration 0048: every day in every view's plan is 0025's bare cast
    behind two comparisons of the instant, veille_day (inlined) only after it, for the ends of
    years 1 to 9999; the clock is an InitPlan (no SubPlan: read once per query)."""
    conn = db.connection()
    column = VIEW_DAYS[view]
    plan = "\n".join(
        conn.execute(sa.text(f"EXPLAIN (VERBOSE, COSTS OFF) SELECT {column} FROM {view}")).scalars()
    )
    assert "veille_day(" not in plan and "SubPlan" not in plan, plan
    casts = re.findall(
        r"THEN \(\(\S+(?: \S+)? AT TIME ZONE \$\d+\)\)::date WHEN .*? THEN NULLIF\(NULLIF\(GREATEST", plan
    )
    assert casts and len(casts) * 2 == plan.count("AT TIME ZONE"), plan
