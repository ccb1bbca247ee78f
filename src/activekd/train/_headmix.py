"""Which head mix ``(α, β)`` a round predicts with: DHO's search on a validation split, or a guarded choice on the
labels that cost nothing.

α weights the KD head here (``activekd.heads``); erjui/DHO writes the same mix with α on the CE head
(``α_DHO = 1 − α``). DHO searches β outer, its α from 0 (pure KD) up, and keeps the first best: ties go to pure
KD, then to the smaller β. Both searches below keep that order.

Without a validation split, each round's newly labeled batch is out-of-sample for the student that picked it.
At pick time that student's prediction under every mix of :data:`MIX_GRID` is stored (:func:`mix_votes`);
once the batch is labeled, those votes say how each mix did on images no student had seen.
:func:`choose_from_picks` pools them over rounds and moves away from pure KD only on a gain the data
supports beyond its noise.

Out-of-sample is not unbiased. A strategy that picks where the student is least sure (entropy, margin,
BADGE, ...: ``uncertain_picks`` on the strategy) hands over the images where the KD head, which imitates the
teacher, errs most: on them the CE head looks better than it is on the pool. On the Fashion-MNIST grid the
picks of ``entropy`` moved the mix to pure CE at 40 labels (test accuracy 53.9% against the KD head's 83.5%).
:func:`choose_mix` therefore asks such evidence for more (:data:`UNCERTAIN_GUARD` standard errors) and
never lets it give the CE head more than half the weight (:data:`UNCERTAIN_MIN_ALPHA`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from activekd.heads import mix_heads
from activekd.round_result import MixChoice

ALPHAS = tuple(round(0.05 * i, 2) for i in range(21))
BETAS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 4.0)
MIX_GRID = ((1.0, 1.0), (0.75, 1.0), (0.5, 1.0), (0.25, 1.0), (0.0, 1.0), (0.75, 2.0), (0.5, 2.0), (0.25, 2.0))
"""The small grid chosen from on out-of-sample picks, in DHO's tie order (β outer; pure KD, then more CE weight).
Pure KD and pure CE do not depend on β, so they appear once."""
VOTES_KEY = "mix_votes"
"""Where a pick's votes under :data:`MIX_GRID` are stored (per id, beside its suggestions)."""
MIN_PER_CLASS = 2
"""Out-of-sample labels per class (on average) before the picks may move the mix away from pure KD."""
GUARD = 1.0
"""Standard errors of the paired gain over pure KD that a mix must exceed to be chosen on the picks."""
UNCERTAIN_GUARD = 2.0
"""The guard on picks from a strategy with ``uncertain_picks`` (a sample biased towards the KD head's errors)."""
UNCERTAIN_MIN_ALPHA = 0.5
"""The least KD weight such picks may choose: the mixes of :data:`MIX_GRID` with α below it are not offered."""
MIX_SOURCES = ("val", "picks", "prior", "fixed")
"""Where a round's mix (:class:`~activekd.round_result.MixChoice`) comes from."""


def _correct(probs: Tensor, labels: Tensor) -> Tensor:
    return probs.argmax(dim=1) == labels.to(probs.device)


def search_alpha_beta(ce: Tensor, kd: Tensor, labels: Tensor, alphas=ALPHAS, betas=BETAS) -> tuple[float, float, float]:
    """Best ``(alpha, beta, accuracy)`` on a labeled validation set over DHO's grid, in DHO's order: β outer (as
    given), α from pure KD (1) down; the first best is kept, so ties go to pure KD, then to the first β."""
    best = (1.0, 1.0, -1.0)
    for b in betas:
        for a in sorted(alphas, reverse=True):
            acc = float(_correct(mix_heads(ce, kd, a, b), labels).float().mean())
            if acc > best[2]:
                best = (a, b, acc)
    return best


def mix_votes(ce: Tensor, kd: Tensor, grid=MIX_GRID) -> Tensor:
    """``[n, M]`` long: the class each mix of ``grid`` predicts from the heads' logits ``ce``, ``kd`` ``[n, C]``."""
    return torch.stack([mix_heads(ce, kd, a, b).argmax(dim=1) for a, b in grid], dim=1) if len(ce) else torch.empty(0, len(grid), dtype=torch.long)


def choose_from_picks(votes: Tensor, labels: Tensor, num_classes: int, grid=MIX_GRID,
                      min_per_class: int = MIN_PER_CLASS, guard: float = GUARD) -> MixChoice:
    """The mix to predict with, from out-of-sample labeled picks: ``votes`` ``[n, M]`` (:func:`mix_votes` of the
    student that picked each image), ``labels`` ``[n]``.

    Pure KD (``grid[0]``) until there are ``min_per_class · num_classes`` of them; then the most accurate mix
    (first in grid order on ties), but only when its paired gain over pure KD exceeds ``guard`` standard errors
    of that gain: the picks are few, and a gain inside their noise is more likely the grid fitting them than a
    better mix.
    """
    n = int(labels.numel())
    kd_first = grid[0]
    if n < min_per_class * num_classes:
        return MixChoice(*kd_first, "prior", n)
    right = (votes == labels.view(-1, 1)).double()  # [n, M]
    best = int(right.mean(dim=0).argmax())  # argmax keeps the first maximum: DHO's tie order
    diff = right[:, best] - right[:, 0]
    gain = float(diff.mean())
    se = float(diff.std(unbiased=True)) / math.sqrt(n) if n > 1 else math.inf
    if best != 0 and gain > guard * se:
        return MixChoice(*grid[best], "picks", n, float(right[:, best].mean()), gain, se)
    return MixChoice(*kd_first, "picks", n, float(right[:, 0].mean()), gain, se)


def choose_mix(votes: Tensor, labels: Tensor, num_classes: int, *, uncertain_picks: bool = False) -> MixChoice:
    """:func:`choose_from_picks` on ``votes`` ``[n, len(MIX_GRID)]``; with ``uncertain_picks`` (the picks came from a
    strategy that picks where the student is least sure) only the mixes with α ≥ :data:`UNCERTAIN_MIN_ALPHA` are
    offered, under a guard of :data:`UNCERTAIN_GUARD` standard errors."""
    if not uncertain_picks:
        return choose_from_picks(votes, labels, num_classes)
    keep = [i for i, (a, _) in enumerate(MIX_GRID) if a >= UNCERTAIN_MIN_ALPHA]
    grid = tuple(MIX_GRID[i] for i in keep)
    return choose_from_picks(votes[:, keep], labels, num_classes, grid=grid, guard=UNCERTAIN_GUARD)
