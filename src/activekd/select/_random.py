"""Uniform random sampling: the baseline every paper reports."""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import SelectionInputs, StrategyNeeds, register_strategy


@register_strategy("random", needs=StrategyNeeds(outputs=False), benchmark=1)
def random_sampling(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """``budget`` positions drawn uniformly without replacement (``[budget]`` long); reads no student output, so the
    session skips the pool pass (``outputs=False``)."""
    return torch.randperm(inputs.num_pool, generator=generator, device=generator.device)[:budget].cpu()
