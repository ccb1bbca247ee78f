"""Which image files decode, each file version checked once: verdicts cached by ``(path, size, mtime_ns)``.

A full decode of every image catches truncated files, but on a big folder it costs minutes, and every
command that opens a run loads its dataset. So each file's verdict is kept in the dataset cache
(``CACHE/checks/<key>.json``, one file per folder or CSV, held as columns: paths, sizes, mtimes, verdicts)
against the file's size and modification time: a later load stats the files and decodes only those that are
new or changed. A verdict file that cannot be read, is of another version or holds an entry of the wrong
shape is ignored and rebuilt, never trusted. A file modified within :data:`RACY_S` of its check keeps no
verdict (a same-size rewrite within the file system's timestamp granularity would go unseen), so it is
checked again next time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Callable

from PIL import Image, UnidentifiedImageError

from activekd._atomic import atomic_write
from activekd.progress import bar

log = logging.getLogger(__name__)

VERSION = 2
RACY_S = 2.0
"""A file whose mtime is this close to its check (or later) gets no cached verdict."""

Stamp = tuple[int, int]  # (size, mtime_ns)
Verdicts = dict[str, tuple[Stamp, bool]]  # path -> (stamp, decodes)
COLUMNS = (("paths", str), ("sizes", int), ("mtimes", int), ("ok", bool))
"""A verdict file's columns (one entry per file) and the type of their entries."""
_UNKNOWN = (None, None)


def decodes(path: str, then: Callable[[Image.Image], object] | None = None) -> bool:
    """Decode the whole file (``verify()`` misses truncated JPEGs); JPEGs decode at reduced scale, which still reads every
    byte. ``then``: hand the opened image to ``then`` instead, which decodes it in full (its errors count as the file's)."""
    try:
        with Image.open(path) as im:
            if then is not None:
                then(im)
                return True
            im.draft(im.mode, (64, 64))
            im.load()
        return True
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return False


def check_each(paths: list[str]) -> list[bool]:
    """:func:`decodes` of each of ``paths``, in this process."""
    return [decodes(p) for p in bar(paths, desc="checking images", unit="img")]


def verdict_file(cache_dir: str | None, source: str | os.PathLike) -> Path | None:
    """Where the verdicts of the files of ``source`` (a folder or a CSV) are kept; None without a cache."""
    if not cache_dir:
        return None
    key = hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:20]
    return Path(cache_dir) / "checks" / f"{key}.json"


def readable(paths: list[str], stamps: list[Stamp | None], file: Path | None,
             check: Callable[[list[str]], list[bool]] = check_each) -> list[bool]:
    """Whether each of ``paths`` decodes: the cached verdict of an unchanged file, ``check`` (a full decode) of any other.

    ``stamps``: each file's :func:`stamp` (None: missing, so unreadable). With ``file`` (:func:`verdict_file`), the
    verdicts of ``paths`` are written back when any changed."""
    stored = _read(file) if file is not None else None
    if stored is not None and stored[0] == paths and list(zip(stored[1], stored[2])) == stamps:
        return stored[3]  # an unchanged folder (or CSV): every verdict as cached, nothing to do per file
    known = _by_path(stored)
    todo = [i for i, (p, s) in enumerate(zip(paths, stamps)) if s is not None and known.get(p, _UNKNOWN)[0] != s]
    fresh = dict(zip(todo, check([paths[i] for i in todo]))) if todo else {}
    cutoff = time.time_ns() - int(RACY_S * 1e9)
    ok = [s is not None and (fresh[i] if i in fresh else known[p][1]) for i, (p, s) in enumerate(zip(paths, stamps))]
    keep = {p: (s, good) for p, s, good in zip(paths, stamps, ok) if s is not None and s[1] < cutoff}
    if file is not None and keep != known:
        _write(file, keep)
    return ok


def _read(file: Path) -> list[list] | None:
    """The :func:`_columns` of ``file``; None (a warning unless it is missing) when there are none to trust."""
    try:
        data = json.loads(file.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("ignoring the image check cache %s (%s); checking the images again", file, e)
        return None
    columns = _columns(data)
    if columns is None:
        log.warning("ignoring the image check cache %s (another version or malformed); checking the images again", file)
    return columns


def _by_path(columns: list[list] | None) -> Verdicts:
    """``path -> ((size, mtime_ns), decodes)`` of a verdict file's columns (none: empty)."""
    if columns is None:
        return {}
    paths, sizes, mtimes, ok = columns
    return dict(zip(paths, zip(zip(sizes, mtimes), ok)))


def _columns(data: object) -> list[list] | None:
    """The :data:`COLUMNS` of a verdict file of this version: lists of one length, each entry of its column's type (a
    bool is no size), no size or mtime negative, no path twice; else None."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    columns = [data.get(name) for name, _ in COLUMNS]
    if not all(type(c) is list and len(c) == len(columns[0]) for c in columns):
        return None
    if not all(set(map(type, c)) <= {kind} for c, (_, kind) in zip(columns, COLUMNS)):
        return None
    paths, sizes, mtimes, _ = columns
    if min(sizes, default=0) < 0 or min(mtimes, default=0) < 0 or len(set(paths)) != len(paths):
        return None
    return columns


def stamp(path: str) -> Stamp | None:
    """``(size, mtime_ns)`` of the file at ``path``; None when it cannot be stat'ed (missing: unreadable, nothing to cache)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def entry_stamp(entry: os.DirEntry) -> Stamp | None:
    """:func:`stamp` of a directory entry (its ``stat``, which a folder walk makes anyway)."""
    try:
        st = entry.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _write(file: Path, verdicts: Verdicts) -> None:
    """Best effort: a cache that cannot be written costs a re-check next time, never the load."""
    stamps = [s for s, _ in verdicts.values()]
    doc = {"version": VERSION, "paths": list(verdicts), "sizes": [s[0] for s in stamps], "mtimes": [s[1] for s in stamps],
           "ok": [good for _, good in verdicts.values()]}
    try:
        atomic_write(file, json.dumps(doc, separators=(",", ":")))
    except OSError as e:
        log.warning("could not write the image check cache %s (%s); the images will be checked again next time", file, e)
