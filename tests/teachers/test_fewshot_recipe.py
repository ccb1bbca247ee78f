"""Few-shot recipes: ``published`` is today's schedule unchanged; ``reference`` is the PCoreSet authors' CLAP schedule."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from activekd.errors import TeacherError
from activekd.registry import UnknownNameError
from activekd.teachers import TeacherConfig
from activekd.teachers._fewshot import (
    FEW_SHOT_RECIPES,
    ClapHead,
    ClapReferenceSettings,
    ClapSettings,
    TipAdapterSettings,
    clap_logits,
    create_head,
    fit_clap,
    recipe_settings,
)

pytestmark = pytest.mark.usefixtures("single_thread")


def test_the_recipes_and_what_each_covers():
    assert FEW_SHOT_RECIPES.names() == ["published", "reference"]
    assert recipe_settings("published", "clap") == ClapSettings()
    assert recipe_settings("published", "clap", epochs=7) == ClapSettings(epochs=7)
    assert recipe_settings("published", "tip-adapter-f", alpha=2.0, beta=3.0) == TipAdapterSettings(alpha=2.0, beta=3.0)
    assert recipe_settings("reference", "clap") == ClapReferenceSettings()
    assert recipe_settings("reference", "clap", epochs=5).repeat == 5  # --few-shot-epochs sets the repeat factor
    with pytest.raises(TeacherError, match="recipe 'reference' has no tip-adapter-f; it covers: clap"):
        recipe_settings("reference", "tip-adapter-f")


def test_the_config_checks_the_recipe():
    assert TeacherConfig().few_shot_recipe == "published"
    TeacherConfig(few_shot="clap", few_shot_recipe="reference")
    TeacherConfig(few_shot="none", few_shot_recipe="reference")  # a preset may name it before --few-shot is chosen
    with pytest.raises(UnknownNameError, match="unknown few-shot recipe 'paper'; valid: published, reference"):
        TeacherConfig(few_shot_recipe="paper")
    with pytest.raises(TeacherError, match="has no tip-adapter-f"):
        TeacherConfig(few_shot="tip-adapter-f", few_shot_recipe="reference")


def test_the_reference_settings_are_the_reference_code():
    s = ClapReferenceSettings()
    assert (s.repeat, s.lr, s.momentum, s.batch_size, s.warmup) == (300, 0.01, 0.9, 64, 0.1)


@pytest.mark.parametrize("n,steps", [(1, 4), (10, 46), (100, 468), (1600, 7500)])
def test_reference_steps_are_300_n_over_64_full_batches(n, steps):
    assert ClapReferenceSettings().steps(n) == steps == 300 * n // 64
    assert ClapReferenceSettings(repeat=1).steps(3) == 1  # never zero


def test_reference_lr_warms_up_over_a_tenth_then_decays_linearly_to_zero():
    s, total = ClapReferenceSettings(), 100
    lrs = [s.lr_at(t, total) for t in range(total)]
    assert lrs[0] == pytest.approx(0.001) and lrs[4] == pytest.approx(0.005) and lrs[9] == pytest.approx(0.01)
    assert lrs[10] == pytest.approx(0.01) and lrs[55] == pytest.approx(0.01 * 45 / 90) and lrs[99] == pytest.approx(0.01 / 90)
    assert max(lrs) == pytest.approx(0.01) and all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


def test_reference_plan_draws_full_batches_with_replacement():
    s = ClapReferenceSettings(repeat=20)
    plan = list(s.plan(10, torch.Generator().manual_seed(0)))
    assert len(plan) == s.steps(10) == 3
    assert all(b.shape == (64,) and 0 <= b.min() and b.max() < 10 for _, b in plan)
    assert [lr for lr, _ in plan] == [s.lr_at(t, 3) for t in range(3)]
    again = list(s.plan(10, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(plan, again))


def test_published_plan_is_the_cosine_schedule_over_shuffled_epochs():
    s = ClapSettings(epochs=4, batch_size=3)
    plan = list(s.plan(7, torch.Generator().manual_seed(0)))
    assert len(plan) == 4 * 3 and [len(b) for _, b in plan[:3]] == [3, 3, 1]
    expect = [1e-5] + [0.5 * 0.1 * (1 + math.cos(math.pi * (e - 1) / 4)) for e in range(1, 4)]
    assert [lr for lr, _ in plan[::3]] == pytest.approx(expect)
    assert all(sorted(torch.cat([b for _, b in plan[3 * e:3 * e + 3]]).tolist()) == list(range(7)) for e in range(4))


def _support(seed: int = 0, n_per_class: int = 4, classes: int = 5, dim: int = 32):
    g = torch.Generator().manual_seed(seed)
    mu = F.normalize(torch.randn(classes, dim, generator=g), dim=-1)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = F.normalize(mu[y] + 0.4 * torch.randn(len(y), dim, generator=g), dim=-1)
    text = F.normalize(mu + 0.9 * torch.roll(mu, -1, 0), dim=-1)  # zero-shot leans to the next class
    return x, y, text


def test_a_published_head_fits_exactly_as_before():
    x, y, text = _support()
    head = create_head("clap", text.T, 1.0, epochs=3)
    assert isinstance(head, ClapHead) and head.settings == ClapSettings(epochs=3)
    head.fit(x, y, torch.Generator().manual_seed(1))
    direct = fit_clap(x, y, text, generator=torch.Generator().manual_seed(1), settings=ClapSettings(epochs=3))
    assert torch.equal(head.prototypes, direct)


def test_the_reference_recipe_learns_the_support_set():
    x, y, text = _support()
    head = create_head("clap", text.T, 5.0, recipe="reference", epochs=60)
    assert isinstance(head.settings, ClapReferenceSettings)
    before = F.cross_entropy(head.logits(x), y)
    zero_shot = (head.logits(x).argmax(1) == y).float().mean()
    head.fit(x, y, torch.Generator().manual_seed(0))
    assert F.cross_entropy(head.logits(x), y) < before / 2
    assert (clap_logits(x, head.prototypes).argmax(1) == y).float().mean() >= max(0.85, zero_shot + 0.3)
    with pytest.raises(TeacherError, match="has no tip-adapter-f"):
        create_head("tip-adapter-f", text.T, 1.0, recipe="reference")


def test_the_teacher_config_recipe_reaches_the_head(tmp_path, monkeypatch, make_dataset, fake_vlm):
    from activekd.teachers import TeacherContext, _zeroshot, create_teacher

    monkeypatch.setattr(_zeroshot, "create_backbone", lambda spec, **kw: fake_vlm())
    config = TeacherConfig(spec="openclip:fake", embed_workers=0, batch_size=4, few_shot="clap", few_shot_recipe="reference")
    teacher = create_teacher(config, TeacherContext(make_dataset(), tmp_path / "cache", torch.device("cpu"), seed=0))
    assert isinstance(teacher.head.settings, ClapReferenceSettings)
