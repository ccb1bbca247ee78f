"""Small PNG thumbnails of a run's images (a few picks per round, every flagged label) for the report.

Written under ``RUN/thumbnails/`` when a round is recorded; the round's record names them, and the report inlines
them (it reads files, never the dataset). Derived from the dataset: a missing file is rewritten by the next
round, and the report shows the rest without it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Sequence

from PIL import Image

from activekd._atomic import atomic_path
from activekd.data import Dataset
from activekd.imaging import square
from activekd.layout import RunLayout

SIDE = 64
PICKS_SHOWN = 6
"""Picks of each round given a thumbnail (the first ones, in the strategy's order)."""


def thumbnail_name(sample_id: str) -> str:
    """``thumbnails/<readable id>-<hash>.png`` relative to the run folder (the hash keeps ``a/x.png`` and ``a_x.png`` apart)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", sample_id)[-60:]
    return RunLayout.thumbnail_name(f"{safe}-{hashlib.sha256(sample_id.encode()).hexdigest()[:8]}")


def write_thumbnails(out: Path, dataset: Dataset, ids: Sequence[str]) -> dict[str, str]:
    """A ``SIDE``-pixel square PNG of each id (written once); returns ``{id: path relative to out}``."""
    names = {}
    for sid, pos in zip(ids, dataset.index_of(list(ids))):
        rel = thumbnail_name(sid)
        path = out / rel
        if not path.is_file():
            pixels = square(dataset.images.pil(int(pos)), SIDE)
            with atomic_path(path, suffix=".png") as tmp:
                Image.fromarray(pixels.transpose(1, 2, 0)).save(tmp, format="PNG")
        names[sid] = rel
    return names
