"""``badge-reference`` = the PCoreSet code's BADGE: farthest-first on the cosine distance of normalised gradient
embeddings (erjui/PCoreSet strategies.py), checked by hand and against the materialised embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activekd.heads import mix_heads
from activekd.select import badge_farthest_first, select


def brute_reference(probs, features, budget):
    """strategies.py's 'badge' branch on materialised [n, C*d] embeddings, in float64, with its ties taken in exact
    arithmetic: first pick = the first nonzero embedding (all unit norms tie), then argmax of the min cosine
    distance over the unpicked points (first maximum; a duplicate of a pick at distance 0)."""
    p, h = probs.double().numpy(), features.double().numpy()
    r = -p.copy()
    r[np.arange(len(p)), p.argmax(1)] += 1.0
    g = (r[:, :, None] * h[:, None, :]).reshape(len(p), -1)
    norm = np.linalg.norm(g, axis=1)
    g = g / np.maximum(norm, 1e-300)[:, None]
    nonzero = np.nonzero(norm > 0)[0]
    picks = [int(nonzero[0]) if len(nonzero) else 0]
    while len(picks) < budget:
        dist = 1.0 - g @ g[picks].T
        dist[np.abs(dist) < 1e-12] = 0.0  # duplicates of a pick: exactly 0
        dist = dist.min(axis=1)
        dist[picks] = -np.inf
        picks.append(int(np.argmax(dist)))
    return picks


def test_a_hand_checked_pool():
    """Two classes: r̂ = ±(1, −1)/√2, so cos(g_i, g_j) = ±cos(h_i, h_j) (+ for the same predicted class).

    From pick 0 (class 0, h = e1) the distances are 0 (1: same class, same h), 2 (2: other class, same h),
    1 (3, 4: orthogonal h); then 3 and 4 tie at 1 from {0, 2} (the lower position wins); then 4 is at 1 from
    {0, 2, 3}, 1 at 0.
    """
    probs = torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    feats = torch.tensor([[1.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    assert badge_farthest_first(probs, feats, 5).tolist() == [0, 2, 3, 4, 1]
    assert badge_farthest_first(probs, feats, 2).tolist() == [0, 2]


def test_the_first_pick_is_the_first_nonzero_embedding():
    """An exactly one-hot prediction (or zero features) has a zero embedding: norm 0, never the first pick, and
    at cosine distance 1 from everything."""
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.8, 0.2], [0.3, 0.7]])
    feats = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert badge_farthest_first(probs, feats, 4).tolist() == [2, 3, 0, 1]  # 3: distance 2; then 0 and 1 tie at 1
    assert badge_farthest_first(torch.eye(3)[[0, 1, 2]], torch.ones(3, 2), 3).tolist() == [0, 1, 2]  # all zero


@pytest.mark.parametrize("seed", range(10))
def test_matches_the_materialised_embeddings(seed):
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(2, 40, (1,), generator=g))
    probs = torch.softmax(torch.randn(n, 4, generator=g) * 3, 1)
    feats = torch.randn(n, 5, generator=g).abs()  # pooled ReLU features, as the reference's ResNet gives
    if seed % 3 == 0:  # duplicates tie exactly; a picked point's twins are at distance 0
        src = torch.randint(0, max(1, n // 2), (n - n // 2,), generator=g)
        probs[n // 2:], feats[n // 2:] = probs[src], feats[src]
    budget = int(torch.randint(1, n + 1, (1,), generator=g))
    want = brute_reference(probs, feats, budget)
    for kw in ({}, {"chunk_size": 3}):
        assert badge_farthest_first(probs, feats, budget, **kw).tolist() == want, kw


def test_the_strategy_uses_the_mixed_probabilities_and_no_randomness(make_inputs):
    inputs = make_inputs(n=30, m=3, num_classes=4, dim=6, seed=5, duplicates=True, alpha=0.3, beta=2.0)
    p = mix_heads(inputs.pool_ce, inputs.pool_kd, 0.3, 2.0)
    want = [inputs.pool_ids[i] for i in brute_reference(p, inputs.pool_features, 10)]
    assert select("badge-reference", inputs, 10, seed=9) == want
    assert select("badge-reference", inputs, 10, seed=10) == want  # deterministic: the generator is not read
    g = torch.Generator().manual_seed(3)
    select("badge-reference", inputs, 10, generator=g)
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(3).get_state())


def test_budget_and_labeled_ids(make_inputs):
    inputs = make_inputs(n=25, m=6, seed=2, duplicates=True)
    ids = select("badge-reference", inputs, 25)
    assert sorted(ids) == sorted(inputs.pool_ids) and not set(ids) & set(inputs.labeled_ids)
    assert len(select("badge-reference", inputs, 7)) == 7
    with pytest.raises(ValueError, match="needs the pool's features"):
        select("badge-reference", probs=np.full((5, 3), 1 / 3), budget=2)


def test_it_differs_from_badge(make_inputs):
    """The k-means++ BADGE samples; the reference's is a deterministic traversal: the two are different strategies."""
    inputs = make_inputs(n=60, m=2, seed=7)
    assert {tuple(select("badge", inputs, 8, seed=s)) for s in range(4)} != {tuple(select("badge-reference", inputs, 8))}
