"""Distillation losses of Dual-Head Optimization (Kang et al. 2025, arXiv 2505.07675, Eq. 3-5)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from activekd.errors import InputError


def kl_t(teacher_logits: Tensor, student_logits: Tensor, temperature: float) -> Tensor:
    """``KL(softmax(t/T) || softmax(s/T)) · T²``, averaged over the batch (Hinton et al. 2015).

    Shapes: ``[B, C]`` each; returns a scalar.
    """
    t = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    return F.kl_div(s, t, reduction="batchmean", log_target=True) * temperature**2


class DHOLoss(nn.Module):
    """``0.5 · CE(ce_l, y) + 0.5 · [KL_T(t_l ‖ kd_l) + KL_T(t_u ‖ kd_u)]`` (DHO, T = 2).

    For the single-head baseline pass the same head's logits as ``ce_l`` and ``kd_l``.
    """

    def __init__(self, temperature: float = 2.0, ce_weight: float = 0.5) -> None:
        super().__init__()
        if temperature <= 0:
            raise InputError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.ce_weight = ce_weight

    def forward(self, ce_l: Tensor, y: Tensor, kd_l: Tensor, t_l: Tensor, kd_u: Tensor, t_u: Tensor) -> Tensor:
        ce = F.cross_entropy(ce_l.float(), y)
        kd = kl_t(t_l, kd_l, self.temperature) + kl_t(t_u, kd_u, self.temperature)
        return self.ce_weight * ce + (1.0 - self.ce_weight) * kd
