"""The code's shape as issue 16 set it: in engine/, pricing/ and reporter/ no function is longer
than 80 lines (data tables are module-level constants, not functions) and every public function,
class and method has a docstring. A newcomer reads one screen per function and learns what each
public name does without reading its body."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AREAS = ("engine", "pricing", "reporter", "phantom_report")
MAX_FUNCTION_LINES = 80


def _modules():
    for area in AREAS:
        yield from sorted((ROOT / area).rglob("*.py"))


def _public_items(tree: ast.Module):
    """Module-level public functions and classes, and the public methods of public classes."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield node.name, node
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    yield f"{node.name}.{item.name}", item


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(ROOT)))
def test_functions_short_and_public_names_documented(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(ROOT)
    too_long = [f"{rel}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
                for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    undocumented = [f"{rel}:{n.lineno} {name}" for name, n in _public_items(tree) if not ast.get_docstring(n)]
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_the_check_sees_a_long_undocumented_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"def public():\n{body}\n")
    (name, node), = _public_items(tree)
    assert name == "public" and not ast.get_docstring(node)
    assert node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
