"""Class-balanced sampling: spend the budget where the labeled set is thin.

As in the PCoreSet authors' baseline (Kang et al., 2025, arXiv 2506.00910; their
``classbalanced`` strategy), each pool point gets its predicted class ``argmax p`` (mixed DHO
probabilities), each predicted class ``c`` gets the weight ``1 / (n_c + 1)`` with ``n_c`` its
labeled count, the budget is split in proportion to the weights, and points are drawn uniformly
at random within each class. Two details are made precise here:

* the split is Hamilton's largest-remainder apportionment, capped by the number of pool points
  predicted in each class (a capped class keeps its cap and the rest is re-split among the
  others), so the quotas always sum to the budget; remainder ties go to the larger weight,
  then the lower class index;
* the random draw is one ``randperm`` of the pool from the generator: a class's picks are its
  first ``quota_c`` points in that order, and the picks are returned in that order.
"""

from __future__ import annotations

import torch
from torch import Tensor

from activekd.errors import InputError

from ._base import SelectionInputs, register_strategy


def class_balanced_quota(labeled_counts: Tensor, available: Tensor, budget: int) -> Tensor:
    """Per-class quotas proportional to ``1 / (labeled_counts + 1)``.

    Args:
        labeled_counts: ``[C]`` labeled examples per class.
        available: ``[C]`` pool points predicted in each class (classes with 0 get no quota).
        budget: total to allocate, ``<= available.sum()``.

    Returns:
        ``[C]`` long quotas with ``0 <= quota <= available`` and ``quota.sum() == budget``.
    """
    counts = [int(v) for v in labeled_counts.tolist()]
    avail = [int(v) for v in available.tolist()]
    if len(counts) != len(avail):
        raise InputError(f"labeled_counts has {len(counts)} classes, available has {len(avail)}")
    if budget > sum(avail):
        raise InputError(f"budget {budget} is larger than the pool ({sum(avail)} points)")
    weight = [1.0 / (c + 1) for c in counts]
    quota = [0] * len(avail)
    active = [c for c in range(len(avail)) if avail[c] > 0]
    remaining = budget
    while remaining > 0:
        total = sum(weight[c] for c in active)
        share = {c: remaining * weight[c] / total for c in active}
        capped = [c for c in active if share[c] >= avail[c]]
        if capped:  # saturate, then re-split what is left among the others
            for c in capped:
                quota[c] = avail[c]
                remaining -= avail[c]
            done = set(capped)
            active = [c for c in active if c not in done]
            continue
        for c in active:
            quota[c] = int(share[c])
        leftover = remaining - sum(quota[c] for c in active)
        order = sorted(active, key=lambda c: (-(share[c] - int(share[c])), -weight[c], c))
        for c in order[:leftover]:
            quota[c] += 1
        remaining = 0
    return torch.tensor(quota, dtype=torch.long)


@register_strategy("class-balanced")
def class_balanced(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """Random picks within predicted classes, budget split by inverse labeled-class frequency."""
    num_classes = inputs.num_classes
    pred = torch.empty(inputs.num_pool, dtype=torch.long, device=device)
    for start, stop, p in inputs.iter_pool_probs(device):
        pred[start:stop] = p.argmax(dim=1)
    pred = pred.cpu()
    labels = inputs.labeled_labels.reshape(-1).cpu().long()
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise InputError(f"labeled_labels must lie in [0, {num_classes}), got range [{int(labels.min())}, {int(labels.max())}]")
    labeled_counts = torch.bincount(labels, minlength=num_classes)
    available = torch.bincount(pred, minlength=num_classes)
    quota = class_balanced_quota(labeled_counts, available, budget)
    order = torch.randperm(inputs.num_pool, generator=generator, device=generator.device).cpu()
    cls = pred[order]
    # Rank of each point within its class in the random order: stable sort by class.
    by_class = torch.argsort(cls, stable=True)
    starts = torch.cumsum(available, 0) - available
    rank = torch.empty_like(by_class)
    rank[by_class] = torch.arange(by_class.numel()) - starts[cls[by_class]]
    keep = rank < quota[cls]
    return order[keep]
