"""The comparison both the HTML report and the terminal table show: one row of figures per group of runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._advice import stopping_advice
from ._aubc import aubc, common_range
from ._groups import Group, group_runs, mean_std
from ._headtohead import Catchup, Wins, catchups, win_counts
from ._ranks import RankTable, rank_table
from ._runs import Run

PHASES = ("teacher", "train", "evaluate", "checkpoint", "inference", "select")


@dataclass(frozen=True)
class GroupSummary:
    """A group's figures: accuracies are fractions; ``(mean, std)`` pairs over its seeds; ``None`` where unknown."""

    name: str
    seeds: list[int | None]
    labels: int | None  # labels the runs hold now (the store's count; the largest over seeds)
    trained: int | None  # labels the last trained round trained on (the largest over seeds)
    final: tuple[float, float] | None
    teacher: float | None
    aubc: tuple[float, float] | None
    aubc_own: tuple[float, float] | None
    mean_rank: float | None
    advice: list[dict[str, Any]]
    seconds: dict[str, float]

    def advice_counts(self) -> str:
        """``"stop 2/3, undecided 1/3"`` style: how many of the group's runs get each advice (those given)."""
        n = len(self.advice)
        return ", ".join(f"{d} {k}/{n}" for d in ("stop", "undecided", "continue") if (k := sum(a["decision"] == d for a in self.advice)))


@dataclass(frozen=True)
class Comparison:
    """Groups, one :class:`GroupSummary` each, the per-round ranks and the label range AUBC is compared over."""

    groups: list[Group]
    rows: list[GroupSummary]
    ranks: RankTable
    aubc_range: tuple[float, float] | None
    wins: dict[str, Wins]
    catchups: list[Catchup]


def _pair(values: list[float]) -> tuple[float, float] | None:
    return mean_std(values) if values else None


def phase_seconds(run: Run) -> dict[str, float]:
    """Seconds per phase summed over the run's rounds (phases in ``PHASES`` order, then any others)."""
    total: dict[str, float] = {}
    for r in run.rounds:
        for k, v in (r.seconds or {}).items():
            if v is not None:
                total[k] = total.get(k, 0.0) + float(v)
    order = [p for p in PHASES if p in total] + sorted(set(total) - set(PHASES))
    return {k: total[k] for k in order}


def _summary(g: Group, ranks: RankTable, rng: tuple[float, float] | None) -> GroupSummary:
    curves = [c for c in (r.curve() for r in g.runs) if c]
    lasts = [r.last for r in g.runs if r.last is not None]
    teacher = [x.test.teacher for x in lasts if x.test.teacher is not None]
    per_run = [phase_seconds(r) for r in g.runs]
    phases = list(dict.fromkeys(k for s in per_run for k in s))
    return GroupSummary(
        name=g.name, seeds=g.seeds, trained=max((x.num_labeled for x in lasts), default=None),
        labels=max((r.num_labels if r.num_labels is not None else r.last.num_labeled for r in g.runs
                    if r.num_labels is not None or r.last is not None), default=None),
        final=_pair([c[-1][1] for c in curves]), teacher=sum(teacher) / len(teacher) if teacher else None,
        aubc=_pair([aubc(c, *rng) for c in curves]) if rng else None, aubc_own=_pair([aubc(c) for c in curves]),
        mean_rank=ranks.mean_rank(g.name), advice=[stopping_advice(list(r.rounds)) for r in g.runs],
        seconds={k: sum(s.get(k, 0.0) for s in per_run) / len(per_run) for k in phases})


def compare(runs: Sequence[Run]) -> Comparison:
    """Group ``runs`` by configuration without the seed and summarise each group."""
    groups = group_runs(runs)
    ranks = rank_table(groups)
    rng = common_range([r.curve() for r in runs if r.curve()])
    return Comparison(groups, [_summary(g, ranks, rng) for g in groups], ranks, rng, win_counts(groups), catchups(groups))
