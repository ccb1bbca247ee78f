"""Atomic file writes: a reader (or a kill) sees the old file or the new one, never half of one.

Write to a temporary sibling, flush it to disk, then ``os.replace`` it over the target. Every file
activekd writes outside SQLite goes through :func:`atomic_path` or :func:`atomic_write`; a file and
the folder that goes with it (a report and its figures) through :func:`atomic_file_and_folder`.
An error names the user's path, never the temporary one.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", *, sweep: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    ``suffix`` keeps an extension some writers insist on (``np.savez`` appends ``.npz`` otherwise).
    The parent folder is created; a ``path`` that is a folder is refused before anything is written.
    On an exception the temporary file is removed and ``path`` is untouched. ``sweep``: first remove the
    temporaries that killed processes left beside ``path`` (one listing of its folder: for a user's one-off
    output such as an export, not for caches of many files).
    """
    path = _writable_file(path)
    if sweep:
        _sweep(path)
    tmp = _sibling(path, "tmp", suffix)
    try:
        try:
            yield tmp
            _fsync(tmp)
            os.replace(tmp, path)
        except OSError as e:
            raise _naming(e, {tmp: path}) from None
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)


@contextmanager
def atomic_file_and_folder(path: str | os.PathLike, folder: str | os.PathLike) -> Iterator[tuple[Path, Path]]:
    """Yield a temporary file and an empty temporary folder to fill; on success they replace ``path`` and ``folder``
    together (the old folder goes, whole), on any error neither is touched and nothing is left behind."""
    path, folder = _writable_file(path), Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _sweep(path)
    _sweep(folder)
    tmp, tmp_dir, old = _sibling(path, "tmp"), _sibling(folder, "tmp"), _sibling(folder, "old")
    try:
        try:
            shutil.rmtree(tmp_dir, ignore_errors=True)  # a leftover of a killed process that had our pid
            tmp_dir.mkdir()
            yield tmp, tmp_dir
            _fsync(tmp)
            _replace_both(tmp, path, tmp_dir, folder, old)
        except OSError as e:
            raise _naming(e, {tmp: path, tmp_dir: folder, old: folder}) from None
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _replace_both(tmp: Path, path: Path, tmp_dir: Path, folder: Path, old: Path) -> None:
    """Move ``folder`` aside, ``tmp_dir`` into its place, ``tmp`` over ``path``; on failure put the old folder back."""
    shutil.rmtree(old, ignore_errors=True)
    kept = folder.exists()
    if kept:
        os.replace(folder, old)
    moved_in = False
    try:
        os.replace(tmp_dir, folder)
        moved_in = True
        os.replace(tmp, path)
    except BaseException:
        if moved_in:
            shutil.rmtree(folder, ignore_errors=True)
        if kept:
            os.replace(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _writable_file(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` with its parent folders created; refused (naming it) when it is a folder."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"{os.strerror(errno.EISDIR)}: give a file name to write, not a folder", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _sibling(path: Path, kind: str, suffix: str = "") -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{kind}{suffix}")


def _sweep(path: Path) -> None:
    """Remove ``.NAME.PID.tmp*`` / ``.NAME.PID.old`` beside ``path`` whose process ``PID`` is gone (killed mid-write)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.(tmp|old)")
    for f in path.parent.iterdir():
        m = pattern.match(f.name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            shutil.rmtree(f, ignore_errors=True) if f.is_dir() else f.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _naming(e: OSError, targets: dict[Path, Path]) -> OSError:
    """``e`` naming the user's path where it named one of ``targets``' temporary paths (the keys)."""
    names = {str(k): v for k, v in targets.items()}
    for name in (e.filename, e.filename2):
        if isinstance(name, (str, os.PathLike)) and os.fspath(name) in names and e.errno is not None:
            return type(e)(e.errno, e.strerror, str(names[os.fspath(name)]))
    return e
