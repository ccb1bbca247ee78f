"""``teacher_coverage``: greedy k-center over the teacher's probabilities from no labeled point (``--shots 0``)."""

from __future__ import annotations

import pytest
import torch

from activekd.select import greedy_k_center, select, teacher_coverage


def _clusters(sizes=(30, 12, 5), num_classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher logits of well-separated groups, each confident about one class; returns (logits [n, C], group [n])."""
    g = torch.Generator().manual_seed(seed)
    logits, group = [], []
    for c, k in enumerate(sizes):
        x = torch.randn(k, num_classes, generator=g) * 0.3
        x[:, c] += 6.0
        logits.append(x)
        group += [c] * k
    perm = torch.randperm(sum(sizes), generator=g)
    return torch.cat(logits)[perm], torch.tensor(group)[perm]


def test_three_separated_clusters_budget_three_picks_one_from_each():
    logits, group = _clusters()
    picks = teacher_coverage(logits, 3)
    assert picks.dtype == torch.long and picks.shape == (3,)
    assert sorted(group[picks].tolist()) == [0, 1, 2]


@pytest.mark.parametrize("budget", [1, 7, 47])
def test_exactly_budget_distinct_positions(budget):
    logits, _ = _clusters()
    picks = teacher_coverage(logits, budget)
    assert picks.numel() == budget == torch.unique(picks).numel()
    assert 0 <= int(picks.min()) and int(picks.max()) < logits.shape[0]


def test_covers_the_simplex_better_than_the_densest_corner():
    """Every pool point ends up near a pick: the covering radius is far below a random batch's from one cluster."""
    logits, group = _clusters(sizes=(60, 20, 20, 10), num_classes=4, seed=3)
    probs = torch.softmax(logits.double(), 1)
    picks = teacher_coverage(logits, 4)
    radius = torch.cdist(probs, probs[picks]).min(1).values.max()
    dense = torch.nonzero(group == 0).squeeze(1)[:4]
    assert radius < 0.2 < torch.cdist(probs, probs[dense]).min(1).values.max()


def test_first_pick_is_farthest_from_the_mean_and_the_rest_follow_pcoreset():
    """The documented first centre, and the same picks ``pcoreset`` makes on these probabilities with no labeled point."""
    logits, _ = _clusters(sizes=(25, 9, 4), seed=5)
    probs = torch.softmax(logits.double(), 1)
    picks = teacher_coverage(logits, 5)
    assert int(picks[0]) == int(torch.cdist(probs, probs.mean(0, keepdim=True)).squeeze(1).argmax())
    assert picks.tolist() == greedy_k_center(probs, probs[:0], 5).tolist()
    assert picks.tolist() == select("pcoreset", probs=probs.float(), budget=5)  # ids are positions here


def test_deterministic_and_no_global_rng():
    logits, _ = _clusters()
    torch.manual_seed(0)
    first = teacher_coverage(logits, 6)
    state = torch.get_rng_state()
    assert teacher_coverage(logits, 6).tolist() == first.tolist()
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("bad,budget,match", [
    (torch.zeros(5), 1, r"\[n, C\]"),
    (torch.zeros(5, 3), 0, "between 1 and"),
    (torch.zeros(5, 3), 6, "between 1 and"),
    (torch.zeros(5, 3), True, "between 1 and"),
    (torch.tensor([[0.0, float("nan")], [1.0, 0.0]]), 1, "finite"),
])
def test_bad_input_is_a_clear_error(bad, budget, match):
    with pytest.raises(ValueError, match=match):
        teacher_coverage(bad, budget)
