"""Named kill points for the crash tests: ``ACTIVEKD_KILL_AT=NAME[:N]`` SIGKILLs the process the N-th time
(default first) it passes point ``NAME``; with ``ACTIVEKD_KILL_RANK=R`` only rank R of a ``torchrun`` launch dies.
Unset (always, outside tests), a point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

KILL_POINTS = ("train", "evaluate", "select", "round-commit", "between-rounds", "checkpoint-write", "results-write",
               "label-import", "label-commit", "batch-file", "push", "sync", "rank-train", "export-write")
_seen: dict[str, int] = {}


def kill_point(name: str) -> None:
    """Die here, at once and without cleanup, when the environment asks for it (crash tests only)."""
    want = os.environ.get("ACTIVEKD_KILL_AT")
    if not want:
        return
    target, _, count = want.partition(":")
    if target != name or os.environ.get("ACTIVEKD_KILL_RANK", os.environ.get("RANK", "0")) != os.environ.get("RANK", "0"):
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
