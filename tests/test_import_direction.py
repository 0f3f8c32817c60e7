"""The one-way import rule, checked on the source of every module (docs/ARCHITECTURE.md):

- engine imports neither pricing nor reporter; pricing imports neither engine nor reporter;
- the shared layer (phantom_report/*.py: errors, atomic, jsonsafe, vocab, ...) imports no area;
- reporter may import engine and pricing;
- the command modules (phantom_report/commands/) may import every area, and no area and nothing of
  the shared layer imports them: a command is the outermost layer.

Imports are read with ``ast`` from every .py file of each area, including imports inside
functions (a lazy import still couples the areas), so the check does not depend on what a test
happens to import at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AREAS = {"engine": ROOT / "engine", "pricing": ROOT / "pricing", "reporter": ROOT / "reporter",
         "commands": ROOT / "phantom_report" / "commands"}
FORBIDDEN = {
    "engine": {"pricing", "reporter", "commands"},
    "pricing": {"engine", "reporter", "commands"},
    "reporter": {"commands"},
    "commands": set(),
    "shared": {"engine", "pricing", "reporter", "commands"},
}
# The command-line entry points compose the command modules; they are not shared code.
ENTRY_POINTS = {"cli.py", "__main__.py"}
# Known breaks, each to be removed by the change that fixes it (the test fails once it is gone).
# None now: the validation report's rendering moved to reporter/validation_render.py (issue 16).
KNOWN: set[str] = set()


def _module_name(area: str, path: Path, area_dir: Path) -> str:
    parts = ["phantom_report"] + ([] if area == "shared" else [area])
    parts += list(path.relative_to(area_dir).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in the tree, relative imports resolved."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found += [(node.lineno, f"{base}.{a.name}" if base else a.name) for a in node.names]
    return found


def _area_of(dotted: str) -> str | None:
    parts = dotted.split(".")
    if len(parts) >= 2 and parts[0] == "phantom_report" and parts[1] in AREAS:
        return parts[1]
    return None


def violations(area: str, area_dir: Path, files: list[Path]) -> list[str]:
    """'file:line imports name' for every import that breaks ``area``'s rule."""
    bad = []
    for path in files:
        module = _module_name(area, path, area_dir)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, dotted in _imported(tree, module, path.name == "__init__.py"):
            if _area_of(dotted) in FORBIDDEN[area]:
                bad.append(f"{path.relative_to(area_dir.parent)}:{line} imports {dotted}")
    return bad


def _area_files(area: str) -> tuple[Path, list[Path]]:
    if area == "shared":
        folder = ROOT / "phantom_report"
        return folder, sorted(p for p in folder.glob("*.py") if p.name not in ENTRY_POINTS)
    return AREAS[area], sorted(AREAS[area].rglob("*.py"))


@pytest.mark.parametrize("area", sorted(FORBIDDEN))
def test_area_imports_only_what_it_may(area):
    folder, files = _area_files(area)
    assert files, f"no modules found for {area} under {folder}"
    found = {v.split(":")[0] + " imports " + v.split(" imports ")[1] for v in violations(area, folder, files)}
    known = {k for k in KNOWN if k.startswith(f"{folder.name}/")} if area != "shared" else set()
    assert found - known == set(), "imports against the one-way rule"
    assert known - found == set(), "a known break is fixed: remove it from KNOWN"


def test_shared_layer_holds_the_shared_modules():
    _, files = _area_files("shared")
    assert {"errors.py", "atomic.py", "jsonsafe.py", "numfmt.py", "vocab.py"} <= {p.name for p in files}


def test_checker_catches_top_level_lazy_and_relative_imports(tmp_path):
    """The checker itself: a planted violation of each kind is reported with its line."""
    engine = tmp_path / "engine"
    (engine / "sub").mkdir(parents=True)
    (engine / "__init__.py").write_text("")
    (engine / "a.py").write_text("import os\nfrom phantom_report.pricing.quote import PriceQuote\n")
    (engine / "b.py").write_text("def f():\n    import phantom_report.reporter.render as r\n    return r\n")
    (engine / "sub" / "c.py").write_text("from ... import reporter\nfrom .. import precision\n")
    (engine / "d.py").write_text("from phantom_report import engine, pricing\nfrom phantom_report.errors import X\n")
    found = violations("engine", engine, sorted(engine.rglob("*.py")))
    assert found == [
        "engine/a.py:2 imports phantom_report.pricing.quote.PriceQuote",
        "engine/b.py:2 imports phantom_report.reporter.render",
        "engine/d.py:1 imports phantom_report.pricing",
        "engine/sub/c.py:1 imports phantom_report.reporter",
    ]
    assert violations("reporter", engine, sorted(engine.rglob("*.py"))) == []


def test_checker_catches_an_area_importing_a_command_module(tmp_path):
    """Commands are the outermost layer: an area (or the shared layer) reaching into them is reported,
    while a command module importing every area is not."""
    reporter = tmp_path / "reporter"
    reporter.mkdir()
    (reporter / "a.py").write_text("def f():\n    from phantom_report.commands.output import emit\n    return emit\n")
    assert violations("reporter", reporter, [reporter / "a.py"]) == [
        "reporter/a.py:2 imports phantom_report.commands.output.emit"]
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "b.py").write_text("from phantom_report.engine.api import Engine\nfrom phantom_report.reporter import run\n"
                                   "from phantom_report.pricing.catalog import get_quotes\n")
    assert violations("commands", commands, [commands / "b.py"]) == []
    assert violations("shared", commands, [commands / "b.py"]) == [
        "commands/b.py:1 imports phantom_report.engine.api.Engine",
        "commands/b.py:2 imports phantom_report.reporter.run",
        "commands/b.py:3 imports phantom_report.pricing.catalog.get_quotes"]
