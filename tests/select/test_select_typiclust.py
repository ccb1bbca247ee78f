"""TypiClust: one pick per uncovered cluster, and the most typical point of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activekd.select import kmeans, typicality, typiclust_select


def blobs(seed, num_blobs=6, per_blob=30, dim=5):
    g = torch.Generator().manual_seed(seed)
    centres = torch.nn.functional.normalize(torch.randn(num_blobs, dim, generator=g), dim=1) * 10
    x = centres.repeat_interleave(per_blob, 0) + 0.05 * torch.randn(num_blobs * per_blob, dim, generator=g)
    return x, torch.arange(num_blobs).repeat_interleave(per_blob)


def np_typicality(x, k):
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return 1 / np.sort(d, 1)[:, :k].mean(1)


@pytest.mark.parametrize("seed", range(3))
def test_one_pick_per_uncovered_cluster_most_typical(seed):
    x, blob = blobs(seed)
    # blobs 0 and 1 already have a labeled point; 4 picks must cover blobs 2..5, one each
    pool_idx = torch.tensor([i for i in range(len(x)) if i not in (0, 30)])
    pool, labeled = x[pool_idx], x[[0, 30]]
    picks = typiclust_select(pool, labeled, 4, generator=torch.Generator().manual_seed(seed))
    picked_blobs = blob[pool_idx[picks]].tolist()
    assert sorted(picked_blobs) == [2, 3, 4, 5]
    unit = torch.nn.functional.normalize(pool.double(), dim=1).numpy()
    for pos, b in zip(picks.tolist(), picked_blobs):
        members = (blob[pool_idx] == b).nonzero().squeeze(1).numpy()
        typ = np_typicality(unit[members], 15)  # k = min(20, 30 // 2)
        assert members[int(np.argmax(typ))] == pos


def test_more_picks_than_clusters_cycles_round_robin():
    x, blob = blobs(0, num_blobs=3, per_blob=20)
    picks = typiclust_select(x, x[:0], 6, generator=torch.Generator().manual_seed(0), max_clusters=3)
    counts = torch.bincount(blob[picks], minlength=3)
    assert counts.tolist() == [2, 2, 2]


def test_typicality_matches_numpy():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 4, generator=g, dtype=torch.float64)
    np.testing.assert_allclose(typicality(x, 20, chunk_size=7).numpy(), np_typicality(x.numpy(), 20), rtol=1e-9)
    assert typicality(x[:1], 20).tolist() == [1.0]


def test_kmeans_recovers_blobs_and_is_seeded():
    x, blob = blobs(4)
    assign, centroids = kmeans(x, 6, generator=torch.Generator().manual_seed(0))
    # each blob maps to exactly one cluster
    pairs = set(zip(blob.tolist(), assign.tolist()))
    assert len(pairs) == 6 and len({c for _, c in pairs}) == 6
    again, _ = kmeans(x, 6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(assign, again)
    assert centroids.shape == (6, 5)
