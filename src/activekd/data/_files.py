"""Datasets backed by image files: ``imagefolder:DIR`` and ``csv:FILE``.

Unreadable images are reported by path (one warning listing them), skipped and kept in ``Dataset.unreadable``; each
file is decoded once to check it and its verdict cached by (path, size, mtime) (``_verdicts``), so a later load only
stats the files. Pixels for the
student are decoded once to a fixed square size (shorter side resized, centre crop) into a uint8
memory-mapped cache, so training never decodes JPEGs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from activekd._atomic import atomic_path
from activekd._parsers import csv_errors
from activekd.imaging import IMAGE_EXTENSIONS, square
from activekd.errors import DataError
from activekd.progress import bar

from ._base import SPLITS, UNLABELED, Dataset
from ._classes import given_classes, index_labels
from ._verdicts import readable, verdict_file

log = logging.getLogger(__name__)



DECODE_IN_WORKERS = 512
"""Files from which the cache is decoded in worker processes (fewer: in this process, where starting workers costs more)."""


class _Squares(torch.utils.data.Dataset):
    """File ``i`` as the ``[3, S, S]`` uint8 square the whole package uses (:func:`activekd.imaging.square`: the same
    pixels as the deployed predictor)."""

    def __init__(self, paths: list[str], side: int) -> None:
        self.paths, self.side = paths, side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        with Image.open(self.paths[i]) as im:
            return square(im, self.side)


class FileSource:
    """RGB images from files; ``batch`` reads a uint8 ``[N, 3, S, S]`` cache built on first use."""

    channels = 3

    def __init__(self, paths: list[str], size: int = 224, cache_dir: str | None = None) -> None:
        self.paths = paths
        self.size = (size, size)
        self._side = size
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def pil(self, index: int) -> Image.Image:
        with Image.open(self.paths[index]) as im:
            return im.convert("RGB")

    def _cache_file(self) -> Path | None:
        if self._cache_dir is None:
            return None
        h = hashlib.sha256()
        for p in self.paths:
            st = os.stat(p)
            h.update(f"{os.path.abspath(p)}\x1f{st.st_size}\x1f{st.st_mtime_ns}\x1e".encode())
        return self._cache_dir / "images" / f"{h.hexdigest()[:20]}-{self._side}.u8"

    def materialize(self) -> np.ndarray:
        """Decode every image once (progress bar) into the cache; later calls reuse it."""
        if self._array is not None:
            return self._array
        shape = (len(self.paths), 3, self._side, self._side)
        path = self._cache_file()
        if path is not None and path.exists() and path.stat().st_size == int(np.prod(shape)):
            self._array = np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
            return self._array
        if path is None:
            self._array = self._decode_into(np.empty(shape, dtype=np.uint8))
            return self._array
        with atomic_path(path) as tmp:
            arr = self._decode_into(np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape))
            arr.flush()
            del arr
        self._array = np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
        return self._array

    def _decode_into(self, arr: np.ndarray) -> np.ndarray:
        """Decode and square every file, in DataLoader worker processes when there are many (one per core, at most 8)."""
        n = len(self.paths)
        workers = min(8, os.cpu_count() or 1) if n >= DECODE_IN_WORKERS else 0
        loader = torch.utils.data.DataLoader(_Squares(self.paths, self._side), batch_size=64, num_workers=workers,
                                             collate_fn=np.stack)
        at = 0
        with bar(total=n, desc="decoding images", unit="img") as progress:
            for chunk in loader:
                arr[at : at + len(chunk)] = chunk
                at += len(chunk)
                progress.update(len(chunk))
        return arr

    def batch(self, indices: np.ndarray) -> Tensor:
        arr = self.materialize()
        return torch.from_numpy(np.ascontiguousarray(arr[np.asarray(indices)]))


def _keep_readable(what: str, source: str, cache_dir: str | None, paths: list[str], *rest: list) -> tuple[list[str], tuple[list, ...]]:
    """``(unreadable paths, columns without them)`` (one warning naming them); ``what`` names the dataset when none is left.

    Each file is decoded once per version (size, mtime): the verdicts of ``source``'s files are cached in ``cache_dir``."""
    ok = readable(paths, verdict_file(cache_dir, source))
    bad = [p for p, good in zip(paths, ok) if not good]
    keep = [i for i, good in enumerate(ok) if good]
    shown = ", ".join(bad[:10]) + (f" (+{len(bad) - 10} more)" if len(bad) > 10 else "")
    if paths and not keep:
        raise DataError(f"{what}: none of its {len(paths)} image(s) can be read (corrupt, truncated or missing), e.g. {shown}; "
                        "check the files")
    if bad:
        log.warning("skipping %d unreadable image(s): %s", len(bad), shown)
    return bad, tuple([col[i] for i in keep] for col in (paths, *rest))


def _class_dirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_imagefolder(root: str, *, image_size: int = 224, cache_dir: str | None = None, classes: str | None = None) -> Dataset:
    """``DIR/<class>/<image>``, or ``DIR/{train,val,test}/<class>/<image>`` for explicit splits.

    Ids are the paths relative to ``DIR`` (with ``/``), stable across runs and machines. With class names given
    (``classes``: ``--classes FILE|a,b,c``, else ``DIR/classes.txt``), images directly in ``DIR`` (or in a split
    folder) are unlabeled pool (split) images, and every class folder must be one of the names.
    """
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"imagefolder: {root} is not a directory")
    split_dirs = {"train": "pool", "pool": "pool", "val": "val", "test": "test"}
    layout = [(base / s, split) for s, split in split_dirs.items() if (base / s).is_dir()]
    if not layout:
        layout = [(base, "pool")]
    given = given_classes(classes, base)
    folders = sorted({c.name for d, _ in layout for c in _class_dirs(d)})
    if given is None and not folders:
        raise DataError(f"imagefolder: {root} has no class folders (unlabeled images: name the classes with --classes)")
    names = given if given is not None else tuple(folders)
    index_labels(folders, names, [f"folder {c!r}" for c in folders], f"imagefolder: {root}")
    paths, labels, splits = _folder_images(layout, {c: i for i, c in enumerate(names)}, loose=given is not None)
    if not paths:
        raise DataError(f"imagefolder: no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
    bad, (paths, labels, splits) = _keep_readable(f"imagefolder:{root}", root, cache_dir, paths, labels, splits)
    ids = [Path(p).relative_to(base).as_posix() for p in paths]
    return Dataset(
        name=f"imagefolder:{root}", class_names=names, ids=ids, labels=np.array(labels),
        splits=np.array(splits, dtype=object), images=FileSource(paths, image_size, cache_dir), paths=paths, unreadable=tuple(bad),
    )


def _is_image(f: Path) -> bool:
    return f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS


def _folder_images(layout: list[tuple[Path, str]], cidx: dict[str, int], *, loose: bool) -> tuple[list, list, list]:
    """``(paths, labels, splits)`` of the images in each class folder of ``layout``; with ``loose``, also the images lying
    directly in a layout folder, unlabeled."""
    paths, labels, splits = [], [], []
    for d, split in layout:
        found = [(f, UNLABELED) for f in sorted(d.iterdir()) if _is_image(f)] if loose else []
        for cdir in _class_dirs(d):
            found += [(f, cidx[cdir.name]) for f in sorted(cdir.rglob("*")) if _is_image(f)]
        for f, y in found:
            paths.append(str(f))
            labels.append(y)
            splits.append(split)
    return paths, labels, splits


def load_csv(file: str, *, image_size: int = 224, cache_dir: str | None = None, classes: str | None = None) -> Dataset:
    """A CSV with a header ``path,label[,split]``; paths relative to the CSV's folder.

    An empty label means unlabeled; ``split`` is one of pool/val/test (default pool). Class names
    are ``classes`` (``--classes FILE|a,b,c``), else a ``classes.txt`` beside the CSV, else the sorted
    distinct labels (see ``_classes``). Ids are the paths as written in the file (cells are stripped of
    surrounding blanks; a UTF-8 BOM, CRLF line ends and blank lines are fine).
    """
    f = Path(file)
    numbered = _csv_rows(f, file)
    given = given_classes(classes, f.parent)
    rows = [r for _, r in numbered]
    if given is None:
        names = tuple(sorted({r["label"] for r in rows if r["label"]}))
        labels = index_labels([r["label"] for r in rows], names, [""] * len(rows), f"csv: {file}")
    else:
        names = given
        labels = index_labels([r["label"] for r in rows], given, [f"line {n}" for n, _ in numbered], f"csv: {file}")
    ids = [r["path"] for r in rows]
    paths = [str((f.parent / r["path"]).resolve()) for r in rows]
    splits = [r.get("split") or "pool" for r in rows]
    bad, (paths, ids, labels, splits) = _keep_readable(f"csv:{file}", file, cache_dir, paths, ids, labels, splits)
    return Dataset(
        name=f"csv:{file}", class_names=names, ids=ids, labels=np.array(labels, dtype=np.int64),
        splits=np.array(splits, dtype=object), images=FileSource(paths, image_size, cache_dir), paths=paths, unreadable=tuple(bad),
    )


def _csv_rows(f: Path, file: str) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` of every non-blank row, cells stripped; checked: header, paths, splits, no duplicate path."""
    if not f.is_file():
        raise FileNotFoundError(f"csv: {file} not found" if not f.exists() else f"csv: {file} is not a file")
    try:
        text = f.read_bytes().decode("utf-8-sig")  # a UTF-8 BOM (Excel) is fine; CRLF line ends too
    except UnicodeDecodeError:
        raise DataError(f"csv: {file} is not UTF-8 text (a CSV with a header path,label[,split] is expected)") from None
    if "\x00" in text:
        raise DataError(f"csv: {file} is a binary file, not a CSV with a header path,label[,split]")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    with csv_errors(reader, f"csv: {file}", DataError):
        header = [(h or "").strip() for h in reader.fieldnames or []]
        if not {"path", "label"} <= set(header):
            raise DataError(f"csv: {file} needs a header with columns path,label[,split]; got {','.join(header) or 'nothing'}")
        reader.fieldnames = header
        records = list(reader)
    rows = []
    for n, r in enumerate(records, start=2):
        if None in r:
            raise DataError(f"csv: {file} line {n}: more cells than the header has columns")
        r = {k: (v or "").strip() for k, v in r.items()}
        if not any(r.values()):
            continue  # a blank line
        if not r["path"]:
            raise DataError(f"csv: {file} line {n}: empty path")
        rows.append((n, r))
    if not rows:
        raise DataError(f"csv: {file} has no rows")
    for n, r in rows:
        s = r.get("split") or "pool"
        if s not in SPLITS:
            raise DataError(f"csv: {file} line {n}: unknown split {s!r}; valid: {', '.join(SPLITS)}")
    seen: set[str] = set()
    for n, r in rows:
        if r["path"] in seen:
            raise DataError(f"csv: {file} line {n}: duplicate path {r['path']!r}")
        seen.add(r["path"])
    return rows
