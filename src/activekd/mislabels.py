"""Likely label mistakes: labels that every model with out-of-sample evidence confidently disagrees with.

The rule (a fixed-threshold form of confident learning's "the model is confident the example belongs elsewhere",
Northcutt, Jiang & Chuang 2021, "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 70):
a label ``y`` of image ``x`` is flagged when

    p_m(y | x) < threshold   for every model m that has evidence on x   (and at least one has),

with ``p_m`` a model's predicted class probabilities *before* the label was known: the student that picked
``x`` (its prediction stored at pick time) and the teacher. Below ``threshold = 0.05`` a model puts more than 95%
of its mass on the other classes (0.05 rather than 0.1: on Fashion-MNIST with 5% of labels flipped it found 77% of
the flips for 1.8% of correct labels flagged, against 86% for 5.9% at 0.1; docs/mislabels.md). Requiring both models (the student is trained on the teacher, but also on
the labels) keeps the teacher's own confident errors from being flagged alone. Confident learning's per-class
thresholds (the mean self-confidence of each class) are not used: with a few hundred labels they are estimated
from a handful of images per class. ``bench/mislabels.py`` measures the rule (docs/mislabels.md).

Pure functions of tensors: no model, no I/O.
"""

from __future__ import annotations

import torch
from torch import Tensor

from activekd.errors import InputError

THRESHOLD = 0.05
"""A label is flagged when every model with evidence gives it a probability below this."""


def label_probability(probs: Tensor, labels: Tensor) -> Tensor:
    """``probs[i, labels[i]]``: each image's probability of its given label. ``probs`` ``[n, C]``, ``labels`` ``[n]`` long → ``[n]``."""
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise InputError(f"probs must be [n, C] and labels [n], got {tuple(probs.shape)} and {tuple(labels.shape)}")
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise InputError(f"labels must lie in 0..{probs.shape[1] - 1}")
    return probs.gather(1, labels.long()[:, None])[:, 0]


def flag_mislabels(p_label: Tensor, threshold: float = THRESHOLD) -> Tensor:
    """Which labels are likely mistakes. ``p_label`` ``[n, M]``: model ``m``'s probability of image ``i``'s given label,
    NaN where model ``m`` has no evidence on image ``i``. Returns ``[n]`` bool: at least one model has evidence and
    every model that has gives the label less than ``threshold``."""
    if p_label.ndim != 2:
        raise InputError(f"p_label must be [n, M], got shape {tuple(p_label.shape)}")
    if not 0.0 < threshold < 1.0:
        raise InputError(f"threshold must lie in (0, 1), got {threshold}")
    known = ~torch.isnan(p_label)
    low = torch.where(known, p_label < threshold, torch.ones_like(known))
    return known.any(dim=1) & low.all(dim=1)
