"""The dual-head prediction rule, written once for the whole package.

DHO (Kang et al. 2025, arXiv 2505.07675, Sec. 3) predicts with

    p = (1 - alpha) * softmax(ce_logits) + alpha * softmax(kd_logits / beta)

where ``ce_logits`` come from the head trained on human labels and ``kd_logits`` from the
head trained to match the teacher.

**α weights the KD head here.** erjui/DHO (``train_others.py``) writes the same mix with α on the CE
head, ``p = α_DHO · softmax(ce) + (1 − α_DHO) · softmax(kd / β)``, so ``α_DHO = 1 − α``; erjui/PCoreSet's
"others" scripts use activekd's convention. Which α a round predicts with: ``activekd.train._headmix``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from activekd.errors import InputError


def mix_heads(ce_logits: Tensor, kd_logits: Tensor, alpha: float = 0.5, beta: float = 1.0) -> Tensor:
    """Combine the two heads' logits into class probabilities.

    Args:
        ce_logits: ``[n, C]`` logits of the CE head.
        kd_logits: ``[n, C]`` logits of the KD head.
        alpha: weight of the KD head, in ``[0, 1]``.
        beta: temperature applied to the KD logits, ``> 0``.

    Returns:
        ``[n, C]`` float32 probabilities; rows sum to 1.
    """
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    if beta <= 0:
        raise InputError(f"beta must be > 0, got {beta}")
    if ce_logits.shape != kd_logits.shape:
        raise InputError(f"head shapes differ: {tuple(ce_logits.shape)} vs {tuple(kd_logits.shape)}")
    ce = ce_logits.float()
    if alpha == 0.0:
        return torch.softmax(ce, dim=-1)
    kd = torch.softmax(kd_logits.float() / beta, dim=-1)
    if alpha == 1.0:
        return kd
    return (1.0 - alpha) * torch.softmax(ce, dim=-1) + alpha * kd
