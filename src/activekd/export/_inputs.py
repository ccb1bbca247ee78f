"""Expanding ``activekd predict`` arguments (files, folders, globs, CSVs of paths) into images to read.

A CSV may carry a ``label`` column: the class each image should be. :func:`predict_images` then
refuses a model that lacks one of those classes, and reports top-1 accuracy.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from activekd.errors import ActiveKDError
from activekd.imaging import IMAGE_EXTENSIONS



class ImageSpecError(ActiveKDError):
    """A predict argument that names no image, folder, glob match or CSV."""


@dataclass(frozen=True)
class ImageItem:
    """One image to predict: ``id`` (as written in a CSV, or relative to a folder), its ``path`` and,
    from a CSV's ``label`` column, the class it should be (``None`` when not given)."""

    id: str
    path: str
    label: str | None = None


def _folder(d: Path, base: Path) -> list[ImageItem]:
    """The image files under ``d``, each with its path relative to ``base`` (``d`` itself, or a folder above it) as id."""
    files = sorted(f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
    return [ImageItem((f.relative_to(base) if f.is_relative_to(base) else f.resolve().relative_to(base)).as_posix(), str(f))
            for f in files]


def _folder_base(specs: Sequence[str]) -> Path | None:
    """Where folder arguments' ids start: the one folder itself (``imgs`` → ``sub/x.png``), or the deepest folder
    holding all of them (``a b`` → ``a/x.png``, ``b/x.png``: same-named files in two folders never share an id)."""
    folders = [Path(s) for s in specs if Path(s).is_dir()]
    if len(folders) <= 1:
        return folders[0] if folders else None
    try:
        return Path(os.path.commonpath([str(f) for f in folders]))
    except ValueError:  # absolute and relative folders mixed
        return Path(os.path.commonpath([str(f.resolve()) for f in folders]))


def _csv(f: Path) -> list[ImageItem]:
    """A CSV with a ``path`` column (and optionally ``id``, ``label``); paths relative to the CSV's folder."""
    try:
        with open(f, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "path" not in reader.fieldnames:
                raise ImageSpecError(f"{f} needs a header with a 'path' column (and optionally 'id', 'label'); got {reader.fieldnames}")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as e:
        raise ImageSpecError(f"{f} is not a UTF-8 CSV of image paths ({e})") from None
    empty = [n for n, r in enumerate(rows, start=2) if not (r.get("path") or "").strip()]
    if empty:
        raise ImageSpecError(f"{f}: line(s) {', '.join(map(str, empty[:5]))} have no path")
    return [ImageItem(r.get("id") or r["path"], str(f.parent / r["path"]), (r.get("label") or "").strip() or None) for r in rows]


def expand_images(specs: Sequence[str]) -> list[ImageItem]:
    """Every image named by ``specs``, in order: a file (kept even if it will not decode), a folder
    (its image files, recursively, sorted), a ``.csv`` of paths, or a glob pattern.

    Ids: a file's and a glob match's path as given; a CSV's ``id`` (else its ``path``); a folder's images their path
    relative to the folder, or, with several folders, to the deepest folder above them all (so ``a/x.png`` and
    ``b/x.png`` keep apart).

    Raises :class:`ImageSpecError` for an argument that matches nothing.
    """
    if isinstance(specs, (str, Path)):
        specs = [specs]
    specs = [str(s) for s in specs]
    base = _folder_base(specs)
    items: list[ImageItem] = []
    for spec in specs:
        p = Path(spec)
        if p.is_dir():
            found = _folder(p, base)
            if not found:
                raise ImageSpecError(f"{spec} has no image files ({', '.join(IMAGE_EXTENSIONS)})")
            items += found
        elif p.is_file() and p.suffix.lower() == ".csv":
            items += _csv(p)
        elif p.is_file():
            items.append(ImageItem(spec, spec))
        elif glob.has_magic(spec):
            found = sorted(f for f in glob.glob(spec, recursive=True) if Path(f).is_file())
            if not found:
                raise ImageSpecError(f"no files match {spec!r}; check the pattern")
            items += [ImageItem(f, f) for f in found]
        else:
            raise ImageSpecError(f"{spec}: no such image, folder, CSV or glob")
    return items
