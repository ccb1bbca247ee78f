"""Atomic file writes: a reader (or a kill) sees the old file or the new one, never half of one.

Write to a temporary sibling, flush it to disk, then ``os.replace`` it over the target. Every file
activekd writes outside SQLite goes through :func:`atomic_path` or :func:`atomic_write`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    ``suffix`` keeps an extension some writers insist on (``np.savez`` appends ``.npz`` otherwise).
    The parent folder is created. On an exception the temporary file is removed and ``path`` is
    untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)
