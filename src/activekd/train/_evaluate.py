"""Accuracy of mixed predictions and the α/β search of DHO (no retraining needed)."""

from __future__ import annotations

from torch import Tensor

from activekd.heads import mix_heads

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
