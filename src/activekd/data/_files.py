"""Datasets backed by image files: ``imagefolder:DIR`` and ``csv:FILE``.

Unreadable images are reported by path (one warning listing them), skipped and kept in ``Dataset.unreadable``; each
file is decoded once to check it and its verdict cached by (path, size, mtime) (``_verdicts``), so a later load only
walks the folder (one ``scandir`` per folder, whose entries give the stats). Pixels for the student are decoded once to
a fixed square size (shorter side resized, centre crop) into a uint8 memory-mapped cache, so training never decodes
JPEGs; a first load's check, which decodes every file anyway, fills that cache as it goes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from itertools import compress
from operator import attrgetter
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
from . import _verdicts
from ._verdicts import Stamp, entry_stamp, readable, stamp, verdict_file

log = logging.getLogger(__name__)



DECODE_IN_WORKERS = 512
"""Files from which the cache is decoded in worker processes (fewer: in this process, where starting workers costs more)."""


class _Squares(torch.utils.data.Dataset):
    """File ``i`` as the ``[3, S, S]`` uint8 square the whole package uses (:func:`activekd.imaging.square`: the same
    pixels as the deployed predictor). ``checking``: the decode is also the file's check (:func:`~._verdicts.decodes`),
    None where it fails."""

    def __init__(self, paths: list[str], side: int, checking: bool = False) -> None:
        self.paths, self.side, self.checking = paths, side, checking

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray | None:
        if not self.checking:
            with Image.open(self.paths[i]) as im:
                return square(im, self.side)
        out: list[np.ndarray] = []
        return out[0] if _verdicts.decodes(self.paths[i], lambda im: out.append(square(im, self.side))) else None


def _stack(items: list[np.ndarray | None]) -> tuple[list[bool], np.ndarray | None]:
    """``(which items are squares, those squares stacked)``."""
    good = [x for x in items if x is not None]
    return [x is not None for x in items], (np.stack(good) if good else None)


def _fill(arr: np.ndarray, paths: list[str], side: int, *, checking: bool) -> tuple[list[bool], int]:
    """Square ``paths`` into the first rows of ``arr``, those that decode, in order: ``(which decoded, rows written)``.

    Decoded in DataLoader worker processes when there are many (one per core, at most 8); progress bar."""
    workers = min(8, os.cpu_count() or 1) if len(paths) >= DECODE_IN_WORKERS else 0
    loader = torch.utils.data.DataLoader(_Squares(paths, side, checking), batch_size=64, num_workers=workers,
                                         collate_fn=_stack)
    ok: list[bool] = []
    at = 0
    with bar(total=len(paths), desc="checking images" if checking else "decoding images", unit="img") as progress:
        for good, squares in loader:
            ok += good
            if squares is not None:
                arr[at : at + len(squares)] = squares
                at += len(squares)
            progress.update(len(good))
    return ok, at


class FileSource:
    """RGB images from files; ``batch`` reads a uint8 ``[N, 3, S, S]`` cache built on first use."""

    channels = 3

    def __init__(self, paths: list[str], size: int = 224, cache_dir: str | None = None,
                 stamps: list[Stamp] | None = None) -> None:
        self.paths = paths
        self.size = (size, size)
        self._side = size
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self._stamps = stamps
        self._cache_path: Path | None = None
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def pil(self, index: int) -> Image.Image:
        with Image.open(self.paths[index]) as im:
            return im.convert("RGB")

    def cache_file(self) -> Path | None:
        """``CACHE/images/<key>-<side>.u8``, the key a hash of the files' absolute paths, sizes and mtimes (``stamps`` as
        given, else stat'ed now); None without a cache."""
        if self._cache_dir is None or self._cache_path is not None:
            return self._cache_path
        stamps = self._stamps if self._stamps is not None else [(st.st_size, st.st_mtime_ns) for st in map(os.stat, self.paths)]
        text = "".join(f"{os.path.abspath(p)}\x1f{size}\x1f{mtime}\x1e" for p, (size, mtime) in zip(self.paths, stamps))
        self._cache_path = self._cache_dir / "images" / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}-{self._side}.u8"
        return self._cache_path

    def materialize(self) -> np.ndarray:
        """Decode every image once (progress bar) into the cache; later calls reuse it."""
        if self._array is not None:
            return self._array
        shape = (len(self.paths), 3, self._side, self._side)
        path = self.cache_file()
        if path is not None and path.exists() and path.stat().st_size == int(np.prod(shape)):
            self._array = np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
            return self._array
        if path is None:
            self._array = np.empty(shape, dtype=np.uint8)
            _fill(self._array, self.paths, self._side, checking=False)
            return self._array
        with atomic_path(path) as tmp:
            arr = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
            _fill(arr, self.paths, self._side, checking=False)
            arr.flush()
            del arr
        self._array = np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
        return self._array

    def batch(self, indices: np.ndarray) -> Tensor:
        arr = self.materialize()
        return torch.from_numpy(np.ascontiguousarray(arr[np.asarray(indices)]))


class _FirstCheck:
    """The check of a dataset's files. When it is of every file (a first load), it decodes each in full anyway, so it
    keeps their squares as the pixel cache (:meth:`FileSource.cache_file`): a first run decodes each image once, not
    once to check it and again to cache it. A check of some files only is :func:`~._verdicts.check_each`."""

    def __init__(self, stamps: list[Stamp | None], side: int, cache_dir: str | None) -> None:
        self._stamps, self._side, self._cache_dir = stamps, side, cache_dir
        self._staged: FileSource | None = None

    def check(self, paths: list[str]) -> list[bool]:
        """Whether each of ``paths`` (the files to check, in the dataset's order) decodes."""
        stamped = [i for i, s in enumerate(self._stamps) if s is not None]
        if self._cache_dir is None or len(paths) != len(stamped):
            return _verdicts.check_each(paths)
        every = FileSource(paths, self._side, self._cache_dir, [self._stamps[i] for i in stamped])
        try:
            with atomic_path(every.cache_file(), sweep=True) as tmp:
                arr = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=(len(paths), 3, self._side, self._side))
                ok, rows = _fill(arr, paths, self._side, checking=True)
                arr.flush()
                del arr
                os.truncate(tmp, rows * 3 * self._side**2)  # the squares of the files that decode, in order
        except OSError as e:
            log.warning("could not keep the checked images' pixels in %s (%s); checking them without", self._cache_dir, e)
            return _verdicts.check_each(paths)
        self._staged = every
        return ok

    def install(self, images: FileSource) -> None:
        """Hand the staged squares to ``images``, the files that decoded (under their own key when some did not)."""
        staged, self._staged = self._staged, None
        if staged is not None and images.paths != staged.paths:
            try:
                os.replace(staged.cache_file(), images.cache_file())
            except OSError as e:  # moved by a process checking the same files meanwhile, or a cache gone: decoded again
                log.warning("could not keep the checked images' pixels (%s); they will be decoded when needed", e)


def _keep_readable(what: str, source: str, cache_dir: str | None, image_size: int, paths: list[str],
                   stamps: list[Stamp | None], *rest: list) -> tuple[list[str], FileSource, tuple[list, ...]]:
    """``(unreadable paths, the readable files' images, columns without them)`` (one warning naming them); ``what`` names
    the dataset when none is left.

    Each file is decoded once per version (``stamps``: size, mtime): the verdicts of ``source``'s files are cached in
    ``cache_dir``, and a first check's squares kept (:class:`_FirstCheck`)."""
    first = _FirstCheck(stamps, image_size, cache_dir)
    ok = readable(paths, stamps, verdict_file(cache_dir, source), first.check)
    bad = [p for p, good in zip(paths, ok) if not good]
    shown = ", ".join(bad[:10]) + (f" (+{len(bad) - 10} more)" if len(bad) > 10 else "")
    if paths and not any(ok):
        raise DataError(f"{what}: none of its {len(paths)} image(s) can be read (corrupt, truncated or missing), e.g. {shown}; "
                        "check the files")
    if bad:
        log.warning("skipping %d unreadable image(s): %s", len(bad), shown)
        paths, stamps, *rest = (list(compress(col, ok)) for col in (paths, stamps, *rest))
    images = FileSource(paths, image_size, cache_dir, stamps)
    first.install(images)
    return bad, images, tuple(rest)


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
    layout = [(base / s, split, f"{s}/") for s, split in split_dirs.items() if (base / s).is_dir()]
    if not layout:
        layout = [(base, "pool", "")]
    given = given_classes(classes, base)
    folders = sorted({c.name for d, _, _ in layout for c in _class_dirs(d)})
    if given is None and not folders:
        raise DataError(f"imagefolder: {root} has no class folders (unlabeled images: name the classes with --classes)")
    names = given if given is not None else tuple(folders)
    index_labels(folders, names, [f"folder {c!r}" for c in folders], f"imagefolder: {root}")
    found = _folder_images(layout, {c: i for i, c in enumerate(names)}, loose=given is not None)
    if not found.paths:
        raise DataError(f"imagefolder: no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
    bad, images, (ids, labels, splits) = _keep_readable(f"imagefolder:{root}", root, cache_dir, image_size, found.paths,
                                                        found.stamps, found.ids, found.labels, found.splits)
    return Dataset(
        name=f"imagefolder:{root}", class_names=names, ids=ids, labels=np.array(labels),
        splits=np.array(splits, dtype=object), images=images, paths=images.paths, unreadable=tuple(bad),
    )


class _Found:
    """The image files of a folder walk, column by column: path, id (relative to the dataset's folder), stamp, label, split."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.ids: list[str] = []
        self.stamps: list[Stamp | None] = []
        self.labels: list[int] = []
        self.splits: list[str] = []

    def walk(self, top: str, rel: str, label: int, split: str, *, recurse: bool) -> None:
        """Add the images in folder ``top`` (id prefix ``rel``), in ``sorted(Path(top).rglob("*"))`` order: each folder's
        entries sorted by name, a subfolder's images right after its name. As ``rglob`` does, linked folders are not
        entered and unreadable ones are skipped; with ``recurse`` False, only the files directly in ``top``. One
        ``scandir`` per folder; each image's ``stat`` (for its verdict) is the one its directory entry makes."""
        try:
            with os.scandir(top) as it:
                entries = sorted(it, key=attrgetter("name"))
        except PermissionError:
            return
        head = top if top.endswith("/") else top + "/"
        images: list[os.DirEntry] = []  # the images since the last subfolder
        for e in entries:
            if _image_name(e.name) and _is_file(e):
                images.append(e)
            elif recurse and _is_dir(e):
                self._add(images, head, rel, label, split)
                images = []
                self.walk(head + e.name, f"{rel}{e.name}/", label, split, recurse=True)
        self._add(images, head, rel, label, split)

    def _add(self, images: list[os.DirEntry], head: str, rel: str, label: int, split: str) -> None:
        names = [e.name for e in images]
        self.paths += [head + name for name in names]
        self.ids += [rel + name for name in names]
        self.stamps += map(entry_stamp, images)
        self.labels += [label] * len(names)
        self.splits += [split] * len(names)


_SUFFIXES = frozenset(IMAGE_EXTENSIONS)


def _image_name(name: str) -> bool:
    """``Path(name).suffix.lower()`` is an image extension (without building a ``Path``)."""
    i = name.rfind(".")
    return 0 < i < len(name) - 1 and name[i:].lower() in _SUFFIXES


def _is_file(e: os.DirEntry) -> bool:
    """``Path.is_file()``: a file, or a link to one."""
    try:
        return e.is_file()
    except OSError:
        return False


def _is_dir(e: os.DirEntry) -> bool:
    """A folder that ``rglob`` enters: not a link."""
    try:
        return e.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _folder_images(layout: list[tuple[Path, str, str]], cidx: dict[str, int], *, loose: bool) -> _Found:
    """The images in each class folder of ``layout`` (``(folder, split, id prefix)``); with ``loose``, first the images
    lying directly in a layout folder, unlabeled."""
    found = _Found()
    for d, split, rel in layout:
        if loose:
            found.walk(str(d), rel, UNLABELED, split, recurse=False)
        for cdir in _class_dirs(d):
            found.walk(str(cdir), f"{rel}{cdir.name}/", cidx[cdir.name], split, recurse=True)
    return found


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
    bad, images, (ids, labels, splits) = _keep_readable(f"csv:{file}", file, cache_dir, image_size, paths,
                                                        [stamp(p) for p in paths], ids, labels, splits)
    return Dataset(
        name=f"csv:{file}", class_names=names, ids=ids, labels=np.array(labels, dtype=np.int64),
        splits=np.array(splits, dtype=object), images=images, paths=images.paths, unreadable=tuple(bad),
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
