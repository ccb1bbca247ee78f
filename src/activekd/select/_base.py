"""The one interface every selection strategy shares.

A strategy is a pure function ``fn(inputs, budget, *, generator, device) -> LongTensor`` that
returns ``budget`` distinct *positions* into the pool (``inputs.pool_ids``), in pick order.
It never runs a model, prints, does I/O or touches the global RNG. ``select`` maps positions to
ids and checks the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Sequence

import torch
from torch import Tensor

from activekd.heads import mix_heads
from activekd.registry import Registry


@dataclass(frozen=True)
class SelectionInputs:
    """Outputs of the current student on the pool and on the labeled set.

    Shapes: ``n`` pool points, ``m`` labeled points, ``C`` classes, ``d`` feature dims.
    All tensors may live on any device; strategies move what they need to ``device``.
    """

    pool_ids: Sequence[str]
    pool_ce: Tensor  # [n, C]
    pool_kd: Tensor  # [n, C]
    pool_features: Tensor  # [n, d]
    labeled_ids: Sequence[str]
    labeled_ce: Tensor  # [m, C]
    labeled_kd: Tensor  # [m, C]
    labeled_features: Tensor  # [m, d]
    labeled_labels: Tensor  # [m] long
    alpha: float = 0.5
    beta: float = 1.0
    pool_teacher: Optional[Tensor] = None  # [n, C] teacher logits, for teacher-aware strategies

    @property
    def num_pool(self) -> int:
        return len(self.pool_ids)

    @property
    def num_classes(self) -> int:
        return int(self.pool_ce.shape[1])

    def pool_probs(self, device: torch.device | str = "cpu") -> Tensor:
        """``[n, C]`` mixed probabilities of the pool (the DHO prediction rule)."""
        return mix_heads(self.pool_ce.to(device), self.pool_kd.to(device), self.alpha, self.beta)

    def labeled_probs(self, device: torch.device | str = "cpu") -> Tensor:
        """``[m, C]`` mixed probabilities of the labeled set."""
        return mix_heads(self.labeled_ce.to(device), self.labeled_kd.to(device), self.alpha, self.beta)


class StrategyFn(Protocol):
    def __call__(
        self, inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device
    ) -> Tensor: ...


STRATEGIES: Registry[StrategyFn] = Registry("strategy")


def register_strategy(name: str) -> Callable[[StrategyFn], StrategyFn]:
    """Decorator: register a strategy function under ``name``."""
    return STRATEGIES.register(name)


def get_strategy(name: str) -> StrategyFn:
    """The strategy registered as ``name``; an unknown name raises listing the valid ones."""
    return STRATEGIES.get(name)


def list_strategies() -> list[str]:
    return STRATEGIES.names()


def check_budget(inputs: SelectionInputs, budget: int) -> None:
    """Raise a clear error for a budget the pool cannot satisfy."""
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")
    if budget > inputs.num_pool:
        raise ValueError(f"budget {budget} is larger than the unlabeled pool ({inputs.num_pool} images)")


def select(
    name: str,
    inputs: SelectionInputs,
    budget: int,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    device: torch.device | str = "cpu",
) -> list[str]:
    """Run strategy ``name`` and return ``budget`` distinct pool ids in pick order."""
    fn = get_strategy(name)
    check_budget(inputs, budget)
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
    pos = fn(inputs, budget, generator=generator, device=torch.device(device))
    pos = pos.detach().to("cpu", torch.long)
    if pos.numel() != budget or torch.unique(pos).numel() != budget:
        raise RuntimeError(f"strategy {name!r} returned {pos.numel()} positions, not {budget} distinct ones")
    return [inputs.pool_ids[i] for i in pos.tolist()]
