"""The house rules that code review alone lets slip: short functions and classes, a thin CLI, arrows pointing down.

The import graph between rooms (subpackages and top-level modules) comes from ``bench/house.py``, the script that
measures the house: imports inside functions count, imports under ``if TYPE_CHECKING:`` do not.
"""

import ast
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("house", Path(__file__).resolve().parents[1] / "bench" / "house.py")
house = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(house)

SRC = house.SRC
MAX_FUNCTION, MAX_CLASS = 60, 150

FLOORS = [  # the ground floor first; a room imports only rooms on floors below its own
    ["_atomic", "_faults", "activekd", "errors", "imaging", "layout", "progress", "round_result", "schedule"],
    ["_fields", "_parsers", "device", "heads", "mislabels", "parallel", "registry"],
    ["backbones", "data", "select"],
    ["students", "train"],
    ["teachers"],
    ["config"],
    ["_cli_options", "session"],
    ["export", "presets", "report", "serve"],
    ["cli"],
    ["__main__"],
]


def test_no_function_longer_than_60_lines():
    long = [f"{p}:{n.lineno} {n.name} ({house.length(n)} lines)"
            for p, n in house.definitions((ast.FunctionDef, ast.AsyncFunctionDef)) if house.length(n) > MAX_FUNCTION]
    assert not long, long


def test_no_class_longer_than_150_lines():
    long = [f"{p}:{n.lineno} {n.name} ({house.length(n)} lines)"
            for p, n in house.definitions(ast.ClassDef) if house.length(n) > MAX_CLASS]
    assert not long, long


def test_cli_imports_only_the_configuration_and_the_session():
    banned = {f"activekd.{m}" for m in ("data", "teachers", "students", "train", "select")}
    bad = {m for m in house.imports(SRC / "cli.py") if any(m == b or m.startswith(b + ".") for b in banned)}
    assert not bad, bad


def test_every_room_is_on_exactly_one_floor():
    placed = [room for floor in FLOORS for room in floor]
    assert len(placed) == len(set(placed)), sorted(r for r in placed if placed.count(r) > 1)
    assert set(placed) == set(house.rooms()), {"not on a floor": sorted(set(house.rooms()) - set(placed)),
                                               "gone": sorted(set(placed) - set(house.rooms()))}


def test_no_import_loop_between_rooms():
    assert not house.loops(house.graph())


def test_every_arrow_points_to_a_lower_floor():
    evidence = house.arrows()
    up = {f"{a} -> {b}": evidence[a, b] for a, b in house.arrows_up(house.graph(), FLOORS)}
    assert not up, up


def test_the_house_script_finds_the_arrows_loops_and_floors():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert house.loops(g) == [["a", "b", "c"]]
    assert house.floors(g) == [["a", "b", "c", "e"], ["d"]]
    assert house.arrows_up({"low": {"high"}, "high": set()}, [["low"], ["high"]]) == [("low", "high")]
    assert house.floors({"low": set(), "high": {"low"}}) == [["low"], ["high"]]


def test_imports_in_functions_count_and_type_only_imports_do_not(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "_a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from activekd.hidden import T\nelse:\n    import activekd.shown\n"
        "def f():\n    from activekd.inner import g\nfrom ..up import x\nfrom . import _b\n")
    assert house.imports(tmp_path / "pkg" / "_a.py", tmp_path) == {
        "typing", "typing.TYPE_CHECKING", "activekd.shown", "activekd.inner", "activekd.inner.g", "activekd.up",
        "activekd.up.x", "activekd.pkg", "activekd.pkg._b"}


USED_FROM_OUTSIDE = {  # functions nothing in src/ calls by name, on purpose
    "forward": "torch.nn.Module's hook: module(x) calls it",
    "label_probability": "public API of activekd.mislabels (the probability a model gives each given label)",
    "split_ids": "public API of activekd.data.Dataset (a split's ids, as scripts and tests list them)",
}


def test_every_function_is_used_or_declared_public():
    dead = [entry for entry in house.unreferenced_functions() if entry.rsplit(" ", 1)[1] not in USED_FROM_OUTSIDE]
    assert not dead, dead


def test_the_house_script_finds_unused_functions_and_private_imports(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "__init__.py").write_text("from ._impl import public\n__all__ = ['public']\n")
    (tmp_path / "one" / "_impl.py").write_text(
        "def public():\n    return _helper()\ndef _helper():\n    return 1\ndef dead():\n    return 2\n")
    (tmp_path / "two" / "__init__.py").write_text("")
    (tmp_path / "two" / "use.py").write_text("from activekd.one._impl import public\nfrom activekd._root import ok\ndead = public()\nprint(dead)\n")
    assert house.unreferenced_functions(tmp_path) == [f"{Path('one/_impl.py')}:5 dead"]
    assert house.private_imports(tmp_path) == [f"{Path('two/use.py')}: activekd.one._impl"]
