"""The house's numbers: rooms, modules, import arrows between rooms, floors, arrows up, loops, largest class and function.

A *room* is a subpackage of ``activekd`` (``teachers``) or one of its top-level modules (``heads``; the package's own
``__init__`` is the room ``activekd``). An *arrow* ``a -> b`` says some file of room ``a`` imports room ``b``, read
from the AST: imports inside functions count, imports under ``if TYPE_CHECKING:`` (type hints only) do not.
*Loops* are the groups of rooms that reach each other (strongly connected, more than one room). *Floors* stack the
rooms: the ground floor imports no other room, every other room sits one floor above the highest room it imports
(the rooms of a loop share a floor). An *arrow up* points to the room's own floor or above: one per arrow inside a
loop, none when the graph has no loop. ``tests/test_code_shape.py`` declares the floors it expects and checks the
same arrows against them. Lengths count from the ``def``/``class`` line to the last line.

    python bench/house.py                 # this checkout
    python bench/house.py --src /tmp/old/src/activekd --json
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "activekd"
ROOT = "activekd"


def files(src: Path = SRC) -> list[Path]:
    return sorted(src.rglob("*.py"))


def length(node: ast.AST) -> int:
    """Lines from the ``def``/``class`` line to the last line, decorators and docstring included."""
    return node.end_lineno - node.lineno + 1


def definitions(kind, src: Path = SRC):
    """``(path relative to src, node)`` for every node of ``kind`` (nested ones too)."""
    for path in files(src):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, kind):
                yield path.relative_to(src), node


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` (their ``else`` runs, so it counts)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and _type_checking(node):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def _module_name(path: Path, src: Path) -> str:
    parts = [ROOT, *path.relative_to(src).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, src: Path = SRC) -> set[str]:
    """The absolute names ``path`` imports at run time: ``pkg.mod`` and, for ``from pkg import x``, ``pkg.x`` too."""
    module = _module_name(path, src)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]) if node.level else ""
            name = ".".join(p for p in (base, node.module) if p)
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
    return out


def rooms(src: Path = SRC) -> list[str]:
    """The subpackages and top-level modules, and ``activekd`` for the package's ``__init__``."""
    return sorted({p.relative_to(src).parts[0].removesuffix(".py") for p in files(src)} - {"__init__"} | {ROOT})


def room_of(path: Path, src: Path = SRC) -> str:
    first = path.relative_to(src).parts[0].removesuffix(".py")
    return ROOT if first == "__init__" else first


def _target(name: str, known: set[str]) -> str | None:
    parts = name.split(".")
    if parts[0] != ROOT:
        return None
    return parts[1] if len(parts) > 1 and parts[1] in known else ROOT


def arrows(src: Path = SRC) -> dict[tuple[str, str], list[str]]:
    """``(room, room it imports) -> ["file: imported name", ...]``, arrows within a room left out."""
    known = set(rooms(src))
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in files(src):
        here = room_of(path, src)
        for name in sorted(imports(path, src)):
            there = _target(name, known)
            if there is not None and there != here:
                out[here, there].append(f"{path.relative_to(src)}: {name}")
    return {k: sorted(set(v)) for k, v in sorted(out.items())}


def graph(src: Path = SRC) -> dict[str, set[str]]:
    """Each room -> the rooms it imports."""
    out = {r: set() for r in rooms(src)}
    for a, b in arrows(src):
        out[a].add(b)
    return out


def _reach(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """Each room -> every room it reaches by one or more arrows."""
    reach = {r: set(t) for r, t in g.items()}
    changed = True
    while changed:
        changed = False
        for r in reach:
            more = set().union(*(reach[t] for t in reach[r])) - reach[r]
            if more:
                reach[r] |= more
                changed = True
    return reach


def loops(g: dict[str, set[str]]) -> list[list[str]]:
    """The groups of rooms that reach each other (more than one room each), sorted."""
    reach = _reach(g)
    groups = {tuple(sorted({r} | {t for t in reach[r] if r in reach[t]})) for r in g if r in reach[r]}
    return sorted(list(group) for group in groups)


def floors(g: dict[str, set[str]]) -> list[list[str]]:
    """The rooms by floor, the ground floor first: one above the highest room imported outside the room's own loop."""
    reach = _reach(g)
    floor: dict[str, int] = {}

    def level(r: str) -> int:
        if r not in floor:
            below = {t for t in reach[r] if r not in reach[t]}
            floor[r] = 1 + max((level(t) for t in below), default=-1)
        return floor[r]

    stack = [[] for _ in range(1 + max(map(level, g), default=-1))]
    for r in sorted(g):
        stack[floor[r]].append(r)
    return stack


def arrows_up(g: dict[str, set[str]], stack: list[list[str]]) -> list[tuple[str, str]]:
    """The arrows that point to their room's own floor or above (a room missing from ``stack`` counts as the top)."""
    floor = {r: i for i, rs in enumerate(stack) for r in rs}
    top = len(stack)
    return sorted((a, b) for a, ts in g.items() for b in ts if floor.get(b, top) >= floor.get(a, top))


def _private_owner(name: str) -> str | None:
    """The package that owns ``name``'s first private part (``activekd.session`` for ``activekd.session._batch.x``),
    None when no part is private (dunders such as ``__version__`` are public)."""
    parts = name.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def private_imports(src: Path = SRC) -> list[str]:
    """``"file: name"`` for each private name imported from outside the package that owns it (``activekd._atomic`` is
    the root package's own, so every file may import it; ``activekd.session._batch`` only files of ``session``)."""
    out = []
    for path in files(src):
        module = _module_name(path, src)
        for name in sorted(imports(path, src)):
            owner = _private_owner(name) if name.startswith(ROOT + ".") else None
            if owner is not None and module != owner and not module.startswith(owner + "."):
                out.append(f"{path.relative_to(src)}: {'.'.join(name.split('.')[:owner.count('.') + 2])}")
    return sorted(set(out))


def _uses(tree: ast.AST) -> tuple[set[str], set[str]]:
    """``(names read in this file, names used from anywhere)``: the second holds attributes (``x.name``), imported
    names and identifier strings (``__all__``, ``getattr``), which may reach another file's function."""
    local, shared = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            local.add(node.id)
        elif isinstance(node, ast.Attribute):
            shared.add(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            shared.update(a.name.rpartition(".")[2] for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            shared.add(node.value)
    return local, shared


def unreferenced_functions(src: Path = SRC, elsewhere: tuple[Path, ...] = ()) -> list[str]:
    """``"file:line name"`` for each function or method that nothing uses: not read by name in its own file, not
    imported, reached as an attribute or named in a string in ``src`` or in the files under ``elsewhere``. Dunders and
    decorated functions (registered, routed, properties) are used by their framework and left out."""
    local, shared = {}, set()
    for path in [*files(src), *(p for root in elsewhere for p in sorted(root.rglob("*.py")))]:
        names, reach = _uses(ast.parse(path.read_text()))
        local[path] = names
        shared |= reach
    return [f"{path}:{node.lineno} {node.name}" for path, node in definitions((ast.FunctionDef, ast.AsyncFunctionDef), src)
            if not node.decorator_list and not (node.name.startswith("__") and node.name.endswith("__"))
            and node.name not in shared and node.name not in local[src / path]]


def _largest(kind, src: Path) -> str:
    path, node = max(definitions(kind, src), key=lambda pn: (length(pn[1]), str(pn[0])))
    return f"{path}:{node.lineno} {node.name} ({length(node)} lines)"


def numbers(src: Path = SRC) -> dict:
    g = graph(src)
    stack = floors(g)
    return {
        "packages": sum(1 for p in src.iterdir() if (p / "__init__.py").is_file()),
        "modules": len(files(src)),
        "rooms": len(g),
        "arrows": sum(map(len, g.values())),
        "floors": len(stack),
        "arrows_up": [f"{a} -> {b}" for a, b in arrows_up(g, stack)],
        "loops": loops(g),
        "private_imports": private_imports(src),
        "unreferenced_functions": unreferenced_functions(src),
        "largest_class": _largest(ast.ClassDef, src),
        "largest_function": _largest((ast.FunctionDef, ast.AsyncFunctionDef), src),
        "floor_plan": stack,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", type=Path, default=SRC, help="the package folder (default: this checkout's src/activekd)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = p.parse_args()
    n = numbers(args.src.resolve())
    if args.json:
        print(json.dumps(n, indent=1))
        return
    for key in ("packages", "modules", "rooms", "arrows", "floors"):
        print(f"{key:17} {n[key]}")
    print(f"{'arrows up':17} {len(n['arrows_up'])}  {', '.join(n['arrows_up'])}".rstrip())
    print(f"{'loops':17} {len(n['loops'])}  {'; '.join(' <-> '.join(group) for group in n['loops'])}".rstrip())
    print(f"{'private imports':17} {len(n['private_imports'])}  {', '.join(n['private_imports'])}".rstrip())
    print(f"{'unreferenced':17} {len(n['unreferenced_functions'])}  {', '.join(n['unreferenced_functions'])}".rstrip())
    print(f"{'largest class':17} {n['largest_class']}")
    print(f"{'largest function':17} {n['largest_function']}")
    for i, rs in reversed(list(enumerate(n["floor_plan"]))):
        print(f"  floor {i:2}: {' '.join(rs)}")


if __name__ == "__main__":
    main()
