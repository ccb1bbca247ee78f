import math

import pytest
import torch
import torch.nn.functional as F

from activekd.train import DHOLoss, kl_t, lr_factor, num_steps, TrainConfig


def brute_kl_t(t, s, T):
    total = 0.0
    for ti, si in zip(t.tolist(), s.tolist()):
        pt = [math.exp(v / T) for v in ti]
        zt = sum(pt)
        ps = [math.exp(v / T) for v in si]
        zs = sum(ps)
        total += sum((a / zt) * math.log((a / zt) / (b / zs)) for a, b in zip(pt, ps))
    return total / len(t) * T * T


def test_kl_t_matches_definition():
    g = torch.Generator().manual_seed(1)
    t, s = torch.randn(6, 4, generator=g) * 3, torch.randn(6, 4, generator=g) * 3
    for T in (1.0, 2.0, 4.0):
        assert kl_t(t, s, T).item() == pytest.approx(brute_kl_t(t, s, T), rel=1e-5)
    assert kl_t(t, t, 2.0).item() == pytest.approx(0.0, abs=1e-6)


def test_dho_loss_formula():
    g = torch.Generator().manual_seed(2)
    ce_l, kd_l, t_l = (torch.randn(5, 3, generator=g) for _ in range(3))
    kd_u, t_u = torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g)
    y = torch.tensor([0, 1, 2, 1, 0])
    got = DHOLoss(temperature=2.0)(ce_l, y, kd_l, t_l, kd_u, t_u)
    want = 0.5 * F.cross_entropy(ce_l, y).item() + 0.5 * (brute_kl_t(t_l, kd_l, 2.0) + brute_kl_t(t_u, kd_u, 2.0))
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_schedule_warmup_then_linear_decay():
    total = 100
    f = [lr_factor(s, total, 0.1) for s in range(total)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[10] == pytest.approx(1.0) and f[55] == pytest.approx(0.5) and f[99] == pytest.approx(1 / 90)
    assert all(a <= b for a, b in zip(f[:10], f[1:10]))
    assert all(a >= b for a, b in zip(f[10:], f[11:]))


@pytest.mark.parametrize("m, steps", [(1, 200), (10, 200), (64, 200), (65, 400), (110, 400), (1000, 3200)])
def test_num_steps_is_the_references_count(m, steps):
    """erjui/PCoreSet pads the labeled set to a multiple of 64 and draws 200 times that many samples in batches of 64."""
    padded = 64 * math.ceil(m / 64)  # build_data_loader(drop_last=True, duplicate_if_needed=True)
    assert num_steps(m, TrainConfig()) == padded * 200 // 64 == steps
    assert num_steps(m, TrainConfig(repeat=3, batch_labeled=8)) == 3 * math.ceil(m / 8)


@pytest.mark.parametrize("kw", [dict(kd="both"), dict(repeat=0), dict(warmup=1.0), dict(lr=0.0), dict(batch_labeled=0)])
def test_train_config_validation(kw):
    with pytest.raises(ValueError):
        TrainConfig(**kw)
