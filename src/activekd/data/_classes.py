"""Class names given by the user (``--classes FILE|a,b,c``, or a ``classes.txt`` beside a CSV or in an image folder).

A dataset whose labels are all empty has no class names of its own; these give them, so ``--shots 0``
works on one's own unlabeled images. The order given is the class order (index = position), the order a
``file:`` teacher's columns must follow. Checked here, each problem one line: an empty name, a name given
twice, a label in the data that is not among the names (:func:`index_labels`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from activekd._parsers import read_text
from activekd.errors import DataError

log = logging.getLogger(__name__)

CLASSES_FILE = "classes.txt"
"""The file beside a CSV (or in an image folder) read for class names when ``--classes`` is not given."""
MAX_CLASSES_BYTES = 4 * 1024 * 1024
"""The largest class file read (100,000 names of 40 characters)."""


def parse_classes(spec: str) -> tuple[str, ...]:
    """Class names from ``spec``: an existing file (one name per line), else a comma-separated list ``a,b,c``."""
    if Path(spec).is_file():
        return names_from_file(Path(spec), what="--classes file")
    if "," not in spec:
        raise DataError(f"--classes {spec!r}: no such file, and not a comma-separated list of class names (a,b,c)")
    return checked_names([p.strip() for p in spec.split(",")], f"--classes {spec!r}", "name")


def names_from_file(path: Path, *, what: str) -> tuple[str, ...]:
    """One class name per line (blanks around a name and blank lines at the end are dropped)."""
    lines = [line.strip() for line in read_text(path, what=what, error=DataError, limit=MAX_CLASSES_BYTES).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return checked_names(lines, f"{what} {path}", "line")


def checked_names(names: Sequence[str], source: str, unit: str) -> tuple[str, ...]:
    """``names`` as a tuple; an empty or repeated name is one line naming its position (``unit`` 1-based)."""
    if not names:
        raise DataError(f"{source}: no class names")
    seen: dict[str, int] = {}
    for n, name in enumerate(names, start=1):
        if not name:
            raise DataError(f"{source}: {unit} {n} is an empty class name")
        if name in seen:
            raise DataError(f"{source}: class {name!r} is given twice ({unit}s {seen[name]} and {n})")
        seen[name] = n
    return tuple(names)


def given_classes(spec: str | None, folder: Path) -> tuple[str, ...] | None:
    """``--classes`` when given, else ``folder/classes.txt`` when it exists, else ``None`` (names come from the labels)."""
    if spec:
        return parse_classes(spec)
    beside = folder / CLASSES_FILE
    if beside.is_file():
        log.info("class names from %s", beside)
        return names_from_file(beside, what=CLASSES_FILE)
    return None


def index_labels(labels: Sequence[str], classes: Sequence[str], where: Sequence[str], source: str) -> list[int]:
    """Each label's index in ``classes`` (``-1`` for an empty label); a label not in ``classes`` is one line naming
    ``where`` it is (``where[i]``: e.g. "line 7", "folder cats")."""
    index = {c: i for i, c in enumerate(classes)}
    out = []
    for label, at in zip(labels, where):
        if label and label not in index:
            shown = ", ".join(classes[:20]) + (f" (+{len(classes) - 20} more)" if len(classes) > 20 else "")
            raise DataError(f"{source} {at}: label {label!r} is not one of the given class names ({shown}); "
                            f"add it to --classes / {CLASSES_FILE} or fix the label")
        out.append(index[label] if label else -1)
    return out
