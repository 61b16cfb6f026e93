"""The shape the code keeps (the local backend in core/sim aside): short functions, narrow
classes, short modules. A change that grows past a floor splits the thing instead."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 60
MAX_CLASS_METHODS = 25
MAX_MODULE_LINES = 450


def sources() -> list[Path]:
    files = [*ROOT.joinpath("core").rglob("*.py"), *ROOT.joinpath("bots").rglob("*.py")]
    return sorted(p for p in files if "sim" not in p.relative_to(ROOT).parts[:2])


def measure() -> tuple[list[tuple[int, str]], list[tuple[int, str]], list[tuple[int, str]]]:
    functions, classes, modules = [], [], []
    for path in sources():
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        modules.append((len(text.splitlines()), name))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{name}:{node.lineno} {node.name}"))
            elif isinstance(node, ast.ClassDef):
                methods = [
                    n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                ]
                classes.append((len(methods), f"{name}:{node.lineno} {node.name}"))
    return sorted(functions), sorted(classes), sorted(modules)


def test_no_function_over_the_floor() -> None:
    functions, _, _ = measure()
    assert [f for f in functions if f[0] > MAX_FUNCTION_LINES] == []


def test_no_class_over_the_floor() -> None:
    _, classes, _ = measure()
    assert [c for c in classes if c[0] > MAX_CLASS_METHODS] == []


def test_no_module_over_the_floor() -> None:
    _, _, modules = measure()
    assert [m for m in modules if m[0] > MAX_MODULE_LINES] == []


if __name__ == "__main__":  # `python -m tests.test_structure`: the figures for the notes
    fs, cs, ms = measure()
    print("longest function:", fs[-1], "\nwidest class:", cs[-1], "\nlongest module:", ms[-1])
