"""Runs that differ only in their seed form a group; a group's curve is the mean ± std over its seeds.

Two runs belong together when their configurations are equal once ``loop.seed`` and the fields that
do not change what a run computes (``RESUMABLE``: device, cache folder, progress bars, Label Studio
address) are removed. The spread is the sample standard deviation over seeds (n − 1 in the
denominator, the usual figure for "± std over seeds"); a single run has a spread of 0.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._runs import Figure, Run, student_accuracy

RESUMABLE = ("device", "cache_dir", "progress", "labelstudio")  # = activekd.config.RunConfig.RESUMABLE (a test keeps them equal)
_SEED_SUFFIX = re.compile(r"[-_.]?seed[-_]?\d+$")
LATER_FIELDS = {"data": {"eval_on": []}, "student": {"tune": "full"}, "teacher": {"views": 0, "few_shot_recipe": "published"}}
"""Configuration fields added after results schema 2, with their defaults: a run written before a field existed
groups with later runs that keep its default (a test keeps these equal to ``RunConfig``'s defaults)."""


@dataclass(frozen=True)
class CurvePoint:
    """The mean and sample std of one figure over a group's runs at ``labels`` labels (``n`` runs have it)."""

    labels: int
    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class Group:
    """Runs equal up to their seed; ``config`` is their shared configuration without ``loop.seed``."""

    name: str
    runs: tuple[Run, ...]
    config: dict[str, Any]

    @property
    def seeds(self) -> list[int | None]:
        return [r.seed for r in self.runs]

    def curve(self, figure: Figure = student_accuracy) -> list[CurvePoint]:
        return mean_curve([r.curve(figure) for r in self.runs])


def seed_free_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without ``loop.seed`` and the ``RESUMABLE`` fields, with ``LATER_FIELDS`` filled in (a copy)."""
    c = copy.deepcopy(config)
    for k in RESUMABLE:
        c.pop(k, None)
    for section, fields in LATER_FIELDS.items():
        if isinstance(c.get(section), dict):
            for k, v in fields.items():
                c[section].setdefault(k, copy.deepcopy(v))
    if isinstance(c.get("loop"), dict):
        c["loop"].pop("seed", None)
    return c


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n − 1; 0 for a single value) of ``values``."""
    if not values:
        raise ValueError("mean_std of no values")
    m = math.fsum(values) / len(values)
    if len(values) < 2:
        return m, 0.0
    return m, math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def mean_curve(curves: Iterable[Sequence[tuple[int, float]]]) -> list[CurvePoint]:
    """Per label count, the mean ± std over the curves that have a value there, sorted by label count."""
    at: dict[int, list[float]] = {}
    for curve in curves:
        for x, y in curve:
            at.setdefault(int(x), []).append(float(y))
    return [CurvePoint(x, *mean_std(ys), len(ys)) for x, ys in sorted(at.items())]


def group_runs(runs: Sequence[Run]) -> list[Group]:
    """Runs grouped by :func:`seed_free_config`, in the order their first run was given; each group named."""
    keyed: dict[str, list[Run]] = {}
    for r in runs:
        keyed.setdefault(json.dumps(seed_free_config(r.config), sort_keys=True), []).append(r)
    configs = [json.loads(k) for k in keyed]
    names = _names(list(keyed.values()), configs)
    return [Group(n, tuple(rs), c) for n, rs, c in zip(names, keyed.values(), configs)]


def _names(members: list[list[Run]], configs: list[dict]) -> list[str]:
    """The runs' shared folder name without its seed (``random-dho-seed1`` → ``random-dho``) when that tells the groups
    apart, else the configuration fields in which the groups differ (``strategy=entropy kd=none``)."""
    stems = [{_SEED_SUFFIX.sub("", r.name) for r in rs} for rs in members]
    if all(len(s) == 1 for s in stems) and len({next(iter(s)) for s in stems}) == len(stems):
        return [next(iter(s)) for s in stems]
    flat = [flatten(c) for c in configs]
    differ = [k for k in sorted(set().union(*flat)) if len({json.dumps(f.get(k)) for f in flat}) > 1]
    shown = differ or ["loop.strategy", "train.kd"]
    leaves = [k.rsplit(".", 1)[-1] for k in shown]
    labels = [lf if leaves.count(lf) == 1 else k for k, lf in zip(shown, leaves)]
    return [" ".join(f"{lab}={f.get(k)}" for k, lab in zip(shown, labels)) for f in flat]


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"loop": {"seed": 1}}`` → ``{"loop.seed": 1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
