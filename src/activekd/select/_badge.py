"""BADGE: k-means++ seeding on gradient embeddings, without ever forming them.

BADGE (Ash et al., ICLR 2020, arXiv 1906.03671) embeds each pool point by the gradient of the
cross-entropy loss w.r.t. the last linear layer, at the predicted label:

    g_i = r_i (x) h_i,   r_i = onehot(argmax p_i) - p_i  in R^C,   h_i in R^d (pooled features)

and picks the batch by k-means++ seeding (Arthur & Vassilvitskii, 2007): the first point is the
one with the largest ``|g_i|`` (as in the authors' code), then each next point is drawn with
probability proportional to ``D^2(i) = min_{c picked} |g_i - g_c|^2``. Here ``p`` is the mixed
DHO probability. ``g`` has ``C * d`` dimensions (512,000 for ImageNet with ResNet-18), so it is
never materialised: ``<g_i, g_j> = <r_i, r_j> <h_i, h_j>`` gives

    |g_i - g_j|^2 = |r_i|^2 |h_i|^2 + |r_j|^2 |h_j|^2 - 2 <r_i, r_j> <h_i, h_j>,

one matrix-vector product with R ``[n, C]`` and one with H ``[n, d]`` per pick.

As in ``_kcenter``, ``D^2`` is kept *exactly*: the value for a pair is this formula evaluated in
float64 on float64 rows with fixed-order sums (``_ops.fixed_order_sum``), so it depends on the pair
only; the per-pick products run in float32 (IEEE float32 inputs) as a filter with a rigorous
error bound, and only the rows whose ``D^2`` can drop are re-evaluated exactly.

Details that make the result a well-defined function of (inputs, generator):

* ``D^2`` values within the float64 error bound of 0 are set to exactly 0 (a duplicate of a
  picked point can never be drawn, and picked points have weight 0; a picked point is never
  drawn again even if every other weight is 0).
* Each draw uses exactly one uniform number from ``generator`` (``sample_proportional``).
* If every remaining weight is 0 (all unpicked points coincide with picked ones in gradient
  space), the lowest unpicked position is taken, consistent with the tie rule.

Memory: O(n * (C + d)) (a float32 copy of r, float64 vectors of length n); never ``[n, C * d]``
or ``[n, n]``.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from activekd.errors import InputError

from ._base import SelectionInputs, StrategyNeeds, register_strategy
from ._ops import (
    argmax_first,
    check_budget,
    check_finite,
    chunk_rows,
    fixed_order_sum,
    ieee_matmul,
    row_chunks,
    sample_proportional,
    serial_chunks,
    sq_dist_error_bound,
)

_LOW = (torch.float32, torch.float16, torch.bfloat16)


def residuals(probs: Tensor) -> Tensor:
    """``[n, C]`` float64 ``onehot(argmax p) - p`` (lowest class on argmax ties)."""
    r = -probs.double()
    r[torch.arange(r.shape[0], device=r.device), probs.argmax(dim=1)] += 1.0
    return r


def check_badge_inputs(probs: Tensor, features: Tensor, budget: int) -> tuple[int, int]:
    """``(n, C)`` of ``probs`` ``[n, C]`` and ``features`` ``[n, d]``, or one clear error; the budget within ``[0, n]``."""
    if probs.dim() != 2 or features.dim() != 2 or probs.shape[0] != features.shape[0]:
        raise InputError(f"probs {tuple(probs.shape)} and features {tuple(features.shape)} must be [n, C] and [n, d]")
    check_budget(budget, probs.shape[0])
    return probs.shape[0], probs.shape[1]


def badge_kmeanspp(probs: Tensor, features: Tensor, budget: int, *, generator: torch.Generator,
                   chunk_size: Optional[int] = None) -> Tensor:
    """k-means++ seeding on the implicit gradient embeddings ``g_i = r_i (x) h_i``.

    Args:
        probs: ``[n, C]`` class probabilities.
        features: ``[n, d]`` pooled features (moved to ``probs.device``).
        budget: number of picks, ``0 <= budget <= n``.
        generator: one uniform draw per pick after the first.
        chunk_size: rows per chunk for the one-off passes.

    Returns:
        ``[budget]`` long positions in pick order, on ``probs.device``.
    """
    n, num_classes = check_badge_inputs(probs, features, budget)
    dim = features.shape[1]
    device = probs.device
    if budget == 0:
        return torch.empty(0, dtype=torch.long, device=device)
    features = features.to(device)
    rows = chunk_size or chunk_rows(num_classes + dim, device)
    check_finite(probs, "badge probabilities", rows)
    check_finite(features, "badge features", rows)

    R_f, H_f, gsq = _filter_copies(probs, features, rows)
    fdtype = R_f.dtype
    kappa_f = sq_dist_error_bound(num_classes + dim, fdtype)
    kappa_64 = sq_dist_error_bound(num_classes + dim, torch.float64)
    shrunk = gsq * (1.0 - kappa_f)

    d2 = torch.full((n,), math.inf, dtype=torch.float64, device=device)
    pieces = serial_chunks(n, device)
    p = argmax_first(gsq, pieces)
    picks = [p]
    taken = torch.zeros(n, dtype=torch.bool, device=device)
    taken[p] = True
    while len(picks) < budget:
        # Filter: rows whose D^2 may drop, shrunk_i - 2 rr_i hh_i <= d2_i - shrunk_p (see _kcenter).
        rr_f, hh_f = R_f @ R_f[p], H_f @ H_f[p]
        shrunk_p = float(shrunk[p])
        found = []
        for a, b in pieces:
            prod = rr_f[a:b].double().mul_(hh_f[a:b])
            lhs = torch.add(shrunk[a:b], prod, alpha=-2.0)
            found.append(torch.nonzero(lhs <= d2[a:b] - shrunk_p).squeeze(1).add_(a))
        cand = found[0] if len(found) == 1 else torch.cat(found)
        del rr_f, hh_f
        _lower_d2(d2, cand, p, probs, features, gsq, kappa_64, rows)
        nxt = sample_proportional(d2, generator)
        p = int(torch.nonzero(~taken)[0]) if nxt is None else nxt
        picks.append(p)
        taken[p] = True
    return torch.tensor(picks, dtype=torch.long, device=device)


def _filter_copies(probs: Tensor, features: Tensor, rows: int) -> tuple[Tensor, Tensor, Tensor]:
    """Filter copies ``R_f = r``, ``H_f = h`` (float32 when float32 products are IEEE, else float64), and the
    exact float64 ``|g_i|^2 = |r_i|^2 |h_i|^2`` ``[n]``."""
    (n, num_classes), dim, device = probs.shape, features.shape[1], probs.device
    low = probs.dtype in _LOW and features.dtype in _LOW and ieee_matmul(device)
    fdtype = torch.float32 if low else torch.float64
    R_f = torch.empty(n, num_classes, dtype=fdtype, device=device)
    H_f = features if features.dtype == fdtype else torch.empty(n, dim, dtype=fdtype, device=device)
    gsq = torch.empty(n, dtype=torch.float64, device=device)
    for a, b in row_chunks(n, rows):
        r, h = residuals(probs[a:b]), features[a:b].double()
        R_f[a:b] = r
        if H_f is not features:
            H_f[a:b] = h
        gsq[a:b] = fixed_order_sum(r * r) * fixed_order_sum(h * h)
    return R_f, H_f, gsq


def _lower_d2(d2: Tensor, cand: Tensor, p: int, probs: Tensor, features: Tensor, gsq: Tensor, kappa_64: float, rows: int) -> None:
    """Exact float64 ``D^2_i = min(D^2_i, |g_i - g_p|^2)`` for the candidate rows ``cand``; ``D^2_p = 0``."""
    idx = torch.tensor([p], device=probs.device)
    r_c, h_c = residuals(probs[idx])[0], features[idx].double()[0]
    for a, b in row_chunks(cand.numel(), rows):
        c = cand[a:b]
        rr = fixed_order_sum(residuals(probs[c]) * r_c)
        hh = fixed_order_sum(features[c].double() * h_c)
        s = gsq[c] + gsq[p]
        val = s - 2.0 * rr * hh
        val[val <= kappa_64 * s] = 0.0  # indistinguishable from 0 (duplicates of a centre)
        d2[c] = torch.minimum(d2[c], val)
    d2[p] = 0.0


@register_strategy("badge", needs=StrategyNeeds(features=True, uncertain_picks=True), benchmark=5)
def badge(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """BADGE on the mixed probabilities ``p`` ``[n, C]`` and pooled features ``h`` ``[n, d]``."""
    return badge_kmeanspp(inputs.pool_probs(device), inputs.pool_features.to(device), budget, generator=generator)
