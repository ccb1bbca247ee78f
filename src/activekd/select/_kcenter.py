"""Greedy k-center: ``coreset`` (feature space) and ``pcoreset`` (probability simplex).

Greedy k-center (Gonzalez, 1985) repeatedly takes the pool point farthest from every centre:

    pick_t = argmax_i  min_{c in centres_t} d(x_i, c),   centres_{t+1} = centres_t + {x_pick_t}

* Core-Set (Sener & Savarese, ICLR 2018, arXiv 1708.00489) runs it on the student's pooled
  features with the labeled set as initial centres; like the PCoreSet authors' code we use the
  cosine distance on L2-normalised features.
* PCoreSet (Kang et al., 2025, arXiv 2506.00910, Sec. 3.2) runs it in the probability simplex:
  points are the mixed DHO probabilities ``p``, distance L2, the labeled set's own ``p`` as
  initial centres.

Speed. The research implementation recomputes the distance from every pool point to every
centre at each pick, O(budget * (m + budget) * n * D). Here a running minimum distance is kept,
so each pick costs one matrix-vector product, O((m + budget) * n * D) in all (the m initial
centres go through one chunked matrix product).

Exactness. A distance is the float64 ``sq_dist_exact`` value of the pair (a fixed-order sum, see
``_ops``: it depends on the two vectors only, not on batching or device). The fast matrix-product
distances only filter which rows can change, with a rigorous error bound, so the picks are
*identical* to the brute-force definition evaluated with that per-pair distance, ties included:
among equal distances the lowest pool position wins, and a point that duplicates a centre is at
distance exactly 0. (A brute force that rounds differently, e.g. numpy's summation order, can
only disagree on distances equal to within a few units in the last place.) The squared distance is used throughout; it ranks exactly like the distance. For the
cosine metric, ``|x/|x| - c/|c||^2 = 2 - 2 cos(x, c)`` ranks exactly like the cosine distance
``1 - cos`` and is exactly 0 between duplicates.

Empty labeled set: a min over no centres is +inf for every point, so the definition leaves the
first pick open (Gonzalez's 2-approximation holds for any start). We take the pool point
farthest from the pool mean (lowest position on ties): deterministic, data-driven, and in the
spirit of "farthest first"; the greedy rule then continues from it.

Memory: the points themselves (plus a float32 copy of the normalised rows for ``cosine``), a few
float64 vectors of length n and O(chunk) temporaries: O(n * D), never n x n. The fast filter
runs in float32 for float32 inputs (half the memory traffic of float64) whenever float32 matrix
products are plain IEEE (``_ops.ieee_matmul``: not under TF32 / bf16 modes), else in float64.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

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
    serial_chunks,
    sq_dist_error_bound,
    sq_dist_exact,
)

Metric = Literal["l2", "cosine"]
_LOW_PRECISION = (torch.float32, torch.float16, torch.bfloat16)


class _Points:
    """The pool in the metric's space, twice: exact float64 rows on demand, and a filter matrix.

    * ``take(idx)`` / ``canonical(a, b)``: float64 rows (raw, or divided by their float64 L2
      norm); every exact distance is computed from these.
    * ``filt`` ``[n, D]``: the same rows in the filter dtype (float32 for float32/16 inputs when
      float32 matrix products are IEEE, else float64) for the fast matrix-product distances; it
      is the input tensor itself when no conversion is needed.
    """

    def __init__(self, points: Tensor, metric: Metric, rows: int) -> None:
        self.raw = points
        self.rows = rows
        n, width = points.shape
        self.norms: Optional[Tensor] = None
        if metric == "cosine":
            self.norms = torch.empty(n, dtype=torch.float64, device=points.device)
            for a, b in row_chunks(n, rows):
                self.norms[a:b] = _row_norms(points[a:b].double())
        low = points.dtype in _LOW_PRECISION and ieee_matmul(points.device)
        self.dtype = torch.float32 if low else torch.float64
        if metric == "l2" and points.dtype == self.dtype:
            self.filt = points.contiguous()
        else:
            self.filt = torch.empty(n, width, dtype=self.dtype, device=points.device)
            for a, b in row_chunks(n, rows):
                self.filt[a:b] = self.canonical(a, b)
        self.sqnorm = torch.empty(n, dtype=torch.float64, device=points.device)
        for a, b in row_chunks(n, rows):
            x = self.filt[a:b].double()
            self.sqnorm[a:b] = (x * x).sum(1)
        self.kappa = sq_dist_error_bound(width, self.dtype)
        self.shrunk = self.sqnorm * (1.0 - self.kappa)  # |x|^2 - kappa |x|^2, for the per-pick filter

    def _transform(self, x64: Tensor, norms: Optional[Tensor]) -> Tensor:
        if norms is None:
            return x64
        return x64 / torch.where(norms > 0, norms, torch.ones_like(norms)).unsqueeze(1)

    def transform_centres(self, centres: Tensor) -> Tensor:
        """``[m, D]`` float64 centres in the same space as the points."""
        c64 = centres.double()
        return self._transform(c64, None if self.norms is None else _row_norms(c64))

    def canonical(self, a: int, b: int) -> Tensor:
        return self._transform(self.raw[a:b].double(), None if self.norms is None else self.norms[a:b])

    def take(self, idx: Tensor) -> Tensor:
        return self._transform(self.raw[idx].double(), None if self.norms is None else self.norms[idx])


def _row_norms(x64: Tensor) -> Tensor:
    return fixed_order_sum(x64 * x64).sqrt()


def greedy_k_center(
    points: Tensor,
    centres: Tensor,
    budget: int,
    *,
    metric: Metric = "l2",
    chunk_size: Optional[int] = None,
) -> Tensor:
    """Greedy k-center picks, identical to the brute-force definition (see the module docstring).

    Args:
        points: ``[n, D]`` pool points (any float dtype, any device; the work happens there).
        centres: ``[m, D]`` initial centres (the labeled set); ``m`` may be 0.
        budget: number of picks, ``0 <= budget <= n``.
        metric: ``"l2"`` (Euclidean) or ``"cosine"`` (cosine distance on L2-normalised rows;
            an all-zero row stays the zero vector).
        chunk_size: rows per chunk of the one-off passes (default: ``_ops.chunk_rows``).

    Returns:
        ``[budget]`` long pool positions in pick order, on ``points.device``.
    """
    if metric not in ("l2", "cosine"):
        raise InputError(f"unknown metric {metric!r}; valid: cosine, l2")
    if points.dim() != 2 or centres.dim() != 2 or centres.shape[1] != points.shape[1]:
        raise InputError(f"points {tuple(points.shape)} and centres {tuple(centres.shape)} must be [n, D] and [m, D]")
    n, width = points.shape
    check_budget(budget, n)
    device = points.device
    if budget == 0:
        return torch.empty(0, dtype=torch.long, device=device)
    centres = centres.to(device)
    rows = chunk_size or chunk_rows(width, device)
    check_finite(points, "greedy_k_center points", rows)
    check_finite(centres, "greedy_k_center centres", rows)
    src = _Points(points, metric, rows)

    # mind[i] = exact squared distance from point i to its nearest centre; -inf once picked.
    mind = torch.full((n,), math.inf, dtype=torch.float64, device=device)
    if centres.shape[0]:
        _min_dist_to_centres(src, src.transform_centres(centres), mind)
    pieces = serial_chunks(n, device)
    picks = []
    for t in range(budget):
        p = _farthest_from_mean(src) if (t == 0 and centres.shape[0] == 0) else argmax_first(mind, pieces)
        picks.append(p)
        mind[p] = -math.inf
        if t + 1 < budget:
            _add_centre(src, p, mind, pieces)
    return torch.tensor(picks, dtype=torch.long, device=device)


def _exact_min_into(mind: Tensor, src: _Points, rows: Tensor, centres: Tensor) -> None:
    """``mind[rows] = min(mind[rows], exact d(point rows, centres))``, ``centres`` ``[D]`` or one per row.

    Works in pieces of ``src.rows`` rows; ``rows`` may repeat (one entry per candidate pair).
    """
    for a, b in row_chunks(rows.numel(), src.rows):
        d = sq_dist_exact(src.take(rows[a:b]), centres if centres.dim() == 1 else centres[a:b])
        mind.scatter_reduce_(0, rows[a:b], d, reduce="amin")


def _min_dist_to_centres(src: _Points, ctr: Tensor, mind: Tensor) -> None:
    """Exact ``min_j d(x_i, c_j)`` for all i: a chunked matrix product, then exact re-evaluation
    of the (usually single) centre per row that can be the nearest within the error bound.

    With ``approx_ij = |x_i|^2 + |c_j|^2 - 2<x_i, c_j>`` and ``tol_ij = kappa (|x_i|^2 + |c_j|^2)``,
    ``upper_i = min_j (approx + tol)`` bounds the exact minimum from above, and only centres with
    ``approx - tol <= upper_i`` can attain it.
    """
    n, m, width = mind.numel(), ctr.shape[0], ctr.shape[1]
    kappa = src.kappa
    ctr_f = ctr.to(src.dtype)
    csq = (ctr_f.double() ** 2).sum(1)
    csq_hi, csq_lo = csq * (1.0 + kappa), csq * (1.0 - kappa)
    block = max(1, (src.rows * width) // max(m, width))
    for a, b in row_chunks(n, block):
        minus2dot = (src.filt[a:b] @ ctr_f.T).double().mul_(-2.0)  # [r, m]
        upper = torch.add(minus2dot, csq_hi).amin(1) + src.sqnorm[a:b] * (1.0 + kappa)
        i, j = torch.nonzero(minus2dot.add_(csq_lo) <= (upper - src.shrunk[a:b]).unsqueeze(1)).unbind(1)
        del minus2dot
        _exact_min_into(mind, src, i + a, ctr[j])


def _add_centre(src: _Points, p: int, mind: Tensor, pieces: list[tuple[int, int]]) -> None:
    """Lower ``mind`` to the exact distance to the new centre ``p`` where that is smaller.

    Candidates are the rows with ``approx - tol <= mind``, i.e. (``approx = |x|^2 + |c|^2 - 2<x, c>``,
    ``tol = kappa (|x|^2 + |c|^2)``) ``shrunk_i - 2<x_i, c> <= mind_i - shrunk_p``; picked rows
    hold ``mind = -inf`` and are never candidates.
    """
    dots = torch.mv(src.filt, src.filt[p])
    shrunk_p = float(src.shrunk[p])
    found = []
    for a, b in pieces:
        lhs = torch.add(src.shrunk[a:b], dots[a:b].double(), alpha=-2.0)
        found.append(torch.nonzero(lhs <= mind[a:b] - shrunk_p).squeeze(1).add_(a))
    cand = found[0] if len(found) == 1 else torch.cat(found)
    if cand.numel():
        _exact_min_into(mind, src, cand, src.take(torch.tensor([p], device=mind.device))[0])


def _farthest_from_mean(src: _Points) -> int:
    """Position of the point farthest from the mean of all points (lowest position on ties)."""
    n, width = src.raw.shape
    total = torch.zeros(width, dtype=torch.float64, device=src.raw.device)
    for a, b in row_chunks(n, src.rows):
        total += src.canonical(a, b).sum(0)
    mean = total / n
    dist = torch.empty(n, dtype=torch.float64, device=src.raw.device)
    for a, b in row_chunks(n, src.rows):
        dist[a:b] = sq_dist_exact(src.canonical(a, b), mean)
    return int(torch.argmax(dist))


@register_strategy("pcoreset", benchmark=7)
def pcoreset(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """PCoreSet (Kang et al., 2025, arXiv 2506.00910): greedy k-center on the mixed probabilities
    ``p`` ``[n, C]``, L2 distance, the labeled set's ``p`` ``[m, C]`` as initial centres."""
    return greedy_k_center(inputs.pool_probs(device), inputs.labeled_probs(device), budget, metric="l2")


@register_strategy("coreset", needs=StrategyNeeds(features=True), benchmark=4)
def coreset(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """Core-Set (Sener & Savarese, 2018, arXiv 1708.00489): greedy k-center on the pooled features
    ``[n, d]``, cosine distance, the labeled features ``[m, d]`` as initial centres."""
    return greedy_k_center(
        inputs.pool_features.to(device), inputs.labeled_feature_matrix(device), budget, metric="cosine"
    )
