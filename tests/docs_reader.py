"""What a Markdown page shows a user as code, read once for every docs test: fenced blocks
(at any indentation: one inside a list item too), indented blocks (4 spaces or more, after a
blank line: inside a list item too) and inline code spans, and the SQL statements among them.

tests/test_docs.py runs the commands and the SQL read here; tests that run one page's queries
against a richer archive (tests/test_archive_backfill.py, tests/test_export.py) read them here
too, so a block the docs move into a list item is still run."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: a statement a reader can paste into psql as it is
SQL_OPENING = re.compile(r"(?:SELECT|WITH|UPDATE|DELETE|INSERT)\b")
#: an inline span holding a whole statement, not a keyword or a fragment (`UPDATE sightings`)
WHOLE_STATEMENT = re.compile(
    r"(?:SELECT|WITH)\b.*\bFROM\b.*|UPDATE \w+ SET\b.*|DELETE FROM\b.*|INSERT INTO\b.*", re.S
)
_FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass(frozen=True)
class Code:
    kind: str  # "fenced", "indented" or "inline"
    lang: str  # a fenced block's info word ("sql", "sh"), else ""
    text: str  # dedented; an inline span's on one line
    line: int  # where it starts, 1-based


def read_code(text: str) -> list[Code]:
    """Every fenced block, indented block and inline span of a Markdown text, in order."""
    found, prose = _blocks(text)
    paragraph = "\n".join(line for _, line in prose)
    numbers = [n for n, _ in prose]
    for span in re.finditer(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", paragraph, flags=re.S):
        at = numbers[paragraph.count("\n", 0, span.start())] if numbers else 1
        found.append(Code("inline", "", " ".join(span[2].split()), at))
    return sorted(found, key=lambda c: c.line)


def headings(text: str) -> list[str]:
    """The text of each ATX heading (`## ...`) outside code blocks, in order."""
    _, prose = _blocks(text)
    return [m[1] for _, line in prose if (m := re.match(r"^#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", line))]


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation but - and _ out,
    spaces as -, a repeated one numbered (-1, -2)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in headings(text):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def _blocks(text: str) -> tuple[list[Code], list[tuple[int, str]]]:
    """The fenced and indented blocks of a text, and its other lines with their numbers."""
    found: list[Code] = []
    lines = text.splitlines()
    prose: list[tuple[int, str]] = []  # lines outside blocks, for the inline spans
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            indent, mark, lang = len(fence[1]), fence[2], fence[3].lower()
            body: list[str] = []
            i += 1
            while i < len(lines) and not re.match(rf"^ *{re.escape(mark[0])}{{{len(mark)},}}\s*$", lines[i]):
                body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i].lstrip())
                i += 1
            found.append(Code("fenced", lang, "\n".join(body), i - len(body)))
            i += 1
            continue
        blank_before = i == 0 or not lines[i - 1].strip()
        if line.startswith("    ") and line.strip() and blank_before:
            indent = len(line) - len(line.lstrip(" "))
            start, body = i, []
            while i < len(lines) and (
                lines[i].startswith(" " * indent)
                or (not lines[i].strip() and i + 1 < len(lines) and lines[i + 1].startswith(" " * indent))
            ):
                body.append(lines[i][indent:])
                i += 1
            found.append(Code("indented", "", "\n".join(body).rstrip(), start + 1))
            continue
        prose.append((i + 1, line))
        i += 1
    return found, prose


def code_lines(text: str) -> list[str]:
    """Each line of each block, stripped: where a shell line is shown."""
    return [
        line.strip()
        for block in read_code(text)
        if block.kind != "inline"
        for line in block.text.splitlines()
        if line.strip()
    ]


def sql_blocks(text: str) -> list[str]:
    """The SQL the page shows, one chunk per block or span (a block may hold several
    statements): a ```sql block, a block opening with a statement (SELECT, WITH, UPDATE,
    DELETE, INSERT), an inline span holding a whole statement, the statement of a
    `psql ... -c "..."` line, and a help's "In psql:" line."""
    chunks = []
    for block in read_code(text):
        if (
            (block.kind == "fenced" and block.lang == "sql")
            or (block.kind == "indented" and SQL_OPENING.match(block.text))
            or (block.kind == "inline" and WHOLE_STATEMENT.fullmatch(block.text))
        ):
            chunks.append(block.text)
    chunks += re.findall(r"psql\b[^\n`]* -c \"((?:SELECT|WITH)\b[^\"]*)\"", text)
    chunks += re.findall(r"^In psql: (.*)$", text, flags=re.M)
    return chunks


def sql_statements(text: str) -> list[str]:
    """The statements of sql_blocks, one each, on one line, comments and placeholders (...) out."""
    statements = []
    for chunk in sql_blocks(text):
        for statement in re.split(r";\s*", chunk):
            lines = [line for line in statement.splitlines() if not line.strip().startswith("--")]
            if " ".join(lines).strip() and "..." not in statement:
                statements.append(" ".join(" ".join(lines).split()))
    return statements
