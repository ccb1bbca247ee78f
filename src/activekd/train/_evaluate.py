"""Evaluation: accuracy of mixed predictions, the α/β search of DHO (no retraining needed), a round's figures."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from activekd.heads import mix_heads

from ._config import TrainConfig
from ._trainer import predict

ALPHAS = tuple(round(0.05 * i, 2) for i in range(21))
BETAS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 4.0)


def accuracy(probs_or_logits: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy of ``[n, C]`` scores against ``[n]`` labels (NaN for n = 0)."""
    if labels.numel() == 0:
        return float("nan")
    return float((probs_or_logits.argmax(dim=1) == labels.to(probs_or_logits.device)).float().mean())


def search_alpha_beta(ce: Tensor, kd: Tensor, labels: Tensor, alphas=ALPHAS, betas=BETAS) -> tuple[float, float, float]:
    """Best ``(alpha, beta, accuracy)`` on a labeled validation set; ties keep the first in grid order."""
    best = (0.5, 1.0, -1.0)
    for a in alphas:
        for b in betas:
            acc = accuracy(mix_heads(ce, kd, a, b), labels)
            if acc > best[2]:
                best = (a, b, acc)
    return best


@dataclass(frozen=True)
class LabeledSplit:
    """Dataset positions ``[n]`` and their labels ``[n]`` (long) of a labeled split."""

    positions: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return int(self.positions.numel())


def evaluate_student(student, bank, cfg: TrainConfig, *, val: LabeledSplit | None, test: LabeledSplit | None,
                     teacher_test: Tensor | None, alpha: float, beta: float, search: bool, device: torch.device,
                     progress: bool, predict_fn=predict) -> dict:
    """A round's figures: accuracy of the mixed prediction and of each head on ``test``, the teacher's.

    α, β are searched on ``val`` (DHO's grid, no retraining) when ``search`` and the KD head is
    trained; otherwise the given ones are kept (α forced to 0 without a KD head). Figures that do not
    exist are NaN. ``teacher_test``: ``[n_test, C]`` teacher logits or None. ``predict_fn``: :func:`predict` or
    a function of its signature (the session's, which spreads over a process group).
    """
    alpha = cfg.default_alpha(alpha)
    run = functools.partial(predict_fn, student, bank, device=device, batch_size=cfg.eval_batch_size, bf16=cfg.bf16, progress=progress)
    out = {"alpha": alpha, "beta": beta}
    if search and cfg.kd == "dho" and val is not None and len(val):
        vo = run(val.positions, desc="validation")
        out["alpha"], out["beta"], out["val_acc"] = search_alpha_beta(vo.ce, vo.kd, val.labels)
    nan = float("nan")
    out.update(student_acc=nan, ce_acc=nan, kd_acc=nan, teacher_acc=None)
    if test is not None and len(test):
        to = run(test.positions, desc="test")
        out["student_acc"] = accuracy(to.probs(out["alpha"], out["beta"]), test.labels)
        out["ce_acc"] = accuracy(to.ce, test.labels)
        out["kd_acc"] = accuracy(to.kd, test.labels) if cfg.kd == "dho" else nan  # other modes leave the KD head untrained
        if teacher_test is not None:
            out["teacher_acc"] = accuracy(teacher_test, test.labels)
        conf = confusion_matrix(to.probs(out["alpha"], out["beta"]), test.labels)
        out["confusion"] = conf.tolist()
        out["per_class_acc"] = per_class_accuracy(conf)
    return out


def confusion_matrix(scores: Tensor, labels: Tensor) -> Tensor:
    """``[C, C]`` counts: row = true class, column = predicted class (argmax of ``scores`` ``[n, C]``)."""
    c = scores.shape[1]
    pred = scores.argmax(dim=1).cpu()
    return torch.bincount(labels.cpu() * c + pred, minlength=c * c).reshape(c, c)


def per_class_accuracy(confusion: Tensor) -> list[float | None]:
    """Recall of each class from a confusion matrix (None for a class with no test images)."""
    totals = confusion.sum(dim=1)
    return [float(confusion[i, i] / t) if t else None for i, t in enumerate(totals.tolist())]


def evaluate_extra_set(student, bank, cfg: TrainConfig, split: LabeledSplit, *, teacher: Tensor | None, alpha: float, beta: float,
                       device: torch.device, progress: bool, desc: str = "extra test set") -> dict:
    """A round's student (with the round's α, β) and the teacher on another labeled set (``--eval-on``).

    ``bank`` holds that set's images (any storage size or channel count: the student adapts and
    resizes them); ``split.labels`` are in the run's class order; ``teacher``: ``[n, C]`` logits on
    ``split`` or None (then ``teacher_acc`` is None). Runs in this process only (no process group).
    """
    out = predict(student, bank, split.positions, device=device, batch_size=cfg.eval_batch_size, bf16=cfg.bf16,
                  progress=progress, desc=desc)
    return {"student_acc": accuracy(out.probs(alpha, beta), split.labels),
            "teacher_acc": None if teacher is None else accuracy(teacher, split.labels), "num_images": len(split)}
