"""The house rules that code review alone lets slip: short functions and classes, a thin CLI, arrows pointing down."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "activekd"
FILES = sorted(SRC.rglob("*.py"))
MAX_FUNCTION, MAX_CLASS = 60, 150


def _nodes(kind):
    for path in FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, kind):
                yield path.relative_to(SRC), node


def _length(node) -> int:
    """Lines from the ``def``/``class`` line to the last line, decorators and docstring included."""
    return node.end_lineno - node.lineno + 1


def test_no_function_longer_than_60_lines():
    long = [f"{p}:{n.lineno} {n.name} ({_length(n)} lines)" for p, n in _nodes((ast.FunctionDef, ast.AsyncFunctionDef))
            if _length(n) > MAX_FUNCTION]
    assert not long, long


def test_no_class_longer_than_150_lines():
    long = [f"{p}:{n.lineno} {n.name} ({_length(n)} lines)" for p, n in _nodes(ast.ClassDef) if _length(n) > MAX_CLASS]
    assert not long, long


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_cli_imports_only_the_configuration_and_the_session():
    banned = {f"activekd.{m}" for m in ("data", "teachers", "students", "train", "select")}
    bad = {m for m in _imports(SRC / "cli.py") if any(m == b or m.startswith(b + ".") for b in banned)}
    assert not bad, bad


@pytest.mark.parametrize("package,below", [
    ("select", ("train", "students", "teachers", "session")),
    ("train", ("session",)),
    ("data", ("train", "students", "teachers", "session", "select")),
])
def test_arrows_point_down(package, below):
    bad = {f"{p.name}: {m}" for p in (SRC / package).rglob("*.py") for m in _imports(p)
           if any(m == f"activekd.{b}" or m.startswith(f"activekd.{b}.") for b in below)}
    assert not bad, bad
