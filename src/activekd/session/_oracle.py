"""Oracles: who labels the picked images."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from activekd.data import UNLABELED, Dataset


class SimulatedOracle:
    """Answers with the dataset's ground-truth labels (benchmarks, demos)."""

    source = "oracle"

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def label(self, ids: Sequence[str]) -> list[tuple[str, int]]:
        y = self.dataset.labels[self.dataset.index_of(ids)]
        if (y == UNLABELED).any():
            raise ValueError("the simulated oracle needs ground-truth labels; this dataset has unlabeled pool images: use --oracle human")
        return [(i, int(v)) for i, v in zip(ids, y)]


def write_label_request(path: Path, ids: Sequence[str], dataset: Dataset) -> Path:
    """A CSV for a person to fill in: ``id,path,label`` with the label column empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pos = dataset.index_of(ids)
    tmp = path.with_suffix(".partial")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "path", "label"])
        for i, p in zip(ids, pos):
            w.writerow([i, dataset.paths[p] if dataset.paths else "", ""])
    tmp.replace(path)
    return path


def read_label_answers(path: Path, dataset: Dataset, pending: Sequence[str], already: set[str]) -> list[tuple[str, int]]:
    """Parse and validate a person's answers (``id,label`` columns; label = class name or index).

    Rows with an empty label are skipped. Raises ``ValueError`` with a one-line reason on an
    unknown id, an id that was not asked for, an unknown class, a duplicate or a conflict.
    """
    if not path.is_file():
        raise ValueError(f"label file {path} not found")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"id", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs a header with columns id,label")
        rows = list(reader)
    names = {n: i for i, n in enumerate(dataset.class_names)}
    pend = set(pending)
    out: dict[str, int] = {}
    for n, r in enumerate(rows, start=2):
        sid, lab = r["id"].strip(), (r["label"] or "").strip()
        if not lab:
            continue
        if not dataset.has(sid):
            raise ValueError(f"{path} line {n}: unknown sample id {sid!r}")
        if sid in already:
            raise ValueError(f"{path} line {n}: {sid!r} is already labeled")
        if sid not in pend:
            raise ValueError(f"{path} line {n}: {sid!r} was not picked for labeling this round")
        if lab in names:
            y = names[lab]
        elif lab.isdigit() and int(lab) < len(names):
            y = int(lab)
        else:
            raise ValueError(f"{path} line {n}: unknown class {lab!r}; valid: {', '.join(dataset.class_names)}")
        if sid in out:
            kind = "conflicting" if out[sid] != y else "duplicate"
            raise ValueError(f"{path} line {n}: {kind} label for {sid!r}")
        out[sid] = y
    return list(out.items())
