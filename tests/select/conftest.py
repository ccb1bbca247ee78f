"""Shared fixtures for the selection tests: seeded synthetic SelectionInputs."""

from __future__ import annotations

import pytest
import torch

from activekd.select import SelectionInputs


def _make_inputs(
    n: int = 40,
    m: int = 5,
    num_classes: int = 6,
    dim: int = 8,
    *,
    seed: int = 0,
    duplicates: bool = False,
    teacher: bool = True,
    alpha: float = 0.5,
    beta: float = 1.0,
) -> SelectionInputs:
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 2.0) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    pool_ce, pool_kd, pool_feat = rnd(n, num_classes), rnd(n, num_classes), rnd(n, dim)
    pool_teacher = rnd(n, num_classes, scale=3.0)
    if duplicates and n >= 4:  # the second half repeats rows of the first half
        src = torch.randint(0, n // 2, (n - n // 2,), generator=g)
        for t in (pool_ce, pool_kd, pool_feat, pool_teacher):
            t[n // 2 :] = t[src]
    return SelectionInputs(
        pool_ids=[f"p{i}" for i in range(n)],
        pool_ce=pool_ce,
        pool_kd=pool_kd,
        pool_features=pool_feat,
        labeled_ids=[f"l{j}" for j in range(m)],
        labeled_ce=rnd(m, num_classes),
        labeled_kd=rnd(m, num_classes),
        labeled_features=rnd(m, dim),
        labeled_labels=torch.randint(0, num_classes, (m,), generator=g),
        alpha=alpha,
        beta=beta,
        pool_teacher=pool_teacher if teacher else None,
    )


@pytest.fixture
def make_inputs():
    """Factory ``make_inputs(n, m, num_classes, dim, seed=, duplicates=, teacher=)``."""
    return _make_inputs
