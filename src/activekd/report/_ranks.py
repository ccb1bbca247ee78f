"""Ranks per round: at every label count, the groups ordered by mean accuracy (1 = best, ties share the mean rank)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._groups import Group
from ._runs import Figure, student_accuracy


def average_ranks(scores: dict[str, float]) -> dict[str, float]:
    """Rank of each name by descending score, 1 = best; tied names get the mean of the ranks they span."""
    order = sorted(scores, key=lambda k: -scores[k])
    out: dict[str, float] = {}
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in order[i:j + 1]:
            out[k] = (i + j) / 2 + 1
        i = j + 1
    return out


@dataclass(frozen=True)
class RankTable:
    """``ranks[group][labels]`` and ``accuracy[group][labels]`` (group-mean accuracy) at each label count in ``labels``."""

    labels: list[int]
    ranks: dict[str, dict[int, float]]
    accuracy: dict[str, dict[int, float]]

    @property
    def shared(self) -> list[int]:
        """The label counts every group was measured at."""
        return [n for n in self.labels if all(n in acc for acc in self.accuracy.values())]

    def mean_rank(self, name: str) -> float | None:
        """The group's mean rank over :attr:`shared` label counts (``None`` when there are none or it is not ranked)."""
        cols = self.shared
        if name not in self.ranks:
            return None
        return sum(self.ranks[name][n] for n in cols) / len(cols) if cols else None


def rank_table(groups: Sequence[Group], figure: Figure = student_accuracy) -> RankTable:
    """Ranks of ``groups`` by their mean ``figure`` at every label count any group was measured at (groups without it
    at all, e.g. runs without a test split, are left out)."""
    accuracy = {g.name: {p.labels: p.mean for p in g.curve(figure)} for g in groups if g.curve(figure)}
    labels = sorted({n for acc in accuracy.values() for n in acc})
    ranks: dict[str, dict[int, float]] = {name: {} for name in accuracy}
    for n in labels:
        for name, r in average_ranks({g: acc[n] for g, acc in accuracy.items() if n in acc}).items():
            ranks[name][n] = r
    return RankTable(labels, ranks, accuracy)
