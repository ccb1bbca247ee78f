"""coreset / pcoreset: the fast greedy k-center makes exactly the brute-force picks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activekd.heads import mix_heads
from activekd.select import greedy_k_center, select
from activekd.select._ops import fixed_order_sum, sq_dist_exact


def brute_numpy(points, centres, budget, metric="l2"):
    """The definition, recomputed from scratch each pick (independent numpy float64 code).

    No centres: the first pick is the point farthest from the pool mean.
    """
    P, L = np.asarray(points, np.float64), np.asarray(centres, np.float64)
    if metric == "cosine":
        def unit(X):
            nrm = np.sqrt((X * X).sum(1, keepdims=True))
            nrm[nrm == 0] = 1.0
            return X / nrm
        P, L = unit(P), unit(L)
    picks = []
    for _ in range(budget):
        cs = np.concatenate([L, P[picks]], 0)
        if len(cs) == 0:
            d = ((P - P.mean(0)) ** 2).sum(1)
        else:
            d = ((P[:, None, :] - cs[None]) ** 2).sum(-1).min(1)
        d[picks] = -np.inf
        picks.append(int(np.argmax(d)))  # numpy: first maximum = lowest position
    return picks


def brute_same_arithmetic(points, centres, budget, metric="l2"):
    """The definition, recomputed each pick, with the library's per-pair float64 distance.

    For inputs whose distances tie mathematically but not in rounding (normalised lattices),
    only the same per-pair arithmetic can promise the same tie-breaking.
    """
    P, L = points.double(), centres.double()
    if metric == "cosine":
        def unit(X):
            nrm = fixed_order_sum(X * X).sqrt()
            return X / torch.where(nrm > 0, nrm, torch.ones_like(nrm)).unsqueeze(1)
        P, L = unit(P), unit(L)
    picks = []
    n = P.shape[0]
    for _ in range(budget):
        cs = torch.cat([L, P[picks]])
        if len(cs) == 0:
            d = sq_dist_exact(P, P.mean(0))
        else:
            pairs = sq_dist_exact(P.repeat_interleave(len(cs), 0), cs.repeat(n, 1))
            d = pairs.view(n, len(cs)).amin(1)
        d[picks] = -float("inf")
        picks.append(int(torch.argmax(d)))
    return picks


def random_case(rng, kind):
    n = int(rng.integers(1, 50))
    dim = int(rng.integers(1, 10))
    m = int(rng.integers(0, 6))
    if kind == "gauss":
        P = rng.normal(size=(n, dim))
    elif kind == "lattice":  # many exact duplicates and exactly tied distances
        P = rng.integers(0, 3, size=(n, dim)).astype(np.float64)
    else:  # "duplicates": every point repeated
        base = rng.normal(size=(max(1, n // 3), dim))
        P = base[rng.integers(0, len(base), n)]
    if m and rng.random() < 0.5:
        L = P[rng.integers(0, n, m)]  # labeled points that coincide with pool points
    else:
        L = rng.normal(size=(m, dim)) if kind != "lattice" else rng.integers(0, 3, size=(m, dim)).astype(np.float64)
    budget = int(rng.integers(1, n + 1))
    return torch.from_numpy(P).float(), torch.from_numpy(L).float(), budget


FAST_VARIANTS = [dict(), dict(chunk_size=3), dict(chunk_size=1), dict(dtype=torch.float64), dict(dtype=torch.float16)]


def fast(P, L, budget, metric="l2", dtype=None, **kw):
    if dtype is not None:
        if dtype == torch.float16 and not torch.equal(P.half().float(), P):
            dtype = torch.float64  # only exactly representable inputs keep the same definition
        P, L = P.to(dtype), L.to(dtype)
    return greedy_k_center(P, L, budget, metric=metric, **kw).tolist()


@pytest.mark.parametrize("kind", ["gauss", "duplicates", "lattice"])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_matches_brute_force_definition(kind, metric):
    rng = np.random.default_rng([len(kind), len(metric), ord(kind[0])])
    for _ in range(30):
        P, L, budget = random_case(rng, kind)
        want = brute_same_arithmetic(P, L, budget, metric)
        if not (kind == "lattice" and metric == "cosine"):  # exact ties in exact arithmetic only
            assert brute_numpy(P.numpy(), L.numpy(), budget, metric) == want
        for kw in FAST_VARIANTS:
            assert fast(P, L, budget, metric, **kw) == want, kw


@pytest.mark.parametrize("dtype,spread", [(torch.float64, 1e-5), (torch.float32, 1e-1)])
def test_exact_under_heavy_cancellation(dtype, spread):
    """Points far from the origin and close together: the fast |x|^2+|c|^2-2x.c filter is
    useless there, so this exercises the exact re-evaluation path (float64 and float32 filter)."""
    rng = np.random.default_rng(7)
    for _ in range(30):
        n, dim, m = int(rng.integers(5, 40)), int(rng.integers(1, 16)), int(rng.integers(0, 4))
        P = torch.from_numpy(1e4 + spread * rng.normal(size=(n, dim))).to(dtype)
        P[rng.integers(0, n, n // 4)] = P[rng.integers(0, n, n // 4)]
        L = torch.from_numpy(1e4 + spread * rng.normal(size=(m, dim))).to(dtype)
        budget = int(rng.integers(1, n + 1))
        got = greedy_k_center(P, L, budget).tolist()
        assert got == brute_numpy(P.numpy(), L.numpy(), budget)


def test_float32_filter_falls_back_to_float64_under_tf32_modes():
    from activekd.select._ops import ieee_matmul

    rng = np.random.default_rng(8)
    P = torch.from_numpy(1e4 + 1e-1 * rng.normal(size=(30, 4))).float()
    want = brute_numpy(P.numpy(), np.zeros((0, 4)), 20)
    old = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        assert not ieee_matmul("cpu")
        assert greedy_k_center(P, P[:0], 20).tolist() == want
    finally:
        torch.set_float32_matmul_precision(old)
    assert ieee_matmul("cpu")


def test_ties_break_by_lowest_position_and_no_repicks():
    points = torch.zeros(6, 2)  # all identical: every distance is exactly 0
    assert greedy_k_center(points, torch.zeros(1, 2), 6).tolist() == [0, 1, 2, 3, 4, 5]
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    # From centre (0, 0): points 1, 2, 3 tie at distance 1 -> lowest position first.
    assert greedy_k_center(points, torch.zeros(1, 2), 2).tolist() == [1, 2]


def test_no_labeled_centres_starts_farthest_from_mean():
    points = torch.tensor([[0.0], [1.0], [2.0], [10.0]])  # mean 3.25: farthest is 10
    assert greedy_k_center(points, torch.zeros(0, 1), 3).tolist() == [3, 0, 2]


def test_fixed_order_sum_is_row_independent():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(257, 1000, generator=g, dtype=torch.float64) * torch.logspace(-8, 8, 1000, dtype=torch.float64)
    whole = fixed_order_sum(x)
    for rows in (1, 7, 64):
        parts = torch.cat([fixed_order_sum(x[a : a + rows]) for a in range(0, 257, rows)])
        assert torch.equal(parts, whole)
    torch.testing.assert_close(whole, x.sum(1), rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("duplicates", [False, True])
def test_pcoreset_strategy_matches_brute_force(seed, duplicates, make_inputs):
    inputs = make_inputs(n=60, m=int(seed), num_classes=5, seed=seed, duplicates=duplicates)
    p = mix_heads(inputs.pool_ce, inputs.pool_kd, inputs.alpha, inputs.beta)
    pl = mix_heads(inputs.labeled_ce, inputs.labeled_kd, inputs.alpha, inputs.beta)
    want = [inputs.pool_ids[i] for i in brute_numpy(p.numpy(), pl.numpy(), 25)]
    assert select("pcoreset", inputs, 25) == want


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("duplicates", [False, True])
def test_coreset_strategy_matches_brute_force(seed, duplicates, make_inputs):
    inputs = make_inputs(n=60, m=int(seed), dim=7, seed=seed, duplicates=duplicates)
    want = brute_numpy(inputs.pool_features.numpy(), inputs.labeled_features.numpy(), 25, "cosine")
    assert select("coreset", inputs, 25) == [inputs.pool_ids[i] for i in want]


def test_cosine_distance_ranking_equals_one_minus_cos():
    """The chordal distance used for 'cosine' picks what 1 - cos picks (distinct directions)."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        P, L = rng.normal(size=(40, 5)), rng.normal(size=(3, 5))
        Pn = P / np.linalg.norm(P, axis=1, keepdims=True)
        Ln = L / np.linalg.norm(L, axis=1, keepdims=True)
        picks = []
        for _ in range(15):
            cs = np.concatenate([Ln, Pn[picks]])
            d = (1 - Pn @ cs.T).min(1)
            d[picks] = -np.inf
            picks.append(int(np.argmax(d)))
        got = greedy_k_center(torch.from_numpy(P), torch.from_numpy(L), 15, metric="cosine").tolist()
        assert got == picks


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="metric"):
        greedy_k_center(torch.zeros(3, 2), torch.zeros(0, 2), 1, metric="l1")
    with pytest.raises(ValueError, match="budget"):
        greedy_k_center(torch.zeros(3, 2), torch.zeros(0, 2), 4)
    with pytest.raises(ValueError, match="finite"):
        greedy_k_center(torch.tensor([[float("nan")]]), torch.zeros(0, 1), 1)
    assert greedy_k_center(torch.zeros(3, 2), torch.zeros(0, 2), 0).numel() == 0


def test_small_serial_pieces_give_the_same_picks(monkeypatch):
    """The per-pick vector work is split into pieces on CPU; pieces must not change any pick."""
    from activekd.select import _ops

    rng = np.random.default_rng(11)
    cases = [random_case(rng, kind) for kind in ("gauss", "duplicates", "lattice") for _ in range(5)]
    want = [brute_same_arithmetic(P, L, b) for P, L, b in cases]
    monkeypatch.setattr(_ops, "_SERIAL_ELEMS", 4)
    for (P, L, budget), expected in zip(cases, want):
        assert greedy_k_center(P, L, budget).tolist() == expected


def test_argmax_first_over_pieces():
    from activekd.select._ops import argmax_first

    x = torch.tensor([0.0, 3.0, 1.0, 3.0, 3.0, -1.0, 2.0], dtype=torch.float64)
    for size in (1, 2, 3, 7):
        pieces = [(a, min(7, a + size)) for a in range(0, 7, size)]
        assert argmax_first(x, pieces) == 1
    x = torch.full((5,), -float("inf"), dtype=torch.float64)
    x[4] = 0.0
    assert argmax_first(x, [(0, 2), (2, 4), (4, 5)]) == 4
