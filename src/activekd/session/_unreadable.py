"""The images a run's dataset left out as unreadable: ``RUN/unreadable.txt``, one path a line.

Written when a run is created and whenever a later open finds a different list (a broken file since
deleted, say); ``activekd status`` reports the count and the file without loading the dataset.
"""

from __future__ import annotations

from pathlib import Path

from activekd._atomic import atomic_write
from activekd.layout import RunLayout


def record_unreadable(out: Path, paths: tuple[str, ...]) -> None:
    """Write ``paths`` to the run's list, only when it differs from what is there."""
    text = "".join(f"{p}\n" for p in paths)
    f = RunLayout(out).unreadable
    if not f.is_file() or f.read_text(encoding="utf-8", errors="replace") != text:
        atomic_write(f, text)


def unreadable_count(out: Path) -> int | None:
    """How many images the run's list names; None when the run has no list (made before activekd kept one)."""
    try:
        text = RunLayout(out).unreadable.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    return sum(1 for line in text.splitlines() if line)
