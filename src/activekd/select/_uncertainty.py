"""Score-based uncertainty strategies on the mixed probabilities p (DHO prediction rule).

Each score is a pure function ``[n, C] probabilities -> [n] float64 score`` (higher = more
uncertain = picked first); the strategies take the ``budget`` highest scores, ties by the lowest
pool position. The pool is processed in row chunks, so the extra memory is O(n + chunk * C).

* entropy: ``-sum_c p_c log p_c`` (Shannon; Settles, *Active Learning Literature Survey*, 2009).
* margin: ``-(p_(1) - p_(2))``, the negated gap between the two largest probabilities
  (Scheffer et al., 2001).
* least-confidence: ``1 - max_c p_c`` (Lewis & Gale, 1994).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._base import SelectionInputs, StrategyNeeds, register_strategy
from ._ops import top_scores


UNSURE = StrategyNeeds(uncertain_picks=True)
"""What the score strategies declare: they pick where the student is least sure, a biased sample of its errors."""


def entropy_scores(p: Tensor) -> Tensor:
    """``[n]`` float64 Shannon entropy of each row of ``p`` ``[n, C]`` (``0 log 0 = 0``)."""
    return torch.special.entr(p.double()).sum(dim=1)


def margin_scores(p: Tensor) -> Tensor:
    """``[n]`` float64 ``-(p_(1) - p_(2))``; with a single class the margin is 1 (score -1)."""
    p = p.double()
    if p.shape[1] < 2:
        return torch.full((p.shape[0],), -1.0, dtype=torch.float64, device=p.device)
    top2 = p.topk(2, dim=1).values
    return top2[:, 1] - top2[:, 0]


def least_confidence_scores(p: Tensor) -> Tensor:
    """``[n]`` float64 ``1 - max_c p_c``."""
    return 1.0 - p.double().amax(dim=1)


def _pool_scores(inputs: SelectionInputs, device: torch.device, score: Callable[[Tensor], Tensor]) -> Tensor:
    out = torch.empty(inputs.num_pool, dtype=torch.float64, device=device)
    for start, stop, p in inputs.iter_pool_probs(device):
        out[start:stop] = score(p)
    return out


@register_strategy("entropy", needs=UNSURE, benchmark=2)
def entropy(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """Highest predictive entropy of the mixed probabilities."""
    return top_scores(_pool_scores(inputs, device, entropy_scores), budget)


@register_strategy("margin", needs=UNSURE, benchmark=3)
def margin(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """Smallest gap between the two most probable classes."""
    return top_scores(_pool_scores(inputs, device, margin_scores), budget)


@register_strategy("least-confidence", needs=UNSURE)
def least_confidence(
    inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device
) -> Tensor:
    """Lowest top-class probability."""
    return top_scores(_pool_scores(inputs, device, least_confidence_scores), budget)
