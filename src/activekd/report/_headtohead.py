"""Head to head: how often each group is the best seed by seed, and how many labels plain labeling needs to catch up.

Mean curves hide how often a strategy actually wins. A *cell* is one seed at one round: the groups' runs with that
seed are compared at that round, and every group whose accuracy equals the best there is *first or tied*. Early
rounds are left out (``FROM_ROUND``): at round 0 every group trains on the same seeded initial labels, and the first
picks have had little time to tell. Only cells where every group has a value count.

*Labels to match*: for each group trained without a teacher (``train.kd == "none"``: plain labeling) and each group
with one, the fewest labels at which the plain group's mean curve reaches the other's final mean accuracy, read off
the piecewise-linear curve; ``None`` when it never does within its labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from ._groups import Group
from ._runs import Figure, student_accuracy

FROM_ROUND = 3


@dataclass(frozen=True)
class Wins:
    """``first`` of ``cells`` (seed, round) cells in which the group was first or tied."""

    first: int
    cells: int

    @property
    def fraction(self) -> float | None:
        return self.first / self.cells if self.cells else None


def _by_seed_round(g: Group, figure: Figure) -> dict[tuple, float]:
    return {(run.seed, r.round): float(figure(r)) for run in g.runs for r in run.rounds
            if figure(r) is not None and r.round is not None}


def win_counts(groups: Sequence[Group], figure: Figure = student_accuracy, from_round: int = FROM_ROUND) -> dict[str, Wins]:
    """Per group, in how many (seed, round ≥ ``from_round``) cells shared by every group it was first or tied."""
    tables = {g.name: _by_seed_round(g, figure) for g in groups}
    shared = set.intersection(*(set(t) for t in tables.values())) if tables else set()
    cells = sorted(c for c in shared if c[1] >= from_round)
    first = {name: 0 for name in tables}
    for cell in cells:
        best = max(t[cell] for t in tables.values())
        for name, t in tables.items():
            first[name] += t[cell] == best
    return {name: Wins(first[name], len(cells)) for name in tables}


def labels_to_reach(curve: Sequence[tuple[float, float]], target: float) -> float | None:
    """The fewest labels at which the piecewise-linear ``(labels, accuracy)`` curve first reaches ``target``."""
    pts = sorted(curve)
    if not pts:
        return None
    if pts[0][1] >= target:
        return pts[0][0]
    for (x0, y0), (x1, y1) in pairwise(pts):
        if y1 >= target:
            return x0 + (x1 - x0) * (target - y0) / (y1 - y0)
    return None


@dataclass(frozen=True)
class Catchup:
    """Plain labeling (``plain``) against a group with a teacher (``group``): that group's final mean accuracy
    ``target`` at ``at_labels`` labels, and the labels the plain group needs to reach it (``None``: more than it has)."""

    plain: str
    group: str
    target: float
    at_labels: int
    needs: float | None
    plain_max: int


def catchups(groups: Sequence[Group], figure: Figure = student_accuracy) -> list[Catchup]:
    """Every (plain group, teacher group) pair, in the groups' order."""
    plain = [g for g in groups if (g.config.get("train") or {}).get("kd") == "none" and g.curve(figure)]
    taught = [g for g in groups if (g.config.get("train") or {}).get("kd") != "none" and g.curve(figure)]
    out = []
    for p in plain:
        curve = [(c.labels, c.mean) for c in p.curve(figure)]
        for g in taught:
            last = g.curve(figure)[-1]
            out.append(Catchup(p.name, g.name, last.mean, last.labels, labels_to_reach(curve, last.mean), curve[-1][0]))
    return out
