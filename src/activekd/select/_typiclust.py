"""TypiClust: the most typical point of each uncovered cluster (strong at tiny budgets).

TypiClust (Hacohen, Dekel & Weinshall, ICML 2022, "Active Learning on a Budget",
arXiv 2202.02794), following the authors' code:

1. cluster the pool and the labeled set together with k-means into ``K = |labeled| + budget``
   clusters (at most ``max_clusters``, 500 as in their code);
2. order the clusters by how few labeled points they hold, then by size (largest first); clusters
   of at most ``min_cluster_size`` points (5) come only after all the others are used up;
3. visit the clusters in that order, round-robin, and from each take the unlabeled, unpicked
   member of highest typicality

       typicality(x) = 1 / mean_{x' in kNN(x)} |x - x'|,   k = min(20, |members| // 2)

   with the kNN taken among that cluster's remaining unlabeled members (L2 distance, as in the
   paper; a single remaining member is taken as is).

Features are L2-normalised first (cosine geometry, like ``coreset``). k-means uses k-means++
seeding (Arthur & Vassilvitskii, 2007) on a random subsample of ``max(4096, 20 K)`` points, then
Lloyd iterations until no assignment changes (at most ``iters``); all randomness comes from the
generator. Ties: lowest cluster index for assignments, lowest pool position for typicality.

Memory: O((n + m) * d + chunk * K) for k-means and O(chunk * s) per cluster of size ``s`` for
the neighbours; never n x n.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from activekd.errors import InputError

from ._base import SelectionInputs, StrategyNeeds, register_strategy
from ._ops import check_budget, check_finite, chunk_rows, row_chunks, sample_proportional


def _normalise_(x: Tensor) -> Tensor:
    """Divide the rows of ``x`` by their L2 norm in place (zero rows stay zero)."""
    norms = x.norm(dim=1, keepdim=True)
    return x.div_(torch.where(norms > 0, norms, torch.ones_like(norms)))


def _nearest_centroid(x: Tensor, centroids: Tensor, rows: int) -> Tensor:
    """``[N]`` index of the nearest centroid (squared L2; lowest index on ties)."""
    csq = (centroids * centroids).sum(1)
    out = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    for a, b in row_chunks(x.shape[0], rows):
        out[a:b] = torch.addmm(csq.unsqueeze(0), x[a:b], centroids.T, alpha=-2.0).argmin(dim=1)
    return out


def _kmeanspp_seeds(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """``[k]`` positions into ``x`` seeded by k-means++ D^2 sampling (lowest unpicked if all D^2 = 0)."""
    n = x.shape[0]
    xsq = (x * x).sum(1)
    d2 = torch.full((n,), float("inf"), dtype=torch.float64, device=x.device)
    taken = torch.zeros(n, dtype=torch.bool, device=x.device)
    first = sample_proportional(torch.ones(n, dtype=torch.float64, device=x.device), generator)
    seeds = [int(first)]
    taken[seeds[0]] = True
    while len(seeds) < k:
        c = x[seeds[-1]]
        dist = (xsq + (c * c).sum() - 2.0 * (x @ c)).clamp_min_(0.0).double()
        torch.minimum(d2, dist, out=d2)
        d2[taken] = 0.0
        p = sample_proportional(d2, generator)
        if p is None:
            p = int(torch.nonzero(~taken)[0])
        seeds.append(p)
        taken[p] = True
    return torch.tensor(seeds, dtype=torch.long, device=x.device)


def kmeans(
    x: Tensor, k: int, *, generator: torch.Generator, iters: int = 30, chunk_size: Optional[int] = None
) -> tuple[Tensor, Tensor]:
    """Seeded Lloyd k-means.

    Args:
        x: ``[N, d]`` float points.
        k: number of clusters, ``1 <= k <= N``.
        generator: source of all randomness (subsample, k-means++ draws).
        iters: maximum number of Lloyd iterations.
        chunk_size: rows per chunk of the ``[rows, k]`` distance block.

    Returns:
        ``(assign [N] long, centroids [k, d])``; an empty cluster keeps its previous centroid.
    """
    n = x.shape[0]
    if not 1 <= k <= n:
        raise InputError(f"k must be between 1 and the number of points ({n}), got {k}")
    rows = chunk_size or chunk_rows(max(k, x.shape[1]), x.device)
    sample_size = min(n, max(4096, 20 * k))
    if sample_size < n:
        sub = torch.randperm(n, generator=generator, device=generator.device)[:sample_size].to(x.device)
        sub = torch.sort(sub).values
    else:
        sub = torch.arange(n, device=x.device)
    centroids = x[sub[_kmeanspp_seeds(x[sub], k, generator)]].clone()
    assign = _nearest_centroid(x, centroids, rows)
    for _ in range(iters):
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k)
        nonempty = counts > 0
        centroids[nonempty] = sums[nonempty] / counts[nonempty].unsqueeze(1).to(x.dtype)
        new = _nearest_centroid(x, centroids, rows)
        if torch.equal(new, assign):
            break
        assign = new
    return assign, centroids


def typicality(x: Tensor, k_nn: int, chunk_size: Optional[int] = None) -> Tensor:
    """``[s]`` typicality ``1 / mean L2 distance to the k nearest other rows`` of ``x`` ``[s, d]``.

    ``k = min(k_nn, s // 2)``; with ``s == 1`` (no neighbours) the result is ``[1.0]``.
    A mean distance of 0 gives ``inf``.
    """
    s = x.shape[0]
    k = min(k_nn, s // 2)
    if k < 1:
        return torch.ones(s, dtype=torch.float64, device=x.device)
    x = x.double()
    xsq = (x * x).sum(1)
    out = torch.empty(s, dtype=torch.float64, device=x.device)
    rows = chunk_size or chunk_rows(s, x.device)
    for a, b in row_chunks(s, rows):
        d2 = torch.addmm(xsq[a:b].unsqueeze(1) + xsq.unsqueeze(0), x[a:b], x.T, alpha=-2.0).clamp_min_(0.0)
        d2[torch.arange(b - a, device=x.device), torch.arange(a, b, device=x.device)] = float("inf")
        near = d2.topk(k, dim=1, largest=False).values
        out[a:b] = 1.0 / near.sqrt().mean(dim=1)
    return out


def typiclust_select(
    pool_features: Tensor,
    labeled_features: Tensor,
    budget: int,
    *,
    generator: torch.Generator,
    max_clusters: int = 500,
    k_nn: int = 20,
    min_cluster_size: int = 5,
    iters: int = 30,
) -> Tensor:
    """TypiClust picks (see the module docstring).

    Args:
        pool_features: ``[n, d]`` pool features.
        labeled_features: ``[m, d]`` labeled features (``m`` may be 0), same device.
        budget: number of picks, ``0 <= budget <= n``.
        generator: source of the k-means randomness.

    Returns:
        ``[budget]`` long pool positions in pick order, on ``pool_features.device``.
    """
    n, m = pool_features.shape[0], labeled_features.shape[0]
    check_budget(budget, n)
    device = pool_features.device
    if budget == 0:
        return torch.empty(0, dtype=torch.long, device=device)
    x = _normalise_(torch.cat([pool_features.float(), labeled_features.to(device).float()]))
    check_finite(x, "typiclust features")
    k = min(m + budget, max_clusters, n + m)
    assign, _ = kmeans(x, k, generator=generator, iters=iters)
    assign = assign.cpu()
    size = torch.bincount(assign, minlength=k)
    labeled_count = torch.bincount(assign[n:], minlength=k)
    order = sorted(range(k), key=lambda c: (int(labeled_count[c]), -int(size[c]), c))
    big = [c for c in order if size[c] > min_cluster_size]
    small = [c for c in order if size[c] <= min_cluster_size]
    pool_assign = assign[:n]
    by_cluster = torch.argsort(pool_assign, stable=True)  # pool positions grouped by cluster, ascending
    bounds = torch.cumsum(torch.bincount(pool_assign, minlength=k), 0).tolist()
    remaining = {c: by_cluster[(bounds[c - 1] if c else 0) : bounds[c]] for c in range(k)}

    picks: list[int] = []
    for tier in (big, small):
        while len(picks) < budget and any(remaining[c].numel() for c in tier):
            for c in tier:
                members = remaining[c]
                if len(picks) == budget or members.numel() == 0:
                    continue
                j = int(torch.argmax(typicality(x[members.to(device)], k_nn)))
                picks.append(int(members[j]))
                remaining[c] = torch.cat([members[:j], members[j + 1 :]])
    return torch.tensor(picks, dtype=torch.long, device=device)


@register_strategy("typiclust", needs=StrategyNeeds(features=True), benchmark=6)
def typiclust(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """TypiClust on the pooled features ``[n, d]`` with the labeled features ``[m, d]``."""
    return typiclust_select(
        inputs.pool_features.to(device), inputs.labeled_feature_matrix(device), budget, generator=generator
    )
