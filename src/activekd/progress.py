"""Progress bars in one place: drawn only on a terminal, never when switched off.

Every loop that shows progress calls :func:`bar`. ``tqdm`` with ``disable=None`` draws nothing when
its stream is not a terminal (a log file, a pipe, CI), so redirected output holds no redraws;
:func:`set_enabled` (``--no-progress``, ``-q``) turns every bar off, the ones in data loaders too.
"""

from __future__ import annotations

from typing import Iterable

from tqdm.auto import tqdm

_enabled = True


def set_enabled(enabled: bool) -> None:
    """Turn every progress bar of this process on (on a terminal) or off."""
    global _enabled
    _enabled = bool(enabled)


def bar(iterable: Iterable | None = None, *, desc: str, unit: str = "it", total: int | None = None, enabled: bool = True) -> tqdm:
    """A transient progress bar over ``iterable`` (or a manual one with ``total``); silent off a terminal."""
    return tqdm(iterable, desc=desc, unit=unit, total=total, leave=False, disable=None if (enabled and _enabled) else True)
