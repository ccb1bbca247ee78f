"""BADGE without materialising gradient embeddings = BADGE on materialised embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activekd.heads import mix_heads
from activekd.select import badge_kmeanspp, select


def brute_badge(probs, features, budget, generator):
    """k-means++ on g_i = (onehot(argmax p_i) - p_i) (x) h_i, materialised as [n, C*d] (float64).

    First pick: largest |g_i|; then D^2 sampling with one torch.rand draw per pick (inverse CDF);
    all-zero weights -> lowest unpicked position.
    """
    p = probs.double().numpy()
    h = features.double().numpy()
    r = -p.copy()
    r[np.arange(len(p)), p.argmax(1)] += 1.0
    g = (r[:, :, None] * h[:, None, :]).reshape(len(p), -1)
    picks = [int(np.argmax((g * g).sum(1)))]
    while len(picks) < budget:
        d2 = ((g[:, None, :] - g[picks][None]) ** 2).sum(-1).min(1)
        d2[picks] = 0.0
        u = float(torch.rand((), generator=generator, dtype=torch.float64))
        cdf = np.cumsum(d2)
        if cdf[-1] <= 0:
            nxt = min(set(range(len(p))) - set(picks))
        else:
            nxt = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
            if nxt >= len(p):
                nxt = int(np.nonzero(d2 > 0)[0].max())
        picks.append(nxt)
    return picks


@pytest.mark.parametrize("seed", range(12))
def test_badge_matches_materialised_embeddings(seed):
    g = torch.Generator().manual_seed(seed)
    n, num_classes, dim = int(torch.randint(2, 40, (1,), generator=g)), 4, 5
    probs = torch.softmax(torch.randn(n, num_classes, generator=g) * 3, 1)
    feats = torch.randn(n, dim, generator=g)
    if seed % 3 == 0:  # duplicated points: a picked point's twins must never be drawn
        src = torch.randint(0, max(1, n // 2), (n - n // 2,), generator=g)
        probs[n // 2 :], feats[n // 2 :] = probs[src], feats[src]
    budget = int(torch.randint(1, n + 1, (1,), generator=g))
    want = brute_badge(probs, feats, budget, torch.Generator().manual_seed(100 + seed))
    for kw in (dict(), dict(chunk_size=3)):
        got = badge_kmeanspp(probs, feats, budget, generator=torch.Generator().manual_seed(100 + seed), **kw)
        assert got.tolist() == want, kw


def test_badge_small_serial_pieces(monkeypatch):
    from activekd.select import _ops

    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(40, 4, generator=g) * 3, 1)
    feats = torch.randn(40, 5, generator=g)
    probs[20:], feats[20:] = probs[:20], feats[:20]
    want = brute_badge(probs, feats, 30, torch.Generator().manual_seed(1))
    monkeypatch.setattr(_ops, "_SERIAL_ELEMS", 3)
    assert badge_kmeanspp(probs, feats, 30, generator=torch.Generator().manual_seed(1)).tolist() == want


@pytest.mark.parametrize("seed", range(6))
def test_badge_exact_when_float32_products_cancel(seed):
    """Features far from the origin: float32 inner products lose most digits of D^2, so the
    exact float64 re-evaluation decides (a missing or too small error bound fails here)."""
    g = torch.Generator().manual_seed(seed)
    n = 30
    probs = torch.softmax(torch.randn(n, 3, generator=g), 1)
    probs[1::2] = probs[0::2]  # pairs of identical predictions: r_i = r_j
    feats = 300.0 + 0.3 * torch.randn(n, 4, generator=g)
    want = brute_badge(probs, feats, 20, torch.Generator().manual_seed(seed))
    got = badge_kmeanspp(probs, feats, 20, generator=torch.Generator().manual_seed(seed))
    assert got.tolist() == want


@pytest.mark.parametrize("seed", range(4))
def test_badge_exact_within_tight_clusters(seed):
    """Tight clusters in gradient space and more picks than clusters: D^2 inside a cluster is
    ~1e-8 |g|^2, far below float32 rounding, so only exact re-evaluation gets the draws right."""
    g = torch.Generator().manual_seed(seed)
    base_p = torch.softmax(torch.randn(4, 3, generator=g), 1)
    base_h = torch.randn(4, 5, generator=g)
    probs = base_p.repeat_interleave(8, 0)
    feats = base_h.repeat_interleave(8, 0) * (1 + 1e-4 * torch.randn(32, 5, generator=g))
    want = brute_badge(probs, feats, 16, torch.Generator().manual_seed(seed))
    got = badge_kmeanspp(probs, feats, 16, generator=torch.Generator().manual_seed(seed))
    assert got.tolist() == want


def test_badge_strategy_uses_mixed_probabilities(make_inputs):
    inputs = make_inputs(n=30, m=3, num_classes=4, dim=6, seed=5, duplicates=True)
    p = mix_heads(inputs.pool_ce, inputs.pool_kd, inputs.alpha, inputs.beta)
    want = brute_badge(p, inputs.pool_features, 10, torch.Generator().manual_seed(9))
    assert select("badge", inputs, 10, seed=9) == [inputs.pool_ids[i] for i in want]


def test_badge_all_zero_embeddings_fall_back_to_lowest_position():
    probs = torch.eye(3)[[0, 1, 2, 0, 1]]  # one-hot predictions: every r_i = 0, so every g_i = 0
    feats = torch.randn(5, 2)
    got = badge_kmeanspp(probs, feats, 5, generator=torch.Generator().manual_seed(0))
    assert got.tolist() == [0, 1, 2, 3, 4]
