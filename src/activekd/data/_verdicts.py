"""Which image files decode, each file version checked once: verdicts cached by ``(path, size, mtime_ns)``.

A full decode of every image catches truncated files, but on a big folder it costs minutes, and every
command that opens a run loads its dataset. So each file's verdict is kept in the dataset cache
(``CACHE/checks/<key>.json``, one file per folder or CSV) against the file's size and modification time: a
later load stats the files and decodes only those that are new or changed. A verdict file that cannot be
read, is of another version or holds an entry of the wrong shape is ignored and rebuilt, never trusted.
A file modified within :data:`RACY_S` of its check keeps no verdict (a same-size rewrite within the
file system's timestamp granularity would go unseen), so it is checked again next time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from activekd._atomic import atomic_write
from activekd.progress import bar

log = logging.getLogger(__name__)

VERSION = 1
RACY_S = 2.0
"""A file whose mtime is this close to its check (or later) gets no cached verdict."""

Stamp = tuple[int, int]  # (size, mtime_ns)


def decodes(path: str) -> bool:
    """Decode the whole file (``verify()`` misses truncated JPEGs); JPEGs decode at reduced scale, which still reads every byte."""
    try:
        with Image.open(path) as im:
            im.draft(im.mode, (64, 64))
            im.load()
        return True
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return False


def verdict_file(cache_dir: str | None, source: str | os.PathLike) -> Path | None:
    """Where the verdicts of the files of ``source`` (a folder or a CSV) are kept; None without a cache."""
    if not cache_dir:
        return None
    key = hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:20]
    return Path(cache_dir) / "checks" / f"{key}.json"


def readable(paths: list[str], file: Path | None) -> list[bool]:
    """Whether each of ``paths`` decodes: the cached verdict of an unchanged file, a full decode of any other.

    With ``file`` (:func:`verdict_file`), the verdicts of ``paths`` are written back when any changed."""
    known = read_verdicts(file) if file is not None else {}
    stamps = [_stamp(p) for p in paths]
    todo = [i for i, (p, s) in enumerate(zip(paths, stamps)) if s is not None and known.get(p, (None,))[:2] != s]
    fresh = {i: decodes(paths[i]) for i in bar(todo, desc="checking images", unit="img")}
    checked_at = time.time_ns()
    ok, keep = [], {}
    for i, (p, s) in enumerate(zip(paths, stamps)):
        good = s is not None and (fresh[i] if i in fresh else known[p][2])
        ok.append(good)
        if s is not None and s[1] < checked_at - int(RACY_S * 1e9):
            keep[p] = (*s, good)
    if file is not None and keep != known:
        _write(file, keep)
    return ok


def read_verdicts(file: Path) -> dict[str, tuple[int, int, bool]]:
    """``path -> (size, mtime_ns, decodes)``; empty when ``file`` is missing, unreadable, of another version or malformed."""
    try:
        data = json.loads(file.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("ignoring the image check cache %s (%s); checking the images again", file, e)
        return {}
    entries = data.get("files") if isinstance(data, dict) and data.get("version") == VERSION else None
    if not isinstance(entries, dict) or not all(_entry(v) for v in entries.values()):
        log.warning("ignoring the image check cache %s (another version or malformed); checking the images again", file)
        return {}
    return {p: (v[0], v[1], v[2]) for p, v in entries.items()}


def _entry(v: object) -> bool:
    return (isinstance(v, list) and len(v) == 3 and all(type(x) is int and x >= 0 for x in v[:2])
            and isinstance(v[2], bool))


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None  # missing: unreadable, and nothing to cache
    return st.st_size, st.st_mtime_ns


def _write(file: Path, verdicts: dict[str, tuple[int, int, bool]]) -> None:
    """Best effort: a cache that cannot be written costs a re-check next time, never the load."""
    try:
        atomic_write(file, json.dumps({"version": VERSION, "files": verdicts}, separators=(",", ":")))
    except OSError as e:
        log.warning("could not write the image check cache %s (%s); the images will be checked again next time", file, e)
