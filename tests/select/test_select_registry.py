"""What each strategy declares at registration (``StrategyNeeds``, its benchmark place), and that it is honoured."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activekd.registry import Registry
from activekd.select import (
    StrategyInfo,
    StrategyNeeds,
    benchmark_strategies,
    get_strategy,
    list_strategies,
    register_strategy,
    select,
    strategy_info,
)

STRATEGIES = list_strategies()
OLD_PROBES = ("needs_outputs", "needs_features", "needs_teacher", "uncertain_picks")


@pytest.fixture
def fresh_registry(monkeypatch):
    """An empty strategy registry for the test (the real one is left as it was)."""
    from activekd.select import _base

    monkeypatch.setattr(_base, "STRATEGIES", Registry("strategy"))


def _pick_first(inputs, budget, *, generator, device):
    return torch.arange(budget)


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_has_its_registration(name):
    info = strategy_info(name)
    assert isinstance(info, StrategyInfo) and isinstance(info.needs, StrategyNeeds)
    assert info.name == name and info.fn is get_strategy(name) and callable(info.fn)
    assert not [a for a in OLD_PROBES if hasattr(info.fn, a)]  # needs live in the registration, not on the function


def test_the_declared_needs():
    needs = {n: strategy_info(n).needs for n in STRATEGIES}
    assert {n for n, d in needs.items() if not d.outputs} == {"random"}
    assert {n for n, d in needs.items() if d.features} == {"coreset", "badge", "badge-reference", "typiclust"}
    assert {n for n, d in needs.items() if d.teacher} == {"disagreement"}


@pytest.mark.parametrize("name", STRATEGIES)
def test_needs_are_honoured_by_select(name):
    """A strategy that declares features (the teacher's logits) is refused without them; one that does not runs without."""
    needs = strategy_info(name).needs
    probs = torch.softmax(torch.randn(20, 3, generator=torch.Generator().manual_seed(0)), dim=1).numpy()
    arrays = {"probs": probs, "teacher_logits": np.log(probs)}
    if needs.features:
        with pytest.raises(ValueError, match="needs the pool's features"):
            select(name, budget=4, **arrays)
        arrays["features"] = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    if needs.teacher:
        with pytest.raises(ValueError, match="pool_teacher"):
            select(name, budget=4, **{k: v for k, v in arrays.items() if k != "teacher_logits"})
    assert len(set(select(name, budget=4, **arrays))) == 4


@pytest.mark.parametrize("name", [n for n in STRATEGIES if not strategy_info(n).needs.outputs])
def test_a_strategy_that_reads_no_outputs_picks_the_same_from_zeros(name, make_inputs):
    inputs = make_inputs(n=30, m=4, seed=5)
    zeros = make_inputs(n=30, m=4, seed=5)
    for f in ("pool_ce", "pool_kd", "pool_features", "labeled_ce", "labeled_kd", "labeled_features"):
        getattr(zeros, f).zero_()
    assert select(name, zeros, 6, seed=3) == select(name, inputs, 6, seed=3)


def test_a_new_strategy_declares_its_needs_at_registration(fresh_registry):
    fn = register_strategy("first-rows", needs=StrategyNeeds(features=True))(_pick_first)
    assert fn is _pick_first and list_strategies() == ["first-rows"]
    assert strategy_info("first-rows") == StrategyInfo("first-rows", _pick_first, StrategyNeeds(features=True), None)
    with pytest.raises(ValueError, match="'first-rows' needs the pool's features"):
        select("first-rows", probs=np.full((5, 2), 0.5), budget=2)
    assert select("first-rows", probs=np.full((5, 2), 0.5), features=np.ones((5, 3)), budget=2) == [0, 1]


def test_the_benchmark_grid_comes_from_the_registry():
    places = {n: strategy_info(n).benchmark for n in STRATEGIES if strategy_info(n).benchmark is not None}
    assert benchmark_strategies() == sorted(places, key=places.get)
    assert benchmark_strategies() == ["random", "entropy", "margin", "coreset", "badge", "typiclust", "pcoreset"]


def test_a_new_strategy_joins_the_grid_at_its_place(fresh_registry):
    register_strategy("b", benchmark=2)(_pick_first)
    register_strategy("a", benchmark=1)(_pick_first)
    register_strategy("not-in-grid")(_pick_first)
    assert benchmark_strategies() == ["a", "b"]
    with pytest.raises(ValueError, match="benchmark place 2 is already 'b'"):
        register_strategy("c", benchmark=2)(_pick_first)
    assert "c" not in list_strategies()


def test_the_cli_and_the_benchmark_default_to_the_registry_grid(monkeypatch, tmp_path):
    from activekd.cli import make_parser
    from activekd.report import _benchmark, default_strategies

    assert default_strategies() == benchmark_strategies()
    ns = make_parser().parse_args(["benchmark", "offline", "--out", str(tmp_path)])
    assert ns.strategies == benchmark_strategies()
    ran = []
    monkeypatch.setattr(_benchmark, "_run_cell", lambda config, folder: ran.append(config.loop.strategy) or {"num_labels": 0})
    monkeypatch.setattr(_benchmark, "build_report", lambda folders, path: path)
    _benchmark.run_offline_benchmark(tmp_path, seeds=[1], baseline_labels=None)
    assert ran == benchmark_strategies()
