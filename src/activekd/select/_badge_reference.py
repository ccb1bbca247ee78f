"""``badge-reference``: BADGE as the PCoreSet authors' code runs it, for rerunning the paper's baseline table.

erjui/PCoreSet ``strategies.py`` (``select_queries``, branch ``'badge' in strategy``, the ``combined`` case that
``strategy == 'badge'`` takes) does this, exactly:

1. ``p = (1 − α)·softmax(ce) + α·softmax(kd/β)`` with its fixed ``α, β = 0.5, 1.0`` (here ``--alpha``/``--beta``,
   which ``pcoreset-paper`` sets to the same);
2. gradient embeddings ``g_i = r_i (x) h_i``, ``r_i = onehot(argmax p_i) − p_i`` ``[C]``, ``h_i`` the student's pooled
   features ``[d]``, flattened to ``[n, C·d]``;
3. ``ĝ_i = g_i / max(|g_i|, 1e-12)`` (``F.normalize``);
4. the first pick is ``argmax_i |ĝ_i|``;
5. every further pick is ``argmax`` over the unpicked ``i`` of ``min_{c picked} (1 − <ĝ_i, ĝ_c>)``.

That is deterministic farthest-first traversal (Gonzalez, 1985) on the cosine distance of the gradient
embeddings, not BADGE's k-means++ sampling (Ash et al., ICLR 2020, arXiv 1906.03671; activekd's ``badge``):
no random draw, no D² weighting, and after the normalisation the gradient magnitude (BADGE's uncertainty term)
plays no part. The labeled set is not used (no initial centres).

Here ``<ĝ_i, ĝ_j> = cos(r_i, r_j) · cos(h_i, h_j)``, so the ``[n, C·d]`` embeddings are never formed. Every
value is exact in the sense of ``_kcenter``: a cosine is a float64 fixed-order sum (``_ops.fixed_order_sum``) of
float64 unit rows, so it depends on the pair only (not on chunking or device) and duplicates tie exactly.

Two details the reference leaves to float32 rounding are fixed by its own rules in exact arithmetic:

* step 4: every nonzero ``ĝ_i`` has norm 1 (a zero embedding, from an exactly one-hot ``p`` or zero features,
  norm 0), so the reference's first pick is decided by rounding noise in ``|ĝ_i|``. Exactly, all norms tie and
  ``argmax`` takes the first maximum: the lowest position with a nonzero embedding (position 0 if none is).
* ties in step 5 go to the lowest position (``argmax``'s first maximum). A duplicate of a picked point is at
  distance exactly 0 (values within the float64 error bound of 0 are set to 0), so once every distinct point is
  picked the duplicates follow in position order. A zero embedding is at distance 1 from every point.

Cost: one pass over ``[n, C + d]`` float64 rows per pick, O(budget · n · (C + d)); memory O(n · (C + d)).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor


from ._badge import check_badge_inputs, residuals
from ._base import SelectionInputs, StrategyNeeds, register_strategy
from ._ops import argmax_first, check_finite, chunk_rows, fixed_order_sum, row_chunks, serial_chunks


def _unit_rows(x64: Tensor) -> tuple[Tensor, Tensor]:
    """``(x / |x|, |x| > 0)`` for float64 rows ``[P, D]``: zero rows stay zero (``F.normalize``'s eps, exactly)."""
    norm = fixed_order_sum(x64 * x64).sqrt_()
    nonzero = norm > 0
    return x64 / torch.where(nonzero, norm, torch.ones_like(norm)).unsqueeze(1), nonzero


def badge_farthest_first(probs: Tensor, features: Tensor, budget: int, *, chunk_size: Optional[int] = None) -> Tensor:
    """Farthest-first traversal on the cosine distance of gradient embeddings (see the module docstring).

    Args:
        probs: ``[n, C]`` class probabilities.
        features: ``[n, d]`` pooled features (moved to ``probs.device``).
        budget: number of picks, ``0 <= budget <= n``.
        chunk_size: rows per chunk of the per-pick pass.

    Returns:
        ``[budget]`` long positions in pick order, on ``probs.device``.
    """
    n, num_classes = check_badge_inputs(probs, features, budget)
    device = probs.device
    if budget == 0:
        return torch.empty(0, dtype=torch.long, device=device)
    features = features.to(device)
    rows = chunk_size or chunk_rows(num_classes + features.shape[1], device)
    check_finite(probs, "badge probabilities", rows)
    check_finite(features, "badge features", rows)
    r_hat, r_ok = _unit_rows(residuals(probs))
    h_hat, h_ok = _unit_rows(features.double())
    nonzero = r_ok & h_ok
    p = int(torch.nonzero(nonzero)[0]) if bool(nonzero.any()) else 0
    dist = torch.full((n,), math.inf, dtype=torch.float64, device=device)
    taken = torch.zeros(n, dtype=torch.bool, device=device)
    pieces = serial_chunks(n, device)
    kappa = 8.0 * (num_classes + features.shape[1] + 9) * 2.0**-53  # float64 error of 1 - cos for unit rows
    picks = [p]
    while len(picks) < budget:
        taken[p] = True
        for a, b in row_chunks(n, rows):
            d = 1.0 - fixed_order_sum(r_hat[a:b] * r_hat[p]) * fixed_order_sum(h_hat[a:b] * h_hat[p])
            d[d.abs() <= kappa] = 0.0  # indistinguishable from 0: a duplicate of a pick
            dist[a:b] = torch.minimum(dist[a:b], d)
        p = argmax_first(dist.masked_fill(taken, -math.inf), pieces)
        picks.append(p)
    return torch.tensor(picks, dtype=torch.long, device=device)


@register_strategy("badge-reference", needs=StrategyNeeds(features=True, uncertain_picks=True))
def badge_reference(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """The PCoreSet code's BADGE on the mixed probabilities ``p`` ``[n, C]`` and pooled features ``h`` ``[n, d]``
    (deterministic: ``generator`` is not used)."""
    return badge_farthest_first(inputs.pool_probs(device), inputs.pool_features.to(device), budget)
