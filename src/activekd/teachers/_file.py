"""``file:PATH``: precomputed teacher logits or probabilities keyed by sample id.

Formats:
- ``.npz`` with arrays ``ids`` (``[N]`` str) and ``logits`` or ``probs`` (``[N, C]``);
- ``.npy``: a structured array with fields ``id`` and ``logits``/``probs``, or a plain ``[N, C]``
  array whose rows follow the dataset's sample order (``N`` = dataset size);
- ``.csv`` / ``.parquet``: a column ``id`` and ``C`` numeric columns (in class order).

Probabilities (given as ``probs``, or every row non-negative and summing to 1) are turned into
log-probabilities, which are valid logits. Every id the run needs must be present, the class count
must match the dataset and every value must be finite; otherwise a clear error is raised.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ._base import TableTeacher, TeacherConfig, TeacherContext, register_teacher


class TeacherFileError(ValueError):
    """A precomputed teacher file that cannot serve this run."""


def _read(path: Path, dataset_ids: Sequence[str]) -> tuple[list[str], np.ndarray, bool]:
    """-> (ids, values [N, C] float64, values_are_probs)."""
    suf = path.suffix.lower()
    if suf == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if "ids" not in z:
                raise TeacherFileError(f"{path}: .npz needs an 'ids' array and a 'logits' or 'probs' array; has {sorted(z.files)}")
            key = "logits" if "logits" in z else "probs" if "probs" in z else None
            if key is None:
                raise TeacherFileError(f"{path}: .npz needs a 'logits' or 'probs' array; has {sorted(z.files)}")
            return [str(i) for i in z["ids"].tolist()], np.asarray(z[key], dtype=np.float64), key == "probs"
    if suf == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.dtype.names:
            key = "logits" if "logits" in arr.dtype.names else "probs" if "probs" in arr.dtype.names else None
            if "id" not in arr.dtype.names or key is None:
                raise TeacherFileError(f"{path}: structured .npy needs fields 'id' and 'logits' or 'probs'; has {arr.dtype.names}")
            return [str(i) for i in arr["id"].tolist()], np.asarray(arr[key], dtype=np.float64), key == "probs"
        if arr.ndim != 2 or arr.shape[0] != len(dataset_ids):
            raise TeacherFileError(
                f"{path}: a plain .npy must be [N, C] with one row per dataset sample (N = {len(dataset_ids)}); got {arr.shape}"
            )
        return list(dataset_ids), arr.astype(np.float64), False
    if suf in (".csv", ".parquet"):
        if suf == ".csv":
            with open(path, newline="") as fh:
                rows = list(csv.reader(fh))
            if not rows or rows[0][:1] != ["id"]:
                raise TeacherFileError(f"{path}: .csv needs a header whose first column is 'id'")
            body = rows[1:]
            ids = [r[0] for r in body]
            try:
                vals = np.array([[float(v) for v in r[1:]] for r in body], dtype=np.float64)
            except ValueError as e:
                raise TeacherFileError(f"{path}: non-numeric value ({e})") from None
            if body and any(len(r) != len(rows[0]) for r in body):
                raise TeacherFileError(f"{path}: rows have different numbers of columns")
        else:
            try:
                import pyarrow.parquet as pq
            except ImportError:
                raise TeacherFileError("reading .parquet needs pyarrow: pip install 'activekd[parquet]'") from None
            table = pq.read_table(path)
            if "id" not in table.column_names:
                raise TeacherFileError(f"{path}: .parquet needs an 'id' column")
            ids = [str(i) for i in table.column("id").to_pylist()]
            cols = [c for c in table.column_names if c != "id"]
            vals = np.stack([table.column(c).to_numpy().astype(np.float64) for c in cols], axis=1) if cols else np.zeros((len(ids), 0))
        return ids, vals.reshape(len(ids), -1), False
    raise TeacherFileError(f"{path}: unsupported teacher file type {suf!r}; use .npz, .npy, .csv or .parquet")


def load_teacher_file(path: str | Path, *, dataset_ids: Sequence[str], needed_ids: Sequence[str], num_classes: int) -> TableTeacher:
    """Read and validate a precomputed teacher file; see the module docstring for formats."""
    path = Path(path)
    if not path.is_file():
        raise TeacherFileError(f"teacher file {path} not found")
    ids, vals, probs = _read(path, dataset_ids)
    if vals.ndim != 2 or vals.shape[1] != num_classes:
        raise TeacherFileError(f"{path}: {vals.shape[1] if vals.ndim == 2 else '?'} classes, but the dataset has {num_classes}")
    if not np.isfinite(vals).all():
        bad = int((~np.isfinite(vals)).any(axis=1).sum())
        raise TeacherFileError(f"{path}: {bad} row(s) contain NaN or infinite values")
    if len(set(ids)) != len(ids):
        raise TeacherFileError(f"{path}: duplicate sample ids")
    have = set(ids)
    missing = [i for i in needed_ids if i not in have]
    if missing:
        raise TeacherFileError(f"{path}: missing {len(missing)} needed sample id(s), e.g. {', '.join(missing[:5])}")
    if not probs and len(vals) and (vals >= 0).all() and np.allclose(vals.sum(axis=1), 1.0, atol=1e-4):
        probs = True
    if probs:
        if (vals < 0).any():
            raise TeacherFileError(f"{path}: probabilities must be non-negative")
        vals = np.log(np.clip(vals, 1e-12, None))
    return TableTeacher(f"file:{path}", ids, torch.from_numpy(vals.astype(np.float32)))


def needed_ids(ctx: TeacherContext) -> list[str]:
    """Ids a teacher must cover: the pool, validation and test splits."""
    ds = ctx.dataset
    return [ds.ids[i] for i in np.flatnonzero(np.isin(ds.splits, ("pool", "val", "test")))]


@register_teacher("file")
def _file_teacher(arg: str | None, config: TeacherConfig, ctx: TeacherContext) -> TableTeacher:
    if not arg:
        raise TeacherFileError("file teacher needs a path: file:PATH")
    return load_teacher_file(arg, dataset_ids=ctx.dataset.ids, needed_ids=needed_ids(ctx), num_classes=ctx.dataset.num_classes)
