"""The contract every registered strategy keeps (a new strategy is tested the moment it registers)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from activekd.registry import UnknownNameError
from activekd.select import get_strategy, list_strategies, select

STRATEGIES = list_strategies()


def test_all_issue_strategies_are_registered():
    expected = {
        "random", "entropy", "margin", "least-confidence", "coreset", "badge",
        "class-balanced", "pcoreset", "typiclust", "disagreement",
    }
    assert expected <= set(STRATEGIES)


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownNameError) as err:
        get_strategy("pcorset")
    for name in STRATEGIES:
        assert name in str(err.value)


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("duplicates", [False, True])
def test_budget_distinct_pool_ids_only(name, duplicates, make_inputs):
    inputs = make_inputs(n=40, m=5, seed=1, duplicates=duplicates)
    ids = select(name, inputs, 7, seed=0)
    assert len(ids) == 7
    assert len(set(ids)) == 7
    assert set(ids) <= set(inputs.pool_ids)
    assert not set(ids) & set(inputs.labeled_ids)


@pytest.mark.parametrize("name", STRATEGIES)
def test_same_seed_same_ids(name, make_inputs):
    inputs = make_inputs(n=50, m=4, seed=2)
    first = select(name, inputs, 9, seed=123)
    assert select(name, inputs, 9, seed=123) == first
    assert select(name, inputs, 9, generator=torch.Generator().manual_seed(123)) == first


@pytest.mark.parametrize("name", STRATEGIES)
def test_budget_larger_than_pool_is_a_clear_error(name, make_inputs):
    inputs = make_inputs(n=10, m=3)
    with pytest.raises(ValueError, match="larger than the unlabeled pool"):
        select(name, inputs, 11)


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("budget", [0, -1, 2.5, True])
def test_invalid_budget(name, budget, make_inputs):
    with pytest.raises(ValueError, match="positive integer"):
        select(name, make_inputs(n=10), budget)


@pytest.mark.parametrize("name", STRATEGIES)
def test_whole_pool_and_single_pick(name, make_inputs):
    inputs = make_inputs(n=12, m=3, seed=3, duplicates=True)
    assert sorted(select(name, inputs, 12)) == sorted(inputs.pool_ids)
    assert len(select(name, inputs, 1)) == 1


@pytest.mark.parametrize("name", STRATEGIES)
def test_empty_labeled_set(name, make_inputs):
    inputs = make_inputs(n=30, m=0, seed=4)
    ids = select(name, inputs, 6, seed=0)
    assert len(set(ids)) == 6 and set(ids) <= set(inputs.pool_ids)


def test_disagreement_without_teacher_is_a_clear_error(make_inputs):
    with pytest.raises(ValueError, match="pool_teacher"):
        select("disagreement", make_inputs(teacher=False), 3)


def test_ids_shared_by_pool_and_labeled_are_rejected(make_inputs):
    inputs = make_inputs(n=10, m=3)
    bad = dataclasses.replace(inputs, labeled_ids=["l0", "p4", "l2"])
    with pytest.raises(ValueError, match="both in the pool and labeled"):
        select("random", bad, 2)


def test_inconsistent_shapes_are_rejected(make_inputs):
    inputs = make_inputs(n=10, m=3)
    bad = dataclasses.replace(inputs, pool_features=inputs.pool_features[:9])
    with pytest.raises(ValueError, match="pool_features"):
        select("coreset", bad, 2)


def test_pool_probs_chunked_equals_whole(make_inputs):
    from activekd.heads import mix_heads

    inputs = make_inputs(n=37, m=2)
    whole = mix_heads(inputs.pool_ce, inputs.pool_kd, inputs.alpha, inputs.beta)
    chunks = torch.cat([p for _, _, p in inputs.iter_pool_probs("cpu", rows=5)])
    torch.testing.assert_close(chunks, whole, rtol=0, atol=1e-7)
    torch.testing.assert_close(inputs.pool_probs("cpu"), whole, rtol=0, atol=1e-7)


@pytest.mark.parametrize("name", STRATEGIES)
def test_empty_labeled_set_given_as_flat_empty_tensors(name, make_inputs):
    inputs = make_inputs(n=20, m=0, seed=6)
    flat = dataclasses.replace(
        inputs, labeled_ce=torch.zeros(0), labeled_kd=torch.zeros(0), labeled_features=torch.zeros(0),
        labeled_labels=torch.zeros(0, dtype=torch.long),
    )
    assert select(name, flat, 5, seed=1) == select(name, inputs, 5, seed=1)
