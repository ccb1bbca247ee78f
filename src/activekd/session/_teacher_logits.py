"""The teacher's logits for a run, computed once per teacher fit and served to every round."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from activekd.data import Dataset
from activekd.teachers import Teacher, ViewTeacher
from activekd.train import ViewTargets

from ._errors import SessionError

EVALUATED_SPLITS = ("pool", "val", "test")


class TeacherLogits:
    """``[N, C]`` teacher logits by dataset position (rows outside pool/val/test are zero).

    The teacher is built on first use (``build``), so commands that never need it (``label``) do not
    load it. A fixed teacher is asked once; an adaptive (few-shot) teacher is refitted, and asked
    again, whenever the labeled set it was fitted on changes (ids or labels: a correction counts).
    """

    def __init__(self, name: str, build: Callable[[], Teacher], dataset: Dataset) -> None:
        self.name, self._build, self.dataset = name, build, dataset
        self._teacher: Teacher | None = None
        self._table: Tensor | None = None
        self._fit_on: tuple | None = None
        self._views: ViewTargets | None = None
        self._views_on: tuple | None = None

    @property
    def teacher(self) -> Teacher:
        if self._teacher is None:
            self._teacher = self._build()
            if self._teacher.num_classes != self.dataset.num_classes:
                raise SessionError(f"teacher {self.name!r} has {self._teacher.num_classes} classes, the dataset {self.dataset.num_classes}")
        return self._teacher

    def table(self, labeled: list[tuple[str, int]]) -> Tensor:
        key = tuple(labeled)
        if self._table is not None and (not self.teacher.adaptive or self._fit_on == key):
            return self._table
        if self.teacher.adaptive:
            self.teacher.fit([i for i, _ in labeled], torch.tensor([y for _, y in labeled], dtype=torch.long))
        ds = self.dataset
        pos = np.flatnonzero(np.isin(ds.splits, EVALUATED_SPLITS))
        table = torch.zeros(len(ds), ds.num_classes)
        table[torch.from_numpy(pos)] = self.teacher.logits([ds.ids[i] for i in pos]).float()
        self._table, self._fit_on = table, key
        return table

    def views(self, labeled: list[tuple[str, int]]) -> ViewTargets | None:
        """The teacher's ``K`` fixed augmented views (``theta`` ``[N, K, 2, 3]``) and its logits on each (``[N, K, C]``),
        by dataset position for the pool and labeled images (other rows zero); None when the teacher has no views
        (fixed teachers). Computed once, like :meth:`table`, and again after a refit."""
        t = self.teacher
        if not (isinstance(t, ViewTeacher) and t.num_views > 0):
            return None
        self.table(labeled)  # fits an adaptive teacher on ``labeled``
        key = tuple(labeled)
        if self._views is not None and (not t.adaptive or self._views_on == key):
            return self._views
        ds = self.dataset
        pos = np.union1d(ds.split_indices("pool"), ds.index_of([i for i, _ in labeled])).astype(np.int64)
        ids, rows = [ds.ids[i] for i in pos], torch.from_numpy(pos)
        theta = torch.zeros(len(ds), t.num_views, 2, 3)
        logits = torch.zeros(len(ds), t.num_views, ds.num_classes)
        theta[rows] = t.view_params(ids)
        for k in range(t.num_views):
            logits[rows, k] = t.view_logits(ids, k).float()
        self._views, self._views_on = ViewTargets(theta, logits), key
        return self._views
