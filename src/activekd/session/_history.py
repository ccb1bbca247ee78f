"""One image's label history, read from the store alone: ``activekd history RUN ID``.

A label's round in the store is the round that trains on it first: the initial labels are round 0's, and the answers
to round ``r``'s picks (its batch, ``to_label/round_00r.csv``) are round ``r + 1``'s. A correction keeps the round of
the label it corrects. :func:`label_batch` names that round the way ``status`` and the batch files do, and is the one
place the correction messages take it from.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from activekd.layout import RunLayout

from ._errors import SessionError
from ._store import SessionStore


def label_batch(label_round: int | None) -> str:
    """Whose answer a label of store round ``label_round`` is: ``the initial labels`` (round 0) or ``round r's picks``."""
    if label_round is None:
        return "?"
    return "the initial labels" if label_round == 0 else f"round {label_round - 1}'s picks"


@dataclass(frozen=True)
class LabelStep:
    """One change of a label: when, for which batch (:func:`label_batch`), how (``initial``, ``oracle``, or the import's
    kind: ``label``, ``relabel``, ``sync``, ...), from where (the file, Label Studio's URL), old and new class."""

    when: float
    batch: str
    kind: str
    origin: str
    old: str | None
    new: str
    undone_at: float | None = None


@dataclass(frozen=True)
class LabelHistory:
    """An image's split, its current label (``None``: unlabeled), the rounds that picked it and every label step."""

    sample_id: str
    split: str
    label: str | None
    source: str | None
    picked_by: tuple[int, ...]
    steps: tuple[LabelStep, ...]

    def lines(self) -> list[str]:
        now = "unlabeled" if self.label is None else f"label {self.label} ({self.source})"
        picked = f"; picked by round {', '.join(map(str, self.picked_by))}" if self.picked_by else ""
        out = [f"{self.sample_id} ({self.split}): {now}{picked}"]
        if not self.steps:
            return [*out, "  no label yet"]
        out.append(f"  {'when':<19}  {'answered for':<16}  {'how':<8}  {'from':<24}  change")
        for s in self.steps:
            undone = f"  (undone {_clock(s.undone_at)})" if s.undone_at is not None else ""
            change = f"{s.old or '—'} → {s.new}"
            out.append(f"  {_clock(s.when):<19}  {s.batch:<16}  {s.kind:<8}  {s.origin or '—':<24}  {change}{undone}")
        return out


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def class_names_of(out: Path) -> list[str] | None:
    """The run's class names as ``results.json`` records them; None before the first results are written."""
    try:
        names = json.loads(RunLayout(out).results.read_text()).get("dataset", {}).get("class_names")
    except (OSError, ValueError, AttributeError):
        return None
    return [str(n) for n in names] if isinstance(names, list) else None


def label_history(store: SessionStore, out: str | Path, sample_id: str) -> LabelHistory:
    """The history of ``sample_id`` in the run whose open ``store`` this is; an unknown id is a :class:`SessionError`."""
    trail = store.sample_trail(sample_id)
    if trail is None:
        raise SessionError(f"{out} has no image {sample_id!r} (ids as in the batch CSV's id column)")
    split, current, events = trail
    names = class_names_of(Path(out))
    name = (lambda y: names[y] if names is not None and 0 <= y < len(names) else f"class {y}")
    steps = _steps(current, events, name)
    picked = tuple(r.round for r in store.rounds() if sample_id in r.picks)
    return LabelHistory(sample_id, split, None if current is None else name(current["label"]),
                        None if current is None else current["source"], picked, tuple(steps))


def _steps(current: dict | None, events: Sequence[dict], name) -> list[LabelStep]:
    """The label before a person's first change (initial or oracle), then one step per change."""
    if not events:
        return [] if current is None else [LabelStep(current["created_at"], label_batch(current["round"]), current["source"], "", None,
                                                     name(current["label"]))]
    first, steps = events[0], []
    if first["old_label"] is not None:  # a label no person gave (initial, oracle) before the first change
        steps.append(LabelStep(first["old_created_at"], label_batch(first["old_round"]), first["old_source"], "", None,
                               name(first["old_label"])))
    for n, e in enumerate(events):
        steps.append(LabelStep(e["created_at"], label_batch(_round_of(n, events, current)), e["kind"], e["origin"],
                               None if e["old_label"] is None else name(e["old_label"]), name(e["label"]), e["undone_at"]))
    return steps


def _round_of(n: int, events: Sequence[dict], current: dict | None) -> int | None:
    """The store round of the label event ``n`` wrote: a correction keeps the corrected label's; an addition's is read off
    the next correction of it, or the current label when no later addition replaced it."""
    if events[n]["old_label"] is not None:
        return events[n]["old_round"]
    later = events[n + 1 :]
    if later and later[0]["old_label"] is not None:
        return later[0]["old_round"]
    if current is not None and all(e["old_label"] is not None for e in later):
        return current["round"]
    return None
