"""Score formulas against numpy, class-balanced allocation, teacher-student KL."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activekd.heads import mix_heads
from activekd.select import (
    class_balanced_quota,
    entropy_scores,
    least_confidence_scores,
    margin_scores,
    select,
    teacher_student_kl,
)


def np_softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def random_probs(seed, n=64, num_classes=7):
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(torch.randn(n, num_classes, generator=g) * 2, 1)
    p[0] = 0.0
    p[0, 3] = 1.0  # a one-hot row: 0 log 0 = 0
    return p


@pytest.mark.parametrize("seed", range(3))
def test_uncertainty_scores_match_numpy(seed):
    p = random_probs(seed)
    q = p.double().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(np.where(q > 0, q * np.log(q), 0.0), axis=1)
    srt = np.sort(q, axis=1)
    np.testing.assert_allclose(entropy_scores(p).numpy(), ent, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(margin_scores(p).numpy(), -(srt[:, -1] - srt[:, -2]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(least_confidence_scores(p).numpy(), 1 - srt[:, -1], rtol=0, atol=1e-15)
    assert margin_scores(p[:, :1]).tolist() == [-1.0] * len(p)


@pytest.mark.parametrize(
    "name,score",
    [
        ("entropy", lambda q: -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1)), 0), 1)),
        ("margin", lambda q: np.sort(q, 1)[:, -2] - np.sort(q, 1)[:, -1]),
        ("least-confidence", lambda q: 1 - q.max(1)),
    ],
)
def test_uncertainty_strategies_pick_top_scores(name, score, make_inputs):
    inputs = make_inputs(n=80, m=3, seed=11, duplicates=True)
    p = mix_heads(inputs.pool_ce, inputs.pool_kd, inputs.alpha, inputs.beta).double().numpy()
    order = np.argsort(-score(p), kind="stable")[:20]  # ties (the duplicates): lowest position first
    assert select(name, inputs, 20) == [inputs.pool_ids[i] for i in order]


def test_class_balanced_quota_largest_remainder():
    # weights 1, 1/2, 1/4 -> shares 5.71, 2.86, 1.43 -> floors 5, 2, 1; two left -> classes 1, 0.
    q = class_balanced_quota(torch.tensor([0, 1, 3]), torch.tensor([50, 50, 50]), 10)
    assert q.tolist() == [6, 3, 1]


def test_class_balanced_quota_caps_and_resplits():
    # class 0 can only give 2; the remaining 8 split 2:1 between classes 1 and 2 -> 5.33, 2.67.
    q = class_balanced_quota(torch.tensor([0, 1, 3]), torch.tensor([2, 50, 50]), 10)
    assert q.tolist() == [2, 5, 3]
    # a class no pool point is predicted as gets nothing; everything fits exactly
    q = class_balanced_quota(torch.tensor([0, 0, 0, 9]), torch.tensor([0, 1, 2, 3]), 6)
    assert q.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="larger than the pool"):
        class_balanced_quota(torch.tensor([0, 0]), torch.tensor([1, 1]), 3)


def test_class_balanced_strategy_follows_quota(make_inputs):
    inputs = make_inputs(n=200, m=12, num_classes=4, seed=2)
    ids = select("class-balanced", inputs, 30, seed=1)
    pred = mix_heads(inputs.pool_ce, inputs.pool_kd, inputs.alpha, inputs.beta).argmax(1)
    quota = class_balanced_quota(
        torch.bincount(inputs.labeled_labels, minlength=4), torch.bincount(pred, minlength=4), 30
    )
    picked = torch.tensor([int(i[1:]) for i in ids])
    assert torch.bincount(pred[picked], minlength=4).tolist() == quota.tolist()
    assert select("class-balanced", inputs, 30, seed=2) != ids  # the within-class draw is random


def test_teacher_student_kl_matches_numpy():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(20, 5, generator=g) * 3
    p = torch.softmax(torch.randn(20, 5, generator=g), 1)
    q = np_softmax(t.double().numpy())
    want = (q * (np.log(q) - np.log(p.double().numpy()))).sum(1)
    np.testing.assert_allclose(teacher_student_kl(t, p).numpy(), want, rtol=1e-10, atol=1e-13)
    assert torch.all(teacher_student_kl(t, p) >= -1e-12)
    same = torch.softmax(t, 1)
    torch.testing.assert_close(teacher_student_kl(t, same), torch.zeros(20, dtype=torch.float64), atol=1e-6, rtol=0)
    # teacher mass where the student has exactly zero probability: large but finite
    assert torch.isfinite(teacher_student_kl(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]))).all()


def test_disagreement_picks_largest_kl(make_inputs):
    inputs = make_inputs(n=60, m=2, seed=4)
    p = mix_heads(inputs.pool_ce, inputs.pool_kd, inputs.alpha, inputs.beta)
    kl = teacher_student_kl(inputs.pool_teacher, p).numpy()
    order = np.argsort(-kl, kind="stable")[:15]
    assert select("disagreement", inputs, 15) == [inputs.pool_ids[i] for i in order]
