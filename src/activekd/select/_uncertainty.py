"""Score-based uncertainty strategies on the mixed probabilities p (DHO prediction rule)."""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import SelectionInputs, register_strategy


def top_scores(scores: Tensor, budget: int) -> Tensor:
    """Positions of the ``budget`` highest scores; ties break by the lowest position."""
    n = scores.numel()
    order = torch.argsort(-scores.double(), stable=True)
    return order[:budget].cpu() if n else order


@register_strategy("entropy")
def entropy(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """Highest predictive entropy ``-sum_c p_c log p_c``."""
    p = inputs.pool_probs(device)
    h = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=1)
    return top_scores(h, budget)
