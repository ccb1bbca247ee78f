"""Evaluation: accuracy of mixed predictions and a round's figures (the head mix: ``_headmix``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from activekd.round_result import Accuracy, ExtraSetResult, MixChoice, PerClass, SelectionMix

from ._config import TrainConfig
from ._headmix import MIX_GRID, search_alpha_beta
from ._trainer import predict

def accuracy(probs_or_logits: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy of ``[n, C]`` scores against ``[n]`` labels (NaN for n = 0)."""
    if labels.numel() == 0:
        return float("nan")
    return float((probs_or_logits.argmax(dim=1) == labels.to(probs_or_logits.device)).float().mean())


@dataclass(frozen=True)
class LabeledSplit:
    """Dataset positions ``[n]`` and their labels ``[n]`` (long) of a labeled split."""

    positions: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return int(self.positions.numel())


@dataclass(frozen=True)
class Evaluation:
    """A round's student on the labeled splits: the mix it predicts with, the selection's fixed mix, test accuracy of
    each head (and the teacher's) and the mixed prediction per class."""

    mix: MixChoice
    selection_mix: SelectionMix
    test: Accuracy
    per_class: PerClass


def evaluate_student(student, bank, cfg: TrainConfig, *, val: LabeledSplit | None, test: LabeledSplit | None,
                     teacher_test: Tensor | None, mix: MixChoice, search: bool, select_mix: tuple[float, float],
                     device: torch.device, progress: bool, predict_fn=predict) -> Evaluation:
    """A round's figures: accuracy of the mixed prediction and of each head on ``test``, the teacher's.

    The mix predicted with is DHO's search on ``val`` (no retraining) when ``search``, the KD head is trained
    and ``val`` holds labels; otherwise ``mix`` (chosen by the caller: out-of-sample picks, prior or fixed);
    without a KD head, the CE head alone. ``select_mix``: the fixed ``(α, β)`` selection uses, whose test accuracy
    is reported too (``Accuracy.select``). Figures that do not exist are None. ``teacher_test``: ``[n_test, C]`` teacher
    logits or None. ``predict_fn``: :func:`predict` or a function of its signature (the session's, which spreads
    over a process group).
    """
    run = functools.partial(predict_fn, student, bank, device=device, batch_size=cfg.eval_batch_size, bf16=cfg.bf16, progress=progress)
    if cfg.kd != "dho":
        mix, select_mix = MixChoice(0.0, mix.beta, "fixed"), (0.0, select_mix[1])
    elif search and val is not None and len(val):
        vo = run(val.positions, desc="validation")
        a, b, acc = search_alpha_beta(vo.ce, vo.kd, val.labels)
        mix = MixChoice(a, b, "val", len(val), acc)
    on_val = mix.accuracy if mix.source == "val" else None
    if test is None or not len(test):
        return Evaluation(mix, SelectionMix(*select_mix), Accuracy(val=on_val), PerClass())
    to = run(test.positions, desc="test")
    probs = to.probs(mix.alpha, mix.beta)
    dho = cfg.kd == "dho"  # other modes leave the KD head untrained
    scores = Accuracy(student=accuracy(probs, test.labels), ce=accuracy(to.ce, test.labels),
                      kd=accuracy(to.kd, test.labels) if dho else None, select=accuracy(to.probs(*select_mix), test.labels),
                      teacher=None if teacher_test is None else accuracy(teacher_test, test.labels),
                      grid=tuple(accuracy(to.probs(a, b), test.labels) for a, b in MIX_GRID) if dho else None,  # for the record
                      val=on_val)
    conf = confusion_matrix(probs, test.labels)
    per_class = PerClass(tuple(per_class_accuracy(conf)), tuple(map(tuple, conf.tolist())))
    return Evaluation(mix, SelectionMix(*select_mix), scores, per_class)


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
                       device: torch.device, progress: bool, desc: str = "extra test set") -> ExtraSetResult:
    """A round's student (with the round's α, β) and the teacher on another labeled set (``--eval-on``).

    ``bank`` holds that set's images (any storage size or channel count: the student adapts and
    resizes them); ``split.labels`` are in the run's class order; ``teacher``: ``[n, C]`` logits on
    ``split`` or None (then its accuracy is None). Runs in this process only (no process group).
    """
    out = predict(student, bank, split.positions, device=device, batch_size=cfg.eval_batch_size, bf16=cfg.bf16,
                  progress=progress, desc=desc)
    return ExtraSetResult(accuracy(out.probs(alpha, beta), split.labels), None if teacher is None else accuracy(teacher, split.labels),
                          len(split))
