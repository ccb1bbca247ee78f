"""The labeling queue: the strategy's picks first, then the rest of the pool, least confident first.

Label Studio's *uncertainty sampling* serves the unlabeled task whose prediction (of the project's
model version) has the lowest ``score``; no other setting of Label Studio 1.23 orders a queue from
outside (*sequential sampling* follows the data manager tab the annotator happens to open). So both
predictions of a task carry its queue place as their score, ``rank / n`` in ``[0, 1)``: 0 is served
next. The model version says so (:func:`serve_version`), and the probabilities a person reads are
in the task's text (``data.suggestion``: the student's and the teacher's class and probability).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from torch import Tensor

from ._protocol import Guess


@dataclass(frozen=True)
class Snapshot:
    """What the backend serves between two retrains: round ``round``'s guesses, under model version ``version``."""

    round: int
    version: str
    order: tuple[str, ...]  # the unlabeled pool in queue order
    guesses: dict[str, Guess]  # every pool image


def queue_order(ids: Sequence[str], top_prob: Sequence[float], picks: Sequence[str], labeled: Collection[str]) -> list[str]:
    """Unlabeled ``ids`` in serving order: unlabeled ``picks`` in pick order, then the others by ascending ``top_prob`` (then id)."""
    labeled = set(labeled)
    first = [p for p in picks if p not in labeled]
    chosen = set(first)
    rest = sorted((p, i) for i, p in zip(ids, top_prob) if i not in labeled and i not in chosen)
    return first + [i for _, i in rest]


def snapshot(r: int, version: str, ids: Sequence[str], probs: Tensor, teacher: Tensor | None, picks: Sequence[str],
             labeled: Collection[str], class_names: Sequence[str]) -> Snapshot:
    """The queue and the guesses of one student: ``probs`` ``[n, C]`` (mixed heads) and ``teacher`` ``[n, C]`` probabilities or None."""
    p, c = probs.max(dim=1)
    top = [round_prob(x) for x in p.tolist()]
    order = queue_order(ids, top, picks, labeled)
    rank = {sid: k / max(len(order), 1) for k, sid in enumerate(order)}
    t = teacher.max(dim=1) if teacher is not None else None
    guesses = {}
    for k, sid in enumerate(ids):
        tg = None if t is None else (class_names[int(t.indices[k])], round_prob(float(t.values[k])))
        guesses[sid] = Guess((class_names[int(c[k])], top[k]), tg, round(rank.get(sid, 1.0), 6))
    return Snapshot(r, version, tuple(order), guesses)


def serve_version(run: str, r: int) -> str:
    """The model version of round ``r``'s predictions: it names the score Label Studio shows beside it a queue place."""
    return f"{run} round {r} (score = queue place, 0 = next; not a probability)"


def round_prob(x: float) -> float:
    return round(float(x), 4)
