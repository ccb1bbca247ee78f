"""Synthetic ``results.json`` files (schema 2, and older ones without the newer fields) for the report tests."""

from __future__ import annotations

import json
from pathlib import Path

from activekd.config import LoopConfig, RunConfig, TrainConfig

CLASSES = ["T-shirt/top", "trouser", "pullover"]


def config(strategy: str = "random", kd: str = "dho", seed: int = 1, **top) -> dict:
    return RunConfig(train=TrainConfig(kd=kd), loop=LoopConfig(strategy=strategy, seed=seed), **top).to_dict()


def round_dict(r: int, labels: int, acc: float | None, *, teacher: float | None = 0.8, rich: bool = True,
               pool_agreement: float | None = None, teacher_agreement: float | None = None) -> dict:
    d = {"round": r, "num_labeled": labels, "student_acc": acc, "ce_acc": acc, "kd_acc": acc, "teacher_acc": teacher,
         "alpha": 0.5, "beta": 1.0, "train_loss": 1.0, "num_picked": 10, "status": "done", "picks": [], "checkpoint": None,
         "seconds": {"train": 2.0, "evaluate": 0.5, "select": 0.25}}
    if rich:
        d["seconds"] = {"teacher": 1.0, "train": 2.0, "inference": 0.5, "select": 0.25, "evaluate": 0.5}
        d["per_class_acc"] = None if acc is None else [acc, min(1.0, acc + 0.1), max(0.0, acc - 0.1)]
        d["confusion"] = None if acc is None else [[8, 1, 1], [0, 9, 1], [2, 2, 6]]
        d["pool_agreement"] = pool_agreement
        d["teacher_agreement"] = teacher_agreement
    return d


def write_run(folder: Path, accs: list[float | None], *, labels: list[int] | None = None, strategy: str = "random",
              kd: str = "dho", seed: int = 1, rich: bool = True, agreements: list[float | None] | None = None,
              teacher: float | None = 0.8, **top) -> Path:
    """A run folder with ``results.json``: one round per accuracy at ``labels`` (default 10, 20, ...)."""
    labels = labels or [10 * (i + 1) for i in range(len(accs))]
    agreements = agreements or [None] * len(accs)
    rounds = [round_dict(i, n, a, teacher=teacher, rich=rich, pool_agreement=g, teacher_agreement=None if g is None else 0.9)
              for i, (n, a, g) in enumerate(zip(labels, accs, agreements))]
    doc = {"config": config(strategy, kd, seed, **top), "teacher": "standin" if teacher is not None else None,
           "dataset": {"name": "fashion-mnist", "fingerprint": "x", "num_classes": 3, "class_names": CLASSES},
           "rounds": rounds, "complete": True, "final": rounds[-1], "num_labels": labels[-1], "student": None}
    if rich:
        doc["schema"] = 2
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(doc, allow_nan=False))
    return folder
