"""Expanding ``activekd predict`` arguments (files, folders, globs, CSVs of paths) into images to read.

A CSV may carry a ``label`` column: the class each image should be. :func:`predict_images` then
refuses a model that lacks one of those classes, and reports top-1 accuracy.
"""

from __future__ import annotations

import csv
import glob
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


def _folder(d: Path) -> list[ImageItem]:
    files = sorted(f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
    return [ImageItem(f.relative_to(d).as_posix(), str(f)) for f in files]


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

    Raises :class:`ImageSpecError` for an argument that matches nothing.
    """
    if isinstance(specs, (str, Path)):
        specs = [specs]
    items: list[ImageItem] = []
    for spec in map(str, specs):
        p = Path(spec)
        if p.is_dir():
            found = _folder(p)
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
