"""The pipeline library's layers, read from its source: the data's way is collect -> judge ->
group -> archive, and collection imports no judging module, not even through another module.
poll.py and captures.py took soft_404 from monitors/judge/not_found.py (now monitors/not_found.py,
shared), backfill_jobs.py learn from monitors/judge/site_profiles.py (now the caller's, passed to
store_capture).

Through other modules: importing backfill_jobs, health or source_check loaded twenty judging
modules (extraction, language identification, topics). backfill_jobs took QueueItem, ArticleData
and IngestOutcome from monitors/ingest.py, which composes the judging stages (the records are now
monitors/records.py, shared); the archive's modules a collection module imports reached judge too:
articles.py wrote an article's topic rows with topic_scores.py (which scores topics again at a
rescore: judge.relevance), polls.py stored a feed's declared language with judge.language (the tag
normalised in monitors/language_tags.py now, shared).

The archive is downstream of judge, and its modules may import judging ones: reads.py and
export.py explain a relevance with judge.explain.why, topic_scores.py rescores with
judge.relevance, rescore_runs.py plans a rescore of a judge.topic.Topic. Only those a collection
module reaches must not.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import deque
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported(source: str, module: str, package: bool = False) -> list[tuple[int, str]]:
    """Each module ``source`` (the text of module ``module``, a dotted name; ``package``: its
    ``__init__.py``) imports, with its line: ``import a.b``, ``from a import b`` (a and a.b: b
    may be a module), and relative imports resolved; at any depth (an import inside a function
    counts too)."""
    package_parts = module.split(".") if package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package_parts[: len(package_parts) - node.level + 1] if node.level else []
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


def repo_modules() -> dict[str, tuple[str, bool]]:
    """Every module of monitors/ by dotted name: its source, and whether it is a package."""
    modules: dict[str, tuple[str, bool]] = {}
    for path in sorted((ROOT / "monitors").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path.read_text("utf-8"), package)
    return modules


def reached(start: str, modules: Mapping[str, tuple[str, bool]]) -> dict[str, str | None]:
    """The repository's modules importing ``start`` may load, each with the module that imports
    it (None for ``start``): the static import graph of ``modules`` (name -> source, package)
    followed at any depth. Every import counts: at module level, inside a function (a lazy
    import breaks a cycle or defers a cost, and collection calling it would load judge all the
    same) and under ``TYPE_CHECKING`` (the types would be judge's). A module loads its parent
    packages too (``monitors.judge.x`` runs ``monitors/judge/__init__.py``). Imports of other
    packages (sqlalchemy, trafilatura...) are not followed."""
    by: dict[str, str | None] = {start: None}
    todo = deque([start])  # breadth first: each module's importer on a shortest chain
    while todo:
        module = todo.popleft()
        source, package = modules[module]
        for _, name in imported(source, module, package):
            parts = name.split(".")
            for target in (".".join(parts[:n]) for n in range(1, len(parts) + 1)):
                if target in modules and target not in by:
                    by[target] = module
                    todo.append(target)
    return by


def judging_reached(start: str, modules: Mapping[str, tuple[str, bool]]) -> list[str]:
    """Each judging module ``start`` reaches, with a shortest chain of imports that reaches it."""
    by = reached(start, modules)
    found = []
    for module in sorted(by):
        if module == "monitors.judge" or module.startswith("monitors.judge."):
            chain = [module]
            while (importer := by[chain[-1]]) is not None:
                chain.append(importer)
            found.append(" <- ".join(chain))
    return found


def collection_modules() -> list[str]:
    modules = [m for m in repo_modules() if m == "monitors.collect" or m.startswith("monitors.collect.")]
    assert len(modules) > 20  # the package is read, not an empty folder
    return modules


def test_collection_reaches_no_judging_module_through_another() -> None:
    """By the source: no import of a collection module leads to a judging one, at any depth."""
    modules = repo_modules()
    found = {module: judging_reached(module, modules) for module in collection_modules()}
    found = {module: chains for module, chains in found.items() if chains}
    assert found == {}, "monitors/collect reaches judging modules:\n" + "\n".join(
        f"{module}: {len(chains)}, first {chains[0]}" for module, chains in found.items()
    )


def test_the_closure_follows_every_module_on_the_way() -> None:
    """The check can fail: a judging module reached through other modules, a function's import,
    a relative import or a package's ``__init__`` is found, with the chain that reaches it."""
    modules = {
        "monitors.collect.jobs": ("from monitors.ingest import QueueItem", False),
        "monitors.ingest": ("def warm():\n    from .judge.extract import extract_article", False),
        "monitors.judge": ("", True),
        "monitors.judge.extract": ("", False),
        "monitors.archive": ("from . import polls", True),
        "monitors.archive.polls": ("from monitors.judge import language", False),
        "monitors.judge.language": ("", False),
        "monitors.collect.health": ("import monitors.archive", False),
        "monitors.collect.poll": ("import monitors.dates\nimport sqlalchemy", False),
        "monitors.dates": ("", False),
    }
    assert judging_reached("monitors.collect.jobs", modules) == [
        "monitors.judge <- monitors.ingest <- monitors.collect.jobs",
        "monitors.judge.extract <- monitors.ingest <- monitors.collect.jobs",
    ]
    assert judging_reached("monitors.collect.health", modules) == [
        "monitors.judge <- monitors.archive.polls <- monitors.archive <- monitors.collect.health",
        "monitors.judge.language <- monitors.archive.polls <- monitors.archive <- monitors.collect.health",
    ]
    assert judging_reached("monitors.collect.poll", modules) == []


#: Imports each module given (argv: a JSON list) in turn in a fresh interpreter and prints, after
#: each, the judging modules loaded so far (JSON): the first module after which some appear is
#: the one whose import loaded them.
_LOADED = """
import importlib, json, sys
after = {}
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
    after[name] = sorted(m for m in sys.modules if m == "monitors.judge" or m.startswith("monitors.judge."))
print(json.dumps(after))
"""


def judging_modules_loaded(modules: list[str]) -> dict[str, list[str]]:
    """Per module of ``modules`` imported in turn in a fresh subprocess, the judging modules its
    import loaded (those loaded by none before it)."""
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, json.dumps(modules)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    after: dict[str, list[str]] = json.loads(done.stdout)
    loaded: dict[str, list[str]] = {}
    before: set[str] = set()
    for module in modules:
        new = [m for m in after[module] if m not in before]
        if new:
            loaded[module] = new
        before.update(after[module])
    return loaded


def test_importing_a_collection_module_loads_no_judging_module() -> None:
    """As the interpreter loads them: every collection module imported, in one fresh process,
    loads no judging module (one process is enough: none may appear at all; if one does, the
    module whose import loaded it is named)."""
    loaded = judging_modules_loaded(collection_modules())
    assert loaded == {}, "importing monitors/collect loaded judging modules:\n" + "\n".join(
        f"{module}: {', '.join(names)}" for module, names in loaded.items()
    )


def test_the_subprocess_sees_a_judging_module_loaded() -> None:
    """That check can fail: the ingest stage, which composes the judging ones, loads them, and is
    named as the module that did; a module imported after it is not blamed for them."""
    loaded = judging_modules_loaded(["monitors.dates", "monitors.ingest", "monitors.collect.poll"])
    assert list(loaded) == ["monitors.ingest"]
    assert "monitors.judge.extract" in loaded["monitors.ingest"]
