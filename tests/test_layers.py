"""The pipeline library's layers, read from its source: the data's way is collect -> judge ->
group -> archive, and collection imports no judging module. poll.py and captures.py took
soft_404 from monitors/judge/not_found.py (now monitors/not_found.py, shared), backfill_jobs.py
learn from monitors/judge/site_profiles.py (now the caller's, passed to store_capture)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported(source: str, module: str) -> list[tuple[int, str]]:
    """Each module ``source`` (the text of module ``module``, a dotted name) imports, with its
    line: ``import a.b``, ``from a import b`` (a and a.b: b may be a module), and relative
    imports resolved; at any depth (an import inside a function counts too)."""
    package = module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            found += [(node.lineno, name)] + [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def judging_imports(source: str, module: str) -> list[str]:
    return [
        f"{module}:{line}: {name}"
        for line, name in imported(source, module)
        if name == "monitors.judge" or name.startswith("monitors.judge.")
    ]


def test_collection_imports_no_judging_module() -> None:
    files = sorted((ROOT / "monitors" / "collect").rglob("*.py"))
    assert len(files) > 20  # the package is read, not an empty folder
    found = [
        hit
        for path in files
        for hit in judging_imports(
            path.read_text("utf-8"), ".".join(path.relative_to(ROOT).with_suffix("").parts)
        )
    ]
    assert found == [], "monitors/collect imports judging modules:\n" + "\n".join(found)


def test_the_check_sees_every_form_of_import() -> None:
    """The check can fail: each form an import of judge may take is found."""
    module = "monitors.collect.archives.captures"
    for source in [
        "from monitors.judge.not_found import soft_404",
        "import monitors.judge.site_profiles",
        "from monitors import judge",
        "from ...judge import site_profiles",
        "from ...judge.not_found import soft_404",
        "def f():\n    from monitors.judge.site_profiles import learn",
    ]:
        assert judging_imports(source, module), source
    for source in [
        "from monitors.not_found import soft_404",
        "from .. import results",
        "import monitors.dates",
    ]:
        assert judging_imports(source, module) == [], source
