"""The batch a person labels each round, with the teacher's and the student's suggestions.

Written as ``to_label/round_NNN.csv`` (``id, path, teacher_guess, teacher_prob, student_guess,
student_prob, label, likely_mistake``; the label column empty; then a re-check row, label filled in, for each likely
label mistake standing: see ``_mislabels``), ``to_label/round_NNN.labelstudio.json`` (Label
Studio import tasks with both guesses as predictions) and ``to_label/classes.txt`` (the valid
labels, one per line). Images of datasets that have no files (Fashion-MNIST) are written as PNGs under
``images/`` so a person, or Label Studio, can see them. Everything here is rebuilt from the store.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from activekd._atomic import atomic_path, atomic_write
from activekd.data import Dataset
from activekd.layout import RunLayout

CSV_COLUMNS = ("id", "path", "teacher_guess", "teacher_prob", "student_guess", "student_prob", "label", "likely_mistake")


@dataclass(frozen=True)
class Batch:
    """Round ``round``'s picks and, per id, ``{"teacher": [class, prob] | None, "student": [class, prob]}``; ``review``: the
    likely label mistakes standing when it was picked (``_mislabels.LikelyMistake``), re-check rows of its CSV."""

    round: int
    ids: tuple[str, ...]
    suggestions: dict[str, dict]
    review: tuple = ()


def suggestions(ids: list[str], student_probs: Tensor, teacher_logits: Tensor | None, class_names) -> dict[str, dict]:
    """Top class and its probability for each id: ``student_probs`` ``[k, C]``, ``teacher_logits`` ``[k, C]`` or None."""
    def top(p: Tensor) -> list[list]:
        v, i = p.max(dim=1)
        return [[class_names[c], round(float(x), 4)] for x, c in zip(v.tolist(), i.tolist())]

    s = top(student_probs)
    t = top(torch.softmax(teacher_logits.double(), dim=1)) if teacher_logits is not None else [None] * len(ids)
    return {i: {"student": a, "teacher": b} for i, a, b in zip(ids, s, t)}


def with_pick_data(suggestions: dict[str, dict], ids, key: str, values) -> dict[str, dict]:
    """``suggestions`` with ``values[n]`` stored under ``key`` beside pick ``ids[n]`` (the other entries kept)."""
    out = dict(suggestions)
    for sid, v in zip(ids, values):
        out[sid] = dict(suggestions.get(sid, {}), **{key: v})
    return out


def image_paths(out: Path, dataset: Dataset, ids) -> list[str]:
    """Each id's image file; for datasets without files, a PNG written once under ``out/images``."""
    if dataset.paths:
        return [dataset.paths[p] for p in dataset.index_of(ids)]
    paths = []
    for sid, pos in zip(ids, dataset.index_of(ids)):
        path = RunLayout(out).images / f"{re.sub(r'[^A-Za-z0-9._-]', '_', sid)}.png"
        if not path.is_file():
            with atomic_path(path, suffix=".png") as tmp:
                dataset.images.pil(int(pos)).save(tmp)
        paths.append(str(path.resolve()))
    return paths


def write_batch_files(out: Path, dataset: Dataset, batch: Batch, document_root: str | None) -> list[dict]:
    """The CSV (when missing), the Label Studio import JSON and the class list of one batch; returns the Label Studio tasks.

    The CSV lists the picks (label empty), then one re-check row per likely label mistake in ``batch.review`` (its
    label filled in, ``likely_mistake`` saying why): left as it is, a row changes nothing; a changed label is a correction
    (``activekd label --relabel``). The Label Studio tasks are the picks only."""
    paths = image_paths(out, dataset, batch.ids)
    rows = [_row(sid, path, batch.suggestions.get(sid, {}).get("teacher"), batch.suggestions.get(sid, {}).get("student"))
            for sid, path in zip(batch.ids, paths)]
    csv_path = RunLayout(out).batch(batch.round)
    tasks = labelstudio_tasks(_batch_rows(batch, paths), out, batch.round, document_root)
    atomic_write(RunLayout(out).classes, "\n".join(dataset.class_names) + "\n")
    atomic_write(csv_path.with_suffix(".labelstudio.json"), json.dumps(tasks, indent=1))
    if not csv_path.is_file():
        atomic_write(csv_path, csv_text(rows + review_rows(out, dataset, batch.review)))
    return tasks


def write_review(out: Path, dataset: Dataset, flags, path: Path, document_root: str | None) -> None:
    """The likely label mistakes ``flags`` as a CSV of the batch's format at ``path`` (labels filled in: correct them and
    feed the file back with ``activekd label RUN FILE --relabel``) and the same as Label Studio tasks beside it
    (``.labelstudio.json``, each with ``data.likely_mistake``)."""
    from ._labelstudio import BatchRow

    paths = image_paths(out, dataset, [f.id for f in flags])
    rows = [BatchRow(f.id, p, f.teacher, f.student, f.describe()) for f, p in zip(flags, paths)]
    tasks = labelstudio_tasks(rows, out, "review", document_root)
    atomic_write(path.with_suffix(".labelstudio.json"), json.dumps(tasks, indent=1))
    atomic_write(path, csv_text(review_rows(out, dataset, flags)))


def review_rows(out: Path, dataset: Dataset, flags) -> list[list]:
    """One CSV row per flag: its suggestions, its label filled in, why it is flagged."""
    paths = image_paths(out, dataset, [f.id for f in flags])
    return [_row(f.id, p, f.teacher, f.student, f.label, f.describe()) for f, p in zip(flags, paths)]


def _row(sid: str, path: str, teacher, student, label: str = "", why: str = "") -> list:
    t, st = teacher or ["", ""], student or ["", ""]
    return [sid, path, t[0], t[1], st[0], st[1], label, why]


def csv_text(rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    w.writerows(rows)
    return buf.getvalue()


def _batch_rows(batch: Batch, paths: list[str]) -> list:
    from ._labelstudio import BatchRow

    return [BatchRow(sid, path, _pair(batch.suggestions.get(sid, {}).get("teacher")), _pair(batch.suggestions.get(sid, {}).get("student")))
            for sid, path in zip(batch.ids, paths)]


def labelstudio_tasks(rows: list, out: Path, tag, document_root: str | None) -> list[dict]:
    """Label Studio import tasks of ``rows`` (``BatchRow``), images as local-file URLs under ``document_root`` (default ``/``);
    ``tag``: the round (or ``review``) in the predictions' model version."""
    from ._labelstudio import batch_tasks, local_file_url

    root = document_root or "/"
    version = f"{out.name}-round-{tag}" if isinstance(tag, int) else f"{out.name}-{tag}"
    return batch_tasks(rows, lambda row: local_file_url(row.path, root), model_version=version)


def _pair(v) -> tuple[str, float] | None:
    return None if not v else (str(v[0]), float(v[1]))
