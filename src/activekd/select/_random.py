"""Uniform random sampling: the baseline every paper reports."""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import SelectionInputs, register_strategy


@register_strategy("random")
def random_sampling(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """``budget`` positions drawn uniformly without replacement (``[budget]`` long)."""
    return torch.randperm(inputs.num_pool, generator=generator, device=generator.device)[:budget].cpu()


random_sampling.needs_outputs = False  # the session loop may skip computing student outputs
